//! F-RTO, the SACK-enhanced algorithm of RFC 5682 §3, with Linux's refinements
//! (`tcp_process_loss`): telling a spurious retransmission timeout (a delay spike, not a loss)
//! from a real one, and undoing the reduction (`undo.rs`, RFC 4015) when it was spurious.
//!
//! 1. The timeout fires outside fast recovery: as always cwnd = 1 MSS, everything not SACKed is
//!    marked lost and only the first segment is resent; `recover` = SND.MAX (§3 step 1).
//! 2. The first ACK after it: if it advances SND.UNA but not to `recover`, and new data may be
//!    sent, previously unsent data goes out instead of retransmissions (step 2b). A duplicate
//!    ACK, an ACK of everything, or nothing new to send ends F-RTO: the conventional recovery
//!    (resending the lost marks, RFC 6675 §5.1) continues (step 2a).
//! 3. The next ACK: if it acknowledges, cumulatively or by SACK, data below `recover` that was
//!    never retransmitted, the originals were only delayed: the timeout was spurious. The loss
//!    marks are cleared (no go-back-N of the window) and the reduction is undone (step 3b).
//!    A duplicate ACK or a SACK of only the new data means the loss was real (step 3a).
//!
//! F-RTO needs SACK (`TcpConfig::frto`, on by default as Linux's `tcp_frto`); without SACK
//! the timeout goes back N as before.
use super::Connection;
use crate::tcp::scoreboard::Delivered;
use crate::wire::SeqNumber;

/// Where F-RTO stands after a retransmission timeout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    /// Not running: conventional recovery after a timeout, or no timeout.
    #[default]
    Off,
    /// Step 1 done: waiting for the first ACK after the timeout.
    FirstAck,
    /// Step 2b done: new data sent, retransmissions held; waiting for the next ACK.
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
    /// timeout during fast recovery (RFC 5682 §3, as Linux), nor without SACK. A repeated
    /// timeout (no progress since the last) keeps the first one's undo record, and F-RTO
    /// starts again, as Linux (a delay spike may outlast several backed-off RTOs).
    pub(super) fn frto_on_timeout(&mut self) {
        let during_recovery = self.in_recovery;
        self.undo_record(during_recovery || self.retries > 1);
        let applies =
            self.config.frto && self.sack_mode() && !during_recovery && self.snd_una < self.snd_max;
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

    /// Step 3's evidence, gathered while an ACK's cumulative part and SACK blocks are applied
    /// (`process_sack_blocks`): `recover` while it is wanted.
    pub(super) fn frto_recover_watch(&self) -> Option<SeqNumber> {
        (self.frto.phase == Phase::SecondAck).then_some(self.frto.recover)
    }

    /// The cumulative ACK delivered `delivered`: a segment never retransmitted counts as
    /// original data (all below `recover`, or the ACK covers `recover` and so all of it).
    pub(super) fn frto_note_cumulative(&mut self, delivered: &Delivered) {
        if delivered
            .latest
            .is_some_and(|(_, _, retransmitted)| !retransmitted)
        {
            self.frto.original_delivered = true;
        }
    }

    /// A SACK block newly covered never-retransmitted data below `recover`.
    pub(super) fn frto_note_original_sacked(&mut self) {
        self.frto.original_delivered = true;
    }

    /// Steps 2 and 3 for one ACK (SACK mode); `advanced` tells whether it moved SND.UNA.
    pub(super) fn frto_on_ack(&mut self, advanced: bool, sacked_new: bool) {
        let original = std::mem::take(&mut self.frto.original_delivered);
        match self.frto.phase {
            Phase::Off => {}
            Phase::FirstAck => {
                let step_2b = advanced && self.snd_una < self.frto.recover && self.can_send_new();
                self.frto.phase = if step_2b {
                    Phase::SecondAck
                } else {
                    Phase::Off // step 2a: conventional recovery
                };
            }
            Phase::SecondAck => {
                if original {
                    // Step 3b: the originals were delayed, not lost.
                    self.frto.phase = Phase::Off;
                    self.scoreboard.unmark_lost();
                    self.stats.spurious_timeouts += 1;
                    self.undo_reduction();
                } else if !advanced || sacked_new {
                    self.frto.phase = Phase::Off; // step 3a: the loss was real
                }
            }
        }
    }

    /// Step 2b's condition: unsent data is queued and the peer's window has room for it.
    fn can_send_new(&self) -> bool {
        self.data_end() > self.snd_max && self.snd_una + self.snd_wnd > self.snd_max
    }
}
