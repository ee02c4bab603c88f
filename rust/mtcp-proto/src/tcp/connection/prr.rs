//! Proportional Rate Reduction (RFC 6937) for SACK-based fast recovery.
//!
//! Without it, recovery sets cwnd = ssthresh at once: nothing is sent until `pipe` has drained
//! below ssthresh (half an RTT of silence with NewReno's halving), and when many segments are
//! lost at once `pipe` falls far below ssthresh and the rest goes out as a burst. PRR instead
//! spreads the reduction over the recovery round: while `pipe` > ssthresh, one byte may be
//! sent per ssthresh / RecoverFS bytes the peer reports delivered (§3 "proportional" part);
//! once `pipe` ≤ ssthresh, PRR-SSRB (slow-start reduction bound, §3) grows back towards
//! ssthresh by at most the bytes delivered plus one MSS per ACK. The result is written into
//! cwnd after every ACK in recovery (cwnd = pipe + sndcnt), which `send_window_end` and
//! `next_retransmission` already obey; recovery ends with cwnd = ssthresh (§3).
//!
//! It runs with every loss-based controller (NewReno, CUBIC): they choose ssthresh, PRR only
//! paces the way down to it. Without SACK it replaces RFC 6582's window inflation and
//! deflation in NewReno recovery, with Linux's estimates for Reno (`tcp_add_reno_sack`): each
//! duplicate ACK delivered one MSS and took one segment out of the network, and a partial ACK
//! delivered what it acknowledges beyond the segments its duplicates already counted. There
//! the window runs from SND.UNA, so cwnd = FlightSize + sndcnt lets sndcnt bytes past SND.MAX.
use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::wire::SeqNumber;

/// RFC 6937 §3 state of one recovery episode, plus what the previous ACK left behind so that
/// DeliveredData can be computed for the next one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Prr {
    /// RFC 6937 RecoverFS: FlightSize when recovery began.
    pub(super) recover_fs: usize,
    /// RFC 6937 prr_delivered: bytes the peer reported delivered during recovery.
    delivered: usize,
    /// RFC 6937 prr_out: bytes sent during recovery.
    out: usize,
    /// SND.UNA and SACKed bytes after the previous ACK.
    last_una: SeqNumber,
    last_sacked: usize,
    /// Without SACK: duplicate ACKs of this recovery not yet matched by a cumulative ACK,
    /// each standing for a segment that left the network (Linux's Reno `sacked_out`).
    reno_dups: usize,
}

impl Prr {
    /// The state of a connection whose first sequence number is `iss`.
    pub(super) fn new(iss: SeqNumber) -> Prr {
        Prr {
            last_una: iss,
            ..Prr::default()
        }
    }
}

impl Connection {
    /// RFC 6937 DeliveredData of the ACK being processed: the change in SND.UNA plus the change
    /// in SACKed bytes (which falls when SACKed data becomes cumulatively acknowledged).
    fn delivered_data(&self) -> usize {
        let una_advance = (self.snd_una - self.prr.last_una).max(0) as usize;
        (una_advance + self.scoreboard.sacked_bytes()).saturating_sub(self.prr.last_sacked)
    }

    /// Recovery begins (after the controller set ssthresh): RFC 6937 §3 initialization.
    pub(super) fn prr_start(&mut self) {
        self.prr.recover_fs = self.flight_size().max(1);
        self.prr.delivered = 0;
        self.prr.out = 0;
        self.prr.reno_dups = 0;
    }

