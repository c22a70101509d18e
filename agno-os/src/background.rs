//! Background hooks after the response: a per-request collector, a body wrapper that hands the
//! collected hooks over when the last byte has gone, and a tracker that shutdown waits for.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use agno_core::db::HookOutcome;
use agno_core::hooks::{BackgroundHook, BackgroundScheduler, HookStage, SharedHook};
use agno_core::run::RunnerKind;
use agno_core::{RunContext, Runner};
use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use tokio::sync::{Notify, oneshot};
use tracing::Instrument;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tasks the server must finish before it exits (runs and background hooks).
#[derive(Clone, Default)]
pub(crate) struct Tracker(Arc<TrackerInner>);

#[derive(Default)]
struct TrackerInner {
    active: Mutex<Slots>,
    idle: Notify,
}

/// What each running task is and which run it belongs to (for the shutdown report), in reused
/// slots.
#[derive(Default)]
struct Slots {
    entries: Vec<Option<(&'static str, String)>>,
    free: Vec<usize>,
    len: usize,
}

/// Removes a task from the tracker when it ends, however it ends.
struct Tracked {
    tracker: Tracker,
    slot: usize,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut active = lock(&self.tracker.0.active);
        if let Some(entry) = active.entries.get_mut(self.slot)
            && entry.take().is_some()
        {
            active.free.push(self.slot);
            active.len -= 1;
        }
        if active.len == 0 {
            self.tracker.0.idle.notify_waiters();
        }
    }
}

impl Tracker {
    /// Spawns a task that shutdown waits for; `kind` and `run_id` name it if it does not finish.
    pub(crate) fn spawn<F>(&self, kind: &'static str, run_id: String, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let label = Some((kind, run_id));
        let mut active = lock(&self.0.active);
        let slot = match active.free.pop() {
            Some(slot) => {
                active.entries[slot] = label;
                slot
            }
            None => {
                active.entries.push(label);
                active.entries.len() - 1
            }
        };
        active.len += 1;
        drop(active);
        let guard = Tracked { tracker: self.clone(), slot };
        tokio::spawn(async move {
            let _guard = guard;
            future.await
        })
    }

    /// How many tracked tasks are running.
    pub(crate) fn len(&self) -> usize {
        lock(&self.0.active).len
    }

    /// Waits until every tracked task has ended, at most `grace`; the labels of those that did not.
    pub(crate) async fn drain(&self, grace: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.0.idle.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.len() == 0 {
                return Vec::new();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let mut left: Vec<String> = lock(&self.0.active)
                    .entries
                    .iter()
                    .flatten()
                    .map(|(kind, run_id)| format!("{kind} of run {run_id}"))
                    .collect();
                left.sort();
                return left;
            }
        }
    }
}

/// Collects one run's background hooks (the run hands them over at its end). A durable one
/// asks a run stored in a database with a hook queue to queue them there instead.
#[derive(Default)]
pub(crate) struct Collected {
    hooks: Mutex<Vec<BackgroundHook>>,
    durable: bool,
}

impl BackgroundScheduler for Collected {
    fn schedule(&self, hooks: Vec<BackgroundHook>) {
        let mut collected = lock(&self.hooks);
        if collected.is_empty() {
            // A run schedules once: keep its list rather than copy it into a new one.
            *collected = hooks;
        } else {
            collected.extend(hooks);
        }
    }

    fn durable(&self) -> bool {
        self.durable
    }
}

impl Collected {
    /// A collector for a run of `runner`: durable when its database has a hook queue.
    pub(crate) fn for_runner(runner: &Runner) -> Self {
        Self { hooks: Mutex::new(Vec::new()), durable: runner.db().is_some_and(|db| db.hook_queue().is_some()) }
    }

    fn take(&self) -> Vec<BackgroundHook> {
        std::mem::take(&mut *lock(&self.hooks))
    }
}

/// One background hook of a run, as the log keeps it: the hook (its name is read when asked
/// for) and its state, updated without a lock.
struct HookSlot {
    hook: SharedHook,
    /// The hook's own run (a member's, for a member's hook) and whose hook it is.
    run: Arc<RunContext>,
    runner: Runner,
    stage: HookStage,
    position: usize,
    /// 0 queued, 1 running, 2 completed, 3 failed.
    status: AtomicU8,
    /// Microseconds it ran, once it has ended.
    duration_us: AtomicU64,
    error: OnceLock<String>,
}

