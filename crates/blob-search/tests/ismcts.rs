//! The reference ISMCTS player: bad input, legal moves, determinism, the
//! no-peek property, hand-worked positions, and (ignored, slow) strength
//! matches by seat-rotated duplicate play:
//!
//! ```text
//! cargo test --release -p blob-search --test ismcts -- --ignored --nocapture --test-threads=1
//! ```
//!
//! The strength matches are two agents, two seats each, at a 4-player table
//! with 5 cards, ISMCTS with random rollouts and the default exploration;
//! `BLOB_ISMCTS_DEALS` sets the number of deals (default 2000, that is 8000
//! rounds per match, about a minute each on one core). An agent is
//! "stronger" when the 95% interval of its paired per-deal score difference
//! is above 0.

mod common;

use std::time::Instant;

use common::position;

use blob_core::determinize::determinize;
use blob_core::{BID_OFFSET, Card, CardSet, CoreError, Phase, Rng, Round, Suit};
use blob_search::arena::{
    ArenaReport, HeuristicPlayer, Player, RandomPlayer, play_duplicate, play_round,
};
use blob_search::{
    Information, Ismcts, IsmctsParams, IsmctsPlayer, Rollout, SearchError, ismcts_search,
};

fn card(name: &str) -> usize {
    Card::parse(name).unwrap().index() as usize
}

fn hand(names: &[&str]) -> CardSet {
    names.iter().map(|n| Card::parse(n).unwrap()).collect()
}

fn mover(r: &Round) -> usize {
    r.current_player().unwrap()
}

// ---- bad input ------------------------------------------------------------

#[test]
fn bad_parameters_and_rounds_are_typed_errors() {
    let mut rng = Rng::new(1);
    let r = Round::deal(4, 3, 0, Some(Suit::Spades), &mut rng).unwrap();
    let seat = mover(&r);
    let invalid = |e: SearchResult| matches!(e, Err(SearchError::InvalidParam(_)));
    type SearchResult = Result<blob_search::IsmctsOutcome, SearchError>;
    assert!(invalid(ismcts_search(
        &r,
        seat,
        &IsmctsParams::new(0),
        &mut rng
    )));
    for c in [-0.1, f32::NAN, f32::INFINITY] {
        let params = IsmctsParams::new(10).with_exploration(c);
        assert!(invalid(ismcts_search(&r, seat, &params, &mut rng)), "{c}");
    }
    let params = IsmctsParams::new(10);
    assert!(invalid(ismcts_search(
        &r,
        (seat + 1) % 4,
        &params,
        &mut rng
    )));
    assert_eq!(
        ismcts_search(&r, 4, &params, &mut rng),
        Err(SearchError::Core(CoreError::InvalidSeat {
            seat: 4,
            players: 4
        }))
    );
    let mut over = r;
    over.play_out_randomly(&mut rng);
    assert_eq!(
        ismcts_search(&over, 0, &params, &mut rng),
        Err(SearchError::Core(CoreError::RoundOver))
    );
    assert_eq!(Rollout::from_name("heuristic"), Ok(Rollout::Heuristic));
    assert!(Rollout::from_name("greedy").is_err());
}

// ---- legal moves, visits, determinism ----------------------------------------

#[test]
fn visits_cover_legal_actions_only_and_sum_to_the_iterations() {
    let mut rng = Rng::new(2);
    let mut search = Ismcts::new();
    for i in 0..60 {
        let r = position(&mut rng);
        let legal = r.legal_actions();
        let rollout = if i % 2 == 0 {
            Rollout::Random
        } else {
            Rollout::Heuristic
        };
        let params = IsmctsParams::new(200).with_rollout(rollout);
        let out = search.search(&r, mover(&r), &params, &mut rng).unwrap();
        let total: f32 = out.visits.iter().sum();
        assert_eq!(total, 200.0);
        assert_eq!(out.iterations, 200);
        for (a, &v) in out.visits.iter().enumerate() {
            assert!(
                v == 0.0 || legal.contains(a),
                "visits on illegal action {a}"
            );
        }
        // 200 iterations try every legal action at least once (at most 14).
        assert!(legal.iter().all(|a| out.visits[a] >= 1.0));
        assert!(legal.contains(out.best_action()));
        let p: f32 = out.policy().iter().sum();
        assert!((p - 1.0).abs() < 1e-5);
        // Root values are mean scaled scores: in [0, 1], zero for absent seats.
        for (s, &v) in out.root_value.iter().enumerate() {
            assert!((0.0..=1.0).contains(&v));
            assert!(s < r.num_players() || v == 0.0);
        }
    }
}

