//! `blobmaster._core.ArenaEngine`: the Rust arena engine seen from Python.
//! Batches are handed over as numpy views, as by `SelfPlayEngine` (see
//! `engine.rs`); each network has its own queue, named by its index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS};
use blob_search::driver::arena::{ArenaConfig, ArenaEngine, SeatAgent};
use blob_search::queue::Ticket;
use blob_search::{IsmctsParams, Rollout, SearchError, SearchParams};
use numpy::PyArray2;
use numpy::ndarray::ArrayView2;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;
use crate::engine::matrix_f32;
use crate::errors::{BindingError, BindingResult};
use crate::round::PyRound;

/// Keeps the arena engine alive while numpy views of its buffers exist.
#[pyclass(module = "blobmaster._core", name = "_ArenaBatchOwner", frozen)]
struct ArenaBatchOwner {
    _engine: Arc<ArenaEngine>,
}

/// Duplicate-arena rounds played by Rust workers; network agents' leaves
/// are answered from Python in batches, one queue per network.
#[pyclass(module = "blobmaster._core", name = "ArenaEngine", frozen)]
pub struct PyArenaEngine {
    engine: Arc<ArenaEngine>,
    tickets: Mutex<HashMap<(usize, u64), Ticket>>,
}

fn field<'py, T: FromPyObjectOwned<'py>>(
    spec: &Bound<'py, PyDict>,
    k: usize,
    key: &str,
    default: Option<T>,
) -> BindingResult<T> {
    match spec.get_item(key).ok().flatten() {
        Some(value) => value.extract::<T>().map_err(|_| {
            BindingError::Argument(format!("agent {k}: {key} has the wrong type ({value})"))
        }),
        None => default.ok_or_else(|| BindingError::Argument(format!("agent {k}: {key} missing"))),
    }
}

fn count(value: i128, k: usize, what: &str) -> BindingResult<u32> {
    u32::try_from(value).map_err(|_| {
        BindingError::Argument(format!(
            "agent {k}: {what} must be a non-negative integer, got {value}"
        ))
    })
}

/// The search of a network or rollout agent, built as `blobmaster._core.search`
/// builds it (so the engine searches exactly as the Python agents do).
fn play_params(spec: &Bound<'_, PyDict>, k: usize) -> BindingResult<SearchParams> {
    let mut params = SearchParams::preset(
        count(
            field(spec, k, "determinizations", Some(3))?,
            k,
            "determinizations",
        )?,
        count(field(spec, k, "simulations", Some(30))?, k, "simulations")?,
    );
    params.c_puct = field(spec, k, "c_puct", Some(params.c_puct))?;
    params.fpu_reduction = field(spec, k, "fpu_reduction", Some(params.fpu_reduction))?;
    params.virtual_loss = field(spec, k, "virtual_loss", Some(params.virtual_loss))?;
    params.max_pending_per_tree = count(
        field(
            spec,
            k,
            "max_pending_per_tree",
            Some(params.max_pending_per_tree as i128),
        )?,
        k,
        "max_pending_per_tree",
    )?;
    Ok(params.for_play())
}

fn seat_agent(spec: &Bound<'_, PyDict>, k: usize) -> BindingResult<SeatAgent> {
    let kind: String = field(spec, k, "kind", None)?;
    let seed = || -> BindingResult<u64> { convert::seed(Some(field(spec, k, "seed", None)?)) };
    Ok(match kind.as_str() {
        "heuristic" => SeatAgent::Heuristic,
        "random" => SeatAgent::Random { seed: seed()? },
        "network" => SeatAgent::Network {
            net: convert::non_negative(field(spec, k, "net", None)?, "net")?,
            params: play_params(spec, k)?,
            seed: seed()?,
        },
        "rollout" => SeatAgent::Rollout {
            params: play_params(spec, k)?,
            rollouts: count(field(spec, k, "rollouts", Some(1))?, k, "rollouts")?,
            seed: seed()?,
        },
        "ismcts" => {
            let rollout: String = field(spec, k, "rollout", Some("random".into()))?;
            let exploration: f64 = field(spec, k, "exploration", Some(0.7))?;
            SeatAgent::Ismcts {
                params: IsmctsParams::new(count(
                    field(spec, k, "iterations", Some(1000))?,
                    k,
                    "iterations",
                )?)
                .with_exploration(exploration as f32)
                .with_rollout(Rollout::from_name(&rollout)?),
                seed: seed()?,
            }
        }
        other => {
            return Err(BindingError::Argument(format!(
                "agent {k}: unknown kind {other:?} (network, heuristic, random, rollout, ismcts)"
            )));
        }
    })
}

