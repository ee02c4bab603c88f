//! The sender's scoreboard (RFC 6675 §3, RFC 8985 §5.2): one record per transmitted segment
//! from SND.UNA to SND.MAX, with its last transmission time and whether it was SACKed, marked
//! lost, or retransmitted.
//!
//! The records live in a ring allocated once when the connection is created; when it is full
//! no new segment is sent until an ACK frees records (a bound on segments in flight, never an
//! allocation per packet). Byte counters for SACKed and lost data are kept up to date so that
//! `pipe` (RFC 6675 §4 "SetPipe") is O(1).
//!
//! Each record also carries its delivery-rate stamp (draft-cheng-iccrg-delivery-rate-
//! estimation §3.2), and the scoreboard owns the connection's delivery state, so an ACK's
//! rate sample costs no allocation.
use std::collections::VecDeque;

use super::delivery_rate::{DeliveryRate, RateAccumulator, RateSample, SendStamp};
use crate::time::{Duration, Instant};
use crate::wire::SeqNumber;

/// One transmitted segment `[start, end)` (a FIN counts as one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SentSegment {
    pub(super) start: SeqNumber,
    pub(super) end: SeqNumber,
    /// When it was last (re)transmitted.
    pub(super) xmit_time: Instant,
    /// Covered by a SACK block (RFC 2018).
    pub(super) sacked: bool,
    /// Deemed lost and not retransmitted since (RFC 6675 IsLost, RFC 8985 §6.2).
    pub(super) lost: bool,
    /// Retransmitted at least once (RFC 8985 `RACK.segment.retransmitted`).
    pub(super) retransmitted: bool,
    /// Delivery state at the last (re)transmission, for the delivery-rate sample.
    pub(super) stamp: SendStamp,
}

impl SentSegment {
    fn len(&self) -> usize {
        (self.end - self.start).max(0) as usize
    }
}

/// What a SACK block or a cumulative ACK newly delivered.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Delivered {
    /// Bytes newly marked SACKed.
    pub(super) sacked_bytes: usize,
    /// The delivered segment sent most recently (RFC 8985 §6.2 step 2): its send time, end,
    /// and whether it had been retransmitted.
    pub(super) latest: Option<(Instant, SeqNumber, bool)>,
    /// A delivered segment that was never retransmitted ended below the highest end delivered
    /// by earlier ACKs: the network reordered (RFC 8985 §6.2 step 3).
    pub(super) reordered: bool,
    /// A segment never retransmitted was delivered: its original transmission arrived
    /// (F-RTO's evidence of a spurious timeout, RFC 5682 §3 step 3b).
    pub(super) original: bool,
    /// Highest end delivered by this ACK.
    highest_end: Option<SeqNumber>,
    /// The delivery-rate sample being built (draft-cheng §3.3 UpdateRateSample).
    rate: RateAccumulator,
}

impl Delivered {
    fn note(&mut self, seg: &SentSegment) {
        let newer = match self.latest {
            None => true,
            Some((t, end, _)) => seg.xmit_time > t || (seg.xmit_time == t && seg.end > end),
        };
        if newer {
            self.latest = Some((seg.xmit_time, seg.end, seg.retransmitted));
        }
    }
}

/// The record an ACK of the sole segment in flight delivered, as RACK reads it
/// ([`Scoreboard::take_sole_record`]; `Delivered::latest` and `reordered` of that ACK).
#[derive(Debug, Clone, Copy)]
pub(super) struct SoleAck {
    /// When it was last (re)transmitted.
    pub(super) xmit_time: Instant,
    /// Its end.
    pub(super) end: SeqNumber,
    /// Whether it had been retransmitted.
    pub(super) retransmitted: bool,
    /// Never retransmitted, yet below what earlier ACKs delivered (RFC 8985 §6.2 step 3).
    pub(super) reordered: bool,
}

/// What `Scoreboard::ack_clean_records` keeps of the records one ACK covers, as references.
struct CleanRun<'a> {
    /// `Delivered::note`'s choice: the most recently sent (ties: the higher end).
    latest: &'a SentSegment,
    /// `RateAccumulator::on_delivered`'s choice: the first with the highest
    /// (P.delivered, send time).
    newest: &'a SentSegment,
    /// End of the first record never retransmitted (ends ascend, so it alone decides
    /// RFC 8985 §6.2 step 3's reordering, and F-RTO's evidence).
    first_original: Option<SeqNumber>,
    /// Bytes the records hold.
    bytes: usize,
}

