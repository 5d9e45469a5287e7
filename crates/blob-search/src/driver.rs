//! The self-play engine: a rayon pool of workers, each owning many rounds in
//! flight, all feeding one [`LeafQueue`].
//!
//! A worker never waits for one answer: a tree with leaves out is parked and
//! the worker serves other trees and rounds. Each tree searches in waves of
//! at most `max_pending_per_tree` leaves and starts the next wave only when
//! the current one is fully answered; answers from the network, from the
//! cache, or shared with another tree's identical request all land at the
//! same point, so the tree's course depends only on the answers, never on
//! their timing. Every random choice of round `id` is drawn from
//! `(seed, id)`, so with a deterministic evaluator a round's examples are the
//! same on every run, whatever the thread count.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blob_core::determinize::determinize;
use blob_core::game::{Game, GameContext};
use blob_core::observation::encode_observation;
use blob_core::rng::mix_seed;
use blob_core::round::validate_table;
use blob_core::{NUM_ACTIONS, Rng, Round, Suit};
use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};

use crate::cache::{AnswerCache, CachedAnswer, KeyMap, MAX_LEGAL, info_key};
use crate::error::{SearchError, SearchResult};
use crate::examples::{DecisionRecord, ExampleColumns};
use crate::params::SearchParams;
use crate::queue::{AnswerMsg, Handle, LeafQueue, PushError, QueueStats, Ticket};
use crate::search::{choose_action, normalized};
use crate::tree::{ROOT, Selection, Tree, masked_softmax};

/// One kind of round the engine deals, with its relative weight.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    pub players: usize,
    pub cards: usize,
    pub weight: f64,
}

/// Everything the engine needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Worker threads of the rayon pool.
    pub threads: usize,
    /// Rounds each worker keeps in flight.
    pub games_per_thread: usize,
    pub params: SearchParams,
    /// Round kinds to deal, drawn by weight for every round.
    pub tables: Vec<TableSpec>,
    pub seed: u64,
    /// Rows per batch buffer (the largest batch).
    pub max_batch: usize,
    /// Batch buffers in the ring: batches being filled, evaluated and
    /// consumed at once.
    pub pipeline_depth: usize,
    /// Rounds to play before the workers stop (games, with `full_games`);
    /// None plays until closed.
    pub rounds: Option<u64>,
    /// Play whole games (hand-size schedule, trump and dealer rotation,
    /// running totals in the observations) instead of single rounds; a
    /// table's `cards` is then the starting hand size, and the round id of
    /// round r of game g is `g * 64 + r`.
    pub full_games: bool,
    /// Answers cached per worker; 0 disables the cache.
    pub cache_entries: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threads: 2,
            games_per_thread: 64,
            params: SearchParams::medium(),
            tables: vec![TableSpec {
                players: 4,
                cards: 5,
                weight: 1.0,
            }],
            seed: 0,
            max_batch: 512,
            pipeline_depth: 3,
            rounds: None,
            cache_entries: 1 << 16,
            full_games: false,
        }
    }
}

impl EngineConfig {
    pub fn validate(&self) -> SearchResult<()> {
        let bad = |m: String| Err(SearchError::InvalidConfig(m));
        if !(1..=1024).contains(&self.threads) {
            return bad(format!("threads must be in 1..=1024, got {}", self.threads));
        }
        if !(1..=100_000).contains(&self.games_per_thread) {
            return bad(format!(
                "games per thread must be in 1..=100000, got {}",
                self.games_per_thread
            ));
        }
        self.params.validate()?;
        if self.params.simulations < 2 {
            return bad("self-play needs at least 2 simulations per tree".into());
        }
        if self.tables.is_empty() {
            return bad("at least one table (players, cards) is needed".into());
        }
        for t in &self.tables {
            validate_table(t.players, t.cards)?;
            if !(t.weight.is_finite() && t.weight > 0.0) {
                return bad(format!("table weight must be positive, got {}", t.weight));
            }
        }
        if self.max_batch == 0 || self.max_batch > crate::queue::MAX_BATCH {
            return bad(format!(
                "max batch must be in 1..={}, got {}",
                crate::queue::MAX_BATCH,
                self.max_batch
            ));
        }
        if !(2..=64).contains(&self.pipeline_depth) {
            return bad(format!(
                "pipeline depth must be in 2..=64, got {}",
                self.pipeline_depth
            ));
        }
        Ok(())
    }
}

