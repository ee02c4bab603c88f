//! Header prediction (Van Jacobson's, as Linux's `tcp_rcv_established` fast path): the
//! ordinary segment of an ESTABLISHED connection, in order, flags ACK (and maybe PSH, and
//! unlike Linux maybe FIN: the peer's close, answered by moving to CLOSE-WAIT), no SACK
//! blocks, a non-zero window, and an ACK that either acknowledges everything outstanding or
//! nothing while nothing is outstanding, skips the parts of RFC 9293 §3.10.7.4 that are
//! provably no-ops in that state: SACK block processing, RACK loss detection, the recovery,
//! PRR, F-RTO and undo steps, the tail loss probe episode, the challenge-ACK checks and the
//! out-of-order queue.
//!
//! Everything that has an effect runs as in the full path, in the same order: the timestamps
//! checks (RFC 7323 §3.2, §5) and TS.Recent (§4.3), the idle and keepalive timers, the RTT
//! sample (RFC 6298, RFC 7323 §4.1), RACK's RTT (RFC 8985 §6.2), the delivery-rate sample
//! (BBR), window growth (HyStart++ / the controller's `on_ack`), the window update
//! (SND.WL1/SND.WL2) and the delayed-ACK / quick-ACK decision. Any other segment, or any
//! state with recovery machinery active, goes through the full path.
use super::send_now::SendNow;
use super::Connection;
use crate::tcp::scoreboard::{Delivered, SoleAck};
use crate::tcp::seq_check::segment_acceptable;
use crate::tcp::timers::Timer;
use crate::tcp::State;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

