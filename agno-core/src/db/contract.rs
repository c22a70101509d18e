//! The contract every [`Db`] backend keeps, as one suite of checks: [`db_contract`] runs them all
//! on an empty database, and each backend's tests call it ([`InMemoryDb`](super::InMemoryDb),
//! [`SqliteDb`](super::SqliteDb), and any backend to come). [`same_answers`] loads one data set
//! into two backends and checks that they answer every query alike.
//!
//! Each part of the suite starts from a database without sessions and deletes the sessions it
//! made, so the parts do not see each other's data (evaluations cannot be deleted: they are
//! checked last).

use serde_json::json;

use super::{Db, DbError, EvalRun, EvalRunQuery, RunQuery, SavedJson, SessionPage, SessionQuery, SessionSort};
use crate::run::{RunInput, RunMetrics, RunOutput, RunStatus};
use crate::session::{Session, SessionType};

/// A run of agent `agent-1` in `session_id`, created at 1 700 000 000.
pub(crate) fn run(run_id: &str, session_id: &str, status: RunStatus) -> RunOutput {
    RunOutput {
        run_id: run_id.into(),
        agent_id: "agent-1".into(),
        agent_name: Some("Helper".into()),
        session_id: session_id.into(),
        parent_run_id: None,
        user_id: None,
        content: Some(format!("answer of {run_id}")),
        content_type: "str".into(),
        model: Some("gpt-test".into()),
        model_provider: Some("OpenAI".into()),
        metadata: Some(json!({"k": "v"})),
        session_state: None,
        created_at: 1_700_000_000,
        status,
        metrics: RunMetrics { input_tokens: Some(3), duration: Some(0.25), ..Default::default() },
        messages: None,
        tools: vec![],
        input: Some(RunInput::new("hello")),
        events: None,
        team_id: None,
        team_name: None,
        workflow_id: None,
        workflow_name: None,
        member_responses: Vec::new(),
        step_results: Vec::new(),
    }
}

/// An agent session of `agent-1`, created at 1 000.
pub(crate) fn session(session_id: &str, user_id: Option<&str>, updated_at: i64) -> Session {
    Session {
        session_id: session_id.into(),
        session_type: SessionType::Agent,
        agent_id: Some("agent-1".into()),
        user_id: user_id.map(str::to_owned),
        session_data: Some(json!({"session_state": {"n": 1}})),
        agent_data: Some(json!({"name": "Helper", "agent_id": "agent-1"})),
        metadata: None,
        runs: Vec::new(),
        created_at: 1_000,
        updated_at,
        ..Session::new(session_id)
    }
}

/// An evaluation of `agent_id`'s run.
pub(crate) fn eval_run(run_id: &str, agent_id: &str, created_at: i64) -> EvalRun {
    EvalRun {
        run_id: run_id.into(),
        eval_type: "agent_as_judge".into(),
        name: Some("quality".into()),
        agent_id: Some(agent_id.into()),
        team_id: None,
        workflow_id: None,
        model_id: Some("offline".into()),
        model_provider: Some("Offline".into()),
        evaluated_component_name: Some("Helper".into()),
        eval_data: json!({"passed": true, "reason": "fine", "score": null}),
        eval_input: Some(json!({"criteria": "be kind"})),
        created_at,
        updated_at: created_at,
    }
}

/// The ids of the runs `query` selects, in the order they come.
async fn run_ids(db: &dyn Db, session_id: &str, query: &RunQuery) -> Vec<String> {
    db.get_runs(session_id, query).await.unwrap().into_iter().map(|r| r.run_id).collect()
}

/// The ids of a page of sessions, and the page's total.
async fn session_ids(db: &dyn Db, query: &SessionQuery) -> (Vec<String>, usize) {
    let SessionPage { sessions, total } = db.list_sessions(query).await.unwrap();
    assert!(sessions.iter().all(|s| s.runs.is_empty()), "listed sessions come without runs");
    (sessions.into_iter().map(|s| s.session_id).collect(), total)
}

/// Asserts that the database holds no session.
async fn assert_no_sessions(db: &dyn Db) {
    let page = db.list_sessions(&SessionQuery::default()).await.unwrap();
    assert_eq!((page.sessions.len(), page.total), (0, 0), "the contract needs an empty database");
}

/// Deletes the sessions, checking each existed.
async fn delete_all(db: &dyn Db, session_ids: &[&str]) {
    for id in session_ids {
        assert!(db.delete_session(id).await.unwrap(), "session {id} should exist");
    }
    assert_no_sessions(db).await;
}

/// Everything a backend must do, checked on an empty database.
pub(crate) async fn db_contract(db: &dyn Db) {
    assert!(!db.id().is_empty());
    assert_no_sessions(db).await;
    round_trip(db).await;
    run_queries(db).await;
    saving_a_stored_run_replaces_it_in_place(db).await;
    save_runs_is_all_or_nothing(db).await;
    saving_with_the_last_run_s_json(db).await;
    ownership(db).await;
    list_sessions(db).await;
    delete_session(db).await;
    eval_runs_contract(db).await;
}

