//! The one error type of the rules engine.

use thiserror::Error;

/// Everything a caller can get wrong. Every public constructor and mutator
/// returns these instead of panicking, so bindings can turn them into
/// exceptions.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CoreError {
    #[error("card index {0} is out of range 0..51")]
    InvalidCard(i64),
    #[error("card name {0:?} is not a card (expected rank then suit, e.g. \"AS\", \"10H\")")]
    InvalidCardName(String),
    #[error("suit index {0} is out of range 0..3")]
    InvalidSuit(u8),
    #[error("rank {0} is out of range 0..12")]
    InvalidRank(u8),
    #[error("card {0} is dealt more than once")]
    DuplicateCard(u8),
    #[error("{0} players is not allowed: Blob takes 3 to 8 players")]
    InvalidPlayerCount(usize),
    #[error(
        "{cards} cards each for {players} players is not allowed: need 1 <= cards <= 13 and cards * players <= 52"
    )]
    InvalidCardCount { players: usize, cards: usize },
    #[error("seat {seat} does not exist at a table of {players} players")]
    InvalidSeat { seat: usize, players: usize },
    #[error("expected {expected} hands (one per seat), got {got}")]
    WrongHandCount { expected: usize, got: usize },
    #[error("hands must all hold the same number of cards, got sizes {0:?}")]
    UnevenHands(Vec<usize>),
    #[error("illegal action {action}: {reason}")]
    IllegalAction { action: i64, reason: String },
    #[error("the round is over: no more actions")]
    RoundOver,
    #[error("the game is over: no more actions")]
    GameOver,
    #[error(
        "no deal of the unseen cards agrees with what seat {observer} knows (hand sizes and voids): the round is inconsistent"
    )]
    NoConsistentDeal { observer: usize },
}

pub type CoreResult<T> = Result<T, CoreError>;