/// The background hooks of one run.
pub(crate) struct RunRecord {
    run_id: String,
    /// The agent, team or workflow the request was for.
    owner: Runner,
    hooks: Box<[HookSlot]>,
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETED: u8 = 2;
const FAILED: u8 = 3;

impl RunRecord {
    fn outcomes(&self) -> Vec<HookOutcome> {
        self.hooks
            .iter()
            .map(|slot| {
                let status = slot.status.load(Ordering::Acquire);
                HookOutcome {
                    hook: slot.hook.name().to_owned(),
                    run_id: slot.run.run_id.clone(),
                    runner: slot.runner.kind().as_str().to_owned(),
                    runner_id: slot.runner.id().to_owned(),
                    stage: match slot.stage {
                        HookStage::Pre => "pre",
                        HookStage::Post => "post",
                    }
                    .to_owned(),
                    position: slot.position,
                    status: ["queued", "running", "completed", "failed"][usize::from(status.min(FAILED))].to_owned(),
                    error: slot.error.get().cloned(),
                    duration_ms: (status >= COMPLETED)
                        .then(|| slot.duration_us.load(Ordering::Acquire) as f64 / 1000.0),
                    attempt: None,
                }
            })
            .collect()
    }
}

/// The background hook outcomes of the latest `capacity` runs that had background hooks (0 keeps
/// none): a ring, locked once per run; each hook's progress is written without a lock.
pub(crate) struct HookLog {
    runs: Mutex<VecDeque<Arc<RunRecord>>>,
    capacity: usize,
}

impl HookLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { runs: Mutex::new(VecDeque::with_capacity(capacity.min(1024))), capacity }
    }

    /// Records a run's queued hooks.
    fn queue(&self, run_id: String, owner: Runner, hooks: &[BackgroundHook]) -> Arc<RunRecord> {
        let slots = hooks
            .iter()
            .map(|h| HookSlot {
                hook: Arc::clone(h.hook()),
                run: Arc::clone(h.run_context()),
                runner: h.runner().clone(),
                stage: h.stage(),
                position: h.position(),
                status: AtomicU8::new(QUEUED),
                duration_us: AtomicU64::new(0),
                error: OnceLock::new(),
            })
            .collect();
        let record = Arc::new(RunRecord { run_id, owner, hooks: slots });
        if self.capacity > 0 {
            let mut runs = lock(&self.runs);
            if runs.len() >= self.capacity {
                runs.pop_front();
            }
            runs.push_back(Arc::clone(&record));
        }
        record
    }

    /// The outcomes of a run's background hooks, if the run had any (newest runs first).
    pub(crate) fn get(&self, run_id: &str, kind: RunnerKind, owner_id: &str) -> Option<Vec<HookOutcome>> {
        let record = lock(&self.runs)
            .iter()
            .rev()
            .find(|r| r.run_id == run_id && r.owner.kind() == kind && r.owner.id() == owner_id)
            .cloned()?;
        Some(record.outcomes())
    }
}

/// A request's background hooks, ready to run once its response has gone.
pub(crate) struct HookBatch {
    tracker: Tracker,
    log: Arc<HookLog>,
    run_id: String,
    owner: Runner,
    collected: Arc<Collected>,
    run_done: Option<oneshot::Receiver<()>>,
}

/// Prepares a request's background hooks. A stream's run may still be going when its body ends
/// (the client left): then the hooks wait for `run_done`.
pub(crate) fn batch(
    tracker: &Tracker,
    log: &Arc<HookLog>,
    run_id: String,
    owner: Runner,
    collected: Arc<Collected>,
    run_done: Option<oneshot::Receiver<()>>,
) -> HookBatch {
    HookBatch { tracker: tracker.clone(), log: Arc::clone(log), run_id, owner, collected, run_done }
}

