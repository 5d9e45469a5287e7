//! The leaf queue: a ring of preallocated batch buffers that search workers
//! write leaves straight into, and that the evaluator (the Python inference
//! loop, or a Rust evaluator thread) reads in place as batches.
//!
//! # Life of a buffer
//! Buffers are numbered by a generation `g` (buffer `g % depth`):
//!
//! 1. **Filling.** `head == g`. A worker claims row `i` with one CAS on the
//!    buffer's claim word, writes the row (observation, mask, handle, state),
//!    then bumps `written`. No lock on this path.
//! 2. **Sealed.** The claim word's limit equals its count, so no more claims
//!    succeed: either the buffer filled up, or the consumer sealed it with
//!    what it had (timeout, stalled workers, or already `max_rows` rows).
//!    `head` moves on to `g + 1` as soon as that buffer is free (the only
//!    place a mutex is taken, once per batch).
//! 3. **Handed out.** Once `written == count`, `next_batch` hands the rows
//!    out as one or more *parts* of at most `max_rows` rows each: a buffer
//!    sealed at an older, larger limit is split, never handed out whole. A
//!    part's [`Ticket`] borrows nothing; its rows are read in place.
//! 4. **Answered.** `submit` / `answer_with` validate and store a part's
//!    answers, then send each worker the list of its rows through its
//!    [`AnswerSink`].
//! 5. **Free** once every hold on it is gone (see `holds`).
//!
//! Files: this one holds the types and the producer side (claiming and
//! writing rows, freeing buffers); `consume.rs` seals and hands out batches;
//! `answer.rs` answers them and reads answers; `storage.rs` owns the row
//! memory; `sync.rs` picks std's or loom's primitives.
//!
//! # The claim word
//! `claim: AtomicU64` packs `[generation: 32 | limit: 16 | count: 16]`. Putting
//! the generation in the word makes a worker that read a stale `head` fail its
//! CAS instead of writing into a recycled buffer; putting the limit in it lets
//! the consumer seal a buffer (limit := count) atomically with respect to
//! claims.
//!
//! # Holds
//! A buffer is free when `holds` drops to zero. Activation sets it to 1, the
//! consumer's hold, dropped once every row is handed out; each handed-out
//! part adds one, dropped when it is answered; each answer message adds one,
//! dropped when its worker calls [`LeafQueue::consumed`] (or at once if the
//! worker is gone).
//!
//! # Memory ordering
//! A row is written only by the worker that claimed it, and published by the
//! `Release` increment of `written`; the consumer reads rows only after an
//! `Acquire` load sees `written == count`. Answers are written by the
//! answerer before the message that tells a worker about them (the sink
//! gives the happens-before). The last `holds` decrement (`AcqRel`) orders
//! every reader before the `Release` store that frees the buffer, observed
//! with `Acquire` under the advance lock before the buffer is activated
//! again. `tests/loom_queue.rs` checks this protocol under loom.
//!
//! # Borrowing rows safely
//! Rows are handed to safe code only as borrows tied to something that
//! must stay alive and unchanged while they are read: a batch's inputs
//! borrow its [`Ticket`], which answering takes by `&mut`; a worker's
//! answers borrow its [`AnswerMsg`], which [`LeafQueue::consumed`] takes by
//! value. The raw pointers of [`LeafQueue::batch_pointers`] (the zero-copy
//! hand-off to numpy) carry that contract in their documentation.
//!
//! # A writer that panics
//! A panic between a claim and its `written` bump would leave the consumer
//! waiting forever for the row. The claim is guarded: on unwind the guard
//! marks the buffer and the queue poisoned and bumps `written`; the consumer
//! then fails with [`SearchError::WriterPanicked`] and the queue closes.

mod answer;
mod consume;
mod storage;
mod sync;

use blob_core::{NUM_ACTIONS, Rng, Round};
use crossbeam_channel::Sender;

use crate::error::{SearchError, SearchResult};
use storage::Rows;
use sync::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering};

/// Largest batch the claim word can describe.
pub const MAX_BATCH: usize = u16::MAX as usize;