#[test]
fn a_forced_move_is_answered_without_search() {
    let mut rng = Rng::new(3);
    let mut r = Round::deal(3, 2, 0, None, &mut rng).unwrap();
    while r.legal_actions().len() != 1 {
        let legal = r.legal_actions();
        r.apply_legal(legal.nth(rng.below(legal.len())).unwrap());
    }
    let out = ismcts_search(&r, mover(&r), &IsmctsParams::new(50), &mut rng).unwrap();
    assert_eq!(out.iterations, 0);
    assert_eq!(out.visits.iter().sum::<f32>(), 1.0);
    assert!(r.legal_actions().contains(out.best_action()));
}

#[test]
fn whole_rounds_are_played_legally_at_every_table_size() {
    for players in 3..=8 {
        let mut rng = Rng::new(players as u64);
        let cards = 1 + rng.below((52 / players).min(8) as u32) as usize;
        let start = Round::deal(players, cards, 0, Suit::from_index(2).ok(), &mut rng).unwrap();
        let mut agents: Vec<Box<dyn Player>> = vec![
            Box::new(IsmctsPlayer::new(IsmctsParams::new(40), 7)),
            Box::new(RandomPlayer::new(8)),
        ];
        let seating: Vec<usize> = (0..players).map(|s| s % 2).collect();
        // play_round panics on an illegal action.
        let end = play_round(&mut agents, &seating, start);
        assert!(end.is_over());
    }
}

#[test]
fn the_same_seed_gives_the_same_search() {
    let mut rng = Rng::new(4);
    let mut differ = 0;
    for _ in 0..20 {
        let r = position(&mut rng);
        let params = IsmctsParams::new(300);
        let run = |seed| ismcts_search(&r, mover(&r), &params, &mut Rng::new(seed)).unwrap();
        assert_eq!(run(11), run(11));
        differ += usize::from(run(11) != run(12));
    }
    // The seed matters: different samplers give different searches (the
    // visits alone can agree, when the moves are worth the same).
    assert!(differ >= 15, "{differ}");
}

// ---- root prior ------------------------------------------------------------

/// A prior with `mass` on `favourite` and the rest spread over the other
/// legal actions (nothing on illegal ones).
fn prior_on(r: &Round, favourite: usize, mass: f32) -> [f32; blob_core::NUM_ACTIONS] {
    let legal = r.legal_actions();
    let mut prior = [0.0f32; blob_core::NUM_ACTIONS];
    let rest = (1.0 - mass) / (legal.len() - 1) as f32;
    for a in legal.iter() {
        prior[a] = if a == favourite { mass } else { rest };
    }
    prior
}

#[test]
fn a_zero_weight_prior_changes_nothing() {
    let mut rng = Rng::new(21);
    let mut search = Ismcts::new();
    for _ in 0..20 {
        let r = position(&mut rng);
        let favourite = r.legal_actions().iter().last().unwrap();
        let prior = prior_on(&r, favourite, 0.9);
        let params = IsmctsParams::new(300).with_prior_weight(0.0);
        let plain = search
            .search(&r, mover(&r), &params, &mut Rng::new(3))
            .unwrap();
        let guided = search
            .search_with_prior(&r, mover(&r), &params, Some(&prior), &mut Rng::new(3))
            .unwrap();
        assert_eq!(plain, guided);
    }
}

#[test]
fn the_prior_steers_visits_toward_its_favourite() {
    let mut rng = Rng::new(22);
    let mut search = Ismcts::new();
    let (mut more, mut positions) = (0, 0);
    for _ in 0..40 {
        let r = position(&mut rng);
        let legal = r.legal_actions();
        // The action plain search likes least gets the prior's mass.
        let params = IsmctsParams::new(400);
        let plain = search
            .search(&r, mover(&r), &params, &mut Rng::new(4))
            .unwrap();
        let favourite = legal
            .iter()
            .min_by(|&a, &b| plain.visits[a].total_cmp(&plain.visits[b]))
            .unwrap();
        let prior = prior_on(&r, favourite, 0.95);
        let guided = search
            .search_with_prior(&r, mover(&r), &params, Some(&prior), &mut Rng::new(4))
            .unwrap();
        assert_eq!(guided.visits.iter().sum::<f32>(), 400.0);
        assert!(legal.iter().all(|a| guided.visits[a] >= 1.0));
        positions += 1;
        more += usize::from(guided.visits[favourite] > plain.visits[favourite]);
    }
    assert_eq!(more, positions, "{more} of {positions}");
}

#[test]
fn prior_mass_on_illegal_actions_is_ignored() {
    let mut rng = Rng::new(23);
    let r = position(&mut rng);
    let legal = r.legal_actions();
    let mut prior = prior_on(&r, legal.iter().next().unwrap(), 0.5);
    let illegal = (0..blob_core::NUM_ACTIONS)
        .find(|&a| !legal.contains(a))
        .unwrap();
    let params = IsmctsParams::new(200);
    let mut search = Ismcts::new();
    let base = search
        .search_with_prior(&r, mover(&r), &params, Some(&prior), &mut Rng::new(5))
        .unwrap();
    prior[illegal] = 7.0;
    let more = search
        .search_with_prior(&r, mover(&r), &params, Some(&prior), &mut Rng::new(5))
        .unwrap();
    assert_eq!(base, more);
}

