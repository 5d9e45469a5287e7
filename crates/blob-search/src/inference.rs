//! Sampling the hidden hands for a search: uniformly among the deals
//! consistent with what the searching seat knows, or weighted by what the
//! opponents' bids reveal (policy-based inference, Rebstock, Solinas, Buro
//! and Sturtevant 2019).
//!
//! [`Inference::Bids`] draws `candidates` worlds with the uniform sampler
//! ([`determinize`]), gives each the likelihood of every opponent's public
//! bid under a soft version of the rule-based bidder ([`crate::heuristic`])
//! evaluated from that opponent's view in that world, and resamples the
//! worlds a search needs by those weights (systematic resampling). The
//! opponent's view is rebuilt as it was when it bid: its hand then is its
//! hand in the world plus the cards it has played this round, the bids
//! before it are the public ones, and the dealer rule applies. The bid
//! model is `P(b) ∝ exp(-|b - h| / temperature)` over the bids that were
//! legal for it, `h` the heuristic's bid for that hand.
//!
//! Everything comes from the observer's information: its own hand, the
//! public bids and plays, the voids (through [`determinize`]). The real
//! hidden hands are never read, so two rounds that differ only in cards the
//! observer cannot see give the same worlds for the same generator state.

use blob_core::determinize::determinize;
use blob_core::{BID_OFFSET, CardSet, CoreResult, MAX_PLAYERS, Rng, Round};

use crate::error::{SearchError, SearchResult};
use crate::heuristic::heuristic_action;

/// Most candidate worlds one draw may weigh.
pub const MAX_CANDIDATES: u32 = 4096;

/// How the hidden hands of a search's worlds are sampled.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Inference {
    /// Uniformly among the deals consistent with the observer's knowledge
    /// (hand, plays, hand sizes, voids). The default.
    #[default]
    Uniform,
    /// `candidates` uniform worlds weighted by the likelihood of the
    /// opponents' bids under the soft heuristic bidder, then resampled.
    Bids {
        /// Uniform worlds drawn per resampling: 1..=[`MAX_CANDIDATES`]
        /// (1 is uniform sampling at one draw's cost).
        candidates: u32,
        /// Softness of the bid model, > 0: small trusts the heuristic's
        /// bid, large approaches uniform sampling.
        temperature: f32,
    },
    /// `candidates` uniform worlds weighted by the probability of every
    /// opponent's bid and card played (with a choice) under a network's
    /// policy from that opponent's view in the world (to the power
    /// `1 / temperature`), then resampled. It needs
    /// network evaluations, so only a search whose leaves go to a network
    /// runs it ([`crate::leaf_ismcts`]); [`sample_worlds`] refuses it.
    Policy { candidates: u32, temperature: f32 },
}

impl Inference {
    /// "uniform", "bids" or "policy".
    pub fn name(&self) -> &'static str {
        match self {
            Inference::Uniform => "uniform",
            Inference::Bids { .. } => "bids",
            Inference::Policy { .. } => "policy",
        }
    }

    /// (candidates, temperature) of a weighted sampler, None for uniform.
    pub fn weighted(&self) -> Option<(u32, f32)> {
        match *self {
            Inference::Uniform => None,
            Inference::Bids {
                candidates,
                temperature,
            }
            | Inference::Policy {
                candidates,
                temperature,
            } => Some((candidates, temperature)),
        }
    }

    /// The inference named `name` ("uniform", "bids" or "policy"; the knobs
    /// are used by the weighted ones only), checked.
    pub fn from_name(name: &str, candidates: u32, temperature: f32) -> SearchResult<Inference> {
        let inference = match name {
            "uniform" => Inference::Uniform,
            "bids" => Inference::Bids {
                candidates,
                temperature,
            },
            "policy" => Inference::Policy {
                candidates,
                temperature,
            },
            other => {
                return Err(SearchError::InvalidParam(format!(
                    "unknown inference {other:?}: use \"uniform\", \"bids\" or \"policy\""
                )));
            }
        };
        inference.validate()?;
        Ok(inference)
    }

    /// Checks the knobs against their ranges.
    pub fn validate(&self) -> SearchResult<()> {
        if let Some((candidates, temperature)) = self.weighted() {
            if !(1..=MAX_CANDIDATES).contains(&candidates) {
                return Err(SearchError::InvalidParam(format!(
                    "inference_candidates must be in 1..={MAX_CANDIDATES}, got {candidates}"
                )));
            }
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(SearchError::InvalidParam(format!(
                    "inference_temperature must be a positive number, got {temperature}"
                )));
            }
        }
        Ok(())
    }
}

