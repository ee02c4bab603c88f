//! Congestion control (RFC 5681) behind a small trait: NewReno, CUBIC (RFC 9438) and BBR
//! (`bbr.rs`, Linux's `tcp_bbr.c`). The loss-recovery state machine (duplicate ACKs,
//! NewReno's recovery point, RFC 6582; the SACK scoreboard, RFC 6675; RACK-TLP, RFC 8985)
//! lives in the connection; this module only owns cwnd, ssthresh and, for BBR, the pacing
//! rate.
use super::bbr::{Bbr, BbrInfo};
use super::delivery_rate::RateSample;
use crate::time::{Duration, Instant};

/// Which congestion controller a connection uses (Linux's `TCP_CONGESTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// NewReno (RFC 5681, RFC 6582).
    NewReno,
    /// CUBIC (RFC 9438), Linux's default.
    #[default]
    Cubic,
    /// BBR v1 (Linux `tcp_bbr.c`; draft-ietf-ccwg-bbr): model-based, paced, no window
    /// reduction on random loss.
    Bbr,
}

/// What one ACK told the sender, for a model-based controller (Linux's `struct
/// rate_sample` plus the connection state `bbr_main` reads). Bytes throughout.
#[derive(Debug, Clone, Copy)]
pub(super) struct AckSample {
    /// The delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation §3.3).
    pub(super) rate: RateSample,
    /// Bytes in flight (RFC 6675 pipe) before the ACK was processed.
    pub(super) prior_in_flight: usize,
    /// Bytes in flight after it.
    pub(super) in_flight: usize,
    /// Bytes this ACK newly marked lost.
    pub(super) losses: usize,
    /// A fast recovery or a timeout's loss episode is under way.
    pub(super) recovering: bool,
    /// The smoothed RTT (RFC 6298), once measured.
    pub(super) srtt: Option<Duration>,
}

/// What a congestion controller is told, in bytes.
pub(super) trait CongestionControl {
    /// The congestion window.
    fn window(&self) -> usize;
    /// Sets the congestion window (recovery arithmetic shared by all controllers).
    fn set_window(&mut self, cwnd: usize);
    /// The slow-start threshold.
    fn ssthresh(&self) -> usize;
    /// Sets the slow-start threshold: undoing a spurious reduction restores the earlier one
    /// (RFC 4015 §3). A controller without ssthresh ignores it.
    fn set_ssthresh(&mut self, _ssthresh: usize) {}
    /// New data was cumulatively acknowledged outside recovery (RFC 5681 §3.1); `srtt` is the
    /// smoothed RTT (CUBIC's target looks one RTT ahead, RFC 9438 §4.2).
    fn on_ack(&mut self, bytes_acked: usize, mss: usize, now: Instant, srtt: Duration);
    /// A loss was detected (fast retransmit, SACK or RACK): ssthresh and cwnd drop to the
    /// reduced window (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4.2, RFC 9438 §4.6).
    fn on_congestion_event(&mut self, flight_size: usize, mss: usize, now: Instant);
    /// Retransmission timeout (RFC 5681 §3.1 equation 4, loss window of 1 MSS).
    fn on_timeout(&mut self, flight_size: usize, mss: usize);
    /// HyStart++ ends slow start without a loss: ssthresh = cwnd (RFC 9406 §4.2), so
    /// congestion avoidance (CUBIC: a new epoch from W_max = cwnd, RFC 9438 §4.10) follows.
    fn exit_slow_start(&mut self);

    /// Third duplicate ACK without SACK: fast retransmit + fast recovery begins
    /// (RFC 5681 §3.2 steps 2–3: cwnd = ssthresh + 3 MSS).
    fn on_fast_retransmit(&mut self, flight_size: usize, mss: usize, now: Instant) {
        self.on_congestion_event(flight_size, mss, now);
        self.set_window(self.window() + 3 * mss);
    }
    /// Another duplicate ACK during fast recovery: inflate (RFC 5681 §3.2 step 4).
    fn on_recovery_dup_ack(&mut self, mss: usize) {
        self.set_window(self.window() + mss);
    }
    /// A partial ACK during recovery (RFC 6582 §3.2 step 5): deflate by the acked amount.
    fn on_partial_ack(&mut self, bytes_acked: usize, mss: usize) {
        self.set_window(self.window().saturating_sub(bytes_acked).max(mss) + mss);
    }
    /// Recovery ends with a full ACK (RFC 6582 §3.2 step 4).
    fn on_recovery_exit(&mut self, flight_size: usize, mss: usize) {
        self.set_window(self.ssthresh().min(flight_size.max(mss) + mss));
    }

