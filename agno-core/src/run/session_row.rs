//! The session row a finished top-level run saves, in agno's shape: the session's ids, owner and
//! metadata, its `session_data` (`{"session_state": …}`) and its runner's column
//! (`agent_data`, `team_data` or `workflow_data`). Those two JSON columns change with every run;
//! for a caller that takes the run's JSON (a server answering with it) they are serialised once,
//! as text, instead of built as values, serialised by the backend and dropped.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{RunContext, Runner, RunnerKind};
use crate::clock::now_unix;
use crate::db::SavedJson;
use crate::session::Session;

/// A session row to save.
pub(crate) struct SessionRow {
    /// The row; with `text`, its `session_data` and runner column are left out (`None`).
    pub(crate) session: Session,
    /// For a caller that takes the run's JSON: that JSON and the row's two columns as text.
    pub(crate) text: Option<RowText>,
}

/// The JSON of a save serialised once: the run's, and the session row's two columns.
pub(crate) struct RowText {
    /// The run, as the database stores it and a server answering with it sends it.
    pub(crate) run: String,
    session_data: String,
    runner_data: String,
}

impl RowText {
    /// The text as [`Db::save_runs_with_json`](crate::db::Db::save_runs_with_json) takes it.
    pub(crate) fn saved_json(&self) -> SavedJson<'_> {
        SavedJson::new(&self.run).with_session_data(&self.session_data).with_runner_data(&self.runner_data)
    }
}

/// `session_data`.
#[derive(Serialize)]
struct SessionData<'a> {
    session_state: &'a Map<String, Value>,
}

/// A model in a runner's column.
#[derive(Serialize)]
struct ModelData<'a> {
    id: &'a str,
    provider: &'a str,
}