/// Appends `count` worlds to `out`: copies of `round` with every hand but
/// `observer`'s sampled as `inference` says. With [`Inference::Uniform`]
/// this is exactly `count` calls of [`determinize`] on `rng`.
/// [`Inference::Policy`] needs a network and is refused by every search's
/// parameter check before it gets here; here it samples uniformly.
///
/// # Errors
/// Those of [`determinize`]: a bad observer, a state no deal matches.
pub fn sample_worlds(
    round: &Round,
    observer: usize,
    inference: &Inference,
    count: usize,
    rng: &mut Rng,
    out: &mut Vec<Round>,
) -> CoreResult<()> {
    let (candidates, temperature) = match *inference {
        Inference::Bids {
            candidates,
            temperature,
        } if count > 0 && opponents_have_bid(round, observer) => {
            (candidates.max(1) as usize, temperature as f64)
        }
        // No opponent bid yet: every world would weigh the same.
        _ => {
            for _ in 0..count {
                out.push(determinize(round, observer, rng)?);
            }
            return Ok(());
        }
    };
    let played = cards_played_by_seat(round);
    let mut worlds = Vec::with_capacity(candidates);
    let mut log_weights = Vec::with_capacity(candidates);
    for _ in 0..candidates {
        let world = determinize(round, observer, rng)?;
        log_weights.push(bid_log_likelihood_with(
            &world,
            observer,
            &played,
            temperature,
        )?);
        worlds.push(world);
    }
    let top = log_weights
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = log_weights.iter().map(|&l| (l - top).exp()).collect();
    for i in systematic_resample(&weights, count, rng) {
        out.push(worlds[i]);
    }
    Ok(())
}

/// The cards each seat has played this round (public).
fn cards_played_by_seat(round: &Round) -> [CardSet; MAX_PLAYERS] {
    let mut played = [CardSet::EMPTY; MAX_PLAYERS];
    for (seat, card) in round.plays() {
        played[seat].insert(card);
    }
    played
}

/// The log-likelihood of the public bids of every seat but `observer` in
/// `world` (a full deal, e.g. a sampled world) under the soft heuristic
/// bidder at `temperature`: the sum over those seats of
/// `log softmax_b(-|b - h| / temperature)` at the bid made, `b` over the
/// bids legal then, `h` the heuristic's bid for the seat's hand then.
///
/// # Errors
/// [`blob_core::CoreError`] if the hands of `world` plus the cards played
/// do not make a valid deal (never for a world from [`determinize`]).
pub fn bid_log_likelihood(world: &Round, observer: usize, temperature: f64) -> CoreResult<f64> {
    bid_log_likelihood_with(world, observer, &cards_played_by_seat(world), temperature)
}

fn bid_log_likelihood_with(
    world: &Round,
    observer: usize,
    played: &[CardSet; MAX_PLAYERS],
    temperature: f64,
) -> CoreResult<f64> {
    let mut total = 0.0;
    for_each_opponent_bid(world, observer, played, |replay, _seat, bid| {
        let h = (heuristic_action(replay) - BID_OFFSET) as f64;
        let logit = |b: usize| -(b as f64 - h).abs() / temperature;
        let legal = replay.legal_actions();
        // Every logit is <= 0 (the heuristic's own bid scores 0), so the
        // sum cannot overflow.
        let norm: f64 = legal.iter().map(|a| logit(a - BID_OFFSET).exp()).sum();
        total += logit(bid) - norm.ln();
    })?;
    Ok(total)
}

