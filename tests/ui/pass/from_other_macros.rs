//! Hooks written by a `macro_rules!` macro, and parameters with attributes and `'_` lifetimes.
#![deny(warnings)]

use agno::hooks::Hook;
use agno::prelude::*;

macro_rules! counting_hook {
    ($name:ident, $param:ident: $ty:ty) => {
        #[hook]
        fn $name($param: $ty) -> Result<(), String> {
            let _ = $param;
            Ok(())
        }
    };
}

counting_hook!(agent_hook, agent: &Agent);
counting_hook!(input_hook, run_input: &mut RunInput);

#[hook]
async fn annotated(#[allow(unused_variables)] agent: &'_ Agent, run_output: &'_ mut RunOutput) {
    run_output.content = None;
}

fn main() {
    assert_eq!(agent_hook.name(), "agent_hook");
    assert!(input_hook.params().modifies());
    let agent = Agent::builder().pre_hooks(agno::hooks![agent_hook, input_hook]).post_hook(annotated).build().unwrap();
    let _ = agent;
}
