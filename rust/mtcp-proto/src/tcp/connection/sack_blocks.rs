//! Which SACK blocks our ACKs carry (RFC 2018 §4): the block holding the segment that
//! triggered the ACK first, then the most recently reported ones, then the rest in sequence
//! order, as Linux keeps `selective_acks` most-recent-first.
//!
//! The runtime processes a batch of arriving segments before it polls for output, so one ACK
//! may answer a burst that both extended the highest range and opened a new one above a
//! hole. Reporting only the latest block and the lowest ones left the extended range out;
//! the sender's RACK then took its segments, sent before the newly SACKed ones, for lost and
//! sent them again (with BBR at 1% loss, 100 ms RTT and 4 MiB windows, seven needless
//! retransmissions for every real loss).
use super::Connection;
use crate::wire::SeqNumber;

/// Out-of-order ranges remembered by recency: as many as fit in one SACK option with
/// timestamps.
pub(super) const RECENT_RANGES: usize = 3;

impl Connection {
    /// The block `[left, right)` of out-of-order data holding `seq`, if any.
    fn sack_block_of(&self, seq: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let rcv_nxt = self.rcv_nxt;
        self.assembler
            .ranges()
            .iter()
            .map(|&(start, end)| (rcv_nxt + start, rcv_nxt + end))
            .find(|&(l, r)| l <= seq && seq < r)
    }

    /// An out-of-order segment starting at `seq` was stored: its range becomes the most
    /// recent (an older entry for the same range, or for data now in order, is dropped).
    pub(super) fn note_out_of_order(&mut self, seq: SeqNumber) {
        let block = self.sack_block_of(seq);
        let mut recent = [None; RECENT_RANGES];
        recent[0] = Some(seq);
        let mut n = 1;
        for old in self.recent_ooo.into_iter().flatten() {
            let old_block = self.sack_block_of(old);
            if n < RECENT_RANGES && old_block.is_some() && old_block != block {
                recent[n] = Some(old);
                n += 1;
            }
        }
        self.recent_ooo = recent;
    }

    /// The blocks of the most recently touched ranges, most recent first, without repeats.
    pub(super) fn recent_sack_blocks(&self) -> [Option<(SeqNumber, SeqNumber)>; RECENT_RANGES] {
        let mut blocks = [None; RECENT_RANGES];
        let mut n = 0;
        for seq in self.recent_ooo.into_iter().flatten() {
            let block = self.sack_block_of(seq);
            if block.is_some() && !blocks.contains(&block) {
                blocks[n] = block;
                n += 1;
            }
        }
        blocks
    }
}