    /// Every ACK that delivered data, after loss detection: a model-based controller (BBR)
    /// updates its model, pacing rate and cwnd here. Loss-based controllers ignore it.
    fn on_ack_sample(&mut self, _ack: &AckSample, _now: Instant) {}
    /// The pacing rate in bytes per second when the controller paces by itself (BBR);
    /// `None` leaves pacing to `TcpConfig::pacing`.
    fn pacing_rate(&self, _srtt: Option<Duration>) -> Option<u64> {
        None
    }
    /// The controller holds the flow below what the application offers (BBR's ProbeRTT), so
    /// delivery-rate samples must be marked application-limited.
    fn limits_application(&self) -> bool {
        false
    }
    /// Transmission starts with nothing in flight (Linux's `CA_EVENT_TX_START`);
    /// `app_limited` when the application left the connection idle, `delivered` the
    /// delivered byte count.
    fn on_transmit_start(&mut self, _app_limited: bool, _now: Instant, _delivered: u64) {}
}

/// The initial window: 10 MSS (RFC 6928).
fn initial_window(mss: usize) -> usize {
    10 * mss
}

/// Slow start with byte counting (RFC 3465) without its per-ACK limit L, as Linux: an ACK
/// for many segments at once (a receiver coalescing ACKs, GRO, or a burst arriving together)
/// grows cwnd by all of them, so slow start still doubles cwnd per round trip.
fn slow_start(cwnd: usize, bytes_acked: usize, _mss: usize) -> usize {
    cwnd + bytes_acked
}

/// NewReno: slow start and congestion avoidance.
#[derive(Debug, Clone)]
pub(super) struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acked since cwnd last grew in congestion avoidance (RFC 5681 §3.1 byte counting).
    avoidance_credit: usize,
}

impl NewReno {
    pub(super) fn new(mss: usize) -> NewReno {
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            avoidance_credit: 0,
        }
    }

    fn halve(flight_size: usize, mss: usize) -> usize {
        (flight_size / 2).max(2 * mss)
    }
}

impl CongestionControl for NewReno {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn set_window(&mut self, cwnd: usize) {
        self.cwnd = cwnd;
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn set_ssthresh(&mut self, ssthresh: usize) {
        self.ssthresh = ssthresh;
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize, _now: Instant, _srtt: Duration) {
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start(self.cwnd, bytes_acked, mss);
        } else {
            self.avoidance_credit += bytes_acked;
            if self.avoidance_credit >= self.cwnd {
                self.avoidance_credit -= self.cwnd;
                self.cwnd += mss;
            }
        }
    }

    fn on_congestion_event(&mut self, flight_size: usize, mss: usize, _now: Instant) {
        self.ssthresh = Self::halve(flight_size, mss);
        self.cwnd = self.ssthresh;
        self.avoidance_credit = 0;
    }

    fn on_timeout(&mut self, flight_size: usize, mss: usize) {
        self.ssthresh = Self::halve(flight_size, mss);
        self.cwnd = mss;
        self.avoidance_credit = 0;
    }

    fn exit_slow_start(&mut self) {
        self.ssthresh = self.cwnd;
    }
}

/// CUBIC's constant C (RFC 9438 §5.1), in segments per second cubed.
const CUBIC_C: f64 = 0.4;
/// CUBIC's multiplicative decrease factor β_cubic (RFC 9438 §4.6).
const CUBIC_BETA: f64 = 0.7;

/// CUBIC (RFC 9438): after a reduction the window follows W_cubic(t) = C·(t − K)³ + W_max,
/// concave up to the previous maximum and convex beyond it, never slower than the Reno-friendly
/// estimate W_est (§4.3). Slow start is as in NewReno.
#[derive(Debug, Clone)]
pub(super) struct Cubic {
    /// cwnd in bytes, fractional so that sub-MSS increments accumulate.
    cwnd: f64,
    ssthresh: usize,
    /// W_max in segments: the window just before the last reduction (§4.6, §4.7).
    w_max: f64,
    /// K in seconds (§4.2 equation 2).
    k: f64,
    /// Start of the current congestion-avoidance epoch (§4.2 t = 0).
    epoch_start: Option<Instant>,
    /// W_est, the Reno-friendly window, in segments (§4.3).
    w_est: f64,
}

impl Cubic {
    pub(super) fn new(mss: usize) -> Cubic {
        Cubic {
            cwnd: initial_window(mss) as f64,
            ssthresh: usize::MAX,
            w_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: 0.0,
        }
    }