/// Sessions and runs come back as they were saved; `get_session` leaves out the runs.
pub(crate) async fn round_trip(db: &dyn Db) {
    assert_eq!(db.get_session("s1").await.unwrap(), None);
    assert_eq!(db.get_session_with_runs("s1", &RunQuery::all()).await.unwrap(), None);
    assert_eq!(db.get_run("r1").await.unwrap(), None);
    assert!(db.get_runs("s1", &RunQuery::all()).await.unwrap().is_empty());
    assert_eq!(db.count_runs("s1", &RunQuery::all()).await.unwrap(), 0);

    let s = session("s1", Some("u1"), 2_000);
    let r1 = run("r1", "s1", RunStatus::Completed);
    let mut r2 = run("r2", "s1", RunStatus::Completed);
    r2.session_state = Some(json!({"n": 2}).as_object().unwrap().clone());
    db.save_run(&s, &r1).await.unwrap();
    let later = Session { updated_at: 3_000, metadata: Some(json!({"tag": "x"})), ..s.clone() };
    db.save_run(&later, &r2).await.unwrap();

    // The row alone: every field as saved last, no runs.
    let row = db.get_session("s1").await.unwrap().unwrap();
    assert!(row.runs.is_empty(), "get_session returns the row without runs");
    assert_eq!(row, later);
    assert_eq!(row.user_id.as_deref(), Some("u1"));
    assert_eq!(row.created_at, 1_000);
    assert_eq!(row.updated_at, 3_000);

    // The row with its runs, oldest first.
    let with_runs = db.get_session_with_runs("s1", &RunQuery::all()).await.unwrap().unwrap();
    assert_eq!(with_runs.runs, vec![r1.clone(), r2.clone()]);
    assert_eq!(Session { runs: Vec::new(), ..with_runs }, later);

    assert_eq!(db.get_run("r2").await.unwrap(), Some(r2.clone()));
    assert_eq!(db.get_run("missing").await.unwrap(), None);
    assert_eq!(db.get_runs("s1", &RunQuery::all()).await.unwrap(), vec![r1.clone(), r2.clone()]);
    assert_eq!(db.count_runs("s1", &RunQuery::all()).await.unwrap(), 2);
    assert!(db.get_runs("other", &RunQuery::all()).await.unwrap().is_empty());
    assert!(db.get_session("other").await.unwrap().is_none());

    // The session keeps its created_at even when a later save carries another one.
    db.save_run(&Session { created_at: 9_999, ..later.clone() }, &r1).await.unwrap();
    assert_eq!(db.get_session("s1").await.unwrap().unwrap().created_at, 1_000);

    // Runs that did not answer are stored too.
    let failed = RunOutput { content: Some("rejected".into()), ..run("bad", "s1", RunStatus::Error) };
    db.save_run(&later, &failed).await.unwrap();
    assert_eq!(db.get_run("bad").await.unwrap(), Some(failed.clone()));
    assert_eq!(db.get_runs("s1", &RunQuery::all()).await.unwrap(), vec![r1, r2, failed]);

    // Team and workflow sessions and runs keep their own ids and data.
    let team = Session {
        session_type: SessionType::Team,
        agent_id: None,
        team_id: Some("team-1".into()),
        team_data: Some(json!({"name": "Crew", "team_id": "team-1"})),
        agent_data: None,
        ..session("team-s", None, 5)
    };
    let member =
        RunOutput { parent_run_id: Some("team-run".into()), ..run("member-run", "team-s", RunStatus::Completed) };
    let team_run = RunOutput {
        agent_id: String::new(),
        agent_name: None,
        team_id: Some("team-1".into()),
        team_name: Some("Crew".into()),
        member_responses: vec![member.clone()],
        ..run("team-run", "team-s", RunStatus::Completed)
    };
    db.save_runs(&team, &[&member, &team_run]).await.unwrap();
    assert_eq!(db.get_session("team-s").await.unwrap(), Some(team.clone()));
    assert_eq!(db.get_runs("team-s", &RunQuery::all()).await.unwrap(), vec![member, team_run]);

    let workflow = Session {
        session_type: SessionType::Workflow,
        agent_id: None,
        workflow_id: Some("wf-1".into()),
        workflow_data: Some(json!({"name": "Flow", "workflow_id": "wf-1"})),
        agent_data: None,
        ..session("wf-s", Some("u9"), 6)
    };
    let wf_run = RunOutput {
        agent_id: String::new(),
        agent_name: None,
        workflow_id: Some("wf-1".into()),
        workflow_name: Some("Flow".into()),
        ..run("wf-run", "wf-s", RunStatus::Completed)
    };
    db.save_run(&workflow, &wf_run).await.unwrap();
    assert_eq!(db.get_session("wf-s").await.unwrap(), Some(workflow));
    assert_eq!(db.get_run("wf-run").await.unwrap(), Some(wf_run));

    // A session saved without runs is a row alone.
    db.save_runs(&session("bare", None, 7), &[]).await.unwrap();
    assert_eq!(db.get_session("bare").await.unwrap(), Some(session("bare", None, 7)));
    assert_eq!(db.count_runs("bare", &RunQuery::all()).await.unwrap(), 0);

    delete_all(db, &["s1", "team-s", "wf-s", "bare"]).await;
}

/// A run of `runner` for the run-query session `q`.
fn query_run(id: &str, status: RunStatus, created_at: i64) -> RunOutput {
    RunOutput { created_at, ..run(id, "q", status) }
}

/// The runs of session `q` that [`run_queries`] reads, in the order they are saved:
///
/// | run | runner (team, else workflow, else agent) | parent | status    | created |
/// |-----|------------------------------------------|--------|-----------|---------|
/// | q0  | agent-1                                  |        | COMPLETED | 100     |
/// | q1  | agent-1                                  |        | ERROR     | 110     |
/// | q2  | member-1                                 | q3     | COMPLETED | 120     |
/// | q3  | team-1                                   |        | COMPLETED | 120     |
/// | q4  | agent-1                                  |        | CANCELLED | 130     |
/// | q5  | agent-1                                  |        | PAUSED    | 140     |
/// | q6  | wf-1                                     |        | COMPLETED | 150     |
/// | q7  | agent-1                                  |        | RUNNING   | 160     |
/// | q8  | agent-1                                  |        | COMPLETED | 170     |
/// | q9  | team-1 (agent_id agent-1 as well)        |        | COMPLETED | 180     |
/// | q10 | wf-1 (agent_id agent-1 as well)          |        | COMPLETED | 190     |
/// | q11 | agent-1                                  |        | PENDING   | 200     |
/// | q12 | agent-1                                  |        | COMPLETED | 200     |
pub(crate) fn query_runs() -> Vec<RunOutput> {
    let team = |id: &str, created_at| RunOutput {
        agent_id: String::new(),
        team_id: Some("team-1".into()),
        ..query_run(id, RunStatus::Completed, created_at)
    };
    let workflow = |id: &str, created_at| RunOutput {
        agent_id: String::new(),
        workflow_id: Some("wf-1".into()),
        ..query_run(id, RunStatus::Completed, created_at)
    };
    vec![
        query_run("q0", RunStatus::Completed, 100),
        query_run("q1", RunStatus::Error, 110),
        RunOutput {
            agent_id: "member-1".into(),
            parent_run_id: Some("q3".into()),
            ..query_run("q2", RunStatus::Completed, 120)
        },
        team("q3", 120),
        query_run("q4", RunStatus::Cancelled, 130),
        query_run("q5", RunStatus::Paused, 140),
        workflow("q6", 150),
        query_run("q7", RunStatus::Running, 160),
        query_run("q8", RunStatus::Completed, 170),
        RunOutput { agent_id: "agent-1".into(), ..team("q9", 180) },
        RunOutput { agent_id: "agent-1".into(), ..workflow("q10", 190) },
        query_run("q11", RunStatus::Pending, 200),
        query_run("q12", RunStatus::Completed, 200),
    ]
}

