//! `blobmaster.Round`: one round of Blob.

use blob_core::determinize::determinize_checked;
use blob_core::game::GameContext;
use blob_core::observation::observation;
use blob_core::{OBS_SIZE, Round};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::convert;
use crate::errors::{BindingError, BindingResult};

/// One round of Blob: deal, bidding, trick play, scores.
///
/// A thin wrapper over the engine's `Round`, which is a small plain value:
/// copies are cheap and independent.
#[pyclass(module = "blobmaster._core", name = "Round", eq)]
#[derive(Clone, PartialEq)]
pub struct PyRound {
    pub(crate) inner: Round,
}

impl From<Round> for PyRound {
    fn from(inner: Round) -> Self {
        PyRound { inner }
    }
}

/// The observation of `seat`, or of the player to move when `seat` is None.
/// Shared with `Game.observation`, which adds the game context.
pub(crate) fn observe<'py>(
    py: Python<'py>,
    round: &Round,
    seat: Option<i128>,
    game: Option<&GameContext>,
) -> BindingResult<Bound<'py, PyArray1<f32>>> {
    let seat = match seat {
        Some(s) => convert::seat(s, round.num_players())?,
        None => round.current_player().ok_or_else(|| {
            BindingError::Argument(
                "the round is over, so nobody is to move: pass the seat to observe".into(),
            )
        })?,
    };
    let obs: [f32; OBS_SIZE] = observation(round, seat, game)?;
    Ok(PyArray1::from_slice(py, &obs))
}

#[pymethods]
impl PyRound {
    /// Deals `cards` cards to each of `num_players` seats at random.
    #[new]
    #[pyo3(signature = (num_players, cards, *, dealer = 0, trump = None, seed = None))]
    fn new(
        num_players: i128,
        cards: i128,
        dealer: i128,
        trump: Option<i128>,
        seed: Option<i128>,
    ) -> BindingResult<Self> {
        let players = convert::non_negative(num_players, "num_players")?;
        let cards = convert::non_negative(cards, "cards")?;
        let dealer = convert::non_negative(dealer, "dealer")?;
        let trump = convert::trump(trump)?;
        let mut rng = convert::rng(seed)?;
        Ok(Round::deal(players, cards, dealer, trump, &mut rng)?.into())
    }

    /// A round with the given hands: one list of card indices per seat.
    #[staticmethod]
    #[pyo3(signature = (hands, *, dealer = 0, trump = None))]
    fn from_hands(hands: Vec<Vec<i128>>, dealer: i128, trump: Option<i128>) -> BindingResult<Self> {
        let hands = hands
            .iter()
            .map(|h| convert::hand(h))
            .collect::<BindingResult<Vec<_>>>()?;
        let dealer = convert::non_negative(dealer, "dealer")?;
        let trump = convert::trump(trump)?;
        Ok(Round::from_hands(&hands, dealer, trump)?.into())
    }

    #[getter]
    fn num_players(&self) -> usize {
        self.inner.num_players()
    }

    /// Cards dealt to each player this round.
    #[getter]
    fn cards(&self) -> usize {
        self.inner.cards()
    }

    #[getter]
    fn dealer(&self) -> usize {
        self.inner.dealer()
    }

    /// The trump suit index 0..3, or None for no-trump.
    #[getter]
    fn trump(&self) -> Option<u8> {
        self.inner.trump().map(|s| s.index())
    }

    /// "bid", "play" or "over".
    #[getter]
    fn phase(&self) -> &'static str {
        self.inner.phase().name()
    }

    /// The seat to act, or None once the round is over.
    #[getter]
    fn current_player(&self) -> Option<usize> {
        self.inner.current_player()
    }

    #[getter]
    fn is_over(&self) -> bool {
        self.inner.is_over()
    }

    /// The cards each seat still holds, as sorted lists of card indices.
    #[getter]
    fn hands(&self) -> Vec<Vec<usize>> {
        // usize, not u8: PyO3 turns a Vec<u8> into `bytes`.
        self.inner
            .hands()
            .iter()
            .map(|h| h.iter().map(|c| c.index() as usize).collect())
            .collect()
    }

    /// Each seat's bid, or None before it has bid.
    #[getter]
    fn bids(&self) -> Vec<Option<usize>> {
        self.inner.bids()
    }

    #[getter]
    fn tricks_won(&self) -> Vec<usize> {
        (0..self.inner.num_players())
            .map(|s| self.inner.tricks_won(s))
            .collect()
    }

    /// The winning seat of each finished trick, in order.
    #[getter]
    fn trick_winners(&self) -> Vec<usize> {
        self.inner
            .trick_winners()
            .iter()
            .map(|&s| s as usize)
            .collect()
    }

    /// The unfinished trick as (seat, card) pairs in play order.
    #[getter]
    fn current_trick(&self) -> Vec<(usize, usize)> {
        self.inner
            .current_trick()
            .map(|(seat, card)| (seat, card.index() as usize))
            .collect()
    }

    /// The round score of every seat (10 + bid for an exact bid, else 0)
    /// once the round is over; None before.
    #[getter]
    fn scores(&self) -> Option<Vec<u32>> {
        self.inner.scores()
    }

    /// The legal action ids now, sorted; empty once the round is over.
    fn legal_actions(&self) -> Vec<usize> {
        self.inner.legal_actions().to_vec()
    }

    /// Plays an action (card index or 52 + bid). Raises IllegalActionError,
    /// leaving the round unchanged, if it is not legal now.
    fn apply(&mut self, action: i128) -> BindingResult<()> {
        let action = convert::action(action)?;
        Ok(self.inner.apply(action)?)
    }

    /// The 256-float observation of `seat` (default: the player to move).
    #[pyo3(signature = (seat = None))]
    fn observation<'py>(
        &self,
        py: Python<'py>,
        seat: Option<i128>,
    ) -> BindingResult<Bound<'py, PyArray1<f32>>> {
        observe(py, &self.inner, seat, None)
    }

    /// A copy in which every hand but `observer`'s is resampled consistently
    /// with what `observer` knows.
    #[pyo3(signature = (observer, seed = None))]
    fn determinize(&self, observer: i128, seed: Option<i128>) -> BindingResult<Self> {
        // Checked here too so a negative seat gets the same message as others.
        let observer = convert::seat(observer, self.inner.num_players())?;
        let mut rng = convert::rng(seed)?;
        Ok(determinize_checked(&self.inner, observer, &mut rng)?.into())
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
        let r = &self.inner;
        let trump = r
            .trump()
            .map_or("None".to_string(), |s| s.index().to_string());
        let to_move = r
            .current_player()
            .map_or("None".to_string(), |s| s.to_string());
        format!(
            "Round(num_players={}, cards={}, dealer={}, trump={trump}, phase='{}', current_player={to_move})",
            r.num_players(),
            r.cards(),
            r.dealer(),
            r.phase().name(),
        )
    }
}
