//! Errors of the search crate.

use blob_core::CoreError;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Error)]
pub enum SearchError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("invalid search parameter: {0}")]
    InvalidParam(String),
    #[error("invalid engine configuration: {0}")]
    InvalidConfig(String),
    #[error("unknown or already answered ticket {0}")]
    UnknownTicket(u64),
    #[error("answer has the wrong shape: {0}")]
    BadShape(String),
    #[error("answer holds a non-finite number at row {row}, column {col} of {what}")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
    },
    #[error("the engine is closed")]
    Closed,
    #[error(
        "a search worker panicked while writing a leaf into the queue: the batch is lost and the queue closed"
    )]
    WriterPanicked,
    #[error("{0}")]
    WorkerFailed(String),
}

pub type SearchResult<T> = Result<T, SearchError>;

/// The message of a caught panic (`std::panic::catch_unwind`'s payload): the
/// `String` or `&str` it was raised with, for reporting a worker's death as an
/// error instead of propagating the panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