/// Every filter of [`RunQuery`], `last`, `offset` and `limit`, and `count_runs`.
pub(crate) async fn run_queries(db: &dyn Db) {
    let runs = query_runs();
    let s = session("q", None, 1);
    // Saved in two calls, so positions run on across saves.
    let refs: Vec<&RunOutput> = runs.iter().collect();
    db.save_runs(&s, &refs[..5]).await.unwrap();
    db.save_runs(&s, &refs[5..]).await.unwrap();

    let q = |ids: &[usize]| ids.iter().map(|i| format!("q{i}")).collect::<Vec<_>>();
    let cases: Vec<(&str, RunQuery, Vec<String>)> = vec![
        ("all", RunQuery::all(), q(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])),
        ("created_after", RunQuery { created_after: Some(150), ..RunQuery::all() }, q(&[6, 7, 8, 9, 10, 11, 12])),
        ("created_before", RunQuery { created_before: Some(120), ..RunQuery::all() }, q(&[0, 1, 2, 3])),
        (
            "created between",
            RunQuery { created_after: Some(120), created_before: Some(150), ..RunQuery::all() },
            q(&[2, 3, 4, 5, 6]),
        ),
        ("created_after past the end", RunQuery { created_after: Some(201), ..RunQuery::all() }, q(&[])),
        (
            "status COMPLETED",
            RunQuery { status: Some(RunStatus::Completed), ..RunQuery::all() },
            q(&[0, 2, 3, 6, 8, 9, 10, 12]),
        ),
        ("status ERROR", RunQuery { status: Some(RunStatus::Error), ..RunQuery::all() }, q(&[1])),
        ("status PAUSED", RunQuery { status: Some(RunStatus::Paused), ..RunQuery::all() }, q(&[5])),
        ("top_level", RunQuery { top_level: true, ..RunQuery::all() }, q(&[0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])),
        (
            "runner agent-1",
            RunQuery { runner_id: Some("agent-1".into()), ..RunQuery::all() },
            q(&[0, 1, 4, 5, 7, 8, 11, 12]),
        ),
        (
            "runner team-1 (team before agent)",
            RunQuery { runner_id: Some("team-1".into()), ..RunQuery::all() },
            q(&[3, 9]),
        ),
        (
            "runner wf-1 (workflow before agent)",
            RunQuery { runner_id: Some("wf-1".into()), ..RunQuery::all() },
            q(&[6, 10]),
        ),
        ("runner member-1", RunQuery { runner_id: Some("member-1".into()), ..RunQuery::all() }, q(&[2])),
        ("runner nobody", RunQuery { runner_id: Some("nobody".into()), ..RunQuery::all() }, q(&[])),
        (
            "answered_only (no ERROR, CANCELLED, PAUSED)",
            RunQuery { answered_only: true, ..RunQuery::all() },
            q(&[0, 2, 3, 6, 7, 8, 9, 10, 11, 12]),
        ),
        ("history(agent-1, 3)", RunQuery::history("agent-1", 3), q(&[8, 11, 12])),
        ("history(agent-1, 100)", RunQuery::history("agent-1", 100), q(&[0, 7, 8, 11, 12])),
        ("history(team-1, 1)", RunQuery::history("team-1", 1), q(&[9])),
        ("history(member-1, 5): not top level", RunQuery::history("member-1", 5), q(&[])),
        ("last 3", RunQuery { last: Some(3), ..RunQuery::all() }, q(&[10, 11, 12])),
        ("last 0", RunQuery { last: Some(0), ..RunQuery::all() }, q(&[])),
        ("last 100", RunQuery { last: Some(100), ..RunQuery::all() }, q(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])),
        ("offset 10", RunQuery { offset: 10, ..RunQuery::all() }, q(&[10, 11, 12])),
        ("offset 13", RunQuery { offset: 13, ..RunQuery::all() }, q(&[])),
        ("limit 3", RunQuery { limit: Some(3), ..RunQuery::all() }, q(&[0, 1, 2])),
        ("limit 0", RunQuery { limit: Some(0), ..RunQuery::all() }, q(&[])),
        ("offset 4 limit 2", RunQuery { offset: 4, limit: Some(2), ..RunQuery::all() }, q(&[4, 5])),
        ("offset 11 limit 5", RunQuery { offset: 11, limit: Some(5), ..RunQuery::all() }, q(&[11, 12])),
        (
            "last 5 offset 1 limit 2",
            RunQuery { last: Some(5), offset: 1, limit: Some(2), ..RunQuery::all() },
            q(&[9, 10]),
        ),
        ("last 5 offset 4", RunQuery { last: Some(5), offset: 4, ..RunQuery::all() }, q(&[12])),
        ("last 2 offset 2", RunQuery { last: Some(2), offset: 2, ..RunQuery::all() }, q(&[])),
        ("last 4 limit 1", RunQuery { last: Some(4), limit: Some(1), ..RunQuery::all() }, q(&[9])),
        (
            "status COMPLETED, last 3, offset 1",
            RunQuery { status: Some(RunStatus::Completed), last: Some(3), offset: 1, ..RunQuery::all() },
            q(&[10, 12]),
        ),
        (
            "runner agent-1, answered, created_after 150, last 2",
            RunQuery {
                runner_id: Some("agent-1".into()),
                answered_only: true,
                created_after: Some(150),
                last: Some(2),
                ..RunQuery::all()
            },
            q(&[11, 12]),
        ),
        (
            "history(agent-1, 4) offset 1 limit 2",
            RunQuery { offset: 1, limit: Some(2), ..RunQuery::history("agent-1", 4) },
            q(&[8, 11]),
        ),
    ];
    for (name, query, expected) in &cases {
        assert_eq!(&run_ids(db, "q", query).await, expected, "get_runs: {name}");
        // The runs come whole, as saved.
        let got = db.get_runs("q", query).await.unwrap();
        let want: Vec<RunOutput> =
            expected.iter().map(|id| runs.iter().find(|r| &r.run_id == id).unwrap().clone()).collect();
        assert_eq!(got, want, "get_runs (whole runs): {name}");
        // With the session row, from the same read.
        let with_runs = db.get_session_with_runs("q", query).await.unwrap().expect("session q");
        assert_eq!(with_runs.runs, want, "get_session_with_runs: {name}");
        assert_eq!(Session { runs: Vec::new(), ..with_runs }, s, "get_session_with_runs row: {name}");
        // count_runs counts the filters' matches, whatever `last`, `offset` and `limit` say.
        let filters_only = RunQuery { last: None, offset: 0, limit: None, ..query.clone() };
        let matching = runs.iter().filter(|r| filters_only.matches(r)).count();
        assert_eq!(db.count_runs("q", query).await.unwrap(), matching, "count_runs: {name}");
        assert_eq!(run_ids(db, "q", &filters_only).await.len(), matching, "matches() agrees: {name}");
    }
    assert_eq!(
        db.count_runs("q", &RunQuery { last: Some(2), offset: 5, limit: Some(1), ..RunQuery::all() }).await.unwrap(),
        13
    );
    assert_eq!(db.count_runs("q", &RunQuery::history("agent-1", 1)).await.unwrap(), 5);
    assert_eq!(db.count_runs("q", &RunQuery { answered_only: true, ..RunQuery::all() }).await.unwrap(), 10);

    // Another session's runs are not read; an unknown session has none.
    db.save_run(&session("q-other", None, 1), &query_run("o1", RunStatus::Completed, 100)).await.unwrap();
    assert_eq!(run_ids(db, "q-other", &RunQuery::all()).await, ["o1"]);
    assert_eq!(run_ids(db, "q", &RunQuery::all()).await.len(), 13);
    assert!(run_ids(db, "nope", &RunQuery::history("agent-1", 3)).await.is_empty());
    assert_eq!(db.count_runs("nope", &RunQuery::all()).await.unwrap(), 0);
    assert_eq!(db.get_session_with_runs("nope", &RunQuery::history("agent-1", 3)).await.unwrap(), None);

    delete_all(db, &["q", "q-other"]).await;
}