/// Counters of a running engine.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineStats {
    pub rounds: u64,
    pub examples: u64,
    pub decisions: u64,
    pub forced_moves: u64,
    pub simulations: u64,
    /// Leaves answered by the evaluator (rows of submitted batches).
    pub leaves_evaluated: u64,
    pub batches: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Leaves that waited on an identical request already queued.
    pub shared_requests: u64,
    /// Leaves resolved exactly at the end of the round.
    pub terminal_leaves: u64,
    /// Answers that matched no outstanding request (must stay 0).
    pub stray_answers: u64,
    pub queue_depth: u64,
    pub tickets_outstanding: u64,
    pub workers_running: u64,
}

#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    examples: AtomicU64,
    decisions: AtomicU64,
    forced_moves: AtomicU64,
    simulations: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    shared_requests: AtomicU64,
    terminal_leaves: AtomicU64,
    stray_answers: AtomicU64,
}

struct Shared {
    config: EngineConfig,
    queue: LeafQueue,
    stop: AtomicBool,
    next_round: AtomicU64,
    examples: Mutex<ExampleColumns>,
    counters: Counters,
    workers_running: AtomicUsize,
    failure: Mutex<Option<String>>,
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
            counters: Counters::default(),
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
                    Worker::new(id, Arc::clone(&shared), rx).run();
                }));
                if let Err(panic) = result {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    *shared.failure.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(format!("self-play worker {id} failed: {msg}"));
                    shared.stop.store(true, Ordering::Relaxed);
                }
                shared.workers_running.fetch_sub(1, Ordering::AcqRel);
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
    pub fn submit(&self, ticket: u64, policy: &[f32], values: &[f32]) -> SearchResult<()> {
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
        let c = &self.shared.counters;
        let q: QueueStats = self.shared.queue.stats();
        EngineStats {
            rounds: c.rounds.load(Ordering::Relaxed),
            examples: c.examples.load(Ordering::Relaxed),
            decisions: c.decisions.load(Ordering::Relaxed),
            forced_moves: c.forced_moves.load(Ordering::Relaxed),
            simulations: c.simulations.load(Ordering::Relaxed),
            leaves_evaluated: q.rows,
            batches: q.batches,
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            cache_misses: c.cache_misses.load(Ordering::Relaxed),
            shared_requests: c.shared_requests.load(Ordering::Relaxed),
            terminal_leaves: c.terminal_leaves.load(Ordering::Relaxed),
            stray_answers: c.stray_answers.load(Ordering::Relaxed),
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
        let Some(ticket) = engine.next_batch(max_rows, Duration::from_millis(2))? else {
            continue;
        };
        engine
            .queue()
            .answer_with(ticket.generation, |batch, policy, values| {
                evaluator.evaluate(batch, policy, values);
                Ok(())
            })?;
        batches += 1;
    }
    Ok(batches)
}

// ---------------------------------------------------------------------------
// Workers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Idle,
    Playing,
    Retired,
}

/// One round in flight and the search of its current decision.
struct GameSlot {
    state: SlotState,
    round: Round,
    round_id: u64,
    /// The whole game in full-game mode; it mirrors every move of `round`.
    game: Option<Game>,
    game_id: u64,
    /// What observations add in full-game mode, and its hash for cache keys.
    context: Option<GameContext>,
    context_key: u64,
    move_number: u32,
    rng: Rng,
    trees: Vec<Tree>,
    searching: bool,
    records: Vec<DecisionRecord>,
}

/// A leaf waiting for an answer: which tree and node.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    game: u32,
    tree: u32,
    node: u32,
}

/// A request for one information state, shared by every leaf that has it.
struct Request {
    key: u64,
    waiters: Vec<Waiter>,
    /// Kept for a request that could not be queued yet (queue full).
    state: Round,
    observer: u8,
    context: Option<GameContext>,
}

