//! Sampling hidden hands consistent with one seat's knowledge.
//!
//! The observer knows its own hand, every card played (and by whom), how
//! many cards each other seat still holds, and the publicly known voids
//! (`Round::voids`). Everything else is unseen: the cards still held by the
//! other seats and the cards that were never dealt. [`determinize`] draws the
//! other hands uniformly at random among all deals of the unseen cards that
//! agree with that knowledge, exactly and without rejection:
//!
//! - Buckets are the other seats plus an "undealt" bucket (never seen, no
//!   voids). A bucket is *constrained* if it is void in a suit that still has
//!   unseen cards, else *free*.
//! - Constrained seats with the same set of allowed suits form a group: how a
//!   group's cards split between its seats does not depend on their suits, so
//!   only the per-suit counts of each group need weighting. The same holds for
//!   the free buckets taken together, which absorb whatever is left.
//! - `W(g, r)`, the number of ways to give groups `g..` their cards given the
//!   per-suit unseen counts `r`, is a sum over each group's count vectors `x`
//!   of `prod_s C(r_s, x_s) * W(g + 1, r - x)`; for the last group it is
//!   `C(allowed unseen cards, size)` by Vandermonde's identity.
//! - Each group's count vector is drawn with probability proportional to its
//!   term, its cards are then picked uniformly within each suit and split
//!   uniformly between its seats; the last group picks uniformly from the
//!   cards it may hold; the free seats share the rest uniformly and whatever
//!   remains stays undealt.
//!
//! With no constrained seat (the common case: bidding, early play) this is a
//! plain uniform deal of the unseen cards, and the sampler touches no heap.

use std::collections::HashMap;

use crate::cards::{CardSet, DECK_SIZE};
use crate::error::{CoreError, CoreResult};
use crate::rng::Rng;
use crate::round::{MAX_PLAYERS, Round};

/// Card bits of each suit.
const SUIT_BITS: [u64; 4] = [0x1FFF, 0x1FFF << 13, 0x1FFF << 26, 0x1FFF << 39];

/// Binomial coefficients `C(n, k)` for `n, k <= 52`, exact in f64 (all are
/// below 2^53); `C(n, k) = 0` for `k > n`.
static BINOMIAL: [[f64; DECK_SIZE + 1]; DECK_SIZE + 1] = binomial_table();

const fn binomial_table() -> [[f64; DECK_SIZE + 1]; DECK_SIZE + 1] {
    let mut t = [[0.0; DECK_SIZE + 1]; DECK_SIZE + 1];
    let mut n = 0;
    while n <= DECK_SIZE {
        t[n][0] = 1.0;
        let mut k = 1;
        while k <= n {
            t[n][k] = t[n - 1][k - 1] + t[n - 1][k];
            k += 1;
        }
        n += 1;
    }
    t
}

#[inline]
fn binomial(n: u32, k: u32) -> f64 {
    match BINOMIAL.get(n as usize).and_then(|row| row.get(k as usize)) {
        Some(&v) => v,
        None => 0.0,
    }
}

/// Most count vectors a group can have: at most 3 allowed suits (a group is
/// void in at least one suit with unseen cards), at most 14 choices for two of
/// them, the third follows.
const MAX_COMPOSITIONS: usize = 14 * 14;

/// Memoize `W` from this many groups on (fewer groups are cheap without).
const MEMO_FROM_GROUPS: usize = 4;

/// Constrained seats sharing one set of allowed suits.
#[derive(Clone, Copy, Debug, Default)]
struct Group {
    /// Suits the group may hold (bit s), restricted to suits with unseen cards.
    allowed: u8,
    /// Cards the group holds in total.
    size: u8,
    /// Its seats (bit per seat).
    seats: u8,
}

impl Group {
    /// Unseen cards the group may hold, given the per-suit counts `r`.
    #[inline]
    fn allowed_count(&self, r: [u8; 4]) -> u32 {
        (0..4)
            .filter(|&s| self.allowed >> s & 1 == 1)
            .map(|s| r[s] as u32)
            .sum()
    }

    /// A cheap bound on the number of count vectors, for ordering groups.
    fn cost(&self) -> u32 {
        let k = self.allowed.count_ones();
        (self.size.min(13) as u32 + 1).pow(k.saturating_sub(1))
    }
}

