//! [`RunStream`]: the events of a run, produced as the stream is polled.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{RunEvent, RunOutput};
use crate::error::{Error, Result};
use crate::future::BoxFuture;

/// Where the pipeline puts events for the stream to hand out.
#[derive(Clone, Default)]
pub(crate) struct EventSink(Arc<Mutex<VecDeque<RunEvent>>>);

impl EventSink {
    pub(crate) fn push(&self, event: RunEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push_back(event);
    }

    fn pop(&self) -> Option<RunEvent> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }
}

/// The events of a run, in agno's order. It drives the run itself: nothing happens until it is
/// polled, and dropping it cancels the run.
///
/// Items are `Ok(event)`; an `Err` (storage failed) is the last item. After the last item,
/// [`output`](Self::output) holds the finished run.
#[must_use = "a stream does nothing unless polled"]
pub struct RunStream {
    run: Option<BoxFuture<'static, Result<RunOutput>>>,
    events: EventSink,
    error: Option<Error>,
    output: Option<RunOutput>,
}

impl RunStream {
    /// The stream of `run`, a run that puts its events in `events`.
    pub(crate) fn new(run: BoxFuture<'static, Result<RunOutput>>, events: EventSink) -> Self {
        Self { run: Some(run), events, error: None, output: None }
    }

    /// The next event, or `None` when the run is over.
    pub async fn next(&mut self) -> Option<Result<RunEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The finished run, once the stream has ended.
    pub fn output(&self) -> Option<&RunOutput> {
        self.output.as_ref()
    }

    /// Takes the finished run, once the stream has ended.
    pub fn into_output(self) -> Option<RunOutput> {
        self.output
    }
}

impl Stream for RunStream {
    type Item = Result<RunEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(event) = self.events.pop() {
            return Poll::Ready(Some(Ok(event)));
        }
        if let Some(run) = self.run.as_mut() {
            match run.as_mut().poll(cx) {
                Poll::Pending => {
                    // Events pushed during this poll are ready now; the run has arranged its
                    // own wake-up for the rest.
                    return match self.events.pop() {
                        Some(event) => Poll::Ready(Some(Ok(event))),
                        None => Poll::Pending,
                    };
                }
                Poll::Ready(result) => {
                    self.run = None;
                    match result {
                        Ok(output) => self.output = Some(output),
                        Err(error) => self.error = Some(error),
                    }
                }
            }
        }
        if let Some(event) = self.events.pop() {
            return Poll::Ready(Some(Ok(event)));
        }
        Poll::Ready(self.error.take().map(Err))
    }
}
