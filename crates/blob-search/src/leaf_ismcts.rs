//! ISMCTS whose leaves are valued by a network instead of a playout
//! ([`Rollout::Network`]), as a search that can wait: it hands out one leaf
//! at a time and resumes when the leaf's value comes back, so an engine can
//! keep many such searches in flight and batch their leaves.
//!
//! Each iteration samples a world, descends the observer's tree
//! ([`Ismcts`]'s selection with availability counts) and adds one node, as
//! the playout version does. The new node's state is then valued by the
//! network *from the observer's own view*: the observer's observation at a
//! node is the same in every world (every action is public), so the value
//! is the observer's estimate of every seat's score share from there on,
//! not an estimate that reads the sampled hands. A leaf in the last trick
//! (every move forced) or at the end of the round is valued exactly in its
//! world instead, with no network call.
//!
//! The first request of a search is the root itself: its policy (the
//! observer's own move) becomes the root prior when `prior_weight` > 0.
//! With [`Inference::Policy`] the next requests weigh the search's worlds:
//! every opponent bid and card played with a choice in each candidate deal,
//! asked from that opponent's view
//! (policy-based inference, Rebstock, Solinas, Buro and Sturtevant 2019).
//!
//! Every random choice comes from the search's own generator, so for the
//! same answers the course of a search does not depend on when they come.

use blob_core::determinize::determinize;
use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round};

use crate::error::{SearchError, SearchResult};
use crate::evaluator::{Evaluator, LeafBatch};
use crate::heuristic::play_out_heuristic;
use crate::inference::{Inference, opponent_actions, opponents_have_bid, systematic_resample};
use crate::ismcts::{Ismcts, IsmctsOutcome, IsmctsParams, PlayoutPolicy, Rollout};
use crate::tree::{absolute_values, advance_forced, masked_softmax};

/// What a search needs next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LeafRequest {
    /// The network's answer for `state` from `observer`'s view: the priors
    /// over its legal actions and the value vector relative to `observer`.
    /// Give it to [`LeafIsmcts::answer`]. The observer is the searching
    /// seat, except for policy inference's questions about an opponent's
    /// bid, asked from that opponent's view in a sampled world.
    Evaluate { state: Round, observer: usize },
    /// An answer is still awaited.
    Waiting,
    /// Every iteration is backed up: read [`LeafIsmcts::outcome`].
    Done,
}

/// What the search waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaited {
    Root,
    Bid,
    Leaf,
    /// The mover's policy in a network playout's current position.
    PlayoutMove,
}

/// Policy-based inference ([`Inference::Policy`]): the candidate worlds,
/// every opponent action in them to ask the network about, the log-weights so
/// far; then the worlds resampled by weight, which the iterations use in
/// turn.
#[derive(Debug, Default)]
struct Weighing {
    candidates: Vec<Round>,
    /// (candidate, the position before the action, its seat, the action).
    asks: Vec<(usize, Round, usize, usize)>,
    next: usize,
    log_weights: Vec<f64>,
    temperature: f64,
    /// The resampled worlds, once every bid is answered.
    worlds: Vec<Round>,
}

/// One decision's network-valued ISMCTS search.
#[derive(Debug)]
pub struct LeafIsmcts {
    tree: Ismcts,
    round: Round,
    observer: usize,
    params: IsmctsParams,
    rng: Rng,
    outcome: IsmctsOutcome,
    /// Iterations backed up so far.
    iterations: u32,
    /// Whether the root's own evaluation (the prior) is still to come.
    root_pending: bool,
    waiting: Option<Awaited>,
    weighing: Option<Weighing>,
    /// The heuristic playout's values of the leaf awaited, by absolute seat,
    /// when `playout_weight` > 0.
    playout: [f32; MAX_PLAYERS],
    /// A network playout under way: its position, and the network's value
    /// of its leaf by absolute seat (None when `playout_weight` is 1, which
    /// needs no leaf value).
    network_playout: Option<(Round, Option<[f32; MAX_PLAYERS]>)>,
    value_sum: [f64; MAX_PLAYERS],
}

