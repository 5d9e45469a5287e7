//! The leaf queue: a ring of preallocated batch buffers that search workers
//! write leaves straight into, and that the evaluator (the Python inference
//! loop, or a Rust evaluator thread) reads as whole batches.
//!
//! # Life of a buffer
//! Buffers are numbered by a generation `g` (buffer `g % depth`):
//!
//! 1. **Filling.** `head == g`. A worker claims row `i` with one CAS on the
//!    buffer's claim word, writes the row (observation, mask, handle, state),
//!    then bumps `written`. No lock on this path.
//! 2. **Sealed.** The claim word's limit equals its count, so no more claims
//!    succeed: either the buffer filled up, or the consumer timed out and
//!    sealed it with what it had. `head` moves on to `g + 1` as soon as that
//!    buffer is free (the only place a mutex is taken, once per batch).
//! 3. **Handed out.** `next_batch` returns generation `g` as the ticket once
//!    `written == count`; the rows are read in place, never copied.
//! 4. **Answered.** `submit` validates and stores the answers, then sends
//!    each worker the list of its rows through its own channel.
//! 5. **Free** once every worker with rows in it has consumed its answers.
//!
//! # The claim word
//! `claim: AtomicU64` packs `[generation: 32 | limit: 16 | count: 16]`. Putting
//! the generation in the word makes a worker that read a stale `head` fail its
//! CAS instead of writing into a recycled buffer; putting the limit in it lets
//! the consumer seal a buffer (limit := count) atomically with respect to
//! claims, so a batch never holds more rows than it was allowed.
//!
//! # Memory ordering
//! A row is written only by the worker that claimed it, and published by the
//! `Release` increment of `written`; the consumer reads rows only after an
//! `Acquire` load sees `written == count`. Answers are written by `submit`
//! before the channel send that tells a worker about them (the channel gives
//! the happens-before). A buffer is reused only after its last consumer
//! stores `FREE` with `Release`, observed with `Acquire` under the advance
//! lock.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use blob_core::observation::OBS_SIZE;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng, Round};
use crossbeam_channel::Sender;

use crate::error::{SearchError, SearchResult};
use crate::evaluator::LeafBatch;

/// Largest batch the claim word can describe.
pub const MAX_BATCH: usize = u16::MAX as usize;

const FREE: u8 = 0;
const FILLING: u8 = 1;
const HANDED: u8 = 2;
const ANSWERING: u8 = 3;
const ANSWERED: u8 = 4;

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

/// Who a row belongs to: the worker whose channel gets the answer, and that
/// worker's request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Handle {
    pub worker: u32,
    pub request: u32,
}

/// Row storage of one buffer.
struct Rows {
    obs: Box<[f32]>,
    masks: Box<[bool]>,
    handles: Box<[Handle]>,
    states: Box<[Round]>,
    observers: Box<[u8]>,
    policy: Box<[f32]>,
    values: Box<[f32]>,
}

struct Buffer {
    claim: AtomicU64,
    written: AtomicU32,
    phase: AtomicU8,
    /// Workers that still have to consume answers from this buffer.
    consumers_left: AtomicU32,
    rows: UnsafeCell<Rows>,
}

// SAFETY: every access to `rows` follows the protocol in the module docs: a
// row has one writer at a time, and readers are ordered after it by the
// atomics and channels described there.
unsafe impl Sync for Buffer {}

/// A row being filled by the worker that claimed it.
pub struct RowWriter<'a> {
    pub obs: &'a mut [f32; OBS_SIZE],
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

/// A sealed batch handed to the evaluator: `rows` rows starting at the
/// pointers of [`LeafQueue::batch_rows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub generation: u64,
    pub rows: usize,
}

/// The message a worker gets when answers for its rows are in.
#[derive(Debug)]
pub struct AnswerMsg {
    pub generation: u64,
    pub rows: Vec<u32>,
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
    /// Generation of the next batch to hand out.
    tail: u64,
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
    workers: Vec<Sender<AnswerMsg>>,
    /// Workers with nothing to do until answers come back. When all of them
    /// are, waiting longer cannot fill the batch: it is handed out at once.
    idle_workers: AtomicUsize,
    batches: AtomicU64,
    rows_total: AtomicU64,
}

