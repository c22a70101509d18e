//! The names a hook function's parameters may have, and where each one comes from.
//!
//! Adding a parameter is one entry in [`PARAMS`] (plus its trait in `agno-core`'s
//! `hooks::params`, re-exported from `__private`).

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
    /// What the conversion function is given.
    pub(crate) source: Source,
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
        source: Source::Required("run_input"),
        referent: Some("RunInput"),
    },
    ParamDef {
        name: "run_output",
        trait_name: "FromRunOutput",
        has_lifetime: true,
        method: "from_run_output",
        source: Source::Required("run_output"),
        referent: Some("RunOutput"),
    },
    ParamDef {
        name: "run_context",
        trait_name: "FromRunContext",
        has_lifetime: true,
        method: "from_run_context",
        source: Source::Field("run_context"),
        referent: Some("RunContext"),
    },
    ParamDef {
        name: "agent",
        trait_name: "FromAgent",
        has_lifetime: true,
        method: "from_agent",
        source: Source::Required("agent"),
        referent: Some("Agent"),
    },
    ParamDef {
        name: "team",
        trait_name: "FromTeam",
        has_lifetime: true,
        method: "from_team",
        source: Source::Required("team"),
        referent: Some("Team"),
    },
    ParamDef {
        name: "workflow",
        trait_name: "FromWorkflow",
        has_lifetime: true,
        method: "from_workflow",
        source: Source::Required("workflow"),
        referent: Some("Workflow"),
    },
    ParamDef {
        name: "session",
        trait_name: "FromSession",
        has_lifetime: true,
        method: "from_session",
        source: Source::Field("session"),
        referent: Some("Session"),
    },
    ParamDef {
        name: "user_id",
        trait_name: "FromUserId",
        has_lifetime: true,
        method: "from_user_id",
        source: Source::Field("run_context"),
        referent: None,
    },
    ParamDef {
        name: "metadata",
        trait_name: "FromMetadata",
        has_lifetime: true,
        method: "from_metadata",
        source: Source::Field("run_context"),
        referent: None,
    },
    ParamDef {
        name: "debug_mode",
        trait_name: "FromDebugMode",
        has_lifetime: false,
        method: "from_debug_mode",
        source: Source::Field("debug_mode"),
        referent: None,
    },
    ParamDef {
        name: "tasks",
        trait_name: "FromTasks",
        has_lifetime: true,
        method: "from_tasks",
        source: Source::Required("tasks"),
        referent: Some("Tasks"),
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
        assert!(lookup("tasks").is_some_and(|p| p.source == Source::Required("tasks")));
        assert!(lookup("task").is_none());
        assert!(valid_names().starts_with("`run_input`, `run_output`"));
        assert_eq!(Source::Required("run_input").field(), "run_input");
    }
}