impl HookBatch {
    /// The run whose hooks these are.
    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Runs the hooks in a tracked task of their own: one after another, in queue order; an
    /// error or panic is logged and the next one runs.
    pub(crate) fn spawn(self) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!(run_id = %self.run_id, "background hooks not run: the response ended outside the server's runtime");
            return;
        }
        let HookBatch { tracker, log, run_id, owner, collected, run_done } = self;
        tracker.spawn("background hooks", run_id.clone(), async move {
            if let Some(run_done) = run_done {
                let _ = run_done.await;
            }
            let hooks = collected.take();
            if hooks.is_empty() {
                return;
            }
            let record = log.queue(run_id, owner, &hooks);
            for (hook, slot) in hooks.into_iter().zip(record.hooks.iter()) {
                let span = tracing::info_span!("background_hook", run_id = %record.run_id, hook = %hook.hook_name());
                slot.status.store(RUNNING, Ordering::Release);
                let started = Instant::now();
                let result = hook.run().instrument(span.clone()).await;
                let elapsed = started.elapsed();
                slot.duration_us.store(elapsed.as_micros().try_into().unwrap_or(u64::MAX), Ordering::Release);
                match result {
                    Ok(()) => {
                        tracing::info!(parent: &span, duration_ms = elapsed.as_secs_f64() * 1000.0, "background hook completed");
                        slot.status.store(COMPLETED, Ordering::Release);
                    }
                    Err(error) => {
                        let _ = slot.error.set(error.to_string());
                        slot.status.store(FAILED, Ordering::Release);
                    }
                }
            }
        });
    }
}

/// A response body that hands its request's background hooks to a task of their own once its
/// last frame has gone, or when it is dropped (the client left). (The hooks cannot run in the
/// connection's task: hyper writes a sized body and drops it without polling it again, so only a
/// new task runs after the last byte without delaying it.)
pub(crate) struct AfterBody {
    inner: Body,
    batch: Option<HookBatch>,
}

impl AfterBody {
    pub(crate) fn wrap(inner: Body, batch: HookBatch) -> Body {
        Body::new(Self { inner, batch: Some(batch) })
    }

    fn end(&mut self) {
        if let Some(batch) = self.batch.take() {
            batch.spawn();
        }
    }
}

impl http_body::Body for AfterBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.end();
        }
        polled
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AfterBody {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use agno_core::Agent;
    use agno_core::hooks::{Hook, HookCall, HookContext, HookParams};
    use agno_core::models::OfflineModel;
    use agno_core::run::BackgroundMode;

    use super::*;

    /// A background hook that records what its copies hold, and changes its copy of the output.
    struct Records {
        name: &'static str,
        params: HookParams,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Hook for Records {
        fn name(&self) -> &str {
            self.name
        }
        fn params(&self) -> HookParams {
            self.params
        }
        fn run_in_background(&self) -> bool {
            true
        }
        fn call<'a>(&'a self, cx: HookContext<'a>) -> HookCall<'a> {
            let input = cx.run_input.map(|i| i.input_content_string());
            let output = cx.run_output.map(|o| o.content.replace("changed".into()));
            lock(&self.seen).push(format!("{}: {input:?} {output:?}", self.name));
            HookCall::Done(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_collector_keeps_each_run_s_hooks_in_order_each_with_its_own_copy() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hook = |name, params| Arc::new(Records { name, params, seen: Arc::clone(&seen) }) as SharedHook;
        let agent = Agent::builder()
            .id("a")
            .model(OfflineModel::new())
            .pre_hooks([hook("pre", HookParams::RUN_INPUT)])
            .post_hooks([hook("post1", HookParams::RUN_OUTPUT_MUT), hook("post2", HookParams::RUN_OUTPUT_MUT)])
            .build()
            .unwrap();
        // Two runs into one collector: the first run's list is kept, the second's appended.
        let collected = Arc::new(Collected::default());
        let mut contents = Vec::new();
        for message in ["one", "two"] {
            let scheduler: Arc<dyn BackgroundScheduler> = collected.clone();
            let output = agent.run(message).background(BackgroundMode::per_hook(scheduler)).await.unwrap();
            contents.push(output.content.unwrap());
        }
        let hooks = collected.take();
        let order: Vec<_> = hooks.iter().map(|h| (h.hook_name(), h.run_id().to_owned())).collect();
        assert_eq!(order.iter().map(|(name, _)| *name).collect::<Vec<_>>(), ["pre", "post1", "post2"].repeat(2));
        assert_ne!(order[0].1, order[3].1, "two runs");
        for hook in hooks {
            hook.run().await.unwrap();
        }
        // Each post-hook got its own copy of its run's output: the first one's change is not
        // seen by the second, nor by the caller.
        let expected: Vec<String> = ["one", "two"]
            .iter()
            .zip(&contents)
            .flat_map(|(message, content)| {
                [
                    format!("pre: Some({message:?}) None"),
                    format!("post1: None Some(Some({content:?}))"),
                    format!("post2: None Some(Some({content:?}))"),
                ]
            })
            .collect();
        assert_eq!(*lock(&seen), expected);
        assert!(contents.iter().all(|c| c != "changed"));
        assert!(collected.take().is_empty(), "taken once");
    }
}
