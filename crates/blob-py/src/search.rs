//! Searching one position from Python, and the rule-based player: what the
//! Python agents (`blobmaster.Agent`) are built on.

use blob_core::observation::OBS_SIZE;
use blob_core::rng::mix_seed;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng};
use blob_search::heuristic::{HeuristicEvaluator, heuristic_action as rust_heuristic_action};
use blob_search::inference::Inference;
use blob_search::{
    Evaluator, Information, LeafBatch, RolloutEvaluator, SearchParams, Searcher, UniformEvaluator,
};
use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert;
use crate::engine::matrix_f32;
use crate::errors::{BindingError, BindingResult};
use crate::round::PyRound;

/// Answers leaves by calling a Python function `f(states, masks) ->
/// (policy_logits, values)` on each batch. The first error it raises is kept
/// and re-raised once the search returns (the search itself cannot fail).
pub(crate) struct PythonEvaluator {
    function: Py<PyAny>,
    pub(crate) error: Option<PyErr>,
}

impl PythonEvaluator {
    fn call(&self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) -> PyResult<()> {
        Python::attach(|py| {
            let n = batch.len();
            let states = Array2::from_shape_vec((n, OBS_SIZE), batch.obs.to_vec())
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            let masks = Array2::from_shape_vec((n, NUM_ACTIONS), batch.masks.to_vec())
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            let result = self.function.bind(py).call1((
                PyArray2::from_owned_array(py, states),
                PyArray2::from_owned_array(py, masks),
            ))?;
            let (logits, vals): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                result.extract().map_err(|_| {
                    BindingError::Argument(
                        "the evaluator must return a (policy_logits, values) pair".into(),
                    )
                })?;
            policy[..n * NUM_ACTIONS].copy_from_slice(&matrix_f32(
                &logits,
                "policy_logits",
                n,
                NUM_ACTIONS,
            )?);
            let vals = matrix_f32(&vals, "values", n, MAX_PLAYERS)?;
            if let Some(bad) = policy[..n * NUM_ACTIONS]
                .iter()
                .chain(&vals)
                .find(|v| !v.is_finite())
            {
                return Err(BindingError::Argument(format!(
                    "the evaluator returned a non-finite number ({bad})"
                ))
                .into());
            }
            values[..n * MAX_PLAYERS].copy_from_slice(&vals);
            Ok(())
        })
    }
}

impl Evaluator for PythonEvaluator {
    fn evaluate(&mut self, batch: &LeafBatch<'_>, policy: &mut [f32], values: &mut [f32]) {
        if self.error.is_none()
            && let Err(e) = self.call(batch, policy, values)
        {
            self.error = Some(e);
        }
        if self.error.is_some() {
            // Finish the search cheaply; its result is discarded.
            UniformEvaluator.evaluate(batch, policy, values);
        }
    }
}

/// The evaluator named by a Python `evaluator` argument: a built-in one
/// ("uniform", "rollout" with `rollouts` playouts seeded from `seed`,
/// "heuristic"), or a Python function (returned apart, so that its first
/// error can be raised after the search; the box is then a stand-in).
pub(crate) fn leaf_evaluator(
    evaluator: &Bound<'_, PyAny>,
    seed: u64,
    rollouts: u32,
) -> BindingResult<(Option<PythonEvaluator>, Box<dyn Evaluator>)> {
    match evaluator.extract::<String>() {
        Ok(name) => match name.as_str() {
            "uniform" => Ok((None, Box::new(UniformEvaluator))),
            "rollout" => Ok((
                None,
                Box::new(RolloutEvaluator::with_rollouts(
                    mix_seed(&[seed, 1]),
                    rollouts,
                )),
            )),
            "heuristic" => Ok((None, Box::new(HeuristicEvaluator::new()))),
            other => Err(BindingError::Argument(format!(
                "unknown evaluator {other:?}: use \"uniform\", \"rollout\", \"heuristic\" or a function"
            ))),
        },
        Err(_) if evaluator.is_callable() => Ok((
            Some(PythonEvaluator {
                function: evaluator.clone().unbind(),
                error: None,
            }),
            Box::new(UniformEvaluator),
        )),
        Err(_) => Err(BindingError::Argument(
            "evaluator must be a name or a callable".into(),
        )),
    }
}

/// Visit counts [66], root value [8] and (when asked) root priors [66] of
/// a search, as a tuple of numpy arrays.
type SearchResultArrays<'py> = Bound<'py, PyTuple>;

