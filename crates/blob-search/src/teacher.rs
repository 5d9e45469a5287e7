//! Teacher self-play: rounds where every seat is played by the reference
//! ISMCTS (no network), recorded as training examples in exactly the format
//! of network self-play, to warm-start a network by distilling the search
//! (expert iteration with a search teacher).
//!
//! Each searched decision becomes a [`DecisionRecord`] whose policy is the
//! mover's normalized ISMCTS root visits (0 on illegal actions); at the end
//! of the round every record becomes one row per seat with the round's
//! scores as value targets ([`ExampleColumns::push_decision`], as the
//! self-play worker does). Forced moves are played without a record, the
//! played move is drawn from the visits with the self-play temperature for
//! the first `temperature_moves` moves of a round and is the most visited
//! one after, and rounds are dealt by the self-play sampler
//! ([`deal_unit`]), full games included.
//!
//! Every random choice of unit `id` (a round, or a game in full-game mode)
//! comes from `(seed, id)`, and finished units are handed out in id order,
//! so the examples are the same, in the same order, for any thread count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use blob_core::NUM_ACTIONS;
use blob_core::game::Game;

use crate::driver::config::{TableSpec, deal_unit, next_game_round, validate_tables};
use crate::error::{SearchError, SearchResult};
use crate::examples::{DecisionRecord, ExampleColumns};
use crate::ismcts::{Ismcts, IsmctsParams, Rollout};
use crate::search::choose_action;

/// Everything a teacher run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherConfig {
    /// Worker threads, 1..=1024.
    pub threads: usize,
    /// Round kinds, drawn by weight as self-play draws them.
    pub tables: Vec<TableSpec>,
    /// Whole games instead of single rounds (see `EngineConfig::full_games`).
    pub full_games: bool,
    pub seed: u64,
    /// Units (rounds, or games with `full_games`) `first_unit..units` are
    /// played: a resumed run skips the units already on disk.
    pub first_unit: u64,
    pub units: u64,
    /// The search of every seat.
    pub ismcts: IsmctsParams,
    /// Moves of a round (counted from 0, forced ones included) whose move is
    /// drawn with probability proportional to visits^(1/temperature).
    pub temperature_moves: u32,
    /// 0 plays the most visited move throughout.
    pub temperature: f32,
}

impl TeacherConfig {
    pub fn validate(&self) -> SearchResult<()> {
        self.ismcts.validate()?;
        validate_tables(&self.tables)?;
        let bad = |m: String| Err(SearchError::InvalidConfig(m));
        if self.ismcts.rollout == Rollout::Network {
            return bad("the teacher has no network: its playouts are random or heuristic".into());
        }
        if !(1..=1024).contains(&self.threads) {
            return bad(format!("threads must be in 1..=1024, got {}", self.threads));
        }
        if self.first_unit > self.units {
            return bad(format!(
                "first unit {} is past the {} units to play",
                self.first_unit, self.units
            ));
        }
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(SearchError::InvalidParam(format!(
                "temperature must be a finite number >= 0, got {}",
                self.temperature
            )));
        }
        Ok(())
    }
}

/// What the teacher's workers count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TeacherCounts {
    /// Units (rounds or games) finished and handed out.
    pub units: u64,
    /// Rounds played to the end.
    pub rounds: u64,
    /// Example rows (one per seat and searched decision).
    pub examples: u64,
    /// Searched decisions.
    pub decisions: u64,
    /// Moves played without a search (one legal action).
    pub forced_moves: u64,
    /// ISMCTS iterations over all searches.
    pub iterations: u64,
}

impl TeacherCounts {
    fn add(&mut self, other: &TeacherCounts) {
        self.units += other.units;
        self.rounds += other.rounds;
        self.examples += other.examples;
        self.decisions += other.decisions;
        self.forced_moves += other.forced_moves;
        self.iterations += other.iterations;
    }

    /// Every counter with its name.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("units", self.units),
            ("rounds", self.rounds),
            ("examples", self.examples),
            ("decisions", self.decisions),
            ("forced_moves", self.forced_moves),
            ("iterations", self.iterations),
        ]
    }
}

