//! `blobmaster._core.ArenaEngine`: the Rust arena engine seen from Python.
//! Batches are handed over as numpy views, as by `SelfPlayEngine` (see
//! `engine.rs`); each network has its own queue, named by its index.

use blob_search::inference::Inference;
use std::sync::Arc;

use blob_search::driver::arena::{ArenaConfig, ArenaEngine, Recording, SeatAgent};
use blob_search::ismcts::{DEFAULT_EXPLORATION, DEFAULT_PRIOR_WEIGHT};
use blob_search::pimc::PimcParams;
use blob_search::{IsmctsParams, PlayoutPolicy, Rollout, SearchParams};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::batches::{PyBatch, TicketBook, batch_request, batch_stats, no_batch};
use crate::convert;
use crate::engine::examples_dict;
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
    tickets: TicketBook<(usize, u64)>,
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
    params.normalize_q = field(spec, k, "normalize_q", Some(false))?;
    params.inference = inference(spec, k)?;
    Ok(params.for_play())
}

/// The spec's `inference` keys (uniform when absent).
fn inference(spec: &Bound<'_, PyDict>, k: usize) -> BindingResult<Inference> {
    let name: String = field(spec, k, "inference", Some("uniform".into()))?;
    let candidates = count(
        field(spec, k, "inference_candidates", Some(32))?,
        k,
        "inference_candidates",
    )?;
    let temperature: f64 = field(spec, k, "inference_temperature", Some(1.0))?;
    Ok(Inference::from_name(&name, candidates, temperature as f32)?)
}

/// The spec's ISMCTS keys (`iterations`, `exploration`, `rollout`,
/// `prior_weight`, `playout_weight`, `playout_policy`, `margin`, the
/// inference keys).
fn ismcts_params(spec: &Bound<'_, PyDict>, k: usize) -> BindingResult<IsmctsParams> {
    let rollout: String = field(spec, k, "rollout", Some("random".into()))?;
    let exploration: f64 = field(spec, k, "exploration", Some(DEFAULT_EXPLORATION as f64))?;
    let prior_weight: f64 = field(spec, k, "prior_weight", Some(DEFAULT_PRIOR_WEIGHT as f64))?;
    let playout_weight: f64 = field(spec, k, "playout_weight", Some(0.0))?;
    let playout_policy: String = field(spec, k, "playout_policy", Some("heuristic".into()))?;
    let margin: f64 = field(spec, k, "margin", Some(0.0))?;
    Ok(IsmctsParams::new(count(
        field(spec, k, "iterations", Some(1000))?,
        k,
        "iterations",
    )?)
    .with_exploration(exploration as f32)
    .with_rollout(Rollout::from_name(&rollout)?)
    .with_prior_weight(prior_weight as f32)
    .with_margin(margin as f32)
    .with_playout_weight(playout_weight as f32)
    .with_playout_policy(PlayoutPolicy::from_name(&playout_policy)?)
    .with_inference(inference(spec, k)?))
}

/// The spec's PIMC keys (`worlds`, `bidding`, `bid_iterations`,
/// `bid_exploration`, `bid_rollout`, the inference keys).
fn pimc_params(spec: &Bound<'_, PyDict>, k: usize) -> BindingResult<PimcParams> {
    let bidding: String = field(spec, k, "bidding", Some("ismcts".into()))?;
    let bid_rollout: String = field(spec, k, "bid_rollout", Some("heuristic".into()))?;
    crate::pimc::pimc_params(
        field(spec, k, "worlds", Some(100))?,
        &bidding,
        field(spec, k, "bid_iterations", Some(1000))?,
        field(spec, k, "bid_exploration", Some(DEFAULT_EXPLORATION as f64))?,
        &bid_rollout,
        inference(spec, k)?,
    )
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
        "ismcts" => SeatAgent::Ismcts {
            params: ismcts_params(spec, k)?,
            seed: seed()?,
        },
        "pimc" => SeatAgent::Pimc {
            params: pimc_params(spec, k)?,
            seed: seed()?,
        },
        "guided_ismcts" => SeatAgent::GuidedIsmcts {
            net: convert::non_negative(field(spec, k, "net", None)?, "net")?,
            params: ismcts_params(spec, k)?,
            seed: seed()?,
        },
        other => {
            return Err(BindingError::Argument(format!(
                "agent {k}: unknown kind {other:?} \
                 (network, heuristic, random, rollout, ismcts, pimc, guided_ismcts)"
            )));
        }
    })
}