impl<'a> CleanRun<'a> {
    fn new(first: &'a SentSegment) -> CleanRun<'a> {
        CleanRun {
            latest: first,
            newest: first,
            first_original: None,
            bytes: 0,
        }
    }

    /// Takes in `records` (one of the ring's two slices), in order.
    #[inline(always)]
    fn scan(&mut self, records: &'a [SentSegment]) {
        for seg in records {
            self.bytes += seg.len();
            if self.first_original.is_none() && !seg.retransmitted {
                self.first_original = Some(seg.end);
            }
            let latest = self.latest;
            if seg.xmit_time > latest.xmit_time
                || (seg.xmit_time == latest.xmit_time && seg.end > latest.end)
            {
                self.latest = seg;
            }
            let newest = self.newest;
            if seg.stamp.delivered > newest.stamp.delivered
                || (seg.stamp.delivered == newest.stamp.delivered
                    && seg.xmit_time > newest.xmit_time)
            {
                self.newest = seg;
            }
        }
    }
}

/// The scoreboard: records in sequence order, covering SND.UNA..SND.MAX without gaps.
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
pub(super) struct Scoreboard {
    segments: VecDeque<SentSegment>,
    capacity: usize,
    sacked_bytes: usize,
    lost_bytes: usize,
    /// Highest end of any segment delivered (ACKed or SACKed): RACK.fack.
    highest_delivered: Option<SeqNumber>,
    /// The connection's delivery state (draft-cheng §3.1).
    rate: DeliveryRate,
    /// Bytes ever marked lost (Linux's `tp->lost`): an ACK's losses are the difference.
    lost_total: u64,
}

impl Scoreboard {
    /// A scoreboard for at most `capacity` segments in flight (at least 16).
    pub(super) fn new(capacity: usize) -> Scoreboard {
        let capacity = capacity.max(16);
        Scoreboard {
            // Allocated with the first record (`on_sent`), or adopted from a closed connection.
            segments: VecDeque::new(),
            capacity,
            sacked_bytes: 0,
            lost_bytes: 0,
            highest_delivered: None,
            rate: DeliveryRate::new(),
            lost_total: 0,
        }
    }

    /// [`Scoreboard::new`] in place, keeping the record ring's allocation (emptied), as
    /// [`Scoreboard::adopt_storage`] of its own [`Scoreboard::take_storage`] would.
    pub(super) fn reset(&mut self, capacity: usize) {
        let mut segments = core::mem::take(&mut self.segments);
        segments.clear();
        *self = Scoreboard {
            segments,
            ..Scoreboard::new(capacity)
        };
    }

    /// Whether another new segment may be recorded.
    pub(super) fn has_room(&self) -> bool {
        self.segments.len() < self.capacity
    }

    /// Whether no segment is recorded (everything sent is cumulatively acknowledged).
    pub(super) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Bytes SACKed above SND.UNA.
    pub(super) fn sacked_bytes(&self) -> usize {
        self.sacked_bytes
    }

    /// Bytes marked lost and not yet retransmitted.
    #[cfg(test)]
    pub(super) fn lost_bytes(&self) -> usize {
        self.lost_bytes
    }

    /// RFC 6675 §4 pipe: bytes believed to be in the network, i.e. everything outstanding that
    /// is neither SACKed nor lost-and-awaiting-retransmission (a retransmitted segment counts
    /// once again, for its retransmission).
    pub(super) fn pipe(&self, flight: usize) -> usize {
        flight.saturating_sub(self.sacked_bytes + self.lost_bytes)
    }

    /// Records a first transmission of `[start, end)`. Inline: once per data segment, in the
    /// transmit path's two callers; the ring's one-time allocation is out of line.
    #[inline(always)]
    pub(super) fn on_sent(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        if end <= start {
            return;
        }
        if let Some(last) = self.segments.back() {
            if start < last.end {
                return; // not new data: the caller uses on_retransmit
            }
        }
        self.on_sent_new(start, end, now);
    }

    /// [`Scoreboard::on_sent`] for the lean transmit path's segment: new sequence space at
    /// SND.MAX, so never empty and never below the last record's end (debug builds check
    /// both); the ring's length is read once.
    #[inline(always)]
    pub(super) fn on_sent_new(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        debug_assert!(start < end, "on_sent_new: empty range");
        debug_assert!(
            self.segments.back().is_none_or(|last| start >= last.end),
            "on_sent_new: not new data"
        );
        let len = self.segments.len();
        if len >= self.capacity + 2 {
            return;
        }
        if self.segments.capacity() < self.capacity + 2 {
            self.reserve_records();
        }
        let stamp = self.rate.stamp(now, len == 0);
        self.segments.push_back(SentSegment {
            start,
            end,
            xmit_time: now,
            sacked: false,
            lost: false,
            retransmitted: false,
            stamp,
        });
    }

    /// Allocates the record ring (the first record, or a larger capacity after a reset).
    /// Two spare slots: splitting a record for a shorter retransmission never grows it.
    #[cold]
    #[inline(never)]
    fn reserve_records(&mut self) {
        self.segments
            .reserve_exact(self.capacity + 2 - self.segments.len());
    }

