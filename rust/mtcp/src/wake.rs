//! A one-bit wake-up flag with a condition variable: `notify` never gets lost, even when it
//! comes before `wait` (the flag stays set until a waiter consumes it).
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Parker {
    flag: Mutex<bool>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn notify(&self) {
        let mut flag = self.flag.lock().unwrap_or_else(|e| e.into_inner());
        if !*flag {
            *flag = true;
            self.cond.notify_all();
        }
    }

    /// Waits until notified or `timeout` passes; consumes the notification.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut flag = self.flag.lock().unwrap_or_else(|e| e.into_inner());
        if !*flag {
            flag = self
                .cond
                .wait_timeout(flag, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *flag = false;
    }
}

impl mtcp_io::Notify for Parker {
    fn notify(&self) {
        Parker::notify(self);
    }
}
