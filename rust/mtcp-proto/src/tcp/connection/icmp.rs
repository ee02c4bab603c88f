//! ICMP errors about a connection's segments (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191), with
//! Linux's choices (`tcp_v4_err`): in SYN-SENT any error fails the connect (a hard error);
//! once synchronized, errors are soft: kept and reported only if the connection later times
//! out (instead of ETIMEDOUT). "Fragmentation needed" lowers the send MSS and resends what
//! no longer fits (path MTU discovery, RFC 1191 §6).
use super::Connection;
use crate::errno::Errno;
use crate::tcp::State;
use crate::time::Instant;
use crate::wire::SeqNumber;

/// The IPv4 and TCP headers a path MTU of at most this leaves room for (no options).
const IP_TCP_HEADERS: u16 = 40;
/// The smallest path MTU believed (Linux's `min_pmtu`): a forged "fragmentation needed" with
/// a tiny MTU cannot make us send tiny segments (RFC 5927 §7.2).
const MIN_PATH_MTU: u16 = 552;
/// RFC 1191 §7 plateaus, for routers that report no next-hop MTU (largest first).
const MTU_PLATEAUS: [u16; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// An ICMP error message quoting one of this connection's segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// Destination unreachable (type 3) with its code (RFC 792, RFC 1812 §5.2.7.1); for code 4,
    /// "fragmentation needed and DF set", the next-hop MTU (RFC 1191 §4; 0 from old routers).
    DstUnreachable {
        /// The code.
        code: u8,
        /// The next-hop MTU field (meaningful for code 4).
        next_hop_mtu: u16,
    },
    /// Time exceeded (type 11), e.g. a routing loop.
    TimeExceeded,
}

impl IcmpError {
    /// The errno Linux reports for it (`icmp_err_convert`); `None` for "fragmentation
    /// needed", which is no error, and for codes beyond 15.
    pub fn errno(self) -> Option<Errno> {
        let code = match self {
            IcmpError::TimeExceeded => return Some(Errno::EHOSTUNREACH),
            IcmpError::DstUnreachable { code, .. } => code,
        };
        Some(match code {
            0 | 6 | 9 | 11 => Errno::ENETUNREACH,
            2 => Errno::ENOPROTOOPT,
            3 => Errno::ECONNREFUSED,
            4 => return None,
            5 => Errno::EOPNOTSUPP,
            7 => Errno::EHOSTDOWN,
            // Linux gives ENONET for 8 (source host isolated), not in our errno set.
            1 | 8 | 10 | 12..=15 => Errno::EHOSTUNREACH,
            _ => return None,
        })
    }
}

impl Connection {
    /// An ICMP error arrived quoting a segment of this connection whose sequence number was
    /// `seq`. Acted on only when `seq` lies in SND.UNA..SND.MAX (RFC 5927 §4.1: a blind
    /// attacker must guess a sequence number in flight). Returns whether it was acted on.
    pub fn handle_icmp_error(&mut self, now: Instant, seq: SeqNumber, error: IcmpError) -> bool {
        self.output_quiet = false;
        let _ = now;
        if matches!(self.state, State::Closed | State::Listen | State::TimeWait) {
            return false;
        }
        if seq < self.snd_una || seq >= self.snd_max {
            return false;
        }
        if let IcmpError::DstUnreachable {
            code: 4,
            next_hop_mtu,
        } = error
        {
            return self.reduce_path_mtu(next_hop_mtu);
        }
        let Some(errno) = error.errno() else {
            return false;
        };
        match self.state {
            State::SynSent => self.enter_closed(Some(errno)),
            State::SynReceived if self.active_open => self.enter_closed(Some(errno)),
            // A passive open is dropped for net/host unreachable and time exceeded (Linux's
            // `tcp_req_err`); the listener is not told.
            State::SynReceived => match error {
                IcmpError::TimeExceeded | IcmpError::DstUnreachable { code: 0 | 1, .. } => {
                    self.enter_closed(None)
                }
                _ => return false,
            },
            _ => self.soft_error = Some(errno),
        }
        true
    }

    /// RFC 1191 §6.1–6.3: the path MTU dropped to `mtu` (0: unknown, take the next plateau
    /// below the current one). Only ever lowers the MSS; segments in flight that no longer fit
    /// are resent at the new size at once, without a congestion response (Linux's
    /// `tcp_simple_retransmit`: the drop was not congestion).
    fn reduce_path_mtu(&mut self, mtu: u16) -> bool {
        let current = self.opts.mss_cap.saturating_add(IP_TCP_HEADERS);
        let mtu = if mtu == 0 {
            MTU_PLATEAUS
                .iter()
                .copied()
                .find(|&p| p < current)
                .unwrap_or(0)
        } else {
            mtu
        };
        let mss_cap = mtu.max(MIN_PATH_MTU) - IP_TCP_HEADERS;
        if mss_cap >= self.opts.mss_cap {
            return false;
        }
        let old_mss = usize::from(self.send_mss());
        self.opts.mss_cap = mss_cap;
        self.opts.refresh_send_mss();
        self.rcv_mss_estimate = self.rcv_mss_estimate.min(usize::from(mss_cap));
        if self.snd_una < self.snd_max && self.state != State::SynSent {
            self.rtt_timing = None; // Karn: what is timed may be resent
            if self.sack_mode() {
                self.scoreboard
                    .mark_lost_longer_than(usize::from(self.send_mss()));
                self.retransmit_first_hole = true;
            } else if old_mss > usize::from(self.send_mss()) {
                self.snd_nxt = self.snd_una; // go back N at the new size
            }
        }
        true
    }
}
