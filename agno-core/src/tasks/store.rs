//! The in-memory result store shared by [`InProcessBackend`](super::InProcessBackend) and
//! [`ImmediateBackend`](super::ImmediateBackend): per session, per key, the visible (latest
//! finished) result and the submissions in flight.
//!
//! Costs: every call is a hash lookup plus the expiry of what is due, taken from a deadline heap
//! (O(log n) each), never a scan of the store.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use super::backend::{Job, WaitMode};
use super::stored::cancelled;
use super::{TaskError, TaskErrorKind, TaskResult, TaskStatus};

/// Identifies one submission to the code that runs it.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub(crate) session_id: Arc<str>,
    pub(crate) key: Arc<str>,
    pub(crate) seq: u64,
}

/// What the runner should do with a job it is about to start.
pub(crate) enum Start {
    /// Run it; an async job gets a receiver that fires on cancellation.
    Run(Option<oneshot::Receiver<()>>),
    /// It was cancelled or replaced while it waited: skip it.
    Skip,
}

struct Record {
    seq: u64,
    result: TaskResult,
    cancel: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Slot {
    /// The latest finished submission.
    visible: Option<Record>,
    /// Pending and running submissions, oldest first.
    inflight: Vec<Record>,
    /// Woken when a submission of this key finishes (made by the first wait on it).
    finished: Option<Arc<Notify>>,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.visible.is_none() && self.inflight.is_empty()
    }

    /// Makes a finished record visible unless a newer one already is.
    fn settle(&mut self, record: Record) -> bool {
        match &self.visible {
            Some(v) if v.seq > record.seq => false,
            _ => {
                self.visible = Some(record);
                true
            }
        }
    }

    /// What `get` shows: the newest submission.
    fn newest(&self) -> Option<&Record> {
        match (self.inflight.last(), &self.visible) {
            (Some(i), Some(v)) => Some(if i.seq > v.seq { i } else { v }),
            (i, v) => i.or(v.as_ref()),
        }
    }
}

struct SessionTasks {
    slots: HashMap<Arc<str>, Slot>,
    notify: Arc<Notify>,
}

impl Default for SessionTasks {
    fn default() -> Self {
        Self { slots: HashMap::new(), notify: Arc::new(Notify::new()) }
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Expiry {
    deadline: Instant,
    seq: u64,
    session_id: Arc<str>,
    key: Arc<str>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<Arc<str>, SessionTasks>,
    expiry: BinaryHeap<Reverse<Expiry>>,
}

/// The store. Cheap to share behind an `Arc`.
pub(crate) struct MemoryStore {
    state: Mutex<State>,
    next_seq: AtomicU64,
    id_prefix: String,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            next_seq: AtomicU64::new(1),
            id_prefix: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        }
    }
}

impl State {
    /// Drops the results whose time is up.
    fn expire(&mut self, now: Instant) {
        while let Some(Reverse(top)) = self.expiry.peek() {
            if top.deadline > now {
                break;
            }
            let Some(Reverse(due)) = self.expiry.pop() else { break };
            let Some(session) = self.sessions.get_mut(&*due.session_id) else { continue };
            let Some(slot) = session.slots.get_mut(&*due.key) else { continue };
            if slot.visible.as_ref().is_some_and(|v| v.seq == due.seq) {
                slot.visible = None;
                if slot.is_empty() {
                    session.slots.remove(&*due.key);
                    if session.slots.is_empty() {
                        self.sessions.remove(&*due.session_id);
                    }
                }
            }
        }
    }

    /// Marks a record finished, makes it visible if it is the newest, and schedules its expiry.
    fn finish(&mut self, session_id: &Arc<str>, key: &Arc<str>, mut record: Record, outcome: Result<Value, TaskError>) {
        let status = TaskStatus::of_outcome(&outcome);
        debug_assert!(record.result.status.can_become(status));
        record.result.status = status;
        record.result.finished_at = Some(SystemTime::now());
        match outcome {
            Ok(value) => record.result.value = Some(value),
            Err(error) => record.result.error = Some(error),
        }
        let deadline = Instant::now().checked_add(record.result.ttl).unwrap_or_else(far_future);
        let seq = record.seq;
        let Some(session) = self.sessions.get_mut(&**session_id) else { return };
        let notify = Arc::clone(&session.notify);
        if !session.slots.contains_key(&**key) {
            session.slots.insert(Arc::clone(key), Slot::default());
        }
        let Some(slot) = session.slots.get_mut(&**key) else { return };
        if slot.settle(record) {
            self.expiry.push(Reverse(Expiry {
                deadline,
                seq,
                session_id: Arc::clone(session_id),
                key: Arc::clone(key),
            }));
        } else {
            tracing::debug!(session_id = %session_id, key = %key, "a newer result of this key finished first; dropping this one");
        }
        if let Some(finished) = &slot.finished {
            finished.notify_waiters();
        }
        notify.notify_waiters();
    }

