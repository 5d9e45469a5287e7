//! A/B of search variants at equal compute, in the Rust duplicate arena:
//! two MCTS players with the same budget (determinizations x simulations,
//! hence the same evaluations per move) and the same leaf evaluator, at a
//! 4-player, 5-card table (or `--players P --cards C`), seats alternating
//! between A and B, every deal played in all seat rotations. Prints the paired difference of the per-deal mean scores (A
//! minus B) with its 95% interval, and the evaluations each spent per
//! search.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-arena cargo run --release -p blob-search \
//!     --example search_ab -- [--deals N] [--eval heuristic|rollout] \
//!     [--seed N] [--players P] [--cards C] BUDGET A B [BUDGET A B ...]
//! ```
//!
//! BUDGET is `DxS` (`2x20` is Light, `3x30` Medium). A and B are variants:
//! `puct`, `norm` (PUCT on min-max normalised Q) or `gumbel`, optionally
//! followed by `:key=value,...` with keys `c` (c_puct), `fpu`
//! (fpu_reduction), `pending` (max_pending_per_tree), `s` (simulations per
//! tree instead of the budget's, to check an evaluation-count gap), `m` (Gumbel
//! considered actions), `cscale` (Gumbel c_scale), `cvisit` (Gumbel
//! c_visit), `g` (Gumbel noise scale), `bids` (sample the hidden hands
//! weighted by the opponents' bids, [`Inference::Bids`], from this many
//! candidate worlds), `bt` (its temperature, default 1). Defaults: c 0.2, fpu 0.02 (the
//! Light knobs), pending 4 (the presets'), Gumbel as
//! [`GumbelParams::default`] but without noise (g 0). Every player plays
//! greedily ([`SearchParams::for_play`]: no Dirichlet noise, no
//! temperature). Example, the Light budget, PUCT against Gumbel:
//!
//! ```text
//! cargo run --release -p blob-search --example search_ab -- --deals 2000 2x20 puct gumbel
//! ```

use std::time::Instant;

use blob_search::arena::{MctsPlayer, Player, play_duplicate};
use blob_search::evaluator::Evaluator;
use blob_search::heuristic::HeuristicEvaluator;
use blob_search::inference::Inference;
use blob_search::params::GumbelParams;
use blob_search::{RolloutEvaluator, SearchParams};

fn fail(message: &str) -> ! {
    eprintln!("search_ab: {message}");
    std::process::exit(2)
}

fn parse_budget(text: &str) -> (u32, u32) {
    let parsed = text
        .split_once('x')
        .and_then(|(d, s)| Some((d.parse().ok()?, s.parse().ok()?)));
    parsed.unwrap_or_else(|| fail(&format!("budget {text:?} is not DxS")))
}

/// The search params of variant `spec` at budget `d x s`.
fn parse_variant(spec: &str, d: u32, s: u32) -> SearchParams {
    let (kind, knobs) = spec.split_once(':').unwrap_or((spec, ""));
    let mut params = SearchParams {
        c_puct: 0.2,
        fpu_reduction: 0.02,
        ..SearchParams::preset(d, s)
    };
    match kind {
        "puct" => {}
        "norm" => params.normalize_q = true,
        "gumbel" => params.gumbel = Some(GumbelParams::default()),
        _ => fail(&format!("unknown variant {kind:?} (puct, norm or gumbel)")),
    }
    let mut gumbel_noise = 0.0;
    let mut bids: Option<(u32, f32)> = None;
    for knob in knobs.split(',').filter(|k| !k.is_empty()) {
        let (key, value) = knob
            .split_once('=')
            .unwrap_or_else(|| fail(&format!("knob {knob:?} is not key=value")));
        let number: f32 = value
            .parse()
            .unwrap_or_else(|_| fail(&format!("knob {knob:?}: not a number")));
        match key {
            "c" => params.c_puct = number,
            "fpu" => params.fpu_reduction = number,
            "pending" => params.max_pending_per_tree = number as u32,
            "s" => params.simulations = number as u32,
            "m" => gumbel_knobs(&mut params, key).considered_actions = number as u32,
            "cscale" => gumbel_knobs(&mut params, key).c_scale = number,
            "cvisit" => gumbel_knobs(&mut params, key).c_visit = number,
            "g" => gumbel_noise = number,
            "bids" => bids = Some((number as u32, bids.map_or(1.0, |b| b.1))),
            "bt" => bids = Some((bids.map_or(32, |b| b.0), number)),
            _ => fail(&format!("unknown knob {key:?}")),
        }
    }
    if let Some((candidates, temperature)) = bids {
        params.inference = Inference::Bids {
            candidates,
            temperature,
        };
    }
    let mut params = params.for_play();
    if let Some(g) = params.gumbel.as_mut() {
        g.gumbel_scale = gumbel_noise;
    }
    params
        .validate()
        .unwrap_or_else(|e| fail(&format!("variant {spec:?}: {e}")));
    params
}