impl LeafIsmcts {
    /// Starts the search of `observer`'s decision (the seat to move) with
    /// its own generator. `params.rollout` must be [`Rollout::Network`].
    pub fn start(
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        mut rng: Rng,
    ) -> SearchResult<LeafIsmcts> {
        if params.rollout != Rollout::Network {
            return Err(SearchError::InvalidParam(format!(
                "a network-valued ISMCTS needs the network rollout, got {:?}",
                params.rollout.name()
            )));
        }
        let mut tree = Ismcts::new();
        let outcome = tree.start(round, observer, params, None)?;
        let forced = outcome.is_forced();
        let weighing = match params.inference {
            Inference::Policy {
                candidates,
                temperature,
            } if !forced && opponents_have_bid(round, observer) => {
                let mut w = Weighing {
                    temperature: temperature as f64,
                    ..Weighing::default()
                };
                for k in 0..candidates as usize {
                    let world = determinize(round, observer, &mut rng)?;
                    for (state, seat, bid) in opponent_actions(&world, observer)? {
                        w.asks.push((k, state, seat, bid));
                    }
                    w.candidates.push(world);
                }
                w.log_weights = vec![0.0; w.candidates.len()];
                Some(w)
            }
            _ => None,
        };
        // The iterations sample from the weighed worlds; before any
        // opponent has bid there is nothing to weigh, and worlds are uniform.
        let root_pending = !forced && params.prior_weight > 0.0;
        let iterations = if forced { params.iterations } else { 0 };
        let mut params = params.clone();
        if matches!(params.inference, Inference::Policy { .. }) {
            params.inference = Inference::Uniform;
        }
        Ok(LeafIsmcts {
            tree,
            round: *round,
            observer,
            params,
            rng,
            outcome,
            iterations,
            root_pending,
            waiting: None,
            weighing,
            playout: [0.0; MAX_PLAYERS],
            network_playout: None,
            value_sum: [0.0; MAX_PLAYERS],
        })
    }

    /// The observer (the seat whose view every leaf is evaluated from).
    pub fn observer(&self) -> usize {
        self.observer
    }

    /// The next state to evaluate, running every iteration that needs no
    /// network on the way (leaves at or near the end of the round).
    pub fn next_request(&mut self) -> SearchResult<LeafRequest> {
        if self.waiting.is_some() {
            return Ok(LeafRequest::Waiting);
        }
        if self.root_pending {
            self.waiting = Some(Awaited::Root);
            return Ok(LeafRequest::Evaluate {
                state: self.round,
                observer: self.observer,
            });
        }
        if let Some(w) = &self.weighing
            && let Some(&(_, state, seat, _)) = w.asks.get(w.next)
        {
            self.waiting = Some(Awaited::Bid);
            return Ok(LeafRequest::Evaluate {
                state,
                observer: seat,
            });
        }
        if let Some(request) = self.step_network_playout() {
            return Ok(request);
        }
        while self.iterations < self.params.iterations {
            let world = match self.weighing.as_ref().map(|w| &w.worlds) {
                Some(worlds) if !worlds.is_empty() => {
                    worlds[self.iterations as usize % worlds.len()]
                }
                _ => {
                    let remaining = self.params.iterations - self.iterations;
                    self.tree.sample(
                        &self.round,
                        self.observer,
                        &self.params,
                        remaining,
                        &mut self.rng,
                    )?
                }
            };
            let mut leaf = self
                .tree
                .descend(world, self.observer, &self.params, &mut self.rng);
            if leaf.phase() == Phase::Play && leaf.tricks_done() + 1 >= leaf.cards() {
                // The last trick: every move is forced, so the world's own
                // result is exact.
                advance_forced(&mut leaf);
            }
            if leaf.is_over() {
                let values = leaf.values_from(0);
                self.back_up(&values);
                continue;
            }
            let network_playout = self.params.playout_weight > 0.0
                && self.params.playout_policy == PlayoutPolicy::Network;
            if network_playout {
                self.network_playout = Some((leaf, None));
                if self.params.playout_weight >= 1.0 {
                    if let Some(request) = self.step_network_playout() {
                        return Ok(request);
                    }
                    continue;
                }
            } else if self.params.playout_weight > 0.0 {
                let mut playout = leaf;
                play_out_heuristic(&mut playout);
                self.playout = playout.values_from(0);
            }
            self.waiting = Some(Awaited::Leaf);
            return Ok(LeafRequest::Evaluate {
                state: leaf,
                observer: self.observer,
            });
        }
        Ok(LeafRequest::Done)
    }