struct Worker {
    id: usize,
    shared: Arc<Shared>,
    rx: Receiver<AnswerMsg>,
    games: Vec<GameSlot>,
    requests: Vec<Option<Request>>,
    free_requests: Vec<u32>,
    live_requests: usize,
    inflight: KeyMap<u32>,
    /// Requests that found the queue full, oldest first.
    outbox: std::collections::VecDeque<u32>,
    /// Cache hits waiting to be applied at the end of the current step.
    ready: Vec<(Waiter, CachedAnswer)>,
    cache: AnswerCache,
    scratch: Vec<(u8, f32)>,
    local: LocalCounters,
    done_examples: ExampleColumns,
}

#[derive(Default)]
struct LocalCounters {
    decisions: u64,
    forced_moves: u64,
    simulations: u64,
    shared_requests: u64,
    terminal_leaves: u64,
    stray_answers: u64,
    reported_hits: u64,
    reported_misses: u64,
}

impl Worker {
    fn new(id: usize, shared: Arc<Shared>, rx: Receiver<AnswerMsg>) -> Worker {
        let n = shared.config.games_per_thread;
        let blank = Round::deal(3, 1, 0, None, &mut Rng::new(0)).expect("valid table");
        let games = (0..n)
            .map(|_| GameSlot {
                state: SlotState::Idle,
                round: blank,
                round_id: 0,
                game: None,
                game_id: 0,
                context: None,
                context_key: 0,
                move_number: 0,
                rng: Rng::new(0),
                trees: Vec::new(),
                searching: false,
                records: Vec::new(),
            })
            .collect();
        let cache = AnswerCache::new(shared.config.cache_entries);
        Worker {
            id,
            rx,
            games,
            requests: Vec::new(),
            free_requests: Vec::new(),
            live_requests: 0,
            inflight: KeyMap::default(),
            outbox: Default::default(),
            ready: Vec::new(),
            cache,
            scratch: Vec::with_capacity(NUM_ACTIONS),
            local: LocalCounters::default(),
            done_examples: ExampleColumns::default(),
            shared,
        }
    }

