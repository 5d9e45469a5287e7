//! The consumer side of the leaf queue: sealing the tail buffer and handing
//! it out in parts of at most `max_rows` rows.

use std::time::{Duration, Instant};

use super::sync::{self, Ordering};
use super::{Buffer, Consumer, LeafQueue, Ticket, pack, unpack};
use crate::error::{SearchError, SearchResult};

impl LeafQueue {
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
}
