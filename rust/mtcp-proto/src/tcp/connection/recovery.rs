//! SACK-based loss recovery (RFC 6675) with RACK-TLP loss detection (RFC 8985), D-SACK
//! (RFC 2883), and the challenge-ACK rate limit (RFC 5961 §7).
//!
//! With SACK negotiated the sender keeps a [`Scoreboard`](crate::tcp::scoreboard::Scoreboard)
//! of its segments. Losses are found by RACK (a segment sent before one that was delivered,
//! more than RTT + reordering window ago), or, with `TcpConfig::rack` off, by RFC 6675's IsLost
//! (DupThresh · SMSS SACKed above it). Lost segments are retransmitted while `pipe` < cwnd,
//! holes only, never go-back-N; a tail loss probe (PTO ≈ 2·SRTT) makes tail losses visible
//! before the RTO, which remains the last resort. Without SACK, NewReno (RFC 6582) runs as
//! before in `input.rs`.
use super::send_now::SendNow;
use super::{Connection, TlpEpisode};
use crate::tcp::congestion::CongestionControl;
use crate::tcp::scoreboard::Delivered;
use crate::tcp::timers::Timer;
use crate::tcp::State;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpRepr};

/// RFC 6675 DupThresh.
const DUP_THRESH: usize = 3;
/// RFC 8985 §7.2 WCDelAckT, added to the PTO when one segment is in flight. The RFC
/// recommends 200 ms; we use the delayed-ACK maximum of Linux and of this stack (40 ms), so
/// that a lone lost last segment is probed well before a 200 ms minimum RTO. A peer that
/// delays longer costs one needless probe, which its D-SACK reveals (no window reduction).
const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(40);
/// Added to 2·SRTT when more than one segment is in flight (Linux's `TCP_TIMEOUT_MIN`, two
/// jiffies): with microsecond round trips (the in-memory link, a LAN) 2·SRTT alone is shorter
/// than the time a busy receiver takes to send its ACK, and the probe would be spurious.
const PTO_SLACK: Duration = Duration::from_millis(2);
/// Largest multiplier of the reordering window (RFC 8985 §6.2 step 4 keeps it ≤ SRTT anyway).
const MAX_REO_WND_MULT: u32 = 8;

impl Connection {
    /// Whether SACK-based recovery runs (SACK was negotiated).
    pub(super) fn sack_mode(&self) -> bool {
        self.opts.sack
    }

    /// RFC 6675 §4 pipe over what is in flight.
    pub(super) fn pipe(&self) -> usize {
        self.scoreboard.pipe(self.flight_size())
    }

    /// Records the SACK blocks of `seg` (RFC 2018 §4, RFC 6675 §5 Update()); a first block
    /// below the cumulative ACK, or inside the second block, is a D-SACK (RFC 2883 §4).
    pub(super) fn process_sack_blocks(&mut self, seg: &TcpRepr<'_>, delivered: &mut Delivered) {
        let blocks = &seg.sack_ranges;
        if let Some((left, right)) = blocks[0] {
            let inside_second = matches!(blocks[1], Some((l2, r2)) if l2 <= left && right <= r2);
            if left < right && (right <= seg.ack_number || inside_second) {
                self.on_dsack(left, right);
            }
        }
        let fin_sent = self.fin_queued && self.snd_max == self.data_end() + 1;
        let fin = fin_sent.then(|| self.data_end());
        // F-RTO step 3 (frto.rs) asks whether data below `recover` was newly delivered, so a
        // block straddling it is applied in two parts.
        let frto_recover = self.frto_recover_watch();
        if frto_recover.is_some() {
            self.frto_note_cumulative(delivered);
        }
        for &(left, right) in blocks.iter().flatten() {
            let plausible = left < right && left >= self.snd_una && right <= self.snd_max;
            if !plausible {
                continue;
            }
            match frto_recover {
                Some(recover) if left < recover => {
                    let earlier = std::mem::take(&mut delivered.original);
                    self.scoreboard
                        .on_sack_block(left, right.min(recover), fin, delivered);
                    if delivered.original {
                        self.frto_note_original_sacked();
                    }
                    delivered.original |= earlier;
                    if right > recover {
                        self.scoreboard
                            .on_sack_block(recover, right, fin, delivered);
                    }
                }
                _ => self.scoreboard.on_sack_block(left, right, fin, delivered),
            }
        }
    }

