//! Wake-ups between threads, on a futex: a notification count that waiters sleep on.
//!
//! The loop thread uses [`Parker::wait`], which consumes notifications: one that came before
//! the wait (even long before) ends it at once, so none is lost.
//!
//! Several waiters (application threads in `epoll_wait` on one context, each on its own epoll
//! instance) use the epoch instead: each reads [`Parker::epoch`] before it looks for events and
//! sleeps with [`Parker::wait_since`] only while no `notify` came since. Nothing is consumed,
//! so one waiter cannot take a wake-up another needed.
//!
//! `notify` runs once per delivered burst (the memory hub calls it from the sender's thread)
//! and takes no lock: it bumps the count and makes a system call only when a waiter sleeps.
//! The kernel compares the count and queues the sleeper atomically (`futex(2)`), so a
//! notification between a waiter's last look and its sleep still wakes it.
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use mtcp_io::sys::futex;

#[derive(Default)]
pub(crate) struct Parker {
    /// Counts notifications (wrapping); the futex word.
    epoch: AtomicU32,
    /// The count [`Parker::wait`] consumed up to.
    consumed: AtomicU32,
    /// Threads between announcing a sleep and leaving it.
    sleepers: AtomicU32,
}

impl Parker {
    pub(crate) fn notify(&self) {
        // SeqCst on both sides (count then sleepers here, sleepers then the kernel's compare
        // of the count in the waits): either this notifier sees the sleeper, or the sleeper's
        // compare sees the new count and it does not sleep.
        self.epoch.fetch_add(1, SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            futex::wake_all(&self.epoch);
        }
    }

    /// Waits until notified or `timeout` passes; consumes every notification so far (the
    /// caller looks for work after this returns).
    pub(crate) fn wait(&self, timeout: Duration) {
        let now = self.epoch.load(SeqCst);
        if self.consumed.swap(now, SeqCst) != now {
            return;
        }
        self.sleep_while(now, timeout);
        self.consumed.store(self.epoch.load(SeqCst), SeqCst);
    }

    /// Sleeps while the count is `seen`, at most `timeout`.
    fn sleep_while(&self, seen: u32, timeout: Duration) {
        self.sleepers.fetch_add(1, SeqCst);
        futex::wait(&self.epoch, seen, timeout);
        self.sleepers.fetch_sub(1, SeqCst);
    }

    /// The notification count, to pass to [`Parker::wait_since`]: read it before looking for
    /// what a notification would announce.
    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.load(SeqCst)
    }

    /// Waits until a notification after `seen` (an earlier [`Parker::epoch`]) or until
    /// `timeout`; returns at once if one came already. Consumes nothing: every waiter that read
    /// the same epoch wakes.
    pub(crate) fn wait_since(&self, seen: u32, timeout: Duration) {
        if self.epoch.load(SeqCst) != seen {
            return;
        }
        self.sleep_while(seen, timeout);
    }
}

impl mtcp_io::Notify for Parker {
    fn notify(&self) {
        Parker::notify(self);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn notify_before_wait_is_kept() {
        let p = Parker::default();
        p.notify();
        let t = Instant::now();
        p.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        // Consumed: the next wait times out.
        let t = Instant::now();
        p.wait(Duration::from_millis(20));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn one_notify_wakes_every_waiter_since_the_same_epoch() {
        // Two epoll_wait callers on one context looked for events, found none, and go to
        // sleep; one notification must wake both (a consumed flag woke only the first).
        for _ in 0..100 {
            let p = Arc::new(Parker::default());
            let seen = p.epoch();
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let q = Arc::clone(&p);
                    std::thread::spawn(move || {
                        let t = Instant::now();
                        q.wait_since(seen, Duration::from_secs(10));
                        t.elapsed()
                    })
                })
                .collect();
            std::thread::yield_now();
            p.notify();
            for w in waiters {
                assert!(w.join().unwrap() < Duration::from_secs(5));
            }
        }
    }

    #[test]
    fn wait_since_returns_at_once_after_a_notify_and_sleeps_without() {
        let p = Parker::default();
        let seen = p.epoch();
        p.notify();
        let t = Instant::now();
        p.wait_since(seen, Duration::from_secs(5));
        p.wait_since(seen, Duration::from_secs(5)); // nothing consumed
        assert!(t.elapsed() < Duration::from_secs(1));
        let t = Instant::now();
        p.wait_since(p.epoch(), Duration::from_millis(20));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn notify_wakes_a_sleeping_waiter() {
        let p = Arc::new(Parker::default());
        for _ in 0..200 {
            let q = Arc::clone(&p);
            let waiter = std::thread::spawn(move || {
                let t = Instant::now();
                q.wait(Duration::from_secs(10));
                t.elapsed()
            });
            std::thread::yield_now();
            p.notify();
            assert!(waiter.join().unwrap() < Duration::from_secs(5));
        }
    }
}