/// Plays one round (`round`, of `game` in full-game mode) to its end with
/// ISMCTS on every seat. Returns the searched decisions and the finished
/// round, or None when `stop` was set before the end.
pub(crate) fn play_round(
    config: &TeacherConfig,
    round: &mut blob_core::Round,
    mut game: Option<&mut Game>,
    rng: &mut blob_core::Rng,
    search: &mut Ismcts,
    stop: &AtomicBool,
    counts: &mut TeacherCounts,
) -> SearchResult<Option<Vec<DecisionRecord>>> {
    let mut records = Vec::new();
    let mut move_number: u32 = 0;
    while let Some(mover) = round.current_player() {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let legal = round.legal_actions();
        let action = if legal.len() == 1 {
            counts.forced_moves += 1;
            legal.0.trailing_zeros() as usize
        } else {
            let outcome = search.search(round, mover, &config.ismcts, rng)?;
            let temperature = if move_number < config.temperature_moves {
                config.temperature
            } else {
                0.0
            };
            // ISMCTS has no prior: ties (rare at its budgets) go to the lowest id.
            let action = choose_action(&outcome.visits, &[0.0; NUM_ACTIONS], temperature, rng);
            records.push(DecisionRecord {
                state: *round,
                mask: legal.to_mask(),
                policy: outcome.policy(),
                move_number: move_number as u16,
            });
            counts.decisions += 1;
            counts.iterations += outcome.iterations as u64;
            action
        };
        round.apply(action)?;
        if let Some(g) = game.as_deref_mut() {
            g.apply(action)?;
        }
        move_number += 1;
    }
    counts.rounds += 1;
    Ok(Some(records))
}

/// Plays unit `id` (one round, or one game) and returns its examples, or
/// None when `stop` was set before the end (the unit is then dropped whole).
pub fn play_unit(
    config: &TeacherConfig,
    id: u64,
    search: &mut Ismcts,
    stop: &AtomicBool,
    counts: &mut TeacherCounts,
) -> SearchResult<Option<ExampleColumns>> {
    let dealt = deal_unit(&config.tables, config.full_games, config.seed, id)?;
    let mut game = dealt.game;
    let (mut round, mut round_id, mut rng) = (dealt.round, dealt.round_id, dealt.rng);
    let mut out = ExampleColumns::default();
    loop {
        let context = game.as_ref().map(Game::context);
        let played = play_round(
            config,
            &mut round,
            game.as_mut(),
            &mut rng,
            search,
            stop,
            counts,
        )?;
        let Some(records) = played else {
            return Ok(None);
        };
        for r in &records {
            out.push_decision(r, &round, context.as_ref(), round_id);
        }
        match game.as_ref().filter(|g| !g.is_over()) {
            Some(g) => (round, round_id, rng) = next_game_round(g, config.seed, id),
            None => {
                counts.units += 1;
                counts.examples += out.len() as u64;
                return Ok(Some(out));
            }
        }
    }
}

/// Finished units waiting for the ones before them, and those handed out.
struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, (ExampleColumns, TeacherCounts)>,
    ready: ExampleColumns,
    counts: TeacherCounts,
}

struct Shared {
    config: TeacherConfig,
    stop: AtomicBool,
    next_unit: AtomicU64,
    running: AtomicUsize,
    failure: Mutex<Option<String>>,
    out: Mutex<InOrder>,
}

impl Shared {
    fn fail(&self, worker: usize, why: &str) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            *failure = Some(format!("teacher worker {worker} failed: {why}"));
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    fn finished_unit(&self, id: u64, examples: ExampleColumns, counts: TeacherCounts) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.waiting.insert(id, (examples, counts));
        loop {
            let next = out.next;
            let Some((mut examples, counts)) = out.waiting.remove(&next) else {
                break;
            };
            out.ready.append(&mut examples);
            out.counts.add(&counts);
            out.next += 1;
        }
    }

    fn work(&self) -> SearchResult<()> {
        let mut search = Ismcts::new();
        while !self.stop.load(Ordering::Relaxed) {
            let id = self.next_unit.fetch_add(1, Ordering::Relaxed);
            if id >= self.config.units {
                break;
            }
            let mut counts = TeacherCounts::default();
            match play_unit(&self.config, id, &mut search, &self.stop, &mut counts)? {
                Some(examples) => self.finished_unit(id, examples, counts),
                None => break,
            }
        }
        Ok(())
    }
}

