//! Waking a parked context loop when a kernel descriptor becomes readable.
//!
//! The context's loop thread parks on a futex ([`Notify`]), not on a descriptor, so a backend
//! that receives through a file descriptor (TAP, AF_PACKET) lends it a small helper thread: it
//! `poll(2)`s the descriptor and calls [`Notify::notify`] once data is there.
//!
//! To keep the helper from spinning while the loop has not yet read what woke it, the helper
//! only watches the data descriptor while *armed*. A notification disarms it; the queue re-arms
//! it from `rx_burst` once it finds nothing more to read, ringing an eventfd so the helper
//! looks again. `poll` is level-triggered, so data that arrives between the last read and the
//! re-arm is seen at once. Cost per wake-up: one `poll` return and one `notify` (a futex
//! wake-up) in the helper, and one `eventfd` write in the loop thread when it re-arms — a few
//! microseconds of CPU, nothing per frame while traffic flows (the loop then does not park).
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::sys::fd::{poll_readable, EventFd};
use crate::Notify;

struct Shared {
    /// What the helper watches: the receive descriptor and, for some backends, a second one.
    data_fds: [Option<RawFd>; 2],
    /// Set while the helper should watch `data_fd`.
    armed: AtomicBool,
    stop: AtomicBool,
    bell: EventFd,
    /// Who to wake; read by the helper only after `notify_generation` moves (the lock is
    /// taken once per `set_notify`, never per wake-up).
    notify: Mutex<Option<Arc<dyn Notify>>>,
    /// Counts `set_notify` calls.
    notify_generation: AtomicU64,
}

/// The helper thread of one receive descriptor. Dropping it stops and joins the thread, so it
/// must be dropped before the descriptor is closed (declare it before the descriptor's owner).
pub(crate) struct FdWaker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl FdWaker {
    /// A waker for `data_fd`; the thread starts with the first [`FdWaker::set_notify`].
    pub(crate) fn new(data_fd: RawFd) -> io::Result<FdWaker> {
        FdWaker::watching(data_fd, None)
    }

    /// A waker for `data_fd` and, when given, `extra` (either readable wakes the loop).
    pub(crate) fn watching(data_fd: RawFd, extra: Option<RawFd>) -> io::Result<FdWaker> {
        Ok(FdWaker {
            shared: Arc::new(Shared {
                data_fds: [Some(data_fd), extra],
                armed: AtomicBool::new(true),
                stop: AtomicBool::new(false),
                bell: EventFd::new()?,
                notify: Mutex::new(None),
                notify_generation: AtomicU64::new(0),
            }),
            thread: None,
        })
    }

    /// Sets who to wake, starting the helper thread if needed.
    pub(crate) fn set_notify(&mut self, notify: Arc<dyn Notify>, name: &str) {
        *self.shared.notify.lock().unwrap_or_else(|e| e.into_inner()) = Some(notify);
        self.shared.notify_generation.fetch_add(1, Ordering::AcqRel);
        if self.thread.is_none() {
            let shared = Arc::clone(&self.shared);
            // If the thread can't start, the loop still runs: it wakes on its park timeout.
            self.thread = std::thread::Builder::new()
                .name(format!("mtcp-rx-{name}"))
                .spawn(move || run(&shared))
                .ok();
        }
        self.shared.bell.ring();
    }

    /// Called by the receive path after it found nothing more to read.
    #[inline]
    pub(crate) fn rearm(&self) {
        if self.thread.is_some() && !self.shared.armed.load(Ordering::Relaxed) {
            self.shared.armed.store(true, Ordering::Release);
            self.shared.bell.ring();
        }
    }
}

fn run(shared: &Shared) {
    let mut notify: Option<Arc<dyn Notify>> = None;
    let mut seen_generation = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let armed = shared.armed.load(Ordering::Acquire);
        let watched = if armed { shared.data_fds } else { [None; 2] };
        let ready = poll_readable(shared.bell.raw(), watched, -1);
        if ready.bell {
            shared.bell.drain();
        }
        if ready.data && shared.armed.swap(false, Ordering::AcqRel) {
            let generation = shared.notify_generation.load(Ordering::Acquire);
            if generation != seen_generation {
                notify = shared
                    .notify
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                seen_generation = generation;
            }
            if let Some(notify) = &notify {
                notify.notify();
            }
        }
    }
}

impl Drop for FdWaker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.bell.ring();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