/// Saving a stored run again replaces it where it stands.
pub(crate) async fn saving_a_stored_run_replaces_it_in_place(db: &dyn Db) {
    let s = session("p", None, 1);
    let (r1, r2, r3) =
        (run("p1", "p", RunStatus::Running), run("p2", "p", RunStatus::Running), run("p3", "p", RunStatus::Completed));
    db.save_runs(&s, &[&r1, &r2, &r3]).await.unwrap();

    let r2b = RunOutput { status: RunStatus::Cancelled, content: Some("changed".into()), ..r2.clone() };
    db.save_run(&Session { updated_at: 2, ..s.clone() }, &r2b).await.unwrap();
    assert_eq!(db.get_runs("p", &RunQuery::all()).await.unwrap(), vec![r1.clone(), r2b.clone(), r3.clone()]);
    assert_eq!(db.count_runs("p", &RunQuery::all()).await.unwrap(), 3);
    assert_eq!(db.get_run("p2").await.unwrap(), Some(r2b.clone()));
    assert_eq!(db.get_session("p").await.unwrap().unwrap().updated_at, 2);
    // Filters see the new values.
    assert_eq!(run_ids(db, "p", &RunQuery { status: Some(RunStatus::Cancelled), ..RunQuery::all() }).await, ["p2"]);
    assert_eq!(run_ids(db, "p", &RunQuery { answered_only: true, ..RunQuery::all() }).await, ["p1", "p3"]);

    // A replaced run and a new one in one call: the old keeps its place, the new goes last.
    let r1b = RunOutput { status: RunStatus::Completed, ..r1.clone() };
    let r4 = run("p4", "p", RunStatus::Completed);
    db.save_runs(&s, &[&r1b, &r4]).await.unwrap();
    assert_eq!(db.get_runs("p", &RunQuery::all()).await.unwrap(), vec![r1b, r2b, r3, r4.clone()]);
    assert_eq!(db.get_runs("p", &RunQuery { last: Some(1), ..RunQuery::all() }).await.unwrap(), vec![r4]);

    delete_all(db, &["p"]).await;
}

