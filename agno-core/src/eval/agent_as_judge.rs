//! [`AgentAsJudgeEval`]: a judge model scores a run's output against criteria.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::clock::now_unix;
use crate::db::{Db, EvalRun};
use crate::hooks::{Hook, HookCall, HookContext, HookError, HookParams, HookStage};
use crate::models::{
    BINARY_VERDICT_INSTRUCTION, Message, Model, ModelError, ModelRequest, NUMERIC_VERDICT_INSTRUCTION, Role,
    default_model,
};
use crate::run::{RunOutput, Runner};

/// The `eval_type` of the rows this evaluation stores.
pub const EVAL_TYPE_AGENT_AS_JUDGE: &str = "agent_as_judge";

/// The default threshold of the numeric strategy (agno's).
const DEFAULT_THRESHOLD: u32 = 7;

/// How much of an unreadable judge answer goes into the reason.
const ANSWER_EXCERPT: usize = 200;

/// How the judge answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ScoringStrategy {
    /// `{"passed": bool, "reason": str}` (the default).
    #[default]
    Binary,
    /// `{"score": 1..=10, "reason": str}`; passed when the score reaches the threshold.
    Numeric,
}

impl ScoringStrategy {
    /// `"binary"` or `"numeric"`, as agno names them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Numeric => "numeric",
        }
    }
}

/// A configuration [`AgentAsJudgeEvalBuilder::build`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The numeric threshold is not in 1..=10.
    #[error("AgentAsJudgeEval: threshold must be between 1 and 10, got {0}")]
    Threshold(u32),
    /// No criteria were given.
    #[error("AgentAsJudgeEval: criteria must not be empty")]
    EmptyCriteria,
}

/// One verdict, handed to `on_fail` and stored in `agno_eval_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAsJudgeEvaluation {
    /// The evaluation's own id (the `run_id` of its `agno_eval_runs` row).
    pub eval_run_id: String,
    /// The evaluation's name, if it was given one.
    pub name: Option<String>,
    /// The evaluated run.
    pub run_id: String,
    /// The evaluated agent (empty for team and workflow runs).
    pub agent_id: String,
    /// The team that ran it (team runs).
    pub team_id: Option<String>,
    /// The workflow that ran it (workflow runs).
    pub workflow_id: Option<String>,
    /// The run's input as text.
    pub input: String,
    /// The run's output as text.
    pub output: String,
    /// What the output was judged against.
    pub criteria: String,
    /// Binary or numeric.
    pub scoring_strategy: ScoringStrategy,
    /// The pass mark (numeric strategy only).
    pub threshold: Option<u32>,
    /// Whether the output passed. An unreadable judge answer is a failure.
    pub passed: bool,
    /// The judge's score (numeric strategy, when the answer could be read).
    pub score: Option<u32>,
    /// The judge's reason, or why its answer could not be read.
    pub reason: String,
    /// The judge model's id.
    pub judge_model: String,
    /// The judge model's provider.
    pub judge_provider: String,
}

impl AgentAsJudgeEvaluation {
    /// The `agno_eval_runs` row of this verdict.
    pub fn to_eval_run(&self, evaluated_component_name: Option<&str>, guidelines: &[String]) -> EvalRun {
        let now = now_unix();
        EvalRun {
            run_id: self.eval_run_id.clone(),
            eval_type: EVAL_TYPE_AGENT_AS_JUDGE.to_owned(),
            name: self.name.clone(),
            agent_id: (!self.agent_id.is_empty()).then(|| self.agent_id.clone()),
            team_id: self.team_id.clone(),
            workflow_id: self.workflow_id.clone(),
            model_id: Some(self.judge_model.clone()),
            model_provider: Some(self.judge_provider.clone()),
            evaluated_component_name: evaluated_component_name.map(str::to_owned),
            eval_data: json!({
                "evaluated_run_id": self.run_id,
                "input": self.input,
                "output": self.output,
                "passed": self.passed,
                "score": self.score,
                "reason": self.reason,
                "criteria": self.criteria,
                "scoring_strategy": self.scoring_strategy.as_str(),
                "threshold": self.threshold,
            }),
            eval_input: Some(json!({
                "criteria": self.criteria,
                "scoring_strategy": self.scoring_strategy.as_str(),
                "threshold": self.threshold,
                "additional_guidelines": guidelines,
            })),
            created_at: now,
            updated_at: now,
        }
    }
}

