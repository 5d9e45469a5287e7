//! The leaf queue on its own: batches never exceed the `max_rows` of the call
//! that hands them out (split, with every row answered exactly once, over
//! random limits and timings), a writer that panics fails the batch instead
//! of hanging the consumer, and exited workers count as idle.
//!
//! The protocol's interleavings are checked exhaustively (for tiny cases) by
//! the loom model tests in `loom_queue.rs`.

// Under `--cfg loom` the queue runs on loom's primitives, usable only inside
// a loom model: these tests are for normal builds.
#![cfg(not(loom))]

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Rng};
use blob_search::SearchError;
use blob_search::queue::{AnswerMsg, Handle, LeafQueue, PushError, Ticket};
use crossbeam_channel::{Receiver, unbounded};
use proptest::prelude::*;

/// The value a row carries in `obs[0]` (and gets back as its answer).
fn tag(worker: u32, request: u32) -> f32 {
    (worker * 1000 + request) as f32
}

/// Answers a batch by echoing each row's `obs[0]` into its policy and values.
fn echo(queue: &LeafQueue, ticket: &mut Ticket) {
    queue
        .answer_with(ticket, |batch, policy, values| {
            for i in 0..batch.len() {
                policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS].fill(batch.obs_row(i)[0]);
                values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS].fill(batch.obs_row(i)[0]);
            }
            Ok(())
        })
        .expect("an open ticket");
}

/// Checks and consumes an answer message of `worker`; returns the requests
/// it answered.
fn take_answers(queue: &LeafQueue, worker: u32, msg: AnswerMsg) -> Vec<u32> {
    let mut answered = Vec::new();
    for answer in queue.answers(&msg) {
        assert_eq!(answer.handle.worker, worker, "an answer for another worker");
        let expected = tag(worker, answer.handle.request);
        assert!(answer.policy.iter().all(|&p| p == expected), "wrong policy");
        assert!(answer.values.iter().all(|&v| v == expected), "wrong values");
        answered.push(answer.handle.request);
    }
    queue.consumed(msg);
    answered
}

fn push_tagged(queue: &LeafQueue, worker: u32, request: u32) -> Result<(), PushError> {
    queue.push(|row| {
        row.obs[0] = tag(worker, request);
        *row.handle = Handle { worker, request };
    })
}

#[test]
fn a_buffer_filled_at_a_larger_limit_is_split() {
    let (tx, rx) = unbounded();
    let queue = LeafQueue::new(8, 2, vec![tx]).unwrap();
    for request in 0..8 {
        push_tagged(&queue, 0, request).unwrap(); // fills generation 0 at limit 8
    }
    for request in 8..16 {
        push_tagged(&queue, 0, request).unwrap(); // and generation 1
    }
    // Generation 2 needs generation 0's buffer back.
    assert_eq!(push_tagged(&queue, 0, 16), Err(PushError::Full));
    let mut parts: Vec<Ticket> = (0..3)
        .map(|_| queue.next_batch(3, Duration::ZERO).unwrap().unwrap())
        .collect();
    assert_eq!(
        parts.iter().map(Ticket::rows).collect::<Vec<_>>(),
        [3, 3, 2]
    );
    assert!(parts.iter().all(|t| t.generation() == 0));
    assert_eq!(queue.stats().tickets_outstanding, 3);
    // Answered out of order; the buffer is free only once every part is
    // answered and every answer consumed.
    let mut answered = Vec::new();
    for i in [2, 0] {
        echo(&queue, &mut parts[i]);
        answered.extend(take_answers(&queue, 0, rx.try_recv().unwrap()));
        assert_eq!(push_tagged(&queue, 0, 16), Err(PushError::Full));
    }
    echo(&queue, &mut parts[1]);
    assert_eq!(push_tagged(&queue, 0, 16), Err(PushError::Full));
    answered.extend(take_answers(&queue, 0, rx.try_recv().unwrap()));
    answered.sort();
    assert_eq!(answered, (0..8).collect::<Vec<_>>());
    push_tagged(&queue, 0, 16).unwrap();
    assert_eq!(queue.stats().tickets_outstanding, 0);
    // Generation 1 (8 rows) comes out whole for a limit of 8.
    let whole = queue.next_batch(8, Duration::ZERO).unwrap().unwrap();
    assert_eq!((whole.generation(), whole.rows()), (1, 8));
}

#[test]
fn a_writer_that_panics_fails_the_batch_instead_of_hanging() {
    let (tx, _rx) = unbounded();
    let queue = Arc::new(LeafQueue::new(4, 2, vec![tx]).unwrap());
    push_tagged(&queue, 0, 0).unwrap();
    // A writer claims a row, then stalls until told to panic.
    let (go, wait) = mpsc::channel::<()>();
    let writer = {
        let queue = Arc::clone(&queue);
        std::thread::spawn(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let _ = queue.push(|_row| {
                    wait.recv().unwrap();
                    panic!("a bug in a leaf writer");
                });
            }))
            .is_err()
        })
    };
    let start = Instant::now();
    while queue.stats().rows_in_filling < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "no claim");
        std::thread::yield_now();
    }
    // The consumer seals the buffer at its short timeout, with the claimed
    // row not written yet, and waits for it.
    let (done, result) = mpsc::channel();
    {
        let queue = Arc::clone(&queue);
        std::thread::spawn(move || {
            let _ = done.send(queue.next_batch(4, Duration::from_millis(20)));
        });
    }
    std::thread::sleep(Duration::from_millis(100));
    go.send(()).unwrap();
    assert!(writer.join().unwrap(), "the writer panicked");
    let result = result
        .recv_timeout(Duration::from_secs(30))
        .expect("next_batch hung on a row whose writer panicked");
    assert_eq!(result, Err(SearchError::WriterPanicked));
    // The queue stays failed and closed.
    assert_eq!(
        queue.next_batch(4, Duration::from_millis(1)),
        Err(SearchError::WriterPanicked)
    );
    assert_eq!(push_tagged(&queue, 0, 1), Err(PushError::Closed));
}