/// `save_runs_with_json` stores what `save_runs` would, reads back the same, and keeps the
/// ownership guard; the session's JSON columns given as text are stored as if the session held
/// them.
pub(crate) async fn saving_with_the_last_run_s_json(db: &dyn Db) {
    let s = session("j", Some("alice"), 1);
    let (child, parent) = (run("j1", "j", RunStatus::Completed), run("j2", "j", RunStatus::Completed));
    let json = serde_json::to_string(&parent).unwrap();
    db.save_runs_with_json(&s, &[&child, &parent], &SavedJson::new(&json)).await.unwrap();
    assert_eq!(db.get_runs("j", &RunQuery::all()).await.unwrap(), vec![child.clone(), parent.clone()]);
    assert_eq!(db.get_run("j2").await.unwrap(), Some(parent.clone()));
    assert_eq!(
        db.get_session("j").await.unwrap().map(|s| (s.session_data, s.agent_data)),
        Some((s.session_data.clone(), s.agent_data.clone()))
    );

    // The columns as text, left out of the session: read back as values.
    let next = run("j4", "j", RunStatus::Completed);
    let next_json = serde_json::to_string(&next).unwrap();
    let without = Session { session_data: None, agent_data: None, ..session("j", Some("alice"), 3) };
    let (session_text, agent_text) = (r#"{"session_state":{"n":2}}"#, r#"{"agent_id":"agent-1","name":"Renamed"}"#);
    let with_text = SavedJson::new(&next_json).with_session_data(session_text).with_runner_data(agent_text);
    db.save_runs_with_json(&without, &[&next], &with_text).await.unwrap();
    let stored = db.get_session("j").await.unwrap().unwrap();
    assert_eq!(stored.session_data, Some(json!({"session_state": {"n": 2}})));
    assert_eq!(stored.agent_data, Some(json!({"name": "Renamed", "agent_id": "agent-1"})));
    assert_eq!(stored.updated_at, 3);
    assert_eq!(db.get_run("j4").await.unwrap(), Some(next));

    // A team's and a workflow's column, each in its own.
    for (id, session_type) in [("jt", SessionType::Team), ("jw", SessionType::Workflow)] {
        let mut bare = Session { session_data: None, agent_data: None, agent_id: None, ..session(id, None, 1) };
        bare.session_type = session_type;
        let r = run(&format!("{id}1"), id, RunStatus::Completed);
        let r_json = serde_json::to_string(&r).unwrap();
        let text = format!(r#"{{"name":"{id}"}}"#);
        db.save_runs_with_json(&bare, &[&r], &SavedJson::new(&r_json).with_runner_data(&text)).await.unwrap();
        let stored = db.get_session(id).await.unwrap().unwrap();
        let expected = Some(json!({"name": id}));
        match session_type {
            SessionType::Team => assert_eq!((stored.team_data, stored.workflow_data), (expected, None)),
            _ => assert_eq!((stored.workflow_data, stored.team_data), (expected, None)),
        }
        assert_eq!(stored.agent_data, None);
        assert!(db.delete_session(id).await.unwrap());
    }

    let other = run("j3", "j", RunStatus::Completed);
    let other_json = serde_json::to_string(&other).unwrap();
    let err = db
        .save_runs_with_json(&session("j", Some("bob"), 2), &[&other], &SavedJson::new(&other_json))
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Ownership { .. }), "{err}");
    assert_eq!(db.count_runs("j", &RunQuery::all()).await.unwrap(), 3);
    delete_all(db, &["j"]).await;
}

/// `save_runs` stores every run of the call or none.
pub(crate) async fn save_runs_is_all_or_nothing(db: &dyn Db) {
    let (r1, r2) = (run("a1", "a", RunStatus::Completed), run("a2", "a", RunStatus::Completed));
    db.save_runs(&session("a", Some("alice"), 1), &[&r1, &r2]).await.unwrap();
    let before = db.get_session("a").await.unwrap().unwrap();

    let (r3, r4) = (run("a3", "a", RunStatus::Completed), run("a4", "a", RunStatus::Completed));
    let r1_changed = RunOutput { content: Some("overwritten".into()), ..r1.clone() };
    let err = db.save_runs(&session("a", Some("bob"), 2), &[&r3, &r1_changed, &r4]).await.unwrap_err();
    assert!(matches!(&err, DbError::Ownership { session_id } if session_id == "a"), "{err}");
    assert_eq!(run_ids(db, "a", &RunQuery::all()).await, ["a1", "a2"], "in order, and none of the refused ones");
    assert_eq!(db.get_run("a3").await.unwrap(), None);
    assert_eq!(db.get_run("a4").await.unwrap(), None);
    assert_eq!(db.get_run("a1").await.unwrap(), Some(r1), "a stored run is not replaced by a refused call");
    assert_eq!(db.get_session("a").await.unwrap(), Some(before), "the session row is untouched");

    delete_all(db, &["a"]).await;
}

/// An owned session is written only for its owner or an anonymous writer.
pub(crate) async fn ownership(db: &dyn Db) {
    let owned = session("o", Some("u1"), 10);
    db.save_run(&owned, &run("o1", "o", RunStatus::Completed)).await.unwrap();
    let before = db.get_session("o").await.unwrap().unwrap();

    let intruder = Session {
        user_id: Some("u2".into()),
        session_data: Some(json!({"session_state": {"stolen": true}})),
        updated_at: 20,
        ..owned.clone()
    };
    match db.save_run(&intruder, &run("o2", "o", RunStatus::Completed)).await {
        Err(DbError::Ownership { session_id }) => assert_eq!(session_id, "o"),
        other => panic!("expected an ownership error, got {other:?}"),
    }
    assert_eq!(db.get_session("o").await.unwrap(), Some(before));
    assert_eq!(db.get_run("o2").await.unwrap(), None);
    assert_eq!(db.count_runs("o", &RunQuery::all()).await.unwrap(), 1);

    // An anonymous writer may write, and the owner stays.
    let anonymous = Session { user_id: None, updated_at: 30, ..owned.clone() };
    db.save_run(&anonymous, &run("o3", "o", RunStatus::Completed)).await.unwrap();
    let after = db.get_session_with_runs("o", &RunQuery::all()).await.unwrap().unwrap();
    assert_eq!(after.user_id.as_deref(), Some("u1"));
    assert_eq!(after.updated_at, 30);
    assert_eq!(after.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["o1", "o3"]);

    // The owner still may.
    db.save_run(&owned, &run("o4", "o", RunStatus::Completed)).await.unwrap();
    assert_eq!(run_ids(db, "o", &RunQuery::all()).await, ["o1", "o3", "o4"]);

    // An unowned session gets its first owner, and is then refused to others.
    db.save_run(&session("free", None, 1), &run("f1", "free", RunStatus::Completed)).await.unwrap();
    assert_eq!(db.get_session("free").await.unwrap().unwrap().user_id, None);
    db.save_run(&session("free", Some("u2"), 2), &run("f2", "free", RunStatus::Completed)).await.unwrap();
    assert_eq!(db.get_session("free").await.unwrap().unwrap().user_id.as_deref(), Some("u2"));
    assert!(matches!(
        db.save_run(&session("free", Some("u1"), 3), &run("f3", "free", RunStatus::Completed)).await,
        Err(DbError::Ownership { .. })
    ));
    assert_eq!(run_ids(db, "free", &RunQuery::all()).await, ["f1", "f2"]);
    // A new session is its writer's.
    db.save_run(&session("new", Some("u3"), 1), &run("n1", "new", RunStatus::Completed)).await.unwrap();
    assert_eq!(db.get_session("new").await.unwrap().unwrap().user_id.as_deref(), Some("u3"));

    delete_all(db, &["o", "free", "new"]).await;
}

