//! A reference player: single-observer information set MCTS (SO-ISMCTS,
//! Cowling, Powley and Whitehouse 2012), with no network.
//!
//! One tree over the searching seat's (the observer's) information sets:
//! a node is reached by a sequence of actions from the root, whatever the
//! hidden hands. Every iteration
//!
//! 1. samples a fresh determinization of the hidden hands from what the
//!    observer knows ([`determinize`](blob_core::determinize::determinize): exactly uniform over the deals that
//!    match its hand, the cards played, the hand sizes and the public voids);
//! 2. descends from the root, at each node choosing among the children whose
//!    action is legal in this determinization by UCB1 with *availability*
//!    counts: `mean + c * sqrt(ln(available) / visits)`, where `available`
//!    counts the iterations in which the child could have been chosen (a
//!    card an opponent holds in few determinizations is not explored as if
//!    it were always there);
//! 3. adds one child for a legal action not tried yet at the node (uniformly
//!    chosen), as soon as there is one;
//! 4. plays the determinization out to the end of the round (uniformly
//!    random moves, or the rule-based player of [`crate::heuristic`]);
//! 5. backs up the per-seat round scores, scaled to [0, 1] by `10 + cards`:
//!    each node adds the score of the seat that moved into it, so every seat
//!    maximizes its own score (Blob is a many-player, not a zero-sum, game).
//!
//! With a *root prior* (a policy over the observer's legal actions, from a
//! network: [`Ismcts::search_with_prior`]), the root's children get the
//! AlphaZero-style bonus `w * P(a) * sqrt(available) / (1 + visits)` on top
//! of UCB1, so the iterations go first to the moves the prior likes and the
//! bonus fades as a child's own visits grow. Only the root has a prior: it is
//! the one node whose information state (the observer's own) needs no
//! determinization, so one network evaluation per decision is enough.
//!
//! The move played is the most visited root child (ties to the lowest
//! action id). Every random choice comes from the caller's [`Rng`]; the
//! search reads the round only through [`determinize`](blob_core::determinize::determinize) and the observer's
//! own legal actions, so two rounds that differ only in cards the observer
//! cannot see give the same result for the same generator state
//! (`tests/ismcts.rs` checks this).
//!
//! Forced moves are skipped (no tree node) when they are forced in every
//! determinization: the observer's own single legal card, a bid the dealer
//! rule leaves alone, and the last trick. An opponent's forced move may
//! depend on the hidden hands, so it keeps its node: otherwise one node could
//! have children of different seats.

use blob_core::{ActionSet, CoreError, MAX_PLAYERS, NUM_ACTIONS, Phase, Rng, Round};

use crate::arena::Player;
use crate::error::{SearchError, SearchResult};
use crate::heuristic::{heuristic_action, play_out_heuristic};
use crate::inference::{Inference, sample_worlds};
use crate::search::{Information, argmax, normalized};
use crate::tree::Values;

/// Most iterations of one search (one tree node each, 48 bytes).
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The UCT exploration constant used when none is given. Values lie in
/// [0, 1], so the usual `sqrt(2)` would explore far too much; 0.7 is the
/// constant of Cowling et al.
pub const DEFAULT_EXPLORATION: f32 = 0.7;

/// The weight `w` of the root prior's bonus when none is given.
pub const DEFAULT_PRIOR_WEIGHT: f32 = 1.0;

/// How an iteration finishes the round after leaving the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Uniformly random legal moves for every seat.
    Random,
    /// The rule-based player for every seat (deterministic given the
    /// determinization).
    Heuristic,
    /// No playout: the new node is valued by a network reading the
    /// observer's own view ([`crate::leaf_ismcts`]). Only a search whose
    /// leaves go to a network (the engine arena) can run it; the
    /// self-contained [`Ismcts::search`] refuses it.
    Network,
}

impl Rollout {
    /// "random" or "heuristic".
    pub fn name(self) -> &'static str {
        match self {
            Rollout::Random => "random",
            Rollout::Heuristic => "heuristic",
            Rollout::Network => "network",
        }
    }

    /// The rollout policy named `name` ("random", "heuristic" or
    /// "network").
    pub fn from_name(name: &str) -> SearchResult<Rollout> {
        match name {
            "random" => Ok(Rollout::Random),
            "heuristic" => Ok(Rollout::Heuristic),
            "network" => Ok(Rollout::Network),
            other => Err(SearchError::InvalidParam(format!(
                "unknown rollout {other:?}: use \"random\", \"heuristic\" or \"network\""
            ))),
        }
    }
}