/// What the observer knows, reduced to what sampling needs.
struct Setup {
    /// Unseen cards: not in the observer's hand and not played.
    unseen: u64,
    groups: [Group; MAX_PLAYERS],
    num_groups: usize,
    /// Seats without a (relevant) void that hold cards.
    free_seats: u8,
    /// Cards held by the free seats.
    free_cards: u32,
}

impl Setup {
    /// None for a bad observer or a state no deal can match (more hidden
    /// cards held than unseen).
    fn new(round: &Round, observer: usize) -> Option<Setup> {
        let p = round.num_players();
        if observer >= p {
            return None;
        }
        let unseen =
            CardSet::FULL_DECK.bits() & !round.hand(observer).bits() & !round.played().bits();
        let mut present = 0u8;
        for (s, bits) in SUIT_BITS.iter().enumerate() {
            if unseen & bits != 0 {
                present |= 1 << s;
            }
        }
        let mut setup = Setup {
            unseen,
            groups: [Group::default(); MAX_PLAYERS],
            num_groups: 0,
            free_seats: 0,
            free_cards: 0,
        };
        let mut held = 0;
        for seat in 0..p {
            let n = round.hand(seat).len();
            if seat == observer || n == 0 {
                continue;
            }
            held += n;
            let void = round.voids(seat) & present;
            if void == 0 {
                setup.free_seats |= 1 << seat;
                setup.free_cards += n;
                continue;
            }
            let allowed = present & !void;
            let groups = &mut setup.groups[..setup.num_groups];
            match groups.iter_mut().find(|g| g.allowed == allowed) {
                Some(g) => {
                    g.size += n as u8;
                    g.seats |= 1 << seat;
                }
                None => {
                    setup.groups[setup.num_groups] = Group {
                        allowed,
                        size: n as u8,
                        seats: 1 << seat,
                    };
                    setup.num_groups += 1;
                }
            }
        }
        if held > unseen.count_ones() {
            return None;
        }
        // The last group costs nothing to weigh (closed form): make it the
        // one with the most count vectors.
        let groups = &mut setup.groups[..setup.num_groups];
        if let Some(last) = (0..groups.len()).max_by_key(|&i| groups[i].cost()) {
            let end = groups.len() - 1;
            groups.swap(last, end);
        }
        Some(setup)
    }

    fn groups(&self) -> &[Group] {
        &self.groups[..self.num_groups]
    }

    fn suit_counts(&self) -> [u8; 4] {
        SUIT_BITS.map(|bits| (self.unseen & bits).count_ones() as u8)
    }
}

/// Calls `f(x, weight)` for every count vector `x` of `group` (allowed suits
/// only, `x_s <= r_s`, summing to the group's size), with
/// `weight = prod_s C(r_s, x_s)`.
#[inline]
fn for_each_composition(group: &Group, r: [u8; 4], mut f: impl FnMut([u8; 4], f64)) {
    let mut hi = [0u32; 4];
    for s in 0..4 {
        if group.allowed >> s & 1 == 1 {
            hi[s] = r[s] as u32;
        }
    }
    let size = group.size as u32;
    let above2 = hi[3];
    let above1 = hi[2] + above2;
    let above0 = hi[1] + above1;
    if hi[0] + above0 < size {
        return;
    }
    let b = |s: usize, x: u32| binomial(r[s] as u32, x);
    for x0 in size.saturating_sub(above0)..=hi[0].min(size) {
        let left0 = size - x0;
        let w0 = b(0, x0);
        for x1 in left0.saturating_sub(above1)..=hi[1].min(left0) {
            let left1 = left0 - x1;
            let w1 = w0 * b(1, x1);
            for x2 in left1.saturating_sub(above2)..=hi[2].min(left1) {
                let x3 = left1 - x2;
                let w = w1 * b(2, x2) * b(3, x3);
                f([x0 as u8, x1 as u8, x2 as u8, x3 as u8], w);
            }
        }
    }
}

#[inline]
fn minus(r: [u8; 4], x: [u8; 4]) -> [u8; 4] {
    [r[0] - x[0], r[1] - x[1], r[2] - x[2], r[3] - x[3]]
}

