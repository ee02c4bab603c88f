//! Timestamps checks on arriving segments once the option is in use (RFC 7323 §3.2, §5):
//! PAWS, with TS.Recent invalidated after 24 days of idleness (§5.5).
use super::send_now::SendNow;
use super::Connection;
use crate::time::{Duration, Instant};
use crate::wire::TcpRepr;

/// RFC 7323 §5.5: a TS.Recent older than this is no longer valid (Linux's `TCP_PAWS_24DAYS`).
/// The timestamp clock ticks at 1 ms, so in 24 days it moves 2.07·10^9, close to the 2^31
/// after which "older" and "newer" are confused.
pub(super) const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 3600);

impl Connection {
    /// Whether `seg` passes the timestamps checks; when not, it is dropped (after queueing the
    /// ACK RFC 7323 §5.3 R1 asks for, for PAWS).
    ///
    /// - §3.2: a non-RST segment without the option is dropped silently, except a SYN: it
    ///   still gets its challenge ACK or TIME-WAIT's re-ACK (RFC 5961 §4, RFC 9293 §3.10.7.4),
    ///   so a peer that reconnects without timestamps learns of the old connection.
    /// - §5.3 R1 (PAWS): a non-RST segment with SEG.TSval < TS.Recent is an old duplicate:
    ///   answered with an ACK and dropped. RSTs are exempt (§5.3 R1 note, as Linux).
    /// - §5.5: a TS.Recent set more than 24 days ago is invalid; the segment is not checked
    ///   against it (and then updates it as any acceptable segment does, §4.3), so a
    ///   connection idle that long is not killed by a timestamp clock that has moved on by
    ///   more than 2^31 (Linux's `tcp_paws_check`).
    pub(super) fn timestamps_acceptable(&mut self, now: Instant, seg: &TcpRepr<'_>) -> bool {
        if !self.opts.timestamps || seg.flags.rst() {
            return true;
        }
        let Some(ts) = seg.timestamp else {
            return seg.flags.syn();
        };
        if now.saturating_duration_since(self.ts_recent_stamp) > PAWS_IDLE_LIMIT {
            return true;
        }
        if (ts.tsval.wrapping_sub(self.ts_recent) as i32) < 0 {
            self.send_now.set(SendNow::ACK);
            return false;
        }
        true
    }
}