    /// §4.6, §4.7: remember W_max (with fast convergence) and compute the reduced window.
    fn reduce(&mut self, flight_size: usize, mss: usize) -> usize {
        let seg = mss as f64;
        // The window actually in use: cwnd may sit far above the flight when receiver-limited.
        let used = (flight_size as f64).min(self.cwnd).max(seg) / seg;
        self.w_max = if used < self.w_max {
            used * (1.0 + CUBIC_BETA) / 2.0
        } else {
            used
        };
        self.epoch_start = None;
        ((used * CUBIC_BETA * seg) as usize).max(2 * mss)
    }

    /// W_cubic(t) in segments (§4.2 equation 1).
    fn w_cubic(&self, t: f64) -> f64 {
        CUBIC_C * (t - self.k).powi(3) + self.w_max
    }
}

impl CongestionControl for Cubic {
    fn window(&self) -> usize {
        self.cwnd as usize
    }

    fn set_window(&mut self, cwnd: usize) {
        self.cwnd = cwnd as f64;
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn set_ssthresh(&mut self, ssthresh: usize) {
        self.ssthresh = ssthresh;
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize, now: Instant, srtt: Duration) {
        if (self.cwnd as usize) < self.ssthresh {
            self.cwnd = slow_start(self.cwnd as usize, bytes_acked, mss) as f64;
            return;
        }
        let seg = mss as f64;
        let cwnd_seg = self.cwnd / seg;
        let epoch = *self.epoch_start.get_or_insert_with(|| {
            // §4.2: a new epoch; K so that W_cubic(0) = cwnd.
            self.k = if self.w_max > cwnd_seg {
                ((self.w_max - cwnd_seg) / CUBIC_C).cbrt()
            } else {
                self.w_max = cwnd_seg;
                0.0
            };
            self.w_est = cwnd_seg;
            now
        });
        let acked_seg = bytes_acked as f64 / seg;
        // §4.3: Reno-friendly region, α_cubic until W_max is reached, then 1.
        let alpha = if self.w_est >= self.w_max {
            1.0
        } else {
            3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
        };
        self.w_est += alpha * acked_seg / cwnd_seg;
        let t = now.saturating_duration_since(epoch).total_micros() as f64 / 1e6;
        let rtt = srtt.total_micros() as f64 / 1e6;
        if self.w_cubic(t) < self.w_est {
            self.cwnd = self.cwnd.max(self.w_est * seg);
            return;
        }
        // §4.4/§4.5: grow towards W_cubic(t + RTT), at most by half the window per RTT.
        let target = self.w_cubic(t + rtt).clamp(cwnd_seg, 1.5 * cwnd_seg);
        self.cwnd += (target - cwnd_seg) / cwnd_seg * acked_seg * seg;
    }

    fn on_congestion_event(&mut self, flight_size: usize, mss: usize, _now: Instant) {
        self.ssthresh = self.reduce(flight_size, mss);
        self.cwnd = self.ssthresh as f64;
    }

    fn on_timeout(&mut self, flight_size: usize, mss: usize) {
        // §4.8: ssthresh as for a loss, cwnd to one segment, a new epoch after slow start.
        self.ssthresh = self.reduce(flight_size, mss);
        self.cwnd = mss as f64;
    }

    fn exit_slow_start(&mut self) {
        self.ssthresh = self.cwnd as usize;
        self.epoch_start = None;
    }
}

/// The controller a connection runs, chosen by [`CongestionAlgorithm`] (static dispatch).
#[derive(Debug, Clone)]
pub(super) enum Congestion {
    NewReno(NewReno),
    Cubic(Cubic),
    Bbr(Bbr),
}

impl Congestion {
    pub(super) fn new(algorithm: CongestionAlgorithm, mss: usize) -> Congestion {
        match algorithm {
            CongestionAlgorithm::NewReno => Congestion::NewReno(NewReno::new(mss)),
            CongestionAlgorithm::Cubic => Congestion::Cubic(Cubic::new(mss)),
            CongestionAlgorithm::Bbr => Congestion::Bbr(Bbr::new(mss)),
        }
    }

    /// BBR's model, when BBR runs.
    pub(super) fn bbr_info(&self) -> Option<BbrInfo> {
        match self {
            Congestion::Bbr(bbr) => Some(bbr.info()),
            _ => None,
        }
    }

    /// Whether the controller reads delivery-rate samples (`on_ack_sample`,
    /// `limits_application`): only the model-based one (BBR).
    #[inline]
    pub(super) fn uses_rate_samples(&self) -> bool {
        matches!(self, Congestion::Bbr(_))
    }