/// Who plays the playouts that `playout_weight` blends into network leaf
/// values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlayoutPolicy {
    /// The rule-based player on every seat, with no network call.
    #[default]
    Heuristic,
    /// The network's most likely move on every seat, each asked from the
    /// mover's own view in the iteration's world (one network call per
    /// move with a choice). A network policy plays far better than the
    /// heuristic, so its playout is a sharper judge of the sampled hands.
    Network,
}

impl PlayoutPolicy {
    /// "heuristic" or "network".
    pub fn name(self) -> &'static str {
        match self {
            PlayoutPolicy::Heuristic => "heuristic",
            PlayoutPolicy::Network => "network",
        }
    }

    /// The playout policy named `name` ("heuristic" or "network").
    pub fn from_name(name: &str) -> SearchResult<PlayoutPolicy> {
        match name {
            "heuristic" => Ok(PlayoutPolicy::Heuristic),
            "network" => Ok(PlayoutPolicy::Network),
            other => Err(SearchError::InvalidParam(format!(
                "unknown playout policy {other:?}: use \"heuristic\" or \"network\""
            ))),
        }
    }
}

/// The knobs of one ISMCTS search.
#[derive(Clone, Debug, PartialEq)]
pub struct IsmctsParams {
    /// Iterations (determinizations sampled, tree descents, rollouts):
    /// 1..=[`MAX_ITERATIONS`].
    pub iterations: u32,
    /// UCT exploration constant `c`, finite and >= 0 (0 is greedy).
    pub exploration: f32,
    pub rollout: Rollout,
    /// [`Information::Imperfect`] (the real player) samples the hidden hands;
    /// [`Information::Perfect`] searches the true deal every iteration
    /// (plain UCT, a cheat kept for tests and as an upper bound).
    pub information: Information,
    /// How each iteration's determinization is sampled. With
    /// [`Inference::Bids`] the worlds come in blocks: `candidates` fresh
    /// uniform worlds weighed by the bids and resampled into as many (see
    /// [`Ismcts::sample`]), about one uniform draw per iteration. Uniform by
    /// default.
    pub inference: Inference,
    /// Weight `w` of the root prior's bonus, finite and >= 0 (used only by
    /// [`Ismcts::search_with_prior`] with a prior; 0 ignores the prior).
    pub prior_weight: f32,
    /// With [`Rollout::Network`]: the weight `λ` in 0..=1 of a heuristic
    /// playout in the iteration's world, blended into each leaf's value as
    /// `λ * playout + (1 - λ) * network` (AlphaGo's mixed leaf evaluation).
    /// The network values a leaf from the observer's view, blind to the
    /// sampled hands; the playout reads them. 0 (the default) is the
    /// network alone; other rollouts must leave it 0.
    pub playout_weight: f32,
    /// Who plays those playouts: the heuristic (the default) or the
    /// network's policy.
    pub playout_policy: PlayoutPolicy,
    /// Weight `m` in 0..=1 of the score margin in what every seat of the
    /// tree maximizes: `(1 - m) * v + m * (1 + v - others) / 2`, `v` its
    /// score share and `others` the mean of the other seats' (see
    /// [`utilities`]). 0 (the default) is each seat's own score; above 0 a
    /// seat also values the points its opponents lose, as a player does
    /// who wants to win the game rather than to score. Playouts only (not
    /// with network leaves).
    pub margin: f32,
}

impl IsmctsParams {
    /// `iterations` iterations, the default exploration, random rollouts,
    /// imperfect information.
    pub fn new(iterations: u32) -> IsmctsParams {
        IsmctsParams {
            iterations,
            exploration: DEFAULT_EXPLORATION,
            rollout: Rollout::Random,
            information: Information::Imperfect,
            inference: Inference::Uniform,
            prior_weight: DEFAULT_PRIOR_WEIGHT,
            playout_weight: 0.0,
            playout_policy: PlayoutPolicy::Heuristic,
            margin: 0.0,
        }
    }

