//! Search throughput in simulations per second, leaf encoding included.
//!
//! - `search_one_position`: one Medium (3 x 30) search of a 4-player 5-card
//!   opening bid with the uniform evaluator called directly, one thread.
//! - `selfplay_engine/threads=N`: the real self-play engine (rayon workers,
//!   64 rounds in flight per worker, the lock-free batch ring) at Medium,
//!   4 players 5 cards, its batches answered by the uniform evaluator on the
//!   bench thread, with N workers. One iteration runs until
//!   `SIMS_PER_ITER` simulations are done (the few in flight at that moment
//!   are not counted, so the figure is slightly pessimistic).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use blob_core::{Rng, Round};
use blob_search::{
    Engine, EngineConfig, Evaluator, Information, SearchParams, Searcher, TableSpec,
    UniformEvaluator,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIMS_PER_ITER: u64 = 2_000_000;

fn search_one_position(c: &mut Criterion) {
    let params = SearchParams::medium();
    let round = Round::deal(4, 5, 0, None, &mut Rng::new(1)).unwrap();
    let mut searcher = Searcher::new();
    let mut evaluator = UniformEvaluator;
    let mut rng = Rng::new(2);
    let mut group = c.benchmark_group("search_one_position");
    group.throughput(Throughput::Elements(
        (params.determinizations * params.simulations) as u64,
    ));
    group.bench_function("medium_4p5c_uniform", |b| {
        b.iter(|| {
            searcher.search(
                &round,
                &params,
                Information::Imperfect,
                None,
                &mut evaluator,
                &mut rng,
            )
        })
    });
    group.finish();
}

fn run_engine(threads: usize, sims: u64) -> Duration {
    let cfg = EngineConfig {
        threads,
        games_per_thread: 64,
        params: SearchParams::medium(),
        tables: vec![TableSpec {
            players: 4,
            cards: 5,
            weight: 1.0,
        }],
        seed: 42,
        max_batch: 512,
        pipeline_depth: 3,
        rounds: None,
        cache_entries: 1 << 16,
        full_games: false,
    };
    let engine = Engine::start(cfg).unwrap();
    let mut evaluator = UniformEvaluator;
    let start = Instant::now();
    let _stop = AtomicBool::new(false);
    while engine.stats().counts.simulations < sims {
        if let Some(mut t) = engine.next_batch(512, Duration::from_millis(1)).unwrap() {
            engine
                .queue()
                .answer_with(&mut t, |batch, p, v| {
                    evaluator.evaluate(batch, p, v);
                    Ok(())
                })
                .unwrap();
        }
    }
    let elapsed = start.elapsed();
    engine.close();
    elapsed
}

fn selfplay_engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("selfplay_engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(SIMS_PER_ITER));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut counts = vec![1];
    if cores > 1 {
        counts.push(cores);
    }
    for threads in counts {
        group.bench_function(format!("threads={threads}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_engine(threads, SIMS_PER_ITER)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, search_one_position, selfplay_engine);
criterion_main!(benches);