/// What `on_fail` is: called with each failed verdict.
pub type OnFail = Arc<dyn Fn(&AgentAsJudgeEvaluation) + Send + Sync>;

/// A post-hook that asks a judge model whether the run's output meets `criteria`, calls `on_fail`
/// when it does not, and stores every verdict in `agno_eval_runs` (`eval_type`
/// `"agent_as_judge"`) of its database (default: the agent's).
///
/// * The judge gets the criteria, the guidelines and the strategy's answer format in its system
///   message ([`BINARY_VERDICT_INSTRUCTION`] / [`NUMERIC_VERDICT_INSTRUCTION`]), and the run's
///   input and output in `<input>` / `<output>` tags. The [`OfflineModel`](crate::models::OfflineModel)
///   answers such a request deterministically, so the evaluation works offline.
/// * The answer may be wrapped in a ```` ```json ```` fence or surrounded by text; the first JSON
///   object in it is read. An answer that is not a valid verdict is a **failed** evaluation whose
///   reason says why (it is stored and `on_fail` is called), never a panic.
/// * A judge model that fails (network, HTTP error) stores nothing: the hook returns the error,
///   which is logged like any failing hook.
/// * With [`run_in_background(true)`](AgentAsJudgeEvalBuilder::run_in_background) it runs after
///   the response under AgentOS, like any background hook; outside AgentOS it runs inline.
/// * As a pre-hook it does nothing but fail with "Pre-hooks are not supported", which the run logs.
#[derive(Clone)]
pub struct AgentAsJudgeEval {
    inner: Arc<Inner>,
}

struct Inner {
    name: Option<String>,
    criteria: String,
    scoring_strategy: ScoringStrategy,
    threshold: u32,
    additional_guidelines: Vec<String>,
    on_fail: Option<OnFail>,
    model: Arc<dyn Model>,
    db: Option<Arc<dyn Db>>,
    run_in_background: bool,
}

