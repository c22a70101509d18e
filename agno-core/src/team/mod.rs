//! Teams: agents and teams (nested to any depth) that answer together, led by a model.
//!
//! A team run goes through the same pipeline as an agent run ([`crate::run::pipeline`]): its
//! own pre-hooks, then its answer, then its post-hooks. Its hooks take `team: &Team` where an
//! agent's take `agent: &Agent`. Its answer depends on its [`TeamMode`]:
//! * [`Route`](TeamMode::Route): the leader picks one member, whose answer is the team's;
//! * [`Collaborate`](TeamMode::Collaborate): every member answers, in list order, then the leader
//!   combines their answers.
//!
//! Members run as child runs: in the team's session, with `parent_run_id` set to the team run,
//! with their own hooks, and with the team run's background mode, so AgentOS's "every hook in the
//! background" reaches every level. They are stored, with the team run, by the top-level run.
//! A member that stops (a guardrail rejects, its model fails) stops the team with the same error.

use std::fmt;
use std::sync::Arc;

use crate::agent::{Agent, system_message};
use crate::error::{Error, Result};
use crate::models::{Message, Model, ModelError, ModelRequest, OfflineModel, Role};
use crate::run::pipeline::{Children, Emitter, Stop, call_model};
use crate::run::runner::{Base, RunnerKind, Settings, base_accessors, history_methods, settings_methods};
use crate::run::{RunBuilder, RunEventKind, RunInput, RunMetrics, RunOutput, Runner};

/// How a team answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TeamMode {
    /// The leader hands the input to one member, whose answer is the team's.
    ///
    /// The member is the one whose name or id the input mentions first (as whole words,
    /// case-insensitive);
    /// when none is mentioned, the leader model is asked to pick one by id, and the offline
    /// model (or an answer naming no member) picks the first member.
    Route,
    /// Every member answers the input, in list order; the leader model then answers the input
    /// with the members' answers in its prompt ("broadcast" in other frameworks).
    #[default]
    Collaborate,
}

impl TeamMode {
    /// `"route"` or `"collaborate"`, as agno names the modes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Collaborate => "collaborate",
        }
    }
}

/// A member of a team: an agent or another team.
#[derive(Clone, Debug)]
pub enum Member {
    /// An agent.
    Agent(Agent),
    /// A nested team.
    Team(Team),
}

impl Member {
    /// The member's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Agent(agent) => agent.id(),
            Self::Team(team) => team.id(),
        }
    }

    /// The member's name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Agent(agent) => agent.name(),
            Self::Team(team) => team.name(),
        }
    }

    /// The member as something that runs.
    pub fn runner(&self) -> Runner {
        match self {
            Self::Agent(agent) => Runner::Agent(agent.clone()),
            Self::Team(team) => Runner::Team(team.clone()),
        }
    }
}

impl From<Agent> for Member {
    fn from(agent: Agent) -> Self {
        Self::Agent(agent)
    }
}

impl From<Team> for Member {
    fn from(team: Team) -> Self {
        Self::Team(team)
    }
}

/// A team. Build one with [`Team::builder`], run it with [`Team::run`] (the same options and
/// stream as an agent run).
///
/// ```
/// use agno_core::prelude::*;
/// use agno_core::team::{Team, TeamMode};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let writer = Agent::builder().name("Writer").build().unwrap();
/// let critic = Agent::builder().name("Critic").build().unwrap();
/// let team = Team::builder().name("Desk").mode(TeamMode::Route).member(writer).member(critic).build().unwrap();
/// let out = team.run("Critic, is this good?").await.unwrap();
/// assert_eq!(out.team_id.as_deref(), Some("desk"));
/// assert_eq!(out.member_responses[0].agent_id, "critic");
/// # });
/// ```
#[derive(Clone)]
pub struct Team {
    inner: Arc<TeamInner>,
}

#[derive(Clone)]
struct TeamInner {
    base: Base,
    model: Arc<dyn Model>,
    instructions: Vec<String>,
    system_message: Option<String>,
    mode: TeamMode,
    members: Vec<Member>,
}

