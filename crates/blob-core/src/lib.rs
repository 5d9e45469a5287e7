//! The rules engine of Blob, an Oh Hell-style trick-taking game.
//!
//! Every player bids the exact number of tricks they will take; only an exact
//! bid scores, `10 + bid`. Rounds have 3-8 players holding 1-13 cards each; the
//! dealer bids last and may not make the bids add up to the number of cards.
//! The full rules, and the action numbering used everywhere (card = 0..51,
//! bid b = 52 + b), are in `docs/rules.md`.
//!
//! This crate knows nothing of Python or threads. Modules:
//! - [`cards`]: cards, suits and 64-bit card sets;
//! - [`action`]: the 66 action ids and action sets;
//! - [`round`]: one round (deal, bid, play, score), a small `Copy` value;
//! - [`game`]: a full game (hand-size schedule, trump and dealer rotation);
//! - [`observation`]: the 256-float view of one seat;
//! - [`determinize`]: sampling hidden hands consistent with a seat's knowledge;
//! - [`rng`]: the seeded generator behind every random choice.

pub mod action;
pub mod cards;
pub mod determinize;
pub mod error;
pub mod game;
pub mod observation;
pub mod rng;
pub mod round;

pub use action::{ActionSet, BID_OFFSET, NUM_ACTIONS};
pub use cards::{Card, CardSet, Suit};
pub use error::{CoreError, CoreResult};
pub use game::Game;
pub use observation::{OBS_SIZE, encode_observation};
pub use rng::Rng;
pub use round::{MAX_CARDS, MAX_PLAYERS, MIN_PLAYERS, Phase, Round};
