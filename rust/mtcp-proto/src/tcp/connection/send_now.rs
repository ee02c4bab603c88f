//! What the next `poll_transmit` owes whatever data waits: an ACK, a window probe, a fast
//! retransmission, a tail loss probe, TIME-WAIT's last ACK, the keepalive re-arm. One bit
//! each, so that `has_output` (asked after every segment and every API call) tests one byte
//! instead of six separate flags.
use core::fmt;

/// A set of reasons to call on `poll_transmit` now.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SendNow(u8);

impl SendNow {
    /// Send an ACK (RFC 9293 §3.8.6.3: at once, not delayed).
    pub(super) const ACK: SendNow = SendNow(1 << 0);
    /// Send a zero-window probe (RFC 9293 §3.8.6.1).
    pub(super) const PROBE: SendNow = SendNow(1 << 1);
    /// Resend the segment at SND.UNA (fast retransmit, RFC 5681 §3.2).
    pub(super) const RETRANSMIT_FRONT: SendNow = SendNow(1 << 2);
    /// The tail loss probe timer fired (RFC 8985 §7.3).
    pub(super) const TLP: SendNow = SendNow(1 << 3);
    /// Closed straight from TIME-WAIT with `timewait == 0`: the last ACK still has to go out.
    pub(super) const FINAL_ACK: SendNow = SendNow(1 << 4);
    /// `set_keepalive` was called (no clock): arm the timer at the next poll_transmit.
    pub(super) const KEEPALIVE_REARM: SendNow = SendNow(1 << 5);

    const NAMES: [(SendNow, &'static str); 6] = [
        (SendNow::ACK, "ACK"),
        (SendNow::PROBE, "PROBE"),
        (SendNow::RETRANSMIT_FRONT, "RETRANSMIT_FRONT"),
        (SendNow::TLP, "TLP"),
        (SendNow::FINAL_ACK, "FINAL_ACK"),
        (SendNow::KEEPALIVE_REARM, "KEEPALIVE_REARM"),
    ];

    /// Whether `reason` is set.
    #[inline]
    pub(super) fn has(self, reason: SendNow) -> bool {
        self.0 & reason.0 != 0
    }

    /// Whether no reason at all is set.
    #[inline]
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any reason of `reasons` is set.
    #[inline]
    pub(super) fn any(self, reasons: SendNow) -> bool {
        self.0 & reasons.0 != 0
    }

    /// Whether no reason outside `reasons` is set.
    #[inline]
    pub(super) fn only(self, reasons: SendNow) -> bool {
        self.0 & !reasons.0 == 0
    }

    #[inline]
    pub(super) fn set(&mut self, reason: SendNow) {
        self.0 |= reason.0;
    }

    #[inline]
    pub(super) fn clear(&mut self, reason: SendNow) {
        self.0 &= !reason.0;
    }

    #[inline]
    pub(super) fn set_to(&mut self, reason: SendNow, on: bool) {
        if on {
            self.set(reason);
        } else {
            self.clear(reason);
        }
    }
}

impl core::ops::BitOr for SendNow {
    type Output = SendNow;
    fn bitor(self, rhs: SendNow) -> SendNow {
        SendNow(self.0 | rhs.0)
    }
}

/// The names of the reasons set, as a `{:?}` of the connection shows them.
impl fmt::Debug for SendNow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = SendNow::NAMES.iter().filter(|(r, _)| self.has(*r));
        f.debug_set().entries(names.map(|(_, name)| name)).finish()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reasons_are_independent_bits() {
        let mut s = SendNow::default();
        assert!(!s.any(SendNow::ACK | SendNow::TLP));
        s.set(SendNow::TLP);
        s.set_to(SendNow::FINAL_ACK, true);
        assert!(s.has(SendNow::TLP) && s.has(SendNow::FINAL_ACK) && !s.has(SendNow::ACK));
        assert!(s.any(SendNow::ACK | SendNow::TLP));
        assert!(s.only(SendNow::TLP | SendNow::FINAL_ACK) && !s.only(SendNow::TLP));
        s.clear(SendNow::TLP);
        s.set_to(SendNow::FINAL_ACK, false);
        assert_eq!(s, SendNow::default());
        assert_eq!(
            format!("{:?}", SendNow::ACK | SendNow::PROBE),
            r#"{"ACK", "PROBE"}"#
        );
    }
}