    pub fn with_prior_weight(mut self, prior_weight: f32) -> IsmctsParams {
        self.prior_weight = prior_weight;
        self
    }

    pub fn with_playout_weight(mut self, playout_weight: f32) -> IsmctsParams {
        self.playout_weight = playout_weight;
        self
    }

    pub fn with_playout_policy(mut self, playout_policy: PlayoutPolicy) -> IsmctsParams {
        self.playout_policy = playout_policy;
        self
    }

    pub fn with_inference(mut self, inference: Inference) -> IsmctsParams {
        self.inference = inference;
        self
    }

    pub fn with_exploration(mut self, exploration: f32) -> IsmctsParams {
        self.exploration = exploration;
        self
    }

    pub fn with_margin(mut self, margin: f32) -> IsmctsParams {
        self.margin = margin;
        self
    }

    pub fn with_rollout(mut self, rollout: Rollout) -> IsmctsParams {
        self.rollout = rollout;
        self
    }

    pub fn validate(&self) -> SearchResult<()> {
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(SearchError::InvalidParam(format!(
                "iterations must be in 1..={MAX_ITERATIONS}, got {}",
                self.iterations
            )));
        }
        if !self.exploration.is_finite() || self.exploration < 0.0 {
            return Err(SearchError::InvalidParam(format!(
                "exploration must be a finite number >= 0, got {}",
                self.exploration
            )));
        }
        if !self.prior_weight.is_finite() || self.prior_weight < 0.0 {
            return Err(SearchError::InvalidParam(format!(
                "prior_weight must be a finite number >= 0, got {}",
                self.prior_weight
            )));
        }
        if !(0.0..=1.0).contains(&self.playout_weight) {
            return Err(SearchError::InvalidParam(format!(
                "playout_weight must be a number in 0..=1, got {}",
                self.playout_weight
            )));
        }
        if !(0.0..=1.0).contains(&self.margin) {
            return Err(SearchError::InvalidParam(format!(
                "margin must be a number in 0..=1, got {}",
                self.margin
            )));
        }
        if self.margin > 0.0 && self.rollout == Rollout::Network {
            return Err(SearchError::InvalidParam(
                "margin weighs playout scores: network leaves take none".into(),
            ));
        }
        if self.playout_weight > 0.0 && self.rollout != Rollout::Network {
            return Err(SearchError::InvalidParam(
                "playout_weight blends playouts into the network's leaf values: it needs the \
                 network rollout"
                    .into(),
            ));
        }
        if self.playout_policy == PlayoutPolicy::Network && self.playout_weight == 0.0 {
            return Err(SearchError::InvalidParam(
                "a network playout policy plays the playouts blended into leaf values: it needs \
                 playout_weight > 0"
                    .into(),
            ));
        }
        if matches!(self.inference, Inference::Policy { .. }) && self.rollout != Rollout::Network {
            return Err(SearchError::InvalidParam(
                "policy inference asks the network about the opponents' bids: it needs the \
                 network rollout"
                    .into(),
            ));
        }
        self.inference.validate()
    }
}

/// The result of one search.
#[derive(Clone, Debug, PartialEq)]
pub struct IsmctsOutcome {
    /// Visits of each root child, indexed by action (a forced move: one
    /// visit, no search).
    pub visits: [f32; NUM_ACTIONS],
    /// Mean backed-up value of every seat over the iterations, by absolute
    /// seat (zeros for a forced move).
    pub root_value: Values,
    /// Iterations run (0 for a forced move).
    pub iterations: u32,
    /// Tree nodes created, root included.
    pub nodes: u32,
}

impl IsmctsOutcome {
    /// Visits normalized to a distribution over the actions.
    pub fn policy(&self) -> [f32; NUM_ACTIONS] {
        normalized(&self.visits)
    }
    /// The most visited root action (lowest id on ties).
    pub fn best_action(&self) -> usize {
        argmax(&self.visits)
    }
    /// Whether the decision was a forced move (its one visit, no search).
    pub fn is_forced(&self) -> bool {
        self.iterations == 0 && self.visits.iter().any(|&v| v > 0.0)
    }
}