    /// The peer received `[left, right)` twice (RFC 2883): a spurious retransmission or a
    /// network duplicate. RACK widens its reordering window (RFC 8985 §6.2 step 4).
    fn on_dsack(&mut self, left: SeqNumber, right: SeqNumber) {
        self.stats.dsacks_received += 1;
        self.undo_on_dsack(left, right);
        self.rack.reordering_seen = true;
        self.rack.reo_wnd_mult = (self.rack.reo_wnd_mult + 1).min(MAX_REO_WND_MULT);
        if let Some(tlp) = self.tlp.as_mut() {
            if tlp.retransmission && right >= tlp.end && left < tlp.end {
                tlp.dsacked = true;
            }
        }
    }

    /// After an ACK in SACK mode: RACK update, loss detection, recovery entry or exit, window
    /// growth, the tail loss probe episode and timer. `acked` counts newly cumulatively
    /// acknowledged data bytes.
    pub(super) fn after_sack_ack(&mut self, now: Instant, delivered: Delivered, acked: usize) {
        self.scoreboard.finish_ack(&delivered);
        // While F-RTO decides, an ACK of the resent segment may be the original's (RFC 8985
        // §6.2 step 2's ambiguity, here with a whole window at stake): no RACK sample from it.
        let frto_running = self.frto_recover_watch().is_some();
        self.frto_on_ack(acked > 0, delivered.sacked_bytes > 0);
        self.rack_update(now, &delivered, frto_running);
        let lost = self.detect_losses(now);
        if self.in_recovery && self.snd_una >= self.recover {
            self.in_recovery = false; // RFC 6675 §5: recovery ends at RecoveryPoint
            self.prr_end();
        }
        if lost && !self.in_recovery && self.snd_una > self.recover {
            self.enter_sack_recovery(now);
        } else if !self.in_recovery && acked > 0 {
            self.grow_window(now, acked);
        }
        self.prr_on_ack();
        self.undo_after_ack();
        self.end_tlp_episode(now);
        self.arm_tlp(now);
    }

    /// RFC 8985 §6.2 steps 2–3: the most recently sent delivered segment sets RACK.xmit_ts,
    /// RACK.end_seq and RACK.rtt; a retransmitted one acknowledged faster than the minimum RTT
    /// was probably the original's ACK and is ignored.
    pub(super) fn rack_update(&mut self, now: Instant, delivered: &Delivered, frto_running: bool) {
        if delivered.reordered {
            self.rack.reordering_seen = true;
        }
        let Some((xmit, end, retransmitted)) = delivered.latest else {
            return;
        };
        let rtt = now.saturating_duration_since(xmit);
        if retransmitted && (frto_running || self.rack.min_rtt.is_some_and(|min| rtt < min)) {
            return;
        }
        self.rack.rtt = rtt;
        self.rack.min_rtt = Some(self.rack.min_rtt.map_or(rtt, |m| m.min(rtt)));
        let newer = match self.rack.xmit {
            None => true,
            Some(t) => xmit > t || (xmit == t && end > self.rack.end),
        };
        if newer {
            self.rack.xmit = Some(xmit);
            self.rack.end = end;
        }
    }

    /// RFC 8985 §6.2 step 4: the reordering window. Zero while no reordering was seen and the
    /// DupThresh rule would already call a loss; else min_RTT/4 (times the D-SACK multiplier),
    /// at most SRTT.
    fn rack_reo_wnd(&self) -> Duration {
        let mss = usize::from(self.send_mss());
        if !self.rack.reordering_seen
            && (self.in_recovery || self.scoreboard.sacked_bytes() >= DUP_THRESH * mss)
        {
            return Duration::ZERO;
        }
        let min_rtt = self.rack.min_rtt.unwrap_or(Duration::ZERO);
        let quarter = Duration::from_micros(min_rtt.total_micros() / 4);
        let wnd = quarter.saturating_mul(u64::from(self.rack.reo_wnd_mult.max(1)));
        wnd.min(self.rtt.srtt().unwrap_or(wnd))
    }

