//! The arena engine: duplicate-arena rounds played many at a time, with the
//! self-play engine's machinery (rayon workers, rounds in flight, one
//! [`LeafQueue`] per network, answer cache and request sharing).
//!
//! Each in-flight game is one round of the arena's schedule: a deal (a
//! given start position) played in one seating (the agent at each seat).
//! A seat's agent is a [`SeatAgent`]: a network agent searches with the
//! engine's trees and sends its leaves to the queue of its network; the Rust
//! agents (heuristic, random, rollout MCTS, ISMCTS) decide in the worker.
//!
//! Every agent decides exactly as its Python counterpart in
//! `blobmaster.agents`: the decision's randomness is seeded by
//! [`pyseed::decision_seed`] (the agent's seed and the mover's observation),
//! searches play the most visited action (ties to the higher root prior,
//! then the lowest id) with no
//! root noise, forced moves are played without search. So a round's course
//! depends only on the agents and the network answers, never on timing or
//! threads, and deterministic agents give the Python arena's results.

mod pyseed;
mod recording;
mod worker;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blob_core::Round;
use crossbeam_channel::{Receiver, unbounded};

pub use pyseed::{blake2b_64_keyed, decision_seed, python_choice};
pub use recording::{InOrder, Recording};

use super::config::{check_batches, check_workers};
use super::counters::{SharedCounts, WorkerCounts};
use super::pool::{Crew, Host, WorkerPool, answer_batch};
use crate::error::{SearchError, SearchResult};
use crate::examples::ExampleColumns;
use crate::ismcts::IsmctsParams;
use crate::params::SearchParams;
use crate::pimc::PimcParams;
use crate::queue::{AnswerMsg, LeafQueue, Ticket};
use worker::ArenaWorker;

/// Who plays a seat, and how it decides.
#[derive(Clone, Debug, PartialEq)]
pub enum SeatAgent {
    /// Determinized MCTS whose leaves are evaluated by network `net` (its
    /// own queue); `params` as for play (no noise, greedy).
    Network {
        net: usize,
        params: SearchParams,
        seed: u64,
    },
    /// The rule-based player.
    Heuristic,
    /// A uniformly random legal action (`agents.RandomAgent`).
    Random { seed: u64 },
    /// Determinized MCTS with random-playout leaves (`agents.RolloutAgent`).
    Rollout {
        params: SearchParams,
        rollouts: u32,
        seed: u64,
    },
    /// Single-observer ISMCTS (`agents.IsmctsAgent`).
    Ismcts { params: IsmctsParams, seed: u64 },
    /// Perfect-information Monte Carlo with an exact solver
    /// (`pimc_agent.PimcAgent`).
    Pimc { params: PimcParams, seed: u64 },
    /// ISMCTS whose root children get network `net`'s policy for the
    /// mover's own view as a prior (`agents.GuidedIsmctsAgent`): one
    /// network evaluation per decision, then the search. With
    /// [`Rollout::Network`](crate::ismcts::Rollout::Network) every
    /// iteration's new node is valued by the network too
    /// ([`crate::leaf_ismcts`]), one leaf in flight per round.
    GuidedIsmcts {
        net: usize,
        params: IsmctsParams,
        seed: u64,
    },
}

impl SeatAgent {
    /// The network whose queue this agent's leaves go to, if any.
    pub fn network(&self) -> Option<usize> {
        match self {
            SeatAgent::Network { net, .. } | SeatAgent::GuidedIsmcts { net, .. } => Some(*net),
            _ => None,
        }
    }
}

/// Everything the arena engine needs to start.
#[derive(Clone, Debug)]
pub struct ArenaConfig {
    pub threads: usize,
    /// Rounds each worker keeps in flight.
    pub games_per_thread: usize,
    pub max_batch: usize,
    pub pipeline_depth: usize,
    /// Answers cached per worker and network; 0 disables the cache.
    pub cache_entries: usize,
    /// Networks (leaf queues): a network agent's `net` is below this.
    pub networks: usize,
    /// The start positions, all at the same table.
    pub deals: Vec<Round>,
    /// The agent index at each seat, one entry per seating of every deal.
    pub seatings: Vec<Vec<usize>>,
    pub agents: Vec<SeatAgent>,
    /// Record every searched decision as training examples (the arena as a
    /// teacher); None plays as the duplicate arena does.
    pub record: Option<Recording>,
}