    /// Index of the record containing `seq`.
    fn index_of(&self, seq: SeqNumber) -> Option<usize> {
        let i = self.segments.partition_point(|s| s.end <= seq);
        (i < self.segments.len() && self.segments[i].start <= seq).then_some(i)
    }

    /// Splits the record containing `at` so that a record starts at `at` (no-op at a boundary,
    /// or when the ring has no spare slot).
    fn split_at(&mut self, at: SeqNumber) {
        let Some(i) = self.index_of(at) else { return };
        let seg = self.segments[i];
        if seg.start == at || self.segments.len() >= self.segments.capacity() {
            return;
        }
        let mut tail = seg;
        tail.start = at;
        self.segments[i].end = at;
        self.segments.insert(i + 1, tail);
    }

    /// Records a retransmission of `[start, end)` at `now`: the records it covers are no longer
    /// lost and carry the new send time.
    pub(super) fn on_retransmit(&mut self, start: SeqNumber, end: SeqNumber, now: Instant) {
        if end <= start {
            return;
        }
        self.split_at(start);
        self.split_at(end);
        let Some(mut i) = self.index_of(start) else {
            return;
        };
        let stamp = self.rate.stamp(now, false);
        while i < self.segments.len() && self.segments[i].start < end {
            let seg = &mut self.segments[i];
            if seg.lost {
                seg.lost = false;
                self.lost_bytes -= seg.len();
            }
            seg.retransmitted = true;
            seg.xmit_time = now;
            seg.stamp = stamp;
            i += 1;
        }
    }

    /// The cumulative ACK moved to `una`: drops acknowledged records (trimming a partly
    /// acknowledged one) and reports what was delivered that had not been SACKed.
    pub(super) fn on_cumulative_ack(&mut self, una: SeqNumber) -> Delivered {
        let mut delivered = Delivered::default();
        self.on_cumulative_ack_into(una, &mut delivered);
        delivered
    }

    /// `on_cumulative_ack` adding to `delivered` (a fresh one), which the caller keeps in
    /// place rather than receiving a copy (header prediction, once per ACK).
    pub(super) fn on_cumulative_ack_into(&mut self, una: SeqNumber, delivered: &mut Delivered) {
        #[cfg(test)]
        let twin = {
            let (mut board, mut d) = (self.clone(), *delivered);
            board.cumulative_ack_by_record(una, &mut d);
            (board, d)
        };
        if !self.ack_clean_records(una, delivered) {
            self.cumulative_ack_by_record(una, delivered);
        }
        #[cfg(test)]
        {
            assert_eq!(
                format!("{self:?}"),
                format!("{:?}", twin.0),
                "scoreboard after ACK"
            );
            assert_eq!(
                format!("{delivered:?}"),
                format!("{:?}", twin.1),
                "delivered"
            );
        }
    }

    /// The bulk sender's cumulative ACK of several whole records when nothing is SACKed or
    /// marked lost: one read-only pass finds how many records `una` covers and which of them
    /// `Delivered` and the rate sample keep (by reference, where the general loop copies each
    /// record out and merges it), then they leave the ring at once. The same result as
    /// `cumulative_ack_by_record` (test builds compare every ACK with it); returns false,
    /// having changed nothing, when a record is SACKed or lost, or `una` covers no whole record.
    fn ack_clean_records(&mut self, una: SeqNumber, delivered: &mut Delivered) -> bool {
        if self.sacked_bytes != 0 || self.lost_bytes != 0 {
            return false;
        }
        // Records are in sequence order: the covered ones are a prefix, found by bisection.
        let count = self.segments.partition_point(|seg| seg.end <= una);
        if count == 0 {
            return false;
        }
        let (head, tail) = self.segments.as_slices();
        let (head, tail) = match head.len().checked_sub(count) {
            Some(_) => (&head[..count], &tail[..0]),
            None => (head, &tail[..count - head.len()]),
        };
        let mut run = CleanRun::new(&head[0]);
        run.scan(head);
        run.scan(tail);
        let CleanRun {
            latest,
            newest,
            first_original,
            bytes,
        } = run;
        let original = first_original.is_some();
        let reordered =
            first_original.is_some_and(|end| self.highest_delivered.is_some_and(|high| end < high));
        let rest = self.segments.get(count);
        // The records cover SND.UNA..SND.MAX in order: the last one covered ends highest.
        let highest_end = self.segments[count - 1].end;
        delivered.reordered |= reordered;
        delivered.original |= original;
        if delivered.highest_end.is_none_or(|h| highest_end > h) {
            delivered.highest_end = Some(highest_end);
        }
        delivered.note(latest);
        delivered
            .rate
            .on_delivered(&newest.stamp, newest.xmit_time, bytes);
        // A record `una` splits keeps its tail (nothing SACKed or lost: no counter moves).
        let cut = rest
            .filter(|seg| seg.start < una)
            .map(|seg| (una - seg.start) as usize);
        self.segments.drain(..count);
        if let Some(cut) = cut {
            if let Some(front) = self.segments.front_mut() {
                front.start = una;
            }
            delivered.rate.on_delivered_bytes(cut);
        }
        true
    }