const NO_NODE: u32 = u32::MAX;
const ROOT: u32 = 0;

#[derive(Clone, Debug)]
struct Node {
    /// Actions that have a child here.
    expanded: ActionSet,
    /// Sum, over the iterations through this node, of the value of the seat
    /// that moved into it.
    reward: f64,
    first_child: u32,
    next_sibling: u32,
    visits: u32,
    /// Iterations in which this node's action was legal at its parent.
    available: u32,
    /// The action leading here from the parent.
    action: u8,
    /// The seat that played `action`.
    mover: u8,
}

impl Node {
    fn new(action: usize, mover: usize) -> Node {
        Node {
            expanded: ActionSet::EMPTY,
            reward: 0.0,
            first_child: NO_NODE,
            next_sibling: NO_NODE,
            visits: 0,
            available: 1,
            action: action as u8,
            mover: mover as u8,
        }
    }
}

/// Reusable search state: the node arena keeps its memory between searches.
#[derive(Debug, Default)]
pub struct Ismcts {
    nodes: Vec<Node>,
    path: Vec<u32>,
    /// The root prior of the current search, normalized over the legal
    /// actions (all zeros without one).
    prior: Vec<f32>,
    /// Worlds drawn for the coming iterations (see [`Ismcts::sample`]).
    worlds: Vec<Round>,
}

impl Ismcts {
    pub fn new() -> Ismcts {
        Ismcts::default()
    }

    /// Searches the decision of `observer`, who must be the seat to move in
    /// `round`, using only what that seat knows (unless `params.information`
    /// is [`Information::Perfect`]). A move with one legal action comes back
    /// with one visit and no search.
    pub fn search(
        &mut self,
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        rng: &mut Rng,
    ) -> SearchResult<IsmctsOutcome> {
        self.search_with_prior(round, observer, params, None, rng)
    }

    /// [`Ismcts::search`] with an optional root prior indexed by action:
    /// finite, >= 0, with some mass on a legal action (it is renormalized
    /// over the legal actions; mass on illegal ones is ignored). The prior
    /// must come from the observer's information only (a network reading the
    /// observer's own view) for the search not to peek.
    pub fn search_with_prior(
        &mut self,
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        prior: Option<&[f32; NUM_ACTIONS]>,
        rng: &mut Rng,
    ) -> SearchResult<IsmctsOutcome> {
        if params.rollout == Rollout::Network {
            return Err(SearchError::InvalidParam(
                "the network rollout needs a network: it runs in the engine arena \
                 (MODEL:ismcts:...:network), not in a self-contained search"
                    .into(),
            ));
        }
        let mut outcome = self.start(round, observer, params, prior)?;
        if outcome.is_forced() {
            return Ok(outcome);
        }
        let mut value_sum = [0.0f64; MAX_PLAYERS];
        for done in 0..params.iterations {
            let state = self.sample(round, observer, params, params.iterations - done, rng)?;
            let mut state = self.descend(state, observer, params, rng);
            match params.rollout {
                Rollout::Random => state.play_out_randomly(rng),
                // (Network was refused above.)
                Rollout::Heuristic | Rollout::Network => play_out_heuristic(&mut state),
            }
            let values = state.values_from(0);
            self.back_up(&utilities(&values, round.num_players(), params.margin));
            for (acc, v) in value_sum.iter_mut().zip(values) {
                *acc += v as f64;
            }
        }
        self.finish(&mut outcome, &value_sum, params.iterations);
        Ok(outcome)
    }

    /// Checks the request and resets the tree to a root for `observer`. A
    /// forced move comes back with its one visit (and no tree).
    pub(crate) fn start(
        &mut self,
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        prior: Option<&[f32; NUM_ACTIONS]>,
    ) -> SearchResult<IsmctsOutcome> {
        params.validate()?;
        let players = round.num_players();
        if observer >= players {
            return Err(CoreError::InvalidSeat {
                seat: observer,
                players,
            }
            .into());
        }
        let Some(mover) = round.current_player() else {
            return Err(CoreError::RoundOver.into());
        };
        if mover != observer {
            return Err(SearchError::InvalidParam(format!(
                "ISMCTS searches the decision of the seat to move ({mover}), not seat {observer}"
            )));
        }
        let legal = round.legal_actions();
        let mut outcome = IsmctsOutcome {
            visits: [0.0; NUM_ACTIONS],
            root_value: [0.0; MAX_PLAYERS],
            iterations: 0,
            nodes: 1,
        };
        self.set_prior(prior, legal)?;
        self.worlds.clear();
        self.nodes.clear();
        self.nodes.push(Node::new(0, observer));
        if legal.len() == 1 {
            outcome.visits[legal.0.trailing_zeros() as usize] = 1.0;
        }
        Ok(outcome)
    }