#[pymethods]
impl PyArenaEngine {
    /// Starts the workers on the schedule: every deal in every seating.
    /// Every argument is checked first; a bad one raises a ValueError
    /// subclass naming it and starts nothing.
    #[new]
    #[pyo3(signature = (
        deals, seatings, agents, *, networks = 0, threads = 2, games_per_thread = 64,
        max_batch = 512, pipeline_depth = 3, cache_entries = 65536, record = false,
        record_seed = 0, first_round_id = 0, temperature_moves = 0, temperature = 1.0
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
        record: bool,
        record_seed: i128,
        first_round_id: i128,
        temperature_moves: i128,
        temperature: f64,
    ) -> BindingResult<Self> {
        let record = if record {
            Some(Recording {
                seed: convert::seed(Some(record_seed))?,
                first_round_id: convert::non_negative(first_round_id, "first_round_id")? as u64,
                temperature_moves: u32::try_from(temperature_moves).map_err(|_| {
                    BindingError::Argument(format!(
                        "temperature_moves must be an integer in 0..=4294967295, got {temperature_moves}"
                    ))
                })?,
                temperature: temperature as f32,
            })
        } else {
            None
        };
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
            threads: convert::positive(threads, "threads")?,
            games_per_thread: convert::positive(games_per_thread, "games_per_thread")?,
            max_batch: convert::positive(max_batch, "max_batch")?,
            pipeline_depth: convert::positive(pipeline_depth, "pipeline_depth")?,
            cache_entries: convert::non_negative(cache_entries, "cache_entries")?,
            networks: convert::non_negative(networks, "networks")?,
            deals: deals.iter().map(|r| r.inner).collect(),
            seatings,
            agents,
            record,
        };
        Ok(PyArenaEngine {
            engine: Arc::new(ArenaEngine::start(config)?),
            tickets: TicketBook::new(),
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
    ) -> PyResult<PyBatch<'py>> {
        let net = convert::non_negative(net, "net")?;
        let (max, timeout) = batch_request(max_size, self.engine.config().max_batch, timeout_ms)?;
        let engine = Arc::clone(&self.engine);
        let ticket = py
            .detach(move || engine.next_batch(net, max, timeout))
            .map_err(BindingError::from)?;
        let Some(ticket) = ticket else {
            return Ok(no_batch(py));
        };
        let queue = self.engine.queue(net).map_err(BindingError::from)?;
        let owner = || {
            let owner = ArenaBatchOwner {
                _engine: Arc::clone(&self.engine),
            };
            Ok(Bound::new(py, owner)?.into_any())
        };
        // SAFETY: `owner` keeps the engine, and so its queues, alive.
        unsafe { self.tickets.hand_out(queue, |id| (net, id), ticket, owner) }
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
        self.tickets.answer(
            (net, id),
            id,
            policy_logits,
            values,
            |ticket, policy, values| self.engine.submit(net, ticket, policy, values),
        )
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

    /// The examples of the rounds finished since the last call (of this or
    /// `take_results`), in schedule order: a round that finished before an
    /// earlier one waits for it, so the rounds handed out are always a
    /// prefix. The columns of `SelfPlayEngine.take_examples`. Only for an
    /// engine that records.
    fn take_examples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let columns = self.engine.take_examples().map_err(BindingError::from)?;
        examples_dict(py, columns)
    }

    /// Counters: rounds, decisions, simulations, leaves_evaluated, batches, ...
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.engine.stats();
        let d = batch_stats(py, &s.counts, s.leaves_evaluated, s.batches)?;
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
