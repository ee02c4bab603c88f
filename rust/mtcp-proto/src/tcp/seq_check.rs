//! The segment acceptance test of RFC 9293 §3.10.7.4 ("first, check sequence number").
use crate::wire::SeqNumber;

/// Whether a segment of `seg_len` sequence-space octets starting at `seq` is acceptable to a
/// receiver expecting `rcv_nxt` with a window of `rcv_wnd` octets (the four cases of the
/// RFC 9293 §3.10.7.4 table).
pub(super) fn segment_acceptable(
    seq: SeqNumber,
    seg_len: usize,
    rcv_nxt: SeqNumber,
    rcv_wnd: usize,
) -> bool {
    let in_window = |s: SeqNumber| s >= rcv_nxt && s < rcv_nxt + rcv_wnd;
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => in_window(seq),
        (_, 0) => false,
        (len, _) => in_window(seq) || in_window(seq + (len - 1)),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rfc_table() {
        let n = SeqNumber(1000);
        assert!(segment_acceptable(SeqNumber(1000), 0, n, 0));
        assert!(!segment_acceptable(SeqNumber(1001), 0, n, 0));
        assert!(segment_acceptable(SeqNumber(1009), 0, n, 10));
        assert!(!segment_acceptable(SeqNumber(1010), 0, n, 10));
        assert!(!segment_acceptable(SeqNumber(999), 0, n, 10));
        assert!(!segment_acceptable(SeqNumber(1000), 1, n, 0));
        // Straddling the left edge: acceptable (the old part is trimmed).
        assert!(segment_acceptable(SeqNumber(995), 10, n, 10));
        assert!(!segment_acceptable(SeqNumber(990), 10, n, 10));
        // Straddling the right edge.
        assert!(segment_acceptable(SeqNumber(1009), 10, n, 10));
        assert!(!segment_acceptable(SeqNumber(1010), 10, n, 10));
        // Across the 2^32 wrap.
        let w = SeqNumber(u32::MAX - 2);
        assert!(segment_acceptable(SeqNumber(2), 1, w, 10));
    }
}