    /// This iteration's world: a determinization for the observer (the true
    /// deal with perfect information). With [`Inference::Bids`] the worlds
    /// are drawn a block at a time: `candidates` fresh uniform worlds (fewer
    /// when fewer iterations remain) are weighed and resampled into as many,
    /// which the next iterations use in a random order. Each world has the
    /// distribution of a one-world draw from `candidates`, at the cost of one
    /// uniform world per iteration instead of `candidates`.
    pub(crate) fn sample(
        &mut self,
        round: &Round,
        observer: usize,
        params: &IsmctsParams,
        remaining: u32,
        rng: &mut Rng,
    ) -> SearchResult<Round> {
        if params.information == Information::Perfect {
            return Ok(*round);
        }
        if let Some(world) = self.worlds.pop() {
            return Ok(world);
        }
        let block = match params.inference {
            Inference::Bids { candidates, .. } => candidates.min(remaining).max(1),
            Inference::Uniform => 1,
            Inference::Policy { .. } => {
                return Err(SearchError::InvalidParam(
                    "policy inference needs a network: the network rollout's search weighs \
                     its worlds itself"
                        .into(),
                ));
            }
        };
        sample_worlds(
            round,
            observer,
            &params.inference,
            block as usize,
            rng,
            &mut self.worlds,
        )?;
        // Systematic resampling returns the worlds by candidate index, so
        // copies of one world sit together: spread them out.
        for i in (1..self.worlds.len()).rev() {
            let j = rng.below(i as u32 + 1) as usize;
            self.worlds.swap(i, j);
        }
        self.worlds
            .pop()
            .ok_or_else(|| SearchError::InvalidParam("the world sampler returned no world".into()))
    }

    /// Fills `outcome` with the root's visits and the mean of `value_sum`
    /// over `iterations`.
    pub(crate) fn finish(
        &self,
        outcome: &mut IsmctsOutcome,
        value_sum: &[f64; MAX_PLAYERS],
        iterations: u32,
    ) {
        let mut child = self.nodes[ROOT as usize].first_child;
        while child != NO_NODE {
            let node = &self.nodes[child as usize];
            outcome.visits[node.action as usize] = node.visits as f32;
            child = node.next_sibling;
        }
        for (out, sum) in outcome.root_value.iter_mut().zip(value_sum) {
            *out = (sum / iterations.max(1) as f64) as f32;
        }
        outcome.iterations = iterations;
        outcome.nodes = self.nodes.len() as u32;
    }

    /// Selects and expands on the determinization `state`: returns the
    /// state at the new node (or where the round ended), with the path to
    /// it kept for [`Ismcts::back_up`].
    pub(crate) fn descend(
        &mut self,
        mut state: Round,
        observer: usize,
        params: &IsmctsParams,
        rng: &mut Rng,
    ) -> Round {
        self.path.clear();
        self.path.push(ROOT);
        let mut node = ROOT;
        loop {
            skip_public_forced_moves(&mut state, observer);
            let Some(mover) = state.current_player() else {
                break;
            };
            let legal = state.legal_actions();
            let untried = ActionSet(legal.0 & !self.nodes[node as usize].expanded.0);
            let prior_weight = if node == ROOT {
                params.prior_weight
            } else {
                0.0
            };
            let chosen = self.select_child(
                node,
                legal,
                untried.is_empty(),
                params.exploration,
                prior_weight,
            );
            if !untried.is_empty() {
                let action = untried
                    .nth(rng.below(untried.len()))
                    .expect("untried is not empty");
                let child = self.add_child(node, action, mover);
                state.apply_legal(action);
                self.path.push(child);
                break;
            }
            node = chosen;
            state.apply_legal(self.nodes[node as usize].action as usize);
            self.path.push(node);
        }
        state
    }

