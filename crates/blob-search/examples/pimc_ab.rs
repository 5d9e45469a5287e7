//! PIMC against ISMCTS in the Rust duplicate arena (4 players x 5 cards,
//! seats alternating A B A B, every deal in all rotations), one thread.
//!
//! ```text
//! cargo run --release -p blob-search --example pimc_ab -- [--deals N] [--seed S] A B
//! ```
//!
//! A and B: `pimc:W[:bids][:tbid]` (W worlds per decision; `bids`: worlds
//! weighted by the opponents' bids, 256 candidates, temperature 1; `tbid`:
//! bids chosen by the teacher's ISMCTS, `ismcts:1000:0.7:heuristic:bids`)
//! or `ismcts:N[:heuristic][:bids][:c=C][:margin=M]` (exploration C, default
//! 0.7; M the weight of the score margin, default 0), or
//! `heuristic`; `:cheat` on either searches the true deal (an upper bound);
//! `BID+PLAY` bids as agent BID and plays cards as agent PLAY.

use std::time::Instant;

use blob_search::arena::{HeuristicPlayer, Player, play_duplicate};
use blob_search::inference::Inference;
use blob_search::pimc::{PimcBidding, PimcParams, PimcPlayer};
use blob_search::search::Information;
use blob_search::{IsmctsParams, IsmctsPlayer, Rollout};

fn fail(message: &str) -> ! {
    eprintln!("pimc_ab: {message}");
    std::process::exit(2)
}

const BIDS: Inference = Inference::Bids {
    candidates: 256,
    temperature: 1.0,
};

fn teacher() -> IsmctsParams {
    IsmctsParams::new(1000)
        .with_rollout(Rollout::Heuristic)
        .with_inference(BIDS)
}

/// Bids by one agent, cards by another (`bid=SPEC+play=SPEC`).
struct SplitPlayer {
    bid: Box<dyn Player>,
    play: Box<dyn Player>,
    label: String,
}

impl Player for SplitPlayer {
    fn act(&mut self, round: &blob_core::Round) -> usize {
        if round.phase() == blob_core::Phase::Bid {
            self.bid.act(round)
        } else {
            self.play.act(round)
        }
    }
    fn name(&self) -> String {
        self.label.clone()
    }
}

fn player(spec: &str, seed: u64) -> Box<dyn Player> {
    if let Some((bid, play)) = spec.split_once('+') {
        let bid = bid.strip_prefix("bid=").unwrap_or(bid);
        let play = play.strip_prefix("play=").unwrap_or(play);
        return Box::new(SplitPlayer {
            bid: player(bid, seed),
            play: player(play, seed ^ 0xabc),
            label: spec.to_string(),
        });
    }
    let fields: Vec<&str> = spec.split(':').collect();
    let number = |k: usize| -> u32 {
        fields
            .get(k)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| fail(&format!("{spec:?}: field {k} is not a number")))
    };
    let flag = |name: &str| fields.iter().skip(2).any(|f| *f == name);
    let inference = if flag("bids") {
        BIDS
    } else {
        Inference::Uniform
    };
    match fields[0] {
        "heuristic" => Box::new(HeuristicPlayer),
        "pimc" => {
            let mut params = PimcParams::new(number(1)).with_inference(inference);
            if flag("cheat") {
                params = params.with_information(Information::Perfect);
            }
            if flag("tbid") {
                params = params.with_bidding(PimcBidding::Ismcts(teacher()));
            }
            Box::new(PimcPlayer::new(params, seed).with_name(spec))
        }
        "ismcts" => {
            let rollout = if flag("heuristic") {
                Rollout::Heuristic
            } else {
                Rollout::Random
            };
            let mut params = IsmctsParams::new(number(1))
                .with_rollout(rollout)
                .with_inference(inference);
            if flag("cheat") {
                params.information = Information::Perfect;
            }
            if let Some(m) = fields.iter().find_map(|f| f.strip_prefix("margin=")) {
                params.margin = m.parse().unwrap_or_else(|_| fail("margin=W"));
            }
            if let Some(c) = fields.iter().find_map(|f| f.strip_prefix("c=")) {
                params.exploration = c
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("{spec:?}: c={c} is not a number")));
            }
            Box::new(IsmctsPlayer::new(params, seed).with_name(spec))
        }
        other => fail(&format!("unknown agent {other:?}")),
    }
}

fn main() {
    let mut deals = 200usize;
    let mut seed = 44u64;
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--deals" => deals = number("--deals") as usize,
            "--seed" => seed = number("--seed"),
            _ => specs.push(arg),
        }
    }
    if specs.len() != 2 {
        fail("expected two agents A B");
    }
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