impl fmt::Debug for AgentAsJudgeEval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("AgentAsJudgeEval")
            .field("name", &i.name)
            .field("criteria", &i.criteria)
            .field("scoring_strategy", &i.scoring_strategy)
            .field("threshold", &i.threshold)
            .field("model", &i.model.id())
            .field("run_in_background", &i.run_in_background)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AgentAsJudgeEval`]; [`build`](Self::build) checks the threshold and criteria.
#[derive(Default)]
#[must_use = "call .build() to get the evaluation"]
pub struct AgentAsJudgeEvalBuilder {
    name: Option<String>,
    criteria: String,
    scoring_strategy: ScoringStrategy,
    threshold: Option<u32>,
    additional_guidelines: Vec<String>,
    on_fail: Option<OnFail>,
    model: Option<Arc<dyn Model>>,
    db: Option<Arc<dyn Db>>,
    run_in_background: bool,
}

impl AgentAsJudgeEvalBuilder {
    /// What the output must meet (required).
    pub fn criteria(mut self, criteria: impl Into<String>) -> Self {
        self.criteria = criteria.into();
        self
    }

    /// Binary (default) or numeric.
    pub fn scoring_strategy(mut self, strategy: ScoringStrategy) -> Self {
        self.scoring_strategy = strategy;
        self
    }

    /// The numeric pass mark, 1..=10 (default 7); a score at or above it passes.
    pub fn threshold(mut self, threshold: u32) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Called with every failed verdict (after it is stored).
    pub fn on_fail(mut self, on_fail: impl Fn(&AgentAsJudgeEvaluation) + Send + Sync + 'static) -> Self {
        self.on_fail = Some(Arc::new(on_fail));
        self
    }

    /// Adds a guideline for the judge; call again to add more.
    pub fn additional_guideline(mut self, guideline: impl Into<String>) -> Self {
        self.additional_guidelines.push(guideline.into());
        self
    }

    /// Adds several guidelines for the judge.
    pub fn additional_guidelines(mut self, guidelines: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.additional_guidelines.extend(guidelines.into_iter().map(Into::into));
        self
    }

    /// The name in logs, events and the stored row (default: none; the hook is `AgentAsJudgeEval`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The judge (default: [`default_model`], OpenAI with a key, the offline model without).
    pub fn model(mut self, model: impl Model) -> Self {
        self.model = Some(Arc::new(model));
        self
    }

    /// Where verdicts are stored (default: the evaluated agent's database).
    pub fn db(mut self, db: impl Db) -> Self {
        self.db = Some(Arc::new(db));
        self
    }

    /// Runs after the response under AgentOS (default `false`).
    pub fn run_in_background(mut self, background: bool) -> Self {
        self.run_in_background = background;
        self
    }

    /// Checks the configuration: criteria must not be empty, the threshold must be in 1..=10.
    pub fn build(self) -> Result<AgentAsJudgeEval, EvalError> {
        let threshold = self.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(1..=10).contains(&threshold) {
            return Err(EvalError::Threshold(threshold));
        }
        if self.criteria.trim().is_empty() {
            return Err(EvalError::EmptyCriteria);
        }
        Ok(AgentAsJudgeEval {
            inner: Arc::new(Inner {
                name: self.name,
                criteria: self.criteria,
                scoring_strategy: self.scoring_strategy,
                threshold,
                additional_guidelines: self.additional_guidelines,
                on_fail: self.on_fail,
                model: self.model.unwrap_or_else(default_model),
                db: self.db,
                run_in_background: self.run_in_background,
            }),
        })
    }
}

impl AgentAsJudgeEval {
    /// Starts building an evaluation.
    pub fn builder() -> AgentAsJudgeEvalBuilder {
        AgentAsJudgeEvalBuilder::default()
    }

    /// The judge model.
    pub fn model(&self) -> &dyn Model {
        &*self.inner.model
    }

    /// The system message the judge receives.
    pub fn judge_instructions(&self) -> String {
        let i = &self.inner;
        let mut text = String::from(
            "You are an impartial evaluator. Judge the AI agent's output (between <output> tags) for the user's \
             input (between <input> tags) against the criteria below.\n\n<criteria>\n",
        );
        text.push_str(i.criteria.trim());
        text.push_str("\n</criteria>\n\n");
        if !i.additional_guidelines.is_empty() {
            text.push_str("<guidelines>\n");
            for guideline in &i.additional_guidelines {
                text.push_str("- ");
                text.push_str(guideline.trim());
                text.push('\n');
            }
            text.push_str("</guidelines>\n\n");
        }
        match i.scoring_strategy {
            ScoringStrategy::Binary => {
                text.push_str("Decide whether the output meets the criteria.\n");
                text.push_str(BINARY_VERDICT_INSTRUCTION);
            }
            ScoringStrategy::Numeric => {
                text.push_str("Score how well the output meets the criteria, from 1 (not at all) to 10 (fully).\n");
                text.push_str(NUMERIC_VERDICT_INSTRUCTION);
            }
        }
        text
    }

    /// Asks the judge about `run_output` and reads its verdict (nothing is stored or called).
    /// Fails only when the judge model fails; an unreadable answer is a failed verdict.
    pub async fn evaluate(&self, run_output: &RunOutput) -> Result<AgentAsJudgeEvaluation, ModelError> {
        let i = &self.inner;
        let input = run_output.input.as_ref().map(|i| i.input_content_string()).unwrap_or_default();
        let output = run_output.content.clone().unwrap_or_default();
        let request = ModelRequest {
            messages: vec![
                Message::new(Role::System, self.judge_instructions()),
                Message::new(Role::User, format!("<input>\n{input}\n</input>\n\n<output>\n{output}\n</output>")),
            ],
        };
        let answer = i.model.invoke(&request).await?;
        let (passed, score, reason) = match read_verdict(&answer.content, i.scoring_strategy, i.threshold) {
            Ok(verdict) => verdict,
            Err(why) => {
                tracing::warn!(eval = self.label(), run_id = %run_output.run_id, %why, "judge answer unreadable");
                (
                    false,
                    None,
                    format!("The judge's answer is not a valid verdict: {why}. Answer: {}", excerpt(&answer.content)),
                )
            }
        };
        Ok(AgentAsJudgeEvaluation {
            eval_run_id: crate::ids::new_id(),
            name: i.name.clone(),
            run_id: run_output.run_id.clone(),
            agent_id: run_output.agent_id.clone(),
            team_id: run_output.team_id.clone(),
            workflow_id: run_output.workflow_id.clone(),
            input,
            output,
            criteria: i.criteria.clone(),
            scoring_strategy: i.scoring_strategy,
            threshold: (i.scoring_strategy == ScoringStrategy::Numeric).then_some(i.threshold),
            passed,
            score,
            reason,
            judge_model: i.model.id().to_owned(),
            judge_provider: i.model.provider().to_owned(),
        })
    }

    /// Evaluates, stores, and calls `on_fail`: what the hook does after a run.
    async fn post_check(&self, run_output: &RunOutput, runner: &Runner) -> Result<(), HookError> {
        let evaluation = self.evaluate(run_output).await.map_err(|e| HookError::Failed(Box::new(e)))?;
        tracing::info!(
            eval = self.label(),
            run_id = %evaluation.run_id,
            passed = evaluation.passed,
            score = evaluation.score,
            reason = %evaluation.reason,
            "evaluation {}",
            if evaluation.passed { "passed" } else { "failed" }
        );
        match self.inner.db.as_ref().or(runner.db()) {
            Some(db) => {
                let row = evaluation.to_eval_run(runner.name(), &self.inner.additional_guidelines);
                db.save_eval_run(&row).await.map_err(|e| HookError::Failed(Box::new(e)))?;
            }
            None => tracing::warn!(eval = self.label(), "no database: the evaluation is not stored"),
        }
        if !evaluation.passed
            && let Some(on_fail) = &self.inner.on_fail
        {
            on_fail(&evaluation);
        }
        Ok(())
    }
}

/// The first JSON object in `answer` (inside a ```` ``` ```` fence or other text).
fn json_object(answer: &str) -> Result<Value, String> {
    let text = answer.trim();
    let text = match text.strip_prefix("```") {
        Some(rest) => {
            let body = rest.split_once('\n').map_or("", |(_, body)| body);
            body.trim_end().strip_suffix("```").unwrap_or(body)
        }
        None => text,
    };
    let start = text.find('{').ok_or("no JSON object")?;
    let end = text.rfind('}').filter(|&end| end > start).ok_or("no JSON object")?;
    serde_json::from_str(&text[start..=end]).map_err(|e| format!("invalid JSON ({e})"))
}

