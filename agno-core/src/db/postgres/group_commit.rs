//! Group commit for [`super::PostgresDb`]: writes that arrive while a batch is being written wait
//! and go together into the next one, one statement and one transaction for all of them
//! ([`GroupCommit`]). A write still returns only once its transaction has committed. Saves of
//! runs (`saves`, `agno_save_batch`) and hook outcomes (`hook_queue`) go this way.
//!
//! At most [`WRITERS`] batches are in flight at once, each on its own task (a request that goes
//! away does not stop the batch its write is in). A [`BatchWriter`] may order a batch (saves go
//! by session id, so batches running at once lock their sessions in one order and cannot
//! deadlock); equal items keep the order they came in. A batch that fails is written again item
//! by item, so each gets its own answer and one bad write fails alone.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::db::DbError;
use crate::future::BoxFuture;

/// Batches written at once.
const WRITERS: usize = 2;

/// Items in one batch at most.
const MAX_BATCH: usize = 256;

/// What a [`GroupCommit`] writes: items of one kind, many in one statement.
pub(super) trait BatchWriter: Send + Sync + 'static {
    /// One write.
    type Item: Send + Sync + 'static;
    /// The order a batch is written in (stable: equal items keep the order they came in).
    fn order(&self, _a: &Self::Item, _b: &Self::Item) -> Ordering {
        Ordering::Equal
    }
    /// Writes `items` in one statement: each item's answer, or the statement's error.
    fn write<'a>(&'a self, items: &'a [&'a Self::Item]) -> BoxFuture<'a, Result<Vec<Result<(), DbError>>, DbError>>;
}

/// An item waiting for its batch, and where its answer goes.
struct Pending<T> {
    item: T,
    done: oneshot::Sender<Result<(), DbError>>,
}

struct Queue<T> {
    pending: Vec<Pending<T>>,
    writers: usize,
}

/// Group commit: items that arrive while a batch is being written go into the next one.
pub(super) struct GroupCommit<W: BatchWriter> {
    writer: W,
    queue: Mutex<Queue<W::Item>>,
}

/// A writer's slot: given back under the queue's lock when the writer finds nothing left to
/// write (so a write queued just then starts another writer), or when its task ends otherwise.
struct WriterSlot<W: BatchWriter> {
    group: Arc<GroupCommit<W>>,
    given_back: bool,
}

impl<W: BatchWriter> Drop for WriterSlot<W> {
    fn drop(&mut self) {
        if !self.given_back {
            let mut queue = self.group.queue();
            queue.writers = queue.writers.saturating_sub(1);
        }
    }
}

impl<W: BatchWriter> GroupCommit<W> {
    pub(super) fn new(writer: W) -> Self {
        Self { writer, queue: Mutex::new(Queue { pending: Vec::new(), writers: 0 }) }
    }

