//! The reference ISMCTS search from Python: what `blobmaster.Agent.ismcts`
//! is built on.

use blob_core::{NUM_ACTIONS, Rng};
use blob_search::{Information, Ismcts, IsmctsParams, Rollout};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::round::PyRound;

/// Visit counts [66] and root value [8] of a search, as numpy arrays.
type IsmctsArrays<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>);

/// Searches the decision of the player to move with single-observer ISMCTS
/// (one tree over that seat's information sets, a fresh determinization of
/// the other hands every iteration) and returns (root visit counts [66],
/// mean value of each seat [8], by absolute seat). `prior`, when given, is
/// a policy over the 66 actions for the mover's own view (from a network):
/// the root children then get the bonus `prior_weight * P(a) *
/// sqrt(available) / (1 + visits)`. The GIL is released during the search.
#[pyfunction]
#[pyo3(signature = (
    round, *, iterations = 1000, exploration = 0.7, rollout = "random", seed = None,
    perfect_information = false, prior = None, prior_weight = 1.0
))]
#[allow(clippy::too_many_arguments)] // the Python keyword arguments
pub fn ismcts<'py>(
    py: Python<'py>,
    round: &PyRound,
    iterations: i128,
    exploration: f64,
    rollout: &str,
    seed: Option<i128>,
    perfect_information: bool,
    prior: Option<PyReadonlyArray1<'py, f32>>,
    prior_weight: f64,
) -> BindingResult<IsmctsArrays<'py>> {
    let iterations = u32::try_from(iterations).map_err(|_| {
        BindingError::Argument(format!(
            "iterations must be a positive integer, got {iterations}"
        ))
    })?;
    let mut params = IsmctsParams::new(iterations)
        .with_exploration(exploration as f32)
        .with_rollout(Rollout::from_name(rollout)?)
        .with_prior_weight(prior_weight as f32);
    if perfect_information {
        params.information = Information::Perfect;
    }
    params.validate()?;
    let state = round.inner;
    let Some(observer) = state.current_player() else {
        return Err(BindingError::IllegalAction(
            "the round is over: nothing to search".into(),
        ));
    };
    let prior = match prior {
        None => None,
        Some(p) => {
            let p = p.as_slice().map_err(|_| {
                BindingError::Argument("prior must be a contiguous float32 array".into())
            })?;
            let p: [f32; NUM_ACTIONS] = p.try_into().map_err(|_| {
                BindingError::Argument(format!(
                    "prior must hold {NUM_ACTIONS} values (one per action), got {}",
                    p.len()
                ))
            })?;
            Some(p)
        }
    };
    let seed = convert::seed(seed)?;
    let outcome = py.detach(move || {
        Ismcts::new().search_with_prior(
            &state,
            observer,
            &params,
            prior.as_ref(),
            &mut Rng::new(seed),
        )
    })?;
    Ok((
        PyArray1::from_slice(py, &outcome.visits),
        PyArray1::from_slice(py, &outcome.root_value),
    ))
}
