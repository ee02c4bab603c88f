//! BBR congestion control, version 1 as in Linux's `net/ipv4/tcp_bbr.c` (Cardwell et al.,
//! "BBR: Congestion-Based Congestion Control", ACM Queue 2016), with the state machine and
//! names of draft-ietf-ccwg-bbr-04 (BBRv3) where v1 and the draft agree. v1 rather than v3
//! because v3 also bounds its model by the loss rate (2% per round, `inflight_hi`), which is
//! the very reaction to random loss that this controller exists to avoid.
//!
//! BBR models the path instead of reacting to loss: the bottleneck bandwidth (BBR.max_bw,
//! draft §5.5) is the windowed maximum of delivery-rate samples over 10 round trips
//! ([`WindowedMax`]; samples from `delivery_rate.rs`), the propagation delay (BBR.min_rtt,
//! draft §5.5) the minimum RTT over 10 s. It paces at `pacing_gain × max_bw` (draft §5.6.2)
//! and keeps `cwnd_gain × BDP` in flight (draft §5.6.4; BDP = max_bw × min_rtt). Rounds are
//! counted with the delivered count (draft §5.5.1). Four modes (draft §5.3):
//!
//! * **Startup** (§5.3.1): gains 2/ln 2 ≈ 2.89, doubling the rate each round, until the
//!   bandwidth grew by less than 25% for 3 rounds (the pipe is full);
//! * **Drain** (§5.3.2): pacing gain 1/2.89 until what is in flight fits one BDP;
//! * **ProbeBW** (§5.3.3 in v1's form): an 8-phase gain cycle 1.25, 0.75, 1 × 6 (one phase
//!   per min RTT), starting at a random phase;
//! * **ProbeRTT** (§5.3.4): when min_rtt was not refreshed for 10 s, cwnd drops to 4 segments
//!   for 200 ms and a round trip, so the queue drains and the true minimum shows.
//!
//! Loss does not reduce the model. Once Startup is over, like `tcp_bbr.c`
//! (`bbr_set_cwnd_to_recover_or_restore`), entering fast recovery starts one round of packet
//! conservation (cwnd = in flight + newly delivered), newly lost bytes are taken off cwnd, and
//! leaving recovery restores the cwnd saved on entry. In Startup neither applies (as in
//! mvfst's BBR, whose `conservativeRecovery` is off by default): on a path with random loss
//! nearly every Startup round sees a loss, and a round of conservation each time kept the
//! exponential ramp from reaching the pipe's size (one flow, 100 ms RTT, 4 MiB windows, 1 %
//! loss: 70 % → 82 % of the lossless goodput; 5 %: 52 % → 61 %; docs/goodput.md). Startup's
//! overshoot is still bounded by cwnd = 2.89 × BDP and drained by Drain. After an RTO cwnd
//! restarts from one segment and grows back by what is delivered, in every mode. No PRR and no multiplicative decrease apply (Linux's `cong_control` hook
//! bypasses `tcp_cwnd_reduction`). Not implemented from `tcp_bbr.c`: the long-term
//! bandwidth policer detection (`lt_bw`) and the ACK-aggregation cwnd allowance
//! (`extra_acked`); no TSO, so the quantization budget counts 3 single segments.
use super::bbr_filter::WindowedMax;
use super::congestion::{AckSample, CongestionControl};
use crate::time::{Duration, Instant};

