//! Hot paths of the rules engine: random playouts, observation encoding and
//! determinization, on 4-player 5-card rounds. Kept short (a few seconds per
//! benchmark); run with `cargo bench -p blob-core`.

use std::hint::black_box;
use std::time::Duration;

use blob_core::determinize::determinize;
use blob_core::{OBS_SIZE, Rng, Round, Suit, encode_observation};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PLAYERS: usize = 4;
const CARDS: usize = 5;

fn random_step(round: &mut Round, rng: &mut Rng) {
    let legal = round.legal_actions();
    let action = legal.nth(rng.below(legal.len())).unwrap_or(0);
    round.apply_legal(action);
}

/// Suits with cards the observer has not seen.
fn unseen_suits(round: &Round, observer: usize) -> u8 {
    let unseen = !round.hand(observer).bits() & !round.played().bits();
    (0..4).fold(0, |m, s| {
        if unseen >> (13 * s) & 0x1FFF != 0 {
            m | 1 << s
        } else {
            m
        }
    })
}

/// Distinct (relevant) void sets among the seats other than the one to move.
fn void_groups(round: &Round) -> usize {
    let observer = round.current_player().unwrap_or(0);
    let present = unseen_suits(round, observer);
    let mut masks: Vec<u8> = (0..round.num_players())
        .filter(|&s| s != observer && !round.hand(s).is_empty())
        .map(|s| round.voids(s) & present)
        .filter(|&v| v != 0)
        .collect();
    masks.sort();
    masks.dedup();
    masks.len()
}

/// A 4-player 5-card round in the play phase after `plays` cards (the
/// observer is the seat to move) whose other seats show `groups` distinct
/// void sets.
fn mid_round(plays: usize, groups: usize) -> Round {
    for seed in 0..100_000u64 {
        let mut rng = Rng::new(seed);
        let mut round =
            Round::deal(PLAYERS, CARDS, 0, Some(Suit::Hearts), &mut rng).expect("valid table");
        for _ in 0..PLAYERS + plays {
            random_step(&mut round, &mut rng);
        }
        if !round.is_over() && void_groups(&round) == groups {
            return round;
        }
    }
    panic!("no 4p5c state after {plays} plays with {groups} void groups");
}

fn playouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("playout");
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng::new(1);
    let fresh = Round::deal(PLAYERS, CARDS, 0, Some(Suit::Spades), &mut rng).expect("valid table");
    group.bench_function("4p5c_full_round", |b| {
        b.iter(|| {
            let mut round = black_box(fresh);
            round.play_out_randomly(&mut rng);
            black_box(round.score(0))
        })
    });
    group.bench_function("4p5c_deal_and_full_round", |b| {
        b.iter(|| {
            let mut round =
                Round::deal(PLAYERS, CARDS, 0, Some(Suit::Spades), &mut rng).expect("valid table");
            round.play_out_randomly(&mut rng);
            black_box(round.score(0))
        })
    });
    group.finish();
}

fn observations(c: &mut Criterion) {
    let mut group = c.benchmark_group("observation");
    group.throughput(Throughput::Elements(1));
    let round = mid_round(6, 0);
    let seat = round.current_player().unwrap_or(0);
    let mut out = [0.0f32; OBS_SIZE];
    group.bench_function("4p5c_mid_round", |b| {
        b.iter(|| {
            encode_observation(black_box(&round), seat, None, &mut out);
            black_box(out[0])
        })
    });
    group.finish();
}

fn determinizations(c: &mut Criterion) {
    let mut group = c.benchmark_group("determinize");
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng::new(2);
    for (name, round) in [
        ("4p5c_no_voids", mid_round(6, 0)),
        ("4p5c_one_void_group", mid_round(6, 1)),
        ("4p5c_two_void_groups", mid_round(9, 2)),
    ] {
        let observer = round.current_player().unwrap_or(0);
        group.bench_function(name, |b| {
            b.iter(|| black_box(determinize(black_box(&round), observer, &mut rng)))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = playouts, observations, determinizations
}
criterion_main!(benches);
