//! A one-bit wake-up flag with a condition variable: `notify` never gets lost, even when it
//! comes before `wait` (the flag stays set until a waiter consumes it).
//!
//! `notify` runs once per delivered burst (the memory hub calls it from the sender's thread),
//! so it takes no lock unless a waiter is actually asleep: the flag and the sleeper count are
//! atomics, and the mutex only orders a notifier against a waiter going to sleep.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Parker {
    notified: AtomicBool,
    /// Waiters between registering under `lock` and leaving `wait`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn notify(&self) {
        // SeqCst on both sides (flag then count here, count then flag in `wait`): either this
        // notifier sees the sleeper, or the sleeper sees the flag and does not sleep.
        if !self.notified.swap(true, SeqCst) && self.sleepers.load(SeqCst) > 0 {
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
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, SeqCst);
        let guard = if self.notified.load(SeqCst) {
            guard
        } else {
            self.cond
                .wait_timeout(guard, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0)
        };
        self.sleepers.fetch_sub(1, SeqCst);
        drop(guard);
        self.notified.store(false, SeqCst);
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
