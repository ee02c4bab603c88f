//! Per-connection parameters, set by the runtime from `mtcp.conf` and socket options.
use super::congestion::CongestionAlgorithm;
use super::SynCookieMode;
use crate::time::Duration;

/// TCP keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6; Linux's `SO_KEEPALIVE`,
/// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe (Linux default 7200 s).
    pub idle: Duration,
    /// Time between unanswered probes (Linux default 75 s).
    pub interval: Duration,
    /// Unanswered probes after which the connection fails with ETIMEDOUT (Linux default 9).
    pub count: u32,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// Parameters of one connection. `Default` gives Linux-like values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// MSS to advertise: MTU − 40 (1460 on Ethernet).
    pub mss: u16,
    /// Receive buffer in bytes (mTCP's `rcvbuf`); the advertised window never exceeds it.
    pub rcvbuf: usize,
    /// Send buffer in bytes (mTCP's `sndbuf`).
    pub sndbuf: usize,
    /// Time spent in TIME-WAIT (mTCP's `tcp_timewait`; 0 ends it at once).
    pub timewait: Duration,
    /// Idle time after which an established connection is closed with ETIMEDOUT
    /// (mTCP's `tcp_timeout`); `None` disables it.
    pub idle_timeout: Option<Duration>,
    /// Initial retransmission timeout (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound on the RTO (Linux: 200 ms).
    pub min_rto: Duration,
    /// Upper bound on the RTO (RFC 6298 §2.5: at least 60 s).
    pub max_rto: Duration,
    /// Retransmissions of one segment before the connection fails with ETIMEDOUT (Linux tcp_retries2: 15).
    pub max_retries: u32,
    /// SYN retransmissions before connect fails with ETIMEDOUT (Linux tcp_syn_retries: 6).
    pub max_syn_retries: u32,
    /// Longest an ACK for received data may be delayed (Linux: 40 ms; RFC 9293 ≤ 500 ms).
    pub delayed_ack: Duration,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Most ACKs sent at once, not delayed, when data starts to arrive and again after the
    /// receiver was idle for an RTO (Linux's quickack mode, `TCP_MAX_QUICKACKS` = 16; also
    /// bounded by half the receive buffer in segments, as Linux). Slow start then grows from
    /// an ACK per segment. 0 turns it off.
    pub quick_acks: u32,
    /// Disable Nagle's algorithm (`TCP_NODELAY`).
    pub nodelay: bool,
    /// Linger on close: `None` = off; `Some(ZERO)` = abort with RST on close.
    pub linger: Option<Duration>,
    /// Congestion controller (`TCP_CONGESTION`; mTCP's `cc`); CUBIC by default, as Linux.
    pub congestion: CongestionAlgorithm,
    /// The port finishes TCP checksums (transmit checksum offload): segments leave with only
    /// the pseudo-header sum in the field ([`crate::wire::TcpRepr::fill_partial_checksum`]).
    /// Set by the runtime from the port's capabilities; off by default.
    pub checksum_offload: bool,
    /// Keepalive probing (`SO_KEEPALIVE`); `None` = off, the default.
    pub keepalive: Option<KeepAlive>,
    /// Challenge ACKs (RFC 5961 §3–5) sent per second by one connection at most (RFC 5961 §7;
    /// per connection rather than Linux's host-wide budget, so one attacked flow cannot starve
    /// the others of theirs). 0 disables the limit.
    pub challenge_ack_limit: u32,
    /// RACK-TLP loss detection (RFC 8985) when SACK is negotiated; off leaves RFC 6675's
    /// DupThresh rule and the RTO.
    pub rack: bool,
    /// When a listener answers SYNs with SYN cookies (RFC 4987 §3.6; Linux's
    /// `net.ipv4.tcp_syncookies`, the runtime's `tcp_syncookies`). A listener policy, read by
    /// the runtime's passive open, not by the connection.
    pub syn_cookies: SynCookieMode,
    /// Longest data may stay unacknowledged, retransmitted or not, before the connection
    /// fails with ETIMEDOUT (RFC 5482 / RFC 9293 §3.8.3 USER TIMEOUT; Linux's
    /// `TCP_USER_TIMEOUT`). `None` leaves it to `max_retries`, the default.
    pub user_timeout: Option<Duration>,
    /// HyStart++ (RFC 9406) in the initial slow start, with either controller: a rise of the
    /// per-round minimum RTT ends slow start before the bottleneck queue overflows. On by
    /// default, as Linux's CUBIC HyStart.
    pub hystart: bool,
    /// Pacing: data segments leave at most one per mss / (gain · cwnd / SRTT), gain 2 in slow
    /// start and 1.2 in congestion avoidance (Linux's `tcp_pacing_ss_ratio` 200% and
    /// `tcp_pacing_ca_ratio` 120%). Off by default (Linux paces only with the fq qdisc or BBR).
    pub pacing: bool,
    /// Proportional Rate Reduction (RFC 6937, with PRR-SSRB) in fast recovery, with or without
    /// SACK: the window falls to ssthresh over the recovery round, one segment out per
    /// ssthresh / RecoverFS delivered, instead of at once (SACK) or after NewReno's inflation
    /// (without). On by default, as Linux (which has no switch for it).
    pub prr: bool,
    /// F-RTO after a retransmission timeout (RFC 5682: the SACK-enhanced algorithm of §3 with
    /// SACK, the basic one of §2 without), with the Eifel-style response (RFC 4015) of undoing
    /// the window reduction when the timeout proves spurious (Linux's `net.ipv4.tcp_frto`, on
    /// by default).
    pub frto: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            rcvbuf: 8192,
            sndbuf: 8192,
            timewait: Duration::ZERO,
            idle_timeout: None,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 15,
            max_syn_retries: 6,
            delayed_ack: Duration::from_millis(40),
            window_scaling: true,
            timestamps: true,
            sack: true,
            quick_acks: 16,
            nodelay: false,
            linger: None,
            congestion: CongestionAlgorithm::default(),
            checksum_offload: false,
            keepalive: None,
            challenge_ack_limit: 10,
            rack: true,
            syn_cookies: SynCookieMode::WhenFull,
            user_timeout: None,
            hystart: true,
            pacing: false,
            prr: true,
            frto: true,
        }
    }
}
