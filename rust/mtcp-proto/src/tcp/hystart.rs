//! HyStart++ (RFC 9406): leave the initial slow start before it overflows the bottleneck
//! queue. The minimum RTT of each round is compared with the previous round's; a rise of
//! more than `clamp(last / 8, 4 ms, 16 ms)` means a queue is building, and slow start turns
//! into Conservative Slow Start (CSS, a quarter of the growth). Five CSS rounds later the
//! connection moves to congestion avoidance (ssthresh = cwnd); if the RTT falls back below
//! the baseline the rise was noise and slow start resumes (§4.2).
//!
//! It sits beside the congestion controller, so NewReno and CUBIC share it: the connection
//! asks [`HyStart::on_ack`] how to grow cwnd for each ACK while still in the initial slow start.
use crate::time::Duration;
use crate::wire::SeqNumber;

/// RTT samples a round needs before its minimum is trusted (RFC 9406 §4.3 N_RTT_SAMPLE).
const N_RTT_SAMPLE: u32 = 8;
/// Lower bound of the RTT-increase threshold (§4.3 MIN_RTT_THRESH).
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// Upper bound of the RTT-increase threshold (§4.3 MAX_RTT_THRESH).
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// The threshold is the last round's minimum RTT over this (§4.3 MIN_RTT_DIVISOR).
const MIN_RTT_DIVISOR: u64 = 8;
/// CSS grows cwnd this many times slower than slow start (§4.3 CSS_GROWTH_DIVISOR).
pub(super) const CSS_GROWTH_DIVISOR: usize = 4;
/// Rounds of CSS before congestion avoidance (§4.3 CSS_ROUNDS).
const CSS_ROUNDS: u32 = 5;

/// Where HyStart++ stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlowStart,
    /// Conservative Slow Start, with the minimum RTT that started it (cssBaselineMinRtt).
    Css {
        baseline: Duration,
        rounds: u32,
    },
}

/// How one ACK grows cwnd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Growth {
    /// Slow start by this many bytes.
    SlowStart(usize),
    /// CSS: already divided by [`CSS_GROWTH_DIVISOR`].
    Conservative(usize),
    /// CSS is over: set ssthresh to cwnd and continue in congestion avoidance.
    EnterAvoidance,
}

/// Per-connection HyStart++ state (RFC 9406 §4.2 variables).
#[derive(Debug, Clone)]
pub(super) struct HyStart {
    phase: Phase,
    /// End of the current round (windowEnd): the round ends when this is acknowledged.
    window_end: Option<SeqNumber>,
    last_round_min_rtt: Option<Duration>,
    current_round_min_rtt: Option<Duration>,
    rtt_sample_count: u32,
    /// CSS's growth remainder, so a quarter of small ACKs still adds up.
    css_credit: usize,
}

impl HyStart {
    pub(super) fn new() -> HyStart {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
            css_credit: 0,
        }
    }

    /// Whether Conservative Slow Start is running.
    #[cfg(test)]
    pub(super) fn in_css(&self) -> bool {
        matches!(self.phase, Phase::Css { .. })
    }

    /// An ACK for `acked` new bytes up to `ack`, in the initial slow start; `snd_nxt` is the
    /// next sequence number to be sent (the next round's end), `rtt` this ACK's RTT sample.
    ///
    /// Unlike §4.2, one ACK's growth is not capped at L = 8 segments when unpaced: as in the
    /// controllers' own slow start (and Linux), a stretch ACK grows cwnd by all it covers.
    pub(super) fn on_ack(
        &mut self,
        ack: SeqNumber,
        snd_nxt: SeqNumber,
        rtt: Option<Duration>,
        acked: usize,
    ) -> Growth {
        // §4.2: a round ends when the ACK covers windowEnd.
        if self.window_end.is_none_or(|end| ack >= end) {
            self.window_end = Some(snd_nxt);
            self.last_round_min_rtt = self.current_round_min_rtt.take();
            self.rtt_sample_count = 0;
            if let Phase::Css { baseline, rounds } = self.phase {
                if rounds + 1 >= CSS_ROUNDS {
                    return Growth::EnterAvoidance;
                }
                self.phase = Phase::Css {
                    baseline,
                    rounds: rounds + 1,
                };
            }
        }
        if let Some(rtt) = rtt {
            self.current_round_min_rtt =
                Some(self.current_round_min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.rtt_sample_count += 1;
        }
        let growth = acked;
        let enough = self.rtt_sample_count >= N_RTT_SAMPLE;
        match (self.phase, self.current_round_min_rtt) {
            (Phase::SlowStart, Some(current)) if enough => {
                if let Some(last) = self.last_round_min_rtt {
                    if current >= last + rtt_thresh(last) {
                        self.phase = Phase::Css {
                            baseline: current,
                            rounds: 0,
                        };
                    }
                }
            }
            (Phase::Css { baseline, .. }, Some(current)) if enough && current < baseline => {
                // §4.2: the RTT rise was spurious; back to slow start.
                self.phase = Phase::SlowStart;
            }
            _ => {}
        }
        match self.phase {
            Phase::SlowStart => Growth::SlowStart(growth),
            Phase::Css { .. } => {
                self.css_credit += growth;
                let step = self.css_credit / CSS_GROWTH_DIVISOR;
                self.css_credit %= CSS_GROWTH_DIVISOR;
                Growth::Conservative(step)
            }
        }
    }
}

/// RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH))
/// (RFC 9406 §4.2).
fn rtt_thresh(last_round_min_rtt: Duration) -> Duration {
    Duration::from_micros(last_round_min_rtt.total_micros() / MIN_RTT_DIVISOR)
        .clamp(MIN_RTT_THRESH, MAX_RTT_THRESH)
}

#[cfg(test)]
mod test {
    use super::*;

    const MSS: usize = 1000;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds one round of `acks` ACKs, each with RTT `rtt`, acknowledging MSS each, from
    /// `*seq`; the sender's SND.NXT is one segment past the round's last ACK, so the next
    /// round's first ACK closes this one. Returns the growth of every ACK.
    fn round(hs: &mut HyStart, seq: &mut SeqNumber, acks: usize, rtt: Duration) -> Vec<Growth> {
        let end = *seq + acks * MSS;
        let mut out = Vec::new();
        for _ in 0..acks {
            *seq += MSS;
            // The sender keeps a window of `acks` segments in flight ahead.
            out.push(hs.on_ack(*seq, end + MSS, Some(rtt), MSS));
        }
        out
    }

    fn start() -> (HyStart, SeqNumber) {
        let mut hs = HyStart::new();
        let mut seq = SeqNumber(0);
        // The handshake's ACK opens a round that the first data ACK closes.
        hs.on_ack(seq, seq + MSS, Some(ms(40)), 0);
        round(&mut hs, &mut seq, 10, ms(40));
        (hs, seq)
    }

    #[test]
    fn threshold_is_an_eighth_clamped_to_4_and_16_ms() {
        assert_eq!(rtt_thresh(ms(10)), ms(4));
        assert_eq!(rtt_thresh(ms(40)), ms(5));
        assert_eq!(rtt_thresh(ms(100)), ms(12) + Duration::from_micros(500));
        assert_eq!(rtt_thresh(ms(400)), ms(16));
    }

    #[test]
    fn rtt_rise_above_threshold_enters_css() {
        let (mut hs, mut seq) = start();
        // +4 ms on a 40 ms base is under the 5 ms threshold: still slow start.
        let g = round(&mut hs, &mut seq, 10, ms(44));
        assert!(g.iter().all(|g| *g == Growth::SlowStart(MSS)));
        assert!(!hs.in_css());
        // Last round's minimum is now 44 ms (threshold 5.5 ms); 50 ms enters CSS, but only
        // once 8 samples of this round are in.
        let g = round(&mut hs, &mut seq, 10, ms(50));
        assert!(g[..7].iter().all(|g| *g == Growth::SlowStart(MSS)), "{g:?}");
        assert!(hs.in_css());
        // A quarter of the growth in CSS.
        let total: usize = g[7..]
            .iter()
            .map(|g| match g {
                Growth::Conservative(n) => *n,
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(total, 3 * MSS / CSS_GROWTH_DIVISOR);
    }

    #[test]
    fn few_samples_never_trigger() {
        let (mut hs, mut seq) = start();
        // Seven ACKs per round with a large rise: not enough samples for a verdict.
        for rtt in [100, 200, 300] {
            round(&mut hs, &mut seq, 7, ms(rtt));
            assert!(!hs.in_css());
        }
    }

    #[test]
    fn css_returns_to_slow_start_when_rtt_drops() {
        let (mut hs, mut seq) = start();
        round(&mut hs, &mut seq, 10, ms(60));
        assert!(hs.in_css());
        // Baseline 60 ms; a round whose minimum is back at 45 ms ends CSS.
        let g = round(&mut hs, &mut seq, 10, ms(45));
        assert!(!hs.in_css());
        assert_eq!(g[9], Growth::SlowStart(MSS));
    }

    #[test]
    fn css_ends_in_avoidance_after_five_rounds() {
        let (mut hs, mut seq) = start();
        round(&mut hs, &mut seq, 10, ms(60));
        assert!(hs.in_css());
        let mut rounds = 0;
        loop {
            let g = round(&mut hs, &mut seq, 10, ms(60));
            rounds += 1;
            if g[0] == Growth::EnterAvoidance {
                break;
            }
            assert!(rounds < 10, "CSS never ended");
        }
        // The round that entered CSS plus four more; the fifth round boundary ends it.
        assert_eq!(rounds, CSS_ROUNDS as usize);
    }
}