/// Teacher self-play on worker threads. Dropping it stops them.
pub struct TeacherEngine {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl TeacherEngine {
    /// Validates the configuration and starts the workers.
    pub fn start(config: TeacherConfig) -> SearchResult<TeacherEngine> {
        config.validate()?;
        let threads = config.threads;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            next_unit: AtomicU64::new(config.first_unit),
            running: AtomicUsize::new(threads),
            failure: Mutex::new(None),
            out: Mutex::new(InOrder {
                next: config.first_unit,
                waiting: BTreeMap::new(),
                ready: ExampleColumns::default(),
                counts: TeacherCounts::default(),
            }),
            config,
        });
        let mut workers = Vec::with_capacity(threads);
        for id in 0..threads {
            let mine = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("blob-teacher-{id}"))
                .spawn(move || {
                    let shared = mine;
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.work()));
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => shared.fail(id, &e.to_string()),
                        Err(panic) => shared.fail(id, &crate::error::panic_message(&*panic)),
                    }
                    shared.running.fetch_sub(1, Ordering::AcqRel);
                });
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // The threads already started see the stop and exit.
                    shared.stop.store(true, Ordering::Relaxed);
                    shared
                        .running
                        .fetch_sub(threads - workers.len(), Ordering::AcqRel);
                    let engine = TeacherEngine {
                        shared,
                        workers: Mutex::new(workers),
                    };
                    engine.close();
                    return Err(SearchError::InvalidConfig(format!(
                        "cannot start a teacher thread: {e}"
                    )));
                }
            }
        }
        Ok(TeacherEngine {
            shared,
            workers: Mutex::new(workers),
        })
    }

    pub fn config(&self) -> &TeacherConfig {
        &self.shared.config
    }

    /// True once every worker has exited (all units played, or stopped).
    pub fn is_finished(&self) -> bool {
        self.shared.running.load(Ordering::Acquire) == 0
    }

    /// Workers still running.
    pub fn workers_running(&self) -> usize {
        self.shared.running.load(Ordering::Relaxed)
    }

    /// The first worker failure, as an error.
    pub fn check_failure(&self) -> SearchResult<()> {
        match &*self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            Some(msg) => Err(SearchError::WorkerFailed(msg.clone())),
            None => Ok(()),
        }
    }

    /// Takes the examples of every unit handed out since the last call (in
    /// unit order, whole units only); an error once a worker failed.
    pub fn take_examples(&self) -> SearchResult<ExampleColumns> {
        self.check_failure()?;
        let mut out = self.shared.out.lock().unwrap_or_else(|e| e.into_inner());
        Ok(std::mem::take(&mut out.ready))
    }

    /// Counts of the units handed out so far.
    pub fn counts(&self) -> TeacherCounts {
        self.shared
            .out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
    }

    /// Waits for the workers to exit (all units played, or stopped).
    pub fn join(&self) {
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            // A worker's panic is caught inside it: join cannot fail.
            let _ = handle.join();
        }
    }

    /// Stops the workers (each finishes at most its current search) and
    /// waits for them. Idempotent.
    pub fn close(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.join();
    }

    pub fn is_closed(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed) && self.is_finished()
    }
}

impl Drop for TeacherEngine {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ismcts::Rollout;
    use blob_core::observation::OBS_SIZE;
    use blob_core::{MAX_PLAYERS, NUM_ACTIONS};

    fn config(tables: &[(usize, usize)], units: u64, threads: usize) -> TeacherConfig {
        TeacherConfig {
            threads,
            tables: tables
                .iter()
                .map(|&(players, cards)| TableSpec {
                    players,
                    cards,
                    weight: 1.0,
                })
                .collect(),
            full_games: false,
            seed: 7,
            first_unit: 0,
            units,
            ismcts: IsmctsParams::new(40),
            temperature_moves: 4,
            temperature: 1.0,
        }
    }

    fn run(config: TeacherConfig) -> (ExampleColumns, TeacherCounts) {
        let engine = TeacherEngine::start(config).expect("valid config");
        engine.join();
        (engine.take_examples().expect("no failure"), engine.counts())
    }

