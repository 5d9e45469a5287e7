//! One arena worker: its event loop and the rounds it keeps in flight. The
//! loop is the self-play worker's (answers, cache hits, outbox, then step
//! every round as far as it goes), with one request book per network.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use blob_core::rng::mix_seed;
use blob_core::{NUM_ACTIONS, Rng, Round};
use crossbeam_channel::{Receiver, Select};

use super::pyseed::{decision_seed, python_choice};
use super::recording::RoundRecord;
use super::{ArenaRound, ArenaShared, SeatAgent};
use crate::cache::CachedAnswer;
use crate::driver::counters::WorkerCounts;
use crate::driver::requests::{Requests, Waiter, wait_for_answers};
use crate::driver::waves::{deal_trees, start_waves, waves_done};
use crate::error::SearchResult;
use crate::evaluator::RolloutEvaluator;
use crate::gumbel;
use crate::heuristic::heuristic_action;
use crate::inference::Inference;
use crate::ismcts::{Ismcts, Rollout};
use crate::leaf_ismcts::{LeafIsmcts, LeafRequest};
use crate::params::SearchParams;
use crate::pimc::Pimc;
use crate::queue::AnswerMsg;
use crate::search::{self, Information, Searcher};
use crate::tree::{ROOT, Tree};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Idle,
    Playing,
    Retired,
}

/// One round of the schedule in flight, and the network search of its
/// current decision.
struct Slot {
    state: SlotState,
    round: Round,
    index: u64,
    seating: usize,
    trees: Vec<Tree>,
    /// The network-valued ISMCTS search of the current decision, if its
    /// agent is one (`searching` is then that agent).
    leaf_search: Option<LeafIsmcts>,
    /// The network agent searching now, if any.
    searching: Option<usize>,
    /// The round's searched decisions, when the arena records.
    record: RoundRecord,
}

/// The `Waiter::tree` of a network-valued ISMCTS leaf (a slot has one such
/// search and at most one of its leaves out).
const LEAF_SEARCH: u32 = u32::MAX;

pub(super) struct ArenaWorker {
    shared: Arc<ArenaShared>,
    rxs: Vec<Receiver<AnswerMsg>>,
    slots: Vec<Slot>,
    /// One request book (and cache) per network.
    requests: Vec<Requests>,
    counts: WorkerCounts,
    finished: Vec<ArenaRound>,
    searcher: Searcher,
    ismcts: Ismcts,
    pimc: Pimc,
    /// The network search of a guided ISMCTS agent: one tree, one
    /// simulation (the root's evaluation, whose priors the ISMCTS uses).
    root_only: SearchParams,
}

/// The most visited action ([`search::most_visited`], ties to the higher
/// `tiebreak`, then the lowest id); None when nothing was visited (the
/// agents then fall back to the heuristic). Only legal root children can
/// have visits.
fn most_visited(
    round: &Round,
    visits: &[f32; NUM_ACTIONS],
    tiebreak: &[f32; NUM_ACTIONS],
) -> Option<usize> {
    let best = search::most_visited(visits, tiebreak);
    (visits[best] > 0.0 && round.legal_actions().contains(best)).then_some(best)
}

impl ArenaWorker {
    pub(super) fn new(
        id: usize,
        shared: Arc<ArenaShared>,
        rxs: Vec<Receiver<AnswerMsg>>,
    ) -> ArenaWorker {
        let blank = shared.config.deals[0];
        let slots = (0..shared.config.games_per_thread)
            .map(|_| Slot {
                state: SlotState::Idle,
                round: blank,
                index: 0,
                seating: 0,
                trees: Vec::new(),
                leaf_search: None,
                searching: None,
                record: RoundRecord::default(),
            })
            .collect();
        let requests = (0..shared.config.networks)
            .map(|_| Requests::new(id, shared.config.cache_entries))
            .collect();
        ArenaWorker {
            rxs,
            slots,
            requests,
            counts: WorkerCounts::default(),
            finished: Vec::new(),
            searcher: Searcher::new(),
            ismcts: Ismcts::new(),
            pimc: Pimc::new(),
            root_only: SearchParams::preset(1, 1).for_play(),
            shared,
        }
    }

    pub(super) fn run(&mut self) -> SearchResult<()> {
        let result = self.event_loop();
        self.publish();
        result
    }

    fn outboxes_empty(&self) -> bool {
        self.requests.iter().all(Requests::outbox_is_empty)
    }

    fn live(&self) -> usize {
        self.requests.iter().map(Requests::live).sum()
    }

