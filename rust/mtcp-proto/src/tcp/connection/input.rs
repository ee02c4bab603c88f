//! Segment arrival (RFC 9293 §3.10.7) and timeouts (RFC 9293 §3.10.8, RFC 6298 §5).
use super::send_now::SendNow;
use super::{Connection, PendingReset};
use crate::errno::Errno;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::scoreboard::Delivered;
use crate::tcp::seq_check::segment_acceptable;
use crate::tcp::timers::Timer;
use crate::tcp::State;
use crate::time::{Duration, Instant};
use crate::wire::{SeqNumber, TcpRepr};

/// Duplicate ACKs that trigger fast retransmit (RFC 5681 §3.2).
const DUP_ACK_THRESHOLD: u32 = 3;

impl Connection {
    pub(super) fn process_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        match self.state {
            State::Listen => {}
            // RFC 9293 §3.10.7.1: a closed connection answers everything but a RST with one.
            State::Closed => {
                if !seg.flags.rst() {
                    self.pending_rst = Some(reset_reply(seg));
                }
            }
            State::SynSent => self.process_syn_sent(now, seg),
            _ => self.process_synchronized(now, seg),
        }
    }

    /// RFC 9293 §3.10.7.3: SYN-SENT.
    fn process_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let flags = seg.flags;
        // First, check the ACK bit.
        if flags.ack() && (seg.ack_number <= self.iss || seg.ack_number > self.snd_max) {
            if !flags.rst() {
                self.pending_rst = Some(PendingReset {
                    seq: seg.ack_number,
                    ack: None,
                });
            }
            return;
        }
        // Second, check the RST bit: only a RST that acknowledges our SYN refuses it.
        if flags.rst() {
            if flags.ack() {
                self.enter_closed(Some(Errno::ECONNREFUSED));
            }
            return;
        }
        // Fourth, check the SYN bit.
        if !flags.syn() {
            return;
        }
        self.take_peer_syn(seg);
        self.ts_recent_stamp = now;
        self.snd_wnd = usize::from(seg.window_len); // never scaled in a SYN (RFC 7323 §2.2)
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq_number;
        self.snd_wl2 = seg.ack_number;
        self.arm_idle(now);
        if flags.ack() {
            // Our SYN is acknowledged: ESTABLISHED, and ACK the peer's SYN at once.
            self.snd_una = seg.ack_number;
            self.on_syn_acked(now, seg);
            self.establish(now);
            self.arm_keepalive(now);
            self.send_now.set(SendNow::ACK);
        } else {
            // Simultaneous open (RFC 9293 Figure 7): answer with SYN,ACK from ISS.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
        }
    }

    /// Our SYN has been acknowledged (SYN-SENT): RTT sample and timer reset.
    fn on_syn_acked(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        self.take_rtt_sample(now, seg, self.iss + 1);
        self.syn_acked(now);
    }

    /// `on_syn_acked` without the RTT sample, for SYN-RECEIVED, where the rest of
    /// `process_ack` takes the ACK's one sample (`advance_snd_una`; RFC 6298 §3: one
    /// measurement per ACK, not one for the SYN and another for the same ACK).
    fn syn_acked(&mut self, now: Instant) {
        self.note_progress(now);
        self.retries = 0;
        self.timers.stop(Timer::Retransmit);
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
    }

    /// SYN exchange complete: ESTABLISHED, or FIN-WAIT-1 when the application already shut
    /// down its sending side.
    fn establish(&mut self, now: Instant) {
        self.last_receipt = now;
        self.state = if self.fin_queued {
            State::FinWait1
        } else {
            State::Established
        };
    }

    /// RFC 9293 §3.10.7.4: every state from SYN-RECEIVED on.
    fn process_synchronized(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let flags = seg.flags;
        // A retransmitted SYN in SYN-RECEIVED: our SYN,ACK was lost, send it again.
        if self.state == State::SynReceived
            && flags.syn()
            && !flags.ack()
            && !flags.rst()
            && seg.seq_number == self.irs
        {
            self.snd_nxt = self.iss;
            return;
        }
        // Simultaneous open (RFC 9293 Figure 7): the peer's SYN,ACK acknowledging our SYN
        // completes the handshake, although its SYN lies just left of the window (as Linux).
        if self.state == State::SynReceived
            && flags.syn()
            && flags.ack()
            && !flags.rst()
            && seg.seq_number + 1 == self.rcv_nxt
            && seg.ack_number == self.snd_max
        {
            self.process_ack(now, seg);
            return;
        }
        // Timestamps checks (RFC 7323 §3.2, §5): paws.rs.
        if !self.timestamps_acceptable(now, seg) {
            return;
        }
        // First, check the sequence number.
        let rcv_wnd = self.rcv_wnd();
        let acceptable = segment_acceptable(seg.seq_number, seg.segment_len(), self.rcv_nxt, rcv_wnd)
            // RFC 9293 §3.10.7.4: with a zero window, still take the ACK (and RST) at RCV.NXT.
            || (rcv_wnd == 0 && seg.seq_number == self.rcv_nxt);
        if !acceptable {
            if !flags.rst() {
                self.send_now.set(SendNow::ACK);
                self.note_duplicate(seg.seq_number, seg.payload.len());
                // RFC 9293 §3.10.7.4 eighth: a retransmitted FIN restarts the 2·MSL wait.
                if self.state == State::TimeWait && flags.fin() {
                    self.timers.set(Timer::TimeWait, now + self.config.timewait);
                }
            }
            return;
        }
        self.arm_idle(now);
        self.arm_keepalive(now);
        // Second, check the RST bit (RFC 5961 §3.2).
        if flags.rst() {
            if seg.seq_number == self.rcv_nxt {
                self.reset_by_peer();
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fourth, check the SYN bit: any SYN here gets a challenge ACK (RFC 5961 §4).
        if flags.syn() {
            self.challenge_ack(now);
            return;
        }
        // Fifth, check the ACK field.
        if !flags.ack() {
            return;
        }
        // RFC 7323 §4.3: TS.Recent takes TSval of segments covering Last.ACK.sent.
        if let (true, Some(ts)) = (self.opts.timestamps, seg.timestamp) {
            if seg.seq_number <= self.last_ack_sent {
                self.ts_recent = ts.tsval;
                self.ts_recent_stamp = now;
            }
        }
        if !self.process_ack(now, seg) {
            return;
        }
        // Seventh, process the segment text; eighth, check the FIN bit.
        self.process_text(now, seg);
        if self.pending_fin == Some(self.rcv_nxt) {
            self.process_fin(now);
        }
    }

    /// A RST at exactly RCV.NXT (RFC 9293 §3.10.7.4 second, RFC 5961 §3.2).
    fn reset_by_peer(&mut self) {
        let error = match self.state {
            // Passive open: just close, the runtime frees it. Active (simultaneous) open: refused.
            State::SynReceived => self.active_open.then_some(Errno::ECONNREFUSED),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                Some(Errno::ECONNRESET)
            }
            _ => None,
        };
        self.enter_closed(error);
    }

    /// RFC 9293 §3.10.7.4 fifth. Returns false when the segment must be dropped.
    fn process_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        let ack = seg.ack_number;
        if self.state == State::SynReceived {
            if ack <= self.snd_una || ack > self.snd_max {
                self.pending_rst = Some(PendingReset {
                    seq: ack,
                    ack: None,
                });
                return false;
            }
            self.syn_acked(now);
            self.snd_wnd = usize::from(seg.window_len) << self.opts.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
            self.establish(now);
            self.arm_keepalive(now); // a passive open is probed from here on too
            if ack == self.snd_max && seg.sack_ranges[0].is_none() {
                return self.on_syn_only_acked(now, seg);
            }
        }
        // ACK of something not yet sent, or too old to be a plausible duplicate: dropped
        // with a (challenge) ACK (RFC 9293 §3.10.7.4, RFC 5961 §5.2).
        let max_old = self.max_snd_wnd.max(usize::from(self.send_mss()));
        if ack > self.snd_max || ack < self.snd_una - max_old {
            self.challenge_ack(now);
            return false;
        }
        if ack > self.snd_una
            && self.fin_queued
            && ack == self.data_end() + 1
            && seg.sack_ranges[0].is_none()
        {
            return self.on_fin_acked(now, seg);
        }
        let window = usize::from(seg.window_len) << self.opts.snd_shift;
        let before = self.ack_snapshot();
        let delivered = if ack > self.snd_una {
            self.on_new_ack(now, seg)
        } else if ack == self.snd_una {
            self.on_duplicate_ack(now, seg, window)
        } else {
            Delivered::default()
        };
        // After loss detection and recovery, as Linux's tcp_ack calls cong_control.
        self.on_ack_delivery(now, &delivered, before);
        // Any acceptable ACK answers an outstanding zero-window probe; a peer that keeps
        // answering with a zero window is alive, so its retransmissions are not failures.
        self.unanswered_probes = 0;
        if window == 0 {
            self.retries = 0;
        }
        // Window update (RFC 9293 §3.10.7.4: SND.WL1/SND.WL2 guard against old segments).
        if self.snd_wl1 < seg.seq_number || (self.snd_wl1 == seg.seq_number && self.snd_wl2 <= ack)
        {
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
        }
        if self.fin_acked() {
            return self.after_fin_acked(now);
        }
        true
    }

    /// The state change an ACK of our FIN makes (RFC 9293 §3.10.7.4): FIN-WAIT-1 goes to
    /// FIN-WAIT-2, CLOSING to TIME-WAIT, LAST-ACK to CLOSED (then false: the connection is
    /// gone, nothing more of the segment is processed).
    fn after_fin_acked(&mut self, now: Instant) -> bool {
        match self.state {
            State::FinWait1 => self.state = State::FinWait2,
            State::Closing => self.enter_time_wait(now),
            State::LastAck => {
                self.enter_closed(None);
                return false;
            }
            _ => {}
        }
        true
    }

    /// The handshake's ACK acknowledges our SYN and nothing else was sent: the SYN is not in
    /// the scoreboard, so the ACK delivered no data and the rest of `process_ack` (scoreboard,
    /// SACK, RACK, delivery rate, cwnd, window update, all done or empty here) reduces to
    /// moving SND.UNA. Test builds check that against the general path on a twin.
    fn on_syn_only_acked(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        #[cfg(test)]
        let twin = {
            let mut twin = self.clone();
            let accepted = twin.process_ack(now, seg);
            (twin, accepted)
        };
        self.advance_snd_una(now, seg);
        if self.sack_mode() {
            self.prr_on_ack(); // PRR remembers SND.UNA for the next ACK (RFC 6937)
        }
        #[cfg(test)]
        {
            assert!(twin.1, "the general path accepts the handshake's ACK");
            assert_eq!(
                format!("{self:?}"),
                format!("{:?}", twin.0),
                "the handshake ACK's short path left a different state than the general path"
            );
        }
        true
    }

    /// Our FIN is acknowledged, and with it everything we sent (FIN-WAIT-1, CLOSING,
    /// LAST-ACK): nothing of ours is left to send, ever, so what an ACK feeds for the sending
    /// side to come (the scoreboard, RACK and delivery-rate samples, the congestion window,
    /// the peer's window) has no use any more. Only SND.UNA moves (with its RTT sample) and
    /// the state with it (RFC 9293 §3.10.7.4 fifth). A closing connection's last segments
    /// (the FIN exchange of every short connection) skip the recovery machinery this way.
    fn on_fin_acked(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        self.advance_snd_una(now, seg);
        for timer in [
            Timer::Retransmit,
            Timer::TailLossProbe,
            Timer::Rack,
            Timer::Persist,
            Timer::Pace,
        ] {
            self.timers.stop(timer);
        }
        self.scoreboard.clear();
        self.tlp = None;
        self.unanswered_probes = 0;
        self.after_fin_acked(now)
    }

    /// What every new cumulative ACK does first (the full path and header prediction): take
    /// its RTT sample, drop the acknowledged bytes from the send buffer, move SND.UNA (and
    /// SND.NXT, after a go-back) up to SEG.ACK, and note the progress. Returns the data bytes
    /// it acknowledged.
    pub(super) fn advance_snd_una(&mut self, now: Instant, seg: &TcpRepr<'_>) -> usize {
        let ack = seg.ack_number;
        self.ack_rtt = None;
        self.take_rtt_sample(now, seg, ack);
        let buffered = ((ack - self.send_buf_seq).max(0) as usize).min(self.send_buf.len());
        self.send_buf.consume(buffered);
        self.send_buf_seq += buffered;
        self.snd_una = ack;
        self.soft_error = None; // the path works
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        self.retries = 0;
        self.dup_acks = 0;
        self.note_progress(now);
        buffered
    }

    /// SND.UNA < SEG.ACK =< SND.MAX: data (or our SYN/FIN) acknowledged. Returns what the
    /// ACK delivered.
    fn on_new_ack(&mut self, now: Instant, seg: &TcpRepr<'_>) -> Delivered {
        let ack = seg.ack_number;
        let buffered = self.advance_snd_una(now, seg);
        // RFC 6298 §5.2, §5.3.
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.arm_rto(now);
        }
        let mut delivered = self.scoreboard.on_cumulative_ack(ack);
        if self.sack_mode() {
            self.process_sack_blocks(seg, &mut delivered);
            self.after_sack_ack(now, delivered, buffered);
            return delivered;
        }
        let mss = usize::from(self.send_mss());
        if self.frto_recover_watch().is_some() {
            // F-RTO without SACK (frto.rs, RFC 5682 §2's basic algorithm).
            self.frto_note_cumulative(&delivered);
            self.frto_on_ack(true, false);
        }
        // Congestion control counts data bytes, not the SYN or FIN.
        if self.in_recovery {
            if ack >= self.recover {
                self.in_recovery = false;
                self.cc.on_recovery_exit(self.flight_size(), mss);
            } else {
                // RFC 6582 §3.2 step 5: partial ACK, retransmit the next hole at once.
                if !self.prr_reno_partial_ack(buffered) {
                    self.cc.on_partial_ack(buffered, mss);
                }
                self.send_now.set(SendNow::RETRANSMIT_FRONT);
            }
        } else if buffered > 0 {
            self.grow_window(now, buffered);
        }
        delivered
    }

    /// RFC 5681 §2 duplicate ACK. With SACK, the ACK's blocks feed the scoreboard and
    /// RACK/RFC 6675 decide (`recovery.rs`); without, the third duplicate starts fast
    /// retransmit and NewReno recovery (RFC 6582 §3.2).
    fn on_duplicate_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, window: usize) -> Delivered {
        let mut delivered = Delivered::default();
        if self.snd_max == self.snd_una {
            if self.sack_mode() {
                // Nothing in flight, but a D-SACK may still prove a retransmission needless.
                self.process_sack_blocks(seg, &mut Delivered::default());
                self.undo_after_ack();
            }
            return delivered;
        }
        if self.sack_mode() {
            self.process_sack_blocks(seg, &mut delivered);
            self.after_sack_ack(now, delivered, 0);
            return delivered;
        }
        let classic = seg.payload.is_empty() && !seg.flags.fin() && window == self.snd_wnd;
        if !classic {
            return delivered;
        }
        self.dup_acks += 1;
        if self.frto_recover_watch().is_some() {
            self.frto_on_ack(false, false); // F-RTO without SACK: step 3a after 2b
        }
        let mss = usize::from(self.send_mss());
        if self.in_recovery {
            if !self.prr_reno_dup_ack() {
                self.cc.on_recovery_dup_ack(mss);
            }
        } else if self.snd_una > self.recover && self.dup_acks >= DUP_ACK_THRESHOLD {
            // RFC 6582 §3.2 steps 2–3.
            self.in_recovery = true;
            self.recover = self.snd_max;
            self.stats.fast_recoveries += 1;
            self.cc.on_fast_retransmit(self.flight_size(), mss, now);
            self.prr_reno_start(self.dup_acks as usize);
            self.send_now.set(SendNow::RETRANSMIT_FRONT);
            self.rtt_timing = None; // Karn: the timed segment may be the one resent
        }
        delivered
    }

    /// RTT measurement for an ACK that advances SND.UNA to `ack`: from the echoed timestamp
    /// when timestamps are on (RFC 7323 §4.1), else from the one timed segment, which Karn's
    /// rule voids when anything is retransmitted (RFC 6298 §3).
    pub(super) fn take_rtt_sample(&mut self, now: Instant, seg: &TcpRepr<'_>, ack: SeqNumber) {
        if let (true, Some(ts)) = (self.opts.timestamps, seg.timestamp) {
            let elapsed_ms = self.ts_clock(now).wrapping_sub(ts.tsecr);
            if elapsed_ms < u32::MAX / 2 {
                let rtt = Duration::from_millis(u64::from(elapsed_ms));
                self.rtt.sample(rtt);
                self.ack_rtt = Some(rtt);
            }
            return;
        }
        if let Some((end, sent_at)) = self.rtt_timing {
            if ack >= end {
                self.rtt.sample(now - sent_at);
                self.ack_rtt = Some(now - sent_at);
                self.rtt_timing = None;
            }
        }
    }

    /// RFC 9293 §3.10.7.4 seventh: data into the receive buffer, in order or parked for later.
    fn process_text(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let mut data = seg.payload;
        let mut seq = seg.seq_number;
        if seq < self.rcv_nxt {
            let old = ((self.rcv_nxt - seq) as usize).min(data.len());
            self.note_duplicate(seq, old);
            data = &data[old..];
            seq += old;
        }
        let offset = (seq - self.rcv_nxt).max(0) as usize;
        let room = self.recv_buf.free().saturating_sub(offset);
        let fin_fits = seg.flags.fin() && data.len() <= room && seq >= self.rcv_nxt;
        let data = &data[..data.len().min(room)];
        if fin_fits {
            self.pending_fin = Some(seq + data.len());
        }
        if data.is_empty() {
            if !seg.payload.is_empty() {
                self.send_now.set(SendNow::ACK); // duplicate or beyond the window
            }
            return;
        }
        if self.app_closed {
            // Linux: data for a connection the application closed is answered with RST.
            self.queue_own_reset();
            self.enter_closed(None);
            return;
        }
        let filled_hole = !self.assembler.is_empty();
        self.recv_buf.write_at(offset, data);
        let Ok(in_order) = self.assembler.add(offset, offset + data.len()) else {
            self.send_now.set(SendNow::ACK); // too many holes: dropped, the sender will resend
            return;
        };
        if offset > 0 {
            self.note_out_of_order(seq);
        }
        self.recv_buf.commit(in_order);
        self.rcv_nxt += in_order;
        if self.read_shutdown {
            self.recv_buf.discard(in_order);
        }
        self.rcv_mss_estimate = self.rcv_mss_estimate.max(data.len());
        // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: out-of-order data or data filling a hole is
        // acknowledged at once; otherwise every second full-sized segment, or after a delay.
        if offset > 0 || filled_hole {
            self.send_now.set(SendNow::ACK);
        } else {
            self.ack_in_order(now, in_order);
        }
    }

    /// `len` more in-order bytes arrived: acknowledge at once in quickack mode or for every
    /// second full-sized segment, else within the delayed-ACK time (RFC 1122 §4.2.3.2,
    /// RFC 9293 §3.8.6.3).
    pub(super) fn ack_in_order(&mut self, now: Instant, len: usize) {
        self.unacked_bytes += len;
        if self.quick_ack(now) || self.unacked_bytes >= 2 * self.rcv_mss_estimate {
            self.send_now.set(SendNow::ACK);
        } else if !self.timers.is_armed(Timer::DelayedAck) {
            // Armed from the first unacknowledged segment, so never later than the delay.
            self.timers
                .set(Timer::DelayedAck, now + self.config.delayed_ack);
        }
    }

    /// Quickack mode (Linux's `tcp_incr_quickack`): the first in-order data of a connection,
    /// or the first after the peer was silent for an RTO, starts a run of ACKs sent at once,
    /// so the peer's slow start is not paced by delayed ACKs. Returns whether this segment is
    /// acknowledged at once.
    pub(super) fn quick_ack(&mut self, now: Instant) -> bool {
        // Against the RTO's floor first: data arriving closer together than that (every
        // busy connection's) is not idle, and the RTO itself need not be worked out.
        let idle = self.last_data_at.is_none_or(|last| {
            let gap = now.saturating_duration_since(last);
            gap > self.rtt.rto_floor() && gap > self.rtt.rto()
        });
        self.last_data_at = Some(now);
        self.last_receipt = now;
        if idle {
            let window_segments = self.recv_buf.capacity() / (2 * self.rcv_mss_estimate.max(1));
            self.quick_acks_left = self.config.quick_acks.min(window_segments.max(1) as u32);
        }
        if self.quick_acks_left == 0 || self.pingpong {
            return false;
        }
        self.quick_acks_left -= 1;
        true
    }

    /// We send data: within the delayed-ACK time of the last arrival it answers the peer, so
    /// the connection is interactive and ACKs wait for our answers (Linux's
    /// `tcp_event_data_sent`, pingpong mode). A request/response exchange then needs no bare
    /// ACK of the response: it rides on the next request, or on the FIN.
    #[inline]
    pub(super) fn note_data_sent(&mut self, now: Instant) {
        if !self.pingpong
            && now.saturating_duration_since(self.last_receipt) < self.config.delayed_ack
        {
            self.pingpong = true;
        }
    }

    /// RFC 9293 §3.10.7.4 eighth: the peer's FIN, now in order.
    pub(super) fn process_fin(&mut self, now: Instant) {
        self.pending_fin = None;
        self.rcv_nxt += 1;
        self.fin_received = true;
        match self.state {
            State::SynReceived | State::Established => {
                self.state = State::CloseWait;
                // An application usually answers the end of the stream by closing: the ACK
                // of the FIN waits up to the delayed-ACK time to go out with our FIN rather
                // than alone (Linux's tcp_fin enters pingpong mode in CLOSE-WAIT).
                if !self.timers.is_armed(Timer::DelayedAck) {
                    self.timers
                        .set(Timer::DelayedAck, now + self.config.delayed_ack);
                }
            }
            State::FinWait1 => {
                self.send_now.set(SendNow::ACK);
                self.state = State::Closing;
            }
            State::FinWait2 => {
                self.send_now.set(SendNow::ACK);
                self.enter_time_wait(now);
            }
            _ => self.send_now.set(SendNow::ACK),
        }
    }

    /// TIME-WAIT for `config.timewait`; zero leaves at once (the final ACK still goes out).
    fn enter_time_wait(&mut self, now: Instant) {
        self.timers.stop_all();
        if self.config.timewait == Duration::ZERO {
            let owe_ack = self.send_now.has(SendNow::ACK);
            self.enter_closed(None);
            self.send_now.set_to(SendNow::FINAL_ACK, owe_ack);
        } else {
            self.state = State::TimeWait;
            self.timers.set(Timer::TimeWait, now + self.config.timewait);
        }
    }

    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Retransmit => self.on_retransmit_timeout(now),
            Timer::Persist => self.on_persist_timeout(now),
            Timer::DelayedAck => {
                // No data of ours took the ACK along in time: not interactive after all.
                self.pingpong = false;
                self.send_now.set(SendNow::ACK);
            }
            Timer::TimeWait => self.enter_closed(None),
            Timer::Rack => self.on_rack_timeout(now),
            Timer::TailLossProbe => self.on_tlp_timeout(now),
            Timer::KeepAlive => self.on_keepalive_timeout(now),
            Timer::Pace => {} // the runtime polls for output after any timer
            Timer::Idle => {
                if !matches!(self.state, State::Closed | State::TimeWait) {
                    if !matches!(self.state, State::SynSent) {
                        self.queue_own_reset();
                    }
                    self.enter_closed(Some(Errno::ETIMEDOUT));
                }
            }
        }
    }

    /// RFC 6298 §5.4–5.6: retransmit from SND.UNA with a doubled RTO; give up with ETIMEDOUT
    /// after `max_syn_retries` (handshake) or `max_retries` retransmissions.
    fn on_retransmit_timeout(&mut self, now: Instant) {
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        if self.snd_una == self.snd_max && !handshake {
            return;
        }
        self.retries += 1;
        let limit = if handshake {
            self.config.max_syn_retries
        } else {
            self.config.max_retries
        };
        // The user timeout bounds the handshake too (as Linux); its clock starts with the SYN.
        if self.retries > limit || self.user_timed_out(now) {
            self.enter_closed(Some(self.timeout_error()));
            return;
        }
        self.rtt.back_off();
        self.stats.timeouts += 1;
        let mss = usize::from(self.send_mss());
        if !handshake {
            self.frto_on_timeout(); // before the reduction it may undo (frto.rs)
        }
        self.cc.on_timeout(self.flight_size(), mss);
        self.in_recovery = false;
        self.recover = self.snd_max;
        self.dup_acks = 0;
        self.send_now.clear(SendNow::RETRANSMIT_FRONT);
        self.rtt_timing = None;
        if self.sack_mode() && !handshake {
            // Resend the holes only, as the window reopens (recovery.rs).
            self.on_sack_timeout();
        } else {
            self.snd_nxt = self.snd_una; // go back N
        }
        if self.snd_wnd == 0 && !handshake {
            // The peer shrank its window to zero under data in flight: the retransmission
            // must go anyway and serves as the zero-window probe (as Linux does).
            self.send_now.set(SendNow::RETRANSMIT_FRONT);
        }
        self.arm_rto(now);
    }

    /// RFC 9293 §3.8.6.1: probe a zero window; back off like the RTO.
    fn on_persist_timeout(&mut self, now: Instant) {
        if !self.persist_needed() {
            return;
        }
        self.unanswered_probes += 1;
        if self.unanswered_probes > self.config.max_retries {
            self.queue_own_reset();
            self.enter_closed(Some(Errno::ETIMEDOUT));
            return;
        }
        self.send_now.set(SendNow::PROBE);
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        self.timers
            .set(Timer::Persist, now + self.persist_interval());
    }

    fn persist_interval(&self) -> Duration {
        let base = self.rtt.rto();
        base.saturating_mul(1u64 << self.persist_backoff.min(16))
            .min(self.config.max_rto.max(base))
    }

    /// Data waits, nothing is in flight, and the peer's window is zero.
    #[inline]
    pub(super) fn persist_needed(&self) -> bool {
        // The zero window first: it is the rare condition, and this runs after every segment.
        self.snd_wnd == 0
            && self.state.sending()
            && self.snd_una == self.snd_max
            && self.data_end() > self.snd_nxt
    }

    /// Arms the persist timer while probing is needed; stops it (and its backoff) once not.
    pub(super) fn update_persist(&mut self, now: Instant) {
        if self.persist_needed() {
            if !self.timers.is_armed(Timer::Persist) {
                self.timers
                    .set(Timer::Persist, now + self.persist_interval());
            }
        } else {
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
        }
    }
}

impl Connection {
    /// The error of a connection that timed out: ETIMEDOUT, or the soft error (an ICMP
    /// error) that explains it, as Linux's `tcp_write_err`.
    pub(super) fn timeout_error(&self) -> Errno {
        self.soft_error.unwrap_or(Errno::ETIMEDOUT)
    }

    /// `len` bytes from `seq` arrived again, at or below RCV.NXT: report them in a D-SACK
    /// block (RFC 2883 §4) when SACK is in use.
    fn note_duplicate(&mut self, seq: SeqNumber, len: usize) {
        if self.opts.sack && len > 0 && seq + len <= self.rcv_nxt {
            self.dsack = Some((seq, seq + len));
        }
    }
}

/// The RST answering `seg` in CLOSED (RFC 9293 §3.10.7.1).
fn reset_reply(seg: &TcpRepr<'_>) -> PendingReset {
    if seg.flags.ack() {
        PendingReset {
            seq: seg.ack_number,
            ack: None,
        }
    } else {
        PendingReset {
            seq: SeqNumber(0),
            ack: Some(seg.seq_number + seg.segment_len()),
        }
    }
}