/// The sessions [`list_sessions`] lists:
///
/// | session | type     | agent    | team   | workflow | user | created | updated |
/// |---------|----------|----------|--------|----------|------|---------|---------|
/// | a       | agent    | agent-1  |        |          | u1   | 100     | 400     |
/// | b       | agent    | agent-1  |        |          | u1   | 200     | 300     |
/// | c       | agent    | agent-2  |        |          | u2   | 300     | 300     |
/// | d       | agent    | agent-1  |        |          |      | 300     | 100     |
/// | t       | team     |          | team-1 |          | u1   | 150     | 500     |
/// | w       | workflow |          |        | wf-1     |      | 250     | 200     |
/// | y       | workflow |          |        | team-1   | u2   | 50      | 50      |
pub(crate) fn listed_sessions() -> Vec<Session> {
    let agent = |id: &str, agent_id: &str, user: Option<&str>, created_at, updated_at| Session {
        agent_id: Some(agent_id.into()),
        created_at,
        ..session(id, user, updated_at)
    };
    let team = Session {
        session_type: SessionType::Team,
        agent_id: None,
        team_id: Some("team-1".into()),
        agent_data: None,
        created_at: 150,
        ..session("t", Some("u1"), 500)
    };
    let workflow = |id: &str, workflow_id: &str, user: Option<&str>, created_at, updated_at| Session {
        session_type: SessionType::Workflow,
        agent_id: None,
        workflow_id: Some(workflow_id.into()),
        agent_data: None,
        created_at,
        ..session(id, user, updated_at)
    };
    vec![
        agent("a", "agent-1", Some("u1"), 100, 400),
        agent("b", "agent-1", Some("u1"), 200, 300),
        agent("c", "agent-2", Some("u2"), 300, 300),
        agent("d", "agent-1", None, 300, 100),
        team,
        workflow("w", "wf-1", None, 250, 200),
        workflow("y", "team-1", Some("u2"), 50, 50),
    ]
}

/// The filters, orders and pages of `list_sessions`, and its `total`.
pub(crate) async fn list_sessions(db: &dyn Db) {
    let sessions = listed_sessions();
    for (i, s) in sessions.iter().enumerate() {
        let r = run(&format!("l-{}", s.session_id), &s.session_id, RunStatus::Completed);
        let one = [&r];
        // One session without runs: listing does not depend on runs.
        let runs: &[&RunOutput] = if i == 3 { &[] } else { &one };
        db.save_runs(s, runs).await.unwrap();
    }
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let all = SessionQuery::default;
    let cases: Vec<(&str, SessionQuery, Vec<String>, usize)> = vec![
        ("default: updated_at, newest first", all(), ids(&["t", "a", "b", "c", "w", "d", "y"]), 7),
        (
            "updated_at ascending",
            SessionQuery { ascending: true, ..all() },
            ids(&["y", "d", "w", "b", "c", "a", "t"]),
            7,
        ),
        (
            "created_at descending",
            SessionQuery { sort_by: SessionSort::CreatedAt, ..all() },
            ids(&["c", "d", "w", "b", "t", "a", "y"]),
            7,
        ),
        (
            "created_at ascending",
            SessionQuery { sort_by: SessionSort::CreatedAt, ascending: true, ..all() },
            ids(&["y", "a", "t", "b", "w", "c", "d"]),
            7,
        ),
        ("user u1", SessionQuery { user_id: Some("u1".into()), ..all() }, ids(&["t", "a", "b"]), 3),
        ("user u2", SessionQuery { user_id: Some("u2".into()), ..all() }, ids(&["c", "y"]), 2),
        ("user nobody", SessionQuery { user_id: Some("nobody".into()), ..all() }, ids(&[]), 0),
        ("agent agent-1", SessionQuery { agent_id: Some("agent-1".into()), ..all() }, ids(&["a", "b", "d"]), 3),
        ("team team-1", SessionQuery { team_id: Some("team-1".into()), ..all() }, ids(&["t"]), 1),
        ("workflow wf-1", SessionQuery { workflow_id: Some("wf-1".into()), ..all() }, ids(&["w"]), 1),
        ("workflow team-1", SessionQuery { workflow_id: Some("team-1".into()), ..all() }, ids(&["y"]), 1),
        ("component agent-1", SessionQuery { component_id: Some("agent-1".into()), ..all() }, ids(&["a", "b", "d"]), 3),
        (
            "component team-1 (team or workflow id)",
            SessionQuery { component_id: Some("team-1".into()), ..all() },
            ids(&["t", "y"]),
            2,
        ),
        ("component wf-1", SessionQuery { component_id: Some("wf-1".into()), ..all() }, ids(&["w"]), 1),
        ("component nobody", SessionQuery { component_id: Some("nobody".into()), ..all() }, ids(&[]), 0),
        ("type agent", SessionQuery { session_type: Some(SessionType::Agent), ..all() }, ids(&["a", "b", "c", "d"]), 4),
        ("type team", SessionQuery { session_type: Some(SessionType::Team), ..all() }, ids(&["t"]), 1),
        ("type workflow", SessionQuery { session_type: Some(SessionType::Workflow), ..all() }, ids(&["w", "y"]), 2),
        (
            "user u1, type agent, limit 1",
            SessionQuery {
                user_id: Some("u1".into()),
                session_type: Some(SessionType::Agent),
                limit: Some(1),
                ..all()
            },
            ids(&["a"]),
            2,
        ),
        (
            "component team-1, user u2",
            SessionQuery { component_id: Some("team-1".into()), user_id: Some("u2".into()), ..all() },
            ids(&["y"]),
            1,
        ),
        ("limit 2", SessionQuery { limit: Some(2), ..all() }, ids(&["t", "a"]), 7),
        ("limit 0", SessionQuery { limit: Some(0), ..all() }, ids(&[]), 7),
        ("offset 2 limit 2 (a tie)", SessionQuery { offset: 2, limit: Some(2), ..all() }, ids(&["b", "c"]), 7),
        ("offset 6", SessionQuery { offset: 6, ..all() }, ids(&["y"]), 7),
        ("offset past the end", SessionQuery { offset: 10, ..all() }, ids(&[]), 7),
        (
            "created_at ascending, offset 1, limit 3",
            SessionQuery { sort_by: SessionSort::CreatedAt, ascending: true, offset: 1, limit: Some(3), ..all() },
            ids(&["a", "t", "b"]),
            7,
        ),
        (
            "created_at descending, limit 1 (a tie)",
            SessionQuery { sort_by: SessionSort::CreatedAt, limit: Some(1), ..all() },
            ids(&["c"]),
            7,
        ),
        (
            "agent agent-1, ascending, offset 1, limit 1",
            SessionQuery { agent_id: Some("agent-1".into()), ascending: true, offset: 1, limit: Some(1), ..all() },
            ids(&["b"]),
            3,
        ),
    ];
    for (name, query, expected, total) in &cases {
        assert_eq!(&session_ids(db, query).await, &(expected.clone(), *total), "list_sessions: {name}");
    }
    // The listed rows are the saved rows.
    let page = db.list_sessions(&SessionQuery::default()).await.unwrap();
    for listed in &page.sessions {
        let saved = sessions.iter().find(|s| s.session_id == listed.session_id).unwrap();
        assert_eq!(listed, saved);
    }

    delete_all(db, &["a", "b", "c", "d", "t", "w", "y"]).await;
}