/// `(passed, score, reason)` from a judge's answer, or why it is not a verdict.
fn read_verdict(
    answer: &str,
    strategy: ScoringStrategy,
    threshold: u32,
) -> Result<(bool, Option<u32>, String), String> {
    let json = json_object(answer)?;
    let reason = json.get("reason").and_then(Value::as_str).ok_or("no `reason` string")?.to_owned();
    match strategy {
        ScoringStrategy::Binary => {
            let passed = json.get("passed").and_then(Value::as_bool).ok_or("no `passed` boolean")?;
            Ok((passed, None, reason))
        }
        ScoringStrategy::Numeric => {
            let score = json.get("score").and_then(Value::as_f64).ok_or("no `score` number")?;
            if score.fract() != 0.0 || !(1.0..=10.0).contains(&score) {
                return Err(format!("`score` {score} is not an integer from 1 to 10"));
            }
            let score = score as u32;
            Ok((score >= threshold, Some(score), reason))
        }
    }
}

/// At most [`ANSWER_EXCERPT`] characters of `text`.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(ANSWER_EXCERPT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

impl AgentAsJudgeEval {
    /// The name in logs and events: the given one, or `AgentAsJudgeEval`.
    fn label(&self) -> &str {
        self.inner.name.as_deref().unwrap_or("AgentAsJudgeEval")
    }
}

