//! The SQL of `SqliteDb`: agno's tables and indexes, and the statements that write them.

use std::time::Duration;

/// How long a statement waits for another writer before failing with `SQLITE_BUSY`.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The tables and their indexes, created when missing.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agno_sessions (
    session_id    TEXT PRIMARY KEY,
    session_type  TEXT NOT NULL,
    agent_id      TEXT,
    team_id       TEXT,
    workflow_id   TEXT,
    user_id       TEXT,
    session_data  TEXT,
    agent_data    TEXT,
    team_data     TEXT,
    workflow_data TEXT,
    metadata      TEXT,
    summary       TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_sessions_user_id ON agno_sessions (user_id);
CREATE INDEX IF NOT EXISTS idx_agno_sessions_updated_at ON agno_sessions (updated_at);

CREATE TABLE IF NOT EXISTS agno_runs (
    run_id        TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES agno_sessions (session_id) ON DELETE CASCADE,
    run_type      TEXT NOT NULL,
    agent_id      TEXT,
    team_id       TEXT,
    workflow_id   TEXT,
    user_id       TEXT,
    parent_run_id TEXT,
    status        TEXT NOT NULL,
    run_index     INTEGER NOT NULL,
    run_data      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_runs_session_index ON agno_runs (session_id, run_index);

CREATE TABLE IF NOT EXISTS agno_eval_runs (
    run_id                   TEXT PRIMARY KEY,
    eval_type                TEXT NOT NULL,
    eval_data                TEXT NOT NULL,
    eval_input               TEXT,
    name                     TEXT,
    agent_id                 TEXT,
    team_id                  TEXT,
    workflow_id              TEXT,
    model_id                 TEXT,
    model_provider           TEXT,
    evaluated_component_name TEXT,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER
);
CREATE INDEX IF NOT EXISTS idx_agno_eval_runs_agent_id ON agno_eval_runs (agent_id, created_at);
";

/// The evaluation columns read back, in this order, by `rows::decode_eval_run`.
pub(super) const EVAL_COLUMNS: &str = "run_id, eval_type, eval_data, eval_input, name, agent_id, team_id, workflow_id, model_id, \
                            model_provider, evaluated_component_name, created_at, updated_at";

/// Inserts an evaluation or replaces the stored one (its `created_at` is kept).
pub(super) const UPSERT_EVAL_RUN: &str = "
INSERT INTO agno_eval_runs
    (run_id, eval_type, eval_data, eval_input, name, agent_id, team_id, workflow_id, model_id, model_provider,
     evaluated_component_name, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (run_id) DO UPDATE SET
    eval_type                = excluded.eval_type,
    eval_data                = excluded.eval_data,
    eval_input               = excluded.eval_input,
    name                     = excluded.name,
    agent_id                 = excluded.agent_id,
    team_id                  = excluded.team_id,
    workflow_id              = excluded.workflow_id,
    model_id                 = excluded.model_id,
    model_provider           = excluded.model_provider,
    evaluated_component_name = excluded.evaluated_component_name,
    updated_at               = excluded.updated_at";

/// The session columns read back, in this order, by `rows::decode_session`.
pub(super) const SESSION_COLUMNS: &str = "session_id, session_type, agent_id, user_id, session_data, agent_data, metadata, \
                               created_at, updated_at, team_id, workflow_id, team_data, workflow_data";

/// Inserts a session, or updates it unless it belongs to another user (agno's ownership guard).
/// The original `created_at` is kept and a stored owner is never replaced by `NULL`.
pub(super) const UPSERT_SESSION: &str = "
INSERT INTO agno_sessions
    (session_id, session_type, agent_id, user_id, session_data, agent_data, metadata, created_at, updated_at,
     team_id, workflow_id, team_data, workflow_data)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (session_id) DO UPDATE SET
    session_type = excluded.session_type,
    agent_id     = excluded.agent_id,
    team_id      = excluded.team_id,
    workflow_id  = excluded.workflow_id,
    team_data    = excluded.team_data,
    workflow_data = excluded.workflow_data,
    user_id      = COALESCE(agno_sessions.user_id, excluded.user_id),
    session_data = excluded.session_data,
    agent_data   = excluded.agent_data,
    metadata     = excluded.metadata,
    updated_at   = excluded.updated_at
WHERE agno_sessions.user_id IS NULL
   OR excluded.user_id IS NULL
   OR agno_sessions.user_id = excluded.user_id";

/// Inserts a run at the end of its session, or replaces a stored run's data in place (its
/// `run_index`, `session_id` and `created_at` are kept).
pub(super) const UPSERT_RUN: &str = "
INSERT INTO agno_runs
    (run_id, session_id, run_type, agent_id, user_id, parent_run_id, status, run_index, run_data,
     created_at, updated_at, team_id, workflow_id)
VALUES (?1, ?2, ?10, ?3, ?4, ?5, ?6,
        (SELECT COALESCE(MAX(run_index) + 1, 0) FROM agno_runs WHERE session_id = ?2),
        ?7, ?8, ?9, ?11, ?12)
ON CONFLICT (run_id) DO UPDATE SET
    run_type      = excluded.run_type,
    agent_id      = excluded.agent_id,
    team_id       = excluded.team_id,
    workflow_id   = excluded.workflow_id,
    user_id       = excluded.user_id,
    parent_run_id = excluded.parent_run_id,
    status        = excluded.status,
    run_data      = excluded.run_data,
    updated_at    = excluded.updated_at";