/// Fixed-point unit of the gains (Linux `BBR_UNIT`).
const UNIT: u64 = 256;
/// Startup gain 2/ln 2 (Linux `bbr_high_gain`, draft §5.3.1 BBR.StartupPacingGain).
const HIGH_GAIN: u64 = UNIT * 2885 / 1000 + 1;
/// Drain gain ln 2 / 2 (Linux `bbr_drain_gain`, draft §5.3.2).
const DRAIN_GAIN: u64 = UNIT * 1000 / 2885;
/// cwnd gain in ProbeBW (Linux `bbr_cwnd_gain`).
const CWND_GAIN: u64 = UNIT * 2;
/// ProbeBW pacing gains, one phase per min RTT (Linux `bbr_pacing_gain`).
const PACING_GAIN_CYCLE: [u64; 8] = [
    UNIT * 5 / 4,
    UNIT * 3 / 4,
    UNIT,
    UNIT,
    UNIT,
    UNIT,
    UNIT,
    UNIT,
];
/// The random start phase is drawn among the first 7 (never the 0.75 phase).
const CYCLE_RANDOM: u64 = 7;
/// Bandwidth filter window, in round trips (Linux `bbr_bw_rtts`, draft BBR.MaxBwFilterLen).
const BW_FILTER_ROUNDS: u64 = 10;
/// min_rtt filter window (Linux `bbr_min_rtt_win_sec`, draft BBR.MinRTTFilterLen).
const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
/// Time spent at the minimum cwnd in ProbeRTT (Linux `bbr_probe_rtt_mode_ms`,
/// draft BBR.ProbeRTTDuration).
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
/// Minimum cwnd, in segments (Linux `bbr_cwnd_min_target`, draft BBR.MinPipeCwnd).
const MIN_CWND_SEGMENTS: usize = 4;
/// Full pipe: bandwidth growth below 25% (Linux `bbr_full_bw_thresh`) ...
const FULL_BW_THRESHOLD: u64 = UNIT * 5 / 4;
/// ... for 3 rounds (Linux `bbr_full_bw_cnt`).
const FULL_BW_ROUNDS: u32 = 3;
/// Pacing is 1% below the estimate, so the bottleneck queue drains (Linux
/// `bbr_pacing_margin_percent`).
const PACING_MARGIN_PERCENT: u64 = 1;
/// Initial window in segments (RFC 6928, Linux `TCP_INIT_CWND`).
const INITIAL_WINDOW_SEGMENTS: usize = 10;

/// BBR's state machine (draft-ietf-ccwg-bbr §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BbrMode {
    /// Exponential search for the bottleneck bandwidth (§5.3.1).
    Startup,
    /// Drains the queue Startup built (§5.3.2).
    Drain,
    /// Cruising at the estimated bandwidth, probing for more once per cycle (§5.3.3).
    ProbeBw,
    /// Minimum cwnd for 200 ms to measure the propagation delay (§5.3.4).
    ProbeRtt,
}

/// A snapshot of a BBR connection's model (Linux's `tcp_bbr_info`, reported by `ss -ti`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BbrInfo {
    /// Current mode.
    pub mode: BbrMode,
    /// Estimated bottleneck bandwidth (BBR.max_bw), bytes per second.
    pub bandwidth: u64,
    /// Estimated propagation delay (BBR.min_rtt), once measured.
    pub min_rtt: Option<Duration>,
    /// Pacing rate, bytes per second (0 before the first RTT sample).
    pub pacing_rate: u64,
    /// Pacing gain in percent.
    pub pacing_gain_percent: u32,
    /// cwnd gain in percent.
    pub cwnd_gain_percent: u32,
    /// Times ProbeRTT was entered.
    pub probe_rtt_count: u64,
    /// Whether Startup found the pipe full.
    pub full_bandwidth_reached: bool,
}

/// The connection's loss-recovery state as BBR tracks it (Linux's `icsk_ca_state`, in the
/// order Linux compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RecoveryState {
    Open,
    Recovery,
    /// After a retransmission timeout.
    Loss,
}

/// BBR v1 (Linux `struct bbr`), in bytes.
#[derive(Debug, Clone)]
pub(super) struct Bbr {
    mss: usize,
    cwnd: usize,
    mode: BbrMode,
    /// BBR.max_bw, bytes per second, over the last 10 rounds.
    max_bw: WindowedMax,
    /// Round trips counted so far (the filter's clock).
    round_count: u64,
    /// C.delivered at which the current round ends.
    next_round_delivered: u64,
    /// This ACK started a new round.
    round_start: bool,
    min_rtt: Option<Duration>,
    min_rtt_stamp: Option<Instant>,
    probe_rtt_done_at: Option<Instant>,
    probe_rtt_round_done: bool,
    probe_rtt_count: u64,
    packet_conservation: bool,
    /// cwnd before recovery or ProbeRTT, restored afterwards.
    prior_cwnd: usize,
    /// Restarting after idle (suppresses ProbeRTT).
    idle_restart: bool,
    previous_state: RecoveryState,
    /// Bandwidth at the last 25% growth, and rounds without such growth since.
    full_bw: u64,
    full_bw_count: u32,
    full_bw_reached: bool,
    cycle_index: usize,
    cycle_start: Instant,
    pacing_gain: u64,
    cwnd_gain: u64,
    /// Bytes per second; 0 until the first RTT sample.
    pacing_rate: u64,
    has_seen_rtt: bool,
}

