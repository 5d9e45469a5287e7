//! `blobmaster.SelfPlayEngine`: the Rust self-play engine seen from Python.
//!
//! Waiting for a batch happens with the GIL released. Batches are handed
//! over as numpy views of the engine's own buffers (no per-leaf copy); a
//! small owner object keeps the engine, and so the buffers, alive for as long
//! as a view exists. The views' contents are valid until their ticket is
//! answered, after which the buffer is reused.
//!
//! Python names a batch by its ticket's id; the engine's [`Ticket`] itself
//! stays here, in `tickets`, until the batch is answered.

use blob_search::inference::Inference;
use std::sync::Arc;

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS};
use blob_search::params::{GumbelParams, PlayoutCap};
use blob_search::{Engine, EngineConfig, ExampleColumns, SearchParams};
use numpy::ndarray::{Array1, Array2};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::batches::{PyBatch, TicketBook, batch_request, batch_stats, no_batch};
use crate::convert;
use crate::errors::{BindingError, BindingResult};

/// Keeps the engine alive while numpy views of its batch buffers exist.
#[pyclass(module = "blobmaster._core", name = "_BatchOwner", frozen)]
struct BatchOwner {
    _engine: Arc<Engine>,
}

/// The self-play engine: Rust worker threads play rounds with determinized
/// MCTS and queue their leaves; Python answers them in batches.
#[pyclass(module = "blobmaster._core", name = "SelfPlayEngine", frozen)]
pub struct PyEngine {
    engine: Arc<Engine>,
    /// Handed-out batches not answered yet, by ticket id.
    tickets: TicketBook<u64>,
}

fn count_u32(value: i128, what: &str) -> BindingResult<u32> {
    u32::try_from(value).map_err(|_| {
        BindingError::Argument(format!(
            "{what} must be an integer in 0..=4294967295, got {value}"
        ))
    })
}

/// A float 32-bit array of shape [rows, cols] from any Python object, with
/// a message naming what is wrong otherwise.
pub(crate) fn matrix_f32(
    obj: &Bound<'_, PyAny>,
    what: &str,
    rows: usize,
    cols: usize,
) -> BindingResult<Vec<f32>> {
    let describe = || {
        let dtype = obj
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| obj.get_type().to_string());
        let shape = obj
            .getattr("shape")
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "?".into());
        format!(
            "{what} must be a float32 numpy array of shape ({rows}, {cols}), got dtype {dtype} and shape {shape}"
        )
    };
    let array = obj
        .cast::<PyArray2<f32>>()
        .map_err(|_| BindingError::Argument(describe()))?;
    if array.shape() != [rows, cols] {
        return Err(BindingError::Argument(describe()));
    }
    let view = array
        .try_readonly()
        .map_err(|e| BindingError::Argument(format!("{what} cannot be read: {e}")))?;
    Ok(match view.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => view.as_array().iter().copied().collect(),
    })
}

fn column<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    width: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if width == 1 {
        return Ok(PyArray1::from_owned_array(py, Array1::from_vec(data)).into_any());
    }
    let rows = data.len() / width;
    let array = Array2::from_shape_vec((rows, width), data).map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("bad example column: {e}"))
    })?;
    Ok(PyArray2::from_owned_array(py, array).into_any())
}

/// Example columns as the dict of numpy arrays `take_examples` returns
/// (also the teacher engine's).
pub(crate) fn examples_dict(
    py: Python<'_>,
    columns: ExampleColumns,
) -> PyResult<Bound<'_, PyDict>> {
    let ExampleColumns {
        state,
        mask,
        policy,
        value,
        seat,
        num_players,
        cards,
        round_id,
        move_number,
    } = columns;
    let out = PyDict::new(py);
    out.set_item("state", column(py, state, OBS_SIZE)?)?;
    out.set_item("mask", column(py, mask, NUM_ACTIONS)?)?;
    out.set_item("policy", column(py, policy, NUM_ACTIONS)?)?;
    out.set_item("value", column(py, value, MAX_PLAYERS)?)?;
    out.set_item("seat", column(py, seat, 1)?)?;
    out.set_item("num_players", column(py, num_players, 1)?)?;
    out.set_item("cards", column(py, cards, 1)?)?;
    out.set_item("round_id", column(py, round_id, 1)?)?;
    out.set_item("move", column(py, move_number, 1)?)?;
    Ok(out)
}

