//! Determinization: every sample is a legal, consistent deal (property test
//! over random tables and playouts), and samples are uniform over all
//! consistent deals (chi-square against a brute-force enumeration).

use std::collections::HashMap;

use blob_core::determinize::{consistent_deal_count, determinize, determinize_checked};
use blob_core::{CardSet, CoreError, MAX_PLAYERS, Rng, Round, Suit};
use proptest::prelude::*;

const SUIT_BITS: [u64; 4] = [0x1FFF, 0x1FFF << 13, 0x1FFF << 26, 0x1FFF << 39];

fn random_action(round: &Round, rng: &mut Rng) -> usize {
    let legal = round.legal_actions();
    legal.nth(rng.below(legal.len())).expect("a legal action")
}

/// A fresh deal (dealer and trump from the seed) after `steps` random legal
/// actions (fewer if the round ends first).
fn random_round(players: usize, cards: usize, seed: u64, steps: usize) -> Round {
    let mut rng = Rng::new(seed);
    let trump = Suit::from_index((seed % 5) as u8).ok();
    let mut round = Round::deal(
        players,
        cards,
        (seed % players as u64) as usize,
        trump,
        &mut rng,
    )
    .expect("valid table");
    for _ in 0..steps {
        if round.is_over() {
            break;
        }
        round.apply_legal(random_action(&round, &mut rng));
    }
    round
}

/// Cards the observer has not seen: neither in its hand nor played.
fn unseen(round: &Round, observer: usize) -> u64 {
    CardSet::FULL_DECK.bits() & !round.hand(observer).bits() & !round.played().bits()
}

/// Card bits of the suits in `mask`.
fn suit_bits(mask: u8) -> u64 {
    (0..4)
        .filter(|s| mask >> s & 1 == 1)
        .map(|s| SUIT_BITS[s])
        .fold(0, |a, b| a | b)
}

/// Voids of `seat` that matter: suits with unseen cards left.
fn effective_voids(round: &Round, observer: usize, seat: usize) -> u8 {
    let pool = unseen(round, observer);
    let present = (0..4)
        .filter(|&s| pool & SUIT_BITS[s] != 0)
        .fold(0u8, |m, s| m | 1 << s);
    round.voids(seat) & present
}