    /// `on_cumulative_ack_into` record by record: the general case (SACKed or lost records,
    /// a partial ACK of the first record).
    fn cumulative_ack_by_record(&mut self, una: SeqNumber, delivered: &mut Delivered) {
        while let Some(front) = self.segments.front_mut() {
            if front.start >= una {
                break;
            }
            if front.end <= una {
                let Some(seg) = self.segments.pop_front() else {
                    break;
                };
                self.forget(&seg, seg.len());
                if !seg.sacked {
                    self.deliver(&seg, delivered);
                }
            } else {
                let cut = (una - front.start) as usize;
                let seg = *front;
                front.start = una;
                self.forget(&seg, cut);
                if !seg.sacked {
                    delivered.rate.on_delivered_bytes(cut);
                }
                break;
            }
        }
    }

    /// `on_cumulative_ack_into` (with a fresh `delivered`) for the ping-pong case that header
    /// prediction sees on almost every ACK: one record in flight, neither SACKed nor lost,
    /// and `una` acknowledging all of it. One pass: the record is dropped without a pop and
    /// `delivered` is written whole instead of merged field by field. Returns false, having
    /// changed nothing, in any other case (the caller then runs the general loop).
    pub(super) fn ack_sole_record(&mut self, una: SeqNumber, delivered: &mut Delivered) -> bool {
        let Some(&seg) = self.segments.front() else {
            return false;
        };
        if self.segments.len() != 1 || seg.end != una || seg.sacked || seg.lost {
            return false;
        }
        self.segments.clear();
        let original = !seg.retransmitted;
        *delivered = Delivered {
            sacked_bytes: 0,
            latest: Some((seg.xmit_time, seg.end, seg.retransmitted)),
            reordered: original && self.highest_delivered.is_some_and(|high| seg.end < high),
            original,
            highest_end: Some(seg.end),
            rate: RateAccumulator::sole(&seg.stamp, seg.xmit_time, seg.len()),
        };
        true
    }

    /// Header prediction's whole share of an ACK of the sole record in flight (the
    /// `ack_sole_record` case) when no controller reads the delivery-rate sample: in one
    /// pass what `ack_sole_record`, `finish_ack` and `take_rate_sample` leave in the
    /// scoreboard and the delivery state, without building the [`Delivered`] or the
    /// [`RateSample`]. Returns what RACK needs of the record, or `None`, having changed
    /// nothing, when `una` does not acknowledge exactly one clean record.
    #[inline]
    pub(super) fn take_sole_record(&mut self, una: SeqNumber, now: Instant) -> Option<SoleAck> {
        let seg = *self.segments.front()?;
        if self.segments.len() != 1 || seg.end != una || seg.sacked || seg.lost {
            return None;
        }
        self.segments.clear();
        let original = !seg.retransmitted;
        let reordered = original && self.highest_delivered.is_some_and(|high| seg.end < high);
        // finish_ack (RACK.fack).
        if self.highest_delivered.is_none_or(|high| seg.end > high) {
            self.highest_delivered = Some(seg.end);
        }
        // take_rate_sample: Karn's rule for the sample's RTT, then the delivery state.
        let rtt = original.then(|| now.saturating_duration_since(seg.xmit_time));
        self.rate
            .on_delivered(seg.len() as u64, now, rtt, Some(seg.xmit_time));
        Some(SoleAck {
            xmit_time: seg.xmit_time,
            end: seg.end,
            retransmitted: seg.retransmitted,
            reordered,
        })
    }

    /// Takes `bytes` of `seg` off the counters (they left the scoreboard).
    fn forget(&mut self, seg: &SentSegment, bytes: usize) {
        if seg.sacked {
            self.sacked_bytes -= bytes;
        }
        if seg.lost {
            self.lost_bytes -= bytes;
        }
    }

    fn deliver(&self, seg: &SentSegment, delivered: &mut Delivered) {
        // Compared with what earlier ACKs delivered: one ACK's blocks come in any order.
        if self
            .highest_delivered
            .is_some_and(|high| seg.end < high && !seg.retransmitted)
        {
            delivered.reordered = true;
        }
        delivered.original |= !seg.retransmitted;
        if delivered.highest_end.is_none_or(|high| seg.end > high) {
            delivered.highest_end = Some(seg.end);
        }
        delivered.note(seg);
        delivered
            .rate
            .on_delivered(&seg.stamp, seg.xmit_time, seg.len());
    }

