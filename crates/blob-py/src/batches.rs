//! What both engine bindings (`SelfPlayEngine`, `ArenaEngine`) do with
//! batches: check `next_batch`'s arguments, hand a batch over as numpy views
//! of the queue's buffers, keep its ticket until Python answers it, and
//! report the batch counters.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS};
use blob_search::queue::{LeafQueue, Ticket};
use blob_search::{SearchError, SearchResult, WorkerCounts};
use numpy::PyArray2;
use numpy::ndarray::ArrayView2;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::engine::matrix_f32;
use crate::errors::{BindingError, BindingResult};

/// What `next_batch` returns: (ticket, states, masks).
pub(crate) type PyBatch<'py> = (i64, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// `next_batch`'s `max_size` (default: the engine's `capacity`) and
/// `timeout_ms` (capped at an hour), checked.
pub(crate) fn batch_request(
    max_size: Option<i128>,
    capacity: usize,
    timeout_ms: i128,
) -> BindingResult<(usize, Duration)> {
    let max = match max_size {
        None => capacity,
        Some(m) => match usize::try_from(m) {
            Ok(v) if (1..=capacity).contains(&v) => v,
            _ => {
                return Err(BindingError::Argument(format!(
                    "max_size must be in 1..={capacity} (the engine's max_batch), got {m}"
                )));
            }
        },
    };
    let timeout = u64::try_from(timeout_ms).map_err(|_| {
        BindingError::Argument(format!("timeout_ms must not be negative, got {timeout_ms}"))
    })?;
    Ok((max, Duration::from_millis(timeout.min(3_600_000))))
}

/// The answer to a `next_batch` that got nothing: (-1, empty, empty).
pub(crate) fn no_batch(py: Python<'_>) -> PyBatch<'_> {
    let states = PyArray2::<f32>::zeros(py, [0, OBS_SIZE], false).into_any();
    let masks = PyArray2::<bool>::zeros(py, [0, NUM_ACTIONS], false).into_any();
    (-1, states, masks)
}

/// The tickets a binding has handed out and Python has not answered yet,
/// by key (the ticket id, with the network for the arena).
pub(crate) struct TicketBook<K> {
    tickets: Mutex<HashMap<K, Ticket>>,
}

impl<K: Copy + Eq + Hash> TicketBook<K> {
    pub(crate) fn new() -> Self {
        TicketBook {
            tickets: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Ticket>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `ticket` of `queue` over as numpy views, keeping the ticket
    /// under `key` until it is answered.
    ///
    /// # Safety
    /// `owner` must keep `queue` (its engine) alive for as long as it
    /// exists: the views borrow the queue's buffers through it.
    pub(crate) unsafe fn hand_out<'py>(
        &self,
        queue: &LeafQueue,
        key: impl FnOnce(u64) -> K,
        ticket: Ticket,
        owner: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<PyBatch<'py>> {
        let (obs_ptr, mask_ptr) = queue.batch_pointers(&ticket).map_err(BindingError::from)?;
        let (id, rows) = (ticket.id(), ticket.rows());
        self.lock().insert(key(id), ticket);
        let owner = owner()?;
        // SAFETY: the pointers address `rows` full rows of buffers that live
        // as long as the engine, which `owner` keeps alive (the caller's
        // promise); the buffers are never reallocated. Their contents are
        // this batch's until it is submitted: the documented contract of the
        // arrays (see `LeafQueue::batch_pointers`), which Python code must
        // keep.
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

    /// Answers the ticket under `key` (ticket number `id`) with Python's
    /// arrays through `submit`. A bad answer raises and loses nothing: the
    /// ticket stays open.
    pub(crate) fn answer(
        &self,
        key: K,
        id: u64,
        policy_logits: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        submit: impl FnOnce(&mut Ticket, &[f32], &[f32]) -> SearchResult<()>,
    ) -> BindingResult<()> {
        let unknown = || BindingError::from(SearchError::UnknownTicket(id));
        let rows = self.lock().get(&key).ok_or_else(unknown)?.rows();
        // Converted without holding the lock: reading a Python object can run
        // Python code, which may let another thread in.
        let policy = matrix_f32(policy_logits, "policy_logits", rows, NUM_ACTIONS)?;
        let values = matrix_f32(values, "values", rows, MAX_PLAYERS)?;
        let mut tickets = self.lock();
        let ticket = tickets.get_mut(&key).ok_or_else(unknown)?;
        submit(ticket, &policy, &values)?;
        tickets.remove(&key);
        Ok(())
    }
}

/// The counters both engines report: the workers' counts, then leaves
/// evaluated, batches and the mean batch size.
pub(crate) fn batch_stats<'py>(
    py: Python<'py>,
    counts: &WorkerCounts,
    leaves_evaluated: u64,
    batches: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in counts.named() {
        d.set_item(name, value)?;
    }
    d.set_item("leaves_evaluated", leaves_evaluated)?;
    d.set_item("batches", batches)?;
    d.set_item(
        "mean_batch",
        leaves_evaluated as f64 / batches.max(1) as f64,
    )?;
    Ok(d)
}
