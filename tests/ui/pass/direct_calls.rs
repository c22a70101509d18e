//! The function stays callable as `name::func(..)`.
#![deny(warnings)]

use agno::prelude::*;

#[hook]
fn shout(run_input: &mut RunInput) {
    run_input.input_content = run_input.input_content_string().to_uppercase().into();
}

#[hook]
fn check(run_input: &RunInput, debug_mode: bool) -> Result<(), InputCheckError> {
    if debug_mode || run_input.input_content_string().is_empty() {
        return Err(InputCheckError::new("rejected"));
    }
    Ok(())
}

#[hook]
async fn require_user(user_id: Option<&str>) -> Result<(), String> {
    user_id.map(drop).ok_or_else(|| "no user".to_owned())
}

fn main() {
    let mut input = RunInput::new("hi");
    shout::func(&mut input);
    assert_eq!(input.input_content_string(), "HI");
    assert!(check::func(&input, false).is_ok());
    assert!(check::func(&input, true).is_err());
    let future = require_user::func(Some("u1"));
    drop(future);
}
