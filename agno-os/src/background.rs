//! Background hooks after the response: a per-request collector, a body wrapper that hands the
//! collected hooks over when the last byte has gone, and a tracker that shutdown waits for.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use agno_core::hooks::{BackgroundHook, BackgroundScheduler, HookStage};
use axum::body::Body;
use bytes::Bytes;
use http_body::Frame;
use serde::Serialize;
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
    active: Mutex<HashMap<u64, String>>,
    next: AtomicU64,
    idle: Notify,
}

/// Removes a task from the tracker when it ends, however it ends.
struct Tracked {
    tracker: Tracker,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut active = lock(&self.tracker.0.active);
        active.remove(&self.id);
        if active.is_empty() {
            self.tracker.0.idle.notify_waiters();
        }
    }
}

impl Tracker {
    /// Spawns a task that shutdown waits for; `label` names it if it does not finish.
    pub(crate) fn spawn<F>(&self, label: String, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.0.active).insert(id, label);
        let guard = Tracked { tracker: self.clone(), id };
        tokio::spawn(async move {
            let _guard = guard;
            future.await
        })
    }

    /// How many tracked tasks are running.
    pub(crate) fn len(&self) -> usize {
        lock(&self.0.active).len()
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
                let mut left: Vec<String> = lock(&self.0.active).values().cloned().collect();
                left.sort();
                return left;
            }
        }
    }
}

/// Collects one run's background hooks (the run hands them over at its end).
#[derive(Default)]
pub(crate) struct Collected(Mutex<Vec<BackgroundHook>>);

impl BackgroundScheduler for Collected {
    fn schedule(&self, hooks: Vec<BackgroundHook>) {
        lock(&self.0).extend(hooks);
    }
}

impl Collected {
    fn take(&self) -> Vec<BackgroundHook> {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// What happened to one background hook.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HookOutcome {
    /// The hook's name.
    pub hook: String,
    /// `"pre"` or `"post"`.
    pub stage: &'static str,
    /// 1-based position in its list.
    pub position: usize,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: &'static str,
    /// The error, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it ran, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
}

/// The background hook outcomes of recent runs (the latest `capacity` runs).
pub(crate) struct HookLog {
    runs: Mutex<Runs>,
    capacity: usize,
}

/// Outcomes by run id, and the run ids oldest first (for eviction).
type Runs = (HashMap<String, Vec<HookOutcome>>, VecDeque<String>);

impl HookLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { runs: Mutex::default(), capacity }
    }

    fn queue(&self, run_id: &str, hooks: &[BackgroundHook]) {
        let outcomes = hooks
            .iter()
            .map(|h| HookOutcome {
                hook: h.hook_name().to_owned(),
                stage: match h.stage() {
                    HookStage::Pre => "pre",
                    HookStage::Post => "post",
                },
                position: h.position(),
                status: "queued",
                error: None,
                duration_ms: None,
            })
            .collect();
        let mut runs = lock(&self.runs);
        let (map, order) = &mut *runs;
        if map.insert(run_id.to_owned(), outcomes).is_none() {
            order.push_back(run_id.to_owned());
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    fn update(&self, run_id: &str, index: usize, change: impl FnOnce(&mut HookOutcome)) {
        if let Some(outcome) = lock(&self.runs).0.get_mut(run_id).and_then(|o| o.get_mut(index)) {
            change(outcome);
        }
    }

    /// The outcomes of a run's background hooks, if the run had any.
    pub(crate) fn get(&self, run_id: &str) -> Option<Vec<HookOutcome>> {
        lock(&self.runs).0.get(run_id).cloned()
    }
}

/// Runs a request's background hooks once its run has ended: one after another, in queue order;
/// an error or panic is logged and the next one runs.
pub(crate) fn dispatch(
    tracker: &Tracker,
    log: &Arc<HookLog>,
    run_id: String,
    collected: Arc<Collected>,
    run_done: oneshot::Receiver<()>,
) {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::error!(run_id = %run_id, "background hooks not run: the response ended outside the server's runtime");
        return;
    }
    let log = Arc::clone(log);
    tracker.spawn(format!("background hooks of run {run_id}"), async move {
        // The run may still be going if the client left early; its hooks wait for its end.
        let _ = run_done.await;
        let hooks = collected.take();
        if hooks.is_empty() {
            return;
        }
        log.queue(&run_id, &hooks);
        for (index, hook) in hooks.into_iter().enumerate() {
            let span = tracing::info_span!("background_hook", run_id = %run_id, hook = %hook.hook_name());
            log.update(&run_id, index, |o| o.status = "running");
            let started = Instant::now();
            let result = hook.run().instrument(span.clone()).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(()) => {
                    tracing::info!(parent: &span, duration_ms = ms, "background hook completed");
                    log.update(&run_id, index, |o| {
                        o.status = "completed";
                        o.duration_ms = Some(ms);
                    });
                }
                Err(error) => log.update(&run_id, index, |o| {
                    o.status = "failed";
                    o.error = Some(error.to_string());
                    o.duration_ms = Some(ms);
                }),
            }
        }
    });
}

/// A response body that calls `on_end` once: after its last frame, or when it is dropped (the
/// client left).
pub(crate) struct AfterBody {
    inner: Body,
    on_end: Option<Box<dyn FnOnce() + Send>>,
}

impl AfterBody {
    pub(crate) fn wrap(inner: Body, on_end: impl FnOnce() + Send + 'static) -> Body {
        Body::new(Self { inner, on_end: Some(Box::new(on_end)) })
    }

    fn end(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            on_end();
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
