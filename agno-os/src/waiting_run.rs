//! A run that has to wait (for its model, a hook, its database) goes on in its own request: no
//! task is spawned for it and nothing hops between tasks when it ends. If the request is dropped
//! before the run ends (the client left), the run is handed to a tracked task then, so it still
//! ends, is stored, and has its background hooks run (shutdown lists it as `run of run …` until
//! it ends, and its hooks start after it); a cancel reaches it in either place. A panic while
//! the run is polled ends it with the panic's message, in either place.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use agno_core::RunOutput;
use agno_core::panic::CatchPanic;
use tokio::sync::oneshot;

use crate::AppState;
use crate::background::HookBatch;

/// A run's future as the route polls it: a panic inside ends it with the panic's message (it is
/// never polled again then).
pub(crate) type Run = CatchPanic<'static, agno_core::Result<RunOutput>>;

/// How a run's future ended: its result, or the message of a panic while it was polled.
pub(crate) type Outcome = Result<agno_core::Result<RunOutput>, String>;

/// The run's future, and the signal of a cancel (`None` once its sender is gone without firing).
struct Polled {
    run: Run,
    cancel: Option<oneshot::Receiver<()>>,
}

impl Polled {
    /// How the run ended; `None` if it was cancelled first.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        if let Some(cancel) = &mut self.cancel {
            match Pin::new(cancel).poll(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(None),
                // The registry forgot the run without cancelling it: nothing can cancel it now.
                Poll::Ready(Err(_)) => self.cancel = None,
                Poll::Pending => {}
            }
        }
        Pin::new(&mut self.run).poll(cx).map(Some)
    }
}

/// A run that did not end in its first poll, with its background hooks (which know its run id),
/// polled by its request. Dropped before it ends, it hands itself over to a tracked task.
pub(crate) struct WaitingRun {
    /// The run and its background hooks; `None` once it has ended.
    waiting: Option<(Polled, HookBatch)>,
    state: Arc<AppState>,
}

/// How a waiting run ended in its request.
// Returned once and matched at once: boxing the output would cost an allocation per run.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Ended {
    /// It ended (or panicked); its background hooks, to start once the answer has gone.
    Finished(Outcome, HookBatch),
    /// It was cancelled; the background hooks queued before have been started.
    Cancelled,
}

impl WaitingRun {
    /// `run` is the run's future after its first poll, `cancel` the signal its registry entry
    /// fires ([`Stop::Signal`](crate::run_registry::Stop::Signal)).
    pub(crate) fn new(run: Run, cancel: oneshot::Receiver<()>, hooks: HookBatch, state: Arc<AppState>) -> Self {
        Self { waiting: Some((Polled { run, cancel: Some(cancel) }, hooks)), state }
    }

    /// Polls the run until it ends or is cancelled.
    pub(crate) async fn end(mut self) -> Ended {
        let outcome = poll_fn(|cx| match &mut self.waiting {
            Some((polled, _)) => polled.poll_end(cx),
            None => Poll::Ready(None),
        })
        .await;
        // It ended here: nothing is left to hand over.
        let hooks = self.waiting.take().map(|(_, hooks)| hooks);
        match (outcome, hooks) {
            (Some(outcome), Some(hooks)) => {
                self.state.runs.finish(hooks.run_id());
                Ended::Finished(outcome, hooks)
            }
            // Cancelled: the registry keeps the run as CANCELLED for polling.
            (_, hooks) => {
                if let Some(hooks) = hooks {
                    hooks.spawn();
                }
                Ended::Cancelled
            }
        }
    }
}