    fn queue(&self) -> MutexGuard<'_, Queue<W::Item>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `item` in the next batch; returns once that batch has committed.
    pub(super) async fn write(self: &Arc<Self>, item: W::Item) -> Result<(), DbError> {
        let (done, answer) = oneshot::channel();
        let start_writer = {
            let mut queue = self.queue();
            queue.pending.push(Pending { item, done });
            let start = queue.writers < WRITERS;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start_writer {
            let slot = WriterSlot { group: Arc::clone(self), given_back: false };
            tokio::spawn(Self::write_until_empty(slot));
        }
        answer.await.map_err(|_| DbError::Closed("the PostgreSQL batch writer stopped before this write".to_owned()))?
    }

    /// Writes batches until nothing is waiting, then gives the slot back in the same lock.
    async fn write_until_empty(mut slot: WriterSlot<W>) {
        loop {
            let batch: Vec<Pending<W::Item>> = {
                let mut queue = slot.group.queue();
                if queue.pending.is_empty() {
                    queue.writers = queue.writers.saturating_sub(1);
                    slot.given_back = true;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect()
            };
            slot.group.write_batch(batch).await;
        }
    }

    /// Writes one batch and answers each of its items; a failed batch is written again item by
    /// item, so each gets its own answer.
    async fn write_batch(&self, mut batch: Vec<Pending<W::Item>>) {
        batch.sort_by(|a, b| self.writer.order(&a.item, &b.item));
        let items: Vec<&W::Item> = batch.iter().map(|p| &p.item).collect();
        let written = self.writer.write(&items).await;
        drop(items);
        match written {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                for pending in batch {
                    let answer = answers.next().unwrap_or_else(|| {
                        Err(DbError::Corrupt("a batch write answered for fewer items than it had".to_owned()))
                    });
                    let _ = pending.done.send(answer);
                }
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(items = batch.len(), error = %e, "a batch write failed; writing its items one by one");
                for pending in batch {
                    let answer = match self.writer.write(&[&pending.item]).await {
                        Ok(mut answers) if !answers.is_empty() => answers.swap_remove(0),
                        Ok(_) => Err(DbError::Corrupt("a write answered nothing".to_owned())),
                        Err(e) => Err(e),
                    };
                    let _ = pending.done.send(answer);
                }
            }
            Err(e) => {
                if let Some(pending) = batch.pop() {
                    let _ = pending.done.send(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

    use super::*;

    /// Writes numbers: a batch holding 13 fails as a whole; 7 is refused on its own. Records the
    /// batches it was given; every write waits until the gate is open.
    struct Numbers {
        batches: Mutex<Vec<Vec<u32>>>,
        gate: tokio::sync::Notify,
        open: AtomicBool,
    }

    impl BatchWriter for Numbers {
        type Item = u32;

        fn write<'a>(&'a self, items: &'a [&'a u32]) -> BoxFuture<'a, Result<Vec<Result<(), DbError>>, DbError>> {
            Box::pin(async move {
                self.batches.lock().unwrap().push(items.iter().map(|n| **n).collect());
                loop {
                    let opened = self.gate.notified();
                    let mut opened = std::pin::pin!(opened);
                    opened.as_mut().enable();
                    if self.open.load(AtomicOrdering::SeqCst) {
                        break;
                    }
                    opened.await;
                }
                if items.contains(&&13) {
                    return Err(DbError::Corrupt("13 spoils its batch".to_owned()));
                }
                Ok(items
                    .iter()
                    .map(|n| if **n == 7 { Err(DbError::Ownership { session_id: "seven".to_owned() }) } else { Ok(()) })
                    .collect())
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_queued_behind_a_batch_go_together_and_a_bad_one_fails_alone() {
        let group = Arc::new(GroupCommit::new(Numbers {
            batches: Mutex::default(),
            gate: tokio::sync::Notify::new(),
            open: AtomicBool::new(false),
        }));
        let write = |n: u32| {
            let group = Arc::clone(&group);
            tokio::spawn(async move { (n, group.write(n).await) })
        };
        // Both writers held at the gate with a batch each...
        let mut held = vec![write(100)];
        while group.writer.batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        held.push(write(101));
        while group.writer.batches.lock().unwrap().len() < WRITERS {
            tokio::task::yield_now().await;
        }
        // ...so these queue up, and go in one batch when the gate opens.
        let queued: Vec<_> = (0..40).map(write).collect();
        while group.queue().pending.len() < 40 {
            tokio::task::yield_now().await;
        }
        group.writer.open.store(true, AtomicOrdering::SeqCst);
        group.writer.gate.notify_waiters();
        for write in held.into_iter().chain(queued) {
            let (n, answer) = write.await.unwrap();
            match n {
                7 => assert!(matches!(answer, Err(DbError::Ownership { .. })), "7: {answer:?}"),
                13 => assert!(matches!(answer, Err(DbError::Corrupt(_))), "13: {answer:?}"),
                _ => assert!(answer.is_ok(), "{n}: {answer:?}"),
            }
        }
        let batches = group.writer.batches.lock().unwrap().clone();
        let mut together = batches[2].clone();
        together.sort_unstable();
        assert_eq!(together, (0..40).collect::<Vec<_>>(), "the 40 queued writes went in one batch: {batches:?}");
        assert_eq!(batches.len(), 3 + 40, "then each of them alone: {batches:?}");
        writers_stop(&group).await;
    }

    /// Writes nothing, at once.
    struct Instant;

    impl BatchWriter for Instant {
        type Item = u32;

        fn write<'a>(&'a self, items: &'a [&'a u32]) -> BoxFuture<'a, Result<Vec<Result<(), DbError>>, DbError>> {
            Box::pin(std::future::ready(Ok(items.iter().map(|_| Ok(())).collect())))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_queued_as_the_last_writer_stops_is_still_written() {
        // Writes one after another from 4 tasks: each write often comes just as a writer finds
        // the queue empty and stops. None may be left in the queue with no writer.
        let group = Arc::new(GroupCommit::new(Instant));
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let group = Arc::clone(&group);
                tokio::spawn(async move {
                    for i in 0..20_000 {
                        let written = tokio::time::timeout(std::time::Duration::from_secs(10), group.write(i)).await;
                        assert!(matches!(written, Ok(Ok(()))), "task {t}, write {i} was never written");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        writers_stop(&group).await;
    }

    /// Waits until no writer runs: the last one gives its slot back once it finds the queue
    /// empty, just after it answered its last batch.
    async fn writers_stop<W: BatchWriter>(group: &GroupCommit<W>) {
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while group.queue().writers > 0 {
                tokio::task::yield_now().await;
            }
        });
        assert!(stopped.await.is_ok(), "the writers ended with the work");
    }
}