#[pymethods]
impl PyEngine {
    /// Starts the workers. Every argument is checked first; a bad one raises
    /// a ValueError subclass naming it and starts nothing.
    #[new]
    #[pyo3(signature = (
        *, threads = 2, games_per_thread = 64, determinizations = 3, simulations = 30,
        c_puct = 1.5, fpu_reduction = 0.1, virtual_loss = 1.0, max_pending_per_tree = 4,
        dirichlet_alpha = 0.5, dirichlet_fraction = 0.25, temperature_moves = 4, temperature = 1.0,
        tables = None, seed = 0, max_batch = 512, pipeline_depth = 3, rounds = None,
        cache_entries = 65536, full_games = false, normalize_q = false, gumbel = false,
        gumbel_m = 16, gumbel_c_visit = 50.0, gumbel_c_scale = 0.1,
        inference = "uniform", inference_candidates = 32, inference_temperature = 1.0,
        full_search_fraction = 1.0, fast_simulations = 0
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword API
    fn new(
        threads: i128,
        games_per_thread: i128,
        determinizations: i128,
        simulations: i128,
        c_puct: f32,
        fpu_reduction: f32,
        virtual_loss: f32,
        max_pending_per_tree: i128,
        dirichlet_alpha: f32,
        dirichlet_fraction: f32,
        temperature_moves: i128,
        temperature: f32,
        tables: Option<Vec<(i128, i128, f64)>>,
        seed: i128,
        max_batch: i128,
        pipeline_depth: i128,
        rounds: Option<i128>,
        cache_entries: i128,
        full_games: bool,
        normalize_q: bool,
        gumbel: bool,
        gumbel_m: i128,
        gumbel_c_visit: f32,
        gumbel_c_scale: f32,
        inference: &str,
        inference_candidates: i128,
        inference_temperature: f32,
        full_search_fraction: f32,
        fast_simulations: i128,
    ) -> BindingResult<Self> {
        // Self-play samples the Gumbel noise (scale 1): it is the
        // exploration that replaces Dirichlet noise and temperature.
        let gumbel = if gumbel {
            Some(GumbelParams {
                considered_actions: count_u32(gumbel_m, "gumbel_m")?,
                c_visit: gumbel_c_visit,
                c_scale: gumbel_c_scale,
                gumbel_scale: 1.0,
            })
        } else {
            None
        };
        let params = SearchParams {
            determinizations: count_u32(determinizations, "determinizations")?,
            simulations: count_u32(simulations, "simulations")?,
            c_puct,
            fpu_reduction,
            virtual_loss,
            max_pending_per_tree: count_u32(max_pending_per_tree, "max_pending_per_tree")?,
            dirichlet_alpha,
            dirichlet_fraction,
            temperature_moves: count_u32(temperature_moves, "temperature_moves")?,
            temperature,
            normalize_q,
            gumbel,
            inference: Inference::from_name(
                inference,
                count_u32(inference_candidates, "inference_candidates")?,
                inference_temperature,
            )?,
            playout_cap: playout_cap(full_search_fraction, fast_simulations)?,
        };
        let tables = convert::tables(tables)?;
        let config = EngineConfig {
            threads: convert::positive(threads, "threads")?,
            games_per_thread: convert::positive(games_per_thread, "games_per_thread")?,
            params,
            tables,
            seed: convert::seed(Some(seed))?,
            max_batch: convert::positive(max_batch, "max_batch")?,
            pipeline_depth: convert::positive(pipeline_depth, "pipeline_depth")?,
            rounds: rounds
                .map(|r| convert::non_negative(r, "rounds"))
                .transpose()?
                .map(|r| r as u64),
            cache_entries: convert::non_negative(cache_entries, "cache_entries")?,
            full_games,
        };
        Ok(PyEngine {
            engine: Arc::new(Engine::start(config)?),
            tickets: TicketBook::new(),
        })
    }