/// A runner's column. Its keys are in alphabetical order, as in a `serde_json` map: the text
/// and the value read the same.
#[derive(Serialize)]
#[serde(untagged)]
enum RunnerData<'a> {
    Agent { agent_id: &'a str, model: Option<ModelData<'a>>, name: Option<&'a str> },
    Team { model: Option<ModelData<'a>>, name: Option<&'a str>, team_id: &'a str },
    Workflow { name: Option<&'a str>, workflow_id: &'a str },
}

impl SessionRow {
    /// The row of a run of `runner` in `session`; with the run's JSON (`run_text`), its two JSON
    /// columns as text beside it, else as values.
    pub(crate) fn new(runner: &Runner, session: &Session, run_context: &RunContext, run_text: Option<String>) -> Self {
        let (id, name) = (runner.id(), runner.name());
        let model = runner.model().map(|m| ModelData { id: m.id(), provider: m.provider() });
        let mut row = Session {
            session_id: session.session_id.clone(),
            session_type: runner.kind().session_type(),
            agent_id: None,
            team_id: None,
            workflow_id: None,
            user_id: session.user_id.clone().or_else(|| run_context.user_id.clone()),
            session_data: None,
            agent_data: None,
            team_data: None,
            workflow_data: None,
            metadata: session.metadata.clone(),
            runs: Vec::new(),
            created_at: session.created_at,
            updated_at: now_unix(),
        };
        let (data, column) = match runner.kind() {
            RunnerKind::Agent => {
                row.agent_id = Some(id.to_owned());
                (RunnerData::Agent { agent_id: id, model, name }, &mut row.agent_data)
            }
            RunnerKind::Team => {
                row.team_id = Some(id.to_owned());
                (RunnerData::Team { model, name, team_id: id }, &mut row.team_data)
            }
            RunnerKind::Workflow => {
                row.workflow_id = Some(id.to_owned());
                (RunnerData::Workflow { name, workflow_id: id }, &mut row.workflow_data)
            }
        };
        let session_data = SessionData { session_state: &run_context.session_state };
        if let Some(run) = run_text
            && let (Ok(session_data), Ok(runner_data)) =
                (serde_json::to_string(&session_data), serde_json::to_string(&data))
        {
            return Self { session: row, text: Some(RowText { run, session_data, runner_data }) };
        }
        // Maps of strings and JSON values always serialise.
        *column = serde_json::to_value(&data).ok();
        row.session_data = serde_json::to_value(&session_data).ok();
        Self { session: row, text: None }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::models::OfflineModel;
    use crate::session::SessionType;
    use crate::{Agent, Step, Team, Workflow};

    fn context() -> RunContext {
        let mut context = RunContext { run_id: "r1".into(), session_id: "s1".into(), ..RunContext::default() };
        context.session_state.insert("n".into(), json!(1));
        context
    }

    #[test]
    fn text_and_values_hold_the_same_columns_for_every_runner() {
        let agent = Agent::builder().id("a1").name("A").model(OfflineModel::new()).build().unwrap();
        let team = Team::builder().id("t1").member(agent.clone()).build().unwrap();
        let workflow = Workflow::builder().id("w1").step(Step::agent("step", agent.clone())).build().unwrap();
        let session = Session::new("s1");
        for (runner, kind) in [
            (Runner::Agent(agent), SessionType::Agent),
            (Runner::Team(team), SessionType::Team),
            (Runner::Workflow(workflow), SessionType::Workflow),
        ] {
            let values = SessionRow::new(&runner, &session, &context(), None);
            let text = SessionRow::new(&runner, &session, &context(), Some("{}".into()));
            assert!(values.text.is_none());
            let RowText { run, session_data: session_text, runner_data: runner_text } = text.text.unwrap();
            assert_eq!(run, "{}");
            assert_eq!(values.session.session_data, Some(json!({"session_state": {"n": 1}})));
            assert_eq!(serde_json::from_str::<Value>(&session_text).unwrap(), json!({"session_state": {"n": 1}}));
            let runner_value =
                kind.pick(values.session.agent_data, values.session.team_data, values.session.workflow_data);
            // The text is the value as `serde_json` writes it, byte for byte.
            assert_eq!(runner_value.as_ref().map(Value::to_string), Some(runner_text), "{kind:?}");
            assert_eq!(text.session.session_data, None);
            assert_eq!(
                (text.session.agent_data, text.session.team_data, text.session.workflow_data),
                (None, None, None)
            );
        }
    }

    #[test]
    fn a_row_with_text_gives_back_the_same_values() {
        let agent = Agent::builder().id("a1").model(OfflineModel::new()).build().unwrap();
        let runner = Runner::Agent(agent);
        let values = SessionRow::new(&runner, &Session::new("s1"), &context(), None);
        let text = SessionRow::new(&runner, &Session::new("s1"), &context(), Some("{}".into()));
        let text = text.text.as_ref().unwrap().saved_json();
        let session = SessionRow::new(&runner, &Session::new("s1"), &context(), Some("{}".into())).session;
        let (with_values, from_text) =
            (SavedJson::new("{}").session(&values.session).unwrap(), text.session(&session).unwrap());
        assert_eq!(from_text.session_data, with_values.session_data);
        assert_eq!(from_text.agent_data, with_values.agent_data);
        assert!(matches!(with_values, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn each_runners_column_is_agnos() {
        let member = Agent::builder().id("m1").model(OfflineModel::new()).build().unwrap();
        let team = Team::builder().id("t1").name("T").member(member.clone()).build().unwrap();
        let workflow = Workflow::builder().id("w1").name("W").step(Step::agent("s", member)).build().unwrap();
        let session = Session::new("s1");
        let team_row = SessionRow::new(&Runner::Team(team), &session, &context(), None).session;
        assert_eq!(team_row.team_data.as_ref().and_then(|d| d.get("name")), Some(&json!("T")));
        assert_eq!(team_row.team_data.as_ref().and_then(|d| d.get("team_id")), Some(&json!("t1")));
        assert!(team_row.team_data.as_ref().is_some_and(|d| d.get("model").is_some()));
        assert_eq!(team_row.team_id.as_deref(), Some("t1"));
        let workflow_row = SessionRow::new(&Runner::Workflow(workflow), &session, &context(), None).session;
        assert_eq!(workflow_row.workflow_data, Some(json!({"name": "W", "workflow_id": "w1"})));
        assert_eq!(workflow_row.workflow_id.as_deref(), Some("w1"));
    }

    #[test]
    fn an_agents_column_is_agnos() {
        let agent = Agent::builder().id("a1").name("A").model(OfflineModel::new()).build().unwrap();
        let row = SessionRow::new(&Runner::Agent(agent), &Session::new("s1"), &context(), None);
        assert_eq!(
            row.session.agent_data,
            Some(json!({"name": "A", "agent_id": "a1", "model": {"id": "offline", "provider": "Offline"}}))
        );
        assert_eq!(row.session.agent_id.as_deref(), Some("a1"));
    }
}
