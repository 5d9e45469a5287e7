//! Sampling hidden hands consistent with one seat's knowledge.

use crate::rng::Rng;
use crate::round::Round;

/// A copy of `round` in which every hand but `observer`'s is replaced by a
/// deal drawn uniformly among all deals consistent with what `observer`
/// knows. PLACEHOLDER: returns the round unchanged until implemented.
pub fn determinize(round: &Round, observer: usize, rng: &mut Rng) -> Round {
    let _ = (observer, rng);
    *round
}
