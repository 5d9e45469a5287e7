//! PIMC against ISMCTS in the Rust duplicate arena (4 players x 5 cards,
//! seats alternating A B A B, every deal in all rotations), one thread.
//!
//! ```text
//! cargo run --release -p blob-search --example pimc_ab -- [--deals N] [--seed S] A B
//! ```
//!
//! A and B are agent specs, listed in `common/agents.rs`: `pimc:W[:bids][:tbid]`,
//! `ismcts:N[:heuristic][:bids][:c=C][:margin=M]`, `heuristic`, `:cheat` for
//! a search of the true deal, `BID+PLAY` for a split agent.

use std::time::Instant;

use blob_search::arena::{Player, play_duplicate};

#[path = "common/agents.rs"]
mod agents;
use agents::{Args, player};

fn main() {
    let args = Args::parse(&["--deals", "--seed"]);
    let deals: usize = args.number("--deals", 200);
    let seed: u64 = args.number("--seed", 44);
    let specs = &args.agents;
    let mut players: Vec<Box<dyn Player>> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| player(s, seed ^ (0x5eed + i as u64)))
        .collect();
    let started = Instant::now();
    let report = play_duplicate(&mut players, 4, 5, deals, seed);
    let secs = started.elapsed().as_secs_f64();
    let (diff, ci) = report.paired_difference(0, 1);
    let made =
        |k: usize| report.agents[k].bids_made as f64 / report.agents[k].seat_rounds.max(1) as f64;
    println!(
        "{deals} deals seed {seed} | A {} {:.3} made {:.3} | B {} {:.3} made {:.3} | A-B {:+.3} +- {:.3} | {:.1} rounds/s",
        specs[0],
        report.agents[0].mean,
        made(0),
        specs[1],
        report.agents[1].mean,
        made(1),
        diff,
        ci,
        report.rounds as f64 / secs
    );
}