/// `W`: the number of ways to give `groups` their per-suit counts out of
/// `r` (count vectors only; see the module docs).
fn ways(groups: &[Group], r: [u8; 4], memo: &mut Option<HashMap<u32, f64>>) -> f64 {
    let Some((group, rest)) = groups.split_first() else {
        return 1.0;
    };
    if rest.is_empty() {
        return binomial(group.allowed_count(r), group.size as u32);
    }
    let key = (groups.len() as u32) << 16
        | (r[0] as u32) << 12
        | (r[1] as u32) << 8
        | (r[2] as u32) << 4
        | r[3] as u32;
    if let Some(&w) = memo.as_ref().and_then(|m| m.get(&key)) {
        return w;
    }
    let mut total = 0.0;
    for_each_composition(group, r, |x, w| {
        total += w * ways(rest, minus(r, x), memo);
    });
    if let Some(m) = memo.as_mut() {
        m.insert(key, total);
    }
    total
}

/// Deals `cards` among `seats` (bit per seat) uniformly, each seat getting
/// its current hand size; the last seat takes what is left.
#[inline]
fn split_among(
    round: &Round,
    hands: &mut [CardSet; MAX_PLAYERS],
    seats: u8,
    mut cards: u64,
    rng: &mut Rng,
) {
    let mut bits = seats;
    while bits != 0 {
        let seat = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let picked = if bits == 0 {
            cards
        } else {
            rng.pick_bits(cards, round.hand(seat).len())
        };
        cards &= !picked;
        hands[seat] = CardSet(picked);
    }
}

/// Deals the free seats their hand sizes uniformly from `pool`; the rest of
/// the pool stays undealt.
#[inline]
fn deal_free(
    round: &Round,
    hands: &mut [CardSet; MAX_PLAYERS],
    seats: u8,
    mut pool: u64,
    rng: &mut Rng,
) {
    let mut bits = seats;
    while bits != 0 {
        let seat = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let picked = rng.pick_bits(pool, round.hand(seat).len());
        pool &= !picked;
        hands[seat] = CardSet(picked);
    }
}

/// Draws the constrained groups' cards into `hands`; returns the unseen cards
/// left for the free seats and the undealt rest, or None if no deal matches.
fn deal_groups(
    round: &Round,
    setup: &Setup,
    hands: &mut [CardSet; MAX_PLAYERS],
    rng: &mut Rng,
) -> Option<u64> {
    let groups = setup.groups();
    let mut remaining = setup.unseen;
    let mut r = setup.suit_counts();
    let mut memo = (groups.len() >= MEMO_FROM_GROUPS).then(HashMap::new);
    let mut xs = [[0u8; 4]; MAX_COMPOSITIONS];
    let mut ws = [0.0f64; MAX_COMPOSITIONS];
    for (g, group) in groups.iter().enumerate() {
        let rest = &groups[g + 1..];
        let chosen = if rest.is_empty() {
            let mut pool = 0;
            for (s, bits) in SUIT_BITS.iter().enumerate() {
                if group.allowed >> s & 1 == 1 {
                    pool |= remaining & bits;
                }
            }
            if pool.count_ones() < group.size as u32 {
                return None;
            }
            rng.pick_bits(pool, group.size as u32)
        } else {
            let mut n = 0;
            let mut total = 0.0;
            for_each_composition(group, r, |x, w| {
                if n < MAX_COMPOSITIONS {
                    let w = w * ways(rest, minus(r, x), &mut memo);
                    xs[n] = x;
                    ws[n] = w;
                    total += w;
                    n += 1;
                }
            });
            // Positive and finite unless no deal matches the state.
            if !(total > 0.0 && total.is_finite()) {
                return None;
            }
            let target = rng.unit_f64() * total;
            let mut pick = None;
            let mut cumulative = 0.0;
            for (i, &w) in ws[..n].iter().enumerate() {
                if w > 0.0 {
                    pick = Some(i);
                    cumulative += w;
                    if target < cumulative {
                        break;
                    }
                }
            }
            let x = xs[pick?];
            let mut chosen = 0;
            for (s, bits) in SUIT_BITS.iter().enumerate() {
                if x[s] > 0 {
                    chosen |= rng.pick_bits(remaining & bits, x[s] as u32);
                }
            }
            r = minus(r, x);
            chosen
        };
        remaining &= !chosen;
        split_among(round, hands, group.seats, chosen, rng);
    }
    Some(remaining)
}

