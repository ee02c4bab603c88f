//! Undoing a window reduction that turned out needless (RFC 4015's response to a spurious
//! timeout; Linux's `tcp_undo_cwnd_reduction`).
//!
//! Every reduction (a SACK recovery episode, a retransmission timeout) first records the cwnd
//! and ssthresh it replaces. Two kinds of evidence undo it:
//! - F-RTO (RFC 5682, `frto.rs`) shows a retransmission timeout spurious;
//! - D-SACKs (RFC 2883 §4) report every segment retransmitted since the reduction as received
//!   twice (RFC 3708 §3's detection; Linux's `undo_retrans` and `tcp_try_undo_dsack`), so
//!   nothing was lost: the network reordered or delayed.
//!
//! Undoing restores cwnd = max(cwnd, prior cwnd) and ssthresh = max(ssthresh, prior
//! ssthresh), as Linux does (RFC 4015 §3 restores the pre-reduction values in the same way).
use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::wire::SeqNumber;

/// What a reduction replaced, and the evidence gathered since.
#[derive(Debug, Clone, Copy)]
pub(super) struct Undo {
    prior_cwnd: usize,
    prior_ssthresh: usize,
    /// SND.UNA when the reduction began (Linux's `undo_marker`): D-SACKs below it are older.
    marker: SeqNumber,
    /// `TcpStats::retransmitted_segments` when the reduction began.
    retransmits_before: u64,
    /// Segments reported by D-SACKs since.
    dsacked_segments: u64,
    /// Lowest start and highest end retransmitted since: a D-SACK outside cannot be for a
    /// retransmission (a duplicate made by the network), and is not counted.
    retransmitted: Option<(SeqNumber, SeqNumber)>,
    /// The episode has ended: SND.MAX then. Once SND.UNA passes it, the D-SACKs for the
    /// episode's retransmissions have had a round trip to arrive and the record is dropped.
    horizon: Option<SeqNumber>,
}

impl Connection {
    /// A reduction is about to happen: remember what it replaces. A reduction that follows
    /// another still undoable one (a timeout during recovery, or a repeated timeout) keeps the
    /// earlier record, so an undo restores the window from before the whole episode (as
    /// Linux's `tcp_enter_loss`).
    pub(super) fn undo_record(&mut self, continues_episode: bool) {
        if continues_episode && self.undo.is_some() {
            return;
        }
        self.undo = Some(Undo {
            prior_cwnd: self.cc.window(),
            prior_ssthresh: self.cc.ssthresh(),
            marker: self.snd_una,
            retransmits_before: self.stats.retransmitted_segments,
            dsacked_segments: 0,
            retransmitted: None,
            horizon: None,
        });
    }

    /// `[start, end)` is being retransmitted.
    pub(super) fn undo_note_retransmission(&mut self, start: SeqNumber, end: SeqNumber) {
        if let Some(undo) = self.undo.as_mut() {
            undo.retransmitted = Some(match undo.retransmitted {
                None => (start, end),
                Some((low, high)) => (low.min(start), high.max(end)),
            });
        }
    }

    /// A D-SACK for `[left, right)` arrived: count the segments it reports if they belong to
    /// the episode being watched and overlap what it retransmitted.
    pub(super) fn undo_on_dsack(&mut self, left: SeqNumber, right: SeqNumber) {
        let mss = usize::from(self.send_mss()).max(1);
        if let Some(undo) = self.undo.as_mut() {
            let overlaps = undo
                .retransmitted
                .is_some_and(|(low, high)| left < high && right > low);
            if left >= undo.marker && overlaps {
                let bytes = (right - left).max(0) as usize;
                undo.dsacked_segments += bytes.div_ceil(mss) as u64;
            }
        }
    }

    /// After each ACK (SACK mode): outside recovery, undo when D-SACKs covered every
    /// retransmission of the episode; drop the record a round trip after the episode ended.
    pub(super) fn undo_after_ack(&mut self) {
        if self.in_recovery {
            return;
        }
        let Some(undo) = self.undo.as_mut() else {
            return;
        };
        let retransmits = self.stats.retransmitted_segments - undo.retransmits_before;
        if retransmits > 0 && undo.dsacked_segments >= retransmits {
            self.undo_reduction();
            return;
        }
        match undo.horizon {
            None if self.snd_una >= self.recover => undo.horizon = Some(self.snd_max),
            Some(horizon) if self.snd_una > horizon => self.undo = None,
            _ => {}
        }
    }

    /// Restores the window the recorded reduction replaced (RFC 4015 §3, Linux's
    /// `tcp_undo_cwnd_reduction`) and leaves recovery.
    pub(super) fn undo_reduction(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        self.cc.set_window(self.cc.window().max(undo.prior_cwnd));
        if undo.prior_ssthresh > self.cc.ssthresh() {
            self.cc.set_ssthresh(undo.prior_ssthresh);
        }
        self.in_recovery = false;
        self.stats.undos += 1;
    }
}
