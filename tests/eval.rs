//! `AgentAsJudgeEval` as a post-hook of real runs: verdicts stored in `agno_eval_runs`, `on_fail`,
//! unreadable judge answers, bad configuration, background mode through a scheduler, and the
//! pre-hook refusal.

mod common;

use std::sync::{Arc, Mutex};

use agno::db::{Db, EvalRun, EvalRunQuery, InMemoryDb, SqliteDb};
use agno::eval::{AgentAsJudgeEval, AgentAsJudgeEvaluation, EvalError, ScoringStrategy};
use agno::models::{
    BoxFuture, BoxStream, Model, ModelChunk, ModelError, ModelRequest, ModelResponse, OfflineModel, Role, Usage,
};
use agno::prelude::*;
use agno::run::BackgroundMode;
use common::Collect;

/// A judge that always gives the same answer (or fails), and keeps the prompts it got.
struct ScriptedJudge {
    answer: Result<String, String>,
    prompts: Arc<Mutex<Vec<ModelRequest>>>,
}

impl ScriptedJudge {
    fn new(answer: &str) -> Self {
        Self { answer: Ok(answer.to_owned()), prompts: Arc::default() }
    }
    fn failing(message: &str) -> Self {
        Self { answer: Err(message.to_owned()), prompts: Arc::default() }
    }
}

impl Model for ScriptedJudge {
    fn id(&self) -> &str {
        "scripted-judge"
    }
    fn provider(&self) -> &str {
        "Test"
    }
    fn invoke<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<ModelResponse, ModelError>> {
        self.prompts.lock().unwrap().push(request.clone());
        let result = match &self.answer {
            Ok(content) => Ok(ModelResponse { content: content.clone(), usage: Usage::default() }),
            Err(message) => Err(ModelError::new(message.clone())),
        };
        Box::pin(std::future::ready(result))
    }
    fn invoke_stream<'a>(&'a self, _request: &'a ModelRequest) -> BoxStream<'a, Result<ModelChunk, ModelError>> {
        unimplemented!("the judge is never streamed")
    }
}

/// Records the evaluations `on_fail` receives.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<Vec<AgentAsJudgeEvaluation>>>);

impl Failures {
    fn hook(&self) -> impl Fn(&AgentAsJudgeEvaluation) + Send + Sync + 'static {
        let failures = self.clone();
        move |e| failures.0.lock().unwrap().push(e.clone())
    }
    fn all(&self) -> Vec<AgentAsJudgeEvaluation> {
        self.0.lock().unwrap().clone()
    }
}

fn agent(db: Arc<dyn Db>, eval: AgentAsJudgeEval) -> Agent {
    Agent::builder().id("judged-agent").name("Judged Agent").db(db).post_hook(eval).build().unwrap()
}

async fn only_eval_run(db: &dyn Db) -> EvalRun {
    let mut stored = db.get_eval_runs(&EvalRunQuery::default()).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:#?}");
    stored.remove(0)
}

#[tokio::test]
async fn binary_pass_with_the_offline_judge_is_stored_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db: Arc<dyn Db> = Arc::new(SqliteDb::new(dir.path().join("agent.db")).unwrap());
    let failures = Failures::default();
    let eval = AgentAsJudgeEval::builder()
        .name("Response Quality Check")
        .criteria("The response repeats what the user said")
        .model(OfflineModel::new())
        .on_fail(failures.hook())
        .build()
        .unwrap();
    let out = agent(Arc::clone(&db), eval).run("Hello, how are you?").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);

    let row = only_eval_run(&*db).await;
    assert_eq!(row.eval_type, "agent_as_judge");
    assert_eq!(row.name.as_deref(), Some("Response Quality Check"));
    assert_eq!(row.agent_id.as_deref(), Some("judged-agent"));
    assert_eq!(row.evaluated_component_name.as_deref(), Some("Judged Agent"));
    assert_eq!((row.model_id.as_deref(), row.model_provider.as_deref()), (Some("offline"), Some("Offline")));
    let data = &row.eval_data;
    assert_eq!(data["passed"], true);
    assert_eq!(data["score"], serde_json::Value::Null);
    assert!(data["reason"].as_str().unwrap().starts_with("Offline judge: the output is not empty"), "{data}");
    assert_eq!(data["input"], "Hello, how are you?");
    assert_eq!(data["output"], "You said: \"Hello, how are you?\"");
    assert_eq!(data["evaluated_run_id"], out.run_id.as_str());
    assert_eq!(data["scoring_strategy"], "binary");
    assert_eq!(data["criteria"], "The response repeats what the user said");
    assert!(failures.all().is_empty(), "on_fail is for failures only");
}

