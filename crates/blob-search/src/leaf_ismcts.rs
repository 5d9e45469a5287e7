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
//!
//! Every random choice comes from the search's own generator, so for the
//! same answers the course of a search does not depend on when they come.

use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round};

use crate::error::{SearchError, SearchResult};
use crate::evaluator::{Evaluator, LeafBatch};
use crate::ismcts::{Ismcts, IsmctsOutcome, IsmctsParams, Rollout};
use crate::tree::{absolute_values, advance_forced, masked_softmax};

/// What a search needs next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LeafRequest {
    /// The network's answer for this state from the observer's view:
    /// the priors (for the root) and the value vector relative to the
    /// observer. Give it to [`LeafIsmcts::answer`].
    Evaluate(Round),
    /// An answer is still awaited.
    Waiting,
    /// Every iteration is backed up: read [`LeafIsmcts::outcome`].
    Done,
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
    waiting: bool,
    value_sum: [f64; MAX_PLAYERS],
}

impl LeafIsmcts {
    /// Starts the search of `observer`'s decision (the seat to move) with
    /// its own generator. `params.rollout` must be [`Rollout::Network`].
    pub fn start(
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        rng: Rng,
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
        Ok(LeafIsmcts {
            tree,
            round: *round,
            observer,
            params: params.clone(),
            rng,
            outcome,
            iterations: if forced { params.iterations } else { 0 },
            root_pending: !forced && params.prior_weight > 0.0,
            waiting: false,
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
        if self.waiting {
            return Ok(LeafRequest::Waiting);
        }
        if self.root_pending {
            self.waiting = true;
            return Ok(LeafRequest::Evaluate(self.round));
        }
        while self.iterations < self.params.iterations {
            let remaining = self.params.iterations - self.iterations;
            let world = self.tree.sample(
                &self.round,
                self.observer,
                &self.params,
                remaining,
                &mut self.rng,
            )?;
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
            self.waiting = true;
            return Ok(LeafRequest::Evaluate(leaf));
        }
        Ok(LeafRequest::Done)
    }

    /// The network's answer to the last [`LeafRequest::Evaluate`]: `priors`
    /// over that state's legal actions (in increasing action order), values
    /// relative to the observer. An answer with nothing asked is ignored.
    pub fn answer(&mut self, priors: &[f32], relative_values: &[f32]) {
        if !self.waiting {
            return;
        }
        self.waiting = false;
        if self.root_pending {
            self.root_pending = false;
            let legal = self.round.legal_actions();
            let mut prior = [0.0f32; NUM_ACTIONS];
            for (action, &p) in legal.iter().zip(priors) {
                prior[action] = p;
            }
            // Softmax priors are finite and sum to 1 over the legal actions;
            // anything else leaves the search unguided.
            if self.tree.set_prior(Some(&prior), legal).is_err() {
                let _ = self.tree.set_prior(None, legal);
            }
            return;
        }
        let players = self.round.num_players();
        let values = absolute_values(relative_values, self.observer, players);
        self.back_up(&values);
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
        !self.waiting && !self.root_pending && self.iterations >= self.params.iterations
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
    while let LeafRequest::Evaluate(state) = search.next_request()? {
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
