//! AgentOS: serves agno agents, teams and workflows over HTTP with agno's API. The response goes out at once;
//! background hooks run after its last byte, and shutdown waits for them.
//!
//! ```no_run
//! use agno_core::Agent;
//! use agno_os::AgentOS;
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let agent = Agent::builder().id("background-task-agent").name("BackgroundTaskAgent").build()?;
//! let agent_os = AgentOS::builder().agents([agent]).run_hooks_in_background(true).build()?;
//! let app = agent_os.get_app();
//! agent_os.serve(app).await?; // http://localhost:7777, until Ctrl-C or SIGTERM
//! # Ok(()) }
//! ```
//!
//! Where agno 3.1.10 differs, we follow its documentation: `run_hooks_in_background(true)` moves
//! every hook but guardrails and hooks that modify the run after the response, for HTTP runs too
//! (agno loses the flag on its per-request agent copies), and background hooks still queued or
//! running at shutdown are waited for (bounded by [`AgentOSBuilder::shutdown_grace`]). The flag
//! reaches every level: teams, their members and nested teams, workflows and the agents and
//! teams of their steps, because it is an option of each run that a team or workflow hands to
//! its child runs, not a field of a copied object.

#![warn(missing_docs)]

mod background;
mod durable;
mod error;
mod form;
mod openapi;
mod routes;
mod run_registry;
mod security;
mod time;
mod waiting_run;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agno_core::db::Db;
use agno_core::run::RunnerKind;
use agno_core::tasks::TaskBackend;
use agno_core::{Agent, Runner, Team, Workflow};
use axum::Router;
use tokio::net::TcpListener;

pub use agno_core::db::HookOutcome;
pub use error::ApiError;
pub use routes::DEFAULT_CORS_ORIGINS;

use background::{HookLog, Tracker};

/// How long, after the grace period, a task backend may take at shutdown to hand its unfinished
/// tasks to the other replicas.
const TASK_HANDOVER: Duration = Duration::from_secs(5);

/// The default port, as agno's.
pub const DEFAULT_PORT: u16 = 7777;
/// The default largest request body: 10 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// How long shutdown waits for background hooks by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Failures of building or serving AgentOS.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// The configuration is not usable.
    #[error("AgentOS configuration: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// What shutdown found: background work that did not finish within the grace period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Labels (with run ids) of the tasks still running when the grace period ended.
    pub unfinished: Vec<String>,
}

/// State shared by every request.
pub(crate) struct AppState {
    pub os_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub agents: Vec<Agent>,
    pub index: HashMap<String, usize>,
    pub teams: Vec<Team>,
    pub team_index: HashMap<String, usize>,
    pub workflows: Vec<Workflow>,
    pub workflow_index: HashMap<String, usize>,
    pub db: Option<Arc<dyn Db>>,
    pub all_hooks_in_background: bool,
    pub body_limit: usize,
    pub security_key: Option<String>,
    pub tracker: Tracker,
    pub hook_log: Arc<HookLog>,
    pub runs: run_registry::RunRegistry,
    pub instantiated_at: String,
}

impl AppState {
    pub(crate) fn agent(&self, id: &str) -> Option<&Agent> {
        self.index.get(id).map(|i| &self.agents[*i])
    }

    /// The agent, team or workflow of this kind with this id.
    pub(crate) fn runner(&self, kind: RunnerKind, id: &str) -> Option<Runner> {
        match kind {
            RunnerKind::Agent => self.agent(id).cloned().map(Runner::Agent),
            RunnerKind::Team => self.team_index.get(id).map(|i| Runner::Team(self.teams[*i].clone())),
            RunnerKind::Workflow => self.workflow_index.get(id).map(|i| Runner::Workflow(self.workflows[*i].clone())),
        }
    }
}

/// Serves agents over HTTP. Build it with [`AgentOS::builder`].
pub struct AgentOS {
    state: Arc<AppState>,
    host: String,
    port: u16,
    grace: Duration,
    cors: Option<Vec<String>>,
}

/// Builds [`AgentOS`].
#[must_use = "call .build()"]
pub struct AgentOSBuilder {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    agents: Vec<Agent>,
    teams: Vec<Team>,
    workflows: Vec<Workflow>,
    db: Option<Arc<dyn Db>>,
    run_hooks_in_background: bool,
    security_key: Option<String>,
    body_limit: usize,
    host: String,
    port: u16,
    grace: Duration,
    cors: Option<Vec<String>>,
    hook_log_capacity: usize,
}

impl Default for AgentOSBuilder {
    fn default() -> Self {
        Self {
            id: None,
            name: None,
            description: None,
            agents: Vec::new(),
            teams: Vec::new(),
            workflows: Vec::new(),
            db: None,
            run_hooks_in_background: false,
            security_key: std::env::var("OS_SECURITY_KEY").ok().filter(|k| !k.is_empty()),
            body_limit: DEFAULT_BODY_LIMIT,
            host: "localhost".to_owned(),
            port: DEFAULT_PORT,
            grace: DEFAULT_SHUTDOWN_GRACE,
            cors: None,
            hook_log_capacity: 10_000,
        }
    }
}

