//! Sampling the hidden hands weighted by the opponents' bids
//! (`Inference::Bids`): a hand-worked likelihood, the maximum bidder gets
//! the high trumps, no peeking at the real hidden hands (sampler, PUCT
//! search, ISMCTS), determinism, and the uniform sampler left as it was.

use blob_core::determinize::determinize;
use blob_core::{BID_OFFSET, Card, CardSet, Rng, Round, Suit};
use blob_search::heuristic::HeuristicEvaluator;
use blob_search::inference::{Inference, bid_log_likelihood, opponent_actions, sample_worlds};
use blob_search::{Information, IsmctsParams, Rollout, SearchParams, Searcher, ismcts_search};

const BIDS: Inference = Inference::Bids {
    candidates: 32,
    temperature: 1.0,
};

fn hand(names: &[&str]) -> CardSet {
    names.iter().map(|n| Card::parse(n).unwrap()).collect()
}

fn bid(round: &mut Round, b: usize) {
    round.apply(BID_OFFSET + b).unwrap();
}

/// A random round of `players` x `cards` after all bids (made by the
/// heuristic, so bids carry information) and a random number of plays.
fn bid_position(players: usize, cards: usize, rng: &mut Rng) -> Round {
    loop {
        let trump = Suit::from_index(rng.below(5) as u8).ok();
        let dealer = rng.below(players as u32) as usize;
        let mut r = Round::deal(players, cards, dealer, trump, rng).unwrap();
        let stop_bidding = 1 + rng.below(players as u32) as usize;
        while r.bids_made() < stop_bidding {
            r.apply_legal(blob_search::heuristic::heuristic_action(&r));
        }
        if stop_bidding == players {
            for _ in 0..rng.below((players * cards) as u32) {
                let legal = r.legal_actions();
                r.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
            }
        }
        if !r.is_over() && r.legal_actions().len() >= 2 {
            return r;
        }
    }
}

/// 4 players x 1 card, trumps spades, dealer 3: seat 0 (the observer) bids
/// 0, seat 1 bids 1, seat 2 bids 0, the dealer must bid 1 (0 would make the
/// bids add up to the 1 card dealt). One card is worth a trick for the
/// heuristic only if it is the ace of trumps, so at temperature 1 a seat
/// whose heuristic bid matches its bid has likelihood 1 / (1 + e^-1), one
/// off by a trick e^-1 / (1 + e^-1), and the dealer's forced bid 1.
#[test]
fn one_card_likelihoods_by_hand() {
    let world = |hands: [&str; 4]| {
        let hands: Vec<CardSet> = hands.iter().map(|h| hand(&[h])).collect();
        let mut r = Round::from_hands(&hands, 3, Some(Suit::Spades)).unwrap();
        for b in [0, 1, 0, 1] {
            bid(&mut r, b);
        }
        r
    };
    let agree = (1.0 / (1.0 + (-1.0f64).exp())).ln();
    let disagree = ((-1.0f64).exp() / (1.0 + (-1.0f64).exp())).ln();
    // Seat 1 holds the ace of trumps: both seats 1 and 2 bid as expected.
    let likely = bid_log_likelihood(&world(["4D", "AS", "2H", "3H"]), 0, 1.0).unwrap();
    assert!((likely - 2.0 * agree).abs() < 1e-9, "{likely}");
    // Seat 2 holds it: both are a trick off.
    let unlikely = bid_log_likelihood(&world(["4D", "2H", "AS", "3H"]), 0, 1.0).unwrap();
    assert!((unlikely - 2.0 * disagree).abs() < 1e-9, "{unlikely}");
    // The observer's own bid never counts: seat 1 observing leaves seat 2
    // (a trick off) and the forced dealer.
    // (seat 0, an opponent now, bid as expected).
    let other = bid_log_likelihood(&world(["4D", "2H", "AS", "3H"]), 1, 1.0).unwrap();
    assert!((other - disagree - agree).abs() < 1e-9, "{other}");
    // A played card is put back into the hand the seat bid with.
    let mut played = world(["4D", "AS", "2H", "3H"]);
    played
        .apply(Card::parse("4D").unwrap().index() as usize)
        .unwrap();
    played
        .apply(Card::parse("AS").unwrap().index() as usize)
        .unwrap();
    let after = bid_log_likelihood(&played, 0, 1.0).unwrap();
    assert!((after - likely).abs() < 1e-12);
}