#[inline]
fn pack(generation: u64, limit: u32, count: u32) -> u64 {
    (generation & 0xFFFF_FFFF) << 32 | (limit as u64) << 16 | count as u64
}
#[inline]
fn unpack(word: u64) -> (u32, u32, u32) {
    (
        (word >> 32) as u32,
        (word >> 16 & 0xFFFF) as u32,
        (word & 0xFFFF) as u32,
    )
}

/// Gives every queue its own id, so a ticket or message cannot be used on
/// another queue than the one that issued it.
static NEXT_QUEUE_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Who a row belongs to: the worker whose sink gets the answer, and that
/// worker's request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Handle {
    pub worker: u32,
    pub request: u32,
}

struct Buffer {
    claim: AtomicU64,
    written: AtomicU32,
    /// True from activation until the last hold is dropped.
    in_use: AtomicBool,
    /// See the module docs.
    holds: AtomicU32,
    /// A writer panicked while writing one of this generation's rows.
    poisoned: AtomicBool,
    rows: Rows,
}

/// A row being filled by the worker that claimed it.
pub struct RowWriter<'a> {
    pub obs: &'a mut [f32; blob_core::OBS_SIZE],
    pub mask: &'a mut [bool; NUM_ACTIONS],
    pub handle: &'a mut Handle,
    pub state: &'a mut Round,
    /// The seat whose observation `obs` is (see `evaluator`).
    pub observer: &'a mut u8,
}

/// The answer to one row, read by the worker that owns it.
pub struct Answer<'a> {
    /// Policy logits over the 66 actions.
    pub policy: &'a [f32],
    /// Values relative to the row's observer (8 entries).
    pub values: &'a [f32],
    pub handle: Handle,
}

/// A handed-out part of a sealed buffer: `rows()` rows, at most the
/// `max_rows` of the `next_batch` call that returned it. Not `Clone`:
/// answering takes it by `&mut`, so no borrow of its rows can outlive it.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a ticket that is never answered keeps its buffer (and its workers) waiting"]
pub struct Ticket {
    queue: u64,
    generation: u64,
    start: u32,
    rows: u32,
    answered: bool,
}

impl Ticket {
    /// A number naming this ticket among all of its queue's tickets (for
    /// callers that must pass tickets through an id, like the Python
    /// bindings).
    pub fn id(&self) -> u64 {
        self.generation << 16 | self.start as u64
    }
    /// Rows in this batch (at least 1).
    pub fn rows(&self) -> usize {
        self.rows as usize
    }
    /// The buffer generation the rows live in.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// Whether the batch was answered already.
    pub fn is_answered(&self) -> bool {
        self.answered
    }
}

/// The message a worker gets when answers for its rows are in. Read them
/// with [`LeafQueue::answers`], then hand the message back with
/// [`LeafQueue::consumed`].
#[derive(Debug)]
pub struct AnswerMsg {
    queue: u64,
    generation: u64,
    rows: Vec<u32>,
}

impl AnswerMsg {
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// The answered rows (indices in the buffer).
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }
}

/// Where a worker hears about its answers.
pub trait AnswerSink: Send + Sync {
    /// Delivers `msg`; false when the worker is gone (nobody will consume).
    fn deliver(&self, msg: AnswerMsg) -> bool;
}

impl AnswerSink for Sender<AnswerMsg> {
    fn deliver(&self, msg: AnswerMsg) -> bool {
        self.send(msg).is_ok()
    }
}

/// Outcome of trying to queue a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// Every buffer is full or in use: keep the leaf and try again later.
    Full,
    /// The queue is closed.
    Closed,
}

#[derive(Default)]
struct Consumer {
    /// Generation being handed out.
    tail: u64,
    /// Rows of `tail` once sealed (0 while it is still filling).
    sealed: u32,
    /// Rows of `tail` handed out so far.
    handed: u32,
}

/// Counters kept by the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueStats {
    pub batches: u64,
    pub rows: u64,
    pub rows_in_filling: u64,
    pub tickets_outstanding: u64,
}