    /// The network's answer to the last [`LeafRequest::Evaluate`]: `priors`
    /// over that state's legal actions (in increasing action order), values
    /// relative to its observer. An answer with nothing asked is ignored.
    pub fn answer(&mut self, priors: &[f32], relative_values: &[f32]) {
        match self.waiting.take() {
            None => {}
            Some(Awaited::Root) => {
                self.root_pending = false;
                let legal = self.round.legal_actions();
                let mut prior = [0.0f32; NUM_ACTIONS];
                for (action, &p) in legal.iter().zip(priors) {
                    prior[action] = p;
                }
                // Softmax priors are finite and sum to 1 over the legal
                // actions; anything else leaves the search unguided.
                if self.tree.set_prior(Some(&prior), legal).is_err() {
                    let _ = self.tree.set_prior(None, legal);
                }
            }
            Some(Awaited::Bid) => self.weigh(priors),
            Some(Awaited::PlayoutMove) => self.play_network_move(priors),
            Some(Awaited::Leaf) => {
                let players = self.round.num_players();
                let mut values = absolute_values(relative_values, self.observer, players);
                if let Some((_, leaf_values)) = self.network_playout.as_mut() {
                    // The playout comes next; its end backs up the blend.
                    *leaf_values = Some(values);
                    return;
                }
                let lambda = self.params.playout_weight;
                if lambda > 0.0 {
                    for (v, p) in values.iter_mut().zip(self.playout) {
                        *v = lambda * p + (1.0 - lambda) * *v;
                    }
                }
                self.back_up(&values);
            }
        }
    }

    /// Adds the log-probability of the asked action to its world's weight;
    /// after the last one, resamples the worlds by weight (as many as there
    /// are candidates, in a shuffled order).
    fn weigh(&mut self, priors: &[f32]) {
        let Some(w) = self.weighing.as_mut() else {
            return;
        };
        let Some(&(k, state, _, bid)) = w.asks.get(w.next) else {
            return;
        };
        let p = state
            .legal_actions()
            .iter()
            .position(|a| a == bid)
            .and_then(|i| priors.get(i))
            .copied()
            .unwrap_or(0.0);
        // A bid the network calls impossible still leaves its world a
        // sliver of weight: the network is a model, not the rules.
        w.log_weights[k] += (p.max(1e-6) as f64).ln() / w.temperature;
        w.next += 1;
        if w.next < w.asks.len() {
            return;
        }
        let top = w
            .log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = w.log_weights.iter().map(|&l| (l - top).exp()).collect();
        let picks = systematic_resample(&weights, w.candidates.len(), &mut self.rng);
        w.worlds = picks.into_iter().map(|i| w.candidates[i]).collect();
        for i in (1..w.worlds.len()).rev() {
            let j = self.rng.below(i as u32 + 1) as usize;
            w.worlds.swap(i, j);
        }
        w.candidates = Vec::new();
        w.asks = Vec::new();
        w.next = 0;
    }