impl Bbr {
    /// `bbr_init`: Startup with the initial window.
    pub(super) fn new(mss: usize) -> Bbr {
        Bbr {
            mss: mss.max(1),
            cwnd: INITIAL_WINDOW_SEGMENTS * mss,
            mode: BbrMode::Startup,
            max_bw: WindowedMax::default(),
            round_count: 0,
            next_round_delivered: 0,
            round_start: false,
            min_rtt: None,
            min_rtt_stamp: None,
            probe_rtt_done_at: None,
            probe_rtt_round_done: false,
            probe_rtt_count: 0,
            packet_conservation: false,
            prior_cwnd: 0,
            idle_restart: false,
            previous_state: RecoveryState::Open,
            full_bw: 0,
            full_bw_count: 0,
            full_bw_reached: false,
            cycle_index: 0,
            cycle_start: Instant::ZERO,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            pacing_rate: 0,
            has_seen_rtt: false,
        }
    }

    /// Starts from a window another controller left (`TCP_CONGESTION` on a live connection).
    pub(super) fn carry_over_window(&mut self, cwnd: usize) {
        self.cwnd = cwnd.max(self.min_cwnd());
    }

    /// The model, for [`crate::tcp::Connection::bbr_info`].
    pub(super) fn info(&self) -> BbrInfo {
        BbrInfo {
            mode: self.mode,
            bandwidth: self.max_bw.get(),
            min_rtt: self.min_rtt,
            pacing_rate: self.pacing_rate,
            pacing_gain_percent: (self.pacing_gain * 100 / UNIT) as u32,
            cwnd_gain_percent: (self.cwnd_gain * 100 / UNIT) as u32,
            probe_rtt_count: self.probe_rtt_count,
            full_bandwidth_reached: self.full_bw_reached,
        }
    }

    fn min_cwnd(&self) -> usize {
        MIN_CWND_SEGMENTS * self.mss
    }

    /// `bbr_bdp`: gain × max_bw × min_rtt in bytes, rounded up; the initial window before
    /// any RTT sample (draft §5.6.4 BBRBDPMultiple).
    fn bdp(&self, bw: u64, gain: u64) -> usize {
        let Some(min_rtt) = self.min_rtt else {
            return INITIAL_WINDOW_SEGMENTS * self.mss;
        };
        let bytes = u128::from(bw) * u128::from(min_rtt.total_micros()) * u128::from(gain);
        let bdp = bytes.div_ceil(u128::from(UNIT) * 1_000_000);
        usize::try_from(bdp).unwrap_or(usize::MAX)
    }

    /// `bbr_quantization_budget` (draft §5.6.4 BBRQuantizationBudget): room for 3 segments
    /// held in the sending host, an even number of segments (delayed ACKs), and 2 more while
    /// probing for bandwidth.
    fn quantization_budget(&self, cwnd: usize) -> usize {
        let mut segments = cwnd.div_ceil(self.mss) + 3;
        segments += segments % 2;
        if self.mode == BbrMode::ProbeBw && self.cycle_index == 0 {
            segments += 2;
        }
        segments.saturating_mul(self.mss)
    }

    /// `bbr_inflight`: the data in flight the model allows at `gain`.
    fn inflight(&self, bw: u64, gain: u64) -> usize {
        self.quantization_budget(self.bdp(bw, gain))
    }

    /// `bbr_bw_to_pacing_rate`: bytes per second at `gain`, less the 1% margin.
    fn rate_at(bw: u64, gain: u64) -> u64 {
        let rate = u128::from(bw) * u128::from(gain) / u128::from(UNIT);
        let rate = rate * u128::from(100 - PACING_MARGIN_PERCENT) / 100;
        u64::try_from(rate).unwrap_or(u64::MAX)
    }

    /// `bbr_init_pacing_rate_from_rtt`: before any bandwidth sample, high gain × cwnd / SRTT.
    fn initial_rate(&self, srtt: Duration) -> u64 {
        let micros = srtt.total_micros().max(1);
        let bw = (self.cwnd as u128 * 1_000_000 / u128::from(micros)) as u64;
        Self::rate_at(bw, HIGH_GAIN)
    }

