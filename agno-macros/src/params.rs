//! The names a hook function's parameters may have, and where each one comes from.
//!
//! A name serves agent hooks (`HookContext`), Claude Code handlers (`HandlerContext`), or both
//! (`tasks`). Adding a parameter is one entry in [`PARAMS`] (plus its trait in `agno-core`'s
//! `hooks::params` or `claude_code::handler`, re-exported from `__private`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Which field of `HookContext` a parameter is converted from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A field that is always there (`run_context`, `session`, ...).
    Field(&'static str),
    /// An `Option` field that only one stage fills (`run_input`, `run_output`), only one kind of
    /// runner fills (`agent`, `team`, `workflow`), or that only runners with a hook asking for it
    /// fill (`tasks`); the call fails with
    /// `HookError::Missing(name)` when it is `None`.
    Required(&'static str),
}

impl Source {
    /// The `HookContext` field.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Self::Field(field) | Self::Required(field) => field,
        }
    }
}

/// Where a Claude Code handler's parameter comes from (a field of `HandlerContext`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaudeSource {
    /// `event`: converted with `from_event`, which fails for another event type.
    Event,
    /// `tasks`: an `Option` field; the call fails with `Missing("tasks")` when it is `None`.
    Tasks,
    /// A field that is always there (`session_id`, `cwd`, `transcript`).
    Field(&'static str),
}

/// One injectable parameter.
pub(crate) struct ParamDef {
    /// The parameter's name, as the user writes it.
    pub(crate) name: &'static str,
    /// The conversion trait's name (`FromRunInput`).
    pub(crate) trait_name: &'static str,
    /// Whether the trait takes a lifetime (`FromRunInput<'a>`).
    pub(crate) has_lifetime: bool,
    /// The trait's conversion function (`from_run_input`).
    pub(crate) method: &'static str,
    /// What the conversion function is given in an agent hook (`None`: not an agent hook's).
    pub(crate) source: Option<Source>,
    /// What it is given in a Claude Code handler (`None`: not a handler's).
    pub(crate) claude: Option<ClaudeSource>,
    /// For references, the referenced type as users write it (`RunInput`), for messages.
    pub(crate) referent: Option<&'static str>,
}

impl ParamDef {
    /// The conversion trait as the generated code names it: `::agno::__private::FromRunInput<'a>`.
    pub(crate) fn trait_path(&self, krate: &syn::Path) -> TokenStream {
        let trait_ = format_ident!("{}", self.trait_name);
        let module = quote!(#krate::__private);
        if self.has_lifetime { quote!(#module::#trait_<'a>) } else { quote!(#module::#trait_) }
    }
}

/// Every injectable parameter, in the order the error messages list them.
pub(crate) static PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "run_input",
        trait_name: "FromRunInput",
        has_lifetime: true,
        method: "from_run_input",
        source: Some(Source::Required("run_input")),
        claude: None,
        referent: Some("RunInput"),
    },
    ParamDef {
        name: "run_output",
        trait_name: "FromRunOutput",
        has_lifetime: true,
        method: "from_run_output",
        source: Some(Source::Required("run_output")),
        claude: None,
        referent: Some("RunOutput"),
    },
    ParamDef {
        name: "run_context",
        trait_name: "FromRunContext",
        has_lifetime: true,
        method: "from_run_context",
        source: Some(Source::Field("run_context")),
        claude: None,
        referent: Some("RunContext"),
    },
    ParamDef {
        name: "agent",
        trait_name: "FromAgent",
        has_lifetime: true,
        method: "from_agent",
        source: Some(Source::Required("agent")),
        claude: None,
        referent: Some("Agent"),
    },
    ParamDef {
        name: "team",
        trait_name: "FromTeam",
        has_lifetime: true,
        method: "from_team",
        source: Some(Source::Required("team")),
        claude: None,
        referent: Some("Team"),
    },
    ParamDef {
        name: "workflow",
        trait_name: "FromWorkflow",
        has_lifetime: true,
        method: "from_workflow",
        source: Some(Source::Required("workflow")),
        claude: None,
        referent: Some("Workflow"),
    },
    ParamDef {
        name: "session",
        trait_name: "FromSession",
        has_lifetime: true,
        method: "from_session",
        source: Some(Source::Field("session")),
        claude: None,
        referent: Some("Session"),
    },
    ParamDef {
        name: "user_id",
        trait_name: "FromUserId",
        has_lifetime: true,
        method: "from_user_id",
        source: Some(Source::Field("run_context")),
        claude: None,
        referent: None,
    },
    ParamDef {
        name: "metadata",
        trait_name: "FromMetadata",
        has_lifetime: true,
        method: "from_metadata",
        source: Some(Source::Field("run_context")),
        claude: None,
        referent: None,
    },
    ParamDef {
        name: "debug_mode",
        trait_name: "FromDebugMode",
        has_lifetime: false,
        method: "from_debug_mode",
        source: Some(Source::Field("debug_mode")),
        claude: None,
        referent: None,
    },
    ParamDef {
        name: "tasks",
        trait_name: "FromTasks",
        has_lifetime: true,
        method: "from_tasks",
        source: Some(Source::Required("tasks")),
        claude: Some(ClaudeSource::Tasks),
        referent: Some("Tasks"),
    },
    ParamDef {
        name: "event",
        trait_name: "FromEvent",
        has_lifetime: false,
        method: "extract",
        source: None,
        claude: Some(ClaudeSource::Event),
        referent: None,
    },
    ParamDef {
        name: "session_id",
        trait_name: "FromSessionId",
        has_lifetime: true,
        method: "from_session_id",
        source: None,
        claude: Some(ClaudeSource::Field("session_id")),
        referent: None,
    },
    ParamDef {
        name: "cwd",
        trait_name: "FromCwd",
        has_lifetime: true,
        method: "from_cwd",
        source: None,
        claude: Some(ClaudeSource::Field("cwd")),
        referent: Some("Path"),
    },
    ParamDef {
        name: "transcript",
        trait_name: "FromTranscript",
        has_lifetime: true,
        method: "from_transcript",
        source: None,
        claude: Some(ClaudeSource::Field("transcript")),
        referent: Some("Transcript"),
    },
];

/// The entry for a parameter name.
pub(crate) fn lookup(name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|p| p.name == name)
}

/// "`run_input`, `run_output`, ..." for error messages.
pub(crate) fn valid_names() -> String {
    PARAMS.iter().map(|p| format!("`{}`", p.name)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_listed() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert!(PARAMS[i + 1..].iter().all(|q| q.name != p.name), "{} twice", p.name);
            assert!(std::ptr::eq(lookup(p.name).unwrap(), p));
        }
        assert!(lookup("tasks").is_some_and(|p| p.source == Some(Source::Required("tasks"))));
        assert!(lookup("tasks").is_some_and(|p| p.claude == Some(ClaudeSource::Tasks)));
        assert!(lookup("event").is_some_and(|p| p.source.is_none()));
        assert!(lookup("task").is_none());
        assert!(valid_names().starts_with("`run_input`, `run_output`"));
        assert_eq!(Source::Required("run_input").field(), "run_input");
    }
}
