//! F-RTO, the SACK-enhanced algorithm of RFC 5682 §3, with Linux's refinements
//! (`tcp_process_loss`): telling a spurious retransmission timeout (a delay spike, not a loss)
//! from a real one, and undoing the reduction (`undo.rs`, RFC 4015) when it was spurious.
//!
//! 1. The timeout fires outside fast recovery: as always cwnd = 1 MSS, everything not SACKed is
//!    marked lost and only the first segment is resent; `recover` = SND.MAX (§3 step 1).
//! 2. Any ACK from then on that acknowledges, cumulatively or by SACK, data below `recover`
//!    that was never retransmitted shows that the originals were only delayed: the timeout
//!    was spurious (step 3b, checked first on every ACK as Linux does, so the first ACK of a
//!    delay spike, covering the resent segment and the next original, decides at once). The
//!    loss marks are cleared (no go-back-N of the window) and the reduction is undone.
//! 3. Otherwise the first ACK that advances SND.UNA, but not to `recover`, lets previously
//!    unsent data out instead of retransmissions (step 2b), if there is any and the peer's
//!    window allows it; if not, or once SND.UNA reaches `recover`, F-RTO ends and the
//!    conventional recovery (resending the lost marks, RFC 6675 §5.1) continues (step 2a).
//! 4. After step 2b, a duplicate ACK or a SACK of only the new data means the loss was real
//!    (step 3a): conventional recovery.
//!
//! Without SACK, RFC 5682 §2's basic algorithm runs instead. The timeout goes back N
//! (SND.NXT = SND.UNA) as before. The first ACK that advances SND.UNA (not to `recover`) proves
//! nothing, as a receiver holding out-of-order data acknowledges it all once the resent
//! segment fills the hole: step 2b moves SND.NXT to SND.MAX and lets at most two new segments
//! out past the window. The next ACK decides: if it advances SND.UNA, data never resent
//! arrived after the timeout, which was spurious (step 3b: SND.NXT stays, nothing is resent,
//! the reduction is undone); a duplicate ACK means a real loss (step 3a: back to SND.UNA).
//! (`TcpConfig::frto`, on by default as Linux's `tcp_frto`.)
use super::Connection;
use crate::tcp::scoreboard::Delivered;
use crate::wire::SeqNumber;

/// Where F-RTO stands after a retransmission timeout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    /// Not running: conventional recovery after a timeout, or no timeout.
    #[default]
    Off,
    /// Step 1 done: waiting for an ACK that advances SND.UNA.
    FirstAck,
    /// Step 2b done: new data sent, retransmissions held; waiting for the verdict.
    SecondAck,
}

/// F-RTO state (RFC 5682 §3).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Frto {
    phase: Phase,
    /// SND.MAX when the timeout fired (RFC 5682 `recover`).
    recover: SeqNumber,
    /// The ACK being processed delivered data below `recover` that was never retransmitted.
    original_delivered: bool,
}

impl Connection {
    /// A retransmission timeout (not in the handshake), before its window reduction: records
    /// what an undo would restore, and starts step 1 when F-RTO applies. It does not after a
    /// timeout during fast recovery (RFC 5682 §3, as Linux). A repeated
    /// timeout (no progress since the last) keeps the first one's undo record, and F-RTO
    /// starts again, as Linux (a delay spike may outlast several backed-off RTOs).
    pub(super) fn frto_on_timeout(&mut self) {
        let during_recovery = self.in_recovery;
        self.undo_record(during_recovery || self.retries > 1);
        let applies = self.config.frto && !during_recovery && self.snd_una < self.snd_max;
        self.frto = Frto {
            phase: if applies { Phase::FirstAck } else { Phase::Off },
            recover: self.snd_max,
            original_delivered: false,
        };
    }

    /// While waiting for step 3's ACK, retransmissions wait (only new data goes, step 2b).
    pub(super) fn frto_holds_retransmissions(&self) -> bool {
        self.frto.phase == Phase::SecondAck
    }

    /// Step 3b's evidence, gathered while an ACK's cumulative part and SACK blocks are
    /// applied (`process_sack_blocks`): `recover` while F-RTO runs.
    pub(super) fn frto_recover_watch(&self) -> Option<SeqNumber> {
        (self.frto.phase != Phase::Off).then_some(self.frto.recover)
    }

    /// The cumulative ACK delivered `delivered`. A segment never retransmitted and not SACKed
    /// before lies below `recover`: until step 2b nothing above it was sent, and after it a
    /// cumulative ACK can pass `recover` only if the holes below were filled by originals,
    /// as retransmissions are held.
    pub(super) fn frto_note_cumulative(&mut self, delivered: &Delivered) {
        if delivered.original {
            self.frto.original_delivered = true;
        }
    }

    /// A SACK block newly covered never-retransmitted data below `recover`.
    pub(super) fn frto_note_original_sacked(&mut self) {
        self.frto.original_delivered = true;
    }

    /// F-RTO's steps for one ACK (SACK mode); `advanced` tells whether it moved SND.UNA,
    /// `sacked_new` whether it SACKed anything new.
    #[inline]
    pub(super) fn frto_on_ack(&mut self, advanced: bool, sacked_new: bool) {
        if self.frto.phase == Phase::Off {
            // F-RTO is not running (every ACK but those after an RTO): only the note clears.
            self.frto.original_delivered = false;
            return;
        }
        self.frto_step(advanced, sacked_new);
    }

    /// `frto_on_ack` while F-RTO runs.
    #[inline(never)]
    fn frto_step(&mut self, advanced: bool, sacked_new: bool) {
        let mut original = std::mem::take(&mut self.frto.original_delivered);
        if !self.sack_mode() {
            // RFC 5682 §2: only an advance after step 2b is evidence (see above).
            original = self.frto.phase == Phase::SecondAck && advanced;
        }
        if original {
            // Step 3b: the originals were delayed, not lost.
            self.frto.phase = Phase::Off;
            self.scoreboard.unmark_lost();
            if !self.sack_mode() {
                self.snd_nxt = self.snd_max; // no go-back-N
            }
            self.stats.spurious_timeouts += 1;
            self.undo_reduction();
            return;
        }
        match self.frto.phase {
            Phase::FirstAck if advanced => {
                let step_2b = self.snd_una < self.frto.recover && self.can_send_new();
                self.frto.phase = if step_2b {
                    Phase::SecondAck
                } else {
                    Phase::Off // step 2a: conventional recovery
                };
                if step_2b && !self.sack_mode() {
                    self.snd_nxt = self.snd_max; // new data, not the go-back-N
                }
            }
            Phase::SecondAck if !advanced || sacked_new => {
                self.frto.phase = Phase::Off; // step 3a: the loss was real
                if !self.sack_mode() {
                    self.snd_nxt = self.snd_una; // go back N after all
                }
            }
            _ => {}
        }
    }

    /// Without SACK, step 2b's allowance: new data up to two segments past `recover`, whatever
    /// the window from SND.UNA says (RFC 5682 §2 step 2b: the two segments slow start would
    /// have resent, sent as new data instead).
    pub(super) fn frto_new_data_end(&self) -> Option<SeqNumber> {
        (self.frto.phase == Phase::SecondAck && !self.sack_mode())
            .then(|| self.frto.recover + 2 * usize::from(self.send_mss()))
    }

    /// Step 2b's condition: unsent data is queued and the peer's window has room for it.
    fn can_send_new(&self) -> bool {
        self.data_end() > self.snd_max && self.snd_una + self.snd_wnd > self.snd_max
    }
}
