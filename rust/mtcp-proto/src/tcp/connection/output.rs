//! What to send next and how it is written (RFC 9293 §3.8, RFC 5681, RFC 7323).
use super::send_now::SendNow;
use super::{Connection, PendingReset};
use crate::tcp::congestion::CongestionControl;
use crate::tcp::timers::Timer;
use crate::tcp::State;
use crate::time::Instant;
use crate::wire::{PlainHeader, SeqNumber, TcpFlags, TcpRepr, TcpTimestamp};

/// The TCP header without options.
const BASE_HEADER_LEN: usize = 20;
/// The TCP header with the timestamps option (NOP, NOP, kind 8).
const TIMESTAMPED_HEADER_LEN: usize = BASE_HEADER_LEN + 12;

#[cfg(test)]
thread_local! {
    /// Segments `transmit` wrote through its lean path on this thread (tests check that the
    /// path they mean to exercise is the one taken).
    pub(super) static LEAN_SEGMENTS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

impl Connection {
    /// The timestamps clock (RFC 7323 §5.4): milliseconds, offset by the ISS so that TSval does
    /// not reveal the runtime's clock.
    pub(super) fn ts_clock(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.iss.0)
    }

    /// Whether the SYN (or SYN,ACK) is due.
    fn syn_due(&self) -> bool {
        matches!(self.state, State::SynSent | State::SynReceived) && self.snd_nxt == self.iss
    }

    /// FIN may be sent in these states once all data is out (RFC 9293 §3.10.4).
    fn fin_state(&self) -> bool {
        self.fin_queued
            && matches!(
                self.state,
                State::FinWait1 | State::Closing | State::LastAck
            )
    }

    /// cwnd, plus one segment per duplicate ACK before fast retransmit: Limited Transmit
    /// (RFC 3042 §2) keeps the ACK clock going when the window is small.
    fn congestion_window(&self) -> usize {
        let limited_transmit = if self.in_recovery || self.sack_mode() {
            0
        } else {
            self.dup_acks.min(2) as usize
        };
        self.cc.window() + limited_transmit * usize::from(self.send_mss())
    }

    /// Right edge of what may be sent: the peer's window, and the congestion window, counted
    /// with SACK as room above `pipe` (RFC 6675 §5, so SACKed data frees the window as
    /// Limited Transmit would), without it from SND.UNA.
    fn send_window_end(&self) -> SeqNumber {
        let rwnd_end = self.snd_una + self.snd_wnd;
        if self.sack_mode() {
            // Counted in segments, as Linux: while pipe < cwnd a full segment may go.
            let pipe = self.pipe();
            let cwnd = self.cc.window();
            let room = if pipe < cwnd {
                (cwnd - pipe).max(usize::from(self.send_mss()))
            } else {
                0
            };
            let cwnd_end = self.snd_nxt + room;
            rwnd_end.min(cwnd_end)
        } else {
            let end = self.snd_una + self.snd_wnd.min(self.congestion_window());
            match self.frto_new_data_end() {
                Some(frto_end) => end.max(frto_end.min(rwnd_end)), // F-RTO step 2b (frto.rs)
                None => end,
            }
        }
    }

    /// Whether the send window (peer's and congestion) lets the segment at SND.NXT go. With
    /// nothing in flight (an application that sends after its previous data was
    /// acknowledged: every request/response exchange) an open peer window is enough, as
    /// `pipe` is zero and the congestion window never below one segment; the full
    /// computation (`send_window_end`, the costly part) only otherwise.
    #[inline]
    fn send_window_open(&self) -> bool {
        if self.snd_una == self.snd_max && self.snd_wnd > 0 {
            // Debug and test builds check the shortcut against the full computation.
            debug_assert!(
                self.send_window_end() > self.snd_nxt,
                "send_window_open shortcut disagrees"
            );
            return true;
        }
        self.send_window_end() > self.snd_nxt
    }

    /// Cheap over-approximation of "poll_transmit would write something". Out of line:
    /// `wants_transmit`'s inlined check of `output_quiet` often answers without it.
    #[inline(never)]
    pub(super) fn has_output(&self) -> bool {
        // The usual answer after a received segment or a transmit pass. Debug and test
        // builds check it.
        if self.nothing_to_send() {
            debug_assert!(!self.has_output_full(), "has_output shortcut disagrees");
            return false;
        }
        self.has_output_full()
    }

    /// `has_output`'s quick "no": nothing owed, nothing queued past SND.NXT, no FIN still to
    /// send (none queued, or already past SND.NXT), nothing marked lost, no SYN due; then
    /// every branch of `has_output_full` says no (the persist check included: it needs
    /// queued data).
    #[inline]
    pub(super) fn nothing_to_send(&self) -> bool {
        self.send_now.is_empty()
            && self.pending_rst.is_none()
            && self.data_end() <= self.snd_nxt
            && (!self.fin_queued || self.data_end() < self.snd_nxt)
            && self.scoreboard.lost_outstanding() == 0
            && !self.syn_due()
    }

    /// `has_output` in full.
    #[inline]
    fn has_output_full(&self) -> bool {
        let send_now = self.send_now;
        if self.pending_rst.is_some() || send_now.any(SendNow::FINAL_ACK | SendNow::KEEPALIVE_REARM)
        {
            return true;
        }
        match self.state {
            State::Closed | State::Listen => false,
            State::SynSent => self.syn_due(),
            // Flags first, the window computation (the costly part) only when data waits.
            _ => {
                self.syn_due()
                    || send_now.any(
                        SendNow::ACK | SendNow::PROBE | SendNow::RETRANSMIT_FRONT | SendNow::TLP,
                    )
                    || (self.data_end() > self.snd_nxt
                        // Resending below SND.MAX (go-back-N after a timeout) needs no
                        // scoreboard room, as in next_data.
                        && (self.snd_nxt < self.snd_max || self.scoreboard.has_room())
                        && self.send_window_open())
                    || (self.fin_state() && self.snd_nxt <= self.data_end())
                    || self.next_retransmission().is_some()
                    // poll_transmit arms the persist timer (send() has no clock).
                    || (self.persist_needed() && !self.timers.is_armed(Timer::Persist))
            }
        }
    }

    /// The next segment: the lean common case (`lean_transmit`) when it applies, else the
    /// general sequence of checks (`transmit_general`).
    #[inline]
    pub(super) fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.lean_case() {
            // Test builds run the general path on a clone and check that both leave the same
            // connection and write the same bytes (header_prediction.rs does the same for the
            // receive side).
            #[cfg(test)]
            let twin = self.general_twin(now, buf.len());
            if let Some(written) = self.lean_transmit(now, buf) {
                #[cfg(test)]
                self.assert_lean_same_as(twin, &buf[..written]);
                // Usually all queued data (and the FIN) is out and no ACK is owed: the
                // runtime's `wants_transmit` after this segment then answers from the flag
                // instead of asking again. `lean_case` still holds, so of `nothing_to_send`
                // only these conditions are left to check.
                self.output_quiet = self.send_now.is_empty()
                    && self.data_end() <= self.snd_nxt
                    && (!self.fin_queued || self.data_end() < self.snd_nxt);
                debug_assert_eq!(self.output_quiet, self.nothing_to_send());
                return Some(written);
            }
        }
        let written = self.transmit_general(now, buf);
        if written.is_some() {
            // As after a lean segment (a SYN, a FINAL_ACK, a resend usually leaves nothing).
            self.output_quiet = self.nothing_to_send();
        }
        written
    }

    /// `transmit` without the lean path: every reason to send, in order.
    pub(super) fn transmit_general(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.send_now.has(SendNow::KEEPALIVE_REARM) {
            self.send_now.clear(SendNow::KEEPALIVE_REARM);
            self.arm_keepalive(now);
        }
        if let Some(rst) = self.pending_rst.take() {
            return Some(self.emit_reset(buf, rst));
        }
        if self.send_now.has(SendNow::FINAL_ACK) {
            self.send_now.clear(SendNow::FINAL_ACK);
            return Some(self.emit_ack(now, buf, self.snd_max));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.syn_due() => {
                return Some(self.emit_syn(now, buf));
            }
            State::SynSent => return None,
            _ => {}
        }
        if self.state != State::SynReceived {
            if self.send_now.has(SendNow::RETRANSMIT_FRONT) {
                self.send_now.clear(SendNow::RETRANSMIT_FRONT);
                if self.snd_una < self.snd_max {
                    let len = (self.data_end() - self.snd_una).max(0) as usize;
                    return Some(self.emit_data(now, buf, self.snd_una, len, true));
                }
            }
            if self.send_now.has(SendNow::TLP) {
                self.send_now.clear(SendNow::TLP);
                if let Some((seq, len, resend)) = self.tail_loss_probe() {
                    let written = self.emit_data(now, buf, seq, len, resend);
                    self.on_tlp_sent(self.snd_max, resend);
                    return Some(written);
                }
            }
            // Pacing spaces retransmissions and new data; the fast retransmit and the tail
            // loss probe above go at once.
            if !self.paced_out(now) {
                let next = match self.next_retransmission() {
                    Some((seq, len)) => {
                        self.retransmit_first_hole = false;
                        Some((seq, len, true))
                    }
                    None => self.next_data().map(|(seq, len)| (seq, len, false)),
                };
                if let Some((seq, len, resend)) = next {
                    let written = self.emit_data(now, buf, seq, len, resend);
                    self.on_paced_segment(now, written);
                    return Some(written);
                }
            }
            if self.send_now.has(SendNow::PROBE) {
                // A segment just left of the window makes the peer answer with its window
                // (RFC 9293 §3.8.6.1, as Linux's tcp_xmit_probe_skb).
                self.send_now.clear(SendNow::PROBE);
                return Some(self.emit_ack(now, buf, self.snd_una - 1));
            }
        }
        if self.send_now.has(SendNow::ACK) {
            return Some(self.emit_ack(now, buf, self.snd_max));
        }
        None
    }

    /// The next new (or, after a timeout, resent) data from SND.NXT: its start and the most
    /// payload it may carry, with sender SWS avoidance and Nagle (RFC 9293 §3.8.6.2.1, §3.7.4).
    /// A bare FIN has length 0.
    fn next_data(&self) -> Option<(SeqNumber, usize)> {
        let data_end = self.data_end();
        let available = (data_end - self.snd_nxt).max(0) as usize;
        let fin = self.fin_state() && self.snd_nxt <= data_end;
        if available == 0 {
            return fin.then_some((self.snd_nxt, 0));
        }
        if !self.scoreboard.has_room() && self.snd_nxt == self.snd_max {
            return None; // as many segments in flight as the scoreboard holds
        }
        let window_end = self.send_window_end();
        let usable = (window_end - self.snd_nxt).max(0) as usize;
        let mss = usize::from(self.send_mss());
        let len = available.min(usable).min(mss);
        if len == 0 {
            return None;
        }
        let is_new = self.snd_nxt == self.snd_max;
        if is_new && len < mss {
            let allowed = if len < available {
                // Window-limited: sender SWS avoidance, send a fraction of the largest window
                // seen, or anything when nothing is in flight (no ACK would come to clock us).
                self.snd_max == self.snd_una || 2 * len >= self.max_snd_wnd
            } else {
                // All that is queued: Nagle, Minshall's variant (as Linux): hold it only while
                // an earlier small segment is unacknowledged.
                self.config.nodelay || fin || self.last_small_end <= self.snd_una
            };
            if !allowed {
                return None;
            }
        }
        Some((self.snd_nxt, len))
    }

    /// The header every segment shares: ports, and the timestamps option when in use.
    fn base_repr(&self, now: Instant, seq: SeqNumber, flags: TcpFlags) -> TcpRepr<'static> {
        let mut repr = TcpRepr::new(self.local.port(), self.remote.port());
        repr.seq_number = seq;
        repr.flags = flags;
        if self.opts.timestamps {
            repr.timestamp = Some(TcpTimestamp {
                tsval: self.ts_clock(now),
                tsecr: self.ts_recent,
            });
        }
        repr
    }

    /// Whether an ACK now carries SACK blocks: a D-SACK to report or out-of-order data held.
    fn sack_blocks_due(&self) -> bool {
        self.opts.sack && (self.dsack.is_some() || !self.assembler.is_empty())
    }

    /// The header of a segment without SACK blocks, ACK and window filled in (`add_ack`
    /// without the blocks), written later by `write_plain_segment`: the usual segment, built
    /// from the connection's state without a whole `TcpRepr`.
    fn plain_ack_header(&mut self, now: Instant, seq: SeqNumber) -> PlainHeader {
        debug_assert!(!self.sack_blocks_due());
        let timestamp = self.opts.timestamps.then(|| TcpTimestamp {
            tsval: self.ts_clock(now),
            tsecr: self.ts_recent,
        });
        let header = PlainHeader {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            ack_number: self.rcv_nxt,
            flags: TcpFlags::ACK,
            window_len: self.advertise_window(),
            timestamp,
        };
        self.note_ack_sent();
        header
    }

    /// Fills in ACK, window and SACK blocks, and records that an ACK went out.
    fn add_ack(&mut self, repr: &mut TcpRepr<'_>) {
        repr.flags |= TcpFlags::ACK;
        repr.ack_number = self.rcv_nxt;
        repr.window_len = self.advertise_window();
        // Without a D-SACK to report or out-of-order data held there is no block to send
        // (the usual case): skip building the list.
        if self.sack_blocks_due() {
            // A D-SACK block goes first, once (RFC 2883 §4), then the out-of-order ranges.
            let rcv_nxt = self.rcv_nxt;
            let blocks = || {
                self.assembler
                    .ranges()
                    .iter()
                    .map(move |&(start, end)| (rcv_nxt + start, rcv_nxt + end))
            };
            // RFC 2018 §4: the block holding the latest segment first, then the most recently
            // reported ones, then the others (sack_blocks.rs).
            let recent = self.recent_sack_blocks();
            let ranges = self
                .dsack
                .take()
                .into_iter()
                .chain(recent.into_iter().flatten())
                .chain(blocks().filter(move |&b| !recent.contains(&Some(b))));
            for (slot, range) in repr.sack_ranges.iter_mut().zip(ranges) {
                *slot = Some(range);
            }
        }
        self.note_ack_sent();
    }

    /// An ACK of everything received goes out now.
    fn note_ack_sent(&mut self) {
        self.send_now.clear(SendNow::ACK);
        self.unacked_bytes = 0;
        self.last_ack_sent = self.rcv_nxt;
        self.timers.stop(Timer::DelayedAck);
    }

    /// The window field to send, and RCV.WND's new right edge. The right edge never moves left
    /// (RFC 9293 §3.8.6.2.2 says not to shrink), and it only moves right by at least
    /// min(buffer / 2, MSS) (receiver SWS avoidance, RFC 9293 §3.8.6.2.2).
    fn advertise_window(&mut self) -> u16 {
        let current = self.rcv_wnd();
        let free = self.recv_buf.free();
        let sws_step = (self.recv_buf.capacity() / 2).min(usize::from(self.send_mss()));
        let window = if free >= current + sws_step {
            free
        } else {
            current
        };
        let shift = self.opts.rcv_shift;
        // Round up so that scaling never takes back what was advertised.
        let field = window.div_ceil(1 << shift).min(usize::from(u16::MAX));
        self.rcv_adv = self.rcv_nxt + (field << shift);
        field as u16
    }

    /// Writes `repr` and `payload_len` bytes of the send buffer from `repr.seq_number`, with the
    /// checksum (or its pseudo-header part, for a port that finishes it). Returns the segment
    /// length.
    fn write_segment(&self, buf: &mut [u8], repr: &TcpRepr<'_>, payload_len: usize) -> usize {
        let header_len = repr.emit_header(buf);
        self.finish_segment(buf, header_len, repr.seq_number, payload_len)
    }

    /// `write_segment` for a `PlainHeader`.
    fn write_plain_segment(
        &self,
        buf: &mut [u8],
        header: &PlainHeader,
        payload_len: usize,
    ) -> usize {
        let header_len = header.emit(buf);
        self.finish_segment(buf, header_len, header.seq_number, payload_len)
    }

    /// After the header: the payload from the send buffer at `seq`, then the checksum. Out of
    /// line for the general path's segments; `lean_data` has it inline.
    #[inline(never)]
    fn finish_segment(
        &self,
        buf: &mut [u8],
        header_len: usize,
        seq: SeqNumber,
        payload_len: usize,
    ) -> usize {
        self.finish_segment_inline(buf, header_len, seq, payload_len)
    }

    /// `finish_segment`'s body, inlined where written: the lean path's segment (one per
    /// request or response) saves the call and its register saves.
    #[inline(always)]
    fn finish_segment_inline(
        &self,
        buf: &mut [u8],
        header_len: usize,
        seq: SeqNumber,
        payload_len: usize,
    ) -> usize {
        if payload_len > 0 {
            let offset = (seq - self.send_buf_seq) as usize;
            self.send_buf
                .copy_out(offset, &mut buf[header_len..header_len + payload_len]);
        }
        let total = header_len + payload_len;
        let addresses = self.address_sum();
        if self.config.checksum_offload {
            TcpRepr::fill_partial_checksum_with(&mut buf[..total], addresses);
        } else {
            TcpRepr::fill_checksum_with(&mut buf[..total], addresses);
        }
        total
    }

    /// SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED) with our options (RFC 9293 §3.10.1,
    /// RFC 7323 §2.2, §3.2, RFC 2018 §2). The window in a SYN is never scaled.
    fn emit_syn(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        let syn_received = self.state == State::SynReceived;
        let mut repr = TcpRepr::new(self.local.port(), self.remote.port());
        repr.seq_number = self.iss;
        repr.flags = TcpFlags::SYN;
        repr.window_len = self.recv_buf.free().min(usize::from(u16::MAX)) as u16;
        repr.max_seg_size = Some(self.config.mss);
        let offer_ws = if syn_received {
            self.opts.window_scaling
        } else {
            self.config.window_scaling
        };
        if offer_ws {
            repr.window_scale = Some(super::window_shift_for(self.config.rcvbuf));
        }
        repr.sack_permitted = if syn_received {
            self.opts.sack
        } else {
            self.config.sack
        };
        let offer_ts = if syn_received {
            self.opts.timestamps
        } else {
            self.config.timestamps
        };
        if offer_ts {
            repr.timestamp = Some(TcpTimestamp {
                tsval: self.ts_clock(now),
                tsecr: self.ts_recent,
            });
        }
        if syn_received {
            repr.flags |= TcpFlags::ACK;
            repr.ack_number = self.rcv_nxt;
            self.send_now.clear(SendNow::ACK);
            self.last_ack_sent = self.rcv_nxt;
        }
        let first_time = self.snd_max == self.iss;
        if first_time && !syn_received {
            self.note_flight_started(now); // the user timeout covers the handshake too
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if first_time {
            self.rtt_timing = Some((self.snd_nxt, now));
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.arm_rto(now);
        }
        self.write_segment(buf, &repr, 0)
    }

    /// A data segment at `seq` with up to `max_len` payload bytes, FIN when it reaches the end
    /// of a closed stream. `front` marks a fast retransmission, which leaves SND.NXT alone.
    fn emit_data(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        seq: SeqNumber,
        max_len: usize,
        front: bool,
    ) -> usize {
        if self.sack_blocks_due() {
            let mut repr = self.base_repr(now, seq, TcpFlags::empty());
            self.add_ack(&mut repr);
            let (len, flags) =
                self.data_sent(now, seq, max_len, front, repr.header_len(), buf.len());
            repr.flags |= flags;
            return self.write_segment(buf, &repr, len);
        }
        let mut header = self.plain_ack_header(now, seq);
        let (len, flags) = self.data_sent(now, seq, max_len, front, header.header_len(), buf.len());
        header.flags |= flags;
        self.write_plain_segment(buf, &header, len)
    }

    /// `emit_data` once the header is built (its length `header_len`, the buffer's `buf_len`):
    /// how much payload the
    /// segment carries and the FIN/PSH flags it takes, with the send state (SND.NXT, SND.MAX,
    /// the scoreboard, timers) advanced for it.
    fn data_sent(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        max_len: usize,
        front: bool,
        header_len: usize,
        buf_len: usize,
    ) -> (usize, TcpFlags) {
        // Options beyond what send_mss() already allows for (SACK blocks) shrink the payload.
        let option_room = usize::from(self.opts.mss_cap) - (header_len - BASE_HEADER_LEN);
        let len = max_len
            .min(option_room)
            .min(usize::from(self.send_mss()))
            .min(buf_len.saturating_sub(header_len));
        let data_end = self.data_end();
        let mut flags = TcpFlags::empty();
        if seq + len == data_end {
            if self.fin_state() {
                flags |= TcpFlags::FIN;
            }
            if len > 0 {
                flags |= TcpFlags::PSH;
            }
        }
        if len > 0 {
            self.note_data_sent(now);
        }
        let end = seq + len + usize::from(flags.fin());
        let is_new = seq == self.snd_max;
        let old_max = self.snd_max;
        self.prr_on_sent((end - seq).max(0) as usize);
        if seq < old_max {
            self.undo_note_retransmission(seq, end.min(old_max));
            self.scoreboard.on_retransmit(seq, end.min(old_max), now);
            self.stats.retransmitted_segments += 1;
        }
        if end > old_max {
            self.scoreboard.on_sent(seq.max(old_max), end, now);
        }
        if front {
            self.rtt_timing = None; // Karn (RFC 6298 §3): no sample from a resent segment
        }
        if !front || self.snd_nxt < end {
            self.snd_nxt = end;
        }
        if len < usize::from(self.send_mss()) && !front {
            self.last_small_end = end;
        }
        if self.snd_max < end {
            if self.snd_una == self.snd_max {
                self.note_flight_started(now);
                self.on_flight_start(now);
            }
            if is_new && self.rtt_timing.is_none() && !self.opts.timestamps {
                self.rtt_timing = Some((end, now));
            }
            self.snd_max = end;
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.arm_rto(now);
        }
        if end > old_max {
            self.arm_tlp(now); // RFC 8985 §7.2: the PTO restarts with new data
            self.note_cwnd_usage();
        }
        (len, flags)
    }

    /// A segment carrying only an ACK (and window, timestamps, SACK) at `seq`.
    fn emit_ack(&mut self, now: Instant, buf: &mut [u8], seq: SeqNumber) -> usize {
        if self.sack_blocks_due() {
            let mut repr = self.base_repr(now, seq, TcpFlags::empty());
            self.add_ack(&mut repr);
            return self.write_segment(buf, &repr, 0);
        }
        let header = self.plain_ack_header(now, seq);
        self.write_plain_segment(buf, &header, 0)
    }

    /// Whether `transmit` may try its lean path: at most an ACK is owed (no RST, window
    /// probe, fast retransmission, tail loss probe, final ACK or keepalive re-arm), the
    /// handshake is over and nothing is marked lost (no hole to resend). Then the general
    /// path's only cases are new data from SND.NXT (with our FIN at the end of a closed
    /// stream) and a pure ACK.
    #[inline]
    fn lean_case(&self) -> bool {
        self.send_now.only(SendNow::ACK)
            && self.pending_rst.is_none()
            && !matches!(
                self.state,
                State::Closed | State::Listen | State::SynSent | State::SynReceived
            )
            && self.scoreboard.lost_outstanding() == 0
    }

    /// `transmit` in the lean case: new data or the FIN, else the owed ACK alone; `None`
    /// (nothing changed) where the general path must decide.
    #[inline]
    fn lean_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let data_end = self.data_end();
        if !self.fin_queued {
            if data_end > self.snd_nxt {
                return self.lean_data::<false>(now, buf, data_end);
            }
        } else if data_end >= self.snd_nxt {
            // Our FIN is still to go: FIN-WAIT-1, CLOSING or LAST-ACK (`fin_state`).
            if !self.fin_state() {
                return None;
            }
            return self.lean_data_closing(now, buf, data_end);
        }
        // Nothing queued past SND.NXT and no FIN due: the general path's last case, the ACK.
        if self.send_now.has(SendNow::ACK) {
            return Some(self.emit_ack(now, buf, self.snd_max));
        }
        None
    }

    /// `lean_data` once the application closed (our FIN is queued, not yet sent): out of
    /// line, as it happens once per connection.
    #[inline(never)]
    fn lean_data_closing(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        data_end: SeqNumber,
    ) -> Option<usize> {
        self.lean_data::<true>(now, buf, data_end)
    }

    /// New data from SND.NXT = SND.MAX outside recovery, with the ACK, no SACK blocks, and,
    /// when `CLOSING` (our FIN is queued and may go: `fin_state`), the FIN when it reaches
    /// the end of the stream (a bare FIN when no data waits): the segment worked out once,
    /// its header written from the connection's state and the send state advanced in one
    /// place (`new_data_sent`). `None` (nothing changed) for anything else: a resend after a
    /// timeout, recovery, SACK blocks to report, pacing holding data back, a closed window,
    /// Nagle.
    #[inline]
    fn lean_data<const CLOSING: bool>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        data_end: SeqNumber,
    ) -> Option<usize> {
        debug_assert_eq!(CLOSING, self.fin_state());
        let seq = self.snd_nxt;
        if seq != self.snd_max || self.in_recovery || self.sack_blocks_due() || self.paced_out(now)
        {
            return None;
        }
        let mss = usize::from(self.send_mss());
        let available = (data_end - seq) as usize;
        let len = if CLOSING && available == 0 {
            0 // a bare FIN goes whatever the windows say (`next_data`)
        } else if self.snd_una == seq
            && self.snd_wnd > 0
            && self.cc.window() >= mss
            && self.scoreboard.has_room()
        {
            // Nothing in flight (every request/response exchange): with cwnd at least a
            // segment the peer's window is the only limit (`send_window_end`), and neither
            // SWS avoidance nor Nagle holds anything back (`next_data`).
            available.min(self.snd_wnd).min(mss)
        } else {
            self.next_data()?.1
        };
        debug_assert_eq!(
            self.next_data(),
            Some((seq, len)),
            "lean_data disagrees with next_data"
        );
        if buf.len() < TIMESTAMPED_HEADER_LEN + len {
            return None;
        }
        let mut header = self.plain_ack_header(now, seq);
        let mut end = seq + len;
        if end == data_end {
            if len > 0 {
                header.flags |= TcpFlags::PSH;
            }
            if CLOSING {
                header.flags |= TcpFlags::FIN;
                end += 1;
            }
        }
        self.new_data_sent(now, seq, end, len);
        let header_len = header.emit(buf);
        let written = self.finish_segment_inline(buf, header_len, seq, len);
        self.on_paced_segment(now, written);
        Some(written)
    }

    /// `data_sent` for `lean_data`'s segment, `[seq, end)` of new sequence space (`len`
    /// bytes of data, then the FIN if `end` is one past them) at SND.NXT = SND.MAX, outside
    /// recovery: the same updates in the same order, without the branches for resends and
    /// fast retransmissions.
    #[inline(always)] // once in each lean_data: shared, LLVM would make it a call
    fn new_data_sent(&mut self, now: Instant, seq: SeqNumber, end: SeqNumber, len: usize) {
        if len > 0 {
            self.note_data_sent(now);
        }
        self.scoreboard.on_sent_new(seq, end, now);
        self.snd_nxt = end;
        if len < usize::from(self.send_mss()) {
            self.last_small_end = end;
        }
        if self.snd_una == seq {
            self.note_flight_started(now);
            self.on_flight_start(now);
        }
        if self.rtt_timing.is_none() && !self.opts.timestamps {
            self.rtt_timing = Some((end, now));
        }
        self.snd_max = end;
        if !self.timers.is_armed(Timer::Retransmit) {
            self.arm_rto_inline(now);
        }
        self.arm_tlp_after_new_data(now); // RFC 8985 §7.2: the PTO restarts with new data
        self.note_cwnd_usage();
    }

    /// Tests only: the connection and the segment the general path makes from this state,
    /// for `transmit` to compare with its lean path's.
    #[cfg(test)]
    fn general_twin(&self, now: Instant, buf_len: usize) -> (Connection, Vec<u8>) {
        let mut twin = self.clone();
        let mut buf = vec![0; buf_len];
        let written = twin.transmit_general(now, &mut buf).unwrap_or(0);
        buf.truncate(written);
        (twin, buf)
    }

    /// Tests only: panics unless the lean path left the same connection (its `Debug` form)
    /// and wrote the same segment as the general path did on the twin.
    #[cfg(test)]
    fn assert_lean_same_as(&self, twin: (Connection, Vec<u8>), segment: &[u8]) {
        LEAN_SEGMENTS.with(|n| n.set(n.get() + 1));
        assert_eq!(segment, twin.1, "lean transmit wrote other bytes");
        assert_eq!(
            format!("{self:?}"),
            format!("{:?}", twin.0),
            "lean transmit left a different state than the general path"
        );
    }

    /// A RST (RFC 9293 §3.10.7.1, §3.10.5).
    fn emit_reset(&self, buf: &mut [u8], rst: PendingReset) -> usize {
        let mut repr = TcpRepr::new(self.local.port(), self.remote.port());
        repr.seq_number = rst.seq;
        repr.flags = TcpFlags::RST;
        if let Some(ack) = rst.ack {
            repr.flags |= TcpFlags::ACK;
            repr.ack_number = ack;
        }
        self.write_segment(buf, &repr, 0)
    }
}