pub struct LeafQueue {
    id: u64,
    capacity: usize,
    buffers: Box<[Buffer]>,
    head: AtomicU64,
    /// Row limit given to buffers activated from now on.
    target: AtomicU32,
    advance: Mutex<()>,
    consumer: Mutex<Consumer>,
    wake_lock: Mutex<()>,
    wake: Condvar,
    closed: AtomicBool,
    poisoned: AtomicBool,
    workers: Vec<Box<dyn AnswerSink>>,
    /// Workers with nothing to do until answers come back, and workers that
    /// have exited. When all of them are, waiting longer cannot fill the
    /// batch: it is handed out at once.
    idle_workers: AtomicUsize,
    /// Workers that have exited: once all have, no row can come any more.
    exited_workers: AtomicUsize,
    // Statistics, not protocol: std atomics even under loom, where every
    // loom atomic is one more scheduling point to explore.
    batches: std::sync::atomic::AtomicU64,
    rows_total: std::sync::atomic::AtomicU64,
    outstanding: std::sync::atomic::AtomicU64,
}

/// Marks the buffer poisoned if the row writer unwinds (see the module
/// docs); forgotten on success.
struct WriteGuard<'a> {
    queue: &'a LeafQueue,
    buffer: &'a Buffer,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.buffer.poisoned.store(true, Ordering::Release);
        self.queue.poisoned.store(true, Ordering::Release);
        self.queue.closed.store(true, Ordering::Release);
        self.queue.finish_row(self.buffer);
        self.queue.notify_consumer();
    }
}

