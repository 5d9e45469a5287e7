//! Card names and indices.

use blob_core::Card;
use pyo3::prelude::*;

use crate::convert;
use crate::errors::BindingResult;

/// The name of card `index` (0..51): rank then suit letter, e.g. "AS", "10H".
#[pyfunction]
pub fn card_name(index: i128) -> BindingResult<String> {
    Ok(convert::card(index)?.name())
}

/// The index (0..51) of a card name such as "AS", "10h" or "TD".
#[pyfunction]
pub fn card_index(name: &str) -> BindingResult<u8> {
    Ok(Card::parse(name)?.index())
}