#[cfg(test)]
thread_local! {
    /// Tests only: ACKs taken by `predicted_sole_ack` on this thread, so that a test can
    /// tell that the one-pass path ran (and was checked against the full path).
    pub(super) static LEAN_ACKS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

impl Connection {
    /// Processes `seg` on the fast path when it qualifies; returns false (having changed
    /// nothing) when the full path must run.
    pub(super) fn try_header_prediction(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        if !self.predicts(seg) {
            return false;
        }
        // RFC 7323 §3.2, §5 (paws.rs): a failed check drops the segment, as in the full path.
        if !self.timestamps_acceptable(now, seg) {
            return true;
        }
        self.arm_idle(now);
        self.arm_keepalive(now);
        // RFC 7323 §4.3: TS.Recent takes TSval of segments covering Last.ACK.sent.
        if let (true, Some(ts)) = (self.opts.timestamps, seg.timestamp) {
            if seg.seq_number <= self.last_ack_sent {
                self.ts_recent = ts.tsval;
                self.ts_recent_stamp = now;
            }
        }
        self.predicted_ack(now, seg);
        if !seg.payload.is_empty() {
            self.predicted_data(now, seg);
        }
        if seg.flags.fin() {
            // RFC 9293 §3.10.7.4 eighth: the FIN follows the data in order (CLOSE-WAIT).
            self.process_fin(now);
        }
        true
    }

    /// The prediction: every condition under which the steps skipped here do nothing.
    pub(super) fn predicts(&self, seg: &TcpRepr<'_>) -> bool {
        // A FIN too: the peer's close that acknowledges our last response (every short
        // connection's) is otherwise an ordinary segment.
        let flags_ok =
            TcpFlags(seg.flags.0 & !(TcpFlags::PSH.0 | TcpFlags::FIN.0)) == TcpFlags::ACK;
        if !(flags_ok && self.state == State::Established && seg.seq_number == self.rcv_nxt) {
            return false;
        }
        // SACK mode with no block to process (so no D-SACK either), and no recovery,
        // retransmission, F-RTO, undo or tail-loss-probe state that an ACK would move.
        let quiet = self.sack_mode()
            && seg.sack_ranges.iter().all(Option::is_none)
            && !self.in_recovery
            && !self.send_now.has(SendNow::RETRANSMIT_FRONT)
            && !self.retransmit_first_hole
            && self.frto_recover_watch().is_none()
            && self.undo.is_none()
            && self.tlp.is_none()
            && self.scoreboard.sacked_bytes() == 0
            && self.scoreboard.lost_outstanding() == 0
            && !self.fin_queued
            && self.pending_fin.is_none();
        if !quiet {
            return false;
        }
        // Either everything outstanding is acknowledged now, or nothing was outstanding.
        let ack = seg.ack_number;
        let ack_ok = (ack > self.snd_una && ack == self.snd_max)
            || (ack == self.snd_una && self.snd_una == self.snd_max);
        // A zero window is left to the full path (it resets the retransmission count and
        // starts the persist timer). Unlike Linux's prediction a changed window qualifies:
        // here the update is only the assignment below, and the right edge a receiver
        // advertises stays put between window updates, so the window shrinks with every
        // request of a ping-pong.
        if !ack_ok || seg.window_len == 0 {
            return false;
        }
        let rcv_wnd = self.rcv_wnd();
        let len = seg.payload.len();
        let seg_len = seg.segment_len();
        seg_len == 0
            || (segment_acceptable(seg.seq_number, seg_len, self.rcv_nxt, rcv_wnd)
                && self.assembler.is_empty()
                && !self.app_closed
                && len <= self.recv_buf.free())
    }

    /// RFC 9293 §3.10.7.4 fifth, for an ACK of everything outstanding or of nothing while
    /// nothing is outstanding (`process_ack`, `on_new_ack` and `after_sack_ack` without the
    /// steps that are no-ops here). An ACK of nothing delivers nothing: no rate sample.
    fn predicted_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let ack = seg.ack_number;
        if ack > self.snd_una {
            // The ping-pong's ACK of its one segment in flight, when no controller reads the
            // rate sample, in one pass (`predicted_sole_ack`); else the general steps.
            let sole = if self.cc.uses_rate_samples() {
                None
            } else {
                self.scoreboard.take_sole_record(ack, now)
            };
            match sole {
                Some(sole) => self.predicted_sole_ack(now, seg, sole),
                None => self.predicted_cumulative_ack(now, seg),
            }
        }
        self.unanswered_probes = 0;
        // Window update (RFC 9293 §3.10.7.4: SND.WL1/SND.WL2 guard against old segments).
        if self.snd_wl1 < seg.seq_number || (self.snd_wl1 == seg.seq_number && self.snd_wl2 <= ack)
        {
            let window = usize::from(seg.window_len) << self.opts.snd_shift;
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
        }
    }

    /// A new ACK of everything outstanding, in general: the scoreboard's cumulative ACK, then
    /// `after_sack_ack`'s steps and the delivery-rate sample for the controller.
    fn predicted_cumulative_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let ack = seg.ack_number;
        let before = self.ack_snapshot();
        let mut delivered = Delivered::default();
        let buffered = self.advance_snd_una(now, seg);
        self.timers.stop(Timer::Retransmit); // RFC 6298 §5.2: nothing outstanding
        if !self.scoreboard.ack_sole_record(ack, &mut delivered) {
            self.scoreboard.on_cumulative_ack_into(ack, &mut delivered);
        }
        if self.scoreboard.is_empty() {
            self.predicted_sack_ack(now, &delivered, buffered);
        } else {
            self.after_sack_ack(now, delivered, buffered); // not expected: the full steps
        }
        self.on_ack_delivery(now, &delivered, before);
    }

    /// A new ACK of the one record in flight, which the scoreboard has already dropped and
    /// taken into its delivery state (`Scoreboard::take_sole_record`): the rest of
    /// `predicted_cumulative_ack` with the record's facts passed as they are, no `Delivered`
    /// and no rate sample (only BBR reads one, and BBR does not come here).
    fn predicted_sole_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, sole: SoleAck) {
        let acked = self.advance_snd_una(now, seg);
        self.timers.stop(Timer::Retransmit); // RFC 6298 §5.2: nothing outstanding
        self.frto_on_ack(acked > 0, false); // F-RTO is off: only clears its per-ACK note
                                            // RACK (RFC 8985 §6.2 steps 2-3, `rack_update` with F-RTO off) for this record.
        if sole.reordered {
            self.rack.reordering_seen = true;
        }
        let rtt = now.saturating_duration_since(sole.xmit_time);
        if !(sole.retransmitted && self.rack.min_rtt.is_some_and(|min| rtt < min)) {
            self.rack.rtt = rtt;
            self.rack.min_rtt = Some(self.rack.min_rtt.map_or(rtt, |m| m.min(rtt)));
            let newer = match self.rack.xmit {
                None => true,
                Some(t) => sole.xmit_time > t || (sole.xmit_time == t && sole.end > self.rack.end),
            };
            if newer {
                self.rack.xmit = Some(sole.xmit_time);
                self.rack.end = sole.end;
            }
        }
        self.after_emptying_ack(now, acked);
        #[cfg(test)]
        LEAN_ACKS.with(|n| n.set(n.get() + 1));
    }

    /// `after_sack_ack` for an ACK that emptied the scoreboard outside recovery.
    fn predicted_sack_ack(&mut self, now: Instant, delivered: &Delivered, acked: usize) {
        self.scoreboard.finish_ack(delivered);
        self.frto_on_ack(acked > 0, false); // F-RTO is off: only clears its per-ACK note
        self.rack_update(now, delivered, false);
        self.after_emptying_ack(now, acked);
    }

    /// The last steps of an ACK that left nothing in flight, outside recovery: both predicted
    /// ACK paths end here.
    #[inline(always)]
    fn after_emptying_ack(&mut self, now: Instant, acked: usize) {
        // RACK's detection over an empty scoreboard finds nothing and stops its timer.
        if self.config.rack && self.rack.xmit.is_some() {
            self.timers.stop(Timer::Rack);
        }
        // grow_window checks cwnd_limited first too; asked here, an application-limited
        // ping-pong (every ACK of one) skips the call.
        if acked > 0 && self.cwnd_limited() {
            self.grow_window(now, acked);
        }
        self.prr_on_ack();
        // Nothing is in flight: no tail loss probe.
        self.timers.stop(Timer::TailLossProbe);
    }

    /// RFC 9293 §3.10.7.4 seventh for in-order data with an empty out-of-order queue and
    /// room for all of it (`process_text`'s in-order case).
    fn predicted_data(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let len = seg.payload.len();
        self.recv_buf.write_at(0, seg.payload);
        self.recv_buf.commit(len);
        self.rcv_nxt += len;
        if self.read_shutdown {
            self.recv_buf.discard(len);
        }
        self.rcv_mss_estimate = self.rcv_mss_estimate.max(len);
        self.ack_in_order(now, len);
    }

    /// Tests only: for a segment the fast path takes, the connection as the full path leaves
    /// it, so that every test of this crate checks the two paths agree.
    #[cfg(test)]
    pub(super) fn full_path_twin(&self, now: Instant, seg: &TcpRepr<'_>) -> Option<Connection> {
        if !self.predicts(seg) {
            return None;
        }
        let mut twin = self.clone();
        twin.process_segment(now, seg);
        twin.update_persist(now);
        Some(twin)
    }

    /// Tests only: panics unless this connection's whole state (its `Debug` form, received
    /// bytes included) equals `twin`'s.
    #[cfg(test)]
    pub(super) fn assert_same_as(&self, twin: Option<Connection>) {
        let Some(twin) = twin else { return };
        assert_eq!(
            format!("{self:?}"),
            format!("{twin:?}"),
            "header prediction left a different state than the full path"
        );
        let readable = self.recv_buf.readable();
        let (mut mine, mut theirs) = (vec![0; readable], vec![0; readable]);
        self.recv_buf.clone().read(&mut mine, true);
        twin.recv_buf.clone().read(&mut theirs, true);
        assert_eq!(mine, theirs, "header prediction stored different bytes");
    }
}