impl ArenaConfig {
    /// Rounds in the schedule: every deal in every seating. Round `i` is
    /// deal `i / seatings` in seating `i % seatings`.
    pub fn rounds(&self) -> u64 {
        self.deals.len() as u64 * self.seatings.len() as u64
    }

    pub fn validate(&self) -> SearchResult<()> {
        let bad = |m: String| Err(SearchError::InvalidConfig(m));
        check_workers(self.threads, self.games_per_thread)?;
        check_batches(self.max_batch, self.pipeline_depth)?;
        if self.networks > 64 {
            return bad(format!("at most 64 networks, got {}", self.networks));
        }
        let Some(first) = self.deals.first() else {
            return bad("at least one deal is needed".into());
        };
        let players = first.num_players();
        for (d, deal) in self.deals.iter().enumerate() {
            if deal.num_players() != players || deal.cards() != first.cards() {
                return bad(format!("deal {d} is not at the table of deal 0"));
            }
            if deal.is_over() {
                return bad(format!("deal {d} is already over"));
            }
        }
        if let Some(recording) = &self.record {
            recording.validate()?;
        }
        if self.agents.is_empty() {
            return bad("at least one agent is needed".into());
        }
        if self.seatings.is_empty() {
            return bad("at least one seating is needed".into());
        }
        for (s, seating) in self.seatings.iter().enumerate() {
            if seating.len() != players {
                return bad(format!(
                    "seating {s} has {} seats, the table has {players}",
                    seating.len()
                ));
            }
            if let Some(&k) = seating.iter().find(|&&k| k >= self.agents.len()) {
                return bad(format!(
                    "seating {s} names agent {k}, there are {}",
                    self.agents.len()
                ));
            }
        }
        for (k, agent) in self.agents.iter().enumerate() {
            if let Some(net) = agent.network().filter(|&net| net >= self.networks) {
                return bad(format!(
                    "agent {k} uses network {net}, there are {}",
                    self.networks
                ));
            }
            match agent {
                SeatAgent::Network { params, .. } | SeatAgent::Rollout { params, .. } => {
                    params.validate()?
                }
                SeatAgent::Ismcts { params, .. } | SeatAgent::GuidedIsmcts { params, .. } => {
                    params.validate()?
                }
                SeatAgent::Pimc { params, .. } => params.validate()?,
                SeatAgent::Heuristic | SeatAgent::Random { .. } => {}
            }
        }
        Ok(())
    }
}

/// One finished round of the schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct ArenaRound {
    /// Its index in the schedule (deal * seatings + seating).
    pub index: u64,
    /// The round played to the end.
    pub end: Round,
    /// Its searched decisions as examples, when the arena records.
    pub examples: Option<ExampleColumns>,
}

struct ArenaShared {
    config: ArenaConfig,
    queues: Vec<LeafQueue>,
    crew: Crew,
    next_round: AtomicU64,
    results: Mutex<Vec<ArenaRound>>,
    counts: SharedCounts,
}

impl Host for ArenaShared {
    fn crew(&self) -> &Crew {
        &self.crew
    }
    fn queues(&self) -> &[LeafQueue] {
        &self.queues
    }
}

/// Counters of a running arena engine.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ArenaStats {
    pub counts: WorkerCounts,
    /// Leaves handed to the networks, all queues.
    pub leaves_evaluated: u64,
    pub batches: u64,
    pub workers_running: u64,
}

/// The arena engine. Dropping it stops the workers.
pub struct ArenaEngine {
    shared: Arc<ArenaShared>,
    workers: WorkerPool,
    /// Recorded rounds waiting for an earlier one (see [`Self::take_examples`]).
    recorded: Mutex<InOrder>,
}

impl ArenaEngine {
    /// Validates the configuration and starts the workers.
    pub fn start(config: ArenaConfig) -> SearchResult<ArenaEngine> {
        config.validate()?;
        let threads = config.threads;
        let mut receivers: Vec<Vec<Receiver<AnswerMsg>>> = (0..threads).map(|_| vec![]).collect();
        let mut queues = Vec::with_capacity(config.networks);
        for _ in 0..config.networks {
            let (senders, rxs): (Vec<_>, Vec<_>) = (0..threads).map(|_| unbounded()).unzip();
            for (w, rx) in rxs.into_iter().enumerate() {
                receivers[w].push(rx);
            }
            queues.push(LeafQueue::new(
                config.max_batch,
                config.pipeline_depth,
                senders,
            )?);
        }
        let shared = Arc::new(ArenaShared {
            queues,
            crew: Crew::new("arena", threads),
            next_round: AtomicU64::new(0),
            results: Mutex::new(Vec::new()),
            counts: SharedCounts::default(),
            config,
        });
        let workers = WorkerPool::start("blob-arena", &shared, receivers, |id, shared, rxs| {
            ArenaWorker::new(id, shared, rxs).run()
        })?;
        Ok(ArenaEngine {
            shared,
            workers,
            recorded: Mutex::new(InOrder::default()),
        })
    }