    fn event_loop(&mut self) -> SearchResult<()> {
        loop {
            if self.shared.crew.stopping() {
                return Ok(());
            }
            let mut progressed = false;
            for net in 0..self.rxs.len() {
                while let Ok(msg) = self.rxs[net].try_recv() {
                    self.on_answers(net, msg);
                    progressed = true;
                }
            }
            progressed |= self.apply_ready();
            for (net, requests) in self.requests.iter_mut().enumerate() {
                progressed |= requests.flush_outbox(&self.shared.queues[net]);
            }
            if self.outboxes_empty() {
                for g in 0..self.slots.len() {
                    progressed |= self.step(g)?;
                    if !self.outboxes_empty() {
                        break;
                    }
                }
                progressed |= self.apply_ready();
            }
            self.publish();
            if self.live() == 0 && self.slots.iter().all(|s| s.state == SlotState::Retired) {
                return Ok(());
            }
            if !progressed && !self.wait_for_answers() {
                return Ok(());
            }
        }
    }

    /// Waits a little for answers from any network (as idle when nothing is
    /// held back, so partial batches go out). False when a channel closed.
    fn wait_for_answers(&mut self) -> bool {
        if self.rxs.is_empty() {
            return true;
        }
        let received = wait_for_answers(
            &self.shared.queues,
            !self.outboxes_empty(),
            self.live(),
            |wait| {
                let mut select = Select::new();
                for rx in &self.rxs {
                    select.recv(rx);
                }
                match select.select_timeout(wait) {
                    Ok(op) => {
                        let net = op.index();
                        Some(op.recv(&self.rxs[net]).map(|msg| (net, msg)))
                    }
                    Err(_) => None,
                }
            },
        );
        match received {
            Some(Ok((net, msg))) => self.on_answers(net, msg),
            Some(Err(_)) => return false,
            None => {}
        }
        true
    }

    fn publish(&mut self) {
        for requests in &mut self.requests {
            requests.count_cache(&mut self.counts);
        }
        if !self.finished.is_empty() {
            let mut out = self
                .shared
                .results
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            out.append(&mut self.finished);
        }
        self.shared.counts.publish(&mut self.counts);
    }

    fn on_answers(&mut self, net: usize, msg: AnswerMsg) {
        let (slots, counts) = (&mut self.slots, &mut self.counts);
        let stray = self.requests[net].on_answers(&self.shared.queues[net], msg, |w, answer| {
            resolve(slots, counts, w, answer)
        });
        self.counts.stray_answers += stray;
    }

    fn apply_ready(&mut self) -> bool {
        let (slots, counts) = (&mut self.slots, &mut self.counts);
        let mut progressed = false;
        for requests in &mut self.requests {
            progressed |= requests.apply_ready(|w, answer| resolve(slots, counts, w, answer));
        }
        progressed
    }

    // ---- rounds and decisions -------------------------------------------

    fn start_round(&mut self, g: usize) {
        let cfg = &self.shared.config;
        let index = self.shared.next_round.fetch_add(1, Ordering::Relaxed);
        let slot = &mut self.slots[g];
        if index >= cfg.rounds() {
            slot.state = SlotState::Retired;
            return;
        }
        let per_deal = cfg.seatings.len() as u64;
        slot.state = SlotState::Playing;
        slot.index = index;
        slot.round = cfg.deals[(index / per_deal) as usize];
        slot.seating = (index % per_deal) as usize;
        slot.leaf_search = None;
        slot.searching = None;
        slot.record.clear();
    }

    /// Advances round `g` as far as it goes without waiting.
    fn step(&mut self, g: usize) -> SearchResult<bool> {
        let mut progressed = false;
        loop {
            match self.slots[g].state {
                SlotState::Retired => return Ok(progressed),
                SlotState::Idle => {
                    self.start_round(g);
                    progressed = true;
                    continue;
                }
                SlotState::Playing => {}
            }
            if self.slots[g].searching.is_none() {
                let slot = &mut self.slots[g];
                let Some(seat) = slot.round.current_player() else {
                    let examples = (self.shared.config.record.as_ref())
                        .map(|rec| slot.record.examples(rec, slot.index, &slot.round));
                    self.finished.push(ArenaRound {
                        index: slot.index,
                        end: slot.round,
                        examples,
                    });
                    slot.state = SlotState::Idle;
                    self.counts.rounds += 1;
                    progressed = true;
                    continue;
                };
                let legal = slot.round.legal_actions();
                if legal.len() == 1 {
                    slot.round.apply_legal(legal.0.trailing_zeros() as usize);
                    slot.record.played();
                    self.counts.forced_moves += 1;
                    progressed = true;
                    continue;
                }
                let agent = self.shared.config.seatings[slot.seating][seat];
                progressed = true;
                if let Some(action) = self.decide_here(g, agent, seat)? {
                    self.slots[g].round.apply_legal(action);
                    self.counts.decisions += 1;
                    continue;
                }
            }
            progressed |= self.select_leaves(g)?;
            if !self.search_done(g) {
                return Ok(progressed);
            }
            self.finish_search(g)?;
            progressed = true;
        }
    }