fn gumbel_knobs<'a>(params: &'a mut SearchParams, key: &str) -> &'a mut GumbelParams {
    params
        .gumbel
        .as_mut()
        .unwrap_or_else(|| fail(&format!("knob {key:?} needs a gumbel variant")))
}

fn evaluator(kind: &str, seed: u64) -> Box<dyn Evaluator> {
    match kind {
        "heuristic" => Box::new(HeuristicEvaluator::new()),
        "rollout" => Box::new(RolloutEvaluator::new(seed)),
        _ => fail(&format!(
            "unknown evaluator {kind:?} (heuristic or rollout)"
        )),
    }
}

fn main() {
    let mut deals = 1000usize;
    let mut eval = "heuristic".to_string();
    let mut seed = 2026u64;
    let (mut players_at_table, mut cards) = (4usize, 5usize);
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--deals" => {
                deals = value("--deals")
                    .parse()
                    .unwrap_or_else(|_| fail("--deals needs a number"))
            }
            "--eval" => eval = value("--eval"),
            "--seed" => {
                seed = value("--seed")
                    .parse()
                    .unwrap_or_else(|_| fail("--seed needs a number"))
            }
            "--players" => {
                players_at_table = value("--players")
                    .parse()
                    .unwrap_or_else(|_| fail("--players needs a number"))
            }
            "--cards" => {
                cards = value("--cards")
                    .parse()
                    .unwrap_or_else(|_| fail("--cards needs a number"))
            }
            _ => rest.push(arg),
        }
    }
    if rest.is_empty() || rest.len() % 3 != 0 {
        fail("expected BUDGET A B [BUDGET A B ...]");
    }
    println!(
        "{players_at_table} players x {cards} cards, {deals} deals x {players_at_table} rotations, evaluator {eval}, seed {seed}"
    );
    for (k, triple) in rest.chunks(3).enumerate() {
        let (d, s) = parse_budget(&triple[0]);
        let specs = [&triple[1], &triple[2]];
        let mut players: Vec<Box<dyn Player>> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let player_seed = seed ^ (0x1000 * (k as u64 + 1) + i as u64);
                Box::new(
                    MctsPlayer::new(
                        parse_variant(spec, d, s),
                        evaluator(&eval, player_seed),
                        player_seed,
                    )
                    .with_name(spec.to_string()),
                ) as Box<dyn Player>
            })
            .collect();
        let started = Instant::now();
        let report = play_duplicate(&mut players, players_at_table, cards, deals, seed);
        let secs = started.elapsed().as_secs_f64();
        let (diff, ci) = report.paired_difference(0, 1);
        let per_search = |p: &dyn Player| {
            let (searches, evals) = p.search_stats().expect("MCTS players");
            evals as f64 / searches.max(1) as f64
        };
        println!(
            "{}x{} | A {} {:.3} | B {} {:.3} | A-B {:+.3} +- {:.3} | evals/search A {:.1} B {:.1} | {:.0} s",
            d,
            s,
            specs[0],
            report.agents[0].mean,
            specs[1],
            report.agents[1].mean,
            diff,
            ci,
            per_search(players[0].as_ref()),
            per_search(players[1].as_ref()),
            secs
        );
    }
}