/// `delete_session` removes the session and its runs, and only those.
pub(crate) async fn delete_session(db: &dyn Db) {
    db.save_run(&session("s", None, 1), &run("r1", "s", RunStatus::Completed)).await.unwrap();
    db.save_run(&session("s", None, 2), &run("r2", "s", RunStatus::Error)).await.unwrap();
    db.save_run(&session("keep", None, 3), &run("k1", "keep", RunStatus::Completed)).await.unwrap();

    assert!(db.delete_session("s").await.unwrap());
    assert!(db.get_session("s").await.unwrap().is_none());
    assert!(db.get_session_with_runs("s", &RunQuery::all()).await.unwrap().is_none());
    assert!(db.get_runs("s", &RunQuery::all()).await.unwrap().is_empty());
    assert_eq!(db.count_runs("s", &RunQuery::all()).await.unwrap(), 0);
    assert_eq!(db.get_run("r1").await.unwrap(), None);
    assert_eq!(db.get_run("r2").await.unwrap(), None);
    assert!(!db.delete_session("s").await.unwrap());
    assert!(!db.delete_session("never").await.unwrap());
    assert_eq!(run_ids(db, "keep", &RunQuery::all()).await, ["k1"]);
    assert_eq!(session_ids(db, &SessionQuery::default()).await, (vec!["keep".to_owned()], 1));

    // A deleted session starts again, without its old runs.
    db.save_run(&session("s", None, 4), &run("r9", "s", RunStatus::Completed)).await.unwrap();
    assert_eq!(run_ids(db, "s", &RunQuery::all()).await, ["r9"]);
    // Its old runs may be saved again, and go after the new one.
    db.save_run(&session("s", None, 5), &run("r1", "s", RunStatus::Completed)).await.unwrap();
    assert_eq!(run_ids(db, "s", &RunQuery::all()).await, ["r9", "r1"]);

    delete_all(db, &["s", "keep"]).await;
}

/// What every [`Db`] must do with evaluations (on a database without any).
pub(crate) async fn eval_runs_contract(db: &dyn Db) {
    assert!(db.get_eval_runs(&EvalRunQuery::default()).await.unwrap().is_empty());
    db.save_eval_run(&eval_run("e1", "a", 10)).await.unwrap();
    db.save_eval_run(&eval_run("e2", "b", 20)).await.unwrap();
    db.save_eval_run(&eval_run("e3", "a", 30)).await.unwrap();
    assert_eq!(db.get_eval_run("e2").await.unwrap(), Some(eval_run("e2", "b", 20)));
    assert_eq!(db.get_eval_run("nope").await.unwrap(), None);
    let ids =
        async |q: EvalRunQuery| db.get_eval_runs(&q).await.unwrap().into_iter().map(|e| e.run_id).collect::<Vec<_>>();
    assert_eq!(ids(EvalRunQuery::default()).await, ["e3", "e2", "e1"]);
    assert_eq!(ids(EvalRunQuery { agent_id: Some("a".into()), ..Default::default() }).await, ["e3", "e1"]);
    assert_eq!(ids(EvalRunQuery { limit: Some(1), ..Default::default() }).await, ["e3"]);
    assert_eq!(ids(EvalRunQuery { limit: Some(0), ..Default::default() }).await, Vec::<String>::new());
    assert_eq!(
        ids(EvalRunQuery {
            eval_type: Some("agent_as_judge".into()),
            agent_id: Some("b".into()),
            ..Default::default()
        })
        .await,
        ["e2"]
    );
    assert!(ids(EvalRunQuery { eval_type: Some("accuracy".into()), ..Default::default() }).await.is_empty());
    // Saving again replaces the row, in place among the others.
    let mut changed = eval_run("e1", "a", 10);
    changed.eval_data = json!({"passed": false});
    changed.updated_at = 40;
    db.save_eval_run(&changed).await.unwrap();
    assert_eq!(db.get_eval_run("e1").await.unwrap(), Some(changed.clone()));
    assert_eq!(ids(EvalRunQuery::default()).await, ["e3", "e2", "e1"]);
    // Its creation time stays the first save's.
    db.save_eval_run(&EvalRun { created_at: 99, ..changed.clone() }).await.unwrap();
    assert_eq!(db.get_eval_run("e1").await.unwrap(), Some(changed));
    // Equal creation times: the later saved comes first.
    db.save_eval_run(&eval_run("e4", "a", 30)).await.unwrap();
    assert_eq!(ids(EvalRunQuery::default()).await, ["e4", "e3", "e2", "e1"]);
}

