//! The registry of every `#[hook]` and `#[task]` in the program, collected at start-up through
//! `inventory`.
//!
//! Each macro submits a const [`Descriptor`]. On platforms without life-before-main (some
//! WebAssembly targets) nothing is collected automatically; call [`register`] with the
//! `DESCRIPTOR` constant the macro puts on each hook or task.
//!
//! Linking caveat: a hook defined in a library crate is only collected if the final binary links
//! that crate's object code, i.e. uses something from it. If a crate only holds hooks, reference
//! one of them (`use my_hooks::audit as _;` is not enough; call or name a value from it).

use std::sync::Mutex;

/// What was registered: a hook or a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A `#[hook]`.
    Hook,
    /// A `#[task]`.
    Task,
}

/// A const description of one `#[hook]` or `#[task]`.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    /// Hook or task.
    pub kind: Kind,
    /// The function's name.
    pub name: &'static str,
    /// The module it was defined in (`module_path!()`).
    pub module_path: &'static str,
    /// `run_in_background` (hooks).
    pub run_in_background: bool,
    /// Result time-to-live in seconds (tasks).
    pub ttl_secs: u64,
    /// Scheduling priority, higher first (tasks).
    pub priority: i64,
    /// Runs the task from serialised arguments, so a persisted task can be resumed by name
    /// (tasks written with `#[task]`).
    pub resume: Option<Resume>,
}

/// Builds a task's work from its serialised arguments.
pub type Resume = fn(serde_json::Value) -> Result<crate::tasks::Work, crate::tasks::TaskError>;

impl Descriptor {
    /// A hook's descriptor.
    pub const fn hook(name: &'static str, module_path: &'static str, run_in_background: bool) -> Self {
        Self { kind: Kind::Hook, name, module_path, run_in_background, ttl_secs: 0, priority: 0, resume: None }
    }

    /// A task's descriptor.
    pub const fn task(name: &'static str, module_path: &'static str, ttl_secs: u64, priority: i64) -> Self {
        Self { kind: Kind::Task, name, module_path, run_in_background: false, ttl_secs, priority, resume: None }
    }

    /// A task's descriptor with the function that resumes it from stored arguments.
    pub const fn resumable_task(
        name: &'static str,
        module_path: &'static str,
        ttl_secs: u64,
        priority: i64,
        resume: Resume,
    ) -> Self {
        Self { kind: Kind::Task, name, module_path, run_in_background: false, ttl_secs, priority, resume: Some(resume) }
    }

    /// The identity used to compare descriptors (the function pointer is left out).
    fn identity(&self) -> (Kind, &'static str, &'static str) {
        (self.kind, self.module_path, self.name)
    }
}

inventory::collect!(Descriptor);

static EXPLICIT: Mutex<Vec<&'static Descriptor>> = Mutex::new(Vec::new());

/// Registers a descriptor by hand (for platforms where `inventory` collects nothing, and tests).
/// Registering one that is already known has no effect.
pub fn register(descriptor: &'static Descriptor) {
    let mut explicit = EXPLICIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !explicit.iter().any(|d| d.identity() == descriptor.identity()) {
        explicit.push(descriptor);
    }
}

/// Every registered hook and task, sorted by kind, module and name, without duplicates.
pub fn descriptors() -> Vec<&'static Descriptor> {
    let explicit = EXPLICIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let mut all: Vec<&'static Descriptor> = inventory::iter::<Descriptor>.into_iter().chain(explicit).collect();
    all.sort_by_key(|d| d.identity());
    all.dedup_by(|a, b| a.identity() == b.identity());
    all
}

/// Every registered hook.
pub fn hooks() -> Vec<&'static Descriptor> {
    descriptors().into_iter().filter(|d| d.kind == Kind::Hook).collect()
}

/// The registered task with this name that can be resumed from stored arguments.
pub fn resumable(name: &str) -> Option<Resume> {
    descriptors().into_iter().find(|d| d.kind == Kind::Task && d.name == name).and_then(|d| d.resume)
}

/// The modules of every registered task with this name (a worker process finds a task by its
/// name alone, so more than one is ambiguous).
pub fn task_modules(name: &str) -> Vec<&'static str> {
    descriptors().into_iter().filter(|d| d.kind == Kind::Task && d.name == name).map(|d| d.module_path).collect()
}

/// One line for people: `registered hooks: a (background), b; tasks: c`.
pub fn describe() -> String {
    let names = |items: Vec<&'static Descriptor>| {
        let names: Vec<String> = items
            .iter()
            .map(|d| if d.run_in_background { format!("{} (background)", d.name) } else { d.name.to_owned() })
            .collect();
        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
    };
    format!("registered hooks: {}; tasks: {}", names(hooks()), names(tasks()))
}

/// Every registered task.
pub fn tasks() -> Vec<&'static Descriptor> {
    descriptors().into_iter().filter(|d| d.kind == Kind::Task).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    inventory::submit! { Descriptor::hook("collected_hook", "agno_core::registry::tests", true) }

    static MANUAL: Descriptor = Descriptor::task("manual_task", "agno_core::registry::tests", 600, 5);

    #[test]
    fn collects_submitted_and_explicit_descriptors_once() {
        register(&MANUAL);
        register(&MANUAL);
        let hooks = hooks();
        assert!(hooks.iter().any(|d| d.name == "collected_hook" && d.run_in_background));
        let tasks = tasks();
        // Other tests register tasks of their own meanwhile: look this one up by name.
        let manual: Vec<_> = tasks.iter().filter(|d| d.name == "manual_task").collect();
        assert_eq!(manual.len(), 1);
        assert_eq!((manual[0].ttl_secs, manual[0].priority), (600, 5));
    }
}
