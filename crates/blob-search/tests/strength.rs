//! Playing strength, measured by seat-rotated duplicate play (slow; run by
//! hand):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-arena cargo test --release -p blob-search \
//!     --test strength -- --ignored --nocapture --test-threads=1
//! ```
//!
//! Every match is two agents, two seats each, at a 4-player table with 5
//! cards: every deal is played 4 times with the seats rotated, so each agent
//! plays every seat of every deal twice. `BLOB_STRENGTH_DEALS` sets the
//! number of deals (default 4000, that is 16000 rounds per match; about 15 s
//! per MCTS match on one core). An agent is "stronger" when its mean round
//! score is higher with non-overlapping 95% confidence intervals (samples:
//! per-deal mean scores); the report also prints the tighter paired
//! difference.
//!
//! The MCTS player is Medium (3 determinizations x 30 simulations) with a
//! rollout evaluator averaging 4 random playouts per leaf
//! (`BLOB_STRENGTH_ROLLOUTS`); `BLOB_STRENGTH_SEARCH=DxS` tries other
//! budgets. With a single playout per leaf Medium is only slightly ahead of
//! the heuristic (about +0.2 points per round), so 500 deals do not separate
//! the two.

use std::time::Instant;

use blob_search::arena::{
    ArenaReport, HeuristicPlayer, MctsPlayer, Player, RandomPlayer, play_duplicate,
};
use blob_search::{RolloutEvaluator, SearchParams};

const PLAYERS: usize = 4;
const CARDS: usize = 5;

fn deals() -> usize {
    std::env::var("BLOB_STRENGTH_DEALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000)
}

/// Random playouts per leaf of the MCTS player's rollout evaluator
/// (`BLOB_STRENGTH_ROLLOUTS`, default 4).
fn rollouts() -> u32 {
    std::env::var("BLOB_STRENGTH_ROLLOUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
}

/// The MCTS player's search: Medium, or `BLOB_STRENGTH_SEARCH=DxS` (for
/// example `5x200`) to try other budgets by hand.
fn search_params() -> SearchParams {
    let custom = std::env::var("BLOB_STRENGTH_SEARCH").ok().and_then(|s| {
        let (d, s) = s.split_once('x')?;
        Some(SearchParams::preset(d.parse().ok()?, s.parse().ok()?))
    });
    custom.unwrap_or_else(SearchParams::medium).for_play()
}

fn mcts(seed: u64) -> Box<dyn Player> {
    let params = search_params();
    let name = format!("mcts-{}x{}", params.determinizations, params.simulations);
    Box::new(
        MctsPlayer::new(
            params,
            Box::new(RolloutEvaluator::with_rollouts(seed, rollouts())),
            seed ^ 0xA5A5,
        )
        .with_name(name),
    )
}

fn run(label: &str, mut players: Vec<Box<dyn Player>>, seed: u64) -> ArenaReport {
    let started = Instant::now();
    let report = play_duplicate(&mut players, PLAYERS, CARDS, deals(), seed);
    let secs = started.elapsed().as_secs_f64();
    println!("== {label} ({secs:.2} s wall)\n{report}");
    report
}

fn assert_ahead(report: &ArenaReport, i: usize, j: usize) {
    let (a, b) = (&report.agents[i], &report.agents[j]);
    assert!(
        report.clearly_ahead(i, j),
        "{} ({:.3} +- {:.3}) is not clearly ahead of {} ({:.3} +- {:.3})",
        a.name,
        a.mean,
        a.ci95,
        b.name,
        b.mean,
        b.ci95
    );
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn mcts_beats_random() {
    let report = run(
        "mcts-medium vs random",
        vec![mcts(1), Box::new(RandomPlayer::new(2))],
        101,
    );
    assert_ahead(&report, 0, 1);
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn mcts_beats_heuristic() {
    let report = run(
        "mcts-medium vs heuristic",
        vec![mcts(3), Box::new(HeuristicPlayer)],
        202,
    );
    assert_ahead(&report, 0, 1);
}

#[test]
#[ignore = "slow: a strength match, run by hand with --release"]
fn heuristic_beats_random() {
    let report = run(
        "heuristic vs random",
        vec![Box::new(HeuristicPlayer), Box::new(RandomPlayer::new(4))],
        303,
    );
    assert_ahead(&report, 0, 1);
}