#[tokio::test]
async fn numeric_below_threshold_calls_on_fail() {
    let db = Arc::new(InMemoryDb::new());
    let failures = Failures::default();
    let judge = ScriptedJudge::new("```json\n{\"score\": 4, \"reason\": \"Too terse to be helpful\"}\n```");
    let prompts = Arc::clone(&judge.prompts);
    let eval = AgentAsJudgeEval::builder()
        .criteria("Helpful and complete")
        .additional_guideline("Penalise one-word answers")
        .scoring_strategy(ScoringStrategy::Numeric)
        .threshold(7)
        .model(judge)
        .on_fail(failures.hook())
        .build()
        .unwrap();
    let out = agent(db.clone(), eval).run("Explain Rust lifetimes").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed, "a failed evaluation does not fail the run");

    let failed = failures.all();
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].passed);
    assert_eq!(failed[0].score, Some(4));
    assert_eq!(failed[0].threshold, Some(7));
    assert_eq!(failed[0].reason, "Too terse to be helpful");
    assert_eq!(failed[0].run_id, out.run_id);

    let row = only_eval_run(&*db).await;
    assert_eq!(row.run_id, failed[0].eval_run_id);
    assert_eq!(row.eval_data["passed"], false);
    assert_eq!(row.eval_data["score"], 4);
    assert_eq!(row.eval_data["threshold"], 7);
    assert_eq!(row.model_id.as_deref(), Some("scripted-judge"));

    // The judge saw the criteria, the guideline, the format, the input and the output.
    let prompt = prompts.lock().unwrap()[0].clone();
    let system = prompt.messages.iter().find(|m| m.role == Role::System).unwrap().content.clone().unwrap();
    assert!(system.contains("Helpful and complete") && system.contains("Penalise one-word answers"), "{system}");
    assert!(system.contains(agno::models::NUMERIC_VERDICT_INSTRUCTION), "{system}");
    let user = prompt.messages.iter().find(|m| m.role == Role::User).unwrap().content.clone().unwrap();
    assert!(user.contains("<input>\nExplain Rust lifetimes\n</input>"), "{user}");
    assert!(user.contains("<output>\nYou said: \"Explain Rust lifetimes\"\n</output>"), "{user}");
}

#[tokio::test]
async fn numeric_at_threshold_passes() {
    let db = Arc::new(InMemoryDb::new());
    let failures = Failures::default();
    let eval = AgentAsJudgeEval::builder()
        .criteria("Helpful")
        .scoring_strategy(ScoringStrategy::Numeric)
        .threshold(8)
        .model(ScriptedJudge::new(r#"{"score": 8, "reason": "Good"}"#))
        .on_fail(failures.hook())
        .build()
        .unwrap();
    agent(db.clone(), eval).run("hi").await.unwrap();
    assert!(failures.all().is_empty());
    assert_eq!(only_eval_run(&*db).await.eval_data["passed"], true);
}

#[tokio::test]
async fn malformed_judge_answer_is_a_failed_evaluation_with_the_reason() {
    let db = Arc::new(InMemoryDb::new());
    let failures = Failures::default();
    let eval = AgentAsJudgeEval::builder()
        .criteria("Polite")
        .model(ScriptedJudge::new("Looks fine to me! {passed: yes"))
        .on_fail(failures.hook())
        .build()
        .unwrap();
    let out = agent(db.clone(), eval).run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    let failed = failures.all();
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].passed);
    assert!(failed[0].reason.starts_with("The judge's answer is not a valid verdict"), "{}", failed[0].reason);
    assert!(failed[0].reason.contains("Looks fine to me!"), "the answer is quoted: {}", failed[0].reason);
    let row = only_eval_run(&*db).await;
    assert_eq!(row.eval_data["passed"], false);
    assert_eq!(row.eval_data["reason"], failed[0].reason.as_str());
}

