//! The reference ISMCTS search from Python: what `blobmaster.Agent.ismcts`
//! is built on.

use blob_core::{NUM_ACTIONS, Rng};
use blob_search::leaf_ismcts::search_with_evaluator;
use blob_search::{
    Evaluator, Inference, Information, Ismcts, IsmctsParams, PlayoutPolicy, Rollout,
};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::BindingError;
use crate::round::PyRound;
use crate::search::leaf_evaluator;

/// Visit counts [66] and root value [8] of a search, as numpy arrays.
type IsmctsArrays<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>);

/// Searches the decision of the player to move with single-observer ISMCTS
/// (one tree over that seat's information sets, a fresh determinization of
/// the other hands every iteration) and returns (root visit counts [66],
/// mean value of each seat [8], by absolute seat). `prior`, when given, is
/// a policy over the 66 actions for the mover's own view (from a network):
/// the root children then get the bonus `prior_weight * P(a) *
/// sqrt(available) / (1 + visits)`. The GIL is released during the search.
///
/// `inference = "bids"` weighs the sampled worlds by the opponents' bids
/// under the soft rule-based bidder (`inference_temperature`), drawing them
/// `inference_candidates` at a time. `margin` m in [0, 1]: every seat of
/// the tree maximizes `(1 - m) * own + m * (1 + own - mean of the others) /
/// 2` of the playout's score shares instead of its own share alone.
///
/// `rollout = "network"` values every iteration's new node with `evaluator`
/// instead of a playout (as `_core.search` takes it: "uniform",
/// "heuristic" or a function of (states, masks), every row the searching
/// seat's own view); the root's own evaluation is then the prior (unless
/// `prior_weight` is 0), and `prior` must not be given; `playout_weight`
/// λ blends a heuristic playout in the iteration's world into each value
/// (`λ * playout + (1 - λ) * network`), the playout played by
/// `playout_policy`: "heuristic" or "network" (the evaluator's most likely
/// move, each asked from the mover's view in that world).
#[pyfunction]
#[pyo3(signature = (
    round, *, iterations = 1000, exploration = 0.7, rollout = "random", seed = None,
    perfect_information = false, prior = None, prior_weight = 1.0, playout_weight = 0.0,
    playout_policy = "heuristic", evaluator = None,
    inference = "uniform", inference_candidates = 1024, inference_temperature = 0.5,
    margin = 0.0
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
    playout_weight: f64,
    playout_policy: &str,
    evaluator: Option<Bound<'py, PyAny>>,
    inference: &str,
    inference_candidates: i128,
    inference_temperature: f32,
    margin: f64,
) -> PyResult<IsmctsArrays<'py>> {
    let iterations = u32::try_from(iterations).map_err(|_| {
        BindingError::Argument(format!(
            "iterations must be a positive integer, got {iterations}"
        ))
    })?;
    let mut params = IsmctsParams::new(iterations)
        .with_exploration(exploration as f32)
        .with_rollout(Rollout::from_name(rollout).map_err(BindingError::from)?)
        .with_prior_weight(prior_weight as f32)
        .with_margin(margin as f32)
        .with_playout_weight(playout_weight as f32)
        .with_playout_policy(PlayoutPolicy::from_name(playout_policy).map_err(BindingError::from)?)
        .with_inference(
            Inference::from_name(
                inference,
                u32::try_from(inference_candidates).map_err(|_| {
                    BindingError::Argument(format!(
                        "inference_candidates must be in 1..=4096, got {inference_candidates}"
                    ))
                })?,
                inference_temperature,
            )
            .map_err(BindingError::from)?,
        );
    if perfect_information {
        params.information = Information::Perfect;
    }
    params.validate().map_err(BindingError::from)?;
    let state = round.inner;
    let Some(observer) = state.current_player() else {
        return Err(
            BindingError::IllegalAction("the round is over: nothing to search".into()).into(),
        );
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
    if params.rollout == Rollout::Network {
        let Some(evaluator) = evaluator else {
            return Err(BindingError::Argument(
                "rollout \"network\" needs an evaluator (a function or a built-in name)".into(),
            )
            .into());
        };
        if prior.is_some() {
            return Err(BindingError::Argument(
                "rollout \"network\" takes its root prior from the evaluator: give no prior".into(),
            )
            .into());
        }
        let (mut python, mut builtin) = leaf_evaluator(&evaluator, seed, 1)?;
        let (outcome, error) = py.detach(move || {
            let evaluator: &mut dyn Evaluator = match python.as_mut() {
                Some(p) => p,
                None => builtin.as_mut(),
            };
            let result =
                search_with_evaluator(&state, observer, &params, Rng::new(seed), evaluator);
            (result, python.and_then(|p| p.error))
        });
        if let Some(e) = error {
            return Err(e);
        }
        let (outcome, _) = outcome.map_err(BindingError::from)?;
        return Ok((
            PyArray1::from_slice(py, &outcome.visits),
            PyArray1::from_slice(py, &outcome.root_value),
        ));
    }
    if evaluator.is_some() {
        return Err(BindingError::Argument(format!(
            "an evaluator is only used with rollout \"network\", not {rollout:?}"
        ))
        .into());
    }
    let outcome = py
        .detach(move || {
            Ismcts::new().search_with_prior(
                &state,
                observer,
                &params,
                prior.as_ref(),
                &mut Rng::new(seed),
            )
        })
        .map_err(BindingError::from)?;
    Ok((
        PyArray1::from_slice(py, &outcome.visits),
        PyArray1::from_slice(py, &outcome.root_value),
    ))
}
