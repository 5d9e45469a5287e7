//! The self-play engine: a rayon pool of workers, each owning many rounds in
//! flight, all feeding one [`LeafQueue`], and its public API.
//!
//! - [`config`]: what the engine deals and how it searches;
//! - `worker`: a worker's event loop and the rounds it plays;
//! - `requests`: a worker's evaluation requests (cache, sharing, outbox);
//! - `waves`: a decision's trees, dealt and searched in waves of leaves;
//! - `pool`: the workers' threads, failure and shutdown, for both engines;
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
mod pool;
mod requests;
mod waves;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::unbounded;

pub use config::{EngineConfig, TableSpec};
pub use counters::{EngineStats, WorkerCounts};

use crate::error::SearchResult;
use crate::examples::ExampleColumns;
use crate::queue::{LeafQueue, QueueStats, Ticket};
use counters::SharedCounts;
use pool::{Crew, Host, WorkerPool, answer_batch};
use worker::Worker;

/// What the engine and its workers share.
struct Shared {
    config: EngineConfig,
    queue: LeafQueue,
    crew: Crew,
    next_round: AtomicU64,
    examples: Mutex<ExampleColumns>,
    counts: SharedCounts,
}

impl Host for Shared {
    fn crew(&self) -> &Crew {
        &self.crew
    }
    fn queues(&self) -> &[LeafQueue] {
        std::slice::from_ref(&self.queue)
    }
}

/// The self-play engine. Dropping it stops the workers.
pub struct Engine {
    shared: Arc<Shared>,
    workers: WorkerPool,
}

impl Engine {
    /// Validates the configuration and starts the workers.
    pub fn start(config: EngineConfig) -> SearchResult<Engine> {
        config.validate()?;
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..config.threads).map(|_| unbounded()).unzip();
        let queue = LeafQueue::new(config.max_batch, config.pipeline_depth, senders)?;
        let shared = Arc::new(Shared {
            queue,
            crew: Crew::new("self-play", config.threads),
            next_round: AtomicU64::new(0),
            examples: Mutex::new(ExampleColumns::default()),
            counts: SharedCounts::default(),
            config,
        });
        let workers = WorkerPool::start("blob-selfplay", &shared, receivers, |id, shared, rx| {
            Worker::new(id, shared, rx).run()
        })?;
        Ok(Engine { shared, workers })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }
    pub fn queue(&self) -> &LeafQueue {
        &self.shared.queue
    }

    /// True once every requested round is played (or the engine stopped)
    /// and every worker has exited.
    pub fn is_finished(&self) -> bool {
        self.shared.crew.is_finished()
    }

    /// Waits up to `timeout` for a batch of at most `max_rows` leaves. None
    /// when nothing came (or the engine finished).
    pub fn next_batch(&self, max_rows: usize, timeout: Duration) -> SearchResult<Option<Ticket>> {
        self.shared.crew.check_failure()?;
        self.shared
            .crew
            .next_batch(&self.shared.queue, max_rows, timeout)
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
            workers_running: self.shared.crew.running(),
        }
    }

    /// Stops the workers and waits for them (at most a few milliseconds:
    /// they never block for long).
    pub fn close(&self) {
        self.workers.close();
    }

    pub fn is_closed(&self) -> bool {
        self.workers.is_closed()
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
        answer_batch(engine.queue(), &mut ticket, evaluator)?;
        batches += 1;
    }
    Ok(batches)
}
