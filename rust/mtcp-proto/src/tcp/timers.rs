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
    /// The earliest deadline armed since [`TimerTable::next_before`] was last asked
    /// (`DISARMED`: none), and the timer that armed it: only arming can make the earliest
    /// deadline earlier (stopping and expiry make it later), so while that timer still holds
    /// it, it is the earliest deadline or no earlier than the one last read (one compare when
    /// arming instead of a scan of every deadline when asked).
    armed_min: u64,
    armed_min_timer: u8,
}

/// The deadline of a timer that is not armed (later than any real instant).
const DISARMED: u64 = u64::MAX;

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable {
            deadlines: [DISARMED; Timer::COUNT],
            armed_min: DISARMED,
            armed_min_timer: 0,
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
        let at = at.total_micros().min(DISARMED - 1);
        self.deadlines[timer as usize] = at;
        if at < self.armed_min {
            self.armed_min = at;
            self.armed_min_timer = timer as u8;
        }
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

    /// The earliest deadline if it is earlier than `kept` (any, without `kept`), else `None`.
    /// For a caller that keeps a wake-up `kept` no later than the earliest deadline when it
    /// last asked (it keeps what this returned, or `None`): then only a deadline armed since
    /// can be earlier, and the earliest of those is known without a scan while its timer
    /// still holds it.
    #[inline]
    pub(super) fn next_before(&mut self, kept: Option<Instant>) -> Option<Instant> {
        let armed = core::mem::replace(&mut self.armed_min, DISARMED);
        let earlier = match kept {
            None => self.next(),
            // Nothing armed since earlier than `kept`: every deadline is at or after it.
            Some(k) if armed >= k.total_micros() => None,
            // Still armed at that deadline, and nothing else can be earlier.
            Some(_) if self.deadlines[self.armed_min_timer as usize] == armed => {
                Some(Instant::from_micros(armed))
            }
            // Stopped or moved since it was armed: ask every timer.
            Some(k) => self.next().filter(|&d| d < k),
        };
        debug_assert_eq!(
            earlier,
            self.next().filter(|&d| kept.is_none_or(|k| d < k)),
            "the deadline armed since the last read is not the earliest one before {kept:?}"
        );
        earlier
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
    fn next_before_answers_only_an_earlier_deadline_armed_since() {
        let mut t = TimerTable::default();
        assert_eq!(t.next_before(None), None);
        t.set(Timer::Retransmit, Instant::from_millis(20));
        assert_eq!(t.next_before(None), Some(Instant::from_millis(20)));
        let kept = Some(Instant::from_millis(20));
        assert_eq!(t.next_before(kept), None, "nothing armed since");
        t.set(Timer::Idle, Instant::from_millis(50));
        assert_eq!(t.next_before(kept), None, "armed later than kept");
        t.set(Timer::DelayedAck, Instant::from_millis(5));
        t.set(Timer::Pace, Instant::from_millis(8));
        assert_eq!(t.next_before(kept), Some(Instant::from_millis(5)));
        let kept = Some(Instant::from_millis(5));
        // The earliest armed since is stopped: the next one armed since is the answer.
        t.set(Timer::Persist, Instant::from_millis(3));
        t.set(Timer::Rack, Instant::from_millis(4));
        t.stop(Timer::Persist);
        assert_eq!(t.next_before(kept), Some(Instant::from_millis(4)));
        let kept = Some(Instant::from_millis(4));
        // Re-armed later after it was the earliest: the scan finds the other one.
        t.set(Timer::TailLossProbe, Instant::from_millis(1));
        t.set(Timer::KeepAlive, Instant::from_millis(2));
        t.set(Timer::TailLossProbe, Instant::from_millis(60));
        assert_eq!(t.next_before(kept), Some(Instant::from_millis(2)));
        t.stop_all();
        assert_eq!(t.next_before(None), None);
    }
}
