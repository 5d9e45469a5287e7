//! Python bindings of blob-core: the extension module `blobmaster._core`.
//!
//! Only conversion and error mapping live here; every rule is in blob-core.
//! Python code imports the public names from `blobmaster`, which re-exports
//! this module.

mod arena_engine;
mod batches;
mod cards;
mod convert;
mod engine;
mod errors;
mod game;
mod ismcts;
mod pimc;
mod round;
mod search;
mod teacher;

pub use engine::PyEngine;
pub use errors::{BindingError, BindingResult};
pub use game::PyGame;
pub use round::PyRound;

#[pyo3::pymodule]
pub mod _core {
    #[pymodule_export]
    use crate::arena_engine::PyArenaEngine;
    #[pymodule_export]
    use crate::cards::{card_index, card_name};
    #[pymodule_export]
    use crate::engine::PyEngine;
    #[pymodule_export]
    use crate::errors::{
        BlobError, EngineClosedError, IllegalActionError, InvalidArgumentError, TicketError,
    };
    #[pymodule_export]
    use crate::game::PyGame;
    #[pymodule_export]
    use crate::ismcts::ismcts;
    #[pymodule_export]
    use crate::pimc::pimc;
    #[pymodule_export]
    use crate::round::PyRound;
    #[pymodule_export]
    use crate::search::{heuristic_action, search};
    #[pymodule_export]
    use crate::teacher::PyTeacherEngine;

    /// The package version, shared by the crate and the wheel.
    #[allow(non_upper_case_globals)] // Python's names
    #[pymodule_export]
    const __version__: &str = env!("CARGO_PKG_VERSION");
    /// "debug" or "release": tests and benchmarks can tell a slow build.
    #[allow(non_upper_case_globals)]
    #[pymodule_export]
    const build_profile: &str = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    /// Bidding b tricks is action BID_OFFSET + b.
    #[pymodule_export]
    const BID_OFFSET: usize = blob_core::BID_OFFSET;
    /// Size of the action space: 52 cards then 14 bids.
    #[pymodule_export]
    const NUM_ACTIONS: usize = blob_core::NUM_ACTIONS;
    /// Length of an observation vector.
    #[pymodule_export]
    const OBS_SIZE: usize = blob_core::OBS_SIZE;
    #[pymodule_export]
    const MIN_PLAYERS: usize = blob_core::MIN_PLAYERS;
    #[pymodule_export]
    const MAX_PLAYERS: usize = blob_core::MAX_PLAYERS;
    /// Largest hand size.
    #[pymodule_export]
    const MAX_CARDS: usize = blob_core::MAX_CARDS;
}