    /// A Rust agent's action, decided now; for a network agent, starts its
    /// search (determinizations seeded as `SearchAgent` seeds them) and
    /// returns None.
    fn decide_here(&mut self, g: usize, agent: usize, seat: usize) -> SearchResult<Option<usize>> {
        let round = self.slots[g].round;
        let action = match &self.shared.config.agents[agent] {
            SeatAgent::Heuristic => {
                self.slots[g].record.played();
                heuristic_action(&round)
            }
            SeatAgent::Random { seed } => {
                let legal = round.legal_actions();
                let pick = python_choice(decision_seed(*seed, &round), legal.len());
                self.slots[g].record.played();
                legal.iter().nth(pick as usize).expect("pick < legal.len()")
            }
            SeatAgent::Rollout {
                params,
                rollouts,
                seed,
            } => {
                let seed = decision_seed(*seed, &round);
                let mut evaluator =
                    RolloutEvaluator::with_rollouts(mix_seed(&[seed, 1]), *rollouts);
                let outcome = self.searcher.search(
                    &round,
                    params,
                    Information::Imperfect,
                    None,
                    &mut evaluator,
                    &mut Rng::new(seed),
                );
                let chosen = most_visited(&round, &outcome.visits, &outcome.root_prior)
                    .unwrap_or_else(|| heuristic_action(&round));
                self.searched_move(g, &outcome.visits, &outcome.root_prior, chosen)
            }
            SeatAgent::Ismcts { params, seed } => {
                let mut rng = Rng::new(decision_seed(*seed, &round));
                let outcome = self.ismcts.search(&round, seat, params, &mut rng)?;
                let chosen = most_visited(&round, &outcome.visits, &[0.0; NUM_ACTIONS])
                    .unwrap_or_else(|| heuristic_action(&round));
                self.searched_move(g, &outcome.visits, &[0.0; NUM_ACTIONS], chosen)
            }
            SeatAgent::Pimc { params, seed } => {
                let mut rng = Rng::new(decision_seed(*seed, &round));
                let outcome = self.pimc.search(&round, seat, params, &mut rng)?;
                self.searched_move(g, &outcome.policy, &[0.0; NUM_ACTIONS], outcome.best_action)
            }
            SeatAgent::GuidedIsmcts { params, seed, .. } if params.rollout == Rollout::Network => {
                let rng = Rng::new(decision_seed(*seed, &round));
                let slot = &mut self.slots[g];
                slot.leaf_search = Some(LeafIsmcts::start(&round, seat, params, rng)?);
                slot.searching = Some(agent);
                return Ok(None);
            }
            SeatAgent::Network { seed, .. } | SeatAgent::GuidedIsmcts { seed, .. } => {
                // A guided ISMCTS agent's tree only evaluates its root, the
                // mover's own view whatever the world: one uniform world serves.
                let (worlds, inference) = match &self.shared.config.agents[agent] {
                    SeatAgent::Network { params, .. } => {
                        (params.determinizations as usize, &params.inference)
                    }
                    _ => (1, &Inference::Uniform),
                };
                let mut rng = Rng::new(decision_seed(*seed, &round));
                let slot = &mut self.slots[g];
                deal_trees(&mut slot.trees, &round, seat, worlds, inference, &mut rng)?;
                slot.searching = Some(agent);
                return Ok(None);
            }
        };
        Ok(Some(action))
    }

    /// The move of a finished search at round `g`: the agent's `chosen` one,
    /// or, when the arena records, the decision recorded and the move maybe
    /// drawn with the temperature (see [`RoundRecord::searched`]).
    fn searched_move(
        &mut self,
        g: usize,
        visits: &[f32; NUM_ACTIONS],
        tiebreak: &[f32; NUM_ACTIONS],
        chosen: usize,
    ) -> usize {
        let slot = &mut self.slots[g];
        match &self.shared.config.record {
            Some(rec) => {
                slot.record
                    .searched(rec, slot.index, &slot.round, visits, tiebreak, chosen)
            }
            None => chosen,
        }
    }

    fn network(&self, agent: usize) -> (usize, &SearchParams) {
        network_search(&self.shared.config.agents[agent], &self.root_only)
    }

    fn search_done(&self, g: usize) -> bool {
        let Some(agent) = self.slots[g].searching else {
            return true;
        };
        if let Some(search) = &self.slots[g].leaf_search {
            return search.is_done();
        }
        waves_done(&self.slots[g].trees, self.network(agent).1.simulations)
    }

