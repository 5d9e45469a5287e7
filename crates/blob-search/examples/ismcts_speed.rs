//! Speed of the reference ISMCTS player on real positions: every decision
//! with two or more legal actions met while the heuristic plays arena deals
//! of 4 players x 5 cards, searched at 100 and 1000 iterations with random
//! and heuristic rollouts, on one thread.
//!
//! ```text
//! cargo run --release -p blob-search --example ismcts_speed [DEALS]
//! ```

use std::time::Instant;

use blob_core::Rng;
use blob_search::arena::arena_deal;
use blob_search::heuristic::heuristic_action;
use blob_search::{Ismcts, IsmctsParams, Rollout};

fn main() {
    let deals: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut positions = Vec::new();
    for deal in 0..deals {
        let mut r = arena_deal(4, 5, deal, 12345);
        while !r.is_over() {
            if r.legal_actions().len() >= 2 {
                positions.push(r);
            }
            r.apply_legal(heuristic_action(&r));
        }
    }
    println!(
        "{} decisions with 2+ legal actions from {deals} deals of 4 players x 5 cards",
        positions.len()
    );
    let mut search = Ismcts::new();
    let mut rng = Rng::new(1);
    for rollout in [Rollout::Random, Rollout::Heuristic] {
        for iterations in [100u32, 1000] {
            let params = IsmctsParams::new(iterations).with_rollout(rollout);
            let started = Instant::now();
            let mut done = 0u64;
            for r in &positions {
                let seat = r.current_player().expect("not over");
                let out = search.search(r, seat, &params, &mut rng).expect("valid");
                done += out.iterations as u64;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "rollout {:<9} {iterations:>5} iterations: {:8.3} ms per move, {:9.0} iterations/s",
                rollout.name(),
                1e3 * secs / positions.len() as f64,
                done as f64 / secs
            );
        }
    }
}
