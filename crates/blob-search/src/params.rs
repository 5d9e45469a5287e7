//! Search parameters. Every field says what it means and its sensible range.

use blob_core::NUM_ACTIONS;

use crate::error::{SearchError, SearchResult};
use crate::inference::Inference;

/// How one decision is searched.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchParams {
    /// Determinizations per decision (D): independent trees, each over a
    /// different sample of the hidden hands; root visit counts are summed.
    /// 1..=64.
    pub determinizations: u32,
    /// Simulations per tree (S), root evaluation included, so root visits
    /// equal S after the search. 1..=100_000.
    pub simulations: u32,
    /// Exploration constant of PUCT. Values are in [0, 1] but siblings
    /// differ by hundredths, so the best value depends on the evaluator
    /// (benchmarks/RESULTS.md: 0.1..0.5 with sharp priors, 1.5..2.5 with
    /// uniform priors and noisy values); with `normalize_q` about 1.25.
    pub c_puct: f32,
    /// First-play urgency: an unvisited child is valued at its parent's mean
    /// value for the acting seat minus this (in the normalised scale with
    /// `normalize_q`). 0..1.
    pub fpu_reduction: f32,
    /// Weight of one pending (virtual) visit: a pending leaf counts as this
    /// many visits of value 0 for the seat that chose it. 0 disables.
    pub virtual_loss: f32,
    /// Leaves one tree may have waiting for the network at once. Keep it
    /// small next to `simulations`: big batches come from many games.
    pub max_pending_per_tree: u32,
    /// Dirichlet noise at the root (self-play): concentration and mixing
    /// fraction. A fraction of 0 disables the noise.
    pub dirichlet_alpha: f32,
    pub dirichlet_fraction: f32,
    /// Moves of a round (bids and cards, counted from 0) played with
    /// `temperature`; later moves are played greedily (most visits).
    pub temperature_moves: u32,
    /// Temperature of the early moves: the move is drawn with probability
    /// proportional to visits^(1/temperature). 0 means greedy.
    pub temperature: f32,
    /// Min-max normalised Q in PUCT selection (MuZero): each tree tracks,
    /// per seat, the least and greatest mean value a chooser of that seat
    /// has seen, and Q (and the first-play urgency) are mapped to [0, 1]
    /// by them before the PUCT formula, so `c_puct` no longer depends on
    /// how far apart sibling values are. Off reproduces plain PUCT.
    pub normalize_q: bool,
    /// Gumbel root search (Danihelka et al. 2022) instead of PUCT, see
    /// [`GumbelParams`]. `None` (the default) keeps PUCT everywhere.
    pub gumbel: Option<GumbelParams>,
    /// How each tree's hidden hands are sampled: uniformly among the deals
    /// consistent with the searching seat's knowledge (the default), or
    /// weighted by the opponents' bids ([`Inference::Bids`]).
    pub inference: Inference,
    /// Playout-cap randomisation in self-play (KataGo): most decisions get a
    /// cheap search that records no policy target, see [`PlayoutCap`].
    /// `None` (the default) searches every decision in full. Play and
    /// evaluation ignore it.
    pub playout_cap: Option<PlayoutCap>,
}

/// Playout-cap randomisation (Wu 2019, "Accelerating Self-Play Learning in
/// Go"): each self-play decision is a full search (`simulations` per tree,
/// root noise, its visit shares recorded as the policy target) with
/// probability `full_fraction`, else a fast one (`fast_simulations` per
/// tree, no root noise, no policy target: its rows carry an all-zero
/// policy, which the trainer skips). The value targets of every decision
/// are kept, so a round costs less and the value head sees more rounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayoutCap {
    /// Probability that a decision gets the full search. In (0, 1).
    pub full_fraction: f32,
    /// Simulations per tree of a fast search: 1..=`simulations`.
    pub fast_simulations: u32,
}

/// Knobs of Gumbel search: Gumbel-top-k sampling of the root actions,
/// sequential halving over the simulation budget, the completed-Q improved
/// policy at every node. The defaults are those of DeepMind's `mctx`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GumbelParams {
    /// Root actions considered (m) by Gumbel-top-k; halved each phase of
    /// sequential halving. 1..=66.
    pub considered_actions: u32,
    /// `c_visit` of sigma(q) = (c_visit + max_b N(b)) * c_scale * q. > 0.
    pub c_visit: f32,
    /// `c_scale` of sigma, applied to completed Q min-max normalised over
    /// the node's legal actions. > 0.
    pub c_scale: f32,
    /// Scale of the Gumbel noise added to the root logits: 1 samples
    /// (training targets), 0 is deterministic (play).
    pub gumbel_scale: f32,
}

impl Default for GumbelParams {
    fn default() -> Self {
        GumbelParams {
            considered_actions: 16,
            c_visit: 50.0,
            c_scale: 0.1,
            gumbel_scale: 1.0,
        }
    }
}

