//! One self-play worker: its event loop, and the rounds it keeps in flight
//! (dealing, searching each decision, playing, recording examples).
//!
//! A worker never waits for one answer: a tree with leaves out is parked and
//! the worker serves other trees and rounds. Each tree searches in waves of
//! at most `max_pending_per_tree` leaves and starts the next wave only when
//! the current one is fully answered. Every random choice of round `id` is
//! drawn from `(seed, id)`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use blob_core::game::{Game, GameContext};
use blob_core::rng::mix_seed;
use blob_core::{NUM_ACTIONS, Rng, Round};
use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::Shared;
use super::config::{deal_unit, next_game_round};
use super::counters::WorkerCounts;
use super::requests::{Requests, Waiter, wait_for_answers};
use super::waves::{deal_trees, start_waves, waves_done};
use crate::cache::CachedAnswer;
use crate::error::SearchResult;
use crate::examples::{DecisionRecord, ExampleColumns};
use crate::gumbel;
use crate::queue::AnswerMsg;
use crate::search::{choose_action, normalized};
use crate::tree::{ROOT, Tree};

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
    /// Whether the current decision gets the full search (always, unless
    /// playout-cap randomisation drew a fast one).
    full_search: bool,
    /// Gumbel search: the noise of the current decision, shared by its trees.
    gumbel_noise: Option<[f32; NUM_ACTIONS]>,
    records: Vec<DecisionRecord>,
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    rx: Receiver<AnswerMsg>,
    games: Vec<GameSlot>,
    requests: Requests,
    counts: WorkerCounts,
    done_examples: ExampleColumns,
}