    /// The next move of the network playout under way, or None when there
    /// is none or it just ended (its blended value is then backed up).
    /// Forced moves, the whole last trick among them, are played with no
    /// network call.
    fn step_network_playout(&mut self) -> Option<LeafRequest> {
        let (mut state, leaf_values) = self.network_playout?;
        advance_forced(&mut state);
        match state.current_player() {
            Some(mover) if !state.is_over() => {
                self.network_playout = Some((state, leaf_values));
                self.waiting = Some(Awaited::PlayoutMove);
                Some(LeafRequest::Evaluate {
                    state,
                    observer: mover,
                })
            }
            _ => {
                self.network_playout = None;
                let mut values = state.values_from(0);
                if let Some(network) = leaf_values {
                    let lambda = self.params.playout_weight;
                    for (v, n) in values.iter_mut().zip(network) {
                        *v = lambda * *v + (1.0 - lambda) * n;
                    }
                }
                self.back_up(&values);
                None
            }
        }
    }

    /// Plays the network's most likely move (the lowest action on a tie)
    /// in the playout under way.
    fn play_network_move(&mut self, priors: &[f32]) {
        let Some((state, _)) = self.network_playout.as_mut() else {
            return;
        };
        let legal = state.legal_actions();
        let mut best = (legal.0.trailing_zeros() as usize, f32::NEG_INFINITY);
        for (action, &p) in legal.iter().zip(priors) {
            if p > best.1 {
                best = (action, p);
            }
        }
        state.apply_legal(best.0);
    }

    fn back_up(&mut self, values: &[f32; MAX_PLAYERS]) {
        self.tree.back_up(values);
        for (acc, &v) in self.value_sum.iter_mut().zip(values) {
            *acc += v as f64;
        }
        self.iterations += 1;
    }

    /// Whether every iteration is backed up.
    pub fn is_done(&self) -> bool {
        self.waiting.is_none() && !self.root_pending && self.iterations >= self.params.iterations
    }

    /// The root's visits and mean values (meaningful once done).
    pub fn outcome(&self) -> IsmctsOutcome {
        let mut outcome = self.outcome.clone();
        if !outcome.is_forced() {
            self.tree
                .finish(&mut outcome, &self.value_sum, self.iterations);
        }
        outcome
    }

    /// The root prior in use, by action (all zeros when unguided).
    pub fn root_prior(&self) -> [f32; NUM_ACTIONS] {
        self.tree.prior()
    }
}