    /// Starts a wave on every tree of round `g` with no leaf outstanding.
    fn select_leaves(&mut self, g: usize) -> SearchResult<bool> {
        let Some(agent) = self.slots[g].searching else {
            return Ok(false);
        };
        if let Some(search) = &mut self.slots[g].leaf_search {
            let LeafRequest::Evaluate { state, observer } = search.next_request()? else {
                return Ok(false);
            };
            let net = network_search(&self.shared.config.agents[agent], &self.root_only).0;
            let waiter = Waiter {
                game: g as u32,
                tree: LEAF_SEARCH,
                node: 0,
            };
            self.requests[net].request(
                &self.shared.queues[net],
                waiter,
                state,
                observer,
                (None, 0),
                &mut self.counts,
            );
            return Ok(true);
        }
        let (net, params) = network_search(&self.shared.config.agents[agent], &self.root_only);
        Ok(start_waves(
            &mut self.requests[net],
            &self.shared.queues[net],
            g,
            &mut self.slots[g].trees,
            params,
            params.simulations,
            (None, 0),
            &mut self.counts,
        ))
    }

    /// Plays the most visited action of the finished search (the heuristic's
    /// when nothing was visited, as `SearchAgent` does); with Gumbel search,
    /// the Gumbel decision without noise (agents play with `for_play()`).
    fn finish_search(&mut self, g: usize) -> SearchResult<()> {
        if let Some(search) = self.slots[g].leaf_search.take() {
            let outcome = search.outcome();
            let prior = search.root_prior();
            let round = &self.slots[g].round;
            let chosen = most_visited(round, &outcome.visits, &prior)
                .unwrap_or_else(|| heuristic_action(round));
            let action = self.searched_move(g, &outcome.visits, &prior, chosen);
            let slot = &mut self.slots[g];
            slot.round.apply_legal(action);
            slot.searching = None;
            self.counts.decisions += 1;
            return Ok(());
        }
        if let Some(agent) = self.slots[g].searching
            && let SeatAgent::GuidedIsmcts { params, seed, .. } = &self.shared.config.agents[agent]
        {
            let slot = &mut self.slots[g];
            let mut prior = [0.0f32; NUM_ACTIONS];
            for (action, p, _) in slot.trees[0].children(ROOT) {
                prior[action] = p;
            }
            let seat = slot.trees[0].observer();
            let mut rng = Rng::new(decision_seed(*seed, &slot.round));
            let outcome =
                self.ismcts
                    .search_with_prior(&slot.round, seat, params, Some(&prior), &mut rng)?;
            let chosen = most_visited(&slot.round, &outcome.visits, &prior)
                .unwrap_or_else(|| heuristic_action(&slot.round));
            let action = self.searched_move(g, &outcome.visits, &prior, chosen);
            let slot = &mut self.slots[g];
            slot.round.apply_legal(action);
            slot.searching = None;
            self.counts.decisions += 1;
            return Ok(());
        }
        let gumbel = self.slots[g]
            .searching
            .and_then(|agent| self.network(agent).1.gumbel);
        let slot = &mut self.slots[g];
        let mut visits = [0.0f32; NUM_ACTIONS];
        let mut priors = [0.0f32; NUM_ACTIONS];
        for tree in &slot.trees {
            tree.add_root_visits(&mut visits);
            tree.add_root_priors(&mut priors);
        }
        let gumbel_action = gumbel
            .and_then(|gp| gumbel::decide(&slot.trees, &[0.0; NUM_ACTIONS], &gp))
            .map(|(action, _)| action);
        let chosen = gumbel_action
            .or_else(|| most_visited(&slot.round, &visits, &priors))
            .unwrap_or_else(|| heuristic_action(&slot.round));
        let action = self.searched_move(g, &visits, &priors, chosen);
        let slot = &mut self.slots[g];
        slot.round.apply_legal(action);
        slot.searching = None;
        self.counts.decisions += 1;
        Ok(())
    }
}

/// The network and tree-search settings of an agent that searches in the
/// engine's trees (`root_only` for a guided ISMCTS agent's root evaluation).
fn network_search<'a>(
    agent: &'a SeatAgent,
    root_only: &'a SearchParams,
) -> (usize, &'a SearchParams) {
    match agent {
        SeatAgent::Network { net, params, .. } => (*net, params),
        SeatAgent::GuidedIsmcts { net, .. } => (*net, root_only),
        _ => unreachable!("only network agents search in the engine's trees"),
    }
}

/// Expands the leaf `w` waited on with `answer` (no root noise: agents play
/// without it).
fn resolve(slots: &mut [Slot], counts: &mut WorkerCounts, w: Waiter, answer: &CachedAnswer) {
    counts.simulations += 1;
    if w.tree == LEAF_SEARCH {
        if let Some(search) = &mut slots[w.game as usize].leaf_search {
            search.answer(&answer.priors, &answer.values);
        }
        return;
    }
    let tree = &mut slots[w.game as usize].trees[w.tree as usize];
    tree.expand_with_priors(w.node, &answer.priors, &answer.values);
}