    /// Waits (GIL released) up to `timeout_ms` for a batch of at most
    /// `max_size` leaves (default: the engine's max_batch). Returns (ticket,
    /// states float32 [B, 256], masks bool [B, 66]); the arrays view the
    /// engine's buffers and are valid until the ticket is submitted. On a
    /// timeout with nothing waiting, or once finished: (-1, empty, empty).
    #[pyo3(signature = (max_size = None, timeout_ms = 10))]
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
        max_size: Option<i128>,
        timeout_ms: i128,
    ) -> PyResult<PyBatch<'py>> {
        let (max, timeout) = batch_request(max_size, self.engine.config().max_batch, timeout_ms)?;
        let engine = Arc::clone(&self.engine);
        let ticket = py
            .detach(move || engine.next_batch(max, timeout))
            .map_err(BindingError::from)?;
        let Some(ticket) = ticket else {
            return Ok(no_batch(py));
        };
        let owner = || {
            let owner = BatchOwner {
                _engine: Arc::clone(&self.engine),
            };
            Ok(Bound::new(py, owner)?.into_any())
        };
        // SAFETY: `owner` keeps the engine, and so its queue, alive.
        unsafe {
            self.tickets
                .hand_out(self.engine.queue(), |id| id, ticket, owner)
        }
    }

    /// Answers a batch: policy logits float32 [B, 66] (illegal entries are
    /// ignored) and values float32 [B, 8] (entry k: the seat k places after
    /// the player to move, in [0, 1]). A bad answer raises and loses
    /// nothing: the ticket stays open. Submitting ticket -1 with empty
    /// arrays does nothing.
    fn submit(
        &self,
        ticket: i128,
        policy_logits: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
    ) -> BindingResult<()> {
        if ticket == -1 {
            let empty = |o: &Bound<'_, PyAny>| o.len().map(|n| n == 0).unwrap_or(false);
            if empty(policy_logits) && empty(values) {
                return Ok(());
            }
        }
        let id = u64::try_from(ticket).map_err(|_| {
            BindingError::Argument(format!(
                "ticket {ticket} is not a batch ticket (-1 marks an empty batch: submit it with empty arrays or not at all)"
            ))
        })?;
        self.tickets
            .answer(id, id, policy_logits, values, |ticket, policy, values| {
                self.engine.submit(ticket, policy, values)
            })
    }

    /// Every example finished since the last call, as numpy columns.
    fn take_examples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        examples_dict(py, self.engine.take_examples())
    }

    /// Counters: rounds, examples, decisions, simulations, leaves
    /// evaluated, batches, mean batch size, cache hits, queue depth, ...
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.engine.stats();
        let d = batch_stats(py, &s.counts, s.leaves_evaluated, s.batches)?;
        let (hits, misses) = (s.counts.cache_hits, s.counts.cache_misses);
        d.set_item(
            "cache_hit_rate",
            hits as f64 / (hits + misses).max(1) as f64,
        )?;
        d.set_item("queue_depth", s.queue_depth)?;
        d.set_item("tickets_outstanding", s.tickets_outstanding)?;
        d.set_item("workers_running", s.workers_running)?;
        Ok(d)
    }

    /// True once every requested round is played and the workers exited.
    #[getter]
    fn finished(&self) -> bool {
        self.engine.is_finished()
    }

    /// Largest batch `next_batch` can return.
    #[getter]
    fn max_batch(&self) -> usize {
        self.engine.config().max_batch
    }

    /// Worker threads.
    #[getter]
    fn threads(&self) -> usize {
        self.engine.config().threads
    }

    /// Stops the workers (promptly; idempotent).
    fn close(&self, py: Python<'_>) {
        let engine = Arc::clone(&self.engine);
        py.detach(move || {
            if !engine.is_closed() {
                engine.close();
            }
        });
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

/// The playout cap of `full_search_fraction` (1 = every decision in full:
/// none) and `fast_simulations`; the ranges are checked with the rest of
/// the search params.
fn playout_cap(
    full_search_fraction: f32,
    fast_simulations: i128,
) -> BindingResult<Option<PlayoutCap>> {
    if !(full_search_fraction > 0.0 && full_search_fraction <= 1.0) {
        return Err(BindingError::Argument(format!(
            "full_search_fraction must be in (0, 1], got {full_search_fraction}"
        )));
    }
    if full_search_fraction == 1.0 {
        return Ok(None);
    }
    Ok(Some(PlayoutCap {
        full_fraction: full_search_fraction,
        fast_simulations: count_u32(fast_simulations, "fast_simulations")?,
    }))
}
