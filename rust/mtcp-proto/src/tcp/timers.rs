//! The connection's timers as plain data: one optional deadline per [`Timer`] (quinn's
//! `TimerTable` pattern). The runtime needs a single wake-up: [`TimerTable::next`].
use crate::time::Instant;

/// The timers of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Retransmission timeout (RFC 6298 §5).
    Retransmit,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist,
    /// Delayed acknowledgment (RFC 9293 §3.8.6.3).
    DelayedAck,
    /// 2·MSL wait in TIME-WAIT (RFC 9293 §3.6), length from `TcpConfig::timewait`.
    TimeWait,
    /// Idle connection timeout (mTCP's `tcp_timeout`).
    Idle,
    /// RACK reordering window expiry (RFC 8985 §6.3).
    Rack,
    /// Tail loss probe timeout, PTO (RFC 8985 §7.2).
    TailLossProbe,
    /// Keepalive: idle time, then the probe interval (RFC 1122 §4.2.3.6).
    KeepAlive,
    /// Pacing: when the next data segment may leave (`TcpConfig::pacing`).
    Pace,
}

impl Timer {
    const COUNT: usize = 9;
    /// In the order they fire when due together: a tail loss probe due with the RTO goes
    /// first and pushes the RTO back (RFC 8985 §7.3), as the PTO is never later than the RTO.
    pub(super) const ALL: [Timer; Timer::COUNT] = [
        Timer::TailLossProbe,
        Timer::Retransmit,
        Timer::Persist,
        Timer::DelayedAck,
        Timer::TimeWait,
        Timer::Idle,
        Timer::Rack,
        Timer::KeepAlive,
        Timer::Pace,
    ];
}

/// A deadline per timer.
#[derive(Debug, Clone, Default)]
pub(super) struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(super) fn is_armed(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(super) fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether `timer` is armed with a deadline at or before `now`; if so it is disarmed.
    pub(super) fn expire(&mut self, timer: Timer, now: Instant) -> bool {
        match self.get(timer) {
            Some(at) if at <= now => {
                self.stop(timer);
                true
            }
            _ => false,
        }
    }
}
