#![allow(unused)]

use agno::prelude::*;

#[hook]
fn agent_for_team(team: &Agent) {}

#[hook]
fn owned_workflow(workflow: Workflow) {}

#[hook(run_in_background = true)]
fn wrong_team_type(team: &mut Team) {}

fn main() {}
