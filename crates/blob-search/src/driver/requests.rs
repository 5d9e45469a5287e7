//! One worker's evaluation requests: a leaf is answered from the cache,
//! shares an identical request already in flight, or becomes a new request
//! written into the queue (held in an outbox while the queue is full).
//! Whichever way, the answer reaches every waiting leaf through the same
//! `resolve` callback, so a tree's course depends only on the answers.

use std::collections::VecDeque;
use std::time::Duration;

use blob_core::game::GameContext;
use blob_core::observation::encode_observation;
use blob_core::{MAX_PLAYERS, NUM_ACTIONS, Round};

use super::counters::WorkerCounts;
use crate::cache::{AnswerCache, CachedAnswer, KeyMap, MAX_LEGAL, info_key};
use crate::queue::{AnswerMsg, Handle, LeafQueue, PushError};
use crate::tree::masked_softmax;

/// A leaf waiting for an answer: which game slot, tree and node.
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiter {
    pub game: u32,
    pub tree: u32,
    pub node: u32,
}

/// A request for one information state, shared by every leaf that has it.
struct Request {
    key: u64,
    waiters: Vec<Waiter>,
    /// Kept for a request that could not be queued yet (queue full).
    state: Round,
    observer: u8,
    context: Option<GameContext>,
}

/// The requests of one worker.
pub(super) struct Requests {
    worker: u32,
    slots: Vec<Option<Request>>,
    free: Vec<u32>,
    live: usize,
    inflight: KeyMap<u32>,
    /// Requests that found the queue full, oldest first.
    outbox: VecDeque<u32>,
    /// Cache hits waiting to be applied at the end of the current step.
    ready: Vec<(Waiter, CachedAnswer)>,
    cache: AnswerCache,
    scratch: Vec<(u8, f32)>,
}

impl Requests {
    pub(super) fn new(worker: usize, cache_entries: usize) -> Requests {
        Requests {
            worker: worker as u32,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            inflight: KeyMap::default(),
            outbox: VecDeque::new(),
            ready: Vec::new(),
            cache: AnswerCache::new(cache_entries),
            scratch: Vec::with_capacity(NUM_ACTIONS),
        }
    }

    /// Requests not answered yet.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Whether every request is in the queue (none held back).
    pub(super) fn outbox_is_empty(&self) -> bool {
        self.outbox.is_empty()
    }

    /// Asks for the evaluation of leaf `state` from the observation of
    /// `observer` (the searching seat), in the game context given by
    /// `context` and its hash `context_key`.
    pub(super) fn request(
        &mut self,
        queue: &LeafQueue,
        waiter: Waiter,
        state: Round,
        observer: usize,
        (context, context_key): (Option<GameContext>, u64),
        counts: &mut WorkerCounts,
    ) {
        let key = info_key(&state, observer, context_key);
        if let Some(answer) = self.cache.get(key) {
            self.ready.push((waiter, *answer));
            return;
        }
        if let Some(&id) = self.inflight.get(&key)
            && let Some(req) = self.slots[id as usize].as_mut()
        {
            req.waiters.push(waiter);
            counts.shared_requests += 1;
            return;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[id as usize] = Some(Request {
            key,
            waiters: vec![waiter],
            state,
            observer: observer as u8,
            context,
        });
        self.live += 1;
        self.inflight.insert(key, id);
        if !self.outbox.is_empty() || !self.push(queue, id) {
            self.outbox.push_back(id);
        }
    }

    /// Writes request `id` into the queue. False when the queue is full.
    fn push(&self, queue: &LeafQueue, id: u32) -> bool {
        let Some(req) = self.slots[id as usize].as_ref() else {
            return true;
        };
        let state = &req.state;
        let worker = self.worker;
        let pushed = queue.push(|row| {
            encode_observation(state, req.observer as usize, req.context.as_ref(), row.obs);
            *row.observer = req.observer;
            *row.mask = state.legal_actions().to_mask();
            *row.handle = Handle {
                worker,
                request: id,
            };
            *row.state = *state;
        });
        !matches!(pushed, Err(PushError::Full))
    }

    /// Queues held-back requests, oldest first, until the queue is full.
    pub(super) fn flush_outbox(&mut self, queue: &LeafQueue) -> bool {
        let mut progressed = false;
        while let Some(&id) = self.outbox.front() {
            if !self.push(queue, id) {
                break;
            }
            self.outbox.pop_front();
            progressed = true;
        }
        progressed
    }

    /// Takes the answers of `msg`: caches each and passes it to every leaf
    /// waiting on it. Returns the number of answers that matched no request.
    pub(super) fn on_answers(
        &mut self,
        queue: &LeafQueue,
        msg: AnswerMsg,
        mut resolve: impl FnMut(Waiter, &CachedAnswer),
    ) -> u64 {
        let mut stray = 0;
        for answer in queue.answers(&msg) {
            let id = answer.handle.request;
            let Some(req) = self.slots.get_mut(id as usize).and_then(Option::take) else {
                stray += 1;
                continue;
            };
            self.free.push(id);
            self.live -= 1;
            self.inflight.remove(&req.key);
            let legal = req.state.legal_actions();
            masked_softmax(answer.policy, legal, &mut self.scratch);
            let mut cached = CachedAnswer {
                priors: [0.0; MAX_LEGAL],
                values: [0.0; MAX_PLAYERS],
            };
            for (slot, &(_, p)) in cached.priors.iter_mut().zip(&self.scratch) {
                *slot = p;
            }
            cached.values.copy_from_slice(answer.values);
            self.cache.insert(req.key, cached);
            for waiter in req.waiters {
                resolve(waiter, &cached);
            }
        }
        queue.consumed(msg);
        stray
    }

    /// Passes the cache hits of this step to their leaves.
    pub(super) fn apply_ready(&mut self, mut resolve: impl FnMut(Waiter, &CachedAnswer)) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        for (waiter, answer) in self.ready.drain(..) {
            resolve(waiter, &answer);
        }
        true
    }

    /// Moves the cache's hit and miss counts into `counts`.
    pub(super) fn count_cache(&mut self, counts: &mut WorkerCounts) {
        counts.cache_hits += std::mem::take(&mut self.cache.hits);
        counts.cache_misses += std::mem::take(&mut self.cache.misses);
    }
}

/// A worker with nothing to do waits a little for answers with `receive`:
/// briefly while requests are held back by a full queue, longer otherwise.
/// While it waits on answers alone (`live` requests out, none held back) it
/// counts as idle on `queues`, so a partial batch goes out now.
pub(super) fn wait_for_answers<T>(
    queues: &[LeafQueue],
    holding_back: bool,
    live: usize,
    receive: impl FnOnce(Duration) -> T,
) -> T {
    let idle = !holding_back && live > 0;
    let wait = if holding_back {
        Duration::from_micros(200)
    } else {
        Duration::from_millis(2)
    };
    if idle {
        queues.iter().for_each(|q| q.set_idle(true));
    }
    let received = receive(wait);
    if idle {
        queues.iter().for_each(|q| q.set_idle(false));
    }
    received
}