    fn session(&self, session_id: &str) -> Option<&SessionTasks> {
        self.sessions.get(session_id)
    }

    fn start(&mut self, ticket: &Ticket, is_async: bool) -> Start {
        let Some(record) = self
            .sessions
            .get_mut(&*ticket.session_id)
            .and_then(|s| s.slots.get_mut(&*ticket.key))
            .and_then(|slot| slot.inflight.iter_mut().find(|r| r.seq == ticket.seq))
        else {
            return Start::Skip;
        };
        if record.result.status != TaskStatus::Pending {
            return Start::Skip;
        }
        record.result.status = TaskStatus::Running;
        record.result.started_at = Some(SystemTime::now());
        if is_async {
            let (tx, rx) = oneshot::channel();
            record.cancel = Some(tx);
            Start::Run(Some(rx))
        } else {
            Start::Run(None)
        }
    }

    fn finish_ticket(&mut self, ticket: &Ticket, outcome: Result<Value, TaskError>) {
        let Some(slot) = self.sessions.get_mut(&*ticket.session_id).and_then(|s| s.slots.get_mut(&*ticket.key)) else {
            return;
        };
        let Some(index) = slot.inflight.iter().position(|r| r.seq == ticket.seq) else {
            tracing::debug!(key = %ticket.key, "a cancelled task ended; its result is discarded");
            return;
        };
        let record = slot.inflight.remove(index);
        self.finish(&ticket.session_id, &ticket.key, record, outcome);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.expire(Instant::now());
        state
    }