/// 4 players x 5 cards, spades trumps; the observer (seat 0) holds no
/// spade, seat 1 bid all five tricks, seats 2 and 3 bid 0 and 1. Uniformly,
/// seat 1 holds the ace of spades with probability 5/47; weighted by the
/// bids, far more often.
#[test]
fn the_maximum_bidder_gets_the_high_trumps() {
    let hands = [
        hand(&["2H", "5H", "7D", "9C", "3D"]),
        hand(&["2S", "3S", "4S", "5S", "6S"]),
        hand(&["AS", "KS", "QS", "JS", "10S"]),
        hand(&["AH", "KH", "AD", "KD", "AC"]),
    ];
    let mut round = Round::from_hands(&hands, 3, Some(Suit::Spades)).unwrap();
    for b in [0, 5, 0, 1] {
        bid(&mut round, b);
    }
    let ace = Card::parse("AS").unwrap();
    let king = Card::parse("KS").unwrap();
    let draws = 2000;
    let frequency = |inference: Inference| {
        let mut rng = Rng::new(17);
        let mut worlds = Vec::new();
        for _ in 0..draws {
            sample_worlds(&round, 0, &inference, 1, &mut rng, &mut worlds).unwrap();
        }
        let holds = |c| worlds.iter().filter(|w| w.hand(1).contains(c)).count() as f64;
        (holds(ace) / draws as f64, holds(king) / draws as f64)
    };
    let (uniform_ace, uniform_king) = frequency(Inference::Uniform);
    let expected = 5.0 / 47.0;
    let sigma = (expected * (1.0 - expected) / draws as f64).sqrt();
    assert!(
        (uniform_ace - expected).abs() < 4.0 * sigma,
        "{uniform_ace}"
    );
    assert!(
        (uniform_king - expected).abs() < 4.0 * sigma,
        "{uniform_king}"
    );
    // A sharp bid model (temperature 0.5) from many candidates: seat 1
    // holds the ace about half the time (0.50 with 512 candidates).
    let (sharp_ace, sharp_king) = frequency(Inference::Bids {
        candidates: 128,
        temperature: 0.5,
    });
    // The default soft model (temperature 1, 32 candidates): about 0.24 for
    // the ace (0.26 with 512 candidates), still well above uniform.
    let (soft_ace, soft_king) = frequency(BIDS);
    println!("seat 1 holds AS: uniform {uniform_ace:.3}, soft {soft_ace:.3}, sharp {sharp_ace:.3}");
    println!(
        "seat 1 holds KS: uniform {uniform_king:.3}, soft {soft_king:.3}, sharp {sharp_king:.3}"
    );
    // Tolerances: 2000 draws give a standard error of about 0.01.
    assert!(sharp_ace > 3.0 * expected, "{sharp_ace}");
    assert!(sharp_king > 2.5 * expected, "{sharp_king}");
    assert!(soft_ace > 1.6 * expected, "{soft_ace}");
    assert!(soft_king > 1.4 * expected, "{soft_king}");
    assert!(
        sharp_ace > soft_ace,
        "a sharper model believes the bid more"
    );
}

#[test]
fn uniform_is_exactly_the_determinizer() {
    let mut rng = Rng::new(3);
    for i in 0..50 {
        let r = bid_position(3 + i % 5, 1 + i % 7, &mut rng);
        let seat = r.current_player().unwrap();
        let mut worlds = Vec::new();
        sample_worlds(
            &r,
            seat,
            &Inference::Uniform,
            4,
            &mut Rng::new(i as u64),
            &mut worlds,
        )
        .unwrap();
        let mut plain = Rng::new(i as u64);
        let expected: Vec<Round> = (0..4)
            .map(|_| determinize(&r, seat, &mut plain).unwrap())
            .collect();
        assert_eq!(worlds, expected);
    }
}

#[test]
fn bids_sampling_is_deterministic_and_seed_dependent() {
    let mut rng = Rng::new(4);
    let (mut differ, mut positions) = (0, 0);
    for i in 0..40 {
        let r = bid_position(7, 7, &mut rng);
        let seat = r.current_player().unwrap();
        let draw = |seed: u64| {
            let mut worlds = Vec::new();
            sample_worlds(&r, seat, &BIDS, 3, &mut Rng::new(seed), &mut worlds).unwrap();
            worlds
        };
        let a = draw(i);
        assert_eq!(a.len(), 3);
        assert_eq!(a, draw(i));
        for w in &a {
            assert_eq!(w.hand(seat), r.hand(seat));
            assert_eq!(w.bids(), r.bids());
            assert_eq!(w.played(), r.played());
        }
        positions += 1;
        differ += usize::from(a != draw(i + 1000));
    }
    assert!(differ * 10 >= positions * 9, "{differ} of {positions}");
}

/// Another round the observer cannot tell from `r`: the hidden hands
/// reshuffled by the determinizer (same bids, plays and voids).
fn reshuffled(r: &Round, observer: usize, rng: &mut Rng) -> Option<Round> {
    let other = determinize(r, observer, rng).unwrap();
    (other != *r).then_some(other)
}