#[test]
fn exited_and_idle_workers_let_a_partial_batch_out_at_once() {
    let (tx0, _rx0) = unbounded();
    let (tx1, _rx1) = unbounded();
    let queue = LeafQueue::new(16, 2, vec![tx0, tx1]).unwrap();
    push_tagged(&queue, 0, 0).unwrap();
    queue.worker_exited(); // worker 1
    queue.set_idle(true); // worker 0, waiting on its row
    let start = Instant::now();
    let ticket = queue.next_batch(16, Duration::from_secs(30)).unwrap();
    assert_eq!(ticket.map(|t| t.rows()), Some(1));
    assert!(start.elapsed() < Duration::from_secs(10));
    // With every worker gone and no row left, there is nothing to wait for.
    queue.set_idle(false);
    queue.worker_exited();
    let start = Instant::now();
    assert_eq!(queue.next_batch(16, Duration::from_secs(30)), Ok(None));
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// One writer thread of the random schedule: pushes `rows` tagged rows with
/// random pauses, consuming answers whenever the queue is full, then waits
/// for the rest. Returns how often each request was answered.
fn writer(
    queue: Arc<LeafQueue>,
    worker: u32,
    rows: u32,
    rx: Receiver<AnswerMsg>,
    seed: u64,
    deadline: Instant,
) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let mut answered = vec![0u32; rows as usize];
    let count = |answered: &mut Vec<u32>, msg: AnswerMsg| {
        for request in take_answers(&queue, worker, msg) {
            answered[request as usize] += 1;
        }
    };
    for request in 0..rows {
        while push_tagged(&queue, worker, request) == Err(PushError::Full) {
            assert!(Instant::now() < deadline, "writer {worker} stuck");
            if let Ok(msg) = rx.recv_timeout(Duration::from_micros(200)) {
                count(&mut answered, msg);
            }
        }
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(300) as u64));
        }
    }
    while answered.iter().sum::<u32>() < rows {
        let Ok(msg) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        count(&mut answered, msg);
    }
    queue.worker_exited();
    answered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Whatever the limits, timeouts and writer timing, no batch exceeds the
    /// `max_rows` of its call, and every row is answered exactly once.
    #[test]
    fn batches_never_exceed_the_limit_of_their_call(
        capacity in 1usize..=12,
        depth in 2usize..=4,
        rows in proptest::collection::vec(1u32..=30, 1..=3),
        limits in proptest::collection::vec(1usize..=12, 1..=16),
        timeouts_us in proptest::collection::vec(0u64..=1500, 1..=16),
        seed in any::<u64>(),
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (senders, receivers): (Vec<_>, Vec<_>) = rows.iter().map(|_| unbounded()).unzip();
        let queue = Arc::new(LeafQueue::new(capacity, depth, senders).unwrap());
        let writers: Vec<_> = receivers
            .into_iter()
            .zip(&rows)
            .enumerate()
            .map(|(w, (rx, &n))| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || writer(queue, w as u32, n, rx, seed ^ w as u64, deadline))
            })
            .collect();
        let total: u32 = rows.iter().sum();
        let mut rng = Rng::new(seed);
        let mut handed = 0u32;
        let mut held: Vec<Ticket> = Vec::new();
        let mut call = 0;
        while handed < total {
            prop_assert!(Instant::now() < deadline, "consumer stuck at {handed} of {total} rows");
            let max_rows = 1 + (limits[call % limits.len()] - 1) % capacity;
            let timeout = Duration::from_micros(timeouts_us[call % timeouts_us.len()]);
            call += 1;
            match queue.next_batch(max_rows, timeout).unwrap() {
                Some(ticket) => {
                    prop_assert!(
                        (1..=max_rows).contains(&ticket.rows()),
                        "{} rows for max_rows {max_rows}", ticket.rows()
                    );
                    handed += ticket.rows() as u32;
                    held.push(ticket);
                }
                // Nothing came: answer everything held (it may be what the
                // writers wait for).
                None => {
                    for mut t in held.drain(..) {
                        echo(&queue, &mut t);
                    }
                }
            }
            // Hold up to two tickets, answering them in random order.
            while held.len() > rng.below(3) as usize {
                let mut t = held.swap_remove(rng.below(held.len() as u32) as usize);
                echo(&queue, &mut t);
            }
        }
        for mut t in held.drain(..) {
            echo(&queue, &mut t);
        }
        prop_assert_eq!(handed, total);
        for (w, handle) in writers.into_iter().enumerate() {
            let answered = handle.join().expect("writer thread");
            prop_assert!(answered.iter().all(|&n| n == 1), "writer {w}: answers per row {answered:?}");
        }
        prop_assert_eq!(queue.stats().tickets_outstanding, 0);
        prop_assert_eq!(queue.stats().rows, total as u64);
    }
}
