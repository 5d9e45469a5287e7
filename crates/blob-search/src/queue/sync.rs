//! The primitives the queue's protocol runs on: std's, or loom's under
//! `--cfg loom`, so that `tests/loom_queue.rs` can explore every
//! interleaving of the real code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex};
pub(crate) use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex};

/// Lets other threads run while this one waits for a writer that is
/// between its claim and its `written` bump (a few hundred nanoseconds).
#[inline]
pub(crate) fn pause() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

/// Marks reads and writes of one row's raw memory, which loom cannot see,
/// so that loom checks them for data races against the protocol's
/// happens-before edges. Compiles to nothing outside loom.
#[cfg(loom)]
pub(crate) struct Access(loom::cell::UnsafeCell<()>);

// SAFETY: `Access` guards nothing itself; it stands for row memory whose
// sharing the queue's protocol governs, and which loom checks through it.
#[cfg(loom)]
unsafe impl Sync for Access {}

#[cfg(loom)]
impl Access {
    pub(crate) fn new() -> Access {
        Access(loom::cell::UnsafeCell::new(()))
    }
    pub(crate) fn read(&self) {
        self.0.with(|_| ());
    }
    pub(crate) fn write(&self) {
        self.0.with_mut(|_| ());
    }
}

#[cfg(not(loom))]
pub(crate) struct Access;

#[cfg(not(loom))]
impl Access {
    #[inline(always)]
    pub(crate) fn new() -> Access {
        Access
    }
    #[inline(always)]
    pub(crate) fn read(&self) {}
    #[inline(always)]
    pub(crate) fn write(&self) {}
}
