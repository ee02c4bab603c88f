//! Safe reuse of a 4-tuple in TIME-WAIT (RFC 9293 §3.10.7.4 note, RFC 6191, RFC 1122
//! §4.2.2.13; Linux's `tcp_timewait_state_process`): a SYN that is clearly from a newer
//! incarnation ends the wait and opens a new connection instead of being answered with an
//! ACK.
use super::Connection;
use crate::tcp::State;
use crate::wire::{SeqNumber, TcpRepr};

/// How far above the old SND.NXT the new incarnation's ISS starts (Linux's
/// `tw_snd_nxt + 65535 + 2`): old segments of ours still in the network lie below it.
const NEW_INCARNATION_ISS_GAP: usize = 65535 + 2;

impl Connection {
    /// Whether `syn` may open a new incarnation of this connection's 4-tuple: the connection
    /// is in TIME-WAIT, `syn` is a SYN without ACK or RST, and it is newer than anything the
    /// old incarnation received. With timestamps on both the old connection and the SYN,
    /// SEG.TSval > TS.Recent (RFC 6191 §2); otherwise SEG.SEQ > RCV.NXT (RFC 1122
    /// §4.2.2.13).
    pub fn accepts_new_incarnation(&self, syn: &TcpRepr<'_>) -> bool {
        let flags = syn.flags;
        if self.state != State::TimeWait || !flags.syn() || flags.ack() || flags.rst() {
            return false;
        }
        match (self.opts.timestamps, syn.timestamp) {
            (true, Some(ts)) => (ts.tsval.wrapping_sub(self.ts_recent) as i32) > 0,
            _ => syn.seq_number > self.rcv_nxt,
        }
    }

    /// SND.NXT: the next sequence number this connection sends (RFC 9293 §3.3.1). After a
    /// retransmission it may lie below the highest sent so far; in TIME-WAIT they are equal.
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }

    /// The ISS for a new incarnation of this 4-tuple: above every sequence number the old one
    /// used, as RFC 6191 §2 requires for the reuse to be safe (Linux: SND.NXT + 65537).
    pub fn new_incarnation_iss(&self) -> SeqNumber {
        self.snd_max + NEW_INCARNATION_ISS_GAP
    }

    /// Ends TIME-WAIT at once (the 4-tuple goes to a new incarnation): the connection is
    /// CLOSED with no error and sends nothing. Other states are left alone.
    pub fn end_time_wait(&mut self) {
        self.output_quiet = false;
        if self.state == State::TimeWait {
            self.enter_closed(None);
        }
    }
}
