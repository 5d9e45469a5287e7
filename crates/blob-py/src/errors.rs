//! The Python exception hierarchy and the single mapping from Rust errors to
//! it.
//!
//! Every game error derives from `BlobError`, itself a `ValueError`: each one
//! means "the game refused this input", so `except ValueError` in user code
//! keeps working while `except IllegalActionError` can single out bad moves.

use blob_core::CoreError;
use blob_search::SearchError;
use pyo3::PyErr;
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};

create_exception!(
    blobmaster._core,
    BlobError,
    PyValueError,
    "Base class of every error the game raises for bad input (a ValueError)."
);
create_exception!(
    blobmaster._core,
    IllegalActionError,
    BlobError,
    "An action that is not legal in the current state; the message says why."
);
create_exception!(
    blobmaster._core,
    InvalidArgumentError,
    BlobError,
    "An argument out of range: player or card count, seat, card, suit, seed."
);
create_exception!(
    blobmaster._core,
    TicketError,
    BlobError,
    "A batch ticket that is unknown or already answered."
);
create_exception!(
    blobmaster._core,
    EngineClosedError,
    PyRuntimeError,
    "The self-play engine is closed, or one of its workers failed."
);

/// Every failure of a binding call. `Core` carries the engine's own error;
/// the others cover what the bindings check before handing values to the
/// engine (negative or huge integers, a missing seat), which the engine's
/// unsigned types cannot even represent.
#[derive(Debug)]
pub enum BindingError {
    Core(CoreError),
    Search(SearchError),
    Argument(String),
    IllegalAction(String),
}

pub type BindingResult<T> = Result<T, BindingError>;

impl From<CoreError> for BindingError {
    fn from(err: CoreError) -> Self {
        BindingError::Core(err)
    }
}

impl From<SearchError> for BindingError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::Core(core) => BindingError::Core(core),
            other => BindingError::Search(other),
        }
    }
}

/// The one place a Rust error becomes a Python exception.
impl From<BindingError> for PyErr {
    fn from(err: BindingError) -> PyErr {
        match err {
            BindingError::Argument(msg) => InvalidArgumentError::new_err(msg),
            BindingError::IllegalAction(msg) => IllegalActionError::new_err(msg),
            BindingError::Search(search) => {
                let msg = search.to_string();
                match search {
                    SearchError::UnknownTicket(_) => TicketError::new_err(msg),
                    SearchError::Closed
                    | SearchError::WorkerFailed(_)
                    | SearchError::WriterPanicked => EngineClosedError::new_err(msg),
                    _ => InvalidArgumentError::new_err(msg),
                }
            }
            BindingError::Core(core) => {
                let msg = core.to_string();
                match core {
                    CoreError::IllegalAction { .. }
                    | CoreError::RoundOver
                    | CoreError::GameOver => IllegalActionError::new_err(msg),
                    CoreError::InvalidCard(_)
                    | CoreError::InvalidCardName(_)
                    | CoreError::InvalidSuit(_)
                    | CoreError::InvalidRank(_)
                    | CoreError::DuplicateCard(_)
                    | CoreError::InvalidPlayerCount(_)
                    | CoreError::InvalidCardCount { .. }
                    | CoreError::InvalidSeat { .. }
                    | CoreError::WrongHandCount { .. }
                    | CoreError::UnevenHands(_) => InvalidArgumentError::new_err(msg),
                    // Only a hand-built inconsistent state gets here: the
                    // input was bad, but no single argument was.
                    CoreError::NoConsistentDeal { .. } => BlobError::new_err(msg),
                    // CoreError may grow variants (determinization, say); until
                    // they get their own class they are still game errors.
                    #[allow(unreachable_patterns)]
                    _ => BlobError::new_err(msg),
                }
            }
        }
    }
}
