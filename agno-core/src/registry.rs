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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

impl Descriptor {
    /// A hook's descriptor.
    pub const fn hook(name: &'static str, module_path: &'static str, run_in_background: bool) -> Self {
        Self { kind: Kind::Hook, name, module_path, run_in_background, ttl_secs: 0, priority: 0 }
    }

    /// A task's descriptor.
    pub const fn task(name: &'static str, module_path: &'static str, ttl_secs: u64, priority: i64) -> Self {
        Self { kind: Kind::Task, name, module_path, run_in_background: false, ttl_secs, priority }
    }
}

inventory::collect!(Descriptor);

static EXPLICIT: Mutex<Vec<&'static Descriptor>> = Mutex::new(Vec::new());

/// Registers a descriptor by hand (for platforms where `inventory` collects nothing, and tests).
/// Registering one that is already known has no effect.
pub fn register(descriptor: &'static Descriptor) {
    let mut explicit = EXPLICIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !explicit.iter().any(|d| **d == *descriptor) {
        explicit.push(descriptor);
    }
}

/// Every registered hook and task, sorted by kind, module and name, without duplicates.
pub fn descriptors() -> Vec<&'static Descriptor> {
    let explicit = EXPLICIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let mut all: Vec<&'static Descriptor> = inventory::iter::<Descriptor>.into_iter().chain(explicit).collect();
    all.sort_by_key(|d| (d.kind, d.module_path, d.name));
    all.dedup_by(|a, b| a == b);
    all
}

/// Every registered hook.
pub fn hooks() -> Vec<&'static Descriptor> {
    descriptors().into_iter().filter(|d| d.kind == Kind::Hook).collect()
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
        assert_eq!(tasks.iter().filter(|d| d.name == "manual_task").count(), 1);
        assert_eq!(tasks[0].ttl_secs, 600);
        assert_eq!(tasks[0].priority, 5);
    }
}
