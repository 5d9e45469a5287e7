//! `blobmaster._core.TeacherEngine`: teacher self-play (ISMCTS on every
//! seat, no network) seen from Python. The workers run on their own threads;
//! Python only collects finished rounds, so every call is short, and the
//! ones that wait (close) release the GIL.

use std::sync::Arc;

use blob_search::{Inference, IsmctsParams, Rollout, TeacherConfig, TeacherEngine};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;
use crate::engine::examples_dict;
use crate::errors::{BindingError, BindingResult};

/// Teacher self-play: worker threads play rounds with single-observer ISMCTS
/// on every seat and record every searched decision (policy: the mover's
/// root visit shares; values: the round's scores) like network self-play.
#[pyclass(module = "blobmaster._core", name = "TeacherEngine", frozen)]
pub struct PyTeacherEngine {
    engine: Arc<TeacherEngine>,
}

#[pymethods]
impl PyTeacherEngine {
    /// Starts the workers. Every argument is checked first; a bad one raises
    /// a ValueError subclass naming it and starts nothing.
    #[new]
    #[pyo3(signature = (
        *, rounds, threads = 2, tables = None, full_games = false, seed = 0, first_round = 0,
        iterations = 1000, exploration = 0.7, rollout = "random", temperature_moves = 4,
        temperature = 1.0, inference = "uniform", inference_candidates = 1024,
        inference_temperature = 0.5, margin = 0.0
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword API
    fn new(
        rounds: i128,
        threads: i128,
        tables: Option<Vec<(i128, i128, f64)>>,
        full_games: bool,
        seed: i128,
        first_round: i128,
        iterations: i128,
        exploration: f64,
        rollout: &str,
        temperature_moves: i128,
        temperature: f64,
        inference: &str,
        inference_candidates: i128,
        inference_temperature: f64,
        margin: f64,
    ) -> BindingResult<Self> {
        let iterations = u32::try_from(iterations).map_err(|_| {
            BindingError::Argument(format!(
                "iterations must be a positive integer, got {iterations}"
            ))
        })?;
        let temperature_moves = u32::try_from(temperature_moves).map_err(|_| {
            BindingError::Argument(format!(
                "temperature_moves must be an integer in 0..=4294967295, got {temperature_moves}"
            ))
        })?;
        let tables = convert::tables(tables)?;
        let config = TeacherConfig {
            threads: convert::positive(threads, "threads")?,
            tables,
            full_games,
            seed: convert::seed(Some(seed))?,
            first_unit: convert::non_negative(first_round, "first_round")? as u64,
            units: convert::non_negative(rounds, "rounds")? as u64,
            ismcts: IsmctsParams::new(iterations)
                .with_exploration(exploration as f32)
                .with_rollout(Rollout::from_name(rollout)?)
                .with_margin(margin as f32)
                .with_inference(Inference::from_name(
                    inference,
                    convert::positive(inference_candidates, "inference_candidates")? as u32,
                    inference_temperature as f32,
                )?),
            temperature_moves,
            temperature: temperature as f32,
        };
        Ok(PyTeacherEngine {
            engine: Arc::new(TeacherEngine::start(config)?),
        })
    }

    /// Examples of every round finished since the last call (whole rounds,
    /// in round order), as the columns of `SelfPlayEngine.take_examples`.
    /// Raises EngineClosedError once a worker failed.
    fn take_examples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let columns = self.engine.take_examples().map_err(BindingError::from)?;
        examples_dict(py, columns)
    }

    /// Counters of the finished units: units (rounds, or games with
    /// full_games), rounds, examples, decisions, forced_moves, iterations;
    /// and workers_running.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in self.engine.counts().named() {
            d.set_item(name, value)?;
        }
        d.set_item("workers_running", self.engine.workers_running())?;
        Ok(d)
    }

    /// True once every requested round is played (or the engine stopped)
    /// and the workers exited.
    #[getter]
    fn finished(&self) -> bool {
        self.engine.is_finished()
    }

    /// Worker threads.
    #[getter]
    fn threads(&self) -> usize {
        self.engine.config().threads
    }

    /// Stops the workers (each finishes at most its current search) and
    /// waits for them, with the GIL released. Idempotent.
    fn close(&self, py: Python<'_>) {
        let engine = Arc::clone(&self.engine);
        py.detach(move || engine.close());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }
}