impl LeafQueue {
    /// A queue of `depth` buffers of `capacity` rows each, answering to one
    /// sink per worker (a worker's id is its index).
    pub fn new<S: AnswerSink + 'static>(
        capacity: usize,
        depth: usize,
        workers: Vec<S>,
    ) -> SearchResult<LeafQueue> {
        if capacity == 0 || capacity > MAX_BATCH {
            return Err(SearchError::InvalidConfig(format!(
                "batch capacity must be in 1..={MAX_BATCH}, got {capacity}"
            )));
        }
        if !(2..=64).contains(&depth) {
            return Err(SearchError::InvalidConfig(format!(
                "pipeline depth must be in 2..=64, got {depth}"
            )));
        }
        let blank = Round::deal(3, 1, 0, None, &mut Rng::new(0))?;
        let buffers: Vec<Buffer> = (0..depth)
            .map(|_| Buffer {
                claim: AtomicU64::new(pack(u64::MAX, 0, 0)),
                written: AtomicU32::new(0),
                in_use: AtomicBool::new(false),
                holds: AtomicU32::new(0),
                poisoned: AtomicBool::new(false),
                rows: Rows::new(capacity, blank),
            })
            .collect();
        let queue = LeafQueue {
            id: NEXT_QUEUE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            capacity,
            buffers: buffers.into(),
            head: AtomicU64::new(0),
            target: AtomicU32::new(capacity as u32),
            advance: Mutex::new(()),
            consumer: Mutex::new(Consumer::default()),
            wake_lock: Mutex::new(()),
            wake: Condvar::new(),
            closed: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            workers: workers
                .into_iter()
                .map(|w| Box::new(w) as Box<dyn AnswerSink>)
                .collect(),
            idle_workers: AtomicUsize::new(0),
            exited_workers: AtomicUsize::new(0),
            batches: Default::default(),
            rows_total: Default::default(),
            outstanding: Default::default(),
        };
        queue.activate(0);
        Ok(queue)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn depth(&self) -> usize {
        self.buffers.len()
    }

    #[inline]
    fn buffer(&self, generation: u64) -> &Buffer {
        &self.buffers[(generation % self.buffers.len() as u64) as usize]
    }

    /// Makes the (free) buffer of `generation` the one being filled.
    fn activate(&self, generation: u64) {
        let b = self.buffer(generation);
        b.written.store(0, Ordering::Relaxed);
        b.poisoned.store(false, Ordering::Relaxed);
        b.holds.store(1, Ordering::Relaxed);
        b.in_use.store(true, Ordering::Relaxed);
        let limit = self.target.load(Ordering::Relaxed);
        b.claim.store(pack(generation, limit, 0), Ordering::Release);
        self.head.store(generation, Ordering::Release);
    }

    /// Moves `head` past a sealed buffer `generation` if the next buffer is
    /// free. Returns whether `head` is now beyond `generation`.
    fn try_advance(&self, generation: u64) -> bool {
        let _guard = self.advance.lock().unwrap_or_else(|e| e.into_inner());
        let head = self.head.load(Ordering::Acquire);
        if head != generation {
            return head > generation;
        }
        let (_, limit, count) = unpack(self.buffer(generation).claim.load(Ordering::Acquire));
        if count < limit {
            return false; // still filling: nothing to advance past
        }
        let next = generation + 1;
        if self.buffer(next).in_use.load(Ordering::Acquire) {
            return false;
        }
        self.activate(next);
        true
    }

    fn notify_consumer(&self) {
        let _guard = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    /// Claims a row and lets `write` fill it in place. Lock-free; fails with
    /// [`PushError::Full`] when no buffer can take the row now.
    pub fn push(&self, write: impl FnOnce(RowWriter<'_>)) -> Result<(), PushError> {
        'outer: loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(PushError::Closed);
            }
            let generation = self.head.load(Ordering::Acquire);
            let b = self.buffer(generation);
            let mut word = b.claim.load(Ordering::Acquire);
            let row = loop {
                let (g, limit, count) = unpack(word);
                if g != generation as u32 {
                    if self.head.load(Ordering::Acquire) != generation {
                        continue 'outer;
                    }
                    return Err(PushError::Full);
                }
                if count >= limit {
                    if self.try_advance(generation) {
                        continue 'outer;
                    }
                    return Err(PushError::Full);
                }
                match b.claim.compare_exchange_weak(
                    word,
                    word + 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break count as usize,
                    Err(actual) => word = actual,
                }
            };
            let guard = WriteGuard {
                queue: self,
                buffer: b,
            };
            // SAFETY: row `row` of this generation was claimed by this call
            // alone; nobody reads it before `written` is bumped below.
            write(unsafe { b.rows.writer(row) });
            std::mem::forget(guard);
            self.finish_row(b);
            return Ok(());
        }
    }

    /// Publishes one written row of `b`.
    fn finish_row(&self, b: &Buffer) {
        let written = b.written.fetch_add(1, Ordering::AcqRel) + 1;
        let (_, limit, _) = unpack(b.claim.load(Ordering::Acquire));
        if written == limit {
            self.notify_consumer();
        }
    }

    /// A worker says it has nothing to do until answers come back (or that
    /// it is busy again). Lets the consumer hand out a short batch at once
    /// instead of waiting for rows that cannot come.
    pub fn set_idle(&self, idle: bool) {
        if idle {
            self.add_idle();
        } else {
            self.idle_workers.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A worker has exited for good: it counts as idle from now on, so the
    /// last partial batches of a run go out without waiting for rows it
    /// will never write. Call once per worker, not between `set_idle(true)`
    /// and `set_idle(false)`.
    pub fn worker_exited(&self) {
        self.exited_workers.fetch_add(1, Ordering::AcqRel);
        self.add_idle();
    }

    fn add_idle(&self) {
        if self.idle_workers.fetch_add(1, Ordering::AcqRel) + 1 >= self.workers.len() {
            self.notify_consumer();
        }
    }

    /// Wakes everyone and makes every later call fail with `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify_consumer();
    }
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
    /// Wakes a consumer waiting in `next_batch` (e.g. when work ran out).
    pub fn wake_consumer(&self) {
        self.notify_consumer();
    }

    pub fn stats(&self) -> QueueStats {
        let head = self.head.load(Ordering::Acquire);
        let (_, _, count) = unpack(self.buffer(head).claim.load(Ordering::Acquire));
        QueueStats {
            batches: self.batches.load(Ordering::Relaxed),
            rows: self.rows_total.load(Ordering::Relaxed),
            rows_in_filling: count as u64,
            tickets_outstanding: self.outstanding.load(Ordering::Relaxed),
        }
    }
}
