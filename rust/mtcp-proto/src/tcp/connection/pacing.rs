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

impl Connection {
    /// Whether pacing holds data back at `now` (the previous segment's interval has not passed).
    pub(super) fn paced_out(&self, now: Instant) -> bool {
        let paced = self.config.pacing || self.cc.pacing_rate(self.rtt.srtt()).is_some();
        paced && self.timers.get(Timer::Pace).is_some_and(|at| at > now)
    }

    /// A data segment of `len` bytes just left: the next may follow len / rate later, with
    /// rate = gain · cwnd / SRTT. Nothing is paced before the first RTT sample.
    pub(super) fn on_paced_segment(&mut self, now: Instant, len: usize) {
        if let Some(rate) = self.cc.pacing_rate(self.rtt.srtt()) {
            let interval = len as u128 * 1_000_000 / u128::from(rate.max(1));
            let interval = Duration::from_micros(u64::try_from(interval).unwrap_or(u64::MAX));
            self.timers.set(Timer::Pace, now + interval);
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
