//! Runs the self-play engine with the uniform evaluator for a fixed number
//! of simulations and prints throughput: a target for profilers.
//! Usage: cargo run --release -p blob-search --example engine_profile -- [threads] [sims] [games per thread] [pipeline depth]

use std::time::{Duration, Instant};

use blob_search::{Engine, EngineConfig, Evaluator, UniformEvaluator};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let sims: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let games: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let depth: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let cfg = EngineConfig {
        threads,
        games_per_thread: games,
        pipeline_depth: depth,
        max_batch: std::env::var("BATCH")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(512),
        ..EngineConfig::default()
    };
    let engine = Engine::start(cfg).expect("valid config");
    let mut evaluator = UniformEvaluator;
    let start = Instant::now();
    while engine.stats().counts.simulations < sims {
        if let Some(mut t) = engine
            .next_batch(engine.config().max_batch, Duration::from_millis(1))
            .expect("open engine")
        {
            engine
                .queue()
                .answer_with(&mut t, |batch, p, v| {
                    evaluator.evaluate(batch, p, v);
                    Ok(())
                })
                .expect("valid ticket");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let s = engine.stats();
    engine.close();
    println!(
        "threads {threads}: {:.0} sims/s, {:.0} evals/s, mean batch {:.1}, rounds {}, cache hit rate {:.1}%, shared {}",
        s.counts.simulations as f64 / secs,
        s.leaves_evaluated as f64 / secs,
        s.leaves_evaluated as f64 / s.batches.max(1) as f64,
        s.counts.rounds,
        100.0 * s.counts.cache_hits as f64
            / (s.counts.cache_hits + s.counts.cache_misses).max(1) as f64,
        s.counts.shared_requests,
    );
}