/// A copy of `round` in which every hand but `observer`'s is replaced by a
/// deal drawn uniformly at random among all deals consistent with what
/// `observer` knows: its own hand, the cards played, the other seats' hand
/// sizes and their publicly known voids (see the module docs). Never
/// rejects, never panics.
///
/// # Errors
/// [`CoreError::InvalidSeat`] for an observer that is not a seat of the
/// round, and [`CoreError::NoConsistentDeal`] for a state no deal can match.
/// A round reached by legal play always has one (its true deal), so the
/// second error means the state was built inconsistently; returning the
/// round unchanged instead would hand a searcher everyone's real cards, a
/// silent switch to perfect-information search.
pub fn determinize(round: &Round, observer: usize, rng: &mut Rng) -> CoreResult<Round> {
    let players = round.num_players();
    if observer >= players {
        return Err(CoreError::InvalidSeat {
            seat: observer,
            players,
        });
    }
    let no_deal = || CoreError::NoConsistentDeal { observer };
    let setup = Setup::new(round, observer).ok_or_else(no_deal)?;
    let mut hands = [CardSet::EMPTY; MAX_PLAYERS];
    hands[observer] = round.hand(observer);
    let pool = if setup.num_groups == 0 {
        setup.unseen
    } else {
        deal_groups(round, &setup, &mut hands, rng).ok_or_else(no_deal)?
    };
    deal_free(round, &mut hands, setup.free_seats, pool, rng);
    let mut out = *round;
    out.set_hands(hands);
    Ok(out)
}

/// The same as [`determinize`] (which now checks the observer itself); kept
/// for existing callers.
pub fn determinize_checked(round: &Round, observer: usize, rng: &mut Rng) -> CoreResult<Round> {
    determinize(round, observer, rng)
}