/// The position before each opponent's bid in `world`, as that opponent
/// bid: the bidding replayed on the hands as dealt (each hand in the world
/// plus the cards its seat has played). Calls `visit(state, seat, bid)`
/// with the state before the bid of every seat but `observer`, and returns
/// the replay after the bidding.
fn for_each_opponent_bid(
    world: &Round,
    observer: usize,
    played: &[CardSet; MAX_PLAYERS],
    mut visit: impl FnMut(&Round, usize, usize),
) -> CoreResult<Round> {
    let p = world.num_players();
    let mut hands = [CardSet::EMPTY; MAX_PLAYERS];
    for (seat, hand) in hands.iter_mut().enumerate().take(p) {
        *hand = world.hand(seat).union(played[seat]);
    }
    let mut replay = Round::from_hands(&hands[..p], world.dealer(), world.trump())?;
    for _ in 0..world.bids_made() {
        let Some(seat) = replay.current_player() else {
            break;
        };
        let Some(bid) = world.bid(seat) else {
            break;
        };
        if seat != observer {
            visit(&replay, seat, bid);
        }
        replay.apply(BID_OFFSET + bid)?;
    }
    Ok(replay)
}

/// Every opponent's bid in `world` (a full deal, e.g. a sampled world) as
/// (the position before it, the bidder, the bid's action id), in bidding
/// order, then every card an opponent played with a choice of two or more
/// (the position before it, the player, the card's action id), in playing
/// order: what a policy-based weighting asks a network about, each from
/// that opponent's own view.
///
/// # Errors
/// As [`bid_log_likelihood`].
pub fn opponent_actions(world: &Round, observer: usize) -> CoreResult<Vec<(Round, usize, usize)>> {
    let mut out = Vec::new();
    let played = cards_played_by_seat(world);
    let mut replay = for_each_opponent_bid(world, observer, &played, |state, seat, bid| {
        out.push((*state, seat, BID_OFFSET + bid));
    })?;
    for (seat, card) in world.plays() {
        if seat != observer && replay.legal_actions().len() > 1 {
            out.push((replay, seat, card.index() as usize));
        }
        replay.apply(card.index() as usize)?;
    }
    Ok(out)
}

/// Whether an opponent of `observer` has bid (before that, every world
/// weighs the same).
pub fn opponents_have_bid(round: &Round, observer: usize) -> bool {
    (0..round.num_players()).any(|s| s != observer && round.bid(s).is_some())
}

/// `count` indices drawn by systematic resampling from `weights` (positive,
/// not necessarily normalised): one uniform offset, `count` evenly spaced
/// pointers into the cumulative weights. Each index appears
/// `floor` or `ceil` of `count * w_i / sum w` times.
pub fn systematic_resample(weights: &[f64], count: usize, rng: &mut Rng) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    let step = total / count as f64;
    let mut pointer = rng.unit_f64() * step;
    let mut out = Vec::with_capacity(count);
    let mut cumulative = 0.0;
    let mut i = 0;
    for _ in 0..count {
        while i + 1 < weights.len() && cumulative + weights[i] <= pointer {
            cumulative += weights[i];
            i += 1;
        }
        out.push(i);
        pointer += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_keeps_proportions() {
        let weights = [1.0, 0.0, 3.0, 4.0];
        for seed in 0..50 {
            let picks = systematic_resample(&weights, 8, &mut Rng::new(seed));
            let count = |i| picks.iter().filter(|&&p| p == i).count();
            assert_eq!((count(0), count(1), count(2), count(3)), (1, 0, 3, 4));
        }
        // Fewer picks than weights: each index at most ceil(count * share).
        for seed in 0..50 {
            let picks = systematic_resample(&[1.0, 1.0, 1.0, 1.0], 2, &mut Rng::new(seed));
            assert_eq!(picks.len(), 2);
            assert_ne!(picks[0], picks[1]);
        }
    }

    #[test]
    fn bad_knobs_are_errors() {
        assert!(Inference::from_name("bids", 0, 1.0).is_err());
        assert!(Inference::from_name("bids", MAX_CANDIDATES + 1, 1.0).is_err());
        assert!(Inference::from_name("bids", 8, 0.0).is_err());
        assert!(Inference::from_name("bids", 8, f32::NAN).is_err());
        assert!(Inference::from_name("guess", 8, 1.0).is_err());
        assert_eq!(
            Inference::from_name("uniform", 0, -1.0),
            Ok(Inference::Uniform)
        );
        assert_eq!(
            Inference::from_name("bids", 8, 0.5).map(|i| i.name()),
            Ok("bids")
        );
    }
}