    /// Backs up one iteration's final values (by absolute seat) along the
    /// path of the last [`Ismcts::descend`]: each node adds the value of the
    /// seat that moved into it.
    pub(crate) fn back_up(&mut self, values: &Values) {
        for &n in &self.path {
            let node = &mut self.nodes[n as usize];
            node.visits += 1;
            node.reward += values[node.mover as usize] as f64;
        }
    }

    /// Checks and stores the root prior (renormalized over `legal`).
    pub(crate) fn set_prior(
        &mut self,
        prior: Option<&[f32; NUM_ACTIONS]>,
        legal: ActionSet,
    ) -> SearchResult<()> {
        self.prior.clear();
        self.prior.resize(NUM_ACTIONS, 0.0);
        let Some(prior) = prior else {
            return Ok(());
        };
        if let Some((a, p)) = prior
            .iter()
            .enumerate()
            .find(|(_, p)| !p.is_finite() || **p < 0.0)
        {
            return Err(SearchError::InvalidParam(format!(
                "the root prior must be finite and >= 0, got {p} for action {a}"
            )));
        }
        let mass: f64 = legal.iter().map(|a| prior[a] as f64).sum();
        if mass <= 0.0 {
            return Err(SearchError::InvalidParam(
                "the root prior puts no mass on a legal action".into(),
            ));
        }
        for a in legal.iter() {
            self.prior[a] = (prior[a] as f64 / mass) as f32;
        }
        Ok(())
    }

    /// The root prior in use, by action (all zeros without one).
    pub(crate) fn prior(&self) -> [f32; NUM_ACTIONS] {
        let mut out = [0.0; NUM_ACTIONS];
        for (o, &p) in out.iter_mut().zip(&self.prior) {
            *o = p;
        }
        out
    }

    /// Counts one more availability for every child of `node` whose action
    /// is in `legal`, and returns the one with the highest UCB1 score (plus
    /// the prior's bonus times `prior_weight`) when `pick` (ties to the first
    /// child created), else `NO_NODE`.
    fn select_child(
        &mut self,
        node: u32,
        legal: ActionSet,
        pick: bool,
        exploration: f32,
        prior_weight: f32,
    ) -> u32 {
        let mut best = NO_NODE;
        let mut best_score = f64::NEG_INFINITY;
        let mut child = self.nodes[node as usize].first_child;
        while child != NO_NODE {
            let c = &mut self.nodes[child as usize];
            if legal.contains(c.action as usize) {
                c.available += 1;
                if pick {
                    // Every child has been backed up at least once.
                    let n = c.visits as f64;
                    let available = c.available as f64;
                    let mut score = c.reward / n + exploration as f64 * (available.ln() / n).sqrt();
                    if prior_weight > 0.0 {
                        let p = self.prior[c.action as usize] as f64;
                        score += prior_weight as f64 * p * available.sqrt() / (1.0 + n);
                    }
                    if score > best_score {
                        best_score = score;
                        best = child;
                    }
                }
            }
            child = c.next_sibling;
        }
        best
    }

    fn add_child(&mut self, parent: u32, action: usize, mover: usize) -> u32 {
        let index = self.nodes.len() as u32;
        let mut child = Node::new(action, mover);
        let p = &mut self.nodes[parent as usize];
        child.next_sibling = p.first_child;
        p.first_child = index;
        p.expanded.0 |= 1u128 << action;
        self.nodes.push(child);
        index
    }
}

/// What each seat maximizes in a tree whose margin weight is `margin`
/// ([`IsmctsParams::margin`]), from the score shares `values` of a finished
/// playout: still in [0, 1], so the UCT constant keeps its scale.
pub fn utilities(values: &Values, players: usize, margin: f32) -> Values {
    if margin == 0.0 {
        return *values;
    }
    let total: f32 = values[..players].iter().sum();
    let mut out = *values;
    for (seat, u) in out.iter_mut().enumerate().take(players) {
        let others = (total - values[seat]) / (players - 1) as f32;
        *u = (1.0 - margin) * values[seat] + margin * 0.5 * (1.0 + values[seat] - others);
    }
    out
}