/// Runs a whole [`LeafIsmcts`] search with `evaluator` answering its leaves
/// one at a time (each leaf waits for the previous one's value, so there is
/// nothing to batch within one search). Returns the outcome and the root
/// prior in use. The engine arena runs the same search with its leaves
/// batched across rounds; for the same answers both play the same move.
pub fn search_with_evaluator(
    round: &Round,
    observer: usize,
    params: &IsmctsParams,
    rng: Rng,
    evaluator: &mut dyn Evaluator,
) -> SearchResult<(IsmctsOutcome, [f32; NUM_ACTIONS])> {
    let mut search = LeafIsmcts::start(round, observer, params, rng)?;
    let mut obs = [0.0f32; OBS_SIZE];
    let mut mask = [false; NUM_ACTIONS];
    let mut logits = [0.0f32; NUM_ACTIONS];
    let mut values = [0.0f32; MAX_PLAYERS];
    let mut priors = Vec::with_capacity(NUM_ACTIONS);
    // Every request is answered at once, so nothing is ever awaited: the
    // search ends at the first request that is not a leaf.
    while let LeafRequest::Evaluate { state, observer } = search.next_request()? {
        encode_observation(&state, observer, None, &mut obs);
        let legal = state.legal_actions();
        for (a, m) in mask.iter_mut().enumerate() {
            *m = legal.contains(a);
        }
        let batch = LeafBatch {
            states: std::slice::from_ref(&state),
            observers: &[observer as u8],
            obs: &obs,
            masks: &mask,
        };
        evaluator.evaluate(&batch, &mut logits, &mut values);
        masked_softmax(&logits, legal, &mut priors);
        let p: Vec<f32> = priors.iter().map(|&(_, p)| p).collect();
        search.answer(&p, &values);
    }
    Ok((search.outcome(), search.root_prior()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::{BID_OFFSET, Suit};

    /// Bids exactly its number of spades, as far as this stand-in network
    /// is concerned (a leaf's values are neutral).
    struct CountsSpades;

    impl Evaluator for CountsSpades {
        fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
            for (i, state) in batch.states.iter().enumerate() {
                let seat = batch.observers[i] as usize;
                let spades = state
                    .hand(seat)
                    .iter()
                    .filter(|c| c.suit() == Suit::Spades)
                    .count();
                let row = &mut policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS];
                row.fill(0.0);
                row[BID_OFFSET + spades] = 6.0;
                values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS].fill(0.5);
            }
        }
    }

    #[test]
    fn policy_inference_asks_about_every_opponent_bid_and_weighs_the_worlds() {
        let mut rng = Rng::new(9);
        let mut round = Round::deal(4, 5, 3, Some(Suit::Spades), &mut rng).unwrap();
        // Seats 0, 1, 2 bid their spade counts; seat 3 (the dealer) searches.
        for seat in 0..3 {
            let spades = round
                .hand(seat)
                .iter()
                .filter(|c| c.suit() == Suit::Spades)
                .count();
            round.apply(BID_OFFSET + spades).unwrap();
        }
        let params = IsmctsParams::new(20)
            .with_rollout(Rollout::Network)
            .with_prior_weight(0.0)
            .with_inference(Inference::Policy {
                candidates: 200,
                temperature: 1.0,
            });
        let mut search = LeafIsmcts::start(&round, 3, &params, Rng::new(1)).unwrap();
        let mut asked_others = 0;
        let mut evaluator = CountsSpades;
        let (mut logits, mut values) = ([0.0f32; NUM_ACTIONS], [0.0f32; MAX_PLAYERS]);
        let mut obs = [0.0f32; OBS_SIZE];
        while let LeafRequest::Evaluate { state, observer } = search.next_request().unwrap() {
            if observer != 3 {
                asked_others += 1;
                // Asked from the bidder's view, before its bid.
                assert_eq!(state.current_player(), Some(observer));
                assert_eq!(state.bid(observer), None);
            }
            encode_observation(&state, observer, None, &mut obs);
            let batch = LeafBatch {
                states: std::slice::from_ref(&state),
                observers: &[observer as u8],
                obs: &obs,
                masks: &[true; NUM_ACTIONS],
            };
            evaluator.evaluate(&batch, &mut logits, &mut values);
            let mut pairs = Vec::new();
            masked_softmax(&logits, state.legal_actions(), &mut pairs);
            let priors: Vec<f32> = pairs.iter().map(|&(_, p)| p).collect();
            search.answer(&priors, &values);
        }
        assert!(search.is_done());
        // Three opponents' bids in each of the 200 candidate worlds.
        assert_eq!(asked_others, 600);
        let worlds = &search.weighing.as_ref().unwrap().worlds;
        assert_eq!(worlds.len(), 200);
        // Seats holding as many spades as they bid, on average over worlds.
        let matching = |worlds: &[Round]| {
            let seats = |w: &Round| {
                (0..3)
                    .filter(|&s| {
                        let spades = w.hand(s).iter().filter(|c| c.suit() == Suit::Spades);
                        w.bid(s) == Some(spades.count())
                    })
                    .count()
            };
            worlds.iter().map(seats).sum::<usize>() as f64 / worlds.len() as f64
        };
        let mut rng = Rng::new(2);
        let uniform: Vec<Round> = (0..2000)
            .map(|_| determinize(&round, 3, &mut rng).unwrap())
            .collect();
        let (weighted, uniform) = (matching(worlds), matching(&uniform));
        assert!(uniform < 1.2, "{uniform}");
        assert!(weighted > 1.8, "{weighted} against {uniform} uniformly");
    }
}