impl Worker {
    pub(super) fn new(id: usize, shared: Arc<Shared>, rx: Receiver<AnswerMsg>) -> Worker {
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
                full_search: true,
                gumbel_noise: None,
                records: Vec::new(),
            })
            .collect();
        Worker {
            rx,
            games,
            requests: Requests::new(id, shared.config.cache_entries),
            counts: WorkerCounts::default(),
            done_examples: ExampleColumns::default(),
            shared,
        }
    }

    /// Plays until every round this worker may start is finished, the
    /// engine stops, or a round fails (the error is the engine's failure).
    pub(super) fn run(&mut self) -> SearchResult<()> {
        let result = self.event_loop();
        self.publish();
        result
    }

    fn event_loop(&mut self) -> SearchResult<()> {
        loop {
            if self.shared.crew.stopping() {
                return Ok(());
            }
            let mut progressed = false;
            while let Ok(msg) = self.rx.try_recv() {
                self.on_answers(msg);
                progressed = true;
            }
            progressed |= self.apply_ready();
            progressed |= self.requests.flush_outbox(&self.shared.queue);
            if self.requests.outbox_is_empty() {
                for g in 0..self.games.len() {
                    progressed |= self.step(g)?;
                    if !self.requests.outbox_is_empty() {
                        break;
                    }
                }
                progressed |= self.apply_ready();
            }
            self.publish();
            if self.requests.live() == 0 && self.games.iter().all(|g| g.state == SlotState::Retired)
            {
                return Ok(());
            }
            if !progressed && !self.wait_for_answers() {
                return Ok(());
            }
        }
    }

    /// Nothing to do but wait: waits a little for answers. While waiting on
    /// answers alone (nothing held back by a full queue) the worker counts
    /// as idle, so a partial batch goes out now. False when the engine has
    /// dropped the answer channel.
    fn wait_for_answers(&mut self) -> bool {
        let received = wait_for_answers(
            std::slice::from_ref(&self.shared.queue),
            !self.requests.outbox_is_empty(),
            self.requests.live(),
            |wait| self.rx.recv_timeout(wait),
        );
        match received {
            Ok(msg) => self.on_answers(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return false,
        }
        true
    }

    /// Moves finished examples and counters to the shared state.
    fn publish(&mut self) {
        self.requests.count_cache(&mut self.counts);
        if !self.done_examples.is_empty() {
            self.counts.examples += self.done_examples.len() as u64;
            let mut out = self
                .shared
                .examples
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            out.append(&mut self.done_examples);
        }
        self.shared.counts.publish(&mut self.counts);
    }

    fn on_answers(&mut self, msg: AnswerMsg) {
        let (games, counts) = (&mut self.games, &mut self.counts);
        let shared = &*self.shared;
        let stray = self.requests.on_answers(&shared.queue, msg, |w, answer| {
            resolve(games, shared, counts, w, answer)
        });
        self.counts.stray_answers += stray;
    }

    fn apply_ready(&mut self) -> bool {
        let (games, counts) = (&mut self.games, &mut self.counts);
        let shared = &*self.shared;
        self.requests
            .apply_ready(|w, answer| resolve(games, shared, counts, w, answer))
    }

    // ---- rounds and decisions -------------------------------------------

    fn start_round(&mut self, g: usize) -> SearchResult<()> {
        let cfg = &self.shared.config;
        if cfg.full_games
            && let Some(game) = self.games[g].game.as_ref().filter(|game| !game.is_over())
        {
            let (round, id, rng) = next_game_round(game, cfg.seed, self.games[g].game_id);
            self.begin_round(g, round, id, rng);
            return Ok(());
        }
        let id = self.shared.next_round.fetch_add(1, Ordering::Relaxed);
        if cfg.rounds.is_some_and(|limit| id >= limit) {
            self.games[g].state = SlotState::Retired;
            return Ok(());
        }
        let dealt = deal_unit(&cfg.tables, cfg.full_games, cfg.seed, id)?;
        self.games[g].game = dealt.game;
        self.games[g].game_id = id;
        self.begin_round(g, dealt.round, dealt.round_id, dealt.rng);
        Ok(())
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
    fn step(&mut self, g: usize) -> SearchResult<bool> {
        let mut progressed = false;
        loop {
            match self.games[g].state {
                SlotState::Retired => return Ok(progressed),
                SlotState::Idle => {
                    self.start_round(g)?;
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
                    self.counts.forced_moves += 1;
                    progressed = true;
                    continue;
                }
                self.begin_search(g)?;
                progressed = true;
            }
            progressed |= self.select_leaves(g);
            if !self.search_done(g) {
                return Ok(progressed);
            }
            self.finish_decision(g);
            progressed = true;
        }
    }

    /// Deals the hidden cards once per tree, as the player to move sees
    /// them. A round with no consistent deal is an error, never a silent
    /// search of the real cards. Gumbel search draws the decision's noise
    /// here (after the deals, from the round's stream) for all its trees.
    fn begin_search(&mut self, g: usize) -> SearchResult<()> {
        let params = &self.shared.config.params;
        let d = params.determinizations as usize;
        let game = &mut self.games[g];
        let seat = game.round.current_player().unwrap_or(0);
        // Drawn only with a playout cap, so that a run without one keeps
        // its random stream (and its examples) exactly.
        game.full_search = match &params.playout_cap {
            Some(cap) => game.rng.unit_f64() < cap.full_fraction as f64,
            None => true,
        };
        deal_trees(
            &mut game.trees,
            &game.round,
            seat,
            d,
            &params.inference,
            &mut game.rng,
        )?;
        game.gumbel_noise = params.gumbel.map(|gp| {
            let legal = game.round.legal_actions();
            gumbel::sample_gumbel(&mut game.rng, legal, gp.gumbel_scale)
        });
        if let Some(noise) = &game.gumbel_noise {
            game.trees.iter_mut().for_each(|t| t.set_root_gumbel(noise));
        }
        game.searching = true;
        Ok(())
    }

    fn search_done(&self, g: usize) -> bool {
        waves_done(&self.games[g].trees, self.budget(g))
    }

    /// Simulations per tree of game `g`'s current decision.
    fn budget(&self, g: usize) -> u32 {
        let params = &self.shared.config.params;
        match (&params.playout_cap, self.games[g].full_search) {
            (Some(cap), false) => cap.fast_simulations,
            _ => params.simulations,
        }
    }

    /// Starts a wave on every tree of game `g` with no leaf outstanding.
    fn select_leaves(&mut self, g: usize) -> bool {
        let budget = self.budget(g);
        let game = &mut self.games[g];
        start_waves(
            &mut self.requests,
            &self.shared.queue,
            g,
            &mut game.trees,
            &self.shared.config.params,
            budget,
            (game.context, game.context_key),
            &mut self.counts,
        )
    }

    fn finish_decision(&mut self, g: usize) {
        let params = &self.shared.config.params;
        let game = &mut self.games[g];
        let mut visits = [0.0f32; NUM_ACTIONS];
        let mut priors = [0.0f32; NUM_ACTIONS];
        for tree in &game.trees {
            tree.add_root_visits(&mut visits);
            tree.add_root_priors(&mut priors);
        }
        let legal = game.round.legal_actions();
        // Gumbel search: the improved policy is the target and the noise
        // already chose the move (it replaces the temperature).
        let gumbel = match (&params.gumbel, &game.gumbel_noise) {
            (Some(gp), Some(noise)) => gumbel::decide(&game.trees, noise, gp),
            _ => None,
        };
        let (policy, action) = match gumbel {
            Some((action, policy)) => (policy, action),
            None => {
                let temperature = if game.move_number < params.temperature_moves {
                    params.temperature
                } else {
                    0.0
                };
                let action = choose_action(&visits, &priors, temperature, &mut game.rng);
                (normalized(&visits), action)
            }
        };
        // A fast search's visits are no target: an all-zero policy, which
        // the trainer skips (its value targets are kept).
        let policy = if game.full_search {
            policy
        } else {
            self.counts.fast_decisions += 1;
            [0.0; NUM_ACTIONS]
        };
        let record = DecisionRecord {
            state: game.round,
            mask: legal.to_mask(),
            policy,
            move_number: game.move_number as u16,
        };
        debug_assert!(legal.contains(action));
        game.records.push(record);
        game.play(action);
        game.searching = false;
        self.counts.decisions += 1;
    }

    fn finish_round(&mut self, g: usize) {
        let game = &mut self.games[g];
        for r in &game.records {
            self.done_examples
                .push_decision(r, &game.round, game.context.as_ref(), game.round_id);
        }
        game.records.clear();
        game.state = SlotState::Idle;
        self.counts.rounds += 1;
    }
}

/// Expands the leaf `w` waited on with `answer` (and adds root noise when
/// the leaf is a root).
fn resolve(
    games: &mut [GameSlot],
    shared: &Shared,
    counts: &mut WorkerCounts,
    w: Waiter,
    answer: &CachedAnswer,
) {
    let params = &shared.config.params;
    let game = &mut games[w.game as usize];
    let tree = &mut game.trees[w.tree as usize];
    tree.expand_with_priors(w.node, &answer.priors, &answer.values);
    counts.simulations += 1;
    // Gumbel search replaces the Dirichlet noise with its own; a fast
    // search (playout cap) plays without noise, as KataGo's do.
    if w.node == ROOT
        && params.dirichlet_fraction > 0.0
        && params.gumbel.is_none()
        && game.full_search
    {
        let mut noise_rng = Rng::new(mix_seed(&[
            shared.config.seed,
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