#[test]
fn bad_priors_are_typed_errors() {
    let mut rng = Rng::new(24);
    let r = position(&mut rng);
    let legal = r.legal_actions();
    let mut search = Ismcts::new();
    let params = IsmctsParams::new(50);
    let mut run = |prior: [f32; blob_core::NUM_ACTIONS]| {
        search.search_with_prior(&r, mover(&r), &params, Some(&prior), &mut Rng::new(1))
    };
    let mut nan = [0.0; blob_core::NUM_ACTIONS];
    nan[legal.iter().next().unwrap()] = f32::NAN;
    let mut negative = [0.0; blob_core::NUM_ACTIONS];
    negative[legal.iter().next().unwrap()] = -1.0;
    let mut off_legal = [0.0; blob_core::NUM_ACTIONS];
    off_legal[(0..blob_core::NUM_ACTIONS)
        .find(|&a| !legal.contains(a))
        .unwrap()] = 1.0;
    for (prior, needle) in [
        (nan, "finite"),
        (negative, ">= 0"),
        (off_legal, "no mass on a legal action"),
    ] {
        match run(prior) {
            Err(SearchError::InvalidParam(m)) => assert!(m.contains(needle), "{m}"),
            other => panic!("expected InvalidParam({needle}), got {other:?}"),
        }
    }
    for weight in [f32::NAN, -0.5, f32::INFINITY] {
        let params = IsmctsParams::new(50).with_prior_weight(weight);
        match ismcts_search(&r, mover(&r), &params, &mut Rng::new(1)) {
            Err(SearchError::InvalidParam(m)) => assert!(m.contains("prior_weight"), "{m}"),
            other => panic!("expected InvalidParam(prior_weight), got {other:?}"),
        }
    }
}

// ---- no peeking ------------------------------------------------------------

/// Searches `count` random positions twice, on the true deal and on another
/// deal consistent with the mover's knowledge (the other hands reshuffled by
/// the determinizer), with the same sampler seed. Returns (positions whose
/// hidden hands really differ, of those the ones whose visits differ).
fn reshuffled_searches(count: usize, information: Information) -> (usize, usize) {
    let mut rng = Rng::new(5);
    let mut params = IsmctsParams::new(300);
    params.information = information;
    let (mut reshuffled, mut differ) = (0, 0);
    for i in 0..count {
        let r = position(&mut rng);
        let seat = mover(&r);
        let other =
            determinize(&r, seat, &mut rng).expect("a real round always has a consistent deal");
        assert_eq!(other.hand(seat), r.hand(seat));
        if other == r {
            continue; // nothing hidden to reshuffle (every card is known)
        }
        reshuffled += 1;
        let rollout = if i % 2 == 0 {
            Rollout::Random
        } else {
            Rollout::Heuristic
        };
        let params = params.clone().with_rollout(rollout);
        // Every third position with a root prior (one that depends only on
        // the mover's legal actions, as a network reading its view would).
        let prior =
            (i % 3 == 0).then(|| prior_on(&r, r.legal_actions().iter().next().unwrap(), 0.6));
        let mut search = Ismcts::new();
        let mut run = |round: &Round| {
            search
                .search_with_prior(
                    round,
                    seat,
                    &params,
                    prior.as_ref(),
                    &mut Rng::new(i as u64),
                )
                .unwrap()
        };
        let (a, b) = (run(&r), run(&other));
        differ += usize::from(a != b);
    }
    (reshuffled, differ)
}

#[test]
fn reshuffling_the_unseen_cards_changes_nothing() {
    let (reshuffled, differ) = reshuffled_searches(80, Information::Imperfect);
    assert!(reshuffled >= 60, "{reshuffled}");
    assert_eq!(differ, 0);
}

#[test]
fn the_no_peek_check_catches_a_search_that_peeks() {
    // The same harness on the cheat (every iteration searches the true deal).
    let (reshuffled, differ) = reshuffled_searches(80, Information::Perfect);
    println!("the cheat differs in {differ} of {reshuffled} reshuffled positions");
    assert!(reshuffled >= 60, "{reshuffled}");
    assert!(differ * 2 >= reshuffled, "{differ} of {reshuffled}");
}

// ---- hand-worked positions -----------------------------------------------

