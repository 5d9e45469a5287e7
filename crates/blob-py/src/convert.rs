//! Turning Python arguments into engine values.
//!
//! Integer arguments arrive as `i128` rather than `usize`/`u8` so that a
//! negative or huge number becomes a clear `InvalidArgumentError` (a
//! `ValueError`) instead of PyO3's `OverflowError`, and so that no value is
//! ever truncated by an `as u8` cast before it is checked. (Beyond i128 the
//! `OverflowError` stays: nobody passes 2**127 players by accident.)

use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use blob_core::cards::DECK_SIZE;
use blob_core::{Card, CardSet, CoreError, Rng, Suit};
use blob_search::TableSpec;

use crate::errors::{BindingError, BindingResult};

/// A count or seat that must not be negative; the engine checks the upper
/// bound with its own, more specific message.
pub fn non_negative(value: i128, what: &str) -> BindingResult<usize> {
    usize::try_from(value)
        .map_err(|_| BindingError::Argument(format!("{what} must not be negative, got {value}")))
}

/// A count that must be at least 1 (threads, batch sizes).
pub fn positive(value: i128, what: &str) -> BindingResult<usize> {
    match usize::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(BindingError::Argument(format!(
            "{what} must be a positive integer, got {value}"
        ))),
    }
}

/// A seat of a table of `players`.
pub fn seat(value: i128, players: usize) -> BindingResult<usize> {
    match usize::try_from(value) {
        Ok(s) if s < players => Ok(s),
        _ => Err(BindingError::Argument(format!(
            "seat {value} does not exist at a table of {players} players (seats 0..{})",
            players - 1
        ))),
    }
}

/// A card index 0..51.
pub fn card(value: i128) -> BindingResult<Card> {
    match u8::try_from(value) {
        Ok(i) if (i as usize) < DECK_SIZE => Ok(Card::new(i)?),
        _ => Err(match i64::try_from(value) {
            Ok(v) => CoreError::InvalidCard(v).into(),
            Err(_) => BindingError::Argument(format!("card index {value} is out of range 0..51")),
        }),
    }
}

/// One hand: distinct card indices.
pub fn hand(indices: &[i128]) -> BindingResult<CardSet> {
    let mut set = CardSet::EMPTY;
    for &i in indices {
        let c = card(i)?;
        if set.contains(c) {
            return Err(CoreError::DuplicateCard(c.index()).into());
        }
        set.insert(c);
    }
    Ok(set)
}

/// A trump suit index 0..3, or None for no-trump.
pub fn trump(value: Option<i128>) -> BindingResult<Option<Suit>> {
    match value {
        None => Ok(None),
        Some(v) => u8::try_from(v)
            .ok()
            .and_then(|i| Suit::from_index(i).ok())
            .map(Some)
            .ok_or_else(|| {
                BindingError::Argument(format!(
                    "trump must be a suit index 0..3 (spades, hearts, clubs, diamonds) or None, got {v}"
                ))
            }),
    }
}

/// An action id; any integer is accepted here and the engine says why an
/// unknown one is illegal. Negative ids are illegal moves, not bad types.
pub fn action(value: i128) -> BindingResult<usize> {
    usize::try_from(value).map_err(|_| {
        BindingError::IllegalAction(format!(
            "illegal action {value}: action ids are 0..51 (cards) and 52..65 (bids)"
        ))
    })
}

/// The seed of a random choice: a given seed in 0..2**64-1, or fresh entropy.
/// The seed arrives as i128 so both negative and too-large seeds get the same
/// clear message.
pub fn seed(value: Option<i128>) -> BindingResult<u64> {
    match value {
        Some(v) => u64::try_from(v).map_err(|_| {
            BindingError::Argument(format!("seed must be an integer in 0..2**64-1, got {v}"))
        }),
        None => Ok(entropy()),
    }
}

/// A seed nobody chose. std's `RandomState` is keyed from the operating
/// system's random source and changes its keys on every construction, so
/// hashing the clock with it gives a fresh value per call without another
/// dependency.
fn entropy() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A generator for `seed` (see [`seed`]).
pub fn rng(value: Option<i128>) -> BindingResult<Rng> {
    Ok(Rng::new(seed(value)?))
}

/// The engines' `tables` argument: (players, cards, weight) triples, or None
/// for 4 players x 5 cards (the range checks are the engine's own).
pub fn tables(tables: Option<Vec<(i128, i128, f64)>>) -> BindingResult<Vec<TableSpec>> {
    let Some(list) = tables else {
        return Ok(vec![TableSpec {
            players: 4,
            cards: 5,
            weight: 1.0,
        }]);
    };
    list.into_iter()
        .map(|(players, cards, weight)| {
            Ok(TableSpec {
                players: non_negative(players, "players")?,
                cards: non_negative(cards, "cards")?,
                weight,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argument_message<T: std::fmt::Debug>(result: BindingResult<T>) -> String {
        match result {
            Err(BindingError::Argument(msg)) => msg,
            other => panic!("expected an argument error, got {other:?}"),
        }
    }

    #[test]
    fn negative_and_huge_integers_are_errors_not_casts() {
        assert_eq!(non_negative(3, "cards").unwrap(), 3);
        assert!(argument_message(non_negative(-1, "cards")).contains("cards must not be negative"));
        assert!(seat(4, 4).is_err() && seat(-1, 4).is_err() && seat(i128::MAX, 4).is_err());
        assert_eq!(seat(3, 4).unwrap(), 3);
        // 256 + 5 must not wrap around to card 5.
        assert!(matches!(
            card(261),
            Err(BindingError::Core(CoreError::InvalidCard(261)))
        ));
        assert!(matches!(
            card(-1),
            Err(BindingError::Core(CoreError::InvalidCard(-1)))
        ));
        assert!(argument_message(card(1 << 70)).contains("out of range"));
        assert_eq!(card(51).unwrap().index(), 51);
    }

    #[test]
    fn hands_reject_duplicates() {
        assert_eq!(hand(&[3, 0, 51]).unwrap().len(), 3);
        assert!(matches!(
            hand(&[3, 3]),
            Err(BindingError::Core(CoreError::DuplicateCard(3)))
        ));
    }

    #[test]
    fn trump_actions_and_seeds() {
        assert_eq!(trump(None).unwrap(), None);
        assert_eq!(trump(Some(3)).unwrap(), Some(Suit::Diamonds));
        for bad in [4, -1, 256 + 1] {
            assert!(argument_message(trump(Some(bad))).contains("trump"));
        }
        assert_eq!(action(65).unwrap(), 65);
        assert!(matches!(action(-1), Err(BindingError::IllegalAction(_))));
        assert_eq!(seed(Some(u64::MAX as i128)).unwrap(), u64::MAX);
        assert!(argument_message(seed(Some(-1))).contains("seed"));
        assert!(argument_message(seed(Some(1 << 64))).contains("seed"));
        assert_ne!(seed(None).unwrap(), seed(None).unwrap());
    }
}