    /// The delivery-rate sample of an ACK whose deliveries `delivered` holds, processed at
    /// `now` (draft-cheng §3.3 GenerateRateSample); its RTT is that of the most recently
    /// sent delivered segment unless it was retransmitted (Karn). `None` when the ACK
    /// delivered nothing.
    pub(super) fn take_rate_sample(
        &mut self,
        delivered: &Delivered,
        now: Instant,
    ) -> Option<RateSample> {
        let rtt: Option<Duration> = delivered
            .latest
            .filter(|&(_, _, retransmitted)| !retransmitted)
            .map(|(xmit, _, _)| now.saturating_duration_since(xmit));
        self.rate.generate(&delivered.rate, now, rtt)
    }

    /// The application has less than a segment to send (draft-cheng §3.4): samples are
    /// application-limited until the `in_flight` bytes now outstanding are delivered.
    pub(super) fn mark_app_limited(&mut self, in_flight: usize) {
        self.rate.mark_app_limited(in_flight);
    }

    /// Whether the flow is in an application-limited stretch.
    pub(super) fn app_limited(&self) -> bool {
        self.rate.is_app_limited()
    }

    /// Bytes delivered so far (C.delivered).
    pub(super) fn delivered_total(&self) -> u64 {
        self.rate.delivered()
    }

