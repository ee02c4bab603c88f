//! Option arithmetic for the handshake (RFC 7323 §2.3, §3.2).

/// Bytes the timestamps option takes in every segment once negotiated: kind, length, TSval,
/// TSecr (10) padded with two NOPs (RFC 7323 Appendix A).
pub(super) const TIMESTAMP_OPTION_LEN: usize = 12;

/// The largest shift RFC 7323 §2.3 allows.
pub(super) const MAX_WINDOW_SHIFT: u8 = 14;

/// The smallest window scale shift with which a receive buffer of `rcvbuf` bytes can be
/// advertised in the 16-bit window field (RFC 7323 §2.3).
pub(super) fn window_shift_for(rcvbuf: usize) -> u8 {
    let mut shift = 0;
    while shift < MAX_WINDOW_SHIFT && (rcvbuf >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn shift_fits_buffer() {
        assert_eq!(window_shift_for(8192), 0);
        assert_eq!(window_shift_for(65535), 0);
        assert_eq!(window_shift_for(65536), 1);
        assert_eq!(window_shift_for(1 << 20), 5);
        assert_eq!(window_shift_for(usize::MAX), 14);
    }
}
