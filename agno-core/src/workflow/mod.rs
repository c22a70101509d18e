//! Workflows: named steps run in order, each an agent, a team or an async function over the
//! previous step's output.
//!
//! A workflow run goes through the same pipeline as an agent run ([`crate::run::pipeline`]): its
//! own pre-hooks (taking `workflow: &Workflow`), its steps, its post-hooks. The first step gets
//! the workflow's input (after the pre-hooks); each later step gets the previous step's content;
//! the last step's content is the workflow's. Agent and team steps are child runs, stored with
//! the workflow run, whose hooks follow the workflow run's background mode. A step that fails
//! stops the workflow with status `ERROR`; `step_results` lists the steps that ran.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::future::BoxFuture;
use crate::panic::CatchPanic;
use crate::run::pipeline::{Children, Emitter, Stop};
use crate::run::runner::{Base, RunnerKind, Settings, base_accessors, settings_methods};
use crate::run::{RunBuilder, RunEventKind, RunInput, RunOutput, RunStatus, Runner, StepResult};
use crate::team::Team;

/// What a function step receives.
#[derive(Debug, Clone)]
pub struct StepInput {
    /// The workflow's input, after its pre-hooks.
    pub input: RunInput,
    /// The previous step's content (`None` for the first step).
    pub previous_step_content: Option<String>,
    /// This step's 0-based position.
    pub step_index: usize,
}

impl StepInput {
    /// What this step works on: the previous step's content, or the workflow's input.
    pub fn content(&self) -> String {
        self.previous_step_content.clone().unwrap_or_else(|| self.input.input_content_string())
    }
}

/// A function step's failure.
pub type StepError = Box<dyn StdError + Send + Sync>;

type StepFn = Arc<dyn Fn(StepInput) -> BoxFuture<'static, std::result::Result<String, StepError>> + Send + Sync>;

/// What runs a step.
#[derive(Clone)]
pub enum StepExecutor {
    /// An agent, run as a child run on the step's input.
    Agent(Agent),
    /// A team, run as a child run on the step's input.
    Team(Team),
    /// An async function of the step's input.
    Function(StepFn),
}

impl fmt::Debug for StepExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agent(agent) => f.debug_tuple("Agent").field(&agent.id()).finish(),
            Self::Team(team) => f.debug_tuple("Team").field(&team.id()).finish(),
            Self::Function(_) => f.write_str("Function"),
        }
    }
}

/// One named step of a workflow.
#[derive(Clone, Debug)]
pub struct Step {
    name: String,
    executor: StepExecutor,
}

impl Step {
    /// A step run by an agent.
    pub fn agent(name: impl Into<String>, agent: Agent) -> Self {
        Self { name: name.into(), executor: StepExecutor::Agent(agent) }
    }

    /// A step run by a team.
    pub fn team(name: impl Into<String>, team: Team) -> Self {
        Self { name: name.into(), executor: StepExecutor::Team(team) }
    }

    /// A step run by an async function; an `Err` (or a panic) fails the workflow.
    ///
    /// ```
    /// use agno_core::workflow::{Step, StepInput};
    /// let shout = Step::function("shout", |input: StepInput| async move {
    ///     Ok::<_, std::convert::Infallible>(input.content().to_uppercase())
    /// });
    /// assert_eq!(shout.name(), "shout");
    /// ```
    pub fn function<F, Fut, E>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(StepInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, E>> + Send + 'static,
        E: Into<StepError>,
    {
        let f: StepFn = Arc::new(move |input| {
            let fut = f(input);
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        Self { name: name.into(), executor: StepExecutor::Function(f) }
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What runs it.
    pub fn executor(&self) -> &StepExecutor {
        &self.executor
    }

    /// `"agent"`, `"team"` or `"function"`.
    pub fn executor_type(&self) -> &'static str {
        match self.executor {
            StepExecutor::Agent(_) => "agent",
            StepExecutor::Team(_) => "team",
            StepExecutor::Function(_) => "function",
        }
    }

    /// The agent's or team's id; the step's name for a function.
    pub fn executor_name(&self) -> &str {
        match &self.executor {
            StepExecutor::Agent(agent) => agent.id(),
            StepExecutor::Team(team) => team.id(),
            StepExecutor::Function(_) => &self.name,
        }
    }
}

/// A workflow. Build one with [`Workflow::builder`], run it with [`Workflow::run`].
///
/// ```
/// use agno_core::prelude::*;
/// use agno_core::workflow::{Step, StepInput, Workflow};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let echo = Agent::builder().name("Echo").build().unwrap();
/// let workflow = Workflow::builder()
///     .name("Pipeline")
///     .step(Step::agent("draft", echo))
///     .step(Step::function("count", |input: StepInput| async move {
///         Ok::<_, std::convert::Infallible>(format!("{} chars", input.content().len()))
///     }))
///     .build()
///     .unwrap();
/// let out = workflow.run("Hi").await.unwrap();
/// assert_eq!(out.content.as_deref(), Some("14 chars")); // `You said: "Hi"`
/// assert_eq!(out.step_results.len(), 2);
/// # });
/// ```
#[derive(Clone)]
pub struct Workflow {
    inner: Arc<WorkflowInner>,
}

#[derive(Clone)]
struct WorkflowInner {
    base: Base,
    description: Option<String>,
    steps: Vec<Step>,
}

impl fmt::Debug for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<&str> = self.inner.steps.iter().map(Step::name).collect();
        f.debug_struct("Workflow")
            .field("id", &self.inner.base.id)
            .field("name", &self.inner.base.name)
            .field("steps", &steps)
            .finish_non_exhaustive()
    }
}

impl Workflow {
    /// A builder with no steps yet.
    pub fn builder() -> WorkflowBuilder {
        WorkflowBuilder::default()
    }