/// Loads one data set into `a` and `b` (both empty) and checks that they answer a grid of run,
/// session and evaluation queries alike.
pub(crate) async fn same_answers(a: &dyn Db, b: &dyn Db) {
    for db in [a, b] {
        assert_no_sessions(db).await;
        let runs = query_runs();
        let refs: Vec<&RunOutput> = runs.iter().collect();
        db.save_runs(&session("q", None, 1), &refs).await.unwrap();
        for (i, s) in listed_sessions().iter().enumerate() {
            let r = RunOutput {
                created_at: 100 + i as i64,
                ..run(&format!("l-{}", s.session_id), &s.session_id, RunStatus::Completed)
            };
            db.save_run(s, &r).await.unwrap();
        }
        // A refused write and a replacement, so both see the same history of writes.
        assert!(db.save_run(&session("a", Some("intruder"), 9), &run("x", "a", RunStatus::Completed)).await.is_err());
        db.save_run(&session("q", None, 2), &query_run("q4", RunStatus::Completed, 130)).await.unwrap();
        for (i, agent) in ["a", "b", "a", "c", "a"].into_iter().enumerate() {
            let created_at = [10, 20, 20, 5, 30][i];
            db.save_eval_run(&eval_run(&format!("e{i}"), agent, created_at)).await.unwrap();
        }
    }

    let mut run_queries = 0;
    for created_after in [None, Some(120)] {
        for created_before in [None, Some(170)] {
            for status in [None, Some(RunStatus::Completed), Some(RunStatus::Error)] {
                for top_level in [false, true] {
                    for runner_id in [None, Some("agent-1"), Some("team-1"), Some("wf-1")] {
                        for answered_only in [false, true] {
                            let filters = RunQuery {
                                created_after,
                                created_before,
                                status,
                                top_level,
                                runner_id: runner_id.map(str::to_owned),
                                answered_only,
                                ..RunQuery::all()
                            };
                            let count = a.count_runs("q", &filters).await.unwrap();
                            assert_eq!(count, b.count_runs("q", &filters).await.unwrap(), "count_runs {filters:?}");
                            for last in [None, Some(0), Some(2), Some(100)] {
                                for offset in [0, 1, 3] {
                                    for limit in [None, Some(0), Some(2)] {
                                        let query = RunQuery { last, offset, limit, ..filters.clone() };
                                        let got = a.get_runs("q", &query).await.unwrap();
                                        assert_eq!(got, b.get_runs("q", &query).await.unwrap(), "get_runs {query:?}");
                                        run_queries += 1;
                                    }
                                }
                            }
                            let history = RunQuery { last: Some(3), ..filters };
                            assert_eq!(
                                a.get_session_with_runs("q", &history).await.unwrap(),
                                b.get_session_with_runs("q", &history).await.unwrap(),
                                "get_session_with_runs {history:?}"
                            );
                        }
                    }
                }
            }
        }
    }
    assert_eq!(run_queries, 2 * 2 * 3 * 2 * 4 * 2 * 4 * 3 * 3);

    let filters = [
        SessionQuery::default(),
        SessionQuery { user_id: Some("u1".into()), ..Default::default() },
        SessionQuery { user_id: Some("u2".into()), session_type: Some(SessionType::Workflow), ..Default::default() },
        SessionQuery { agent_id: Some("agent-1".into()), ..Default::default() },
        SessionQuery { team_id: Some("team-1".into()), ..Default::default() },
        SessionQuery { workflow_id: Some("wf-1".into()), ..Default::default() },
        SessionQuery { component_id: Some("team-1".into()), ..Default::default() },
        SessionQuery { component_id: Some("agent-1".into()), user_id: Some("u1".into()), ..Default::default() },
        SessionQuery { session_type: Some(SessionType::Agent), ..Default::default() },
        SessionQuery { session_type: Some(SessionType::Team), ..Default::default() },
        SessionQuery { user_id: Some("nobody".into()), ..Default::default() },
    ];
    for filter in filters {
        for sort_by in [SessionSort::UpdatedAt, SessionSort::CreatedAt] {
            for ascending in [false, true] {
                for offset in [0, 1, 4] {
                    for limit in [None, Some(0), Some(2)] {
                        let query = SessionQuery { sort_by, ascending, offset, limit, ..filter.clone() };
                        assert_eq!(
                            a.list_sessions(&query).await.unwrap(),
                            b.list_sessions(&query).await.unwrap(),
                            "list_sessions {query:?}"
                        );
                    }
                }
            }
        }
    }
    for id in ["q", "a", "t", "y", "nope"] {
        assert_eq!(a.get_session(id).await.unwrap(), b.get_session(id).await.unwrap(), "get_session {id}");
        let all = RunQuery::all();
        assert_eq!(
            a.get_session_with_runs(id, &all).await.unwrap(),
            b.get_session_with_runs(id, &all).await.unwrap(),
            "get_session_with_runs {id}"
        );
    }
    for run_id in ["q0", "q4", "l-a", "x", "nope"] {
        assert_eq!(a.get_run(run_id).await.unwrap(), b.get_run(run_id).await.unwrap(), "get_run {run_id}");
    }
    for agent_id in [None, Some("a"), Some("c"), Some("z")] {
        for eval_type in [None, Some("agent_as_judge"), Some("accuracy")] {
            for limit in [None, Some(0), Some(2)] {
                let query = EvalRunQuery {
                    agent_id: agent_id.map(str::to_owned),
                    eval_type: eval_type.map(str::to_owned),
                    limit,
                };
                assert_eq!(
                    a.get_eval_runs(&query).await.unwrap(),
                    b.get_eval_runs(&query).await.unwrap(),
                    "get_eval_runs {query:?}"
                );
            }
        }
    }
    // The data set is what both hold, so the comparisons above compared something.
    assert_eq!(a.count_runs("q", &RunQuery::all()).await.unwrap(), 13);
    assert_eq!(a.list_sessions(&SessionQuery::default()).await.unwrap().total, 8);
    assert_eq!(a.get_eval_runs(&EvalRunQuery::default()).await.unwrap().len(), 5);
    for id in ["q", "a", "b", "c", "d", "t", "w", "y"] {
        assert!(a.delete_session(id).await.unwrap());
        assert!(b.delete_session(id).await.unwrap());
    }
    assert_no_sessions(a).await;
    assert_no_sessions(b).await;
}

mod tests {
    use super::*;
    use crate::db::{InMemoryDb, SqliteDb};

    #[tokio::test]
    async fn in_memory_and_sqlite_give_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteDb::new(dir.path().join("same.db")).unwrap();
        let memory = InMemoryDb::new();
        same_answers(&memory, &sqlite).await;
    }
}