    pub fn config(&self) -> &ArenaConfig {
        &self.shared.config
    }

    /// The leaf queue of network `net`.
    pub fn queue(&self, net: usize) -> SearchResult<&LeafQueue> {
        self.shared.queues.get(net).ok_or_else(|| {
            SearchError::InvalidConfig(format!(
                "no network {net}: the arena has {}",
                self.shared.queues.len()
            ))
        })
    }

    /// True once every round is played (or the engine stopped) and every
    /// worker has exited. A worker failure is an error.
    pub fn is_finished(&self) -> bool {
        self.shared.crew.is_finished()
    }

    /// Waits up to `timeout` for a batch of network `net`. None when nothing
    /// came (or the engine finished).
    pub fn next_batch(
        &self,
        net: usize,
        max_rows: usize,
        timeout: Duration,
    ) -> SearchResult<Option<Ticket>> {
        self.shared.crew.check_failure()?;
        let queue = self.queue(net)?;
        self.shared.crew.next_batch(queue, max_rows, timeout)
    }

    /// Answers a batch of network `net`.
    pub fn submit(
        &self,
        net: usize,
        ticket: &mut Ticket,
        policy: &[f32],
        values: &[f32],
    ) -> SearchResult<()> {
        self.queue(net)?.submit(ticket, policy, values)
    }

    /// Takes the rounds finished since the last call (in no set order), or
    /// the failure of a worker.
    pub fn take_results(&self) -> SearchResult<Vec<ArenaRound>> {
        self.shared.crew.check_failure()?;
        Ok(std::mem::take(
            &mut *self
                .shared
                .results
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        ))
    }

    /// For an engine that records: the examples of the rounds finished since
    /// the last call, in schedule order, a round that finished before an
    /// earlier one held back until that one is in (so the rounds handed out
    /// are always a prefix of the schedule). Consumes the finished rounds as
    /// [`Self::take_results`] does: use one or the other.
    pub fn take_examples(&self) -> SearchResult<ExampleColumns> {
        if self.shared.config.record.is_none() {
            return Err(SearchError::InvalidConfig(
                "this arena does not record: start it with a Recording".into(),
            ));
        }
        let finished = self.take_results()?;
        let mut order = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        for round in finished {
            order.add(round.index, round.examples.unwrap_or_default());
        }
        Ok(order.take_ready())
    }

    pub fn stats(&self) -> ArenaStats {
        let (mut rows, mut batches) = (0, 0);
        for q in &self.shared.queues {
            let s = q.stats();
            rows += s.rows;
            batches += s.batches;
        }
        ArenaStats {
            counts: self.shared.counts.snapshot(),
            leaves_evaluated: rows,
            batches,
            workers_running: self.shared.crew.running(),
        }
    }

    /// Stops the workers and waits for them.
    pub fn close(&self) {
        self.workers.close();
    }

    pub fn is_closed(&self) -> bool {
        self.workers.is_closed()
    }
}

/// Serves every network's batches with Rust evaluators (`evaluators[net]`)
/// until the engine finishes: the test stand-in for the Python server.
pub fn serve_arena(
    engine: &ArenaEngine,
    evaluators: &mut [&mut dyn crate::evaluator::Evaluator],
    max_rows: usize,
) -> SearchResult<u64> {
    let mut batches = 0;
    while !engine.is_finished() {
        if evaluators.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        for (net, evaluator) in evaluators.iter_mut().enumerate() {
            let Some(mut ticket) = engine.next_batch(net, max_rows, Duration::from_millis(1))?
            else {
                continue;
            };
            answer_batch(engine.queue(net)?, &mut ticket, &mut **evaluator)?;
            batches += 1;
        }
    }
    engine.shared.crew.check_failure()?;
    Ok(batches)
}