impl fmt::Debug for Team {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let members: Vec<&str> = self.inner.members.iter().map(Member::id).collect();
        f.debug_struct("Team")
            .field("id", &self.inner.base.id)
            .field("name", &self.inner.base.name)
            .field("mode", &self.inner.mode)
            .field("members", &members)
            .finish_non_exhaustive()
    }
}

impl Team {
    /// A builder with no members yet.
    pub fn builder() -> TeamBuilder {
        TeamBuilder::default()
    }

    base_accessors!("team");

    /// The leader's model.
    pub fn model(&self) -> &dyn Model {
        &*self.inner.model
    }

    /// The instructions, in the order given.
    pub fn instructions(&self) -> &[String] {
        &self.inner.instructions
    }

    /// The leader's system message, built from the instructions.
    pub fn system_message(&self) -> Option<&str> {
        self.inner.system_message.as_deref()
    }

    /// How the team answers.
    pub fn mode(&self) -> TeamMode {
        self.inner.mode
    }

    /// The members, in order.
    pub fn members(&self) -> &[Member] {
        &self.inner.members
    }

    /// Starts a run: set options on the builder, then `.await` it or `.stream()` it.
    pub fn run(&self, input: impl Into<RunInput>) -> RunBuilder {
        RunBuilder::new(Runner::Team(self.clone()), input.into())
    }

    /// Every member at every depth, depth first, with its depth (1 for direct members).
    pub fn all_members(&self) -> Vec<(usize, Member)> {
        let mut out = Vec::new();
        self.collect_members(1, &mut out);
        out
    }

    fn collect_members(&self, depth: usize, out: &mut Vec<(usize, Member)>) {
        for member in &self.inner.members {
            out.push((depth, member.clone()));
            if let Member::Team(team) = member {
                team.collect_members(depth + 1, out);
            }
        }
    }
}

/// Builds a [`Team`]; [`build`](TeamBuilder::build) checks the configuration.
#[derive(Default)]
#[must_use = "call .build() to get the team"]
pub struct TeamBuilder {
    settings: Settings,
    model: Option<Arc<dyn Model>>,
    instructions: Vec<String>,
    mode: TeamMode,
    members: Vec<Member>,
}

impl TeamBuilder {
    settings_methods!("team");
    history_methods!();

    /// The leader's model (default: [`OfflineModel`]).
    pub fn model(mut self, model: impl Model) -> Self {
        self.model = Some(Arc::new(model));
        self
    }

    /// Adds an instruction for the leader.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions.push(instructions.into());
        self
    }

    /// How the team answers (default: [`TeamMode::Collaborate`]).
    pub fn mode(mut self, mode: TeamMode) -> Self {
        self.mode = mode;
        self
    }

    /// Adds a member: an [`Agent`] or a [`Team`].
    pub fn member(mut self, member: impl Into<Member>) -> Self {
        self.members.push(member.into());
        self
    }

    /// Adds members.
    pub fn members(mut self, members: impl IntoIterator<Item = Member>) -> Self {
        self.members.extend(members);
        self
    }

    /// Checks the configuration (members, ids, hook parameters) and builds the team.
    pub fn build(self) -> Result<Team> {
        let mut problems = Vec::new();
        let base = self.settings.check(RunnerKind::Team, &mut problems);
        if self.members.is_empty() {
            problems.push("a team needs at least one member; add one with .member(..)".to_owned());
        }
        for (i, member) in self.members.iter().enumerate() {
            if self.members[..i].iter().any(|m| m.id() == member.id()) {
                problems.push(format!("member id `{}` is used twice; members need distinct ids", member.id()));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config(format!("team `{}`: {}", base.id, problems.join("; "))));
        }
        Ok(Team {
            inner: Arc::new(TeamInner {
                base,
                model: self.model.unwrap_or_else(|| Arc::new(OfflineModel::new())),
                system_message: system_message(&self.instructions, false),
                instructions: self.instructions,
                mode: self.mode,
                members: self.members,
            }),
        })
    }
}

