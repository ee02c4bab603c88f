//! Pacing: data segments spread over the round trip at a rate of gain · cwnd / SRTT instead of
//! leaving as a burst (Linux's `sk_pacing_rate` with `tcp_pacing_ss_ratio` = 200% in slow
//! start and `tcp_pacing_ca_ratio` = 120% in congestion avoidance). A controller that sets
//! its own pacing rate (BBR, draft-ietf-ccwg-bbr §5.6.2) is always paced at that rate, as
//! Linux paces BBR whatever the qdisc. The next release time is the `Timer::Pace` deadline,
//! so the runtime wakes up for it through `poll_timeout`.
use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::timers::Timer;
use crate::time::{Duration, Instant};

/// Pacing gain in slow start, in percent (Linux `tcp_pacing_ss_ratio`).
const SLOW_START_GAIN_PERCENT: u128 = 200;
/// Pacing gain in congestion avoidance, in percent (Linux `tcp_pacing_ca_ratio`).
const AVOIDANCE_GAIN_PERCENT: u128 = 120;
/// With a controller's own pacing rate, data may leave back to back for this long at that
/// rate per release (BBR.send_quantum, draft-ietf-ccwg-bbr §5.6.3; Linux's
/// `tcp_tso_autosize` with the default 1 ms `sk_pacing_shift`) ...
const SEND_QUANTUM_TIME_US: u128 = 1000;
/// ... between 2 segments and 64 KB.
const SEND_QUANTUM_MAX: u128 = 64 * 1024;

impl Connection {
    /// Whether pacing holds data back at `now` (the previous segment's interval has not passed).
    #[inline]
    pub(super) fn paced_out(&self, now: Instant) -> bool {
        let Some(at) = self.timers.get(Timer::Pace) else {
            return false;
        };
        match self.cc.pacing_rate(self.rtt.srtt()) {
            // A send quantum may leave ahead of the schedule, so that a runtime waking up
            // at a coarser granularity than one segment's time still reaches the rate.
            Some(rate) => at > now + self.send_quantum_time(rate),
            None => self.config.pacing && at > now,
        }
    }

    /// How far ahead of the pacing schedule data may leave at `rate` bytes/s: one send
    /// quantum's time.
    fn send_quantum_time(&self, rate: u64) -> Duration {
        let rate = u128::from(rate.max(1));
        let mss = u128::from(self.send_mss());
        let quantum = (rate * SEND_QUANTUM_TIME_US / 1_000_000).clamp(2 * mss, SEND_QUANTUM_MAX);
        Duration::from_micros(u64::try_from(quantum * 1_000_000 / rate).unwrap_or(u64::MAX))
    }

    /// A data segment of `len` bytes just left: the next may follow len / rate later, with
    /// rate = gain · cwnd / SRTT. Nothing is paced before the first RTT sample.
    #[inline]
    pub(super) fn on_paced_segment(&mut self, now: Instant, len: usize) {
        // Neither the controller (BBR) nor the configuration paces: the usual case.
        if !self.config.pacing && self.cc.pacing_rate(self.rtt.srtt()).is_none() {
            return;
        }
        self.pace_segment(now, len);
    }

    /// `on_paced_segment` when something paces.
    #[inline(never)]
    fn pace_segment(&mut self, now: Instant, len: usize) {
        if let Some(rate) = self.cc.pacing_rate(self.rtt.srtt()) {
            // The schedule advances by the segment's time at the rate; idle time earns no
            // credit beyond the send quantum.
            let interval = len as u128 * 1_000_000 / u128::from(rate.max(1));
            let interval = Duration::from_micros(u64::try_from(interval).unwrap_or(u64::MAX));
            let from = self.timers.get(Timer::Pace).map_or(now, |at| at.max(now));
            self.timers.set(Timer::Pace, from + interval);
            return;
        }
        if !self.config.pacing {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        let cwnd = self.cc.window().max(1) as u128;
        let gain = if self.cc.window() < self.cc.ssthresh() {
            SLOW_START_GAIN_PERCENT
        } else {
            AVOIDANCE_GAIN_PERCENT
        };
        let interval = len as u128 * u128::from(srtt.total_micros()) * 100 / (gain * cwnd);
        let interval = Duration::from_micros(u64::try_from(interval).unwrap_or(u64::MAX));
        self.timers.set(Timer::Pace, now + interval);
    }
}
