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

/// A deadline per timer, in microseconds, `DISARMED` when not armed: plain integers, so that
/// [`TimerTable::next`] (asked after every segment and every API call) is a branch-free
/// minimum over the array instead of a walk over options.
#[derive(Clone)]
pub(super) struct TimerTable {
    deadlines: [u64; Timer::COUNT],
    /// A timer was armed since [`TimerTable::next_if_armed`] last answered: only arming can
    /// make the earliest deadline earlier (stopping and expiry make it later).
    armed_since_read: bool,
}

/// The deadline of a timer that is not armed (later than any real instant).
const DISARMED: u64 = u64::MAX;

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable {
            deadlines: [DISARMED; Timer::COUNT],
            armed_since_read: false,
        }
    }
}

impl core::fmt::Debug for TimerTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map()
            .entries(
                Timer::ALL
                    .iter()
                    .filter_map(|&t| self.get(t).map(|at| (t, at))),
            )
            .finish()
    }
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        // An instant at u64::MAX µs (half a million years away) would read as disarmed: it
        // is kept armed one microsecond earlier.
        self.deadlines[timer as usize] = at.total_micros().min(DISARMED - 1);
        self.armed_since_read = true;
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        let at = self.deadlines[timer as usize];
        (at != DISARMED).then(|| Instant::from_micros(at))
    }

    pub(super) fn is_armed(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize] != DISARMED
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = DISARMED;
    }

    pub(super) fn stop_all(&mut self) {
        self.deadlines = [DISARMED; Timer::COUNT];
    }

    /// The earliest deadline.
    #[inline]
    pub(super) fn next(&self) -> Option<Instant> {
        let earliest = self.deadlines.iter().fold(DISARMED, |a, &b| a.min(b));
        (earliest != DISARMED).then(|| Instant::from_micros(earliest))
    }

    /// The earliest deadline, or `None` when no timer was armed since the last call that
    /// answered and `known` is set: the earliest deadline is then no earlier than the one
    /// that call returned, which a caller that keeps `known` at or before it need not read.
    #[inline]
    pub(super) fn next_if_armed(&mut self, known: bool) -> Option<Instant> {
        if known && !self.armed_since_read {
            return None;
        }
        self.armed_since_read = false;
        self.next()
    }

    /// Whether `timer` is armed with a deadline at or before `now`; if so it is disarmed.
    pub(super) fn expire(&mut self, timer: Timer, now: Instant) -> bool {
        let at = self.deadlines[timer as usize];
        if at != DISARMED && at <= now.total_micros() {
            self.stop(timer);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_earliest_armed_deadline() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Idle, Instant::from_millis(50));
        t.set(Timer::Retransmit, Instant::from_millis(20));
        t.set(Timer::Pace, Instant::from_millis(30));
        assert_eq!(t.next(), Some(Instant::from_millis(20)));
        t.stop(Timer::Retransmit);
        assert_eq!(t.next(), Some(Instant::from_millis(30)));
        assert!(!t.expire(Timer::Pace, Instant::from_millis(29)));
        assert!(t.expire(Timer::Pace, Instant::from_millis(30)));
        assert!(!t.is_armed(Timer::Pace));
        assert_eq!(t.get(Timer::Idle), Some(Instant::from_millis(50)));
        t.set(Timer::Rack, Instant::from_micros(u64::MAX));
        assert_eq!(t.get(Timer::Rack), Some(Instant::from_micros(u64::MAX - 1)));
        assert_eq!(t.next(), Some(Instant::from_millis(50)));
        t.stop_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn next_if_armed_answers_after_an_arming_or_without_a_known_deadline() {
        let mut t = TimerTable::default();
        t.set(Timer::Retransmit, Instant::from_millis(20));
        assert_eq!(t.next_if_armed(true), Some(Instant::from_millis(20)));
        assert_eq!(t.next_if_armed(true), None, "nothing armed since");
        t.stop(Timer::Retransmit);
        t.set(Timer::Idle, Instant::from_millis(50));
        t.stop(Timer::Idle);
        assert_eq!(t.next_if_armed(true), None, "armed then stopped");
        t.set(Timer::DelayedAck, Instant::from_millis(5));
        assert_eq!(t.next_if_armed(true), Some(Instant::from_millis(5)));
        assert_eq!(t.next_if_armed(false), Some(Instant::from_millis(5)));
    }
}
