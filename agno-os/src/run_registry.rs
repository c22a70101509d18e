//! The runs in progress (and the cancelled ones), for `GET …/runs/{run_id}` to report their
//! status and `POST …/runs/{run_id}/cancel` to stop them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use agno_core::RunStatus;
use agno_core::run::RunnerKind;
use tokio::sync::oneshot;

/// Runs in progress (and cancelled ones), by run id.
#[derive(Default)]
pub(crate) struct RunRegistry(Mutex<HashMap<String, InFlight>>);

/// A run in progress.
struct InFlight {
    kind: RunnerKind,
    owner_id: String,
    session_id: String,
    status: RunStatus,
    stop: Option<Stop>,
}

/// How a cancel stops a run.
pub(crate) enum Stop {
    /// The run has a task of its own (a stream, a detached run): the task is aborted.
    Task(tokio::task::AbortHandle),
    /// The run is polled by its request, or by the task it was handed to when its client left
    /// (a [`WaitingRun`](crate::waiting_run::WaitingRun)): it drops the run when this fires.
    Signal(oneshot::Sender<()>),
}

impl RunRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, InFlight>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a run with `status`, and how to stop it when that is known already.
    pub(crate) fn start(
        &self,
        run_id: &str,
        owner: (RunnerKind, &str),
        session_id: &str,
        status: RunStatus,
        stop: Option<Stop>,
    ) {
        let (kind, owner_id) = (owner.0, owner.1.to_owned());
        let entry = InFlight { kind, owner_id, session_id: session_id.to_owned(), status, stop };
        self.lock().insert(run_id.to_owned(), entry);
    }

    /// How to stop a run registered without it (its task was spawned after it was registered).
    pub(crate) fn attach(&self, run_id: &str, stop: Stop) {
        if let Some(entry) = self.lock().get_mut(run_id) {
            entry.stop = Some(stop);
        }
    }

    /// A registered run has started.
    pub(crate) fn running(&self, run_id: &str) {
        if let Some(entry) = self.lock().get_mut(run_id) {
            entry.status = RunStatus::Running;
        }
    }

    /// A run has ended (not by a cancel): it is forgotten, and polling it reads it from the
    /// database. A cancelled run is not finished: it stays `CANCELLED` for polling.
    pub(crate) fn finish(&self, run_id: &str) {
        self.lock().remove(run_id);
    }

    /// The status of a run in progress or cancelled, if it is this owner's and in this session.
    pub(crate) fn status(&self, run_id: &str, owner: (RunnerKind, &str), session_id: &str) -> Option<RunStatus> {
        self.lock()
            .get(run_id)
            .filter(|e| (e.kind, e.owner_id.as_str()) == owner && e.session_id == session_id)
            .map(|e| e.status)
    }

    /// Cancels a run in progress of this owner: stops it and marks it `CANCELLED`. Returns
    /// whether there was one.
    pub(crate) fn cancel(&self, run_id: &str, owner: (RunnerKind, &str)) -> bool {
        let mut runs = self.lock();
        let Some(entry) =
            runs.get_mut(run_id).filter(|e| (e.kind, e.owner_id.as_str()) == owner && e.status != RunStatus::Cancelled)
        else {
            return false;
        };
        let stopped = match entry.stop.take() {
            Some(Stop::Task(task)) => {
                task.abort();
                true
            }
            // A closed signal: the run has just ended and is about to be finished.
            Some(Stop::Signal(signal)) => signal.send(()).is_ok(),
            None => true,
        };
        if !stopped {
            return false;
        }
        entry.status = RunStatus::Cancelled;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: (RunnerKind, &str) = (RunnerKind::Agent, "a");

    #[test]
    fn a_cancel_fires_the_signal_once_and_the_status_stays_for_polling() {
        let runs = RunRegistry::default();
        let (signal, mut fired) = oneshot::channel();
        runs.start("r1", OWNER, "s1", RunStatus::Running, Some(Stop::Signal(signal)));
        assert_eq!(runs.status("r1", OWNER, "s1"), Some(RunStatus::Running));
        assert_eq!(runs.status("r1", OWNER, "other session"), None);
        assert_eq!(runs.status("r1", (RunnerKind::Team, "a"), "s1"), None);
        assert!(!runs.cancel("r1", (RunnerKind::Agent, "someone else")));
        assert!(fired.try_recv().is_err(), "another owner's cancel does not stop the run");

        assert!(runs.cancel("r1", OWNER));
        assert_eq!(fired.try_recv(), Ok(()));
        assert!(!runs.cancel("r1", OWNER), "cancelled already");
        assert_eq!(runs.status("r1", OWNER, "s1"), Some(RunStatus::Cancelled));
    }

    #[test]
    fn a_finished_run_is_forgotten_and_drops_its_signal() {
        let runs = RunRegistry::default();
        let (signal, mut fired) = oneshot::channel();
        runs.start("r1", OWNER, "s1", RunStatus::Pending, None);
        runs.attach("r1", Stop::Signal(signal));
        runs.running("r1");
        assert_eq!(runs.status("r1", OWNER, "s1"), Some(RunStatus::Running));
        runs.finish("r1");
        assert_eq!(runs.status("r1", OWNER, "s1"), None);
        assert_eq!(fired.try_recv(), Err(oneshot::error::TryRecvError::Closed));
        assert!(!runs.cancel("r1", OWNER));
    }

    #[test]
    fn a_cancel_that_comes_as_the_run_ends_leaves_it_to_finish() {
        let runs = RunRegistry::default();
        let (signal, ended) = oneshot::channel::<()>();
        runs.start("r1", OWNER, "s1", RunStatus::Running, Some(Stop::Signal(signal)));
        // The run has ended (its receiver is gone) but is not finished yet.
        drop(ended);
        assert!(!runs.cancel("r1", OWNER), "nothing left to cancel");
        assert_eq!(runs.status("r1", OWNER, "s1"), Some(RunStatus::Running));
        runs.finish("r1");
        assert_eq!(runs.status("r1", OWNER, "s1"), None, "not kept as CANCELLED");
    }
}
