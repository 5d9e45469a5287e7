//! How much better could one decision of an agent be, given how the round
//! really goes on? A one-step policy-improvement probe (Tesauro and
//! Galperin's rollout improvement): at each of agent A's decisions with a
//! choice, sample W worlds from A's view (the teacher's bid inference), and
//! in each world play every legal action out to the end of the round with
//! fresh copies of the real agents (A at A's seats, B at B's). The same
//! worlds and agent seeds serve every action (common random numbers).
//!
//! Two estimates of the regret of A's choice, in points of A's round score:
//!
//! - **split**: the best action on one half of the worlds, scored on the
//!   other half against A's choice, averaged over both halves. Unbiased for
//!   the gain of a rollout player with W/2 worlds over A; its 95% interval
//!   is over decisions. Near zero means A is a fixed point of one-step
//!   rollout improvement at this opponent.
//! - **naive**: the best action's mean over all W minus A's choice's. Biased
//!   upwards by picking the largest of noisy means; an upper estimate.
//!
//! One rotation per deal (`deal % 4`), A and B alternating seats. Runs the
//! worlds in parallel (rayon).
//!
//! ```text
//! cargo run --release -p blob-search --example decision_regret -- \
//!     [--deals N] [--seed S] [--worlds W] [--phase bid|play] [--max-trick T] A B
//! ```
//!
//! A and B are agent specs, listed in `common/agents.rs`. `--phase play`
//! probes card decisions in tricks `0..=T` (default every trick).

use std::time::Instant;

use blob_core::{Phase, Rng};
use blob_search::arena::{Player, arena_deal, play_round, seat_agent};
use blob_search::inference::sample_worlds;
use rayon::prelude::*;

#[path = "common/agents.rs"]
mod agents;
use agents::{Args, BIDS, fail, player};

/// Running sums of the two regret estimates.
#[derive(Default)]
struct Regret {
    decisions: usize,
    split: f64,
    split_squared: f64,
    naive: f64,
    changed: usize,
}

impl Regret {
    /// `values[w][a]`: A's score in world `w` after legal action `a`;
    /// `chosen`: the index of A's own choice.
    fn add(&mut self, values: &[Vec<f64>], chosen: usize) {
        let worlds = values.len();
        let actions = values[0].len();
        let mean = |a: usize, lo: usize, hi: usize| {
            values[lo..hi].iter().map(|v| v[a]).sum::<f64>() / (hi - lo) as f64
        };
        let best = |lo: usize, hi: usize| {
            (0..actions)
                .max_by(|&i, &j| mean(i, lo, hi).total_cmp(&mean(j, lo, hi)))
                .expect("a choice")
        };
        let half = worlds / 2;
        let first = mean(best(0, half), half, worlds) - mean(chosen, half, worlds);
        let second = mean(best(half, worlds), 0, half) - mean(chosen, 0, half);
        let split = (first + second) / 2.0;
        self.decisions += 1;
        self.split += split;
        self.split_squared += split * split;
        self.naive += mean(best(0, worlds), 0, worlds) - mean(chosen, 0, worlds);
        self.changed += usize::from(best(0, worlds) != chosen);
    }

    /// Mean split regret and its 95% half-width.
    fn split_interval(&self) -> (f64, f64) {
        let n = self.decisions.max(1) as f64;
        let mean = self.split / n;
        let variance = (self.split_squared / n - mean * mean).max(0.0) * n / (n - 1.0).max(1.0);
        (mean, 1.96 * (variance / n).sqrt())
    }

    fn summary(&self) -> String {
        let n = self.decisions.max(1) as f64;
        let (split, ci) = self.split_interval();
        format!(
            "{} decisions: split regret {split:+.3} +- {ci:.3}, naive {:+.3}, best action differs {:.0}%",
            self.decisions,
            self.naive / n,
            100.0 * self.changed as f64 / n
        )
    }
}

