//! The engine's configuration: what to deal, how hard to search, how big
//! the batches are, and its validation.

use blob_core::game::Game;
use blob_core::rng::mix_seed;
use blob_core::round::validate_table;
use blob_core::{Rng, Round, Suit};

use crate::error::{SearchError, SearchResult};
use crate::params::SearchParams;

/// One kind of round the engine deals, with its relative weight.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    pub players: usize,
    pub cards: usize,
    pub weight: f64,
}

/// Everything the engine needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Worker threads of the rayon pool.
    pub threads: usize,
    /// Rounds each worker keeps in flight.
    pub games_per_thread: usize,
    pub params: SearchParams,
    /// Round kinds to deal, drawn by weight for every round.
    pub tables: Vec<TableSpec>,
    pub seed: u64,
    /// Rows per batch buffer (the largest batch).
    pub max_batch: usize,
    /// Batch buffers in the ring: batches being filled, evaluated and
    /// consumed at once.
    pub pipeline_depth: usize,
    /// Rounds to play before the workers stop (games, with `full_games`);
    /// None plays until closed.
    pub rounds: Option<u64>,
    /// Play whole games (hand-size schedule, trump and dealer rotation,
    /// running totals in the observations) instead of single rounds; a
    /// table's `cards` is then the starting hand size, and the round id of
    /// round r of game g is `g * 64 + r`.
    pub full_games: bool,
    /// Answers cached per worker; 0 disables the cache.
    pub cache_entries: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threads: 2,
            games_per_thread: 64,
            params: SearchParams::medium(),
            tables: vec![TableSpec {
                players: 4,
                cards: 5,
                weight: 1.0,
            }],
            seed: 0,
            max_batch: 512,
            pipeline_depth: 3,
            rounds: None,
            cache_entries: 1 << 16,
            full_games: false,
        }
    }
}

impl EngineConfig {
    pub fn validate(&self) -> SearchResult<()> {
        let bad = |m: String| Err(SearchError::InvalidConfig(m));
        check_workers(self.threads, self.games_per_thread)?;
        self.params.validate()?;
        if self.params.simulations < 2 {
            return bad("self-play needs at least 2 simulations per tree".into());
        }
        validate_tables(&self.tables)?;
        check_batches(self.max_batch, self.pipeline_depth)?;
        Ok(())
    }
}

/// At least one table, each allowed by the rules, with a positive weight.
pub fn validate_tables(tables: &[TableSpec]) -> SearchResult<()> {
    let bad = |m: String| Err(SearchError::InvalidConfig(m));
    if tables.is_empty() {
        return bad("at least one table (players, cards) is needed".into());
    }
    for t in tables {
        validate_table(t.players, t.cards)?;
        if !(t.weight.is_finite() && t.weight > 0.0) {
            return bad(format!("table weight must be positive, got {}", t.weight));
        }
    }
    Ok(())
}

/// The first round of self-play unit `id` (a round, or a game with
/// `full_games`): everything random in it comes from `(seed, id)`.
pub struct DealtUnit {
    pub round: Round,
    pub round_id: u64,
    /// The whole game in full-game mode.
    pub game: Option<Game>,
    /// The round's generator, for everything its search draws.
    pub rng: Rng,
}

/// Deals unit `id` of a run with `seed`: a table drawn by weight, then a
/// dealer and (single rounds) a trump suit and the cards, or (full games)
/// a game of that table. The one sampler of self-play: the engine and the
/// teacher both deal with it, so they play the same distribution of rounds.
pub fn deal_unit(
    tables: &[TableSpec],
    full_games: bool,
    seed: u64,
    id: u64,
) -> SearchResult<DealtUnit> {
    let mut rng = Rng::new(mix_seed(&[seed, id]));
    let total: f64 = tables.iter().map(|t| t.weight).sum();
    let mut pick = rng.unit_f64() * total;
    let mut table = &tables[0];
    for t in tables {
        table = t;
        if pick < t.weight {
            break;
        }
        pick -= t.weight;
    }
    let dealer = rng.below(table.players as u32) as usize;
    if full_games {
        let game = Game::new(table.players, table.cards, dealer, rng.next_u64())?;
        let (round, round_id, rng) = next_game_round(&game, seed, id);
        return Ok(DealtUnit {
            round,
            round_id,
            game: Some(game),
            rng,
        });
    }
    let trump = Suit::from_index(rng.below(5) as u8).ok();
    let round = Round::deal(table.players, table.cards, dealer, trump, &mut rng)?;
    Ok(DealtUnit {
        round,
        round_id: id,
        game: None,
        rng,
    })
}

/// The current round of game `game_id` (not over), its id (`game_id * 64 +`
/// its index in the game) and its generator.
pub fn next_game_round(game: &Game, seed: u64, game_id: u64) -> (Round, u64, Rng) {
    let id = game_id * 64 + game.round_index() as u64;
    (*game.round(), id, Rng::new(mix_seed(&[seed, id, 1])))
}

/// The worker fields both engines have: pool threads and rounds in flight.
pub(super) fn check_workers(threads: usize, games_per_thread: usize) -> SearchResult<()> {
    if !(1..=1024).contains(&threads) {
        return Err(SearchError::InvalidConfig(format!(
            "threads must be in 1..=1024, got {threads}"
        )));
    }
    if !(1..=100_000).contains(&games_per_thread) {
        return Err(SearchError::InvalidConfig(format!(
            "games per thread must be in 1..=100000, got {games_per_thread}"
        )));
    }
    Ok(())
}

/// The leaf-queue fields both engines have: batch rows and ring depth.
pub(super) fn check_batches(max_batch: usize, pipeline_depth: usize) -> SearchResult<()> {
    if max_batch == 0 || max_batch > crate::queue::MAX_BATCH {
        return Err(SearchError::InvalidConfig(format!(
            "max batch must be in 1..={}, got {max_batch}",
            crate::queue::MAX_BATCH
        )));
    }
    if !(2..=64).contains(&pipeline_depth) {
        return Err(SearchError::InvalidConfig(format!(
            "pipeline depth must be in 2..=64, got {pipeline_depth}"
        )));
    }
    Ok(())
}