    /// Bytes ever marked lost.
    pub(super) fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Bytes marked lost and not yet retransmitted (draft-cheng §3.4: app-limited only
    /// once every lost segment has been resent).
    pub(super) fn lost_outstanding(&self) -> usize {
        self.lost_bytes
    }

    /// Ends the processing of one ACK: what it delivered becomes the reference for the
    /// reordering check of the next (RACK.fack).
    pub(super) fn finish_ack(&mut self, delivered: &Delivered) {
        if let Some(end) = delivered.highest_end {
            if self.highest_delivered.is_none_or(|high| end > high) {
                self.highest_delivered = Some(end);
            }
        }
    }

    /// Marks the records that `[left, right)` covers entirely as SACKed (RFC 6675 §5 Update()).
    /// `fin` is the sequence number of our FIN once sent: SACK blocks cover data only, so a
    /// block ending at the FIN covers the segment that carried it.
    pub(super) fn on_sack_block(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        fin: Option<SeqNumber>,
        delivered: &mut Delivered,
    ) {
        let right = if fin == Some(right) { right + 1 } else { right };
        let mut i = self.segments.partition_point(|s| s.end <= left);
        while i < self.segments.len() {
            let seg = self.segments[i];
            if seg.start >= right {
                break;
            }
            if !seg.sacked && seg.start >= left && seg.end <= right {
                let s = &mut self.segments[i];
                s.sacked = true;
                if s.lost {
                    s.lost = false;
                    self.lost_bytes -= seg.len();
                }
                self.sacked_bytes += seg.len();
                delivered.sacked_bytes += seg.len();
                self.deliver(&seg, delivered);
            }
            i += 1;
        }
    }

    /// RFC 2018 §8: the peer may discard data it SACKed. A SACKed segment at SND.UNA when the
    /// RTO fires is the sign (as Linux's `tcp_check_sack_reneging`): all SACK marks go, so
    /// that everything is resent. Returns whether that happened.
    pub(super) fn forget_sacks_if_reneged(&mut self) -> bool {
        if !self.segments.front().is_some_and(|s| s.sacked) {
            return false;
        }
        for seg in self.segments.iter_mut() {
            seg.sacked = false;
        }
        self.sacked_bytes = 0;
        true
    }

    /// Marks every record that is neither SACKed nor already lost as lost (RFC 6298 §5 after a
    /// timeout, RFC 6675 §5.1); returns whether any was.
    pub(super) fn mark_all_lost(&mut self) -> bool {
        let mut any = false;
        for seg in self.segments.iter_mut() {
            if !seg.sacked && !seg.lost {
                seg.lost = true;
                self.lost_bytes += seg.len();
                self.lost_total += seg.len() as u64;
                any = true;
            }
        }
        any
    }

    /// Clears every loss mark: a timeout turned out spurious (F-RTO, RFC 5682), so nothing
    /// is resent.
    pub(super) fn unmark_lost(&mut self) {
        for seg in self.segments.iter_mut() {
            seg.lost = false;
        }
        self.lost_bytes = 0;
    }

    /// Marks every record longer than `len` bytes that is neither SACKed nor already lost as
    /// lost (the path MTU dropped below it, RFC 1191); returns whether any was.
    pub(super) fn mark_lost_longer_than(&mut self, len: usize) -> bool {
        let mut any = false;
        for seg in self.segments.iter_mut() {
            if !seg.sacked && !seg.lost && seg.len() > len {
                seg.lost = true;
                self.lost_bytes += seg.len();
                self.lost_total += seg.len() as u64;
                any = true;
            }
        }
        any
    }

    /// Marks as lost every outstanding segment with at least `threshold` bytes SACKed above
    /// it (RFC 6675 §4 IsLost, with DupThresh · SMSS); returns whether any was newly marked.
    pub(super) fn mark_lost_by_sack(&mut self, threshold: usize) -> bool {
        if self.sacked_bytes < threshold {
            return false;
        }
        let mut above = 0;
        let mut any = false;
        for seg in self.segments.iter_mut().rev() {
            if seg.sacked {
                above += seg.len();
            } else if above >= threshold && !seg.lost && !seg.retransmitted {
                // RFC 6675 NextSeg (1.b): a segment already retransmitted (below HighRxt)
                // is not resent again on every further SACK.
                seg.lost = true;
                self.lost_bytes += seg.len();
                self.lost_total += seg.len() as u64;
                any = true;
            }
        }
        any
    }

    /// RFC 8985 §6.2 step 5 (RACK_detect_loss): segments sent before the most recently
    /// delivered one (`rack_xmit`, `rack_end`) are lost once `deadline_after` has passed since
    /// their transmission. Returns whether any was newly marked, and the earliest instant at
    /// which a not-yet-lost candidate will be (for the reordering timer).
    pub(super) fn rack_detect_loss(
        &mut self,
        now: Instant,
        rack_xmit: Instant,
        rack_end: SeqNumber,
        deadline_after: crate::time::Duration,
    ) -> (bool, Option<Instant>) {
        let mut any = false;
        let mut timer: Option<Instant> = None;
        for seg in self.segments.iter_mut() {
            if seg.sacked || seg.lost {
                continue;
            }
            let sent_before =
                seg.xmit_time < rack_xmit || (seg.xmit_time == rack_xmit && seg.end < rack_end);
            if !sent_before {
                continue;
            }
            let lost_at = seg.xmit_time + deadline_after;
            if lost_at <= now {
                seg.lost = true;
                self.lost_bytes += seg.len();
                self.lost_total += seg.len() as u64;
                any = true;
            } else {
                timer = Some(timer.map_or(lost_at, |t| t.min(lost_at)));
            }
        }
        (any, timer)
    }

    /// The first segment to retransmit: lost, not SACKed (RFC 6675 §4 NextSeg rule 1).
    pub(super) fn next_lost(&self) -> Option<SentSegment> {
        if self.lost_bytes == 0 {
            return None;
        }
        self.segments.iter().find(|s| s.lost && !s.sacked).copied()
    }

    /// The highest segment not SACKed, for a tail loss probe (RFC 8985 §7.3 sends the last
    /// segment; when the peer already holds it, the highest it lacks is the useful probe).
    pub(super) fn last_unsacked(&self) -> Option<SentSegment> {
        self.segments.iter().rev().find(|s| !s.sacked).copied()
    }

    /// Bytes its allocation holds (what [`super::Storage::bytes`] counts for it).
    pub(super) fn storage_bytes(&self) -> usize {
        self.segments.capacity() * core::mem::size_of::<SentSegment>()
    }

    /// The record ring, emptied, for a later connection; the scoreboard is left empty.
    pub(super) fn take_storage(&mut self) -> VecDeque<SentSegment> {
        self.clear();
        core::mem::take(&mut self.segments)
    }

    /// Uses `storage` (an earlier scoreboard's ring) unless this one has allocated already.
    pub(super) fn adopt_storage(&mut self, mut storage: VecDeque<SentSegment>) {
        if self.segments.capacity() == 0 {
            storage.clear();
            self.segments = storage;
        }
    }

    /// Forgets everything (the connection closed, or the peer reneged).
    pub(super) fn clear(&mut self) {
        self.segments.clear();
        self.sacked_bytes = 0;
        self.lost_bytes = 0;
        self.highest_delivered = None;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn board() -> (Scoreboard, Instant) {
        let mut b = Scoreboard::new(16);
        let t0 = Instant::from_millis(0);
        for i in 0..6u32 {
            b.on_sent(
                SeqNumber(i * 100),
                SeqNumber(i * 100 + 100),
                t0 + crate::time::Duration::from_millis(u64::from(i)),
            );
        }
        (b, t0)
    }

    /// The one-pass ACK of a sole record leaves the scoreboard and the delivery record
    /// exactly as the general cumulative ACK does, and declines every other case.
    #[test]
    fn ack_sole_record_matches_cumulative_ack() {
        let t0 = Instant::from_millis(0);
        for retransmitted in [false, true] {
            for highest in [None, Some(SeqNumber(50)), Some(SeqNumber(900))] {
                let mut b = Scoreboard::new(16);
                b.highest_delivered = highest;
                b.on_sent(SeqNumber(100), SeqNumber(164), t0);
                if retransmitted {
                    b.on_retransmit(SeqNumber(100), SeqNumber(164), Instant::from_millis(3));
                }
                let mut general = b.clone();
                let expected = general.on_cumulative_ack(SeqNumber(164));
                let mut d = Delivered::default();
                assert!(b.ack_sole_record(SeqNumber(164), &mut d));
                assert_eq!(format!("{d:?}"), format!("{expected:?}"));
                assert_eq!(format!("{b:?}"), format!("{general:?}"));
            }
        }
        // Declined: a partial ACK, two records, a SACKed record.
        let mut b = Scoreboard::new(16);
        b.on_sent(SeqNumber(100), SeqNumber(164), t0);
        let mut d = Delivered::default();
        assert!(!b.ack_sole_record(SeqNumber(120), &mut d));
        b.on_sent(SeqNumber(164), SeqNumber(200), t0);
        assert!(!b.ack_sole_record(SeqNumber(200), &mut d));
        let mut b = Scoreboard::new(16);
        b.on_sent(SeqNumber(100), SeqNumber(164), t0);
        b.on_sack_block(SeqNumber(100), SeqNumber(164), None, &mut d);
        let before = format!("{b:?}");
        assert!(!b.ack_sole_record(SeqNumber(164), &mut Delivered::default()));
        assert_eq!(format!("{b:?}"), before);
    }

    /// The one-pass ACK of several clean records leaves the scoreboard and `Delivered`
    /// exactly as the record-by-record loop does: records sent at one instant (the first of
    /// equal rate stamps is the newest), stamps that differ only in app-limitedness, a
    /// retransmitted record, a reordering reference between the records, an ACK that splits
    /// a record, and a `Delivered` that already holds a delivery. It declines SACKed or lost
    /// records and an ACK of no whole record.
    #[test]
    fn ack_clean_records_matches_record_by_record() {
        let t = |m: u64| Instant::from_millis(m);
        let build = |retransmit: bool| {
            let mut b = Scoreboard::new(16);
            // Twelve records sent and acknowledged first: the next eight wrap around the
            // ring's end (18 slots), so both of its slices are walked.
            for i in 0..12u32 {
                b.on_sent(
                    SeqNumber(i * 100 + 10_000),
                    SeqNumber(i * 100 + 10_100),
                    t(0),
                );
            }
            b.cumulative_ack_by_record(SeqNumber(11_200), &mut Delivered::default());
            assert_eq!(b.segments.as_slices().1.len(), 0);
            for i in 0..8u32 {
                if i == 2 {
                    b.mark_app_limited(1); // stamps of equal P.delivered and send time differ
                }
                b.on_sent(
                    SeqNumber(i * 100),
                    SeqNumber(i * 100 + 100),
                    t(u64::from(i / 4)),
                );
            }
            if retransmit {
                b.on_retransmit(SeqNumber(100), SeqNumber(200), t(1));
            }
            assert!(!b.segments.as_slices().1.is_empty(), "the records wrap");
            b
        };
        let mut taken = 0;
        for retransmit in [false, true] {
            for high in [None, Some(SeqNumber(250)), Some(SeqNumber(2000))] {
                for prior in [false, true] {
                    for una in [100, 250, 300, 550, 800] {
                        let mut fast = build(retransmit);
                        fast.highest_delivered = high;
                        let mut d = Delivered::default();
                        if prior {
                            // An earlier delivery in this ACK, sent later than every record.
                            let mut other = build(false);
                            other.on_sent(SeqNumber(800), SeqNumber(900), t(9));
                            other.on_sack_block(SeqNumber(800), SeqNumber(900), None, &mut d);
                        }
                        let (mut general, mut expected) = (fast.clone(), d);
                        general.cumulative_ack_by_record(SeqNumber(una), &mut expected);
                        assert!(fast.ack_clean_records(SeqNumber(una), &mut d));
                        taken += 1;
                        assert_eq!(format!("{d:?}"), format!("{expected:?}"), "una {una}");
                        assert_eq!(format!("{fast:?}"), format!("{general:?}"), "una {una}");
                    }
                }
            }
        }
        assert_eq!(taken, 60);
        // Declined, unchanged: no whole record acknowledged, a SACKed record, a lost one.
        let mut b = build(false);
        for mark in [0, 1, 2] {
            if mark == 1 {
                b.on_sack_block(
                    SeqNumber(300),
                    SeqNumber(400),
                    None,
                    &mut Delivered::default(),
                );
            } else if mark == 2 {
                b = build(false);
                b.mark_lost_longer_than(0);
            }
            let una = if mark == 0 { 50 } else { 200 };
            let before = format!("{b:?}");
            assert!(!b.ack_clean_records(SeqNumber(una), &mut Delivered::default()));
            assert_eq!(format!("{b:?}"), before);
        }
    }

    #[test]
    fn sack_and_is_lost() {
        let (mut b, _) = board();
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(200), SeqNumber(500), None, &mut d);
        assert_eq!(d.sacked_bytes, 300);
        assert_eq!(b.sacked_bytes(), 300);
        assert_eq!(b.pipe(600), 300);
        // 300 bytes SACKed above 0..100 and 100..200: both lost with DupThresh·SMSS = 300.
        assert!(b.mark_lost_by_sack(300));
        assert_eq!(b.lost_bytes(), 200);
        assert_eq!(b.pipe(600), 100);
        assert_eq!(b.next_lost().unwrap().start, SeqNumber(0));
        b.on_retransmit(SeqNumber(0), SeqNumber(100), Instant::from_millis(50));
        assert_eq!(b.next_lost().unwrap().start, SeqNumber(100));
        assert_eq!(b.pipe(600), 200);
        let d = b.on_cumulative_ack(SeqNumber(150));
        assert_eq!(d.latest.unwrap().1, SeqNumber(100));
        assert_eq!(b.lost_bytes(), 50);
        let d = b.on_cumulative_ack(SeqNumber(600));
        assert!(b.is_empty());
        assert_eq!((b.sacked_bytes(), b.lost_bytes()), (0, 0));
        assert_eq!(d.latest.unwrap().1, SeqNumber(600));
    }

    #[test]
    fn rack_marks_older_segments() {
        let (mut b, t0) = board();
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(300), SeqNumber(400), None, &mut d);
        let (xmit, end, _) = d.latest.unwrap();
        assert_eq!(end, SeqNumber(400));
        let wait = crate::time::Duration::from_millis(10);
        // At t0 + 5 ms nothing is lost yet; the timer points at the oldest candidate.
        let (any, timer) =
            b.rack_detect_loss(t0 + crate::time::Duration::from_millis(5), xmit, end, wait);
        assert!(!any);
        assert_eq!(timer, Some(t0 + wait));
        let (any, _) =
            b.rack_detect_loss(t0 + crate::time::Duration::from_millis(20), xmit, end, wait);
        assert!(any);
        // 0..300 lost; 400..600 was sent after the delivered segment.
        assert_eq!(b.lost_bytes(), 300);
    }

