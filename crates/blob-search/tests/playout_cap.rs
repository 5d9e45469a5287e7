//! Playout-cap randomisation in the self-play engine: about the asked share
//! of decisions gets the full search and a policy target, the rest the fast
//! budget and an all-zero policy, every row keeps its value target, and a
//! seed still fixes everything.

#![cfg(not(loom))]

use std::sync::atomic::AtomicBool;

use blob_core::NUM_ACTIONS;
use blob_core::observation::TO_MOVE;
use blob_search::params::PlayoutCap;
use blob_search::{
    Engine, EngineConfig, EngineStats, ExampleColumns, SearchError, SearchParams, TableSpec,
    UniformEvaluator, serve,
};

const D: u32 = 2;
const FULL: u32 = 12;
const FAST: u32 = 3;

fn config(cap: Option<PlayoutCap>, threads: usize, seed: u64) -> EngineConfig {
    EngineConfig {
        threads,
        games_per_thread: 8,
        params: SearchParams {
            determinizations: D,
            simulations: FULL,
            playout_cap: cap,
            ..SearchParams::light()
        },
        tables: vec![TableSpec {
            players: 4,
            cards: 4,
            weight: 1.0,
        }],
        seed,
        max_batch: 64,
        pipeline_depth: 3,
        rounds: Some(60),
        // No cache: every simulation is a leaf answered or a terminal.
        cache_entries: 0,
        full_games: false,
    }
}

fn run(cfg: EngineConfig) -> (ExampleColumns, EngineStats) {
    let engine = Engine::start(cfg).unwrap();
    serve(&engine, &mut UniformEvaluator, 64, &AtomicBool::new(false)).unwrap();
    let stats = engine.stats();
    let examples = engine.take_examples();
    engine.close();
    (examples, stats)
}

fn cap(full_fraction: f32) -> Option<PlayoutCap> {
    Some(PlayoutCap {
        full_fraction,
        fast_simulations: FAST,
    })
}

#[test]
fn a_quarter_of_the_decisions_get_the_full_search_and_a_target() {
    let (ex, stats) = run(config(cap(0.25), 2, 5));
    let c = stats.counts;
    let fast = c.fast_decisions;
    let full = c.decisions - fast;
    // 60 rounds of 4 x 4: about 16 searched decisions each. Binomial with
    // p = 0.25: the share of full searches is within 5 sigma of it.
    let n = c.decisions as f64;
    let share = full as f64 / n;
    let sigma = (0.25 * 0.75 / n).sqrt();
    assert!((share - 0.25).abs() < 5.0 * sigma, "{full} full of {n}");
    // Every tree ends at its decision's budget.
    assert_eq!(
        c.simulations,
        D as u64 * (full * FULL as u64 + fast * FAST as u64)
    );
    // One row per seat and decision, all kept; the fast decisions' rows have
    // an all-zero policy, the full ones' a distribution.
    assert_eq!(ex.len() as u64, 4 * c.decisions);
    let mut zero_movers = 0;
    for i in 0..ex.len() {
        let (state, _mask, policy, _value) = ex.row(i);
        let sum: f32 = policy.iter().sum();
        assert!(
            sum == 0.0 || (sum - 1.0).abs() < 1e-4,
            "row {i}: policy sums to {sum}"
        );
        if sum == 0.0 && state[TO_MOVE] > 0.5 {
            zero_movers += 1;
        }
        assert_eq!(policy.len(), NUM_ACTIONS);
    }
    assert_eq!(zero_movers, fast);
}

#[test]
fn without_a_cap_every_decision_is_full() {
    let (ex, stats) = run(config(None, 1, 5));
    assert_eq!(stats.counts.fast_decisions, 0);
    assert_eq!(
        stats.counts.simulations,
        (D * FULL) as u64 * stats.counts.decisions
    );
    assert!((0..ex.len()).all(|i| ex.row(i).2.iter().sum::<f32>() > 0.99));
}

#[test]
fn one_thread_and_a_seed_reproduce_a_capped_run() {
    let rows = |ex: &ExampleColumns| -> Vec<(u64, u16, Vec<u32>)> {
        let mut out: Vec<_> = (0..ex.len())
            .map(|i| {
                let (s, _, p, v) = ex.row(i);
                let bits = s.iter().chain(p).chain(v).map(|x| x.to_bits()).collect();
                (ex.round_id[i], ex.move_number[i], bits)
            })
            .collect();
        out.sort();
        out
    };
    let (a, _) = run(config(cap(0.5), 1, 9));
    let (b, _) = run(config(cap(0.5), 1, 9));
    let (c, _) = run(config(cap(0.5), 1, 10));
    assert_eq!(rows(&a), rows(&b));
    assert_ne!(rows(&a), rows(&c));
}

#[test]
fn bad_caps_are_errors_naming_the_problem() {
    for (full_fraction, fast_simulations, what) in [
        (0.0, FAST, "full_fraction"),
        (1.0, FAST, "full_fraction"),
        (0.5, 0, "fast_simulations"),
        (0.5, FULL + 1, "fast_simulations"),
    ] {
        let cfg = config(
            Some(PlayoutCap {
                full_fraction,
                fast_simulations,
            }),
            1,
            1,
        );
        match Engine::start(cfg) {
            Err(SearchError::InvalidParam(m)) => assert!(m.contains(what), "{m}"),
            Err(other) => panic!("{full_fraction}, {fast_simulations}: {other:?}"),
            Ok(engine) => {
                engine.close();
                panic!("{full_fraction}, {fast_simulations} was accepted");
            }
        }
    }
    // Play and evaluation search every decision in full.
    let params = SearchParams {
        playout_cap: cap(0.5),
        ..SearchParams::light()
    };
    assert_eq!(params.for_play().playout_cap, None);
}