fn positive(value: i128, what: &str) -> BindingResult<usize> {
    match usize::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(BindingError::Argument(format!(
            "{what} must be a positive integer, got {value}"
        ))),
    }
}

impl PyArenaEngine {
    fn tickets(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, u64), Ticket>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyArenaEngine {
    /// Starts the workers on the schedule: every deal in every seating.
    /// Every argument is checked first; a bad one raises a ValueError
    /// subclass naming it and starts nothing.
    #[new]
    #[pyo3(signature = (
        deals, seatings, agents, *, networks = 0, threads = 2, games_per_thread = 64,
        max_batch = 512, pipeline_depth = 3, cache_entries = 65536
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword API
    fn new(
        deals: Vec<PyRef<'_, PyRound>>,
        seatings: Vec<Vec<i128>>,
        agents: Vec<Bound<'_, PyDict>>,
        networks: i128,
        threads: i128,
        games_per_thread: i128,
        max_batch: i128,
        pipeline_depth: i128,
        cache_entries: i128,
    ) -> BindingResult<Self> {
        let seatings = seatings
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .map(|k| convert::non_negative(k, "seating entry"))
                    .collect::<BindingResult<Vec<_>>>()
            })
            .collect::<BindingResult<Vec<_>>>()?;
        let agents = agents
            .iter()
            .enumerate()
            .map(|(k, spec)| seat_agent(spec, k))
            .collect::<BindingResult<Vec<_>>>()?;
        let config = ArenaConfig {
            threads: positive(threads, "threads")?,
            games_per_thread: positive(games_per_thread, "games_per_thread")?,
            max_batch: positive(max_batch, "max_batch")?,
            pipeline_depth: positive(pipeline_depth, "pipeline_depth")?,
            cache_entries: convert::non_negative(cache_entries, "cache_entries")?,
            networks: convert::non_negative(networks, "networks")?,
            deals: deals.iter().map(|r| r.inner).collect(),
            seatings,
            agents,
        };
        Ok(PyArenaEngine {
            engine: Arc::new(ArenaEngine::start(config)?),
            tickets: Mutex::new(HashMap::new()),
        })
    }

    /// Waits (GIL released) up to `timeout_ms` for a batch of network `net`:
    /// (ticket, states float32 [B, 256], masks bool [B, 66]), views valid
    /// until the ticket is submitted; (-1, empty, empty) when nothing came.
    #[pyo3(signature = (net, max_size = None, timeout_ms = 10))]
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
        net: i128,
        max_size: Option<i128>,
        timeout_ms: i128,
    ) -> PyResult<(i64, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let net = convert::non_negative(net, "net")?;
        let capacity = self.engine.config().max_batch;
        let max = match max_size {
            None => capacity,
            Some(m) => match usize::try_from(m) {
                Ok(v) if (1..=capacity).contains(&v) => v,
                _ => {
                    return Err(BindingError::Argument(format!(
                        "max_size must be in 1..={capacity} (the engine's max_batch), got {m}"
                    ))
                    .into());
                }
            },
        };
        let timeout = u64::try_from(timeout_ms).map_err(|_| {
            BindingError::Argument(format!("timeout_ms must not be negative, got {timeout_ms}"))
        })?;
        let timeout = Duration::from_millis(timeout.min(3_600_000));
        let engine = Arc::clone(&self.engine);
        let ticket = py
            .detach(move || engine.next_batch(net, max, timeout))
            .map_err(BindingError::from)?;
        let Some(ticket) = ticket else {
            let states = PyArray2::<f32>::zeros(py, [0, OBS_SIZE], false).into_any();
            let masks = PyArray2::<bool>::zeros(py, [0, NUM_ACTIONS], false).into_any();
            return Ok((-1, states, masks));
        };
        let (obs_ptr, mask_ptr) = self
            .engine
            .queue(net)
            .and_then(|q| q.batch_pointers(&ticket))
            .map_err(BindingError::from)?;
        let (id, rows) = (ticket.id(), ticket.rows());
        self.tickets().insert((net, id), ticket);
        let owner = Bound::new(
            py,
            ArenaBatchOwner {
                _engine: Arc::clone(&self.engine),
            },
        )?
        .into_any();
        // SAFETY: as in `SelfPlayEngine.next_batch`: the buffers live as long
        // as the engine, which `owner` keeps alive, and are never
        // reallocated; their contents are this batch's until it is submitted.
        let (states, masks) = unsafe {
            let obs = ArrayView2::from_shape_ptr((rows, OBS_SIZE), obs_ptr);
            let mask = ArrayView2::from_shape_ptr((rows, NUM_ACTIONS), mask_ptr);
            (
                PyArray2::borrow_from_array(&obs, owner.clone()).into_any(),
                PyArray2::borrow_from_array(&mask, owner).into_any(),
            )
        };
        Ok((id as i64, states, masks))
    }

    /// Answers a batch of network `net` (as `SelfPlayEngine.submit`).
    fn submit(
        &self,
        net: i128,
        ticket: i128,
        policy_logits: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
    ) -> BindingResult<()> {
        let net = convert::non_negative(net, "net")?;
        let id = u64::try_from(ticket).map_err(|_| {
            BindingError::Argument(format!("ticket {ticket} is not a batch ticket"))
        })?;
        let unknown = || BindingError::from(SearchError::UnknownTicket(id));
        let rows = self.tickets().get(&(net, id)).ok_or_else(unknown)?.rows();
        let policy = matrix_f32(policy_logits, "policy_logits", rows, NUM_ACTIONS)?;
        let values = matrix_f32(values, "values", rows, MAX_PLAYERS)?;
        let mut tickets = self.tickets();
        let ticket = tickets.get_mut(&(net, id)).ok_or_else(unknown)?;
        self.engine.submit(net, ticket, &policy, &values)?;
        tickets.remove(&(net, id));
        Ok(())
    }

    /// Rounds finished since the last call: (schedule index, final round),
    /// in no set order. Raises if a worker failed.
    fn take_results(&self) -> BindingResult<Vec<(u64, PyRound)>> {
        Ok(self
            .engine
            .take_results()?
            .into_iter()
            .map(|r| (r.index, PyRound::from(r.end)))
            .collect())
    }

    /// Counters: rounds, decisions, simulations, leaves_evaluated, batches, ...
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.engine.stats();
        let d = PyDict::new(py);
        for (name, value) in s.counts.named() {
            d.set_item(name, value)?;
        }
        d.set_item("leaves_evaluated", s.leaves_evaluated)?;
        d.set_item("batches", s.batches)?;
        d.set_item(
            "mean_batch",
            s.leaves_evaluated as f64 / s.batches.max(1) as f64,
        )?;
        d.set_item("workers_running", s.workers_running)?;
        Ok(d)
    }

    /// Rounds in the schedule (deals x seatings).
    #[getter]
    fn rounds(&self) -> u64 {
        self.engine.config().rounds()
    }

    /// Networks (queues).
    #[getter]
    fn networks(&self) -> usize {
        self.engine.config().networks
    }

    #[getter]
    fn max_batch(&self) -> usize {
        self.engine.config().max_batch
    }

    /// True once every round is played and the workers exited.
    #[getter]
    fn finished(&self) -> bool {
        self.engine.is_finished()
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