    /// `bbr_set_pacing_rate` (draft §5.6.2): only raised during Startup, so a slow first
    /// sample cannot throttle the search.
    fn set_pacing_rate(&mut self, srtt: Option<Duration>) {
        if !self.has_seen_rtt {
            if let Some(srtt) = srtt {
                self.pacing_rate = self.initial_rate(srtt);
                self.has_seen_rtt = true;
            }
        }
        let rate = Self::rate_at(self.max_bw.get(), self.pacing_gain);
        if rate > 0 && (self.full_bw_reached || rate > self.pacing_rate) {
            self.pacing_rate = rate;
        }
    }

    /// `bbr_save_cwnd`: remember cwnd before recovery or ProbeRTT lowers it.
    fn save_cwnd(&mut self) {
        self.prior_cwnd =
            if self.previous_state < RecoveryState::Recovery && self.mode != BbrMode::ProbeRtt {
                self.cwnd
            } else {
                self.prior_cwnd.max(self.cwnd)
            };
    }

    /// `bbr_update_bw`: round counting and the max-bandwidth filter (draft §5.5.1, §5.5).
    fn update_bw(&mut self, ack: &AckSample) {
        self.round_start = false;
        let Some(bw) = ack.rate.bandwidth() else {
            return;
        };
        if ack.rate.prior_delivered >= self.next_round_delivered {
            self.next_round_delivered = ack.rate.total_delivered;
            self.round_count += 1;
            self.round_start = true;
            self.packet_conservation = false;
        }
        // An application-limited sample says little about the path unless it is higher.
        if !ack.rate.app_limited || bw >= self.max_bw.get() {
            self.max_bw.update(BW_FILTER_ROUNDS, self.round_count, bw);
        }
    }

    /// `bbr_is_next_cycle_phase`: a ProbeBW phase lasts one min RTT; the probing phase
    /// until in-flight reaches 1.25 BDP (or loss), the draining phase until it is down to 1 BDP.
    fn is_next_cycle_phase(&self, ack: &AckSample, now: Instant) -> bool {
        let min_rtt = self.min_rtt.unwrap_or(Duration::ZERO);
        let full_length = now.saturating_duration_since(self.cycle_start) > min_rtt;
        let bw = self.max_bw.get();
        match self.pacing_gain.cmp(&UNIT) {
            core::cmp::Ordering::Equal => full_length,
            core::cmp::Ordering::Greater => {
                full_length
                    && (ack.losses > 0
                        || ack.prior_in_flight >= self.inflight(bw, self.pacing_gain))
            }
            core::cmp::Ordering::Less => {
                full_length || ack.prior_in_flight <= self.inflight(bw, UNIT)
            }
        }
    }

    fn advance_cycle_phase(&mut self, now: Instant) {
        self.cycle_index = (self.cycle_index + 1) % PACING_GAIN_CYCLE.len();
        self.cycle_start = now;
    }

    /// `bbr_reset_probe_bw_mode`: ProbeBW from a random phase (not the draining one), so
    /// competing flows do not probe in lockstep. The draw is a hash of the delivery count
    /// and the clock, so a seeded simulation repeats exactly.
    fn enter_probe_bw(&mut self, now: Instant, delivered: u64) {
        self.mode = BbrMode::ProbeBw;
        let draw = splitmix64(delivered ^ now.total_micros()) % CYCLE_RANDOM;
        self.cycle_index = PACING_GAIN_CYCLE.len() - 1 - draw as usize;
        self.advance_cycle_phase(now);
    }