impl AgentOSBuilder {
    /// The OS id (default: a new UUID).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The OS name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The OS description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds agents (their ids must be unique).
    pub fn agents(mut self, agents: impl IntoIterator<Item = Agent>) -> Self {
        self.agents.extend(agents);
        self
    }

    /// Adds teams (their ids must be unique among teams).
    pub fn teams(mut self, teams: impl IntoIterator<Item = Team>) -> Self {
        self.teams.extend(teams);
        self
    }

    /// Adds workflows (their ids must be unique among workflows).
    pub fn workflows(mut self, workflows: impl IntoIterator<Item = Workflow>) -> Self {
        self.workflows.extend(workflows);
        self
    }

    /// A database for agents, teams and workflows that have none, and for the session routes.
    pub fn db(mut self, db: impl Db) -> Self {
        self.db = Some(Arc::new(db));
        self
    }

    /// Runs every hook of every agent, team (members and nested teams included) and workflow
    /// (step agents and teams included) after the response, except guardrails and hooks that
    /// modify the run (agno's global flag).
    pub fn run_hooks_in_background(mut self, enabled: bool) -> Self {
        self.run_hooks_in_background = enabled;
        self
    }

    /// Requires `Authorization: Bearer <key>` on every route but `/health` (default: the
    /// `OS_SECURITY_KEY` environment variable, if set).
    pub fn security_key(mut self, key: impl Into<String>) -> Self {
        self.security_key = Some(key.into()).filter(|k| !k.is_empty());
        self
    }

    /// The largest request body; larger ones get 413 (default 10 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The host to listen on (default `localhost`; `AGENT_OS_HOST` overrides it).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to listen on (default 7777; `AGENT_OS_PORT` overrides it).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long shutdown waits for background hooks (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How many recent runs keep their background hook outcomes for
    /// `GET /agents/{id}/runs/{run_id}/hooks` (default 10,000; 0 keeps none).
    pub fn hook_outcomes_kept(mut self, runs: usize) -> Self {
        self.hook_log_capacity = runs;
        self
    }

    /// Allows cross-origin requests from these origins instead of agno's defaults
    /// ([`DEFAULT_CORS_ORIGINS`]: the Agent UI on `http://localhost:3000` and agno's hosted
    /// front-ends), as agno's `cors_allowed_origins` does; `["*"]` allows any.
    pub fn cors_allowed_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cors = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the configuration and builds the OS.
    pub fn build(self) -> Result<AgentOS, OsError> {
        if self.agents.is_empty() && self.teams.is_empty() && self.workflows.is_empty() && self.db.is_none() {
            return Err(OsError::Config("give AgentOS at least one agent, team or workflow, or a database".into()));
        }
        let db = self.db.as_ref();
        let (agents, index) = register(self.agents, "agents", db, Agent::id, |a| a.db().is_some(), Agent::with_db)?;
        let (teams, team_index) = register(self.teams, "teams", db, Team::id, |t| t.db().is_some(), Team::with_db)?;
        let (workflows, workflow_index) =
            register(self.workflows, "workflows", db, Workflow::id, |w| w.db().is_some(), Workflow::with_db)?;
        let db = self.db.clone().or_else(|| {
            agents
                .iter()
                .find_map(|a| a.db().cloned())
                .or_else(|| teams.iter().find_map(|t| t.db().cloned()))
                .or_else(|| workflows.iter().find_map(|w| w.db().cloned()))
        });
        let tracker = Tracker::default();
        let state = AppState {
            os_id: self.id.unwrap_or_else(agno_core::ids::new_id),
            name: self.name,
            description: self.description,
            agents,
            index,
            teams,
            team_index,
            workflows,
            workflow_index,
            db,
            all_hooks_in_background: self.run_hooks_in_background,
            body_limit: self.body_limit,
            security_key: self.security_key,
            tracker,
            hook_log: Arc::new(HookLog::new(self.hook_log_capacity)),
            runs: run_registry::RunRegistry::default(),
            instantiated_at: time::iso8601(std::time::SystemTime::now()),
        };
        Ok(AgentOS { state: Arc::new(state), host: self.host, port: self.port, grace: self.grace, cors: self.cors })
    }
}

impl AgentOS {
    /// Starts building an AgentOS.
    pub fn builder() -> AgentOSBuilder {
        AgentOSBuilder::default()
    }

    /// The router with every route; nest it or add routes and layers to it.
    pub fn get_app(&self) -> Router {
        routes::router(Arc::clone(&self.state), self.cors.as_deref())
    }

    /// The address `serve` listens on: the builder's, overridden by `AGENT_OS_HOST` / `AGENT_OS_PORT`.
    pub fn address(&self) -> String {
        let host = std::env::var("AGENT_OS_HOST").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| self.host.clone());
        let port = std::env::var("AGENT_OS_PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(self.port);
        format!("{host}:{port}")
    }