    base_accessors!("workflow");

    /// The description.
    pub fn description(&self) -> Option<&str> {
        self.inner.description.as_deref()
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.inner.steps
    }

    /// Starts a run: set options on the builder, then `.await` it or `.stream()` it.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(Runner::Workflow(self.clone()), input.into())
    }
}

/// Builds a [`Workflow`]; [`build`](WorkflowBuilder::build) checks the configuration.
#[derive(Default)]
#[must_use = "call .build() to get the workflow"]
pub struct WorkflowBuilder {
    settings: Settings,
    description: Option<String>,
    steps: Vec<Step>,
}

impl WorkflowBuilder {
    settings_methods!("workflow");

    /// The description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Checks the configuration (steps, names, hook parameters) and builds the workflow.
    pub fn build(self) -> Result<Workflow> {
        let mut problems = Vec::new();
        let base = self.settings.check(RunnerKind::Workflow, &mut problems);
        if self.steps.is_empty() {
            problems.push("a workflow needs at least one step; add one with .step(..)".to_owned());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if step.name.trim().is_empty() {
                problems.push(format!("step #{} has an empty name", i + 1));
            } else if self.steps[..i].iter().any(|s| s.name == step.name) {
                problems.push(format!("step name `{}` is used twice; steps need distinct names", step.name));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config(format!("workflow `{}`: {}", base.id, problems.join("; "))));
        }
        Ok(Workflow { inner: Arc::new(WorkflowInner { base, description: self.description, steps: self.steps }) })
    }
}

/// The pipeline's step 3 for a workflow: the steps, in order.
pub(crate) async fn respond(
    workflow: &Workflow,
    output: &mut RunOutput,
    emitter: &mut Emitter,
    children: &mut Children<'_>,
) -> Result<(), Stop> {
    let input = output.input.clone().unwrap_or_else(|| RunInput::new(""));
    let mut previous: Option<String> = None;
    for (step_index, step) in workflow.steps().iter().enumerate() {
        let step_name = step.name().to_owned();
        emitter.emit(|| RunEventKind::StepStarted { step_name: step_name.clone(), step_index });
        let step_input = match &previous {
            Some(content) => RunInput::new(content.clone()),
            None => input.clone(),
        };
        let mut result = StepResult {
            step_name: step_name.clone(),
            step_index,
            executor_type: step.executor_type().to_owned(),
            executor_name: step.executor_name().to_owned(),
            run_id: None,
            content: None,
            status: RunStatus::Completed,
        };
        let stop = match step.executor() {
            StepExecutor::Agent(agent) => {
                run_child(children, Runner::Agent(agent.clone()), step_input, &mut result).await
            }
            StepExecutor::Team(team) => run_child(children, Runner::Team(team.clone()), step_input, &mut result).await,
            StepExecutor::Function(f) => {
                let call = StepInput { input: input.clone(), previous_step_content: previous.clone(), step_index };
                match CatchPanic(f(call)).await {
                    Ok(Ok(content)) => {
                        result.content = Some(content);
                        None
                    }
                    Ok(Err(error)) => Some(step_failed(&step_name, &error.to_string())),
                    Err(panic) => Some(step_failed(&step_name, &format!("panicked: {panic}"))),
                }
            }
        };
        if let Some(stop) = stop {
            result.status = RunStatus::Error;
            let error = stop.message().to_owned();
            emitter.emit(|| RunEventKind::StepError { step_name: step_name.clone(), step_index, error });
            output.step_results.push(result);
            return Err(stop);
        }
        let content = result.content.clone();
        emitter.emit(|| RunEventKind::StepCompleted { step_name, step_index, content });
        // A step that produced nothing hands on an empty text, not the workflow's input.
        previous = Some(result.content.clone().unwrap_or_default());
        output.step_results.push(result);
    }
    output.content = previous;
    Ok(())
}

/// Runs an agent or team step as a child run.
async fn run_child(
    children: &mut Children<'_>,
    runner: Runner,
    input: RunInput,
    result: &mut StepResult,
) -> Option<Stop> {
    match children.run(runner, input).await {
        Ok((child, stop)) => {
            result.run_id = Some(child.run_id.clone());
            result.content = child.content.clone();
            // The workflow's output lists its steps, not their runs: the run is stored beside it.
            children.keep(child);
            stop
        }
        Err(error) => Some(step_failed(&result.step_name, &error.to_string())),
    }
}

/// The stop of a workflow whose step failed.
fn step_failed(step: &str, message: &str) -> Stop {
    tracing::error!(step, error = message, "workflow step failed");
    Stop::Child {
        content: format!("step `{step}` failed: {message}"),
        error_type: "step_error".to_owned(),
        error_id: None,
        additional_data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_checks_steps() {
        let err = Workflow::builder().name("Empty").build().unwrap_err().to_string();
        assert!(err.contains("at least one step"), "{err}");
        let f = |_: StepInput| async { Ok::<_, std::convert::Infallible>(String::new()) };
        let err = Workflow::builder()
            .name("Twice")
            .step(Step::function("a", f))
            .step(Step::function("a", f))
            .step(Step::function(" ", f))
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`a` is used twice") && err.contains("step #3 has an empty name"), "{err}");
    }
}