/// Applies the moves that are forced in every determinization the observer
/// may face: its own single legal card, a single legal bid (bids depend on
/// public facts only) and the last trick (one card in every hand).
fn skip_public_forced_moves(state: &mut Round, observer: usize) {
    while let Some(mover) = state.current_player() {
        let legal = state.legal_actions();
        let public = mover == observer
            || state.phase() == Phase::Bid
            || state.tricks_done() + 1 == state.cards();
        if legal.len() != 1 || !public {
            return;
        }
        state.apply_legal(legal.0.trailing_zeros() as usize);
    }
}

/// [`Ismcts::search`] with a fresh node arena.
pub fn ismcts_search(
    round: &Round,
    observer: usize,
    params: &IsmctsParams,
    rng: &mut Rng,
) -> SearchResult<IsmctsOutcome> {
    Ismcts::new().search(round, observer, params, rng)
}

/// An arena player: ISMCTS for the seat to move, playing the most visited
/// root action. Its generator runs on from one decision to the next.
pub struct IsmctsPlayer {
    pub params: IsmctsParams,
    pub rng: Rng,
    search: Ismcts,
    label: String,
}

impl IsmctsPlayer {
    /// Panics on invalid `params` (see [`IsmctsParams::validate`]).
    pub fn new(params: IsmctsParams, seed: u64) -> IsmctsPlayer {
        params.validate().expect("valid ISMCTS parameters");
        let label = format!("ismcts-{}", params.iterations);
        IsmctsPlayer {
            params,
            rng: Rng::new(seed),
            search: Ismcts::new(),
            label,
        }
    }
    /// Renames the player in reports.
    pub fn with_name(mut self, name: impl Into<String>) -> IsmctsPlayer {
        self.label = name.into();
        self
    }
}

