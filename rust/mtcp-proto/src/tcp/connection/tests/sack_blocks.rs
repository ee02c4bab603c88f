//! Which SACK blocks our ACKs carry (RFC 2018 §4, `sack_blocks.rs`): after a batch of
//! segments, the most recently touched ranges, not the lowest ones.
use super::*;

fn established_with_sack() -> Connection {
    let config = TcpConfig {
        sack: true,
        ..plain()
    };
    established_sack_at(&config, 0)
}

#[test]
fn test_sack_blocks_report_every_range_a_batch_touched() {
    let mut c = established_with_sack();
    // Three ranges above a hole at REMOTE_SEQ + 1, each ACKed as it arrives.
    for (ms, start) in [(1, 11), (2, 31), (3, 51)] {
        send(&mut c, ms, data(REMOTE_SEQ + start, b"0123456789"));
        recv_one(&mut c, ms);
    }
    // One batch before the next poll: the highest range grows, and a new one opens above a
    // hole (what a burst of paced segments with one loss looks like).
    send(&mut c, 4, data(REMOTE_SEQ + 61, b"0123456789"));
    send(&mut c, 4, data(REMOTE_SEQ + 81, b"0123456789"));
    let out = recv_one(&mut c, 4);
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
    let blocks = out.repr.sack_ranges;
    // The new range first (it holds the segment that triggered the ACK), then the range the
    // batch extended, then the most recently reported before them. The extension of
    // [51, 71) would otherwise be unknown to the sender, whose RACK then resends it.
    assert_eq!(
        blocks,
        [
            Some((REMOTE_SEQ + 81, REMOTE_SEQ + 91)),
            Some((REMOTE_SEQ + 51, REMOTE_SEQ + 71)),
            Some((REMOTE_SEQ + 31, REMOTE_SEQ + 41)),
        ]
    );
    // Filling the hole below [31, 41) merges it with [11, 21): one range, reported first.
    send(&mut c, 5, data(REMOTE_SEQ + 21, b"0123456789"));
    let blocks = recv_one(&mut c, 5).repr.sack_ranges;
    assert_eq!(blocks[0], Some((REMOTE_SEQ + 11, REMOTE_SEQ + 41)));
    assert_eq!(blocks[1], Some((REMOTE_SEQ + 81, REMOTE_SEQ + 91)));
    assert_eq!(blocks[2], Some((REMOTE_SEQ + 51, REMOTE_SEQ + 71)));
}