#[test]
fn bids_one_with_the_ace_of_trumps_in_a_one_card_round() {
    // Seat 0 bids first holding the ace of trumps: bidding 1 scores 11 for
    // sure, bidding 0 scores nothing.
    let mut rng = Rng::new(6);
    for players in [3, 5] {
        let mut hands = vec![hand(&["AS"])];
        let mut rest = CardSet::FULL_DECK.minus(hand(&["AS"]));
        for _ in 1..players {
            let c = CardSet(rng.pick_bits(rest.bits(), 1));
            rest = rest.minus(c);
            hands.push(c);
        }
        let r = Round::from_hands(&hands, players - 1, Some(Suit::Spades)).unwrap();
        assert_eq!(mover(&r), 0);
        for rollout in [Rollout::Random, Rollout::Heuristic] {
            let params = IsmctsParams::new(500).with_rollout(rollout);
            let out = ismcts_search(&r, 0, &params, &mut rng).unwrap();
            assert_eq!(out.best_action(), BID_OFFSET + 1, "{rollout:?}");
            assert!(out.visits[BID_OFFSET + 1] > 0.9 * 500.0, "{:?}", out.visits);
        }
    }
}

/// Seat 2 (bid 1, no trick yet) is last to play to a diamond trick with
/// the ace of trumps and the two of hearts, two tricks left. Discarding the
/// two now and winning the last trick with the ace makes the bid for sure;
/// trumping now leaves the two of hearts to lead into the last trick, where
/// it wins (and breaks the bid) whenever neither opponent has a heart or a
/// spade.
fn discard_endgame() -> Round {
    let hands = [
        hand(&["AC", "KD", "9C"]),
        hand(&["5C", "3D", "8D"]),
        hand(&["4C", "AS", "2H"]),
    ];
    let mut r = Round::from_hands(&hands, 2, Some(Suit::Spades)).unwrap();
    let bids = [BID_OFFSET + 1, BID_OFFSET, BID_OFFSET + 1];
    let plays = ["AC", "5C", "4C", "KD", "3D"].map(card);
    r.apply_all(&bids).unwrap();
    r.apply_all(&plays).unwrap();
    assert_eq!((mover(&r), r.phase()), (2, Phase::Play));
    assert_eq!(r.legal_actions().to_vec(), {
        let mut v = vec![card("AS"), card("2H")];
        v.sort();
        v
    });
    r
}

#[test]
fn keeps_the_sure_winner_for_the_last_trick() {
    let r = discard_endgame();
    let mut rng = Rng::new(7);
    for rollout in [Rollout::Random, Rollout::Heuristic] {
        let params = IsmctsParams::new(1000).with_rollout(rollout);
        let out = ismcts_search(&r, 2, &params, &mut rng).unwrap();
        println!(
            "{rollout:?}: 2H {} visits, AS {} visits",
            out.visits[card("2H")],
            out.visits[card("AS")]
        );
        assert_eq!(
            out.best_action(),
            card("2H"),
            "{rollout:?}: {:?}",
            out.visits
        );
        // The discard makes the bid in every determinization: its mean is
        // exactly 11 / 13 for seat 2.
        assert!(out.visits[card("2H")] > out.visits[card("AS")] * 2.0);
    }
}

// ---- strength (slow) ----------------------------------------------------------

const PLAYERS: usize = 4;
const CARDS: usize = 5;

fn deals() -> usize {
    std::env::var("BLOB_ISMCTS_DEALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

fn ismcts(iterations: u32, seed: u64) -> Box<dyn Player> {
    Box::new(IsmctsPlayer::new(IsmctsParams::new(iterations), seed))
}

fn run(label: &str, mut players: Vec<Box<dyn Player>>, seed: u64) -> ArenaReport {
    let started = Instant::now();
    let report = play_duplicate(&mut players, PLAYERS, CARDS, deals(), seed);
    let secs = started.elapsed().as_secs_f64();
    println!("== {label} ({secs:.1} s wall)\n{report}");
    report
}

/// Agent 0 ahead of agent 1: the 95% interval of the paired per-deal
/// difference lies above 0.
fn assert_ahead(report: &ArenaReport) {
    let (diff, ci) = report.paired_difference(0, 1);
    assert!(
        diff - ci > 0.0,
        "{} is not ahead of {}: paired difference {diff:+.3} +- {ci:.3}",
        report.agents[0].name,
        report.agents[1].name
    );
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn ismcts_beats_random() {
    let report = run(
        "ismcts-1000 vs random",
        vec![ismcts(1000, 1), Box::new(RandomPlayer::new(2))],
        401,
    );
    assert_ahead(&report);
    assert!(report.clearly_ahead(0, 1));
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn ismcts_beats_the_heuristic() {
    let report = run(
        "ismcts-1000 vs heuristic",
        vec![ismcts(1000, 3), Box::new(HeuristicPlayer)],
        402,
    );
    assert_ahead(&report);
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn more_iterations_play_better() {
    let report = run(
        "ismcts-1000 vs ismcts-100",
        vec![ismcts(1000, 4), ismcts(100, 5)],
        403,
    );
    assert_ahead(&report);
}
