//! Background-task costs against fasthooks 0.1.4's measured figures.
//!
//! `cargo bench --bench tasks`. Every figure is on [`InProcessBackend`] (4 workers), the
//! default, with 10,000 completed results of another session in the store where it says so.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agno::tasks::{AddOptions, InProcessBackend, Task, TaskBackend, TaskExt, TaskRun, Tasks};
use criterion::{Criterion, criterion_group, criterion_main};

/// fasthooks' `noop(i): return i`.
#[derive(Default, Clone, Copy)]
struct Noop;

impl Task for Noop {
    type Args = u64;
    type Output = u64;
    fn name(&self) -> &str {
        "noop"
    }
    fn run(&self, i: u64) -> TaskRun<u64> {
        TaskRun::blocking(move || Ok(i))
    }
}

const LONG: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    }
}

/// A backend holding `n` completed results of another session.
fn filled(rt: &tokio::runtime::Runtime, n: u64) -> Arc<dyn TaskBackend> {
    let backend: Arc<dyn TaskBackend> = Arc::new(InProcessBackend::new());
    let other = Tasks::new(Arc::clone(&backend), "other-session");
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        other.add(Noop.keyed(key.as_str()), i as u64);
    }
    let done = rt.block_on(other.wait_all(keys.iter().map(String::as_str), LONG));
    assert_eq!(done.len() as u64, n);
    backend
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let keys: Vec<String> = (0..10_000).map(|i| format!("task:{i}")).collect();
    let mut group = c.benchmark_group("tasks");
    group.sample_size(10);
    // The default pool (4 workers, fasthooks' size) and one worker per core of this machine.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    for (label, workers) in [("default_4_workers", 4), ("one_worker_per_core", cores)] {
        group.bench_function(format!("10k_unique_adds_then_pop_all/{label}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let tasks = Tasks::new(Arc::new(InProcessBackend::with_max_workers(workers)), "bench");
                    let start = Instant::now();
                    for (i, key) in keys.iter().enumerate() {
                        tasks.add(Noop.keyed(key.as_str()), i as u64);
                    }
                    let done = rt.block_on(tasks.wait_all(keys.iter().map(String::as_str), LONG));
                    let popped = tasks.pop_all();
                    total += start.elapsed();
                    assert_eq!((done.len(), popped.len()), (10_000, 10_000));
                }
                total
            })
        });
    }
    group.finish();
}

fn per_call(c: &mut Criterion) {
    let rt = runtime();
    let backend = filled(&rt, 10_000);
    let tasks = Tasks::new(Arc::clone(&backend), "bench");
    let mut group = c.benchmark_group("tasks_at_10k_stored");
    group.bench_function("add_same_key", |b| b.iter(|| black_box(tasks.add(Noop, 1))));
    rt.block_on(tasks.wait(Noop, LONG));
    group.bench_function("has", |b| b.iter(|| black_box(tasks.has(Noop))));
    group.bench_function("get", |b| b.iter(|| black_box(tasks.get(Noop))));
    group.bench_function("pop_miss", |b| b.iter(|| black_box(tasks.pop("missing"))));
    // Pops of completed results, 1,000 at a time, so the store stays at about 10,000 results.
    group.bench_function("pop_hit", |b| {
        let keys: Vec<String> = (0..1_000).map(|i| format!("hit{i}")).collect();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = &keys[..left.min(1_000) as usize];
                for key in chunk {
                    tasks.add(Noop.keyed(key.as_str()), 7);
                }
                rt.block_on(tasks.wait_all(chunk.iter().map(String::as_str), LONG));
                let start = Instant::now();
                for key in chunk {
                    black_box(tasks.pop(Noop.keyed(key.as_str())));
                }
                total += start.elapsed();
                left -= chunk.len() as u64;
            }
            total
        })
    });
    group.finish();
}

fn wake_up(c: &mut Criterion) {
    let rt = runtime();
    let tasks = Tasks::new(Arc::new(InProcessBackend::new()), "bench");
    c.bench_function("tasks/wait_wake_up_latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let ended = Arc::new(Mutex::new(None));
                let mark = Arc::clone(&ended);
                let key = format!("wake{i}");
                tasks.spawn(&key, AddOptions::new(), move || {
                    std::thread::sleep(Duration::from_micros(200));
                    if let Ok(mut slot) = mark.lock() {
                        *slot = Some(Instant::now());
                    }
                });
                rt.block_on(tasks.wait(key.as_str(), LONG));
                let woke = Instant::now();
                let ended = ended.lock().ok().and_then(|slot| *slot).unwrap_or(woke);
                total += woke.saturating_duration_since(ended);
                tasks.pop(key.as_str());
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = throughput, per_call, wake_up
}
criterion_main!(benches);
