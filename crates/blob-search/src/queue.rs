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

mod storage;
mod sync;

use std::time::{Duration, Instant};

use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng, Round};
use crossbeam_channel::Sender;

use crate::error::{SearchError, SearchResult};
use crate::evaluator::LeafBatch;
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

    fn check_max_rows(&self, max_rows: usize) -> SearchResult<()> {
        if max_rows == 0 || max_rows > self.capacity {
            return Err(SearchError::InvalidConfig(format!(
                "max batch size must be in 1..={}, got {max_rows}",
                self.capacity
            )));
        }
        Ok(())
    }

    /// Waits up to `timeout` for a batch of at most `max_rows` rows and
    /// hands it out: as soon as a buffer is full (or holds `max_rows`), when
    /// every worker is idle or gone, or at the timeout with what is there.
    /// Returns `None` at the timeout when no row is waiting, or as soon as
    /// no row is waiting and every worker has exited.
    pub fn next_batch(&self, max_rows: usize, timeout: Duration) -> SearchResult<Option<Ticket>> {
        self.check_max_rows(max_rows)?;
        let deadline = Instant::now() + timeout;
        let mut consumer = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        self.target.store(max_rows as u32, Ordering::Relaxed);
        // Held while polling, so no notification slips in between a poll
        // and the wait (notifiers take it to notify).
        let mut wake = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            let exited = self.all_workers_exited();
            let seal_now = now >= deadline || exited || self.all_workers_idle();
            if let Some(ticket) = self.poll(&mut consumer, max_rows, seal_now)? {
                return Ok(Some(ticket));
            }
            if now >= deadline || exited {
                return Ok(None);
            }
            wake = self
                .wake
                .wait_timeout(wake, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// [`LeafQueue::next_batch`] without waiting: a batch if one is ready
    /// now. With `seal_now`, the buffer being filled is sealed with whatever
    /// rows it holds.
    pub fn try_next_batch(&self, max_rows: usize, seal_now: bool) -> SearchResult<Option<Ticket>> {
        self.check_max_rows(max_rows)?;
        let mut consumer = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        self.target.store(max_rows as u32, Ordering::Relaxed);
        self.poll(&mut consumer, max_rows, seal_now)
    }

    fn all_workers_exited(&self) -> bool {
        self.exited_workers.load(Ordering::Acquire) >= self.workers.len()
    }

    fn all_workers_idle(&self) -> bool {
        self.idle_workers.load(Ordering::Acquire) >= self.workers.len()
    }

    /// One non-blocking step of the consumer: seals the tail buffer when it
    /// is ready (or told to) and hands out its next part.
    fn poll(
        &self,
        c: &mut Consumer,
        max_rows: usize,
        seal_now: bool,
    ) -> SearchResult<Option<Ticket>> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(SearchError::WriterPanicked);
        }
        if self.closed.load(Ordering::Relaxed) {
            return Err(SearchError::Closed);
        }
        let generation = c.tail;
        let b = self.buffer(generation);
        if c.sealed == 0 {
            let head = self.head.load(Ordering::Acquire);
            if head < generation {
                // The tail's buffer was still in use when `head` reached it.
                self.try_advance(head);
                if self.head.load(Ordering::Acquire) < generation {
                    return Ok(None);
                }
            }
            match self.seal_if_ready(b, generation, max_rows, seal_now) {
                0 => return Ok(None),
                rows => c.sealed = rows,
            }
            self.try_advance(generation);
        }
        // Writers that claimed before the seal finish within one row's write
        // (a panicking one bumps `written` from its guard).
        while b.written.load(Ordering::Acquire) < c.sealed {
            sync::pause();
        }
        if b.poisoned.load(Ordering::Acquire) {
            return Err(SearchError::WriterPanicked);
        }
        let start = c.handed;
        let rows = (c.sealed - start).min(max_rows as u32);
        b.holds.fetch_add(1, Ordering::Relaxed);
        c.handed += rows;
        if c.handed == c.sealed {
            // Every row is out: drop the consumer's hold (never the last:
            // the part just handed out holds the buffer too).
            let before = b.holds.fetch_sub(1, Ordering::AcqRel);
            debug_assert!(before > 1);
            *c = Consumer {
                tail: generation + 1,
                ..Consumer::default()
            };
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.rows_total.fetch_add(rows as u64, Ordering::Relaxed);
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Ticket {
            queue: self.id,
            generation,
            start,
            rows,
            answered: false,
        }))
    }

    /// Seals the filling buffer of `generation` if it is full, already
    /// holds `max_rows` rows, or `seal_now` is set (with at least one row);
    /// otherwise sets its limit to `max_rows`. Returns the sealed row count,
    /// or 0 while it stays open.
    fn seal_if_ready(&self, b: &Buffer, generation: u64, max_rows: usize, seal_now: bool) -> u32 {
        let max_rows = max_rows as u32;
        let mut word = b.claim.load(Ordering::Acquire);
        loop {
            let (g, limit, count) = unpack(word);
            debug_assert_eq!(g, generation as u32);
            if count == limit {
                return count;
            }
            let new_limit = if count > 0 && (seal_now || count >= max_rows) {
                count
            } else if limit != max_rows && count < max_rows {
                max_rows
            } else {
                return 0;
            };
            match b.claim.compare_exchange_weak(
                word,
                pack(generation, new_limit, count),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if new_limit == count => return count,
                Ok(_) => return 0,
                Err(actual) => word = actual,
            }
        }
    }

    fn check_ticket(&self, ticket: &Ticket) -> SearchResult<()> {
        if ticket.queue != self.id || ticket.answered {
            return Err(SearchError::UnknownTicket(ticket.id()));
        }
        Ok(())
    }

    /// Read access to the rows of a handed-out batch: observations (rows x
    /// 256), masks (rows x 66), states and observers. The borrow is tied to
    /// the ticket, which answering needs mutably.
    pub fn batch_inputs<'a>(&'a self, ticket: &'a Ticket) -> SearchResult<LeafBatch<'a>> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        // SAFETY: the rows of an unanswered part are published and written
        // by nobody until it is answered, which needs `ticket` mutably.
        Ok(unsafe { b.rows.inputs(ticket.start as usize, ticket.rows()) })
    }

    /// Raw pointers to a handed-out batch's observation rows (`rows x 256`
    /// f32) and mask rows (`rows x 66` bool), for zero-copy views from
    /// Python. The memory stays allocated as long as the queue lives; its
    /// contents are the batch's only until the ticket is answered, after
    /// which workers write the buffer again. Reading through the pointers
    /// after that is a data race: a caller that dereferences them must stop
    /// before answering.
    pub fn batch_pointers(&self, ticket: &Ticket) -> SearchResult<(*const f32, *const bool)> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        Ok(b.rows.input_pointers(ticket.start as usize, ticket.rows()))
    }

    /// Answers a batch with policy logits (rows x 66) and values relative to
    /// each row's observer (rows x 8). Validates everything first: on error the
    /// ticket stays open and nothing changes.
    pub fn submit(&self, ticket: &mut Ticket, policy: &[f32], values: &[f32]) -> SearchResult<()> {
        check_answers(policy, values, ticket.rows())?;
        self.answer_with(ticket, |_, out_policy, out_values| {
            out_policy.copy_from_slice(policy);
            out_values.copy_from_slice(values);
            Ok(())
        })
    }

    /// Answers a batch by letting `fill` write the answers in place (Rust
    /// evaluators): `fill(batch, policy, values)`. On error (from `fill`, or
    /// a non-finite answer) the ticket stays open.
    pub fn answer_with(
        &self,
        ticket: &mut Ticket,
        fill: impl FnOnce(&LeafBatch<'_>, &mut [f32], &mut [f32]) -> SearchResult<()>,
    ) -> SearchResult<()> {
        self.check_ticket(ticket)?;
        let b = self.buffer(ticket.generation);
        let (start, rows) = (ticket.start as usize, ticket.rows());
        // SAFETY: this part's rows are published and not written until it
        // is answered; holding the ticket mutably makes this call their only
        // answerer, and nobody reads the answers before the messages below.
        let (batch, handles, (policy, values)) = unsafe {
            (
                b.rows.inputs(start, rows),
                b.rows.handles(start, rows),
                b.rows.answers_mut(start, rows),
            )
        };
        fill(&batch, policy, values).and_then(|()| check_answers(policy, values, rows))?;
        let mut per_worker: Vec<Vec<u32>> = vec![Vec::new(); self.workers.len()];
        for (row, h) in handles.iter().enumerate() {
            // A handle naming no worker gets no message (nobody to tell).
            if let Some(rows) = per_worker.get_mut(h.worker as usize) {
                rows.push((start + row) as u32);
            }
        }
        let receivers = per_worker.iter().filter(|r| !r.is_empty()).count() as u32;
        b.holds.fetch_add(receivers, Ordering::Relaxed);
        ticket.answered = true;
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.drop_hold(b);
        for (worker, rows) in per_worker.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let msg = AnswerMsg {
                queue: self.id,
                generation: ticket.generation,
                rows,
            };
            if !self.workers[worker].deliver(msg) {
                // The worker is gone (engine closing): nobody will consume.
                self.drop_hold(b);
            }
        }
        Ok(())
    }

    /// Reads the answers of a worker's rows. Hand the message back with
    /// [`LeafQueue::consumed`] when done with them.
    ///
    /// # Panics
    /// If `msg` comes from another queue.
    pub fn answers<'a>(&'a self, msg: &'a AnswerMsg) -> impl Iterator<Item = Answer<'a>> + 'a {
        assert_eq!(msg.queue, self.id, "an answer message of another queue");
        let b = self.buffer(msg.generation);
        // SAFETY: answered rows are not written again until every message
        // about them was consumed, which takes `msg` by value.
        msg.rows
            .iter()
            .map(move |&row| unsafe { b.rows.answer(row as usize) })
    }

    /// A worker is done with the answers of `msg`.
    ///
    /// # Panics
    /// If `msg` comes from another queue.
    pub fn consumed(&self, msg: AnswerMsg) {
        assert_eq!(msg.queue, self.id, "an answer message of another queue");
        self.drop_hold(self.buffer(msg.generation));
    }

    fn drop_hold(&self, b: &Buffer) {
        if b.holds.fetch_sub(1, Ordering::AcqRel) == 1 {
            b.in_use.store(false, Ordering::Release);
            let head = self.head.load(Ordering::Acquire);
            self.try_advance(head);
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

fn check_answers(policy: &[f32], values: &[f32], rows: usize) -> SearchResult<()> {
    if policy.len() != rows * NUM_ACTIONS {
        return Err(SearchError::BadShape(format!(
            "policy must have {rows} x {NUM_ACTIONS} = {} entries, got {}",
            rows * NUM_ACTIONS,
            policy.len()
        )));
    }
    if values.len() != rows * MAX_PLAYERS {
        return Err(SearchError::BadShape(format!(
            "values must have {rows} x {MAX_PLAYERS} = {} entries, got {}",
            rows * MAX_PLAYERS,
            values.len()
        )));
    }
    if let Some(i) = policy.iter().position(|v| !v.is_finite()) {
        return Err(SearchError::NonFinite {
            what: "policy",
            row: i / NUM_ACTIONS,
            col: i % NUM_ACTIONS,
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(SearchError::NonFinite {
            what: "values",
            row: i / MAX_PLAYERS,
            col: i % MAX_PLAYERS,
        });
    }
    Ok(())
}
