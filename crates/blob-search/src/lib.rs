//! Determinized Monte Carlo tree search for Blob, and the self-play engine
//! that runs many searches at once on a rayon pool and feeds their leaves to
//! one batched evaluator through a lock-free queue.
//!
//! - [`params`]: search knobs and the Light / Medium / Heavy presets;
//! - [`tree`]: one arena tree with per-seat PUCT and virtual loss;
//! - [`search`]: searching one position with a directly called evaluator;
//! - [`evaluator`]: the evaluator interface and pure-Rust evaluators.

pub mod error;
pub mod evaluator;
pub mod params;
pub mod search;
pub mod tree;

pub use error::{SearchError, SearchResult};
pub use evaluator::{Evaluator, LeafBatch, RolloutEvaluator, UniformEvaluator};
pub use params::SearchParams;
pub use search::{Information, SearchOutcome, Searcher, choose_action};
pub use tree::Tree;