impl LeafQueue {
    /// A queue of `depth` buffers of `capacity` rows each, answering to one
    /// channel per worker.
    pub fn new(
        capacity: usize,
        depth: usize,
        workers: Vec<Sender<AnswerMsg>>,
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
                phase: AtomicU8::new(FREE),
                consumers_left: AtomicU32::new(0),
                rows: UnsafeCell::new(Rows {
                    obs: vec![0.0; capacity * OBS_SIZE].into(),
                    masks: vec![false; capacity * NUM_ACTIONS].into(),
                    handles: vec![Handle::default(); capacity].into(),
                    states: vec![blank; capacity].into(),
                    observers: vec![0; capacity].into(),
                    policy: vec![0.0; capacity * NUM_ACTIONS].into(),
                    values: vec![0.0; capacity * MAX_PLAYERS].into(),
                }),
            })
            .collect();
        let queue = LeafQueue {
            capacity,
            buffers: buffers.into(),
            head: AtomicU64::new(0),
            target: AtomicU32::new(capacity as u32),
            advance: Mutex::new(()),
            consumer: Mutex::new(Consumer::default()),
            wake_lock: Mutex::new(()),
            wake: Condvar::new(),
            closed: AtomicBool::new(false),
            workers,
            idle_workers: AtomicUsize::new(0),
            batches: AtomicU64::new(0),
            rows_total: AtomicU64::new(0),
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
        b.phase.store(FILLING, Ordering::Relaxed);
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
        if self.buffer(next).phase.load(Ordering::Acquire) != FREE {
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
            // SAFETY: row `row` of this generation was claimed by this call
            // alone; nobody reads it before `written` is bumped below.
            let rows = unsafe { &mut *b.rows.get() };
            write(RowWriter {
                obs: (&mut rows.obs[row * OBS_SIZE..(row + 1) * OBS_SIZE])
                    .try_into()
                    .expect("OBS_SIZE row"),
                mask: (&mut rows.masks[row * NUM_ACTIONS..(row + 1) * NUM_ACTIONS])
                    .try_into()
                    .expect("NUM_ACTIONS row"),
                handle: &mut rows.handles[row],
                state: &mut rows.states[row],
                observer: &mut rows.observers[row],
            });
            let written = b.written.fetch_add(1, Ordering::AcqRel) + 1;
            let (_, limit, _) = unpack(b.claim.load(Ordering::Acquire));
            if written == limit {
                self.notify_consumer();
            }
            return Ok(());
        }
    }

    /// Waits up to `timeout` for a batch of at most `max_rows` rows and
    /// hands it out: as soon as a buffer is full, or at the timeout with what
    /// is there. Returns `None` at the timeout when no row is waiting.
    pub fn next_batch(&self, max_rows: usize, timeout: Duration) -> SearchResult<Option<Ticket>> {
        if max_rows == 0 || max_rows > self.capacity {
            return Err(SearchError::InvalidConfig(format!(
                "max batch size must be in 1..={}, got {max_rows}",
                self.capacity
            )));
        }
        let deadline = Instant::now() + timeout;
        let mut consumer = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        self.target.store(max_rows as u32, Ordering::Relaxed);
        let generation = consumer.tail;
        let b = self.buffer(generation);
        // Wait until the buffer of `generation` is the one filling (or past).
        let mut wake = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(SearchError::Closed);
            }
            let head = self.head.load(Ordering::Acquire);
            if head > generation || (head == generation && self.set_limit(b, generation, max_rows))
            {
                break;
            }
            if head < generation {
                drop(wake);
                self.try_advance(head);
                wake = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
                if self.head.load(Ordering::Acquire) >= generation {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            wake = self
                .wake
                .wait_timeout(wake, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        // Wait until the buffer is full, or seal it at the deadline.
        let rows = loop {
            let (g, limit, count) = unpack(b.claim.load(Ordering::Acquire));
            debug_assert_eq!(g, generation as u32);
            if count == limit && b.written.load(Ordering::Acquire) == count {
                break count;
            }
            let now = Instant::now();
            let stalled =
                count > 0 && self.idle_workers.load(Ordering::Acquire) == self.workers.len();
            if now >= deadline || stalled {
                match self.seal(b, generation) {
                    0 => return Ok(None),
                    n => break n,
                }
            }
            if self.closed.load(Ordering::Relaxed) {
                return Err(SearchError::Closed);
            }
            wake = self
                .wake
                .wait_timeout(wake, (deadline - now).max(Duration::from_micros(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(wake);
        // Writers that claimed before the seal finish within a row's write.
        while b.written.load(Ordering::Acquire) < rows {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
        b.phase.store(HANDED, Ordering::Release);
        consumer.tail = generation + 1;
        self.try_advance(generation);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.rows_total.fetch_add(rows as u64, Ordering::Relaxed);
        Ok(Some(Ticket {
            generation,
            rows: rows as usize,
        }))
    }

    /// Sets the limit of the filling buffer to `max_rows` (never below its
    /// count). Returns true.
    fn set_limit(&self, b: &Buffer, generation: u64, max_rows: usize) -> bool {
        let mut word = b.claim.load(Ordering::Acquire);
        loop {
            let (g, limit, count) = unpack(word);
            if g != generation as u32 {
                return true;
            }
            let wanted = (max_rows as u32).max(count);
            if limit == wanted || count >= limit {
                return true;
            }
            match b.claim.compare_exchange_weak(
                word,
                pack(generation, wanted, count),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Stops further claims on a buffer; returns the rows it holds. A buffer
    /// with no rows is left open (0 is returned).
    fn seal(&self, b: &Buffer, generation: u64) -> u32 {
        let mut word = b.claim.load(Ordering::Acquire);
        loop {
            let (_, _, count) = unpack(word);
            if count == 0 {
                return 0;
            }
            match b.claim.compare_exchange_weak(
                word,
                pack(generation, count, count),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return count,
                Err(actual) => word = actual,
            }
        }
    }

    fn handed_buffer(&self, ticket: u64) -> SearchResult<(&Buffer, usize)> {
        let b = self.buffer(ticket);
        let (g, _, count) = unpack(b.claim.load(Ordering::Acquire));
        if g != ticket as u32 || b.phase.load(Ordering::Acquire) != HANDED {
            return Err(SearchError::UnknownTicket(ticket));
        }
        Ok((b, count as usize))
    }

    /// Rows of a handed-out (not yet answered) batch.
    pub fn batch_rows(&self, ticket: u64) -> SearchResult<usize> {
        Ok(self.handed_buffer(ticket)?.1)
    }

    /// Read access to the rows of a handed-out batch: observations (rows x
    /// 256), masks (rows x 66), states and observers. Valid until the ticket
    /// is answered.
    pub fn batch_inputs(&self, ticket: &Ticket) -> SearchResult<LeafBatch<'_>> {
        let (b, rows) = self.handed_buffer(ticket.generation)?;
        // SAFETY: a handed-out buffer is not written by workers (its limit
        // is sealed) until it is answered and consumed.
        let r = unsafe { &*b.rows.get() };
        Ok(LeafBatch {
            states: &r.states[..rows],
            observers: &r.observers[..rows],
            obs: &r.obs[..rows * OBS_SIZE],
            masks: &r.masks[..rows * NUM_ACTIONS],
        })
    }

    /// Raw pointers to a handed-out batch's observation and mask rows, for
    /// zero-copy views from Python. They stay valid as long as the queue
    /// lives; their contents until the ticket is answered.
    pub fn batch_pointers(&self, ticket: &Ticket) -> SearchResult<(*const f32, *const bool)> {
        let batch = self.batch_inputs(ticket)?;
        Ok((batch.obs.as_ptr(), batch.masks.as_ptr()))
    }

    /// Answers a batch with policy logits (rows x 66) and values relative to
    /// each row's observer (rows x 8). Validates everything first: on error the
    /// ticket stays open and nothing changes.
    pub fn submit(&self, ticket: u64, policy: &[f32], values: &[f32]) -> SearchResult<()> {
        self.answer_with(ticket, |_, out_policy, out_values| {
            check_answers(policy, values, out_policy.len() / NUM_ACTIONS)?;
            out_policy.copy_from_slice(policy);
            out_values.copy_from_slice(values);
            Ok(())
        })
    }

    /// Answers a batch by letting `fill` write the answers in place (Rust
    /// evaluators): `fill(batch, policy, values)`.
    pub fn answer_with(
        &self,
        ticket: u64,
        fill: impl FnOnce(&LeafBatch<'_>, &mut [f32], &mut [f32]) -> SearchResult<()>,
    ) -> SearchResult<()> {
        let (b, rows) = self.handed_buffer(ticket)?;
        // Claiming the ticket makes this call its only answerer.
        if b.phase
            .compare_exchange(HANDED, ANSWERING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(SearchError::UnknownTicket(ticket));
        }
        // SAFETY: the buffer is handed out (no worker writes it) and this
        // call won the HANDED -> ANSWERING transition.
        let r = unsafe { &mut *b.rows.get() };
        let Rows {
            obs,
            masks,
            states,
            observers,
            policy,
            values,
            handles,
        } = r;
        let batch = LeafBatch {
            states: &states[..rows],
            observers: &observers[..rows],
            obs: &obs[..rows * OBS_SIZE],
            masks: &masks[..rows * NUM_ACTIONS],
        };
        let filled = fill(
            &batch,
            &mut policy[..rows * NUM_ACTIONS],
            &mut values[..rows * MAX_PLAYERS],
        )
        .and_then(|()| {
            check_answers(
                &policy[..rows * NUM_ACTIONS],
                &values[..rows * MAX_PLAYERS],
                rows,
            )
        });
        if let Err(e) = filled {
            b.phase.store(HANDED, Ordering::Release);
            return Err(e);
        }
        let mut per_worker: Vec<Vec<u32>> = vec![Vec::new(); self.workers.len()];
        for (row, h) in handles[..rows].iter().enumerate() {
            per_worker[h.worker as usize].push(row as u32);
        }
        let receivers = per_worker.iter().filter(|r| !r.is_empty()).count() as u32;
        b.consumers_left.store(receivers, Ordering::Relaxed);
        b.phase.store(ANSWERED, Ordering::Release);
        if receivers == 0 {
            self.release(b);
        }
        for (worker, rows) in per_worker.into_iter().enumerate() {
            if !rows.is_empty() {
                let msg = AnswerMsg {
                    generation: ticket,
                    rows,
                };
                if self.workers[worker].send(msg).is_err() {
                    // The worker is gone (engine closing): nobody will consume.
                    self.consumed(ticket);
                }
            }
        }
        Ok(())
    }

    /// Reads the answers of a worker's rows. Call [`LeafQueue::consumed`]
    /// when done with them.
    pub fn answers<'a>(&'a self, msg: &'a AnswerMsg) -> impl Iterator<Item = Answer<'a>> + 'a {
        let b = self.buffer(msg.generation);
        // SAFETY: answered rows are read-only until every receiver has called
        // `consumed`; this worker has not yet.
        let r = unsafe { &*b.rows.get() };
        msg.rows.iter().map(move |&row| {
            let row = row as usize;
            Answer {
                policy: &r.policy[row * NUM_ACTIONS..(row + 1) * NUM_ACTIONS],
                values: &r.values[row * MAX_PLAYERS..(row + 1) * MAX_PLAYERS],
                handle: r.handles[row],
            }
        })
    }

    /// A worker is done with its rows of `generation`.
    pub fn consumed(&self, generation: u64) {
        let b = self.buffer(generation);
        if b.consumers_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.release(b);
        }
    }

    fn release(&self, b: &Buffer) {
        b.phase.store(FREE, Ordering::Release);
        let head = self.head.load(Ordering::Acquire);
        self.try_advance(head);
        self.notify_consumer();
    }

    /// A worker says it has nothing to do until answers come back (or that
    /// it is busy again). Lets the consumer hand out a short batch at once
    /// instead of waiting for rows that cannot come.
    pub fn set_idle(&self, idle: bool) {
        if idle {
            if self.idle_workers.fetch_add(1, Ordering::AcqRel) + 1 == self.workers.len() {
                self.notify_consumer();
            }
        } else {
            self.idle_workers.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Wakes everyone and makes every later call fail with `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
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
        let outstanding = self
            .buffers
            .iter()
            .filter(|b| b.phase.load(Ordering::Relaxed) == HANDED)
            .count();
        QueueStats {
            batches: self.batches.load(Ordering::Relaxed),
            rows: self.rows_total.load(Ordering::Relaxed),
            rows_in_filling: count as u64,
            tickets_outstanding: outstanding as u64,
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
