//! What the self-play and arena engines do alike with their workers: run
//! them on a rayon pool, record the first failure, count the running ones,
//! hand out their queues' batches, and stop and wait for them. An engine
//! differs only in what its workers play and how many queues they fill.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::{SearchError, SearchResult};
use crate::evaluator::Evaluator;
use crate::queue::{LeafQueue, Ticket};

/// The state of an engine's workers that the engine and the workers share.
pub(super) struct Crew {
    /// "self-play" or "arena": how failures name a worker.
    kind: &'static str,
    stop: AtomicBool,
    running: AtomicUsize,
    failure: Mutex<Option<String>>,
}

impl Crew {
    pub(super) fn new(kind: &'static str, threads: usize) -> Crew {
        Crew {
            kind,
            stop: AtomicBool::new(false),
            running: AtomicUsize::new(threads),
            failure: Mutex::new(None),
        }
    }

    /// Whether the workers must stop now.
    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Records why a worker stopped early (the first reason wins) and stops
    /// the others.
    fn fail(&self, worker: usize, why: &str) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            *failure = Some(format!("{} worker {worker} failed: {why}", self.kind));
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The first worker failure, as an error.
    pub(super) fn check_failure(&self) -> SearchResult<()> {
        match &*self.failure.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(msg) => Err(SearchError::WorkerFailed(msg.clone())),
            None => Ok(()),
        }
    }

    /// True once every worker has exited.
    pub(super) fn is_finished(&self) -> bool {
        self.running.load(Ordering::Acquire) == 0
    }

    /// Workers still running (a counter for stats).
    pub(super) fn running(&self) -> u64 {
        self.running.load(Ordering::Relaxed) as u64
    }

    /// Waits up to `timeout` for a batch of `queue`, after the caller has
    /// checked for a failure. None when nothing came (or the workers are
    /// all gone); an error once the queue is closed.
    pub(super) fn next_batch(
        &self,
        queue: &LeafQueue,
        max_rows: usize,
        timeout: Duration,
    ) -> SearchResult<Option<Ticket>> {
        if queue.is_closed() {
            return Err(SearchError::Closed);
        }
        if self.is_finished() {
            return Ok(None);
        }
        queue.next_batch(max_rows, timeout)
    }
}

/// What an engine shares with its workers, as the pool sees it.
pub(super) trait Host: Send + Sync + 'static {
    fn crew(&self) -> &Crew;
    /// The leaf queues the workers fill (one per network).
    fn queues(&self) -> &[LeafQueue];
}

/// An engine's running workers. Dropping it stops them.
pub(super) struct WorkerPool {
    host: Arc<dyn Host>,
    pool: Mutex<Option<rayon::ThreadPool>>,
    done: Arc<(Mutex<usize>, Condvar)>,
    threads: usize,
}

impl WorkerPool {
    /// Starts worker `id` as `run(id, host, inputs[id])` on threads named
    /// `{name}-{id}`. A worker's error or panic becomes the engine's failure.
    pub(super) fn start<H: Host, R: Send + 'static>(
        name: &'static str,
        host: &Arc<H>,
        inputs: Vec<R>,
        run: fn(usize, Arc<H>, R) -> SearchResult<()>,
    ) -> SearchResult<WorkerPool> {
        let threads = inputs.len();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("{name}-{i}"))
            .build()
            .map_err(|e| {
                SearchError::InvalidConfig(format!("cannot start the thread pool: {e}"))
            })?;
        let done = Arc::new((Mutex::new(0usize), Condvar::new()));
        for (id, input) in inputs.into_iter().enumerate() {
            let host = Arc::clone(host);
            let done = Arc::clone(&done);
            pool.spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(id, Arc::clone(&host), input)
                }));
                let crew = host.crew();
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => crew.fail(id, &error.to_string()),
                    Err(panic) => crew.fail(id, &crate::error::panic_message(&*panic)),
                }
                crew.running.fetch_sub(1, Ordering::AcqRel);
                // It will write no more rows: the consumer must not wait
                // for them.
                for queue in host.queues() {
                    queue.worker_exited();
                    queue.wake_consumer();
                }
                let (count, cv) = &*done;
                *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                cv.notify_all();
            });
        }
        let host: Arc<dyn Host> = host.clone();
        Ok(WorkerPool {
            host,
            pool: Mutex::new(Some(pool)),
            done,
            threads,
        })
    }

    /// Stops the workers and waits for them (at most a few milliseconds:
    /// they never block for long).
    pub(super) fn close(&self) {
        self.host.crew().stop.store(true, Ordering::Relaxed);
        for queue in self.host.queues() {
            queue.close();
        }
        let (count, cv) = &*self.done;
        let mut finished = count.lock().unwrap_or_else(|e| e.into_inner());
        while *finished < self.threads {
            finished = cv
                .wait_timeout(finished, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(finished);
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        if !self.is_closed() {
            self.close();
        }
    }
}

/// Answers one batch of `queue` with a Rust evaluator (the serve loops).
pub(super) fn answer_batch(
    queue: &LeafQueue,
    ticket: &mut Ticket,
    evaluator: &mut dyn Evaluator,
) -> SearchResult<()> {
    queue.answer_with(ticket, |batch, policy, values| {
        evaluator.evaluate(batch, policy, values);
        Ok(())
    })
}