    /// `bbr_check_full_bw_reached` (draft §5.3.1 BBRCheckFullBWReached, without v3's loss exit).
    fn check_full_bw_reached(&mut self, ack: &AckSample) {
        if self.full_bw_reached || !self.round_start || ack.rate.app_limited {
            return;
        }
        let bw = self.max_bw.get();
        if u128::from(bw) * u128::from(UNIT)
            >= u128::from(self.full_bw) * u128::from(FULL_BW_THRESHOLD)
        {
            self.full_bw = bw;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        self.full_bw_reached = self.full_bw_count >= FULL_BW_ROUNDS;
    }

    /// `bbr_check_drain` (draft §5.3.2): Startup → Drain on a full pipe, Drain → ProbeBW once
    /// in-flight fits one BDP.
    fn check_drain(&mut self, ack: &AckSample, now: Instant) {
        if self.mode == BbrMode::Startup && self.full_bw_reached {
            self.mode = BbrMode::Drain;
        }
        if self.mode == BbrMode::Drain && ack.in_flight <= self.inflight(self.max_bw.get(), UNIT) {
            self.enter_probe_bw(now, ack.rate.total_delivered);
        }
    }

    /// `bbr_update_min_rtt` (draft §5.3.4, in v1's form): the 10-second minimum,
    /// and ProbeRTT when it expired.
    fn update_min_rtt(&mut self, ack: &AckSample, now: Instant) {
        let stamp = *self.min_rtt_stamp.get_or_insert(now);
        let expired = now > stamp + MIN_RTT_WINDOW;
        if let Some(rtt) = ack.rate.rtt {
            if self.min_rtt.is_none_or(|min| rtt < min) || expired {
                self.min_rtt = Some(rtt);
                self.min_rtt_stamp = Some(now);
            }
        }
        if expired && !self.idle_restart && self.mode != BbrMode::ProbeRtt {
            self.mode = BbrMode::ProbeRtt;
            self.probe_rtt_count += 1;
            self.save_cwnd();
            self.probe_rtt_done_at = None;
        }
        if self.mode == BbrMode::ProbeRtt {
            match self.probe_rtt_done_at {
                None if ack.in_flight <= self.min_cwnd() => {
                    // Drained to the minimum: hold it 200 ms and at least one round.
                    self.probe_rtt_done_at = Some(now + PROBE_RTT_DURATION);
                    self.probe_rtt_round_done = false;
                    self.next_round_delivered = ack.rate.total_delivered;
                }
                None => {}
                Some(_) => {
                    if self.round_start {
                        self.probe_rtt_round_done = true;
                    }
                    if self.probe_rtt_round_done {
                        self.check_probe_rtt_done(now, ack.rate.total_delivered);
                    }
                }
            }
        }
        if ack.rate.delivered > 0 {
            self.idle_restart = false;
        }
    }

    /// `bbr_check_probe_rtt_done` / `bbr_reset_mode`: back to Startup or ProbeBW with the
    /// saved cwnd.
    fn check_probe_rtt_done(&mut self, now: Instant, delivered: u64) {
        if self.probe_rtt_done_at.is_none_or(|at| now <= at) {
            return;
        }
        self.min_rtt_stamp = Some(now);
        self.cwnd = self.cwnd.max(self.prior_cwnd);
        if self.full_bw_reached {
            self.enter_probe_bw(now, delivered);
        } else {
            self.mode = BbrMode::Startup;
        }
    }

    /// `bbr_update_gains` (draft §5.3).
    fn update_gains(&mut self) {
        (self.pacing_gain, self.cwnd_gain) = match self.mode {
            BbrMode::Startup => (HIGH_GAIN, HIGH_GAIN),
            BbrMode::Drain => (DRAIN_GAIN, HIGH_GAIN),
            BbrMode::ProbeBw => (PACING_GAIN_CYCLE[self.cycle_index], CWND_GAIN),
            BbrMode::ProbeRtt => (UNIT, UNIT),
        };
    }

    /// `bbr_set_cwnd_to_recover_or_restore`: returns the cwnd for loss recovery and whether
    /// packet conservation decides it.
    fn recover_or_restore(&mut self, ack: &AckSample, acked: usize) -> (usize, bool) {
        let state = match (ack.recovering, self.previous_state) {
            (false, _) => RecoveryState::Open,
            (true, RecoveryState::Loss) => RecoveryState::Loss,
            (true, _) => RecoveryState::Recovery,
        };
        let mut cwnd = self.cwnd;
        if self.mode == BbrMode::Startup {
            // No loss response while the pipe is still being measured (module docs).
            self.previous_state = state;
            self.packet_conservation = false;
            return (cwnd, false);
        }
        if ack.losses > 0 {
            cwnd = cwnd.saturating_sub(ack.losses).max(self.mss);
        }
        if state == RecoveryState::Recovery && self.previous_state != RecoveryState::Recovery {
            // One round of packet conservation, starting now.
            self.packet_conservation = true;
            self.next_round_delivered = ack.rate.total_delivered;
            cwnd = ack.in_flight + acked;
        } else if self.previous_state >= RecoveryState::Recovery && state < RecoveryState::Recovery
        {
            cwnd = cwnd.max(self.prior_cwnd);
            self.packet_conservation = false;
        }
        self.previous_state = state;
        if self.packet_conservation {
            (cwnd.max(ack.in_flight + acked), true)
        } else {
            (cwnd, false)
        }
    }

    /// `bbr_set_cwnd` (draft §5.6.4): towards cwnd_gain × BDP, growing by what was delivered.
    fn set_cwnd(&mut self, ack: &AckSample) {
        let acked = usize::try_from(ack.rate.newly_delivered).unwrap_or(usize::MAX);
        if acked > 0 {
            let (mut cwnd, conserving) = self.recover_or_restore(ack, acked);
            if !conserving {
                let target = self.inflight(self.max_bw.get(), self.cwnd_gain);
                let early = ack.rate.total_delivered < (INITIAL_WINDOW_SEGMENTS * self.mss) as u64;
                if self.full_bw_reached {
                    cwnd = cwnd.saturating_add(acked).min(target);
                } else if cwnd < target || early {
                    cwnd = cwnd.saturating_add(acked);
                }
                cwnd = cwnd.max(self.min_cwnd());
            }
            self.cwnd = cwnd;
        }
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.min_cwnd());
        }
    }
}