#[test]
fn reshuffling_the_unseen_cards_changes_no_world() {
    let mut rng = Rng::new(9);
    let (mut checked, mut sensitive) = (0, 0);
    for i in 0..60 {
        let r = bid_position(3 + i % 5, 2 + i % 6, &mut rng);
        let seat = r.current_player().unwrap();
        let Some(other) = reshuffled(&r, seat, &mut rng) else {
            continue;
        };
        // The check can fail: the bids' likelihood of the two real deals
        // differs, so a sampler weighing the real hidden hands would differ.
        let real = |w: &Round| bid_log_likelihood(w, seat, 1.0).unwrap();
        sensitive += usize::from(real(&r) != real(&other));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        sample_worlds(&r, seat, &BIDS, 5, &mut Rng::new(i as u64), &mut a).unwrap();
        sample_worlds(&other, seat, &BIDS, 5, &mut Rng::new(i as u64), &mut b).unwrap();
        assert_eq!(a, b);
        checked += 1;
    }
    assert!(checked >= 50, "{checked}");
    assert!(sensitive * 2 >= checked, "{sensitive} of {checked}");
}

#[test]
fn reshuffling_the_unseen_cards_changes_no_search() {
    let mut rng = Rng::new(10);
    let params = SearchParams {
        inference: BIDS,
        ..SearchParams::light().for_play()
    };
    let ismcts = IsmctsParams::new(200)
        .with_rollout(Rollout::Heuristic)
        .with_inference(Inference::Bids {
            candidates: 4,
            temperature: 1.0,
        });
    let mut searcher = Searcher::new();
    let mut checked = 0;
    for i in 0..30 {
        let r = bid_position(4 + i % 4, 3 + i % 5, &mut rng);
        let seat = r.current_player().unwrap();
        let Some(other) = reshuffled(&r, seat, &mut rng) else {
            continue;
        };
        let search = |round: &Round, searcher: &mut Searcher| {
            searcher
                .search(
                    round,
                    &params,
                    Information::Imperfect,
                    None,
                    &mut HeuristicEvaluator::new(),
                    &mut Rng::new(i as u64),
                )
                .visits
        };
        assert_eq!(search(&r, &mut searcher), search(&other, &mut searcher));
        let a = ismcts_search(&r, seat, &ismcts, &mut Rng::new(i as u64)).unwrap();
        let b = ismcts_search(&other, seat, &ismcts, &mut Rng::new(i as u64)).unwrap();
        assert_eq!(a, b);
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}

/// Bad knobs are errors of the params, not panics in a search.
#[test]
fn bad_inference_knobs_fail_validation() {
    let mut params = SearchParams::light();
    params.inference = Inference::Bids {
        candidates: 0,
        temperature: 1.0,
    };
    assert!(params.validate().is_err());
    params.inference = Inference::Bids {
        candidates: 8,
        temperature: -1.0,
    };
    assert!(params.validate().is_err());
    let ismcts = IsmctsParams::new(10).with_inference(Inference::Bids {
        candidates: 8,
        temperature: f32::INFINITY,
    });
    assert!(ismcts.validate().is_err());
    params.inference = BIDS;
    assert!(params.validate().is_ok());
}

/// The actions policy inference asks about: every opponent bid, then every
/// opponent card played with a choice, each from the position its player
/// faced in the world (its hand there: its hand now plus what it played
/// since), in order, each legal there.
#[test]
fn opponent_actions_replay_the_round_in_the_world() {
    let mut rng = Rng::new(21);
    for _ in 0..200 {
        let players = 3 + rng.below(4) as usize;
        let cards = 2 + rng.below(5) as usize;
        let mut r = Round::deal(players, cards, 0, Suit::from_index(0).ok(), &mut rng).unwrap();
        for _ in 0..rng.below((players * (cards + 1)) as u32) {
            if r.is_over() {
                break;
            }
            let legal = r.legal_actions();
            r.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
        }
        let Some(observer) = r.current_player() else {
            continue;
        };
        let world = determinize(&r, observer, &mut rng).unwrap();
        let asked = opponent_actions(&world, observer).unwrap();
        let bids = (0..players)
            .filter(|&s| s != observer && world.bid(s).is_some())
            .count();
        assert!(asked.len() >= bids);
        assert!(asked[..bids].iter().all(|(_, _, a)| *a >= BID_OFFSET));
        for (state, seat, action) in &asked {
            assert_ne!(*seat, observer);
            assert_eq!(state.current_player(), Some(*seat));
            assert!(state.legal_actions().contains(*action));
            assert!(state.legal_actions().len() > 1 || *action >= BID_OFFSET);
        }
        // Every opponent card with a choice is asked about once.
        let cards_asked = asked.len() - bids;
        let opponent_cards = world.plays().iter().filter(|(s, _)| *s != observer).count();
        assert!(cards_asked <= opponent_cards);
    }
}