    /// Serves `app` until Ctrl-C or SIGTERM, then finishes in-flight requests and waits for
    /// background hooks (see [`serve_with`](Self::serve_with)).
    pub async fn serve(&self, app: Router) -> Result<ShutdownReport, OsError> {
        let addr = self.address();
        let listener = listen(&addr).await.map_err(|source| OsError::Bind { addr: addr.clone(), source })?;
        tracing::info!(address = %addr, agents = self.state.agents.len(), "AgentOS listening");
        self.serve_with(listener, app, shutdown_signal()).await
    }

    /// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, finishes
    /// in-flight requests, and waits up to the grace period for background hooks and runs. What
    /// did not finish is logged with its run id and returned.
    pub async fn serve_with(
        &self,
        listener: TcpListener,
        app: Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<ShutdownReport, OsError> {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        // Durable background hooks: a worker per hook queue while the server runs.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = durable::start_workers(&self.state, &stopped, self.grace);
        // Task backends run while the server runs: a PostgreSQL one takes over the tasks of
        // replicas that died from the start, not only once a run here uses tasks.
        let task_backends = self.task_backends();
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        let report = self.drain().await;
        // The workers stopped taking jobs with the server; they finish within the grace period
        // or hand their jobs back to the queue.
        for worker in workers {
            if let Err(e) = worker.await {
                tracing::error!(error = %e, "a durable background hook worker panicked");
            }
        }
        self.close_task_backends(task_backends).await;
        served?;
        Ok(report)
    }

    /// The task backends of the served runners, each once (asking for one starts it).
    fn task_backends(&self) -> Vec<Arc<dyn TaskBackend>> {
        let state = &self.state;
        let backends = state
            .agents
            .iter()
            .map(Agent::tasks_backend)
            .chain(state.teams.iter().map(Team::tasks_backend))
            .chain(state.workflows.iter().map(Workflow::tasks_backend));
        let mut seen = std::collections::HashSet::new();
        backends.filter(|backend| seen.insert(Arc::as_ptr(backend).cast::<()>() as usize)).collect()
    }

    /// Closes the task backends within the grace period (and [`TASK_HANDOVER`] more to hand
    /// unfinished tasks over): a PostgreSQL backend hands its unfinished tasks to the other
    /// replicas at once (the others take them after the dead-process bound otherwise).
    async fn close_task_backends(&self, backends: Vec<Arc<dyn TaskBackend>>) {
        // All at once: the grace period for the running tasks, then a bounded time to hand the
        // rest over, whatever the number of backends.
        let grace = self.grace;
        let mut closing = tokio::task::JoinSet::new();
        for backend in backends {
            closing.spawn(async move { backend.close(grace).await });
        }
        let all_closed = async { while closing.join_next().await.is_some() {} };
        if tokio::time::timeout(grace.saturating_add(TASK_HANDOVER), all_closed).await.is_err() {
            tracing::warn!("a task backend did not close within the grace period and the handover time");
        }
    }

    /// Waits up to the grace period for background hooks and runs; logs what is left.
    pub async fn drain(&self) -> ShutdownReport {
        let pending = self.state.tracker.len();
        if pending > 0 {
            tracing::info!(pending, "waiting for background hooks and runs");
        }
        let unfinished = self.state.tracker.drain(self.grace).await;
        for label in &unfinished {
            tracing::error!(task = %label, "did not finish before the shutdown grace period ended");
        }
        ShutdownReport { unfinished }
    }

    /// How many background tasks (hook queues and detached runs) are running now.
    pub fn background_tasks(&self) -> usize {
        self.state.tracker.len()
    }

    /// The agents served.
    pub fn agents(&self) -> &[Agent] {
        &self.state.agents
    }

    /// The teams served.
    pub fn teams(&self) -> &[Team] {
        &self.state.teams
    }

    /// The workflows served.
    pub fn workflows(&self) -> &[Workflow] {
        &self.state.workflows
    }
}

/// Indexes agents, teams or workflows by id (two with one id are an error) and gives `db` to
/// those without storage.
fn register<T>(
    items: Vec<T>,
    what: &str,
    db: Option<&Arc<dyn Db>>,
    id: fn(&T) -> &str,
    has_db: fn(&T) -> bool,
    with_db: fn(&T, Arc<dyn Db>) -> T,
) -> Result<(Vec<T>, HashMap<String, usize>), OsError> {
    let mut kept = Vec::with_capacity(items.len());
    let mut index = HashMap::new();
    for item in items {
        if index.insert(id(&item).to_owned(), kept.len()).is_some() {
            return Err(OsError::Config(format!("two {what} have the id `{}`", id(&item))));
        }
        kept.push(match db {
            Some(db) if !has_db(&item) => with_db(&item, Arc::clone(db)),
            _ => item,
        });
    }
    Ok((kept, index))
}

/// Binds with a backlog of 2048 (uvicorn's), so bursts of new connections are not dropped.
async fn listen(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket =
            if resolved.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        match socket.bind(resolved).and_then(|()| socket.listen(2048)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "the address resolves to nothing")
    }))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new connections; finishing requests and background hooks");
}
