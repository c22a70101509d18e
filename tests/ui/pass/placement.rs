//! Hooks in modules, inside function bodies, public, with attributes kept.
#![deny(warnings)]

use agno::hooks::Hook;
use agno::prelude::*;

mod hooks_mod {
    use agno::prelude::*;

    /// A public hook in a module.
    #[hook]
    #[allow(clippy::needless_pass_by_value)]
    #[inline]
    pub fn audit(run_context: &RunContext) {
        let _ = run_context;
    }

    #[hook(run_in_background = true)]
    pub(crate) async fn notify(agent: &Agent) {
        let _ = agent;
    }

    #[cfg(all())]
    #[hook]
    pub fn configured(agent: &Agent) {
        let _ = agent;
    }

    #[hook]
    #[cfg(any())]
    pub fn configured_out(agent: &Agent) {
        let _ = agent;
    }
}

#[hook]
fn r#type(r#agent: &Agent) {
    let _ = r#agent;
}

#[hook]
fn inner_attributes(agent: &Agent) {
    #![allow(unused_variables)]
    let unused = agent;
}

fn main() {
    #[hook]
    fn local(agent: &Agent) {
        let _ = agent;
    }

    assert!(hooks_mod::audit::DESCRIPTOR.module_path.ends_with("::hooks_mod"));
    assert_eq!(r#type.name(), "type");
    let agent = Agent::builder()
        .pre_hook(hooks_mod::audit)
        .post_hook(hooks_mod::notify)
        .pre_hook(hooks_mod::configured)
        .pre_hook(r#type)
        .pre_hook(inner_attributes)
        .pre_hook(local)
        .build()
        .unwrap();
    let _ = agent;
}
