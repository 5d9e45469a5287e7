//! Agents of the Rust A/B examples (`pimc_ab`, `decision_regret`), built
//! from one spec each:
//!
//! - `pimc:W[:bids][:tbid]`: W worlds per decision; `bids`: worlds weighted
//!   by the opponents' bids, 256 candidates, temperature 1; `tbid`: bids
//!   chosen by the teacher's ISMCTS, `ismcts:1000:0.7:heuristic:bids`;
//! - `ismcts:N[:heuristic][:bids][:c=C][:margin=M]`: exploration C (default
//!   0.7), M the weight of the score margin (default 0);
//! - `heuristic`;
//! - `:cheat` on `pimc` or `ismcts` searches the true deal (an upper bound,
//!   not a player);
//! - `BID+PLAY` bids as agent BID and plays cards as agent PLAY.

// Each example uses part of this module.
#![allow(dead_code)]

use std::str::FromStr;

use blob_search::arena::{HeuristicPlayer, Player};
use blob_search::inference::Inference;
use blob_search::pimc::{PimcBidding, PimcParams, PimcPlayer};
use blob_search::search::Information;
use blob_search::{IsmctsParams, IsmctsPlayer, Rollout};

fn program() -> String {
    std::env::args()
        .next()
        .and_then(|p| p.rsplit('/').next().map(str::to_string))
        .unwrap_or_default()
}

pub fn fail(message: &str) -> ! {
    eprintln!("{}: {message}", program());
    std::process::exit(2)
}

pub const BIDS: Inference = Inference::Bids {
    candidates: 256,
    temperature: 1.0,
};

pub fn teacher() -> IsmctsParams {
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

pub fn player(spec: &str, seed: u64) -> Box<dyn Player> {
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

/// A probe's command line: `--flag value` options and exactly two agent
/// specs, A then B.
pub struct Args {
    options: Vec<(String, String)>,
    pub agents: [String; 2],
}

impl Args {
    /// Reads the process arguments; `flags` are the options it accepts,
    /// each taking one value. Exits with a message on anything else.
    pub fn parse(flags: &[&str]) -> Args {
        let mut options = Vec::new();
        let mut agents = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg.starts_with("--") {
                if !flags.contains(&arg.as_str()) {
                    fail(&format!(
                        "unknown option {arg} (options: {})",
                        flags.join(", ")
                    ));
                }
                let value = args
                    .next()
                    .unwrap_or_else(|| fail(&format!("{arg} needs a value")));
                options.push((arg, value));
            } else {
                agents.push(arg);
            }
        }
        let agents: [String; 2] = agents
            .try_into()
            .unwrap_or_else(|_| fail("expected two agents A B"));
        Args { options, agents }
    }

    /// The value of `flag`, if given (the last one wins).
    pub fn text(&self, flag: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(f, _)| f == flag)
            .map(|(_, v)| v.as_str())
    }

    /// The number given with `flag`, else `default`.
    pub fn number<T: FromStr>(&self, flag: &str, default: T) -> T {
        self.text(flag).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{flag} {v:?} is not a number")))
        })
    }
}