impl Player for IsmctsPlayer {
    fn act(&mut self, round: &Round) -> usize {
        let observer = round.current_player().unwrap_or(0);
        match self
            .search
            .search(round, observer, &self.params, &mut self.rng)
        {
            Ok(outcome) if round.legal_actions().contains(outcome.best_action()) => {
                outcome.best_action()
            }
            // Cannot happen for a round that is not over; keep a legal move.
            _ => heuristic_action(round),
        }
    }
    fn name(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blob_core::{BID_OFFSET, Card, Suit};

    #[test]
    fn utilities_weigh_the_margin_and_stay_in_range() {
        let mut values = [0.0f32; MAX_PLAYERS];
        values[..4].copy_from_slice(&[1.0, 0.0, 0.6, 0.2]);
        assert_eq!(utilities(&values, 4, 0.0), values);
        let full = utilities(&values, 4, 1.0);
        // Seat 0: 1 + 1 - (0 + 0.6 + 0.2) / 3, halved.
        assert!((full[0] - 0.5 * (2.0 - 0.8 / 3.0)).abs() < 1e-6);
        assert!((full[1] - 0.5 * (1.0 - 1.8 / 3.0)).abs() < 1e-6);
        assert!(full[..4].iter().all(|u| (0.0..=1.0).contains(u)));
        assert!(full[4..].iter().all(|&u| u == 0.0));
        let half = utilities(&values, 4, 0.5);
        for s in 0..4 {
            assert!((half[s] - 0.5 * (values[s] + full[s])).abs() < 1e-6);
        }
    }

    #[test]
    fn margin_out_of_range_or_with_network_leaves_is_an_error() {
        for margin in [-0.1, 1.5, f32::NAN] {
            assert!(
                IsmctsParams::new(10)
                    .with_margin(margin)
                    .validate()
                    .is_err()
            );
        }
        let network = IsmctsParams::new(10)
            .with_rollout(Rollout::Network)
            .with_margin(0.5);
        assert!(network.validate().is_err());
        assert!(IsmctsParams::new(10).with_margin(1.0).validate().is_ok());
    }

    /// The last seat of the first of two tricks decides the whole rest of
    /// the round (the last trick is forced). Where every card it may play
    /// gives it the same score, a margin player takes the one that leaves
    /// its opponents fewest points; a plain one does not care.
    #[test]
    fn a_margin_player_spends_an_indifferent_choice_on_its_opponents() {
        let mut checked = 0;
        for seed in 0..400u64 {
            let mut round = crate::arena::arena_deal(4, 2, seed as usize, 17);
            while round.phase() == Phase::Bid || round.trick_len() < 3 {
                round.apply_legal(heuristic_action(&round));
            }
            let mover = round.current_player().unwrap();
            let outcomes: Vec<(usize, u32, u32)> = round
                .legal_actions()
                .iter()
                .map(|card| {
                    let mut end = round;
                    end.apply_legal(card);
                    crate::tree::advance_forced(&mut end);
                    assert!(end.is_over());
                    let others = (0..4).filter(|&s| s != mover).map(|s| end.score(s)).sum();
                    (card, end.score(mover), others)
                })
                .collect();
            let same_own = outcomes.iter().all(|o| o.1 == outcomes[0].1);
            let fewest = outcomes.iter().map(|o| o.2).min().unwrap();
            if outcomes.len() < 2 || !same_own || outcomes.iter().all(|o| o.2 == fewest) {
                continue;
            }
            let mut params = IsmctsParams::new(200).with_margin(1.0);
            params.information = Information::Perfect;
            let outcome = ismcts_search(&round, mover, &params, &mut Rng::new(seed)).unwrap();
            let chosen = outcomes
                .iter()
                .find(|o| o.0 == outcome.best_action())
                .unwrap();
            assert_eq!(chosen.2, fewest, "seed {seed}: {outcomes:?}");
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} positions");
    }

    /// Seat 0 (to lead) saw seat 1 bid all 5 tricks with spades trumps.
    /// Worlds drawn a block at a time keep bid inference's weighting (seat 1
    /// holds the ace of spades far more often than uniformly), and a block
    /// is used in a shuffled order, not copies side by side.
    #[test]
    fn bid_inference_worlds_come_in_weighted_shuffled_blocks() {
        let ace = Card::parse("AS").unwrap();
        let mut round = (0..)
            .map(|seed| Round::deal(4, 5, 3, Some(Suit::Spades), &mut Rng::new(seed)).unwrap())
            .find(|r| !r.hand(0).contains(ace))
            .unwrap();
        for b in [0, 5, 0, 1] {
            round.apply(BID_OFFSET + b).unwrap();
        }
        let draws = 2048u32;
        let share = |inference: Inference| {
            let params = IsmctsParams::new(draws).with_inference(inference);
            let mut search = Ismcts::new();
            search.start(&round, 0, &params, None).unwrap();
            let mut rng = Rng::new(3);
            let worlds: Vec<Round> = (0..draws)
                .map(|k| {
                    search
                        .sample(&round, 0, &params, draws - k, &mut rng)
                        .unwrap()
                })
                .collect();
            let adjacent = worlds.windows(2).filter(|w| w[0] == w[1]).count();
            let mut distinct = worlds.clone();
            distinct.sort_by_key(|w| (0..4).map(|s| w.hand(s).bits()).collect::<Vec<_>>());
            distinct.dedup();
            let held = worlds.iter().filter(|w| w.hand(1).contains(ace)).count();
            (held as f64 / draws as f64, adjacent, distinct.len())
        };
        let (uniform, _, _) = share(Inference::Uniform);
        let (bids, adjacent, distinct) = share(Inference::Bids {
            candidates: 512,
            temperature: 0.5,
        });
        println!(
            "AS with seat 1: {uniform:.3} uniform, {bids:.3} bids; {distinct} distinct worlds, {adjacent} copies side by side"
        );
        // Uniformly: 5 of the 47 cards seat 0 does not hold are seat 1's.
        let expected = 5.0 / 47.0;
        assert!((uniform - expected).abs() < 0.03, "{uniform}");
        assert!(bids > 3.0 * expected, "{bids}");
        // Resampled blocks repeat worlds (a block in candidate order would
        // put every repeat next to its original: draws - distinct pairs);
        // shuffled, far fewer copies sit side by side.
        let repeats = draws as usize - distinct;
        assert!(repeats > 500, "{repeats}");
        assert!(adjacent * 3 < repeats, "{adjacent} of {repeats}");
    }
}
