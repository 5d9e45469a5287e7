//! Loom model tests of the leaf queue's claim / seal / answer / free
//! protocol: loom runs each case under every interleaving it can reach (with
//! the default preemption bound) and fails on a data race on row memory, a
//! deadlock, or a wrong answer.
//!
//! Run (well under a minute in release):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p blob-search --release --test loom_queue
//! ```
//!
//! Use a separate target dir (`CARGO_TARGET_DIR=target/loom`) to keep the
//! normal build's cache. Without `--cfg loom` this file is empty; the real
//! threads and timings are exercised by `queue.rs` and `engine.rs`.

#![cfg(loom)]

use blob_core::{MAX_PLAYERS, NUM_ACTIONS};
use blob_search::queue::{AnswerMsg, AnswerSink, Handle, LeafQueue, PushError, Ticket};
use loom::sync::Arc;
use loom::sync::mpsc::{Receiver, Sender, channel};
use loom::thread;

/// A worker's answer channel, on loom's primitives so that loom sees the
/// happens-before edge from the answerer to the worker.
struct LoomSink(loom::sync::Mutex<Sender<AnswerMsg>>);

impl AnswerSink for LoomSink {
    fn deliver(&self, msg: AnswerMsg) -> bool {
        self.0.lock().unwrap().send(msg).is_ok()
    }
}

fn queue(
    capacity: usize,
    depth: usize,
    workers: usize,
) -> (Arc<LeafQueue>, Vec<Receiver<AnswerMsg>>) {
    let (sinks, receivers): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| {
            let (tx, rx) = channel();
            (LoomSink(loom::sync::Mutex::new(tx)), rx)
        })
        .unzip();
    (
        Arc::new(LeafQueue::new(capacity, depth, sinks).unwrap()),
        receivers,
    )
}

/// `loom::model` with at most two preemptions per execution unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise: the protocol bugs this looks for
/// (a read before a write is published, a buffer reused under a reader,
/// a lost row) need only one or two; unbounded, the spin loops of the
/// consumer and of writers facing a full queue make the search far too long.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

fn tag(worker: u32, request: u32) -> f32 {
    (worker * 100 + request) as f32
}

/// Pushes one tagged row, yielding while the queue is full.
fn push(queue: &LeafQueue, worker: u32, request: u32) {
    loop {
        let pushed = queue.push(|row| {
            row.obs[0] = tag(worker, request);
            *row.handle = Handle { worker, request };
        });
        match pushed {
            Ok(()) => return,
            Err(PushError::Full) => thread::yield_now(),
            Err(PushError::Closed) => panic!("closed"),
        }
    }
}

/// Receives answers until `count` rows of `worker` are answered; checks each
/// answer is the echo of its own row.
fn receive(queue: &LeafQueue, rx: &Receiver<AnswerMsg>, worker: u32, count: usize) {
    let mut seen = 0;
    while seen < count {
        let msg = rx.recv().unwrap();
        for answer in queue.answers(&msg) {
            assert_eq!(answer.handle.worker, worker);
            let expected = tag(worker, answer.handle.request);
            assert_eq!(answer.policy[0], expected);
            assert_eq!(answer.values[MAX_PLAYERS - 1], expected);
            seen += 1;
        }
        queue.consumed(msg);
    }
    assert_eq!(seen, count);
}

/// Echoes each row's tag into its answer.
fn echo(queue: &LeafQueue, ticket: &mut Ticket) {
    queue
        .answer_with(ticket, |batch, policy, values| {
            for i in 0..batch.len() {
                let t = batch.obs_row(i)[0];
                policy[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS].fill(t);
                values[i * MAX_PLAYERS..(i + 1) * MAX_PLAYERS].fill(t);
            }
            Ok(())
        })
        .unwrap();
}

/// Hands out batches of at most `max_rows` (sealing whatever is there when
/// `seal`) until `rows` rows came, answering each at once.
fn serve(queue: &LeafQueue, rows: usize, max_rows: usize, seal: bool) {
    let mut handed = 0;
    while handed < rows {
        match queue.try_next_batch(max_rows, seal).unwrap() {
            Some(mut ticket) => {
                assert!(ticket.rows() <= max_rows);
                handed += ticket.rows();
                echo(queue, &mut ticket);
            }
            None => thread::yield_now(),
        }
    }
    assert_eq!(handed, rows);
}

/// Two workers claim rows of one buffer while the consumer seals it with
/// whatever is there: each row lands in exactly one batch, is read only
/// after it was written, and its answer reaches its worker.
#[test]
fn concurrent_claims_and_an_early_seal() {
    model(|| {
        let (queue, mut receivers) = queue(2, 2, 2);
        let workers: Vec<_> = (0..2u32)
            .rev()
            .map(|w| {
                let queue = Arc::clone(&queue);
                let rx = receivers.pop().unwrap();
                thread::spawn(move || {
                    push(&queue, w, 0);
                    receive(&queue, &rx, w, 1);
                })
            })
            .collect();
        serve(&queue, 2, 2, true);
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// A full buffer handed out in parts smaller than it, answered on two
/// threads; then the buffer is reused (capacity 1 row per buffer would hide
/// the split, so the worker writes two rows, then a third into the recycled
/// buffer once the first two are consumed).
#[test]
fn split_parts_answered_concurrently_then_reused() {
    model(|| {
        let (queue, mut receivers) = queue(2, 2, 1);
        let rx = receivers.pop().unwrap();
        let worker = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                push(&queue, 0, 0);
                push(&queue, 0, 1);
                receive(&queue, &rx, 0, 2);
                push(&queue, 0, 2);
                receive(&queue, &rx, 0, 1);
            })
        };
        // Two one-row parts: of generation 0 split, or (when the consumer
        // lowered the limit before the rows came) of generations 0 and 1.
        let mut parts = Vec::new();
        while parts.len() < 2 {
            match queue.try_next_batch(1, false).unwrap() {
                Some(ticket) => parts.push(ticket),
                None => thread::yield_now(),
            }
        }
        assert!(parts.iter().all(|t| t.rows() == 1));
        let mut second = parts.pop().unwrap();
        let answerer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || echo(&queue, &mut second))
        };
        echo(&queue, &mut parts[0]);
        answerer.join().unwrap();
        // The third row, sealed at once.
        serve(&queue, 1, 2, true);
        worker.join().unwrap();
    });
}

/// Buffers recycled through a ring of two with one-row buffers: the
/// worker's rows of generation g + 2 are written into the memory the
/// consumer read and answered for generation g, and loom checks that every
/// read of the old contents happens before the new writes.
#[test]
fn recycled_buffers_do_not_race() {
    model(|| {
        let (queue, mut receivers) = queue(1, 2, 1);
        let rx = receivers.pop().unwrap();
        let worker = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                push(&queue, 0, 0);
                push(&queue, 0, 1);
                // Generation 2 needs generation 0's buffer: free once its
                // answer is consumed.
                receive(&queue, &rx, 0, 1);
                push(&queue, 0, 2);
                receive(&queue, &rx, 0, 2);
            })
        };
        serve(&queue, 3, 1, false);
        worker.join().unwrap();
    });
}