impl Drop for WaitingRun {
    fn drop(&mut self) {
        let Some((mut polled, hooks)) = self.waiting.take() else { return };
        if std::thread::panicking() || tokio::runtime::Handle::try_current().is_err() {
            tracing::error!(run_id = %hooks.run_id(), "a run whose request was dropped by a panic or outside the server's runtime is dropped too");
            self.state.runs.finish(hooks.run_id());
            hooks.spawn();
            return;
        }
        let state = Arc::clone(&self.state);
        self.state.tracker.spawn("run", hooks.run_id().to_owned(), async move {
            let run_id = hooks.run_id();
            match poll_fn(|cx| polled.poll_end(cx)).await {
                // Cancelled: the registry keeps the run as CANCELLED for polling.
                None => {}
                Some(outcome) => {
                    match outcome {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => tracing::error!(run_id, %error, "a run whose client left failed"),
                        Err(panic) => tracing::error!(run_id, %panic, "a run whose client left panicked"),
                    }
                    state.runs.finish(run_id);
                }
            }
            hooks.spawn();
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use agno_core::run::RunnerKind;
    use agno_core::{Agent, RunStatus};

    use super::*;
    use crate::AgentOS;
    use crate::background::{Collected, batch};
    use crate::run_registry::Stop;

    /// A guard against a hang, far above any expected time; no test measures speed.
    const HANG_GUARD: Duration = Duration::from_secs(60);
    const OWNER: (RunnerKind, &str) = (RunnerKind::Agent, "a");

    /// A registered run of agent `a` that waits for `go` before it runs, dropped after its
    /// first poll as a request is when its client leaves.
    async fn left_by_its_client(state: &Arc<AppState>) -> (oneshot::Sender<()>, Arc<AtomicBool>) {
        let runner = state.runner(RunnerKind::Agent, "a").unwrap();
        let (go, wait) = oneshot::channel::<()>();
        let (agent, ran) = (runner.clone(), Arc::new(AtomicBool::new(false)));
        let ran_too = Arc::clone(&ran);
        let run = CatchPanic::new(Box::pin(async move {
            wait.await.map_err(|_| agno_core::Error::Config("never let go on".into()))?;
            let output = agent.run("hi").run_id("r1").await;
            ran_too.store(output.is_ok(), Ordering::SeqCst);
            output
        }));
        let (cancel, cancelled) = oneshot::channel();
        state.runs.start("r1", OWNER, "s1", RunStatus::Running, Some(Stop::Signal(cancel)));
        let hooks = batch(
            &state.tracker,
            &state.hook_log,
            "r1".into(),
            runner.clone(),
            Arc::new(Collected::for_runner(&runner)),
            None,
        );
        let mut request = Box::pin(WaitingRun::new(run, cancelled, hooks, Arc::clone(state)).end());
        assert!(poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx).is_pending())).await, "the run waits");
        assert_eq!(state.tracker.len(), 0, "no task while its request polls it");
        drop(request);
        (go, ran)
    }

    fn state() -> Arc<AppState> {
        let os = AgentOS::builder().agents([Agent::builder().id("a").build().unwrap()]).build().unwrap();
        Arc::clone(&os.state)
    }

    #[tokio::test]
    async fn a_run_whose_request_is_dropped_goes_on_in_a_task_and_ends() {
        let state = state();
        let (go, ran) = left_by_its_client(&state).await;
        assert_eq!(state.tracker.len(), 1, "handed over to a tracked task");
        assert_eq!(state.runs.status("r1", OWNER, "s1"), Some(RunStatus::Running));
        go.send(()).unwrap();
        assert!(state.tracker.drain(HANG_GUARD).await.is_empty());
        assert!(ran.load(Ordering::SeqCst), "the task ran the run to its end");
        assert_eq!(state.runs.status("r1", OWNER, "s1"), None, "ended and forgotten");
    }

    #[tokio::test]
    async fn a_run_handed_over_to_a_task_can_still_be_cancelled() {
        let state = state();
        let (_go, ran) = left_by_its_client(&state).await;
        assert_eq!(state.tracker.len(), 1);
        assert!(state.runs.cancel("r1", OWNER));
        // The task ends without the run ever being let go on.
        assert!(state.tracker.drain(HANG_GUARD).await.is_empty());
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(state.runs.status("r1", OWNER, "s1"), Some(RunStatus::Cancelled));
    }

    #[tokio::test]
    async fn a_panic_while_the_run_is_polled_ends_it_with_the_message() {
        let mut run: Run = CatchPanic::new(Box::pin(async {
            tokio::task::yield_now().await;
            panic!("the model fell over")
        }));
        let mut polls = Vec::new();
        for _ in 0..2 {
            polls.push(poll_fn(|cx| Poll::Ready(Pin::new(&mut run).poll(cx).map(|o| o.err()))).await);
        }
        assert!(polls[0].is_pending(), "it waits first");
        assert_eq!(polls[1], Poll::Ready(Some("the model fell over".to_owned())));
        let mut run: Run = CatchPanic::new(Box::pin(async { std::panic::panic_any(3_u8) }));
        let outcome = poll_fn(|cx| Pin::new(&mut run).poll(cx)).await;
        assert_eq!(outcome.err().as_deref(), Some("non-string panic payload"));
    }
}
