//! The engine's counters. Each one is declared once, in the list below: the
//! per-worker struct, the shared totals, publishing and the snapshot in
//! [`EngineStats`] (and so the Python `stats()` dict) all follow from it.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! worker_counts {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// What the workers count. Each worker counts into its own copy and
        /// publishes it to the engine's totals as it goes.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct WorkerCounts {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl WorkerCounts {
            /// Every counter with its name, in declaration order.
            pub fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($name), self.$name), )*]
            }
        }

        /// The engine's totals of [`WorkerCounts`].
        #[derive(Default)]
        pub(super) struct SharedCounts {
            $( $name: AtomicU64, )*
        }

        impl SharedCounts {
            /// Adds `local` to the totals and zeroes it.
            pub(super) fn publish(&self, local: &mut WorkerCounts) {
                $(
                    let n = std::mem::take(&mut local.$name);
                    if n != 0 {
                        self.$name.fetch_add(n, Ordering::Relaxed);
                    }
                )*
            }

            pub(super) fn snapshot(&self) -> WorkerCounts {
                WorkerCounts { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

worker_counts! {
    /// Rounds played to the end.
    rounds,
    /// Example rows produced (one per seat and decision).
    examples,
    /// Searched decisions.
    decisions,
    /// Of those, the fast searches of playout-cap randomisation (no policy
    /// target recorded).
    fast_decisions,
    /// Moves played without a search (one legal action).
    forced_moves,
    /// Simulations: leaves expanded, answered or terminal.
    simulations,
    /// Leaves answered from a worker's answer cache.
    cache_hits,
    /// Leaves that missed an enabled cache.
    cache_misses,
    /// Leaves that waited on an identical request already queued.
    shared_requests,
    /// Leaves resolved exactly at the end of the round.
    terminal_leaves,
    /// Answers that matched no outstanding request (must stay 0).
    stray_answers,
}

/// Counters of a running engine.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineStats {
    /// What the workers counted.
    pub counts: WorkerCounts,
    /// Leaves handed to the evaluator (rows of handed-out batches).
    pub leaves_evaluated: u64,
    pub batches: u64,
    /// Rows in the buffer being filled.
    pub queue_depth: u64,
    /// Batches handed out and not answered yet.
    pub tickets_outstanding: u64,
    pub workers_running: u64,
}