    /// Records a new pending submission; a pending one of the same key is replaced (cancelled).
    /// Returns the snapshot to hand the caller (it takes the job's strings) and the ticket.
    pub(crate) fn insert(&self, job: &mut Job) -> (TaskResult, Ticket) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(self.id_prefix.len() + 21);
        id.push_str(&self.id_prefix);
        id.push('-');
        id.push_str(&seq.to_string());
        let result = TaskResult {
            id,
            session_id: std::mem::take(&mut job.session_id),
            key: std::mem::take(&mut job.key),
            name: std::mem::take(&mut job.name),
            status: TaskStatus::Pending,
            value: None,
            error: None,
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            ttl: job.ttl,
            priority: job.priority,
        };
        let record = Record { seq, result: result.clone(), cancel: None };
        let mut state = self.lock();
        let session_id: Arc<str> = match state.sessions.get_key_value(result.session_id.as_str()) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(result.session_id.as_str()),
        };
        let session = state.sessions.entry(Arc::clone(&session_id)).or_default();
        // One shared copy of the key for the slot and the ticket.
        let key: Arc<str> = match session.slots.get_key_value(result.key.as_str()) {
            Some((k, _)) => Arc::clone(k),
            None => {
                let key: Arc<str> = Arc::from(result.key.as_str());
                session.slots.insert(Arc::clone(&key), Slot::default());
                key
            }
        };
        let Some(slot) = session.slots.get_mut(&*key) else {
            // Not reachable: the slot was inserted just above.
            tracing::error!(key = %key, "task slot missing right after insertion");
            return (result, Ticket { session_id, key, seq });
        };
        // A pending submission of the same key is replaced; running ones go on.
        let replaced: Vec<Record> = if slot.inflight.iter().any(|r| r.result.status == TaskStatus::Pending) {
            let (pending, running): (Vec<Record>, Vec<Record>) =
                slot.inflight.drain(..).partition(|r| r.result.status == TaskStatus::Pending);
            slot.inflight = running;
            pending
        } else {
            Vec::new()
        };
        slot.inflight.push(record);
        for old in replaced {
            tracing::debug!(key = %key, "a newer task with the same key replaces a pending one");
            state.finish(&session_id, &key, old, Err(cancelled("replaced by a newer task with the same key")));
        }
        (result, Ticket { session_id, key, seq })
    }

    /// Moves a pending submission to running; `Skip` if it was cancelled or replaced meanwhile.
    pub(crate) fn start(&self, ticket: &Ticket, is_async: bool) -> Start {
        self.lock().start(ticket, is_async)
    }

    /// Records the outcome of a submission; ignored if it was cancelled meanwhile.
    pub(crate) fn finish(&self, ticket: &Ticket, outcome: Result<Value, TaskError>) {
        self.lock().finish_ticket(ticket, outcome);
    }

    /// Records a finished submission and starts the next under one lock (a worker going from
    /// one job to the next).
    pub(crate) fn finish_and_start(
        &self,
        finished: Option<(Ticket, Result<Value, TaskError>)>,
        ticket: &Ticket,
        is_async: bool,
    ) -> Start {
        let mut state = self.lock();
        if let Some((done, outcome)) = finished {
            state.finish_ticket(&done, outcome);
        }
        state.start(ticket, is_async)
    }

    pub(crate) fn get(&self, session_id: &str, key: &str) -> Option<TaskResult> {
        let state = self.lock();
        state.session(session_id)?.slots.get(key)?.newest().map(|r| r.result.clone())
    }

    pub(crate) fn pop(&self, session_id: &str, key: &str, accept: &mut dyn FnMut(&Value) -> bool) -> Option<Value> {
        let mut state = self.lock();
        let session = state.sessions.get_mut(session_id)?;
        let slot = session.slots.get_mut(key)?;
        let record = slot.visible.as_mut().filter(|v| v.result.status == TaskStatus::Completed)?;
        if !accept(record.result.value.as_ref()?) {
            return None;
        }
        let value = slot.visible.take().and_then(|r| r.result.value);
        if slot.is_empty() {
            session.slots.remove(key);
        }
        value
    }

    /// Removes the visible entries of a session with this status, oldest submission first.
    fn take_visible(&self, session_id: &str, status: TaskStatus) -> Vec<(String, TaskResult)> {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(session_id) else { return Vec::new() };
        let mut taken: Vec<(u64, String, TaskResult)> = Vec::new();
        session.slots.retain(|key, slot| {
            if slot.visible.as_ref().is_some_and(|v| v.result.status == status)
                && let Some(record) = slot.visible.take()
            {
                taken.push((record.seq, key.to_string(), record.result));
            }
            !slot.is_empty()
        });
        taken.sort_unstable_by_key(|(seq, _, _)| *seq);
        taken.into_iter().map(|(_, key, result)| (key, result)).collect()
    }

    pub(crate) fn pop_all(&self, session_id: &str) -> Vec<(String, Value)> {
        self.take_visible(session_id, TaskStatus::Completed)
            .into_iter()
            .map(|(key, result)| (key, result.value.unwrap_or(Value::Null)))
            .collect()
    }

    pub(crate) fn pop_errors(&self, session_id: &str) -> Vec<(String, TaskError)> {
        self.take_visible(session_id, TaskStatus::Failed)
            .into_iter()
            .map(|(key, result)| {
                let error = result.error.unwrap_or_else(|| TaskError::new(TaskErrorKind::Failed, "unknown error"));
                (key, error)
            })
            .collect()
    }

    pub(crate) fn has(&self, session_id: &str, key: Option<&str>) -> bool {
        let state = self.lock();
        let Some(session) = state.session(session_id) else { return false };
        let completed = |slot: &Slot| slot.visible.as_ref().is_some_and(|v| v.result.status == TaskStatus::Completed);
        match key {
            Some(key) => session.slots.get(key).is_some_and(completed),
            None => session.slots.values().any(completed),
        }
    }

    /// Cancels the in-flight submissions of the given keys (all keys with `None`).
    fn cancel_where(&self, session_id: &str, key: Option<&str>) -> usize {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(session_id) else { return 0 };
        let mut victims: Vec<(Arc<str>, Record)> = Vec::new();
        for (slot_key, slot) in session.slots.iter_mut().filter(|(k, _)| key.is_none_or(|key| key == &***k)) {
            let slot_key: Arc<str> = Arc::clone(slot_key);
            victims.extend(slot.inflight.drain(..).map(|r| (Arc::clone(&slot_key), r)));
        }
        let count = victims.len();
        let session_id: Arc<str> = Arc::from(session_id);
        for (key, mut record) in victims {
            if let Some(stop) = record.cancel.take() {
                // The running async task stops at its next await.
                let _ = stop.send(());
            }
            state.finish(&session_id, &key, record, Err(cancelled("cancelled")));
        }
        count
    }

    pub(crate) fn cancel(&self, session_id: &str, key: &str) -> bool {
        self.cancel_where(session_id, Some(key)) > 0
    }

    pub(crate) fn cancel_all(&self, session_id: &str) -> usize {
        self.cancel_where(session_id, None)
    }

    /// One look at the keys: `Ok` if the wait is over, else what to wait on. For `All`,
    /// `settled` counts the leading keys already known to be finished, and the wait is on the
    /// first unfinished key alone, so a wait on many keys is neither woken by every completion
    /// nor looks at the finished keys again.
    fn check(&self, session_id: &str, keys: &[String], mode: WaitMode, settled: &mut usize) -> Result<(), Arc<Notify>> {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
        match mode {
            WaitMode::All => {
                while let Some(key) = keys.get(*settled) {
                    if let Some(slot) = session.slots.get_mut(key.as_str())
                        && !slot.inflight.is_empty()
                    {
                        return Err(Arc::clone(slot.finished.get_or_insert_with(Arc::default)));
                    }
                    *settled += 1;
                }
                Ok(())
            }
            WaitMode::Any => {
                let unfinished =
                    |key: &String| session.slots.get(key.as_str()).is_some_and(|slot| !slot.inflight.is_empty());
                let completed = |key: &String| {
                    let slot = session.slots.get(key.as_str());
                    slot.and_then(|s| s.visible.as_ref()).is_some_and(|v| v.result.status == TaskStatus::Completed)
                };
                if keys.iter().any(completed) || !keys.iter().any(unfinished) {
                    Ok(())
                } else {
                    Err(Arc::clone(&session.notify))
                }
            }
        }
    }

    /// The completed values so far (the answer at a timeout).
    fn completed(&self, session_id: &str, keys: &[String], mode: WaitMode) -> Vec<(String, Value)> {
        let state = self.lock();
        let Some(session) = state.session(session_id) else { return Vec::new() };
        let found = keys.iter().filter_map(|key| {
            let v = session.slots.get(key.as_str())?.visible.as_ref()?;
            (v.result.status == TaskStatus::Completed)
                .then(|| (key.clone(), v.result.value.clone().unwrap_or(Value::Null)))
        });
        match mode {
            WaitMode::All => found.collect(),
            WaitMode::Any => found.take(1).collect(),
        }
    }

    /// Waits until the keys are finished as `mode` says; woken by completions, not polling.
    pub(crate) async fn wait(
        &self,
        session_id: &str,
        keys: &[String],
        mode: WaitMode,
        timeout: Duration,
    ) -> Vec<(String, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut settled = 0;
        loop {
            let notify = match self.check(session_id, keys, mode, &mut settled) {
                Ok(()) => break,
                Err(notify) => notify,
            };
            let notified = notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            // Look again now that we are registered: a completion in between is not missed. If
            // the key waited on finished meanwhile, the next look names another one: start over.
            match self.check(session_id, keys, mode, &mut settled) {
                Ok(()) => break,
                Err(again) if !Arc::ptr_eq(&again, &notify) => continue,
                Err(_) => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        self.completed(session_id, keys, mode)
    }
}

/// The [`TaskBackend`](super::TaskBackend) methods that only read or cancel, for backends whose
/// results live in a `store: MemoryStore` field.
macro_rules! reads_from_store {
    () => {
        fn get(&self, session_id: &str, key: &str) -> Option<super::TaskResult> {
            self.store.get(session_id, key)
        }

        fn pop(
            &self,
            session_id: &str,
            key: &str,
            accept: &mut dyn FnMut(&serde_json::Value) -> bool,
        ) -> Option<serde_json::Value> {
            self.store.pop(session_id, key, accept)
        }

        fn pop_all(&self, session_id: &str) -> Vec<(String, serde_json::Value)> {
            self.store.pop_all(session_id)
        }

        fn pop_errors(&self, session_id: &str) -> Vec<(String, super::TaskError)> {
            self.store.pop_errors(session_id)
        }

        fn has(&self, session_id: &str, key: Option<&str>) -> bool {
            self.store.has(session_id, key)
        }

        fn cancel(&self, session_id: &str, key: &str) -> bool {
            self.store.cancel(session_id, key)
        }

        fn cancel_all(&self, session_id: &str) -> usize {
            self.store.cancel_all(session_id)
        }

        fn wait<'a>(
            &'a self,
            session_id: &'a str,
            keys: &'a [String],
            mode: super::WaitMode,
            timeout: std::time::Duration,
        ) -> crate::future::BoxFuture<'a, Vec<(String, serde_json::Value)>> {
            Box::pin(self.store.wait(session_id, keys, mode, timeout))
        }
    };
}
pub(crate) use reads_from_store;