/// Asserts everything the observer knows is unchanged in `sample`, that the
/// hidden hands are a legal deal, and that the sample plays on to the end.
fn check_sample(round: &Round, sample: &Round, observer: usize, rng: &mut Rng) {
    let p = round.num_players();
    assert_eq!(sample.num_players(), p);
    assert_eq!(sample.cards(), round.cards());
    assert_eq!(sample.dealer(), round.dealer());
    assert_eq!(sample.trump(), round.trump());
    assert_eq!(sample.phase(), round.phase());
    assert_eq!(sample.current_player(), round.current_player());
    assert_eq!(sample.hand(observer), round.hand(observer));
    assert_eq!(sample.played(), round.played());
    assert_eq!(sample.trick_cards(), round.trick_cards());
    assert_eq!(sample.bids(), round.bids());
    assert_eq!(sample.bid_sum(), round.bid_sum());
    assert_eq!(sample.forbidden_bid(), round.forbidden_bid());
    assert_eq!(sample.trick_winners(), round.trick_winners());
    assert_eq!(sample.trick_leader(), round.trick_leader());
    assert_eq!(
        sample.current_trick().collect::<Vec<_>>(),
        round.current_trick().collect::<Vec<_>>()
    );
    assert_eq!(sample.plays(), round.plays());
    if round.current_player() == Some(observer) {
        assert_eq!(sample.legal_actions(), round.legal_actions());
    }
    let mut seen = round.played().bits();
    for seat in 0..p {
        assert_eq!(sample.tricks_won(seat), round.tricks_won(seat));
        assert_eq!(sample.voids(seat), round.voids(seat));
        assert_eq!(sample.cards_played_by(seat), round.cards_played_by(seat));
        let hand = sample.hand(seat).bits();
        assert_eq!(
            hand.count_ones(),
            round.hand(seat).len(),
            "seat {seat} hand size"
        );
        assert_eq!(
            hand & seen,
            0,
            "seat {seat} holds a card held or played elsewhere"
        );
        assert_eq!(
            hand & suit_bits(round.voids(seat)),
            0,
            "seat {seat} holds a suit it is void in"
        );
        seen |= hand;
    }
    let mut rest = *sample;
    rest.play_out_randomly(rng);
    assert!(rest.is_over());
    assert!(rest.scores().is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn samples_are_consistent_deals(
        seed in any::<u64>(),
        players in 3usize..=8,
        card_pick in 0usize..13,
        progress in 0.0f64..=1.0,
        observer_pick in 0usize..MAX_PLAYERS,
    ) {
        let cards = 1 + card_pick % (52 / players).min(13);
        let actions = players + players * cards;
        let round = random_round(players, cards, seed, (progress * actions as f64) as usize);
        let observer = observer_pick % players;
        let mut rng = Rng::new(seed ^ 0x0DE7_0DE7);
        // The true deal is one of the consistent ones.
        prop_assert!(consistent_deal_count(&round, observer) >= 1.0);
        for _ in 0..6 {
            let sample = determinize(&round, observer, &mut rng).expect("a consistent round");
            check_sample(&round, &sample, observer, &mut rng);
            let checked = determinize_checked(&round, observer, &mut rng);
            prop_assert!(checked.is_ok());
            check_sample(&round, &checked.unwrap(), observer, &mut rng);
        }
    }
}

#[test]
fn same_seed_same_sample() {
    let round = random_round(5, 7, 42, 14);
    let a = determinize(&round, 2, &mut Rng::new(9)).unwrap();
    let b = determinize(&round, 2, &mut Rng::new(9)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_observer_is_an_error_not_a_panic() {
    let round = random_round(4, 5, 3, 9);
    let mut rng = Rng::new(1);
    assert_eq!(
        determinize_checked(&round, 4, &mut rng),
        Err(CoreError::InvalidSeat {
            seat: 4,
            players: 4
        })
    );
    for observer in [4, 7, 8, 1000] {
        assert_eq!(
            determinize(&round, observer, &mut rng),
            Err(CoreError::InvalidSeat {
                seat: observer,
                players: 4
            })
        );
        assert_eq!(consistent_deal_count(&round, observer), 0.0);
    }
}

#[test]
fn over_round_is_returned_as_is() {
    let round = random_round(3, 4, 5, 1000);
    assert!(round.is_over());
    assert_eq!(determinize(&round, 1, &mut Rng::new(2)), Ok(round));
}

// ---- exactness -------------------------------------------------------------

/// Calls `f` with every subset of `mask` of `k` cards.
fn for_each_subset(mask: u64, k: u32, acc: u64, f: &mut impl FnMut(u64)) {
    if k == 0 {
        f(acc);
        return;
    }
    if mask.count_ones() < k {
        return;
    }
    let low = mask & mask.wrapping_neg();
    for_each_subset(mask & !low, k - 1, acc | low, f);
    for_each_subset(mask & !low, k, acc, f);
}

type Deal = [u64; MAX_PLAYERS];

fn deal_of(round: &Round) -> Deal {
    let mut deal = [0; MAX_PLAYERS];
    for (seat, hand) in round.hands().iter().enumerate() {
        deal[seat] = hand.bits();
    }
    deal
}

/// Every deal consistent with the observer's knowledge, by brute force:
/// each other seat takes any subset of the right size of the unseen cards
/// left, avoiding its void suits; whatever is left is undealt.
fn all_consistent_deals(round: &Round, observer: usize) -> Vec<Deal> {
    fn go(round: &Round, seats: &[usize], pool: u64, deal: &mut Deal, out: &mut Vec<Deal>) {
        let Some((&seat, rest)) = seats.split_first() else {
            out.push(*deal);
            return;
        };
        let allowed = pool & !suit_bits(round.voids(seat));
        for_each_subset(allowed, round.hand(seat).len(), 0, &mut |hand| {
            deal[seat] = hand;
            go(round, rest, pool & !hand, deal, out);
        });
    }
    let seats: Vec<usize> = (0..round.num_players())
        .filter(|&s| s != observer)
        .collect();
    let mut deal = [0; MAX_PLAYERS];
    deal[observer] = round.hand(observer).bits();
    let mut out = Vec::new();
    go(round, &seats, unseen(round, observer), &mut deal, &mut out);
    out
}

/// Upper 0.001 quantile of chi-square with `df` degrees of freedom
/// (Wilson-Hilferty).
fn chi2_critical_p001(df: usize) -> f64 {
    let z = 3.090_232_306; // upper 0.001 quantile of N(0, 1)
    let k = df as f64;
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

struct Fit {
    cells: usize,
    samples: usize,
    chi2: f64,
    critical: f64,
}

/// Draws samples with `sampler` and tests them against the uniform
/// distribution over all consistent deals. Panics if a sample is not a
/// consistent deal.
fn uniformity_fit(
    round: &Round,
    observer: usize,
    seed: u64,
    mut sampler: impl FnMut(&Round, usize, &mut Rng) -> Round,
) -> Fit {
    let deals = all_consistent_deals(round, observer);
    let cells = deals.len();
    assert!(cells >= 2, "nothing to test: {cells} deals");
    assert_eq!(consistent_deal_count(round, observer), cells as f64);
    let index: HashMap<Deal, usize> = deals.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    // At least 10 expected per cell (normal approximation is then good).
    let samples = (20 * cells).clamp(20_000, 60_000);
    assert!(samples >= 10 * cells, "case too big: {cells} deals");
    let mut counts = vec![0u32; cells];
    let mut rng = Rng::new(seed);
    for _ in 0..samples {
        let sample = sampler(round, observer, &mut rng);
        let i = index
            .get(&deal_of(&sample))
            .unwrap_or_else(|| panic!("inconsistent sample {:?}", sample.hands()));
        counts[*i] += 1;
    }
    let expected = samples as f64 / cells as f64;
    let chi2 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    Fit {
        cells,
        samples,
        chi2,
        critical: chi2_critical_p001(cells - 1),
    }
}

fn assert_uniform(name: &str, round: &Round, observer: usize) {
    let fit = uniformity_fit(round, observer, 77, |r, o, rng| {
        determinize(r, o, rng).expect("a consistent round")
    });
    assert!(
        fit.chi2 < fit.critical,
        "{name}: chi2 {:.1} >= {:.1} (p = 0.001, {} deals, {} samples)",
        fit.chi2,
        fit.critical,
        fit.cells,
        fit.samples
    );
}

/// The first state, over seeds and random playouts, and the observer, that
/// `accept` takes (observers are tried in seat order after every action).
fn find_state(
    players: usize,
    cards: usize,
    accept: impl Fn(&Round, usize) -> bool,
) -> (Round, usize) {
    for seed in 0..20_000u64 {
        let mut rng = Rng::new(seed);
        let mut round = random_round(players, cards, seed, 0);
        while !round.is_over() {
            round.apply_legal(random_action(&round, &mut rng));
            for observer in 0..players {
                if accept(&round, observer) {
                    return (round, observer);
                }
            }
        }
    }
    panic!("no state found for {players} players, {cards} cards");
}

/// Effective void masks of the other seats that still hold cards.
fn other_voids(round: &Round, observer: usize) -> Vec<u8> {
    (0..round.num_players())
        .filter(|&s| s != observer && !round.hand(s).is_empty())
        .map(|s| effective_voids(round, observer, s))
        .collect()
}

fn deals_between(round: &Round, observer: usize, lo: f64, hi: f64) -> bool {
    let n = consistent_deal_count(round, observer);
    (lo..=hi).contains(&n)
}

#[test]
fn uniform_without_voids() {
    let (round, observer) = find_state(3, 3, |r, o| {
        let voids = other_voids(r, o);
        voids.len() == 2 && voids.iter().all(|&v| v == 0) && deals_between(r, o, 100.0, 3000.0)
    });
    assert_uniform("no voids", &round, observer);
}

#[test]
fn uniform_with_one_void() {
    let (round, observer) = find_state(3, 4, |r, o| {
        let voids = other_voids(r, o);
        voids.len() == 2
            && voids.iter().filter(|&&v| v != 0).count() == 1
            && deals_between(r, o, 100.0, 3000.0)
    });
    assert_uniform("one void", &round, observer);
}

#[test]
fn uniform_with_two_different_voids() {
    let (round, observer) = find_state(3, 4, |r, o| {
        let voids = other_voids(r, o);
        voids.len() == 2
            && voids.iter().all(|&v| v != 0)
            && voids[0] != voids[1]
            && deals_between(r, o, 50.0, 3000.0)
    });
    assert_uniform("two voids", &round, observer);
}

#[test]
fn uniform_with_two_void_groups_and_nothing_undealt() {
    // 4 x 13 deals every card, so the seats compete for few unseen cards and
    // one group's suit counts strongly shape what the other can take.
    let (round, observer) = find_state(4, 13, |r, o| {
        let mut voids = other_voids(r, o);
        let free = voids.iter().filter(|&&v| v == 0).count();
        voids.retain(|&v| v != 0);
        voids.sort();
        voids.dedup();
        voids.len() == 2 && free >= 1 && deals_between(r, o, 200.0, 3000.0)
    });
    assert_uniform("two groups, 4 x 13", &round, observer);
}

#[test]
fn uniform_when_seats_share_their_voids() {
    // Two seats void in the same suits form one group whose cards are then
    // split between them.
    let (round, observer) = find_state(4, 13, |r, o| {
        let voids = other_voids(r, o);
        let shared = voids
            .iter()
            .enumerate()
            .any(|(i, &v)| v != 0 && voids[i + 1..].contains(&v));
        shared && deals_between(r, o, 200.0, 3000.0)
    });
    assert_uniform("shared voids", &round, observer);
}

/// A seat whose voids leave exactly as many unseen cards as it holds: those
/// cards are forced into its hand. No undealt cards (4 x 13).
fn forced_state() -> (Round, usize) {
    find_state(4, 13, |r, o| {
        let pool = unseen(r, o);
        let forced = (0..4).any(|s| {
            let n = r.hand(s).len();
            s != o
                && n > 0
                && effective_voids(r, o, s) != 0
                && (pool & !suit_bits(r.voids(s))).count_ones() == n
        });
        let constrained = other_voids(r, o).iter().filter(|&&v| v != 0).count();
        forced && constrained >= 2 && deals_between(r, o, 20.0, 3000.0)
    })
}

#[test]
fn uniform_when_a_void_forces_cards() {
    let (round, observer) = forced_state();
    assert_uniform("forced", &round, observer);
}

#[test]
fn uniform_with_three_void_groups() {
    let (round, observer) = find_state(5, 10, |r, o| {
        let mut voids = other_voids(r, o);
        voids.retain(|&v| v != 0);
        voids.sort();
        voids.dedup();
        voids.len() >= 3 && deals_between(r, o, 50.0, 3000.0)
    });
    assert_uniform("three groups", &round, observer);
}

/// Four distinct sets of voids among the other seats (6 x 8, so some cards
/// are undealt): the memoized weighing path.
fn four_group_state() -> (Round, usize) {
    find_state(6, 8, |r, o| {
        let mut voids = other_voids(r, o);
        voids.retain(|&v| v != 0);
        voids.sort();
        voids.dedup();
        voids.len() >= 4 && deals_between(r, o, 20.0, 3000.0)
    })
}

#[test]
fn uniform_with_four_void_groups() {
    let (round, observer) = four_group_state();
    assert_uniform("four groups", &round, observer);
}

/// The obvious sampler: each other seat in turn takes random cards from what
/// it may hold, starting over when a seat cannot be served. It always
/// returns consistent deals, but not uniformly: a seat's choice changes how
/// many options the next seats have.
fn naive_sampler(round: &Round, observer: usize, rng: &mut Rng) -> Round {
    loop {
        let mut pool = unseen(round, observer);
        let mut deal = deal_of(round);
        let mut ok = true;
        for seat in (0..round.num_players()).filter(|&s| s != observer) {
            let n = round.hand(seat).len();
            let allowed = pool & !suit_bits(round.voids(seat));
            if allowed.count_ones() < n {
                ok = false;
                break;
            }
            deal[seat] = rng.pick_bits(allowed, n);
            pool &= !deal[seat];
        }
        if ok {
            let hands: Vec<CardSet> = deal[..round.num_players()]
                .iter()
                .map(|&b| CardSet(b))
                .collect();
            // Rebuild the state with these hands by replaying the public
            // history from the start.
            return replay_with_hands(round, &hands);
        }
    }
}

/// `round`'s history replayed on a deal that gives every seat its current
/// hand plus the cards it played.
fn replay_with_hands(round: &Round, hands: &[CardSet]) -> Round {
    let mut start: Vec<CardSet> = hands.to_vec();
    for (seat, card) in round.plays() {
        start[seat].insert(card);
    }
    let mut replay = Round::from_hands(&start, round.dealer(), round.trump()).expect("a full deal");
    let mut order = Vec::new();
    // Bids in order: left of the dealer first.
    let p = round.num_players();
    for k in 1..=round.bids_made() {
        let seat = (round.dealer() + k) % p;
        order.push(52 + round.bid(seat).expect("bid made"));
    }
    order.extend(round.plays().iter().map(|&(_, c)| c.index() as usize));
    replay.apply_all(&order).expect("the same history is legal");
    replay
}

#[test]
fn the_fit_rejects_a_biased_sampler() {
    // The test above must be able to fail: the naive sampler draws consistent
    // deals but not uniformly, and the chi-square test catches it.
    // (On this state it gives chi2 around 18,000 against a critical value
    // around 2,100; on states where the seats' choices hardly interact it
    // is close to uniform and would pass.)
    let (round, observer) = four_group_state();
    let fit = uniformity_fit(&round, observer, 77, naive_sampler);
    assert!(
        fit.chi2 > fit.critical,
        "naive sampler passed: chi2 {:.1} < {:.1} ({} deals)",
        fit.chi2,
        fit.critical,
        fit.cells
    );
}