/// The pipeline's step 3 for a team: run the members, then the leader.
pub(crate) async fn respond(
    team: &Team,
    history: Vec<Message>,
    output: &mut RunOutput,
    emitter: &mut Emitter,
    children: &mut Children<'_>,
) -> Result<(), Stop> {
    let input = output.input.clone().unwrap_or_else(|| RunInput::new(""));
    let text = input.input_content_string();
    match team.mode() {
        TeamMode::Route => {
            let chosen = choose_member(team, history, &text, &mut output.metrics).await?;
            let (answer, stop) = children.run(chosen.runner(), input).await.map_err(internal)?;
            output.metrics.add_tokens(&answer.metrics);
            // The member's content has streamed already (as its own events): the team only
            // marks its answer complete, so a client joining content pieces gets it once.
            output.content = answer.content.clone();
            emitter.emit(|| RunEventKind::RunContentCompleted {});
            output.member_responses.push(answer);
            stop.map_or(Ok(()), Err)
        }
        TeamMode::Collaborate => {
            for member in team.members() {
                let (answer, stop) = children.run(member.runner(), input.clone()).await.map_err(internal)?;
                output.member_responses.push(answer);
                if let Some(stop) = stop {
                    return Err(stop);
                }
            }
            let prompt = combine_prompt(&text, &output.member_responses);
            call_model(team.model(), team.system_message(), history, prompt, output, emitter)
                .await
                .map_err(Stop::Model)?;
            for member in &output.member_responses {
                output.metrics.add_tokens(&member.metrics);
            }
            Ok(())
        }
    }
}

/// A failure to run a member at all (not a member's own error).
fn internal(error: Error) -> Stop {
    Stop::Model(ModelError::new(format!("a team member could not run: {error}")))
}

/// The lower-case words of `text` (runs of letters and digits).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Where the words of `phrase` first stand together in `text`'s words.
fn find_words(text: &[String], phrase: &[String]) -> Option<usize> {
    if phrase.is_empty() || phrase.len() > text.len() {
        return None;
    }
    text.windows(phrase.len()).position(|window| window == phrase)
}

/// The member whose name or id `text` mentions first, as whole words and case-insensitively
/// (`"Fact Checker"` and `fact-checker` both name the member "Fact Checker"; `writing` names no
/// `writer`); ties go to list order.
fn mentioned(members: &[Member], text: &str) -> Option<usize> {
    let text = words(text);
    members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let by_name = m.name().and_then(|n| find_words(&text, &words(n)));
            let by_id = find_words(&text, &words(m.id()));
            by_name.into_iter().chain(by_id).min().map(|at| (at, i))
        })
        .min()
        .map(|(_, i)| i)
}

/// Route mode: the member that answers (see [`TeamMode::Route`]): one `text` names, else the one
/// the model picks (with the chat history before the request), else the first.
async fn choose_member(
    team: &Team,
    history: Vec<Message>,
    text: &str,
    metrics: &mut RunMetrics,
) -> Result<Member, Stop> {
    let members = team.members();
    if let Some(i) = mentioned(members, text) {
        return Ok(members[i].clone());
    }
    let model = team.model();
    if model.provider() == OfflineModel::PROVIDER {
        return Ok(members[0].clone());
    }
    let roster: Vec<String> = members
        .iter()
        .map(|m| match m.name() {
            Some(name) => format!("- {} ({name})", m.id()),
            None => format!("- {}", m.id()),
        })
        .collect();
    let mut system = String::from(
        "You route each request to exactly one team member. Reply with that member's id and nothing else.\nMembers:\n",
    );
    system.push_str(&roster.join("\n"));
    if let Some(own) = team.system_message() {
        system.push_str("\n\n");
        system.push_str(own);
    }
    let mut messages = Vec::with_capacity(history.len() + 2);
    messages.push(Message::new(Role::System, system));
    messages.extend(history);
    messages.push(Message::new(Role::User, text));
    let request = ModelRequest { messages };
    let reply = model.invoke(&request).await.map_err(Stop::Model)?;
    metrics.set_usage(reply.usage);
    let i = members
        .iter()
        .position(|m| reply.content.trim().eq_ignore_ascii_case(m.id()))
        .or_else(|| mentioned(members, &reply.content))
        .unwrap_or(0);
    Ok(members[i].clone())
}