fn main() {
    let args = Args::parse(&["--deals", "--seed", "--worlds", "--phase", "--max-trick"]);
    let deals: usize = args.number("--deals", 100);
    let seed: u64 = args.number("--seed", 44);
    let worlds: usize = args.number("--worlds", 64);
    let max_trick: usize = args.number("--max-trick", 4);
    let play_phase = match args.text("--phase").unwrap_or("bid") {
        "bid" => false,
        "play" => true,
        other => fail(&format!("--phase is bid or play, not {other:?}")),
    };
    let specs = &args.agents;
    if worlds < 2 {
        fail("--worlds must be at least 2 (the split estimate halves them)");
    }
    let agent_seed = |i: usize| seed ^ (0x5eed + i as u64);
    let mut players: Vec<Box<dyn Player>> =
        (0..2).map(|i| player(&specs[i], agent_seed(i))).collect();
    let mut rng = Rng::new(seed ^ 0xfeed);
    let mut regret = Regret::default();
    let started = Instant::now();
    for deal in 0..deals {
        let seating: Vec<usize> = (0..4).map(|s| seat_agent(s, deal % 4, 4, 2)).collect();
        let mut round = arena_deal(4, 5, deal, seed);
        while let Some(seat) = round.current_player() {
            let action = players[seating[seat]].act(&round);
            let legal = round.legal_actions().to_vec();
            let probed = match round.phase() {
                Phase::Bid => !play_phase,
                _ => play_phase && round.tricks_done() <= max_trick,
            };
            if seating[seat] == 0 && probed && legal.len() > 1 {
                let mut sampled = Vec::with_capacity(worlds);
                sample_worlds(&round, seat, &BIDS, worlds, &mut rng, &mut sampled)
                    .unwrap_or_else(|e| fail(&format!("sampling worlds: {e}")));
                let base = rng.next_u64();
                let values: Vec<Vec<f64>> = sampled
                    .par_iter()
                    .enumerate()
                    .map(|(w, world)| {
                        legal
                            .iter()
                            .map(|&a| {
                                let mut copies: Vec<Box<dyn Player>> = (0..2)
                                    .map(|i| player(&specs[i], base ^ ((w as u64) << 4) ^ i as u64))
                                    .collect();
                                let mut next = *world;
                                next.apply(a).expect("a legal action");
                                play_round(&mut copies, &seating, next).score(seat) as f64
                            })
                            .collect()
                    })
                    .collect();
                let chosen = legal
                    .iter()
                    .position(|&a| a == action)
                    .expect("a legal choice");
                regret.add(&values, chosen);
                if regret.decisions % 20 == 0 {
                    eprintln!(
                        "{} ({:.0} s)",
                        regret.summary(),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            round.apply(action).expect("a legal action");
        }
    }
    println!(
        "{deals} deals seed {seed} W {worlds} {} {} of {} against {}: {}",
        if play_phase { "cards" } else { "bids" },
        if play_phase {
            format!("(tricks 0..={max_trick})")
        } else {
            String::new()
        },
        specs[0],
        specs[1],
        regret.summary()
    );
}

#[cfg(test)]
mod tests {
    use super::Regret;

    /// Worlds x actions, A's score after each action.
    fn values(rows: &[[f64; 3]]) -> Vec<Vec<f64>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn the_best_choice_has_no_naive_regret_and_a_noisy_half_picks_worse() {
        let mut regret = Regret::default();
        regret.add(
            &values(&[
                [12.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [12.0, 11.0, 0.0],
                [0.0, 0.0, 13.0],
            ]),
            0,
        );
        // Half {0, 1} picks action 0 (A's own): 6 - 6 on half {2, 3}. Half
        // {2, 3} picks action 2 (6.5 against 6), which scores 0 against A's
        // 6 on half {0, 1}: split = (0 - 6) / 2.
        assert_eq!(regret.decisions, 1);
        assert!((regret.split - (-3.0)).abs() < 1e-12, "{}", regret.split);
        // Over all four worlds action 0 averages 6, action 2 3.25: no naive regret.
        assert_eq!(regret.naive, 0.0);
        assert_eq!(regret.changed, 0);
    }

    #[test]
    fn a_dominated_choice_regrets_the_full_gap() {
        let mut regret = Regret::default();
        let rows = [
            [11.0, 10.0, 0.0],
            [0.0, 0.0, 0.0],
            [11.0, 10.0, 10.0],
            [12.0, 0.0, 0.0],
        ];
        regret.add(&values(&rows), 1);
        // Action 0 is best on both halves and overall; A took 1.
        // first: mean(0 | 2,3) - mean(1 | 2,3) = 11.5 - 5 = 6.5
        // second: mean(0 | 0,1) - mean(1 | 0,1) = 5.5 - 5 = 0.5
        assert!((regret.split - 3.5).abs() < 1e-12, "{}", regret.split);
        assert!(
            (regret.naive - (8.5 - 5.0)).abs() < 1e-12,
            "{}",
            regret.naive
        );
        assert_eq!(regret.changed, 1);
        let (mean, _) = regret.split_interval();
        assert!((mean - 3.5).abs() < 1e-12);
    }
}