    /// Marks lost segments: RACK (RFC 8985 §6.2 step 5, arming the reordering timer for
    /// segments not yet overdue), or RFC 6675 IsLost when RACK is off.
    fn detect_losses(&mut self, now: Instant) -> bool {
        let mss = usize::from(self.send_mss());
        if !self.config.rack {
            return self.scoreboard.mark_lost_by_sack(DUP_THRESH * mss);
        }
        let Some(xmit) = self.rack.xmit else {
            return false;
        };
        let wait = self.rack.rtt + self.rack_reo_wnd();
        let (lost, timer) = self
            .scoreboard
            .rack_detect_loss(now, xmit, self.rack.end, wait);
        match timer {
            Some(at) => self.timers.set(Timer::Rack, at),
            None => self.timers.stop(Timer::Rack),
        }
        lost
    }

    /// RFC 6675 §5 step 4 / RFC 8985 §6.2: losses found outside recovery start one; cwnd and
    /// ssthresh drop once for the whole episode, ending when RecoveryPoint = SND.MAX is ACKed.
    fn enter_sack_recovery(&mut self, now: Instant) {
        self.undo_record(false);
        self.in_recovery = true;
        self.recover = self.snd_max;
        self.stats.fast_recoveries += 1;
        let mss = usize::from(self.send_mss());
        self.cc.on_congestion_event(self.flight_size(), mss, now);
        self.prr_start();
        self.rtt_timing = None; // Karn: the timed segment may be resent
        self.retransmit_first_hole = true;
    }

    /// The RACK reordering timer fired (RFC 8985 §6.3).
    pub(super) fn on_rack_timeout(&mut self, now: Instant) {
        if !self.sack_mode() || self.snd_una == self.snd_max {
            return;
        }
        if self.detect_losses(now) && !self.in_recovery && self.snd_una > self.recover {
            self.enter_sack_recovery(now);
        }
    }

    /// A retransmission timeout with SACK: everything not SACKed is lost and is resent as
    /// the window reopens, skipping what the peer holds (RFC 6675 §5.1, RFC 8985 §6.3).
    pub(super) fn on_sack_timeout(&mut self) {
        self.scoreboard.forget_sacks_if_reneged();
        self.scoreboard.mark_all_lost();
        self.retransmit_first_hole = false;
        self.tlp = None;
        self.send_now.clear(SendNow::TLP);
        self.timers.stop(Timer::TailLossProbe);
        self.timers.stop(Timer::Rack);
    }

    /// The next hole to fill while `pipe` < cwnd (RFC 6675 §5 step (C), NextSeg rule 1):
    /// its start and payload length (0 for a lone FIN).
    #[inline]
    pub(super) fn next_retransmission(&self) -> Option<(SeqNumber, usize)> {
        // Nothing marked lost (the usual case, asked after every segment and API call): no
        // hole, whatever the other conditions say (`next_lost` finds none).
        if self.scoreboard.lost_outstanding() == 0 {
            // Test builds check the shortcut against the full search (header_prediction.rs
            // does the same for the receive fast path).
            #[cfg(test)]
            assert_eq!(
                self.next_hole(),
                None,
                "next_retransmission shortcut disagrees"
            );
            return None;
        }
        self.next_hole()
    }

    /// `next_retransmission` once something is marked lost.
    #[inline(never)]
    fn next_hole(&self) -> Option<(SeqNumber, usize)> {
        if !self.sack_mode() || self.state == State::SynReceived {
            return None;
        }
        if self.frto_holds_retransmissions() {
            return None; // F-RTO step 2b: new data first (frto.rs)
        }
        let seg = self.scoreboard.next_lost()?;
        if self.pipe() >= self.cc.window() && !self.retransmit_first_hole {
            return None;
        }
        let data_end = seg.end.min(self.data_end());
        Some((seg.start, (data_end - seg.start).max(0) as usize))
    }

    /// RFC 8985 §7.2: arm the PTO (2·SRTT, plus the worst-case delayed ACK when one segment
    /// is in flight, never after the RTO) while data is outstanding outside recovery and no
    /// probe is outstanding.
    pub(super) fn arm_tlp(&mut self, now: Instant) {
        // Unlike Linux, a probe may also go during recovery when no hole is waiting to be
        // resent: a lost retransmission or a lost last ACK then costs 2·SRTT, not an RTO.
        let eligible = self.sack_mode()
            && self.config.rack
            && (!self.in_recovery || self.scoreboard.next_lost().is_none())
            && self.tlp.is_none()
            && self.snd_una < self.snd_max
            && self.state.sending();
        if !eligible {
            self.timers.stop(Timer::TailLossProbe);
            return;
        }
        self.set_pto(now);
    }