/// Collaborate mode: the leader's prompt, the input followed by every member's answer.
fn combine_prompt(text: &str, answers: &[RunOutput]) -> String {
    let mut prompt = format!("{text}\n\nThe team members answered:");
    for answer in answers {
        let who = answer.agent_name.as_deref().or(answer.team_name.as_deref()).unwrap_or_else(|| answer.runner().1);
        prompt.push_str(&format!("\n- {who}: {}", answer.content.as_deref().unwrap_or("")));
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str) -> Agent {
        Agent::builder().name(name).build().unwrap()
    }

    #[test]
    fn route_picks_the_first_mentioned_member() {
        let members: Vec<Member> = vec![agent("Writer").into(), agent("Critic").into(), agent("Fact Checker").into()];
        assert_eq!(mentioned(&members, "ask the CRITIC then the writer"), Some(1));
        assert_eq!(mentioned(&members, "fact-checker please"), Some(2), "ids count too");
        assert_eq!(mentioned(&members, "nobody here"), None);
        // Whole words only: "writing" is not "writer", "start" does not hold "art".
        let art: Vec<Member> = vec![agent("Writer").into(), agent("Art").into()];
        assert_eq!(mentioned(&art, "Please start writing"), None);
        assert_eq!(mentioned(&art, "art, then the writer"), Some(1));
        // An empty name never matches.
        let unnamed: Vec<Member> = vec![Agent::builder().id("x").name("").build().unwrap().into()];
        assert_eq!(mentioned(&unnamed, "anything"), None);
    }

    /// A leader that answers every request with the same text, as a remote model would.
    struct Scripted(&'static str);

    impl Model for Scripted {
        fn id(&self) -> &str {
            "scripted"
        }
        fn provider(&self) -> &str {
            "Scripted"
        }
        fn invoke<'a>(
            &'a self,
            request: &'a ModelRequest,
        ) -> crate::models::BoxFuture<'a, std::result::Result<crate::models::ModelResponse, ModelError>> {
            let system = request.messages[0].content.clone().unwrap_or_default();
            assert!(system.contains("- critic (Critic)"), "the leader sees the roster: {system}");
            let usage = crate::models::Usage { input_tokens: Some(10), output_tokens: Some(1) };
            Box::pin(std::future::ready(Ok(crate::models::ModelResponse { content: self.0.to_owned(), usage })))
        }
        fn invoke_stream<'a>(
            &'a self,
            _request: &'a ModelRequest,
        ) -> crate::models::BoxStream<'a, std::result::Result<crate::models::ModelChunk, ModelError>> {
            unreachable!("route mode asks for a whole answer")
        }
    }

    #[tokio::test]
    async fn a_remote_leader_picks_the_member_by_id() {
        for (reply, expected) in [("critic", "critic"), ("  I would ask the Critic.", "critic"), ("nobody", "writer")] {
            let team = Team::builder()
                .mode(TeamMode::Route)
                .model(Scripted(reply))
                .member(agent("Writer"))
                .member(agent("Critic"))
                .build()
                .unwrap();
            let out = team.run("Is this good?").await.unwrap();
            assert_eq!(out.member_responses[0].agent_id, expected, "reply {reply:?}");
            assert_eq!(out.metrics.input_tokens, Some(10 + 3), "the leader's tokens and the member's");
        }
    }

    #[test]
    fn build_checks_members_and_ids() {
        let err = Team::builder().name("Empty").build().unwrap_err().to_string();
        assert!(err.contains("at least one member"), "{err}");
        let err = Team::builder().name("Twins").member(agent("A")).member(agent("A")).build().unwrap_err().to_string();
        assert!(err.contains("`a` is used twice"), "{err}");
        let team = Team::builder().name("Desk").member(agent("A")).build().unwrap();
        assert_eq!(team.id(), "desk");
        assert_eq!(team.mode(), TeamMode::Collaborate);
        let outer = Team::builder().name("Outer").member(team).member(agent("B")).build().unwrap();
        let ids: Vec<(usize, String)> = outer.all_members().iter().map(|(d, m)| (*d, m.id().to_owned())).collect();
        assert_eq!(ids, [(1, "desk".to_owned()), (2, "a".to_owned()), (1, "b".to_owned())]);
    }
}
