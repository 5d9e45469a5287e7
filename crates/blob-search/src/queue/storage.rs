//! Row storage of one batch buffer, reached only through raw pointers.
//!
//! Several workers write different rows of one buffer at the same time, and
//! the evaluator reads rows that other threads wrote. Forming `&mut` to a
//! whole column to reach one row would give each writer an exclusive borrow
//! of memory the others are writing too (undefined behaviour even though the
//! bytes touched are disjoint), so each column is kept as a raw pointer and
//! only the rows being accessed are ever borrowed. Who may borrow which rows
//! when is the queue's protocol (see `queue.rs`); the methods here are
//! `unsafe` with that as their contract.

use std::ptr::NonNull;

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Round};

use super::sync::Access;
use super::{Answer, Handle, RowWriter};
use crate::evaluator::LeafBatch;

/// `rows x width` values of `T`, owned through a raw pointer.
struct Column<T> {
    ptr: NonNull<T>,
    len: usize,
    width: usize,
}

// SAFETY: a column is plain owned memory; which thread touches which rows
// is governed by the queue's protocol, as for a `Box<[T]>` behind a lock.
unsafe impl<T: Send> Send for Column<T> {}
unsafe impl<T: Send + Sync> Sync for Column<T> {}

impl<T: Clone> Column<T> {
    fn new(rows: usize, width: usize, fill: T) -> Column<T> {
        let boxed: Box<[T]> = vec![fill; rows * width].into_boxed_slice();
        let len = boxed.len();
        let ptr = NonNull::new(Box::into_raw(boxed).cast::<T>()).expect("Box is non-null");
        Column { ptr, len, width }
    }
}

impl<T> Column<T> {
    #[inline]
    fn start(&self, row: usize, rows: usize) -> *mut T {
        assert!((row + rows) * self.width <= self.len, "row out of range");
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.as_ptr().add(row * self.width) }
    }

    /// # Safety
    /// Nobody writes rows `row..row + rows` while the borrow lives.
    #[inline]
    unsafe fn rows(&self, row: usize, rows: usize) -> &[T] {
        // SAFETY: in bounds and initialized; no writer, by the contract.
        unsafe { std::slice::from_raw_parts(self.start(row, rows), rows * self.width) }
    }

    /// # Safety
    /// Nobody else reads or writes rows `row..row + rows` while the borrow
    /// lives.
    #[inline]
    #[allow(clippy::mut_from_ref)] // exclusivity comes from the protocol
    unsafe fn rows_mut(&self, row: usize, rows: usize) -> &mut [T] {
        // SAFETY: in bounds and initialized; exclusive, by the contract.
        unsafe { std::slice::from_raw_parts_mut(self.start(row, rows), rows * self.width) }
    }
}

impl<T> Drop for Column<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` came from `Box::into_raw` of a boxed slice.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            )));
        }
    }
}

/// The rows of one buffer: a leaf's inputs (written by the worker that
/// claimed the row) and its answer (written by the evaluator).
pub(super) struct Rows {
    obs: Column<f32>,
    masks: Column<bool>,
    handles: Column<Handle>,
    states: Column<Round>,
    observers: Column<u8>,
    policy: Column<f32>,
    values: Column<f32>,
    inputs_access: Box<[Access]>,
    answers_access: Box<[Access]>,
}

impl Rows {
    pub(super) fn new(capacity: usize, blank: Round) -> Rows {
        Rows {
            obs: Column::new(capacity, OBS_SIZE, 0.0),
            masks: Column::new(capacity, NUM_ACTIONS, false),
            handles: Column::new(capacity, 1, Handle::default()),
            states: Column::new(capacity, 1, blank),
            observers: Column::new(capacity, 1, 0),
            policy: Column::new(capacity, NUM_ACTIONS, 0.0),
            values: Column::new(capacity, MAX_PLAYERS, 0.0),
            inputs_access: (0..capacity).map(|_| Access::new()).collect(),
            answers_access: (0..capacity).map(|_| Access::new()).collect(),
        }
    }

    /// The inputs of row `row`, to fill.
    ///
    /// # Safety
    /// The caller claimed the row and nobody reads it until the caller
    /// publishes it (the buffer's `written` bump).
    #[inline]
    pub(super) unsafe fn writer(&self, row: usize) -> RowWriter<'_> {
        self.inputs_access[row].write();
        // SAFETY: exclusive access to this row's inputs, by the contract.
        unsafe {
            RowWriter {
                obs: self.obs.rows_mut(row, 1).try_into().expect("OBS_SIZE row"),
                mask: self
                    .masks
                    .rows_mut(row, 1)
                    .try_into()
                    .expect("NUM_ACTIONS row"),
                handle: &mut self.handles.rows_mut(row, 1)[0],
                state: &mut self.states.rows_mut(row, 1)[0],
                observer: &mut self.observers.rows_mut(row, 1)[0],
            }
        }
    }

    /// The inputs of rows `start..start + rows`.
    ///
    /// # Safety
    /// The rows were published and are not written again while the borrow
    /// lives (the buffer is handed out and not yet free).
    #[inline]
    pub(super) unsafe fn inputs(&self, start: usize, rows: usize) -> LeafBatch<'_> {
        for access in &self.inputs_access[start..start + rows] {
            access.read();
        }
        // SAFETY: published and not written, by the contract.
        unsafe {
            LeafBatch {
                states: self.states.rows(start, rows),
                observers: self.observers.rows(start, rows),
                obs: self.obs.rows(start, rows),
                masks: self.masks.rows(start, rows),
            }
        }
    }

    /// The handles of rows `start..start + rows`.
    ///
    /// # Safety
    /// As for [`Rows::inputs`].
    #[inline]
    pub(super) unsafe fn handles(&self, start: usize, rows: usize) -> &[Handle] {
        for access in &self.inputs_access[start..start + rows] {
            access.read();
        }
        // SAFETY: published and not written, by the contract.
        unsafe { self.handles.rows(start, rows) }
    }

    /// Raw pointers to the observation and mask rows from `start` on (no
    /// borrow is formed).
    #[inline]
    pub(super) fn input_pointers(&self, start: usize, rows: usize) -> (*const f32, *const bool) {
        (self.obs.start(start, rows), self.masks.start(start, rows))
    }

    /// The answer slots of rows `start..start + rows`: policy and values.
    ///
    /// # Safety
    /// The caller answers these rows and is the only one touching their
    /// answers while the borrows live (nobody reads them before the answer
    /// messages are sent).
    #[inline]
    #[allow(clippy::mut_from_ref)] // exclusivity comes from the protocol
    pub(super) unsafe fn answers_mut(&self, start: usize, rows: usize) -> (&mut [f32], &mut [f32]) {
        for access in &self.answers_access[start..start + rows] {
            access.write();
        }
        // SAFETY: exclusive, by the contract.
        unsafe {
            (
                self.policy.rows_mut(start, rows),
                self.values.rows_mut(start, rows),
            )
        }
    }

    /// The answer of row `row`, with its handle.
    ///
    /// # Safety
    /// The row was answered (its answer message received) and the buffer is
    /// not free again while the borrow lives.
    #[inline]
    pub(super) unsafe fn answer(&self, row: usize) -> Answer<'_> {
        self.answers_access[row].read();
        self.inputs_access[row].read();
        // SAFETY: answered and not reused, by the contract.
        unsafe {
            Answer {
                policy: self.policy.rows(row, 1),
                values: self.values.rows(row, 1),
                handle: self.handles.rows(row, 1)[0],
            }
        }
    }
}