    /// `arm_tlp` right after new data left outside recovery (the lean transmit path): data
    /// is outstanding and the state is a sending one, so only SACK, RACK and an outstanding
    /// probe are left to check.
    #[inline]
    pub(super) fn arm_tlp_after_new_data(&mut self, now: Instant) {
        debug_assert!(!self.in_recovery && self.snd_una < self.snd_max && self.state.sending());
        if self.sack_mode() && self.config.rack && self.tlp.is_none() {
            self.set_pto(now);
        } else {
            self.timers.stop(Timer::TailLossProbe);
        }
    }

    /// Arms the PTO (RFC 8985 §7.2) from `now`, never after the RTO.
    #[inline]
    fn set_pto(&mut self, now: Instant) {
        let pto = match self.rtt.srtt() {
            Some(srtt) => {
                let mut pto = srtt.saturating_mul(2);
                if self.flight_size() <= usize::from(self.send_mss()) {
                    pto += WORST_CASE_DELAYED_ACK;
                } else {
                    pto += PTO_SLACK;
                }
                pto
            }
            None => Duration::from_secs(1),
        };
        let mut at = now + pto;
        if let Some(rto_at) = self.timers.get(Timer::Retransmit) {
            at = at.min(rto_at);
        }
        self.timers.set(Timer::TailLossProbe, at);
    }

    /// The PTO fired (RFC 8985 §7.3): send a probe at the next poll_transmit, and re-arm the
    /// RTO from now.
    pub(super) fn on_tlp_timeout(&mut self, now: Instant) {
        if self.tlp.is_some() || self.snd_una == self.snd_max {
            return;
        }
        self.send_now.set(SendNow::TLP);
        self.stats.tail_loss_probes += 1;
        self.arm_rto(now);
    }

    /// The probe to send (RFC 8985 §7.3): new data if the peer's window allows one segment,
    /// else the highest segment the peer lacks, sent again. Returns (start, payload length, is a retransmission).
    pub(super) fn tail_loss_probe(&self) -> Option<(SeqNumber, usize, bool)> {
        let mss = usize::from(self.send_mss());
        let data_end = self.data_end();
        let window_end = self.snd_una + self.snd_wnd;
        let unsent = (data_end - self.snd_nxt).max(0) as usize;
        let room = (window_end - self.snd_nxt).max(0) as usize;
        if unsent > 0 && room > 0 && self.scoreboard.has_room() {
            return Some((self.snd_nxt, unsent.min(room).min(mss), false));
        }
        let last = self.scoreboard.last_unsacked()?;
        let end = last.end.min(data_end);
        Some((last.start, (end - last.start).max(0) as usize, true))
    }

    /// Records the probe just sent, whose sequence space ends at `end`.
    pub(super) fn on_tlp_sent(&mut self, end: SeqNumber, retransmission: bool) {
        self.tlp = Some(TlpEpisode {
            end,
            retransmission,
            dsacked: false,
        });
        self.timers.stop(Timer::TailLossProbe);
    }

    /// RFC 8985 §7.4: the probe's episode ends when an ACK covers it. If the probe was a
    /// retransmission and no D-SACK showed it needless, it repaired a real loss: reduce the
    /// window once (§7.4.2), unless a recovery episode already did.
    fn end_tlp_episode(&mut self, now: Instant) {
        let Some(tlp) = self.tlp else { return };
        if self.snd_una >= tlp.end {
            self.tlp = None;
            if tlp.retransmission && !tlp.dsacked && !self.in_recovery {
                let mss = usize::from(self.send_mss());
                self.cc.on_congestion_event(self.flight_size(), mss, now);
            }
        }
    }

    /// A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), at most `challenge_ack_limit` per second
    /// on this connection (§7).
    pub(super) fn challenge_ack(&mut self, now: Instant) {
        let limit = self.config.challenge_ack_limit;
        if limit > 0 {
            if now.saturating_duration_since(self.challenge_window) >= Duration::from_secs(1) {
                self.challenge_window = now;
                self.challenge_count = 0;
            }
            if self.challenge_count >= limit {
                self.stats.challenge_acks_suppressed += 1;
                return;
            }
            self.challenge_count += 1;
        }
        self.stats.challenge_acks += 1;
        self.send_now.set(SendNow::ACK);
    }
}
