//! A one-bit wake-up flag with a condition variable: `notify` never gets lost, even when it
//! comes before `wait` (the flag stays set until a waiter consumes it).
//!
//! Several waiters (application threads in `epoll_wait` on one context, each on its own epoll
//! instance) use the epoch instead: each reads [`Parker::epoch`] before it looks for events and
//! sleeps with [`Parker::wait_since`] only while no `notify` came since. Nothing is consumed,
//! so one waiter cannot take a wake-up another needed (with the flag, the second slept through
//! its events until its timeout).
//!
//! `notify` runs once per delivered burst (the memory hub calls it from the sender's thread),
//! so it takes no lock unless a waiter is actually asleep: the flag and the sleeper count are
//! atomics, and the mutex only orders a notifier against a waiter going to sleep.
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Parker {
    notified: AtomicBool,
    /// Counts notifications, for [`Parker::wait_since`].
    epoch: AtomicU64,
    /// Waiters between registering under `lock` and leaving `wait` or `wait_since`.
    sleepers: AtomicUsize,
    /// Of those, the ones in `wait_since`.
    epoch_sleepers: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn notify(&self) {
        self.epoch.fetch_add(1, SeqCst);
        // SeqCst on both sides (flag/epoch then count here, count then flag/epoch in the
        // waits): either this notifier sees the sleeper, or the sleeper sees the change and
        // does not sleep. A sleeper in `wait_since` needs the signal even when the flag was
        // already set (it does not look at the flag).
        let newly = !self.notified.swap(true, SeqCst);
        if (newly || self.epoch_sleepers.load(SeqCst) > 0) && self.sleepers.load(SeqCst) > 0 {
            // The waiter holds the lock until it is inside `wait_timeout`: taking it here
            // means the signal cannot fall between its check and its sleep.
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cond.notify_all();
        }
    }

    /// Waits until notified or `timeout` passes; consumes the notification.
    pub(crate) fn wait(&self, timeout: Duration) {
        if self.notified.swap(false, SeqCst) {
            return;
        }
        self.sleep_unless(|| self.notified.load(SeqCst), timeout);
        self.notified.store(false, SeqCst);
    }

    /// Sleeps at most `timeout` unless `ready()` holds once this waiter is registered as a
    /// sleeper (under the lock, so a notifier that sees it cannot signal before the sleep).
    fn sleep_unless(&self, ready: impl Fn() -> bool, timeout: Duration) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, SeqCst);
        let guard = if ready() {
            guard
        } else {
            self.cond
                .wait_timeout(guard, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0)
        };
        self.sleepers.fetch_sub(1, SeqCst);
        drop(guard);
    }
}

impl Parker {
    /// The notification count, to pass to [`Parker::wait_since`]: read it before looking for
    /// what a notification would announce.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Waits until a notification after `seen` (an earlier [`Parker::epoch`]) or until
    /// `timeout`; returns at once if one came already. Consumes nothing: every waiter that read
    /// the same epoch wakes.
    pub(crate) fn wait_since(&self, seen: u64, timeout: Duration) {
        if self.epoch.load(SeqCst) != seen {
            return;
        }
        // Counted before it registers as a sleeper, so a notifier that sees the sleeper also
        // sees that it waits on the epoch.
        self.epoch_sleepers.fetch_add(1, SeqCst);
        self.sleep_unless(|| self.epoch.load(SeqCst) != seen, timeout);
        self.epoch_sleepers.fetch_sub(1, SeqCst);
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