impl SearchParams {
    /// A preset with the given determinizations and simulations and the
    /// default knobs.
    pub fn preset(determinizations: u32, simulations: u32) -> SearchParams {
        SearchParams {
            determinizations,
            simulations,
            c_puct: 1.5,
            fpu_reduction: 0.1,
            virtual_loss: 1.0,
            max_pending_per_tree: 4,
            dirichlet_alpha: 0.5,
            dirichlet_fraction: 0.25,
            temperature_moves: 4,
            temperature: 1.0,
            normalize_q: false,
            gumbel: None,
            inference: Inference::Uniform,
            playout_cap: None,
        }
    }
    /// 2 determinizations x 20 simulations, with the small exploration
    /// constants of `configs/light.toml`: values are score shares in [0, 1]
    /// whose siblings differ by hundredths, and at c_puct 1.5 twenty
    /// simulations only follow the priors.
    pub fn light() -> SearchParams {
        SearchParams {
            c_puct: 0.2,
            fpu_reduction: 0.02,
            ..Self::preset(2, 20)
        }
    }
    /// 3 x 30, the default.
    pub fn medium() -> SearchParams {
        Self::preset(3, 30)
    }
    /// 5 x 50.
    pub fn heavy() -> SearchParams {
        Self::preset(5, 50)
    }
    /// A preset by name: "light", "medium" or "heavy".
    pub fn named(name: &str) -> SearchResult<SearchParams> {
        match name.to_ascii_lowercase().as_str() {
            "light" => Ok(Self::light()),
            "medium" => Ok(Self::medium()),
            "heavy" => Ok(Self::heavy()),
            _ => Err(SearchError::InvalidParam(format!(
                "unknown search preset {name:?} (expected light, medium or heavy)"
            ))),
        }
    }
    /// The same search without root noise and with greedy move choice, for
    /// evaluation and play (Gumbel search: without Gumbel noise), every
    /// decision searched in full.
    pub fn for_play(mut self) -> SearchParams {
        self.dirichlet_fraction = 0.0;
        self.temperature_moves = 0;
        self.playout_cap = None;
        if let Some(g) = self.gumbel.as_mut() {
            g.gumbel_scale = 0.0;
        }
        self
    }

    /// Checks every field against its range.
    pub fn validate(&self) -> SearchResult<()> {
        let bad = |what: &str| Err(SearchError::InvalidParam(what.to_string()));
        if !(1..=64).contains(&self.determinizations) {
            return bad("determinizations must be in 1..=64");
        }
        if !(1..=100_000).contains(&self.simulations) {
            return bad("simulations must be in 1..=100000");
        }
        if !(self.c_puct.is_finite() && self.c_puct > 0.0) {
            return bad("c_puct must be a positive number");
        }
        if !(self.fpu_reduction.is_finite() && (0.0..=1.0).contains(&self.fpu_reduction)) {
            return bad("fpu_reduction must be in 0..1");
        }
        if !(self.virtual_loss.is_finite() && self.virtual_loss >= 0.0) {
            return bad("virtual_loss must be >= 0");
        }
        if !(1..=1024).contains(&self.max_pending_per_tree) {
            return bad("max_pending_per_tree must be in 1..=1024");
        }
        if !(self.dirichlet_alpha.is_finite() && self.dirichlet_alpha > 0.0) {
            return bad("dirichlet_alpha must be positive");
        }
        if !(self.dirichlet_fraction.is_finite() && (0.0..=1.0).contains(&self.dirichlet_fraction))
        {
            return bad("dirichlet_fraction must be in 0..1");
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature must be >= 0");
        }
        if matches!(self.inference, Inference::Policy { .. }) {
            return Err(SearchError::InvalidParam(
                "policy inference runs only in ISMCTS with network leaves for now \
                 (MODEL:ismcts:...:network:policy); use \"uniform\" or \"bids\""
                    .into(),
            ));
        }
        self.inference.validate()?;
        if let Some(cap) = &self.playout_cap {
            if !(cap.full_fraction > 0.0 && cap.full_fraction < 1.0) {
                return bad("playout cap: full_fraction must be in (0, 1)");
            }
            if !(1..=self.simulations).contains(&cap.fast_simulations) {
                return bad("playout cap: fast_simulations must be in 1..=simulations");
            }
            if self.gumbel.is_some() {
                return bad(
                    "playout cap: not with Gumbel search (its halving needs the full budget)",
                );
            }
        }
        if let Some(g) = &self.gumbel {
            if !(1..=NUM_ACTIONS as u32).contains(&g.considered_actions) {
                return bad("gumbel considered_actions must be in 1..=66");
            }
            let positive = |x: f32| x.is_finite() && x > 0.0;
            if !(positive(g.c_visit) && positive(g.c_scale)) {
                return bad("gumbel c_visit and c_scale must be positive");
            }
            if !(g.gumbel_scale.is_finite() && g.gumbel_scale >= 0.0) {
                return bad("gumbel_scale must be >= 0");
            }
        }
        Ok(())
    }
}

impl Default for SearchParams {
    fn default() -> Self {
        Self::medium()
    }
}
