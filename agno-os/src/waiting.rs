//! A run that has to wait (for its model, a hook, its database) goes on in its own request: no
//! task is spawned for it and nothing hops between tasks when it ends. If the request is dropped
//! before the run ends (the client left), the run is handed to a tracked task then, so it still
//! ends, is stored, and has its background hooks run; a cancel reaches it in either place.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use agno_core::RunOutput;
use agno_core::future::BoxFuture;
use tokio::sync::oneshot;

use crate::AppState;
use crate::background::HookBatch;

/// The run's future, and the signal of a cancel (`None` once its sender is gone without firing).
struct Polled {
    run: BoxFuture<'static, agno_core::Result<RunOutput>>,
    cancel: Option<oneshot::Receiver<()>>,
}

impl Polled {
    /// The run's result once it ends; `None` if it was cancelled first.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<agno_core::Result<RunOutput>>> {
        if let Some(cancel) = &mut self.cancel {
            match Pin::new(cancel).poll(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(None),
                // The registry forgot the run without cancelling it: nothing can cancel it now.
                Poll::Ready(Err(_)) => self.cancel = None,
                Poll::Pending => {}
            }
        }
        self.run.as_mut().poll(cx).map(Some)
    }
}

/// A run that did not end in its first poll, with its background hooks, polled by its request.
/// Dropped before it ends, it hands itself over to a tracked task.
pub(crate) struct WaitingRun {
    /// The run and its background hooks; `None` once it has ended.
    waiting: Option<(Polled, HookBatch)>,
    state: Arc<AppState>,
    run_id: String,
}

/// How a waiting run ended in its request.
// Returned once and matched at once: boxing the output would cost an allocation per run.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Ended {
    /// It ended; its background hooks, to start once the response has gone.
    Finished(agno_core::Result<RunOutput>, HookBatch),
    /// It was cancelled; the background hooks queued before have been started.
    Cancelled,
}

impl WaitingRun {
    /// `run` is the run's future after its first poll, `cancel` the signal its registry entry
    /// fires ([`Stop::Signal`](crate::run_registry::Stop::Signal)).
    pub(crate) fn new(
        run: BoxFuture<'static, agno_core::Result<RunOutput>>,
        cancel: oneshot::Receiver<()>,
        hooks: HookBatch,
        state: Arc<AppState>,
        run_id: String,
    ) -> Self {
        Self { waiting: Some((Polled { run, cancel: Some(cancel) }, hooks)), state, run_id }
    }

    /// Polls the run until it ends or is cancelled.
    pub(crate) async fn end(mut self) -> Ended {
        let result = poll_fn(|cx| match &mut self.waiting {
            Some((polled, _)) => polled.poll_end(cx),
            None => Poll::Ready(None),
        })
        .await;
        // It ended here: nothing is left to hand over.
        let hooks = self.waiting.take().map(|(_, hooks)| hooks);
        self.state.runs.finish(&self.run_id);
        match (result, hooks) {
            (Some(result), Some(hooks)) => Ended::Finished(result, hooks),
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
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!(run_id = %self.run_id, "a run whose client left was dropped outside the server's runtime");
            return;
        }
        let (state, run_id) = (Arc::clone(&self.state), std::mem::take(&mut self.run_id));
        let tracker = state.tracker.clone();
        let label = run_id.clone();
        tracker.spawn("run", &label, async move {
            if let Some(Err(error)) = poll_fn(|cx| polled.poll_end(cx)).await {
                tracing::error!(run_id = %run_id, %error, "a run whose client left failed");
            }
            state.runs.finish(&run_id);
            hooks.spawn();
        });
    }
}

#[cfg(test)]
mod tests {
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
    async fn left_by_its_client(state: &Arc<AppState>) -> oneshot::Sender<()> {
        let runner = state.runner(RunnerKind::Agent, "a").unwrap();
        let (go, wait) = oneshot::channel::<()>();
        let agent = runner.clone();
        let run: BoxFuture<'static, agno_core::Result<RunOutput>> = Box::pin(async move {
            let _ = wait.await;
            agent.run("hi").run_id("r1").await
        });
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
        let mut request = Box::pin(WaitingRun::new(run, cancelled, hooks, Arc::clone(state), "r1".into()).end());
        assert!(poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx).is_pending())).await, "the run waits");
        assert_eq!(state.tracker.len(), 0, "no task while its request polls it");
        drop(request);
        go
    }

    fn state() -> Arc<AppState> {
        let os = AgentOS::builder().agents([Agent::builder().id("a").build().unwrap()]).build().unwrap();
        Arc::clone(&os.state)
    }

    #[tokio::test]
    async fn a_run_whose_request_is_dropped_goes_on_in_a_task_and_ends() {
        let state = state();
        let go = left_by_its_client(&state).await;
        assert_eq!(state.tracker.len(), 1, "handed over to a tracked task");
        assert_eq!(state.runs.status("r1", OWNER, "s1"), Some(RunStatus::Running));
        go.send(()).unwrap();
        assert!(state.tracker.drain(HANG_GUARD).await.is_empty());
        assert_eq!(state.runs.status("r1", OWNER, "s1"), None, "ended and forgotten");
    }

    #[tokio::test]
    async fn a_run_handed_over_to_a_task_can_still_be_cancelled() {
        let state = state();
        let _go = left_by_its_client(&state).await;
        assert_eq!(state.tracker.len(), 1);
        assert!(state.runs.cancel("r1", OWNER));
        // The task ends without the run ever being let go on.
        assert!(state.tracker.drain(HANG_GUARD).await.is_empty());
        assert_eq!(state.runs.status("r1", OWNER, "s1"), Some(RunStatus::Cancelled));
    }
}