    #[test]
    fn shorter_retransmission_splits() {
        let (mut b, _) = board();
        b.mark_all_lost();
        b.on_retransmit(SeqNumber(0), SeqNumber(60), Instant::from_millis(9));
        assert_eq!(b.next_lost().unwrap().start, SeqNumber(60));
        assert_eq!(b.lost_bytes(), 540);
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(60), SeqNumber(100), None, &mut d);
        assert_eq!(d.sacked_bytes, 40);
        assert_eq!(b.lost_bytes(), 500);
    }

    #[test]
    fn reordering_detected() {
        let (mut b, _) = board();
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(300), SeqNumber(400), None, &mut d);
        // Blocks of one ACK in any order are no evidence.
        b.on_sack_block(SeqNumber(200), SeqNumber(300), None, &mut d);
        assert!(!d.reordered);
        b.finish_ack(&d);
        // 100..200 arrives with a later ACK, never retransmitted: reordering.
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(100), SeqNumber(200), None, &mut d);
        assert!(d.reordered);
    }

    #[test]
    fn records_carry_delivery_rate_stamps() {
        // Six 100-byte segments sent 1 ms apart from an empty flight; at 40 ms a SACK for
        // 200..400 and at 45 ms the cumulative ACK of everything.
        let (mut b, t0) = board();
        let ms = |m: u64| t0 + crate::time::Duration::from_millis(m);
        let mut d = Delivered::default();
        b.on_sack_block(SeqNumber(200), SeqNumber(400), None, &mut d);
        let s = b.take_rate_sample(&d, ms(40)).unwrap();
        assert_eq!((s.newly_delivered, s.total_delivered), (200, 200));
        // Newest delivered: segment 3, sent at 3 ms; its RTT is 37 ms; the interval runs from
        // the flight's start (0 ms) to the ACK (40 ms).
        assert_eq!(s.rtt, Some(crate::time::Duration::from_millis(37)));
        assert_eq!(s.interval, Some(crate::time::Duration::from_millis(40)));
        // A retransmission is stamped anew and gives no RTT sample (Karn).
        b.mark_all_lost();
        b.on_retransmit(SeqNumber(0), SeqNumber(100), ms(42));
        let d = b.on_cumulative_ack(SeqNumber(600));
        let s = b.take_rate_sample(&d, ms(45)).unwrap();
        // 400 bytes newly delivered (the SACKed 200 are not counted twice).
        assert_eq!((s.newly_delivered, s.total_delivered), (400, 600));
        // The most recently sent delivered segment is the retransmission: no RTT sample.
        assert_eq!(s.rtt, None);
        // Its stamp (taken at 42 ms, 200 bytes delivered) starts the interval.
        assert_eq!(s.prior_delivered, 200);
        assert_eq!(s.delivered, 400);
        assert!(b.is_empty());
        // Nothing delivered, no sample.
        assert!(b.take_rate_sample(&Delivered::default(), ms(50)).is_none());
    }
}