    #[test]
    fn rows_hold_the_search_policy_and_the_round_scores() {
        let cfg = config(&[(4, 3), (3, 5)], 6, 1);
        let stop = AtomicBool::new(false);
        let mut search = Ismcts::new();
        for id in 0..cfg.units {
            let dealt = deal_unit(&cfg.tables, false, cfg.seed, id).unwrap();
            let (mut round, mut rng) = (dealt.round, dealt.rng);
            let players = round.num_players();
            let mut counts = TeacherCounts::default();
            let records = play_round(
                &cfg,
                &mut round,
                None,
                &mut rng,
                &mut search,
                &stop,
                &mut counts,
            )
            .unwrap()
            .unwrap();
            assert!(round.is_over());
            assert_eq!(counts.decisions as usize, records.len());
            assert_eq!(counts.iterations, 40 * records.len() as u64);
            let mut cols = ExampleColumns::default();
            for r in &records {
                // A distribution over the legal actions, from 40 visits.
                let legal = r.state.legal_actions();
                assert!(legal.len() >= 2);
                let sum: f32 = r.policy.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5);
                for a in 0..NUM_ACTIONS {
                    assert_eq!(r.mask[a], legal.contains(a));
                    assert!(r.policy[a] >= 0.0);
                    if !legal.contains(a) {
                        assert_eq!(r.policy[a], 0.0);
                    }
                    let visits = r.policy[a] * 40.0;
                    assert!((visits - visits.round()).abs() < 1e-3);
                }
                cols.push_decision(r, &round, None, id);
            }
            // One row per seat and decision, the value of each its round score.
            assert_eq!(cols.len(), records.len() * players);
            for i in 0..cols.len() {
                let seat = cols.seat[i] as usize;
                assert_eq!(seat, i % players);
                let (_, _, _, value) = cols.row(i);
                assert_eq!(value, &round.values_from(seat)[..]);
            }
            // The same unit through play_unit gives the same rows.
            let mut counts = TeacherCounts::default();
            let unit = play_unit(&cfg, id, &mut search, &stop, &mut counts)
                .unwrap()
                .unwrap();
            assert_eq!(unit, cols);
            assert_eq!(counts.units, 1);
            assert_eq!(counts.examples, cols.len() as u64);
        }
    }

    #[test]
    fn scores_are_whole_points_per_seat() {
        // Each value is 0 (bid missed) or (10 + bid) / (10 + cards), and the
        // seats' scores agree between rows of a round (the rotation).
        let (cols, counts) = run(config(&[(5, 4)], 5, 2));
        assert_eq!(counts.rounds, 5);
        assert_eq!(counts.units, 5);
        assert_eq!(counts.examples as usize, cols.len());
        assert_eq!(cols.state.len(), cols.len() * OBS_SIZE);
        assert_eq!(cols.value.len(), cols.len() * MAX_PLAYERS);
        for i in 0..cols.len() {
            let (_, _, _, value) = cols.row(i);
            for (k, &v) in value.iter().enumerate() {
                if k >= 5 {
                    assert_eq!(v, 0.0);
                    continue;
                }
                let points = v * 14.0;
                assert!(v == 0.0 || ((10.0..=14.0).contains(&points.round())));
                assert!((points - points.round()).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn same_examples_for_any_thread_count() {
        for full_games in [false, true] {
            let mut cfg = config(&[(3, 2), (4, 3), (5, 1)], 7, 1);
            cfg.full_games = full_games;
            cfg.ismcts = IsmctsParams::new(20).with_rollout(Rollout::Heuristic);
            let (one, counts_one) = run(cfg.clone());
            cfg.threads = 3;
            let (three, counts_three) = run(cfg.clone());
            assert!(!one.is_empty());
            assert_eq!(one, three);
            assert_eq!(counts_one, counts_three);
            if full_games {
                assert_eq!(counts_one.units, 7);
                assert!(counts_one.rounds > 7);
            }
            // A resumed run plays exactly the units after the first ones.
            cfg.first_unit = 4;
            let (rest, _) = run(cfg);
            let first_rest = one
                .round_id
                .iter()
                .position(|&r| r == rest.round_id[0])
                .unwrap();
            assert_eq!(&one.seat[first_rest..], &rest.seat[..]);
            assert_eq!(&one.policy[first_rest * NUM_ACTIONS..], &rest.policy[..]);
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let good = config(&[(4, 5)], 3, 2);
        assert!(good.validate().is_ok());
        let cases: [fn(&mut TeacherConfig); 9] = [
            |c| c.ismcts.iterations = 0,
            |c| c.ismcts.exploration = -1.0,
            |c| c.ismcts.exploration = f32::NAN,
            |c| c.threads = 0,
            |c| c.tables.clear(),
            |c| c.tables[0].players = 9,
            |c| c.tables[0].weight = 0.0,
            |c| c.temperature = f32::INFINITY,
            |c| c.first_unit = 4,
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut cfg = good.clone();
            change(&mut cfg);
            assert!(cfg.validate().is_err(), "case {i}");
            assert!(TeacherEngine::start(cfg).is_err(), "case {i}");
        }
    }

    #[test]
    fn close_stops_a_long_run() {
        let mut cfg = config(&[(4, 5)], 1_000_000, 2);
        cfg.ismcts = IsmctsParams::new(200);
        let engine = TeacherEngine::start(cfg).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        engine.close();
        assert!(engine.is_finished());
        assert!(engine.is_closed());
        assert!(engine.counts().units < 1_000_000);
        assert!(engine.take_examples().is_ok());
    }
}