/// The action the rule-based player picks for the player to move. Uses only
/// what that seat may know.
#[pyfunction]
pub fn heuristic_action(round: &PyRound) -> BindingResult<usize> {
    if round.inner.is_over() {
        return Err(BindingError::IllegalAction(
            "the round is over: no action to choose".into(),
        ));
    }
    Ok(rust_heuristic_action(&round.inner))
}

/// Searches the decision of the player to move with D determinizations x S
/// simulations and returns (visit counts [66], root value [8] by absolute
/// seat). `evaluator` is "uniform", "rollout", "heuristic", or a function
/// `f(states float32 [B, 256], masks bool [B, 66]) -> (policy_logits [B, 66],
/// values [B, 8])` (values in [0, 1], relative to the searching seat, whose
/// observation every row of `states` is). No root noise; the visit counts
/// are what a player picks from. `normalize_q` min-max normalises Q in PUCT.
/// `inference` ("uniform" or "bids", with `inference_candidates` and
/// `inference_temperature`) says how the hidden hands are sampled.
/// `with_prior` adds a third array: the root priors summed over the trees,
/// how a greedy player breaks ties in the visit counts.
#[pyfunction]
#[pyo3(signature = (
    round, *, evaluator, determinizations = 3, simulations = 30, c_puct = 1.5,
    fpu_reduction = 0.1, virtual_loss = 1.0, max_pending_per_tree = 4, rollouts = 1,
    seed = None, perfect_information = false, normalize_q = false, inference = "uniform",
    inference_candidates = 32, inference_temperature = 1.0, with_prior = false
))]
#[allow(clippy::too_many_arguments)] // mirrors the Python keyword API
pub fn search<'py>(
    py: Python<'py>,
    round: &PyRound,
    evaluator: &Bound<'py, PyAny>,
    determinizations: i128,
    simulations: i128,
    c_puct: f32,
    fpu_reduction: f32,
    virtual_loss: f32,
    max_pending_per_tree: i128,
    rollouts: i128,
    seed: Option<i128>,
    perfect_information: bool,
    normalize_q: bool,
    inference: &str,
    inference_candidates: i128,
    inference_temperature: f32,
    with_prior: bool,
) -> PyResult<SearchResultArrays<'py>> {
    let count = |v: i128, what: &str| {
        u32::try_from(v).map_err(|_| {
            BindingError::Argument(format!("{what} must be a non-negative integer, got {v}"))
        })
    };
    let mut params = SearchParams::preset(
        count(determinizations, "determinizations")?,
        count(simulations, "simulations")?,
    );
    params.c_puct = c_puct;
    params.fpu_reduction = fpu_reduction;
    params.virtual_loss = virtual_loss;
    params.max_pending_per_tree = count(max_pending_per_tree, "max_pending_per_tree")?;
    params.normalize_q = normalize_q;
    params.inference = Inference::from_name(
        inference,
        count(inference_candidates, "inference_candidates")?,
        inference_temperature,
    )
    .map_err(BindingError::from)?;
    let params = params.for_play();
    params.validate().map_err(BindingError::from)?;
    if round.inner.is_over() {
        return Err(
            BindingError::IllegalAction("the round is over: nothing to search".into()).into(),
        );
    }
    let seed = convert::seed(seed)?;
    let rollouts = count(rollouts, "rollouts")?;
    let (mut python, mut builtin) = leaf_evaluator(evaluator, seed, rollouts)?;
    let info = if perfect_information {
        Information::Perfect
    } else {
        Information::Imperfect
    };
    let state = round.inner;
    let (outcome, error) = py.detach(move || {
        let mut rng = Rng::new(seed);
        let evaluator: &mut dyn Evaluator = match python.as_mut() {
            Some(p) => p,
            None => builtin.as_mut(),
        };
        let outcome = Searcher::new().search(&state, &params, info, None, evaluator, &mut rng);
        (outcome, python.and_then(|p| p.error))
    });
    if let Some(e) = error {
        return Err(e);
    }
    let visits = PyArray1::from_slice(py, &outcome.visits).into_any();
    let value = PyArray1::from_slice(py, &outcome.root_value).into_any();
    if with_prior {
        let prior = PyArray1::from_slice(py, &outcome.root_prior).into_any();
        PyTuple::new(py, [visits, value, prior])
    } else {
        PyTuple::new(py, [visits, value])
    }
}