/// The number of deals [`determinize`] chooses among: assignments of the
/// unseen cards to the other seats (their hand sizes, respecting voids), the
/// rest undealt. As f64 (exact below 2^53); 0 for a bad observer or a state
/// no deal matches. For tests and diagnostics.
pub fn consistent_deal_count(round: &Round, observer: usize) -> f64 {
    let Some(setup) = Setup::new(round, observer) else {
        return 0.0;
    };
    let mut memo = Some(HashMap::new());
    let mut count = ways(setup.groups(), setup.suit_counts(), &mut memo);
    // Ways to split each group's cards between its seats: a multinomial.
    let split = |seats: u8, mut total: u32| {
        let mut product = 1.0;
        for seat in 0..MAX_PLAYERS {
            if seats >> seat & 1 == 1 {
                let n = round.hand(seat).len();
                product *= binomial(total, n);
                total -= n;
            }
        }
        product
    };
    for group in setup.groups() {
        count *= split(group.seats, group.size as u32);
    }
    let held: u32 = setup.groups().iter().map(|g| g.size as u32).sum();
    count * split(setup.free_seats, setup.unseen.count_ones() - held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials_are_right() {
        assert_eq!(binomial(0, 0), 1.0);
        assert_eq!(binomial(5, 2), 10.0);
        assert_eq!(binomial(3, 4), 0.0);
        assert_eq!(binomial(52, 26), 495_918_532_948_104.0);
        assert_eq!(binomial(60, 1), 0.0);
    }

    #[test]
    fn compositions_are_all_bounded_vectors() {
        let group = Group {
            allowed: 0b1011,
            size: 4,
            seats: 1,
        };
        let r = [2, 5, 1, 3];
        let mut seen = Vec::new();
        let mut total = 0.0;
        for_each_composition(&group, r, |x, w| {
            seen.push(x);
            total += w;
        });
        let mut expected = Vec::new();
        for x0 in 0..=2u8 {
            for x1 in 0..=5u8 {
                for x3 in 0..=3u8 {
                    if x0 + x1 + x3 == 4 {
                        expected.push([x0, x1, 0, x3]);
                    }
                }
            }
        }
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected);
        // Vandermonde: choosing 4 of the 10 allowed cards.
        assert_eq!(total, binomial(10, 4));
    }

    /// A 3-player, 4-card round after random play in which a seat other
    /// than the observer has shown a void in a suit that still has unseen
    /// cards, and still holds cards: (round, observer, that seat).
    fn state_with_a_void() -> (Round, usize, usize) {
        for seed in 0..1000u64 {
            let mut rng = Rng::new(seed);
            let mut round = Round::deal(3, 4, 0, None, &mut rng).unwrap();
            while !round.is_over() {
                let legal = round.legal_actions();
                round.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
                for observer in 0..3 {
                    for seat in (0..3).filter(|&s| s != observer) {
                        let unseen = CardSet::FULL_DECK.bits()
                            & !round.hand(observer).bits()
                            & !round.played().bits();
                        let void_unseen = (0..4)
                            .any(|s| round.voids(seat) >> s & 1 == 1 && unseen & SUIT_BITS[s] != 0);
                        if void_unseen && !round.hand(seat).is_empty() {
                            return (round, observer, seat);
                        }
                    }
                }
            }
        }
        panic!("no state with a void found");
    }

    #[test]
    fn impossible_voids_are_an_error_not_the_real_deal() {
        let (round, observer, seat) = state_with_a_void();
        let mut rng = Rng::new(3);
        assert!(determinize(&round, observer, &mut rng).is_ok());
        // Let the observer "hold" all but one of the unseen cards `seat` may
        // still have: `seat` cannot fill its hand without a suit it is void
        // in, while the unseen cards as a whole still outnumber the hidden
        // hands (40 cards were never dealt).
        let unseen =
            CardSet::FULL_DECK.bits() & !round.hand(observer).bits() & !round.played().bits();
        let allowed = (0..4)
            .filter(|&s| round.voids(seat) >> s & 1 == 0)
            .fold(0u64, |m, s| m | SUIT_BITS[s])
            & unseen;
        let need = round.hand(seat).len();
        let keep = rng.pick_bits(allowed, need - 1);
        let mut hands = [CardSet::EMPTY; MAX_PLAYERS];
        hands[..3].copy_from_slice(round.hands());
        hands[observer] = CardSet(round.hand(observer).bits() | (allowed & !keep));
        let mut impossible = round;
        impossible.set_hands(hands);
        let held: u32 = (0..3)
            .filter(|&s| s != observer)
            .map(|s| round.hand(s).len())
            .sum();
        let unseen_now =
            CardSet::FULL_DECK.bits() & !hands[observer].bits() & !round.played().bits();
        assert!(
            unseen_now.count_ones() >= held,
            "only the void makes it impossible"
        );
        assert_eq!(consistent_deal_count(&impossible, observer), 0.0);
        for seed in 0..20 {
            assert_eq!(
                determinize(&impossible, observer, &mut Rng::new(seed)),
                Err(CoreError::NoConsistentDeal { observer })
            );
        }
    }

    #[test]
    fn more_hidden_cards_than_unseen_is_an_error() {
        // All 52 cards dealt; the observer's hand also claims a card seat 1
        // holds, so 39 hidden cards must come from 38 unseen ones.
        let mut rng = Rng::new(8);
        let round = Round::deal(4, 13, 0, None, &mut rng).unwrap();
        let mut hands = [CardSet::EMPTY; MAX_PLAYERS];
        hands[..4].copy_from_slice(round.hands());
        let stolen = round.hand(1).bits() & round.hand(1).bits().wrapping_neg();
        hands[0] = CardSet(hands[0].bits() | stolen);
        let mut impossible = round;
        impossible.set_hands(hands);
        assert_eq!(
            determinize(&impossible, 0, &mut rng),
            Err(CoreError::NoConsistentDeal { observer: 0 })
        );
        assert!(determinize(&round, 0, &mut rng).is_ok());
    }

    #[test]
    fn memo_does_not_change_the_counts() {
        let mut rng = Rng::new(11);
        for _ in 0..300 {
            let num = 2 + rng.below(4) as usize;
            let r = [0; 4].map(|_| rng.below(14) as u8);
            let groups: Vec<Group> = (0..num)
                .map(|i| {
                    let allowed = 1 + rng.below(7) as u8; // never all four suits
                    Group {
                        allowed: allowed << rng.below(2),
                        size: rng.below(5) as u8,
                        seats: 1 << i,
                    }
                })
                .collect();
            let plain = ways(&groups, r, &mut None);
            let memoized = ways(&groups, r, &mut Some(HashMap::new()));
            assert_eq!(plain, memoized, "{groups:?} {r:?}");
        }
    }
}