    /// Which algorithm this is.
    pub(super) fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            Congestion::NewReno(_) => CongestionAlgorithm::NewReno,
            Congestion::Cubic(_) => CongestionAlgorithm::Cubic,
            Congestion::Bbr(_) => CongestionAlgorithm::Bbr,
        }
    }

    /// Changes algorithm mid-connection (`TCP_CONGESTION`, as Linux's
    /// `tcp_reinit_congestion_control`): cwnd and ssthresh carry over; the new controller
    /// starts its own state (CUBIC a fresh epoch, BBR Startup) from there; BBR has no
    /// ssthresh, so a switch away from it starts in slow start.
    pub(super) fn switch_to(&mut self, algorithm: CongestionAlgorithm, mss: usize) {
        if self.algorithm() == algorithm {
            return;
        }
        let (cwnd, ssthresh) = (self.window(), self.ssthresh());
        *self = Congestion::new(algorithm, mss);
        match self {
            Congestion::NewReno(cc) => {
                cc.ssthresh = ssthresh;
                cc.set_window(cwnd);
            }
            Congestion::Cubic(cc) => {
                cc.ssthresh = ssthresh;
                cc.set_window(cwnd);
            }
            // Linux's bbr_init keeps the connection's cwnd too.
            Congestion::Bbr(cc) => cc.carry_over_window(cwnd),
        }
    }
}

/// Calls the running controller's method directly (a `match`, so its small methods inline)
/// rather than through a `&dyn CongestionControl`: the window and ssthresh are read several
/// times per segment.
macro_rules! each {
    ($self:expr, $cc:ident => $call:expr) => {
        match $self {
            Congestion::NewReno($cc) => $call,
            Congestion::Cubic($cc) => $call,
            Congestion::Bbr($cc) => $call,
        }
    };
}

