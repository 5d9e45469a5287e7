//! The self-play engine: a rayon pool of workers, each owning many rounds in
//! flight, all feeding one [`LeafQueue`], and its public API.
//!
//! - [`config`]: what the engine deals and how it searches;
//! - `worker`: a worker's event loop and the rounds it plays;
//! - `requests`: a worker's evaluation requests (cache, sharing, outbox);
//! - [`counters`]: the counters, declared once;
//! - [`arena`]: the same machinery playing duplicate-arena rounds.
//!
//! Answers from the network, from the cache, or shared with another tree's
//! identical request all land at the same point, so a tree's course depends
//! only on the answers, never on their timing. Every random choice of round
//! `id` is drawn from `(seed, id)`, so with a deterministic evaluator a
//! round's examples are the same on every run, whatever the thread count.

pub mod arena;
pub mod config;
pub mod counters;
mod requests;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::unbounded;

pub use config::{EngineConfig, TableSpec};
pub use counters::{EngineStats, WorkerCounts};

use crate::error::{SearchError, SearchResult};
use crate::examples::ExampleColumns;
use crate::queue::{LeafQueue, QueueStats, Ticket};
use counters::SharedCounts;
use worker::Worker;

/// What the engine and its workers share.
struct Shared {
    config: EngineConfig,
    queue: LeafQueue,
    stop: AtomicBool,
    next_round: AtomicU64,
    examples: Mutex<ExampleColumns>,
    counts: SharedCounts,
    workers_running: AtomicUsize,
    failure: Mutex<Option<String>>,
}

impl Shared {
    /// Records why a worker stopped early (the first reason wins) and stops
    /// the others.
    fn fail(&self, worker: usize, why: &str) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            *failure = Some(format!("self-play worker {worker} failed: {why}"));
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The self-play engine. Dropping it stops the workers.
pub struct Engine {
    shared: Arc<Shared>,
    pool: Mutex<Option<rayon::ThreadPool>>,
    done: Arc<(Mutex<usize>, std::sync::Condvar)>,
}

impl Engine {
    /// Validates the configuration and starts the workers.
    pub fn start(config: EngineConfig) -> SearchResult<Engine> {
        config.validate()?;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..config.threads).map(|_| unbounded()).unzip();
        let queue = LeafQueue::new(config.max_batch, config.pipeline_depth, senders)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .thread_name(|i| format!("blob-selfplay-{i}"))
            .build()
            .map_err(|e| {
                SearchError::InvalidConfig(format!("cannot start the thread pool: {e}"))
            })?;
        let shared = Arc::new(Shared {
            queue,
            stop: AtomicBool::new(false),
            next_round: AtomicU64::new(0),
            examples: Mutex::new(ExampleColumns::default()),
            counts: SharedCounts::default(),
            workers_running: AtomicUsize::new(config.threads),
            failure: Mutex::new(None),
            config,
        });
        let done = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
        for (id, rx) in receivers.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            let done = Arc::clone(&done);
            pool.spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    Worker::new(id, Arc::clone(&shared), rx).run()
                }));
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => shared.fail(id, &error.to_string()),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        shared.fail(id, &msg);
                    }
                }
                shared.workers_running.fetch_sub(1, Ordering::AcqRel);
                // It will write no more rows: the consumer must not wait
                // for them.
                shared.queue.worker_exited();
                shared.queue.wake_consumer();
                let (count, cv) = &*done;
                *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                cv.notify_all();
            });
        }
        Ok(Engine {
            shared,
            pool: Mutex::new(Some(pool)),
            done,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }
    pub fn queue(&self) -> &LeafQueue {
        &self.shared.queue
    }

    fn check_failure(&self) -> SearchResult<()> {
        match &*self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            Some(msg) => Err(SearchError::WorkerFailed(msg.clone())),
            None => Ok(()),
        }
    }

    /// True once every requested round is played (or the engine stopped)
    /// and every worker has exited.
    pub fn is_finished(&self) -> bool {
        self.shared.workers_running.load(Ordering::Acquire) == 0
    }

    /// Waits up to `timeout` for a batch of at most `max_rows` leaves. None
    /// when nothing came (or the engine finished).
    pub fn next_batch(&self, max_rows: usize, timeout: Duration) -> SearchResult<Option<Ticket>> {
        self.check_failure()?;
        if self.shared.queue.is_closed() {
            return Err(SearchError::Closed);
        }
        if self.is_finished() {
            return Ok(None);
        }
        self.shared.queue.next_batch(max_rows, timeout)
    }

    /// Answers a batch (see [`LeafQueue::submit`]).
    pub fn submit(&self, ticket: &mut Ticket, policy: &[f32], values: &[f32]) -> SearchResult<()> {
        self.shared.queue.submit(ticket, policy, values)
    }

    /// Takes every example finished since the last call.
    pub fn take_examples(&self) -> ExampleColumns {
        std::mem::take(
            &mut *self
                .shared
                .examples
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    pub fn stats(&self) -> EngineStats {
        let q: QueueStats = self.shared.queue.stats();
        EngineStats {
            counts: self.shared.counts.snapshot(),
            leaves_evaluated: q.rows,
            batches: q.batches,
            queue_depth: q.rows_in_filling,
            tickets_outstanding: q.tickets_outstanding,
            workers_running: self.shared.workers_running.load(Ordering::Relaxed) as u64,
        }
    }

    /// Stops the workers and waits for them (at most a few milliseconds:
    /// they never block for long).
    pub fn close(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.queue.close();
        let (count, cv) = &*self.done;
        let mut finished = count.lock().unwrap_or_else(|e| e.into_inner());
        while *finished < self.shared.config.threads {
            finished = cv
                .wait_timeout(finished, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(finished);
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn is_closed(&self) -> bool {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.is_closed() {
            self.close();
        }
    }
}

/// Serves the engine's batches with a Rust evaluator until the engine
/// finishes or `stop` is set: the test and benchmark stand-in for the
/// Python inference loop. Returns the number of batches answered.
pub fn serve(
    engine: &Engine,
    evaluator: &mut dyn crate::evaluator::Evaluator,
    max_rows: usize,
    stop: &AtomicBool,
) -> SearchResult<u64> {
    let mut batches = 0;
    while !stop.load(Ordering::Relaxed) && !engine.is_finished() {
        let Some(mut ticket) = engine.next_batch(max_rows, Duration::from_millis(2))? else {
            continue;
        };
        engine
            .queue()
            .answer_with(&mut ticket, |batch, policy, values| {
                evaluator.evaluate(batch, policy, values);
                Ok(())
            })?;
        batches += 1;
    }
    Ok(batches)
}