#[tokio::test]
async fn a_failing_judge_stores_nothing_and_the_run_completes() {
    let db = Arc::new(InMemoryDb::new());
    let failures = Failures::default();
    let eval = AgentAsJudgeEval::builder()
        .criteria("Polite")
        .model(ScriptedJudge::failing("OpenAI error: HTTP 503 Service Unavailable"))
        .on_fail(failures.hook())
        .build()
        .unwrap();
    let out = agent(db.clone(), eval).run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().is_empty());
    assert!(failures.all().is_empty());
}

#[test]
fn threshold_out_of_range_is_an_error() {
    for bad in [0, 11, 100] {
        let err = AgentAsJudgeEval::builder()
            .criteria("x")
            .scoring_strategy(ScoringStrategy::Numeric)
            .threshold(bad)
            .model(OfflineModel::new())
            .build()
            .unwrap_err();
        assert_eq!(err, EvalError::Threshold(bad));
        assert!(err.to_string().contains("between 1 and 10"), "{err}");
    }
}

#[tokio::test]
async fn background_mode_runs_after_the_run_through_the_scheduler() {
    let db = Arc::new(InMemoryDb::new());
    let eval = AgentAsJudgeEval::builder()
        .criteria("Repeats the input")
        .model(OfflineModel::new())
        .run_in_background(true)
        .build()
        .unwrap();
    let agent = agent(db.clone(), eval);
    let scheduler = Arc::new(Collect::default());
    let out = agent.run("Hello").background(BackgroundMode::per_hook(scheduler.clone() as Arc<_>)).await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().is_empty(), "nothing ran before the scheduler");

    let jobs = scheduler.take();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].hook_name(), "AgentAsJudgeEval");
    for job in jobs {
        job.run().await.unwrap();
    }
    let row = only_eval_run(&*db).await;
    assert_eq!(row.eval_data["passed"], true);
    // The background copy is of the finished run.
    assert_eq!(row.eval_data["output"], "You said: \"Hello\"");
    assert_eq!(row.eval_data["evaluated_run_id"], out.run_id.as_str());

    // Without a scheduler (outside AgentOS) it runs inline.
    agent.run("Again").await.unwrap();
    assert_eq!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn as_a_pre_hook_it_fails_and_the_run_goes_on() {
    let logs = global_logs();
    let db = Arc::new(InMemoryDb::new());
    let eval = AgentAsJudgeEval::builder().criteria("x").model(OfflineModel::new()).build().unwrap();
    let agent =
        Agent::builder().id("eval-as-pre-hook").db(db.clone()).pre_hook(eval).build().expect("accepted as a pre-hook");
    let out = agent.run("hi").await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(out.content.as_deref(), Some("You said: \"hi\""));
    assert!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().is_empty());
    // This run's lines: the run span names the agent.
    let logged = logs.text();
    let ours: Vec<&str> = logged.lines().filter(|l| l.contains("eval-as-pre-hook")).collect();
    assert!(
        ours.iter().any(|l| l.contains("Pre-hook #1 execution failed") && l.contains("Pre-hooks are not supported")),
        "{logged}"
    );
}

/// The lines of a process-wide subscriber, installed once. (A thread-local one would miss events:
/// tracing caches each callsite's interest process-wide, and a sibling test thread without a
/// subscriber that reaches a callsite first caches it as "never".)
fn global_logs() -> Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this test binary");
        logs
    })
    .clone()
}

/// Log lines written by a test's subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn its_own_db_wins_over_the_agents() {
    let agent_db = Arc::new(InMemoryDb::new());
    let eval_db = Arc::new(InMemoryDb::new());
    let eval =
        AgentAsJudgeEval::builder().criteria("x").model(OfflineModel::new()).db(eval_db.clone()).build().unwrap();
    agent(agent_db.clone(), eval).run("hi").await.unwrap();
    assert!(agent_db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().is_empty());
    assert_eq!(eval_db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().len(), 1);
}