    fn run(&mut self) {
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let mut progressed = false;
            while let Ok(msg) = self.rx.try_recv() {
                self.on_answers(&msg);
                progressed = true;
            }
            progressed |= self.apply_ready();
            progressed |= self.flush_outbox();
            if self.outbox.is_empty() {
                for g in 0..self.games.len() {
                    progressed |= self.step(g);
                    if !self.outbox.is_empty() {
                        break;
                    }
                }
                progressed |= self.apply_ready();
            }
            self.publish();
            if self.live_requests == 0 && self.games.iter().all(|g| g.state == SlotState::Retired) {
                break;
            }
            if !progressed {
                // Waiting on answers alone (nothing held back by a full
                // queue): tell the queue, so a partial batch goes out now.
                let idle = self.outbox.is_empty() && self.live_requests > 0;
                let wait = if self.outbox.is_empty() {
                    Duration::from_millis(2)
                } else {
                    Duration::from_micros(200)
                };
                if idle {
                    self.shared.queue.set_idle(true);
                }
                let received = self.rx.recv_timeout(wait);
                if idle {
                    self.shared.queue.set_idle(false);
                }
                match received {
                    Ok(msg) => self.on_answers(&msg),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        self.publish();
    }

    /// Moves finished examples and counters to the shared state.
    fn publish(&mut self) {
        let c = &self.shared.counters;
        let l = &mut self.local;
        c.decisions
            .fetch_add(std::mem::take(&mut l.decisions), Ordering::Relaxed);
        c.forced_moves
            .fetch_add(std::mem::take(&mut l.forced_moves), Ordering::Relaxed);
        c.simulations
            .fetch_add(std::mem::take(&mut l.simulations), Ordering::Relaxed);
        c.shared_requests
            .fetch_add(std::mem::take(&mut l.shared_requests), Ordering::Relaxed);
        c.terminal_leaves
            .fetch_add(std::mem::take(&mut l.terminal_leaves), Ordering::Relaxed);
        c.stray_answers
            .fetch_add(std::mem::take(&mut l.stray_answers), Ordering::Relaxed);
        c.cache_hits
            .fetch_add(self.cache.hits - l.reported_hits, Ordering::Relaxed);
        c.cache_misses
            .fetch_add(self.cache.misses - l.reported_misses, Ordering::Relaxed);
        l.reported_hits = self.cache.hits;
        l.reported_misses = self.cache.misses;
        if !self.done_examples.is_empty() {
            let n = self.done_examples.len() as u64;
            let mut out = self
                .shared
                .examples
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            out.append(&mut self.done_examples);
            drop(out);
            c.examples.fetch_add(n, Ordering::Relaxed);
        }
    }

    // ---- rounds and decisions -------------------------------------------

    fn start_round(&mut self, g: usize) {
        let cfg = &self.shared.config;
        if cfg.full_games
            && let Some(game) = self.games[g].game.as_ref().filter(|game| !game.is_over())
        {
            let (round, index) = (*game.round(), game.round_index() as u64);
            let id = self.games[g].game_id * 64 + index;
            let rng = Rng::new(mix_seed(&[cfg.seed, id, 1]));
            self.begin_round(g, round, id, rng);
            return;
        }
        let id = self.shared.next_round.fetch_add(1, Ordering::Relaxed);
        if cfg.rounds.is_some_and(|limit| id >= limit) {
            self.games[g].state = SlotState::Retired;
            return;
        }
        let mut rng = Rng::new(mix_seed(&[cfg.seed, id]));
        let total: f64 = cfg.tables.iter().map(|t| t.weight).sum();
        let mut pick = rng.unit_f64() * total;
        let mut table = &cfg.tables[0];
        for t in &cfg.tables {
            table = t;
            if pick < t.weight {
                break;
            }
            pick -= t.weight;
        }
        let dealer = rng.below(table.players as u32) as usize;
        if cfg.full_games {
            let game = Game::new(table.players, table.cards, dealer, rng.next_u64())
                .expect("validated table");
            let round = *game.round();
            self.games[g].game = Some(game);
            self.games[g].game_id = id;
            let rng = Rng::new(mix_seed(&[cfg.seed, id * 64, 1]));
            self.begin_round(g, round, id * 64, rng);
            return;
        }
        let trump = Suit::from_index(rng.below(5) as u8).ok();
        let round = Round::deal(table.players, table.cards, dealer, trump, &mut rng)
            .expect("validated table");
        self.begin_round(g, round, id, rng);
    }

    fn begin_round(&mut self, g: usize, round: Round, round_id: u64, rng: Rng) {
        let game = &mut self.games[g];
        game.state = SlotState::Playing;
        game.round = round;
        game.round_id = round_id;
        game.move_number = 0;
        game.rng = rng;
        game.searching = false;
        game.records.clear();
        game.context = game.game.as_ref().map(Game::context);
        game.context_key = game.context.as_ref().map_or(0, context_key);
    }

    /// Advances game `g` as far as it can go without waiting. Returns
    /// whether anything happened.
    fn step(&mut self, g: usize) -> bool {
        let mut progressed = false;
        loop {
            match self.games[g].state {
                SlotState::Retired => return progressed,
                SlotState::Idle => {
                    self.start_round(g);
                    progressed = true;
                    continue;
                }
                SlotState::Playing => {}
            }
            if !self.games[g].searching {
                let game = &mut self.games[g];
                if game.round.is_over() {
                    self.finish_round(g);
                    progressed = true;
                    continue;
                }
                let legal = game.round.legal_actions();
                if legal.len() == 1 {
                    game.play(legal.0.trailing_zeros() as usize);
                    self.local.forced_moves += 1;
                    progressed = true;
                    continue;
                }
                self.begin_search(g);
                progressed = true;
            }
            progressed |= self.select_leaves(g);
            if !self.search_done(g) {
                return progressed;
            }
            self.finish_decision(g);
            progressed = true;
        }
    }

    fn begin_search(&mut self, g: usize) {
        let d = self.shared.config.params.determinizations as usize;
        let game = &mut self.games[g];
        let seat = game.round.current_player().unwrap_or(0);
        game.trees.truncate(d);
        for t in 0..d {
            let root = determinize(&game.round, seat, &mut game.rng);
            match game.trees.get_mut(t) {
                Some(tree) => tree.reset(root),
                None => game.trees.push(Tree::new(root)),
            }
        }
        game.searching = true;
    }

    fn search_done(&self, g: usize) -> bool {
        let s = self.shared.config.params.simulations;
        self.games[g]
            .trees
            .iter()
            .all(|t| t.pending() == 0 && t.root_visits() >= s)
    }

    /// Starts a wave on every tree of game `g` with no leaf outstanding.
    fn select_leaves(&mut self, g: usize) -> bool {
        let params = &self.shared.config.params;
        let (s, max_pending) = (params.simulations, params.max_pending_per_tree);
        let mut progressed = false;
        for t in 0..self.games[g].trees.len() {
            let tree = &self.games[g].trees[t];
            if tree.pending() > 0 || tree.root_visits() >= s {
                continue;
            }
            loop {
                let tree = &mut self.games[g].trees[t];
                if tree.pending() >= max_pending || tree.root_visits() + tree.pending() >= s {
                    break;
                }
                let observer = tree.observer();
                match tree.select(&self.shared.config.params) {
                    Selection::Leaf { node, state } => {
                        self.request(
                            Waiter {
                                game: g as u32,
                                tree: t as u32,
                                node,
                            },
                            state,
                            observer,
                        );
                    }
                    Selection::Terminal => {
                        self.local.terminal_leaves += 1;
                        self.local.simulations += 1;
                    }
                    Selection::Collision => break,
                }
                progressed = true;
            }
        }
        progressed
    }

    fn finish_decision(&mut self, g: usize) {
        let params = &self.shared.config.params;
        let game = &mut self.games[g];
        let mut visits = [0.0f32; NUM_ACTIONS];
        for tree in &game.trees {
            tree.add_root_visits(&mut visits);
        }
        let legal = game.round.legal_actions();
        let record = DecisionRecord {
            state: game.round,
            mask: legal.to_mask(),
            policy: normalized(&visits),
            move_number: game.move_number as u16,
        };
        let temperature = if game.move_number < params.temperature_moves {
            params.temperature
        } else {
            0.0
        };
        let action = choose_action(&visits, temperature, &mut game.rng);
        debug_assert!(legal.contains(action));
        game.records.push(record);
        game.play(action);
        game.searching = false;
        self.local.decisions += 1;
    }

    fn finish_round(&mut self, g: usize) {
        let game = &mut self.games[g];
        for r in &game.records {
            self.done_examples
                .push_decision(r, &game.round, game.context.as_ref(), game.round_id);
        }
        game.records.clear();
        game.state = SlotState::Idle;
        self.shared.counters.rounds.fetch_add(1, Ordering::Relaxed);
    }

    // ---- leaves, requests and answers -----------------------------------------

    /// Asks for the evaluation of leaf `state` from the observation of
    /// `observer` (the searching seat).
    fn request(&mut self, waiter: Waiter, state: Round, observer: usize) {
        let slot = &self.games[waiter.game as usize];
        let (context, key) = (slot.context, info_key(&state, observer, slot.context_key));
        if let Some(answer) = self.cache.get(key) {
            self.ready.push((waiter, *answer));
            return;
        }
        if let Some(&id) = self.inflight.get(&key)
            && let Some(req) = self.requests[id as usize].as_mut()
        {
            req.waiters.push(waiter);
            self.local.shared_requests += 1;
            return;
        }
        let id = match self.free_requests.pop() {
            Some(id) => id,
            None => {
                self.requests.push(None);
                (self.requests.len() - 1) as u32
            }
        };
        self.requests[id as usize] = Some(Request {
            key,
            waiters: vec![waiter],
            state,
            observer: observer as u8,
            context,
        });
        self.live_requests += 1;
        self.inflight.insert(key, id);
        if !self.outbox.is_empty() || !self.push_request(id) {
            self.outbox.push_back(id);
        }
    }

    /// Writes request `id` into the queue. False when the queue is full.
    fn push_request(&self, id: u32) -> bool {
        let Some(req) = self.requests[id as usize].as_ref() else {
            return true;
        };
        let state = &req.state;
        let worker = self.id as u32;
        let pushed = self.shared.queue.push(|row| {
            encode_observation(state, req.observer as usize, req.context.as_ref(), row.obs);
            *row.observer = req.observer;
            *row.mask = state.legal_actions().to_mask();
            *row.handle = Handle {
                worker,
                request: id,
            };
            *row.state = *state;
        });
        !matches!(pushed, Err(PushError::Full))
    }

    fn flush_outbox(&mut self) -> bool {
        let mut progressed = false;
        while let Some(&id) = self.outbox.front() {
            if !self.push_request(id) {
                break;
            }
            self.outbox.pop_front();
            progressed = true;
        }
        progressed
    }

    fn on_answers(&mut self, msg: &AnswerMsg) {
        let shared = Arc::clone(&self.shared);
        for answer in shared.queue.answers(msg) {
            let id = answer.handle.request;
            let Some(req) = self.requests.get_mut(id as usize).and_then(Option::take) else {
                self.local.stray_answers += 1;
                continue;
            };
            self.free_requests.push(id);
            self.live_requests -= 1;
            self.inflight.remove(&req.key);
            let legal = req.state.legal_actions();
            masked_softmax(answer.policy, legal, &mut self.scratch);
            let mut cached = CachedAnswer {
                priors: [0.0; MAX_LEGAL],
                values: [0.0; blob_core::MAX_PLAYERS],
            };
            for (slot, &(_, p)) in cached.priors.iter_mut().zip(&self.scratch) {
                *slot = p;
            }
            cached.values.copy_from_slice(answer.values);
            self.cache.insert(req.key, cached);
            for waiter in req.waiters {
                self.resolve(waiter, &cached);
            }
        }
        shared.queue.consumed(msg.generation);
    }

    fn apply_ready(&mut self) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        let ready = std::mem::take(&mut self.ready);
        for (waiter, answer) in &ready {
            self.resolve(*waiter, answer);
        }
        self.ready = ready;
        self.ready.clear();
        true
    }

    fn resolve(&mut self, w: Waiter, answer: &CachedAnswer) {
        let params = &self.shared.config.params;
        let game = &mut self.games[w.game as usize];
        let tree = &mut game.trees[w.tree as usize];
        tree.expand_with_priors(w.node, &answer.priors, &answer.values);
        self.local.simulations += 1;
        if w.node == ROOT && params.dirichlet_fraction > 0.0 {
            let mut noise_rng = Rng::new(mix_seed(&[
                self.shared.config.seed,
                game.round_id,
                game.move_number as u64,
                w.tree as u64,
            ]));
            tree.add_root_noise(
                &mut noise_rng,
                params.dirichlet_alpha,
                params.dirichlet_fraction,
            );
        }
    }
}

impl GameSlot {
    /// Plays `action` (legal now) in the round, and in the game around it.
    fn play(&mut self, action: usize) {
        self.round.apply_legal(action);
        self.move_number += 1;
        if let Some(game) = self.game.as_mut() {
            let applied = game.apply(action);
            debug_assert!(applied.is_ok(), "game and round diverged: {applied:?}");
        }
    }
}

/// A hash of the full-game context, mixed into cache keys so that answers
/// are only shared between positions with the same totals and rounds left.
fn context_key(ctx: &GameContext) -> u64 {
    let mut parts = [0u64; blob_core::MAX_PLAYERS + 2];
    for (p, t) in parts.iter_mut().zip(ctx.totals) {
        *p = t as u64;
    }
    parts[blob_core::MAX_PLAYERS] = ctx.rounds_left as u64;
    parts[blob_core::MAX_PLAYERS + 1] = ctx.total_rounds as u64 | 1 << 32;
    mix_seed(&parts)
}