impl CongestionControl for Congestion {
    #[inline]
    fn window(&self) -> usize {
        each!(self, cc => cc.window())
    }
    #[inline]
    fn set_window(&mut self, cwnd: usize) {
        each!(self, cc => cc.set_window(cwnd))
    }
    #[inline]
    fn ssthresh(&self) -> usize {
        each!(self, cc => cc.ssthresh())
    }
    #[inline]
    fn set_ssthresh(&mut self, ssthresh: usize) {
        each!(self, cc => cc.set_ssthresh(ssthresh))
    }
    #[inline]
    fn on_ack(&mut self, bytes_acked: usize, mss: usize, now: Instant, srtt: Duration) {
        each!(self, cc => cc.on_ack(bytes_acked, mss, now, srtt))
    }
    #[inline]
    fn on_congestion_event(&mut self, flight_size: usize, mss: usize, now: Instant) {
        each!(self, cc => cc.on_congestion_event(flight_size, mss, now))
    }
    #[inline]
    fn on_timeout(&mut self, flight_size: usize, mss: usize) {
        each!(self, cc => cc.on_timeout(flight_size, mss))
    }
    #[inline]
    fn exit_slow_start(&mut self) {
        each!(self, cc => cc.exit_slow_start())
    }
    #[inline]
    fn on_fast_retransmit(&mut self, flight_size: usize, mss: usize, now: Instant) {
        each!(self, cc => cc.on_fast_retransmit(flight_size, mss, now))
    }
    #[inline]
    fn on_recovery_dup_ack(&mut self, mss: usize) {
        each!(self, cc => cc.on_recovery_dup_ack(mss))
    }
    #[inline]
    fn on_partial_ack(&mut self, bytes_acked: usize, mss: usize) {
        each!(self, cc => cc.on_partial_ack(bytes_acked, mss))
    }
    #[inline]
    fn on_recovery_exit(&mut self, flight_size: usize, mss: usize) {
        each!(self, cc => cc.on_recovery_exit(flight_size, mss))
    }
    #[inline]
    fn on_ack_sample(&mut self, ack: &AckSample, now: Instant) {
        each!(self, cc => cc.on_ack_sample(ack, now))
    }
    #[inline]
    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        each!(self, cc => cc.pacing_rate(srtt))
    }
    #[inline]
    fn limits_application(&self) -> bool {
        each!(self, cc => cc.limits_application())
    }
    #[inline]
    fn on_transmit_start(&mut self, app_limited: bool, now: Instant, delivered: u64) {
        each!(self, cc => cc.on_transmit_start(app_limited, now, delivered))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const T0: Instant = Instant::from_millis(0);
    const NO_RTT: Duration = Duration::ZERO;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(1000);
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(1000, 1000, T0, NO_RTT);
        assert_eq!(cc.window(), 11_000);
        cc.on_timeout(20_000, 1000);
        assert_eq!(cc.window(), 1000);
        // Slow start up to ssthresh = 10 000.
        for _ in 0..9 {
            cc.on_ack(1000, 1000, T0, NO_RTT);
        }
        assert_eq!(cc.window(), 10_000);
        // Avoidance: one MSS per window's worth of ACKs.
        for _ in 0..9 {
            cc.on_ack(1000, 1000, T0, NO_RTT);
        }
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(1000, 1000, T0, NO_RTT);
        assert_eq!(cc.window(), 11_000);
    }

    #[test]
    fn fast_recovery_inflates_and_deflates() {
        let mut cc = NewReno::new(1000);
        cc.on_fast_retransmit(10_000, 1000, T0);
        assert_eq!(cc.window(), 8_000);
        cc.on_recovery_dup_ack(1000);
        assert_eq!(cc.window(), 9_000);
        cc.on_recovery_exit(9_000, 1000);
        assert_eq!(cc.window(), 5_000);
    }

    /// Drives a controller in congestion avoidance with a full window acknowledged every
    /// `rtt`, one MSS per ACK, and returns cwnd (in segments) sampled after each RTT.
    fn grow(cc: &mut dyn CongestionControl, rtt: Duration, rounds: usize) -> Vec<f64> {
        let mss = 1000;
        let mut now = T0;
        let mut samples = Vec::new();
        for _ in 0..rounds {
            // The window's ACKs arrive spread over the round trip.
            let segments = (cc.window() / mss) as u64;
            let spacing = Duration::from_micros(rtt.total_micros() / segments);
            for _ in 0..segments {
                cc.on_ack(mss, mss, now, rtt);
                now += spacing;
            }
            now += Duration::from_micros(rtt.total_micros() % segments);
            samples.push(cc.window() as f64 / mss as f64);
        }
        samples
    }

    #[test]
    fn cubic_reduces_by_beta_and_follows_the_cubic_curve() {
        let mss = 1000;
        let rtt = Duration::from_millis(100);
        let mut cc = Cubic::new(mss);
        cc.set_window(100 * mss);
        cc.on_congestion_event(100 * mss, mss, T0);
        assert_eq!(cc.window(), 70 * mss, "β_cubic = 0.7");
        assert_eq!(cc.ssthresh(), 70 * mss);
        // K = cbrt(W_max (1 − β) / C) = cbrt(75) ≈ 4.217 s.
        let k = (30.0f64 / CUBIC_C).cbrt();
        let samples = grow(&mut cc, rtt, 80);
        for (i, &w) in samples.iter().enumerate() {
            // Sample i is taken at t = (i + 1)·RTT; growth aims one RTT ahead.
            let t = (i + 2) as f64 * 0.1;
            let expected = CUBIC_C * (t - k).powi(3) + 100.0;
            assert!(
                (w - expected).abs() <= 0.03 * expected + 1.0,
                "t = {t:.1}s: cwnd {w:.1} segments, W_cubic {expected:.1}"
            );
        }
        // Concave then convex: the plateau sits at W_max = 100 around t = K.
        let at_k = samples[(k * 10.0) as usize - 1];
        assert!((97.0..=101.5).contains(&at_k), "cwnd at K: {at_k}");
        // NewReno in the same situation gains one segment per RTT: far slower back to 100.
        let mut reno = NewReno::new(mss);
        reno.set_window(100 * mss);
        reno.on_congestion_event(100 * mss, mss, T0);
        let reno_samples = grow(&mut reno, rtt, 40);
        assert!(reno_samples[39] < 91.0 && samples[39] > 97.0);
    }

    #[test]
    fn cubic_fast_convergence_and_timeout() {
        let mss = 1000;
        let mut cc = Cubic::new(mss);
        cc.set_window(100 * mss);
        cc.on_congestion_event(100 * mss, mss, T0);
        // A second loss below the previous W_max releases bandwidth: W_max = 70·(1 + β)/2.
        cc.on_congestion_event(70 * mss, mss, T0);
        assert!((cc.w_max - 59.5).abs() < 1e-9);
        assert_eq!(cc.window(), 49 * mss);
        cc.on_timeout(49 * mss, mss);
        assert_eq!(cc.window(), mss);
        assert_eq!(cc.ssthresh(), 34_300, "49 · 0.7 segments");
    }
}