impl Hook for AgentAsJudgeEval {
    fn name(&self) -> &str {
        self.label()
    }

    fn params(&self) -> HookParams {
        HookParams::RUN_OUTPUT
    }

    fn params_at(&self, stage: HookStage) -> HookParams {
        match stage {
            HookStage::Pre => HookParams::NONE,
            HookStage::Post => HookParams::RUN_OUTPUT,
        }
    }

    fn run_in_background(&self) -> bool {
        self.inner.run_in_background
    }

    fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
        if cx.stage == HookStage::Pre {
            return HookCall::done(Err::<(), _>("Pre-hooks are not supported"));
        }
        let runner = cx.runner();
        let Some(run_output) = cx.run_output else { return HookCall::Done(Err(HookError::Missing("run_output"))) };
        HookCall::Pending(Box::pin(async move { self.post_check(run_output, runner).await }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_and_criteria_are_checked() {
        let base = || AgentAsJudgeEval::builder().criteria("polite").model(crate::models::OfflineModel::new());
        assert_eq!(base().threshold(0).build().unwrap_err(), EvalError::Threshold(0));
        let err = base().threshold(11).build().unwrap_err();
        assert_eq!(err.to_string(), "AgentAsJudgeEval: threshold must be between 1 and 10, got 11");
        assert!(base().threshold(1).build().is_ok());
        assert!(base().threshold(10).scoring_strategy(ScoringStrategy::Numeric).build().is_ok());
        let err = AgentAsJudgeEval::builder().model(crate::models::OfflineModel::new()).build().unwrap_err();
        assert_eq!(err, EvalError::EmptyCriteria);
    }

    #[test]
    fn verdicts_are_read_from_fences_and_text() {
        let b = ScoringStrategy::Binary;
        let n = ScoringStrategy::Numeric;
        assert_eq!(read_verdict(r#"{"passed": true, "reason": "ok"}"#, b, 7), Ok((true, None, "ok".into())));
        let fenced = "```json\n{\"passed\": false, \"reason\": \"rude\"}\n```";
        assert_eq!(read_verdict(fenced, b, 7), Ok((false, None, "rude".into())));
        let chatty = "Here is my verdict: {\"score\": 6, \"reason\": \"meh\"} Hope it helps.";
        assert_eq!(read_verdict(chatty, n, 7), Ok((false, Some(6), "meh".into())));
        assert_eq!(read_verdict(r#"{"score": 7.0, "reason": "ok"}"#, n, 7), Ok((true, Some(7), "ok".into())));
        assert!(read_verdict("I think it's fine", b, 7).unwrap_err().contains("no JSON object"));
        assert!(read_verdict("{passed: yes}", b, 7).unwrap_err().contains("invalid JSON"));
        assert!(read_verdict(r#"{"passed": "yes", "reason": "x"}"#, b, 7).unwrap_err().contains("passed"));
        assert!(read_verdict(r#"{"passed": true}"#, b, 7).unwrap_err().contains("reason"));
        assert!(read_verdict(r#"{"score": 11, "reason": "x"}"#, n, 7).unwrap_err().contains("1 to 10"));
        assert!(read_verdict(r#"{"score": 6.5, "reason": "x"}"#, n, 7).unwrap_err().contains("1 to 10"));
        assert!(read_verdict("} {", b, 7).is_err());
    }

    #[test]
    fn judge_instructions_carry_the_criteria_and_format() {
        let eval = AgentAsJudgeEval::builder()
            .criteria("Be polite")
            .additional_guidelines(["No slang", "Short"])
            .scoring_strategy(ScoringStrategy::Numeric)
            .model(crate::models::OfflineModel::new())
            .build()
            .unwrap();
        let text = eval.judge_instructions();
        assert!(text.contains("<criteria>\nBe polite\n</criteria>"), "{text}");
        assert!(text.contains("- No slang\n- Short\n"), "{text}");
        assert!(text.contains(NUMERIC_VERDICT_INSTRUCTION), "{text}");
        assert!(!text.contains(BINARY_VERDICT_INSTRUCTION), "{text}");
    }
}