    /// RFC 6937 §3 sndcnt for an ACK that delivered `delivered` bytes, `pipe` bytes being in
    /// the network now.
    fn prr_sndcnt(&mut self, pipe: usize, delivered: usize) -> usize {
        self.prr.delivered += delivered;
        let mss = usize::from(self.send_mss());
        let ssthresh = self.cc.ssthresh();
        if pipe > ssthresh {
            // Proportional: CEIL(prr_delivered · ssthresh / RecoverFS) − prr_out.
            let allowed = (self.prr.delivered as u128 * ssthresh as u128)
                .div_ceil(self.prr.recover_fs as u128);
            usize::try_from(allowed)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.prr.out)
        } else {
            // PRR-SSRB: back towards ssthresh, at most DeliveredData + 1 MSS ahead.
            let limit = self
                .prr
                .delivered
                .saturating_sub(self.prr.out)
                .max(delivered)
                + mss;
            (ssthresh - pipe).min(limit)
        }
    }

    /// Every ACK in SACK mode: during recovery, sets cwnd = pipe + sndcnt (RFC 6937 §3);
    /// always remembers SND.UNA and the SACKed bytes for the next ACK's DeliveredData.
    #[inline]
    pub(super) fn prr_on_ack(&mut self) {
        if self.in_recovery && self.config.prr {
            self.prr_set_window();
        }
        self.prr.last_una = self.snd_una;
        self.prr.last_sacked = self.scoreboard.sacked_bytes();
    }

    /// During recovery: cwnd = pipe + sndcnt (out of line: every other ACK skips it).
    #[inline(never)]
    fn prr_set_window(&mut self) {
        let delivered = self.delivered_data();
        let pipe = self.pipe();
        let sndcnt = self.prr_sndcnt(pipe, delivered);
        self.cc.set_window(pipe + sndcnt);
    }

    /// Without SACK, NewReno recovery began on the `dup_acks`-th duplicate ACK (after the
    /// controller set ssthresh): the earlier duplicates stand for segments out of the network,
    /// this one also counts as delivered.
    pub(super) fn prr_reno_start(&mut self, dup_acks: usize) {
        if self.config.prr {
            self.prr_start();
            self.prr.reno_dups = dup_acks.saturating_sub(1);
            self.prr_reno_dup_ack();
        }
    }

    /// Without SACK, a duplicate ACK in NewReno recovery (the one that starts it included):
    /// one MSS delivered. Returns false when PRR is off (RFC 6582 inflation applies).
    pub(super) fn prr_reno_dup_ack(&mut self) -> bool {
        if !self.config.prr {
            return false;
        }
        self.prr.reno_dups += 1;
        self.prr_reno_update(usize::from(self.send_mss()));
        true
    }

    /// Without SACK, a partial ACK of `acked` bytes in NewReno recovery. Returns false when
    /// PRR is off (RFC 6582 deflation applies).
    pub(super) fn prr_reno_partial_ack(&mut self, acked: usize) -> bool {
        if !self.config.prr {
            return false;
        }
        let mss = usize::from(self.send_mss()).max(1);
        let counted = self.prr.reno_dups * mss;
        self.prr.reno_dups = self.prr.reno_dups.saturating_sub(acked.div_ceil(mss));
        self.prr_reno_update(acked.saturating_sub(counted));
        true
    }

    /// cwnd = FlightSize + sndcnt, pipe estimated as FlightSize less a segment per unmatched
    /// duplicate ACK.
    fn prr_reno_update(&mut self, delivered: usize) {
        let mss = usize::from(self.send_mss());
        let flight = self.flight_size();
        let pipe = flight.saturating_sub(self.prr.reno_dups * mss);
        let sndcnt = self.prr_sndcnt(pipe, delivered);
        self.cc.set_window(flight + sndcnt);
    }

    /// A segment of `len` sequence bytes left during recovery (RFC 6937 prr_out).
    pub(super) fn prr_on_sent(&mut self, len: usize) {
        if self.in_recovery {
            self.prr.out += len;
        }
    }

    /// Recovery ended at RecoveryPoint: cwnd = ssthresh (RFC 6937 §3), so the controller's
    /// avoidance starts from the reduced window whatever PRR left in cwnd.
    pub(super) fn prr_end(&mut self) {
        if self.config.prr {
            self.cc.set_window(self.cc.ssthresh());
        }
    }
}
