//! Determinized Monte Carlo tree search for Blob, and the self-play engine
//! that runs many searches at once on a rayon pool and feeds their leaves to
//! one batched evaluator through a lock-free queue.
//!
//! - [`params`]: search knobs and the Light / Medium / Heavy presets;
//! - [`tree`]: one arena tree with per-seat PUCT and virtual loss;
//! - [`inference`]: sampling the hidden hands (uniform, or weighted by bids);
//! - [`ismcts`], [`leaf_ismcts`]: the reference ISMCTS player, and its
//!   network-valued form that waits for its leaves' answers;
//! - [`search`]: searching one position with a directly called evaluator;
//! - [`evaluator`]: the evaluator interface and pure-Rust evaluators;
//! - [`queue`]: the lock-free ring of batch buffers leaves are written into;
//! - [`cache`]: answers cached by information state;
//! - [`driver`]: the self-play engine (workers, rounds in flight, examples);
//! - [`examples`]: training examples in columns.

pub mod arena;
pub mod cache;
pub mod driver;
pub mod error;
pub mod evaluator;
pub mod examples;
pub mod gumbel;
pub mod heuristic;
pub mod inference;
pub mod ismcts;
pub mod leaf_ismcts;
pub mod params;
pub mod pimc;
pub mod queue;
pub mod search;
pub mod solver;
pub mod teacher;
pub mod tree;

pub use driver::{Engine, EngineConfig, EngineStats, TableSpec, WorkerCounts, serve};
pub use error::{SearchError, SearchResult};
pub use evaluator::{Evaluator, LeafBatch, RolloutEvaluator, UniformEvaluator};
pub use examples::ExampleColumns;
pub use inference::Inference;
pub use ismcts::{
    Ismcts, IsmctsOutcome, IsmctsParams, IsmctsPlayer, PlayoutPolicy, Rollout, ismcts_search,
};
pub use leaf_ismcts::{LeafIsmcts, LeafRequest};
pub use params::SearchParams;
pub use search::{Information, SearchOutcome, Searcher, choose_action, most_visited};
pub use teacher::{TeacherConfig, TeacherCounts, TeacherEngine};
pub use tree::Tree;
