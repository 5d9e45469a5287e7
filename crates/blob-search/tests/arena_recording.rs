//! The arena as a teacher: with `record`, every searched decision becomes
//! examples in the teacher's format (policy: the search's normalized root
//! visits; one row per seat with its view and the round's scores), the
//! rounds are those of the plain arena at temperature 0, and temperature
//! draws are seeded, so the run is the same for any thread count.

mod common;

use common::ObservationNet;

use blob_core::observation::{OBS_SIZE, encode_observation};
use blob_core::{BID_OFFSET, MAX_PLAYERS, Phase, Rng, Round, Suit};
use blob_search::driver::arena::{
    ArenaConfig, ArenaEngine, ArenaRound, Recording, SeatAgent, decision_seed, serve_arena,
};
use blob_search::leaf_ismcts::search_with_evaluator;
use blob_search::{Evaluator, IsmctsParams, Rollout, SearchError};

const AGENT_SEED: u64 = 41;

fn params() -> IsmctsParams {
    IsmctsParams::new(40).with_rollout(Rollout::Network)
}

fn config(threads: usize, record: Option<Recording>) -> ArenaConfig {
    let deals = (0..6)
        .map(|d| {
            let mut rng = Rng::new(2000 + d);
            let trump = Suit::from_index(rng.below(5) as u8).ok();
            Round::deal(4, 4, (d % 4) as usize, trump, &mut rng).unwrap()
        })
        .collect();
    ArenaConfig {
        threads,
        games_per_thread: 3,
        max_batch: 64,
        pipeline_depth: 3,
        cache_entries: 1024,
        networks: 1,
        deals,
        seatings: vec![vec![0; 4]],
        agents: vec![SeatAgent::GuidedIsmcts {
            net: 0,
            params: params(),
            seed: AGENT_SEED,
        }],
        record,
    }
}

fn recording(temperature_moves: u32) -> Recording {
    Recording {
        seed: 7,
        first_round_id: 500,
        temperature_moves,
        temperature: 1.0,
    }
}

/// Every round of the schedule, in schedule order.
fn play(config: ArenaConfig) -> Vec<ArenaRound> {
    let total = config.rounds() as usize;
    let engine = ArenaEngine::start(config).unwrap();
    let mut net = ObservationNet;
    let mut nets: Vec<&mut dyn Evaluator> = vec![&mut net];
    serve_arena(&engine, &mut nets, 64).unwrap();
    let mut rounds = engine.take_results().unwrap();
    rounds.sort_by_key(|r| r.index);
    assert_eq!(rounds.len(), total);
    rounds
}

/// The action played at `round` in the finished round `end`.
fn played(
    round: &Round,
    end: &Round,
    cards: &mut std::slice::Iter<'_, (usize, blob_core::Card)>,
) -> usize {
    let seat = round.current_player().unwrap();
    if round.phase() == Phase::Bid {
        BID_OFFSET + end.bid(seat).unwrap()
    } else {
        cards.next().unwrap().1.index() as usize
    }
}

#[test]
fn records_every_searched_decision_as_the_search_saw_it() {
    let plain = play(config(2, None));
    let recorded = play(config(2, Some(recording(0))));
    let mut decisions = 0;
    for (p, r) in plain.iter().zip(&recorded) {
        assert_eq!(p.end, r.end, "recording at temperature 0 changes no move");
        assert!(p.examples.is_none());
        let examples = r.examples.as_ref().unwrap();
        let mut round = config(1, None).deals[r.index as usize];
        let plays = r.end.plays();
        let mut cards = plays.iter();
        let (mut row, mut move_number) = (0, 0u16);
        while let Some(seat) = round.current_player() {
            let legal = round.legal_actions();
            if legal.len() >= 2 {
                let rng = Rng::new(decision_seed(AGENT_SEED, &round));
                let (outcome, _) =
                    search_with_evaluator(&round, seat, &params(), rng, &mut ObservationNet)
                        .unwrap();
                let total: f32 = outcome.visits.iter().sum();
                for observer in 0..4 {
                    let (state, mask, policy, value) = examples.row(row);
                    let mut obs = [0.0f32; OBS_SIZE];
                    encode_observation(&round, observer, None, &mut obs);
                    assert_eq!(state, &obs[..], "row {row}: the observer's view");
                    assert_eq!(mask, &legal.to_mask()[..]);
                    for (p, v) in policy.iter().zip(&outcome.visits) {
                        assert!((p - v / total).abs() < 1e-6);
                    }
                    assert_eq!(value, &r.end.values_from(observer)[..MAX_PLAYERS]);
                    assert_eq!(examples.seat[row], observer as u8);
                    assert_eq!(examples.move_number[row], move_number);
                    assert_eq!(examples.round_id[row], 500 + r.index);
                    row += 1;
                }
                decisions += 1;
            }
            round.apply(played(&round, &r.end, &mut cards)).unwrap();
            move_number += 1;
        }
        assert_eq!(row, examples.len(), "no other rows");
    }
    assert!(decisions > 30, "{decisions} decisions checked");
}

#[test]
fn temperature_draws_are_seeded_and_vary_the_play() {
    let one = play(config(1, Some(recording(4))));
    let two = play(config(2, Some(recording(4))));
    assert_eq!(one, two, "same rounds and examples for any thread count");
    let greedy = play(config(2, Some(recording(0))));
    let differ = one
        .iter()
        .zip(&greedy)
        .filter(|(a, b)| a.end != b.end)
        .count();
    assert!(differ > 0, "drawing the first moves changes some round");
    for r in &one {
        let examples = r.examples.as_ref().unwrap();
        assert!(examples.len() % 4 == 0 && !examples.is_empty());
    }
}

#[test]
fn a_bad_temperature_is_an_error() {
    let mut bad = recording(4);
    bad.temperature = f32::NAN;
    match ArenaEngine::start(config(1, Some(bad))) {
        Err(SearchError::InvalidParam(m)) => assert!(m.contains("temperature"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a NaN temperature was accepted"),
    }
}

#[test]
fn a_resumed_run_plays_and_records_as_the_uninterrupted_one() {
    let full = play(config(2, Some(recording(4))));
    let mut resumed_config = config(
        1,
        Some(Recording {
            first_round_id: 502,
            ..recording(4)
        }),
    );
    resumed_config.deals.drain(..2);
    let resumed = play(resumed_config);
    assert_eq!(resumed.len(), 4);
    for (r, f) in resumed.iter().zip(&full[2..]) {
        assert_eq!(r.end, f.end);
        assert_eq!(r.examples, f.examples, "same rows, same round ids");
    }
}

#[test]
fn take_examples_hands_out_the_rounds_in_schedule_order() {
    let by_results = play(config(2, Some(recording(4))));
    let engine = ArenaEngine::start(config(2, Some(recording(4)))).unwrap();
    let mut net = ObservationNet;
    let mut nets: Vec<&mut dyn Evaluator> = vec![&mut net];
    serve_arena(&engine, &mut nets, 64).unwrap();
    let examples = engine.take_examples().unwrap();
    let mut expected = blob_search::ExampleColumns::default();
    for r in by_results {
        expected.append(&mut r.examples.unwrap());
    }
    assert_eq!(examples, expected);
    assert!(
        engine.take_examples().unwrap().is_empty(),
        "handed out once"
    );
    let plain = ArenaEngine::start(config(1, None)).unwrap();
    assert!(matches!(
        plain.take_examples(),
        Err(SearchError::InvalidConfig(_))
    ));
}
