//! `blobmaster.Game`: a full game of Blob, round after round.

use blob_core::Game;
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::convert;
use crate::errors::BindingResult;
use crate::round::{PyRound, observe};

/// A full game: the hand-size schedule, trump and dealer rotation, totals.
#[pyclass(module = "blobmaster._core", name = "Game")]
#[derive(Clone)]
pub struct PyGame {
    inner: Game,
}

#[pymethods]
impl PyGame {
    /// A new game; every deal follows from `seed` (fresh entropy if None).
    #[new]
    #[pyo3(signature = (num_players, start_cards, *, first_dealer = 0, seed = None))]
    fn new(
        num_players: i128,
        start_cards: i128,
        first_dealer: i128,
        seed: Option<i128>,
    ) -> BindingResult<Self> {
        let players = convert::non_negative(num_players, "num_players")?;
        let start_cards = convert::non_negative(start_cards, "start_cards")?;
        let first_dealer = convert::non_negative(first_dealer, "first_dealer")?;
        let seed = convert::seed(seed)?;
        Ok(PyGame {
            inner: Game::new(players, start_cards, first_dealer, seed)?,
        })
    }

    #[getter]
    fn num_players(&self) -> usize {
        self.inner.num_players()
    }

    #[getter]
    fn first_dealer(&self) -> usize {
        self.inner.first_dealer()
    }

    /// A copy of the current round (the last round once the game is over);
    /// changing it does not change the game.
    #[getter]
    fn round(&self) -> PyRound {
        (*self.inner.round()).into()
    }

    /// Index of the current round; equals len(schedule) once the game is over.
    #[getter]
    fn round_index(&self) -> usize {
        self.inner.round_index()
    }

    /// Cards per player in each round.
    #[getter]
    fn schedule(&self) -> Vec<usize> {
        self.inner.schedule().to_vec()
    }

    /// Running total score of each seat.
    #[getter]
    fn totals(&self) -> Vec<u32> {
        self.inner.totals().to_vec()
    }

    /// The scores of every finished round, one list per round.
    #[getter]
    fn round_scores(&self) -> Vec<Vec<u32>> {
        self.inner.round_scores().to_vec()
    }

    /// The seat to act, or None once the game is over.
    #[getter]
    fn current_player(&self) -> Option<usize> {
        if self.inner.is_over() {
            None
        } else {
            self.inner.round().current_player()
        }
    }

    #[getter]
    fn is_over(&self) -> bool {
        self.inner.is_over()
    }

    /// Seats with the highest total (several on a tie); empty before the end.
    #[getter]
    fn winners(&self) -> Vec<usize> {
        self.inner.winners()
    }

    /// The legal action ids now, sorted; empty once the game is over.
    fn legal_actions(&self) -> Vec<usize> {
        self.inner.legal_actions().to_vec()
    }

    /// Plays an action in the current round; the next round is dealt when it
    /// ends. Raises IllegalActionError, leaving the game unchanged, if the
    /// action is not legal now.
    fn apply(&mut self, action: i128) -> BindingResult<()> {
        let action = convert::action(action)?;
        Ok(self.inner.apply(action)?)
    }

    /// The observation of `seat` (default: the player to move) in full-game
    /// mode: the round view plus running totals and rounds left.
    #[pyo3(signature = (seat = None))]
    fn observation<'py>(
        &self,
        py: Python<'py>,
        seat: Option<i128>,
    ) -> BindingResult<Bound<'py, PyArray1<f32>>> {
        let context = self.inner.context();
        observe(py, self.inner.round(), seat, Some(&context))
    }

    /// An independent copy.
    #[pyo3(name = "clone")]
    fn py_clone(&self) -> Self {
        Clone::clone(self)
    }

    fn __copy__(&self) -> Self {
        Clone::clone(self)
    }

    #[pyo3(signature = (memo, /))]
    fn __deepcopy__(&self, memo: &Bound<'_, PyAny>) -> Self {
        let _ = memo; // nothing inside refers back to Python objects
        Clone::clone(self)
    }

    fn __repr__(&self) -> String {
        let g = &self.inner;
        format!(
            "Game(num_players={}, start_cards={}, round_index={}/{}, totals={:?})",
            g.num_players(),
            g.schedule().first().copied().unwrap_or(0),
            g.round_index(),
            g.schedule().len(),
            g.totals(),
        )
    }
}
