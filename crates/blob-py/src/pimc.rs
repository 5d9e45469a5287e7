//! The PIMC search from Python: what `blobmaster.pimc_agent.PimcAgent` is
//! built on.

use blob_core::{NUM_ACTIONS, Rng};
use blob_search::inference::Inference;
use blob_search::pimc::{Pimc, PimcBidding, PimcParams};
use blob_search::{Information, IsmctsParams, Rollout};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::convert;
use crate::errors::{BindingError, BindingResult};
use crate::round::PyRound;

/// The PIMC knobs from their Python names, checked.
#[allow(clippy::too_many_arguments)] // the Python keyword arguments
pub fn pimc_params(
    worlds: i128,
    bidding: &str,
    bid_iterations: i128,
    bid_exploration: f64,
    bid_rollout: &str,
    inference: Inference,
) -> BindingResult<PimcParams> {
    let worlds = u32::try_from(worlds).map_err(|_| {
        BindingError::Argument(format!("worlds must be a positive integer, got {worlds}"))
    })?;
    let bidding = match bidding {
        "solve" => PimcBidding::Solve,
        "ismcts" => {
            let iterations = u32::try_from(bid_iterations).map_err(|_| {
                BindingError::Argument(format!(
                    "bid_iterations must be a positive integer, got {bid_iterations}"
                ))
            })?;
            PimcBidding::Ismcts(
                IsmctsParams::new(iterations)
                    .with_exploration(bid_exploration as f32)
                    .with_rollout(Rollout::from_name(bid_rollout)?)
                    .with_inference(inference),
            )
        }
        other => {
            return Err(BindingError::Argument(format!(
                "bidding must be \"ismcts\" or \"solve\", got {other:?}"
            )));
        }
    };
    let params = PimcParams::new(worlds)
        .with_inference(inference)
        .with_bidding(bidding);
    params.validate()?;
    Ok(params)
}

/// One PIMC decision for the player to move: `worlds` deals of the hidden
/// cards consistent with what that seat knows (`inference = "bids"` weighs
/// them by the opponents' bids, as `_core.ismcts` does), each solved
/// exactly (max^n: every seat maximizes its own score, seeing every hand).
/// Returns (values [66], the action chosen): a card's value is the mover's
/// mean score share over the worlds (NaN off the legal actions). Bids are
/// solved the same way with `bidding = "solve"` (the later seats bid as the
/// rule-based bidder would); with `"ismcts"` an ISMCTS search of
/// `bid_iterations` (`bid_rollout` playouts) chooses, and the values are
/// its visit shares. `perfect_information=True` solves the true deal
/// instead (a cheat, and the solver for worlds sampled elsewhere). The GIL
/// is released during the search.
#[pyfunction]
#[pyo3(signature = (
    round, *, worlds = 100, seed = None, bidding = "ismcts", bid_iterations = 1000,
    bid_exploration = 0.7, bid_rollout = "heuristic", inference = "uniform",
    inference_candidates = 1024, inference_temperature = 0.5, perfect_information = false
))]
#[allow(clippy::too_many_arguments)] // the Python keyword arguments
pub fn pimc<'py>(
    py: Python<'py>,
    round: &PyRound,
    worlds: i128,
    seed: Option<i128>,
    bidding: &str,
    bid_iterations: i128,
    bid_exploration: f64,
    bid_rollout: &str,
    inference: &str,
    inference_candidates: i128,
    inference_temperature: f32,
    perfect_information: bool,
) -> PyResult<(Bound<'py, PyArray1<f32>>, usize)> {
    let candidates = u32::try_from(inference_candidates).map_err(|_| {
        BindingError::Argument(format!(
            "inference_candidates must be in 1..=4096, got {inference_candidates}"
        ))
    })?;
    let inference = Inference::from_name(inference, candidates, inference_temperature)
        .map_err(BindingError::from)?;
    let mut params = pimc_params(
        worlds,
        bidding,
        bid_iterations,
        bid_exploration,
        bid_rollout,
        inference,
    )?;
    if perfect_information {
        params.information = Information::Perfect;
    }
    let state = round.inner;
    let Some(observer) = state.current_player() else {
        return Err(
            BindingError::IllegalAction("the round is over: nothing to search".into()).into(),
        );
    };
    let seed = convert::seed(seed)?;
    let outcome = py
        .detach(move || Pimc::new().search(&state, observer, &params, &mut Rng::new(seed)))
        .map_err(BindingError::from)?;
    let mut values = [f32::NAN; NUM_ACTIONS];
    for (action, value) in &outcome.action_values {
        values[*action] = *value;
    }
    Ok((PyArray1::from_slice(py, &values), outcome.best_action))
}