/// A 64-bit mix (Steele et al.'s SplitMix64 finaliser).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl CongestionControl for Bbr {
    fn window(&self) -> usize {
        self.cwnd
    }

    /// The model owns cwnd: window arithmetic meant for loss-based controllers (PRR,
    /// NewReno's inflation, undo of a reduction) does not apply, as Linux skips
    /// `tcp_cwnd_reduction` for a `cong_control` module and `bbr_undo_cwnd` keeps cwnd.
    fn set_window(&mut self, _cwnd: usize) {}

    /// BBR has no slow-start threshold (Linux leaves `snd_ssthresh` infinite).
    fn ssthresh(&self) -> usize {
        usize::MAX
    }

    /// Growth comes from the model ([`CongestionControl::on_ack_sample`]).
    fn on_ack(&mut self, _bytes_acked: usize, _mss: usize, _now: Instant, _srtt: Duration) {}

    /// `bbr_ssthresh`: no reduction, only the cwnd to restore after recovery is saved.
    fn on_congestion_event(&mut self, _flight_size: usize, _mss: usize, _now: Instant) {
        self.save_cwnd();
    }

    /// `tcp_enter_loss` + `bbr_set_state(TCP_CA_Loss)`: cwnd restarts from one segment, the
    /// RTO ends a round, and the full-pipe search restarts its plateau count.
    fn on_timeout(&mut self, _flight_size: usize, mss: usize) {
        self.save_cwnd();
        self.cwnd = mss;
        self.previous_state = RecoveryState::Loss;
        self.full_bw = 0;
        self.round_start = true;
    }

    fn exit_slow_start(&mut self) {}

    fn on_fast_retransmit(&mut self, flight_size: usize, mss: usize, now: Instant) {
        self.on_congestion_event(flight_size, mss, now);
    }

    fn on_recovery_dup_ack(&mut self, _mss: usize) {}

    fn on_partial_ack(&mut self, _bytes_acked: usize, _mss: usize) {}

    fn on_recovery_exit(&mut self, _flight_size: usize, _mss: usize) {}

    /// `bbr_main`: update the model, then the pacing rate and cwnd.
    fn on_ack_sample(&mut self, ack: &AckSample, now: Instant) {
        self.update_bw(ack);
        if self.mode == BbrMode::ProbeBw && self.is_next_cycle_phase(ack, now) {
            self.advance_cycle_phase(now);
        }
        self.check_full_bw_reached(ack);
        self.check_drain(ack, now);
        self.update_min_rtt(ack, now);
        self.update_gains();
        self.set_pacing_rate(ack.srtt);
        self.set_cwnd(ack);
    }

    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        if self.pacing_rate > 0 {
            Some(self.pacing_rate)
        } else {
            srtt.map(|rtt| self.initial_rate(rtt))
        }
    }

    /// ProbeRTT holds the flow below what the application offers.
    fn limits_application(&self) -> bool {
        self.mode == BbrMode::ProbeRtt
    }

    /// `bbr_cwnd_event(CA_EVENT_TX_START)`: restarting from idle while application-limited,
    /// pace at the estimated bandwidth rather than a probing gain, and leave a ProbeRTT whose
    /// time is up.
    fn on_transmit_start(&mut self, app_limited: bool, now: Instant, delivered: u64) {
        if !app_limited {
            return;
        }
        self.idle_restart = true;
        match self.mode {
            BbrMode::ProbeBw => self.pacing_rate = Self::rate_at(self.max_bw.get(), UNIT),
            BbrMode::ProbeRtt => self.check_probe_rtt_done(now, delivered),
            _ => {}
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::tcp::delivery_rate::RateSample;

    const MSS: usize = 1000;

    /// An ACK delivering `acked` bytes at `bw` bytes/s measured over one RTT.
    fn ack(total: u64, acked: u64, bw: u64, rtt_ms: u64, in_flight: usize) -> AckSample {
        let interval = Duration::from_millis(rtt_ms);
        AckSample {
            rate: RateSample {
                delivered: bw * rtt_ms / 1000,
                interval: Some(interval),
                prior_delivered: total.saturating_sub(bw * rtt_ms / 1000),
                app_limited: false,
                newly_delivered: acked,
                total_delivered: total,
                rtt: Some(interval),
            },
            prior_in_flight: in_flight,
            in_flight,
            losses: 0,
            recovering: false,
            srtt: Some(interval),
        }
    }

    /// Drives `bbr` with one ACK per round trip of `rtt_ms` at bandwidth `bw(round)`,
    /// in-flight equal to cwnd; returns the time after the last round.
    fn rounds(
        bbr: &mut Bbr,
        start: Instant,
        n: u64,
        rtt_ms: u64,
        delivered: &mut u64,
        bw: impl Fn(u64) -> u64,
    ) -> Instant {
        let mut now = start;
        for r in 0..n {
            now += Duration::from_millis(rtt_ms);
            let b = bw(r);
            let acked = b * rtt_ms / 1000;
            *delivered += acked;
            let in_flight = bbr
                .window()
                .min(bbr.inflight(bbr.max_bw.get().max(b), UNIT));
            bbr.on_ack_sample(&ack(*delivered, acked, b, rtt_ms, in_flight), now);
        }
        now
    }

    #[test]
    fn startup_finds_the_bandwidth_drains_and_cruises() {
        let mut bbr = Bbr::new(MSS);
        let mut delivered = 0;
        // The path delivers 1 MB/s at 100 ms RTT: BDP 100 kB.
        let now = rounds(&mut bbr, Instant::ZERO, 3, 100, &mut delivered, |_| {
            1_000_000
        });
        assert_eq!(bbr.mode, BbrMode::Startup);
        let now = rounds(&mut bbr, now, 6, 100, &mut delivered, |_| 1_000_000);
        assert!(bbr.full_bw_reached, "3 rounds without 25% growth");
        assert_eq!(bbr.mode, BbrMode::ProbeBw, "drained: in flight <= BDP");
        assert_eq!(bbr.min_rtt, Some(Duration::from_millis(100)));
        // cwnd converges on 2 × BDP plus the quantization budget, pacing on ~bw × gain.
        let _ = rounds(&mut bbr, now, 20, 100, &mut delivered, |_| 1_000_000);
        let target = bbr.quantization_budget(200_000);
        assert!(
            bbr.window() <= target && bbr.window() >= 200_000,
            "cwnd {} target {target}",
            bbr.window()
        );
        let info = bbr.info();
        assert_eq!(info.bandwidth, 1_000_000);
        let rate = info.pacing_rate;
        assert!((740_000..=1_240_000).contains(&rate), "pacing {rate}");
    }

    #[test]
    fn loss_does_not_cut_the_window_outside_conservation() {
        let mut bbr = Bbr::new(MSS);
        let mut delivered = 0;
        let now = rounds(&mut bbr, Instant::ZERO, 30, 100, &mut delivered, |_| {
            1_000_000
        });
        let before = bbr.window();
        // Loss-based controllers halve here; BBR saves cwnd.
        bbr.on_congestion_event(before, MSS, now);
        assert_eq!(bbr.window(), before);
        // Recovery: one round of packet conservation, cwnd = in flight + delivered ...
        let mut a = ack(delivered + 2000, 2000, 1_000_000, 100, 50_000);
        a.recovering = true;
        a.losses = 3000;
        bbr.on_ack_sample(&a, now + Duration::from_millis(10));
        assert_eq!(bbr.window(), 52_000);
        // ... never below that while it lasts ...
        let mut a = ack(delivered + 3000, 1000, 1_000_000, 100, 60_000);
        a.recovering = true;
        a.rate.prior_delivered = delivered; // sent before recovery began: same round
        bbr.on_ack_sample(&a, now + Duration::from_millis(15));
        assert_eq!(bbr.window(), 61_000);
        // ... and leaving recovery restores the saved cwnd.
        let mut a = ack(delivered + 5000, 2000, 1_000_000, 100, 50_000);
        a.recovering = false;
        bbr.on_ack_sample(&a, now + Duration::from_millis(20));
        // (Back at the full 2 × BDP target; `before` may have included the probing
        // phase's 2 extra segments.)
        let target = bbr.inflight(bbr.max_bw.get(), bbr.cwnd_gain);
        assert!(before.abs_diff(target) <= 2 * MSS);
        assert_eq!(bbr.window(), target);
        // The bandwidth estimate did not move.
        assert_eq!(bbr.info().bandwidth, 1_000_000);
    }

    #[test]
    fn losses_in_startup_neither_cut_nor_hold_the_window() {
        let mut bbr = Bbr::new(MSS);
        let mut delivered = 0;
        // A few rounds of growth: still Startup.
        let now = rounds(&mut bbr, Instant::ZERO, 3, 100, &mut delivered, |r| {
            100_000 * (1 << r)
        });
        assert_eq!(bbr.mode, BbrMode::Startup);
        let before = bbr.window();
        // An ACK in recovery that reports losses: no conservation round (cwnd is not set to
        // in flight + delivered) and the lost bytes are not taken off; Startup keeps growing.
        let mut a = ack(delivered + 2000, 2000, 1_000_000, 100, 10_000);
        a.recovering = true;
        a.losses = 3000;
        bbr.on_ack_sample(&a, now + Duration::from_millis(10));
        assert_eq!(bbr.mode, BbrMode::Startup);
        assert!(
            bbr.window() >= before + 2000,
            "{} < {} + 2000",
            bbr.window(),
            before
        );
    }

    #[test]
    fn probe_rtt_after_ten_seconds_without_a_lower_rtt() {
        let mut bbr = Bbr::new(MSS);
        let mut delivered = 0;
        // 100 rounds of 100 ms at the same RTT: 10 s with no sample below min_rtt.
        let now = rounds(&mut bbr, Instant::ZERO, 100, 100, &mut delivered, |_| {
            1_000_000
        });
        assert_eq!(bbr.info().probe_rtt_count, 0);
        let now = rounds(&mut bbr, now, 2, 100, &mut delivered, |_| 1_000_000);
        assert_eq!(bbr.mode, BbrMode::ProbeRtt);
        assert_eq!(bbr.info().probe_rtt_count, 1);
        assert_eq!(bbr.window(), 4 * MSS);
        assert!(bbr.limits_application());
        // In flight drains to 4 segments; 200 ms and a round later ProbeBW resumes with the
        // saved cwnd.
        let mut now = now;
        for _ in 0..5 {
            now += Duration::from_millis(100);
            delivered += 4000;
            // One round = the 4 segments in flight.
            let mut a = ack(delivered, 4000, 40_000, 100, 4 * MSS);
            a.rate.prior_delivered = delivered - 4000;
            bbr.on_ack_sample(&a, now);
        }
        assert_eq!(bbr.mode, BbrMode::ProbeBw);
        assert!(bbr.window() > 100_000, "cwnd restored: {}", bbr.window());
    }

    #[test]
    fn timeout_restarts_from_one_segment_and_restores_after() {
        let mut bbr = Bbr::new(MSS);
        let mut delivered = 0;
        let now = rounds(&mut bbr, Instant::ZERO, 30, 100, &mut delivered, |_| {
            1_000_000
        });
        let before = bbr.window();
        bbr.on_timeout(before, MSS);
        assert_eq!(bbr.window(), MSS);
        let mut a = ack(delivered + 1000, 1000, 1_000_000, 100, 0);
        a.recovering = true;
        bbr.on_ack_sample(&a, now + Duration::from_millis(300));
        assert!(bbr.window() >= 2 * MSS && bbr.window() < before);
        let mut a = ack(delivered + 2000, 1000, 1_000_000, 100, 0);
        a.recovering = false;
        bbr.on_ack_sample(&a, now + Duration::from_millis(400));
        assert!(bbr.window() >= before);
    }
}
