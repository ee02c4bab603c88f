//! The transmission control block and its state machine.
//!
//! CONTRACT: the public signatures below are used by the runtime; the bodies are the TCP
//! helper's to write.
//!
//! The TCB is split by direction of travel: [`input`] processes segments and timers
//! (RFC 9293 §3.10.7, §3.10.8), [`output`] decides what to send and writes it (RFC 9293 §3.8).
//! This file holds the state and the application calls (RFC 9293 §3.10.1–§3.10.6).
use core::net::SocketAddrV4;

use super::assembler::Assembler;
use super::congestion::{Congestion, CongestionControl};
use super::hystart::HyStart;
use super::options::{window_shift_for, MAX_WINDOW_SHIFT, TIMESTAMP_OPTION_LEN};
use super::recv_buf::RecvBuffer;
use super::rtt::RttEstimator;
use super::scoreboard::Scoreboard;
use super::send_buf::SendBuffer;
use super::storage::Storage;
use super::timers::{Timer, TimerTable};
use super::{KeepAlive, State, TcpConfig};
use crate::errno::Errno;
use crate::time::{Duration, Instant};
use crate::wire::{AddressSum, SeqNumber, TcpFlags, TcpRepr};
use send_now::SendNow;

mod cwnd_validation;
mod delivery;
mod frto;
mod growth;
mod header_prediction;
mod icmp;
mod input;
mod keepalive;
mod output;
mod pacing;
mod paws;
mod prr;
mod recovery;
mod reuse;
mod sack_blocks;
mod send_now;
#[cfg(test)]
mod tests;
mod undo;
mod user_timeout;

pub use icmp::IcmpError;

/// The MSS assumed when the peer sends no MSS option (RFC 9293 §3.7.1).
const DEFAULT_PEER_MSS: u16 = 536;
/// Smallest send MSS accepted from a peer, so a tiny MSS option cannot make us emit a flood of
/// one-byte segments (Linux's TCP_MIN_MSS is 88).
const MIN_PEER_MSS: u16 = 88;

/// What an application may do with a connection right now (epoll's view of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `recv` would not block: data is buffered, the peer has closed (EOF), or there is an error.
    pub readable: bool,
    /// `send` would not block: the connection is established (or close-wait) with free buffer
    /// space, or there is an error.
    pub writable: bool,
    /// The peer has shut down its sending side (FIN received): EPOLLRDHUP.
    pub read_hangup: bool,
    /// Both directions are finished or the connection is reset: EPOLLHUP.
    pub hangup: bool,
    /// An error is pending (`SO_ERROR` is non-zero): EPOLLERR.
    pub error: bool,
}

/// Loss-recovery counters of one connection (Linux's `tcp_info` / `netstat -s` figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStats {
    /// Segments sent again (fast, SACK, RACK, TLP and timeout retransmissions).
    pub retransmitted_segments: u64,
    /// Retransmission timeouts (RFC 6298 §5.4).
    pub timeouts: u64,
    /// Fast recovery episodes (RFC 6582 / RFC 6675).
    pub fast_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tail_loss_probes: u64,
    /// D-SACK blocks received: the peer got a segment twice (RFC 2883), i.e. a spurious
    /// retransmission or a duplicate made by the network.
    pub dsacks_received: u64,
    /// Challenge ACKs sent (RFC 5961 §3.2, §4.2, §5.2).
    pub challenge_acks: u64,
    /// Challenge ACKs not sent because of the rate limit (RFC 5961 §7).
    pub challenge_acks_suppressed: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// Retransmission timeouts that F-RTO found spurious (RFC 5682; Linux's
    /// `TCPSpuriousRTOs`).
    pub spurious_timeouts: u64,
    /// Window reductions undone: by F-RTO, or by D-SACKs showing every retransmission of the
    /// episode needless (RFC 4015 response; Linux's `TCPLossUndo` + `TCPDSACKUndo`).
    pub undos: u64,
}

/// RACK state (RFC 8985 §6.1).
#[derive(Debug, Clone, Copy, Default)]
struct Rack {
    /// Send time and end of the most recently sent segment that was delivered.
    xmit: Option<Instant>,
    end: SeqNumber,
    /// RTT of that segment.
    rtt: Duration,
    /// Minimum RTT seen (RFC 8985 uses a windowed minimum; the all-time one is close enough
    /// for a reordering window and never grows it).
    min_rtt: Option<Duration>,
    /// The peer's ACKs revealed reordering (RFC 8985 §6.2 step 3) or a D-SACK arrived.
    reordering_seen: bool,
    /// Multiplier of the reordering window, raised by D-SACKs (RFC 8985 §6.2 step 4).
    reo_wnd_mult: u32,
}

/// An outstanding tail loss probe (RFC 8985 §7.4 TLP.end_seq, TLP.is_retrans).
#[derive(Debug, Clone, Copy)]
struct TlpEpisode {
    end: SeqNumber,
    retransmission: bool,
    /// A D-SACK showed the probe was a needless copy.
    dsacked: bool,
}

/// A RST we owe the peer: our own (abort, idle timeout) or an answer to a bad segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingReset {
    seq: SeqNumber,
    /// With ACK set and this acknowledgment number.
    ack: Option<SeqNumber>,
}

/// Options agreed in the handshake (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2).
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    /// The peer's MSS option (or 536), capped by ours: the largest TCP payload plus options.
    mss_cap: u16,
    /// `mss_cap` less the timestamps option when in use: the payload of a full segment, read
    /// several times per segment (kept by `refresh_send_mss` whenever either changes).
    send_mss: u16,
    /// Both SYNs carried the window scale option (RFC 7323 §2.2).
    window_scaling: bool,
    /// Shift applied to the windows the peer advertises (0 unless both sides offered).
    snd_shift: u8,
    /// Shift applied to the windows we advertise (0 unless both sides offered).
    rcv_shift: u8,
    /// Both sides sent the timestamps option.
    timestamps: bool,
    /// Both sides sent SACK-permitted.
    sack: bool,
}

impl Negotiated {
    /// Recomputes `send_mss` after `mss_cap` or `timestamps` changed.
    fn refresh_send_mss(&mut self) {
        let ts = if self.timestamps {
            TIMESTAMP_OPTION_LEN as u16
        } else {
            0
        };
        self.send_mss = self.mss_cap - ts;
    }
}

/// One TCP connection: the TCB of RFC 9293 §3.3.1 plus send and receive buffers.
#[derive(Debug)]
#[cfg_attr(test, derive(Clone))]
pub struct Connection {
    config: TcpConfig,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    /// `local` and `remote`'s addresses summed for the checksums of the segments we send
    /// (they never change while the connection lives; `initial_fields!` sets it with them).
    address_sum: AddressSum,
    state: State,
    /// We sent the first SYN (connect), so a RST in SYN-RECEIVED means "refused".
    active_open: bool,
    /// `SO_ERROR`.
    error: Option<Errno>,
    /// A soft error (an ICMP error once synchronized, RFC 1122 §4.2.3.9): reported instead of
    /// ETIMEDOUT if the connection times out, as Linux's `sk_err_soft`.
    soft_error: Option<Errno>,

    // Send sequence space (RFC 9293 §3.3.1).
    iss: SeqNumber,
    snd_una: SeqNumber,
    /// Next sequence number to transmit; moves back to SND.UNA on a retransmission timeout.
    snd_nxt: SeqNumber,
    /// Highest sequence number ever transmitted plus one.
    snd_max: SeqNumber,
    /// The peer's window, scaled, in bytes.
    snd_wnd: usize,
    /// Largest window the peer ever offered (sender SWS avoidance, RFC 5961 §5 ACK check).
    max_snd_wnd: usize,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    send_buf: SendBuffer,
    /// Sequence number of the send buffer's first byte.
    send_buf_seq: SeqNumber,
    /// shutdown(SHUT_WR) or close: a FIN follows the queued data.
    fin_queued: bool,

    // Receive sequence space.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised (RCV.NXT + RCV.WND then); never moves left.
    rcv_adv: SeqNumber,
    recv_buf: RecvBuffer,
    assembler: Assembler,
    /// Sequence numbers of the latest out-of-order segments of distinct ranges, most recent
    /// first: their blocks go first in our SACK option (RFC 2018 §4; `sack_blocks.rs`), so a
    /// burst's news is not lost when only three blocks fit.
    recent_ooo: [Option<SeqNumber>; sack_blocks::RECENT_RANGES],
    /// Sequence number of a FIN that arrived after a hole.
    pending_fin: Option<SeqNumber>,
    /// The peer's FIN has been received in order.
    fin_received: bool,
    /// shutdown(SHUT_RD): recv returns 0, data is acknowledged and dropped.
    read_shutdown: bool,
    /// The application closed: data arriving now is answered with RST (as Linux).
    app_closed: bool,

    opts: Negotiated,
    /// RFC 7323 §4.3 TS.Recent and Last.ACK.sent.
    ts_recent: u32,
    last_ack_sent: SeqNumber,
    /// When TS.Recent was last set: after 24 days it is no longer valid (RFC 7323 §5.5).
    ts_recent_stamp: Instant,

    // Acknowledgment policy (RFC 9293 §3.8.6.3).
    /// What the next poll_transmit owes: an ACK, a probe, a fast retransmission, a tail
    /// loss probe, TIME-WAIT's last ACK, the keepalive re-arm (send_now.rs).
    send_now: SendNow,
    /// `has_output` was last found false and nothing that can change its answer has happened
    /// since: `wants_transmit` answers without recomputing it. Every `&mut` entry point clears
    /// it except `recv` (which only sets `send_now`'s ACK, and then clears it) and
    /// `take_error`; test and debug builds check each shortcut against `has_output`.
    output_quiet: bool,
    /// In-order bytes received since we last sent an ACK.
    unacked_bytes: usize,
    /// ACKs still to send at once in quickack mode (`TcpConfig::quick_acks`).
    quick_acks_left: u32,
    /// When in-order data last arrived (quickack mode restarts after an idle RTO).
    last_data_at: Option<Instant>,
    /// When in-order data last arrived or the handshake completed (Linux's `lrcvtime`).
    last_receipt: Instant,
    /// Interactive (Linux's pingpong mode): we answered what arrived with data within the
    /// delayed-ACK time, so ACKs wait to ride on our next data instead of going out at once in
    /// quickack mode. Left when a delayed ACK had to go out alone.
    pingpong: bool,
    /// Largest payload seen: our estimate of the peer's segment size.
    rcv_mss_estimate: usize,

    // Retransmission (RFC 6298).
    rtt: RttEstimator,
    /// The one segment being timed without timestamps: (its end, when it was sent).
    rtt_timing: Option<(SeqNumber, Instant)>,
    /// End of the last segment sent smaller than the MSS (Nagle, Minshall's variant).
    last_small_end: SeqNumber,
    /// Consecutive retransmission timeouts without progress.
    retries: u32,
    /// Since when data has been outstanding without SND.UNA advancing (the user timeout's
    /// clock, RFC 5482); `None` while nothing is in flight.
    stalled_since: Option<Instant>,
    /// Zero-window probing (RFC 9293 §3.8.6.1).
    persist_backoff: u32,
    unanswered_probes: u32,

    // Congestion control and loss recovery (RFC 5681, RFC 6582, RFC 6675, RFC 8985).
    cc: Congestion,
    /// HyStart++ (RFC 9406) while in the initial slow start.
    hystart: HyStart,
    /// The RTT sample of the ACK being processed, for HyStart++.
    ack_rtt: Option<Duration>,
    /// How much of cwnd the sender uses (RFC 7661): growth only when it is used.
    cwnd_usage: cwnd_validation::CwndUsage,
    /// Segments in flight with SACK, loss and retransmission marks.
    scoreboard: Scoreboard,
    rack: Rack,
    /// Recovery just began: the first hole goes out at once, whatever pipe says
    /// (RFC 6675 §5 step 4.3).
    retransmit_first_hole: bool,
    tlp: Option<TlpEpisode>,
    /// A duplicate segment arrived: report it in the next ACK's first SACK block (RFC 2883).
    dsack: Option<(SeqNumber, SeqNumber)>,
    /// RFC 5961 §7: start of the current one-second budget and challenge ACKs sent in it.
    challenge_window: Instant,
    challenge_count: u32,
    /// Keepalive probes sent since the peer was last heard from.
    keepalive_probes: u32,
    /// When the peer was last heard from (keepalive with a user timeout, as Linux).
    last_heard: Instant,
    stats: TcpStats,
    dup_acks: u32,
    in_recovery: bool,
    /// NewReno's `recover`: SND.MAX when recovery started.
    recover: SeqNumber,
    /// Proportional Rate Reduction during SACK recovery (RFC 6937).
    prr: prr::Prr,
    /// F-RTO after a retransmission timeout (RFC 5682 §3).
    frto: frto::Frto,
    /// What undoing the latest window reduction restores (RFC 4015, Linux's undo).
    undo: Option<undo::Undo>,

    timers: TimerTable,
    pending_rst: Option<PendingReset>,
}

/// The fields of a connection just opened, written once for both ways of opening one:
/// [`Connection::new`] builds a connection of them, [`Connection::reopen`] assigns them to a
/// finished connection in place (no 1.4 KB copy), so the two cannot drift apart. `$out` is
/// `built!()` or `assigned!(target)`, given the `field: value` list.
macro_rules! initial_fields {
    ($out:ident!($($target:tt)*), $config:ident, $local:ident, $remote:ident, $iss:ident, $state:ident) => {{
        let config: &TcpConfig = $config;
        let (local, remote, iss, state) = ($local, $remote, $iss, $state);
        let mss_cap = config.mss.clamp(MIN_PEER_MSS, DEFAULT_PEER_MSS);
        $out!($($target)*;
            config: config.clone(),
            local: local,
            remote: remote,
            address_sum: AddressSum::new(*local.ip(), *remote.ip()),
            state: state,
            active_open: state == State::SynSent,
            error: None,
            soft_error: None,
            iss: iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            send_buf_seq: iss + 1,
            fin_queued: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            recent_ooo: [None; sack_blocks::RECENT_RANGES],
            pending_fin: None,
            fin_received: false,
            read_shutdown: false,
            app_closed: false,
            opts: Negotiated {
                mss_cap,
                send_mss: mss_cap,
                window_scaling: false,
                snd_shift: 0,
                rcv_shift: 0,
                timestamps: false,
                sack: false,
            },
            ts_recent: 0,
            last_ack_sent: SeqNumber(0),
            ts_recent_stamp: Instant::ZERO,
            send_now: SendNow::default(),
            output_quiet: false,
            unacked_bytes: 0,
            quick_acks_left: 0,
            last_data_at: None,
            last_receipt: Instant::ZERO,
            pingpong: false,
            rcv_mss_estimate: usize::from(mss_cap),
            rtt: RttEstimator::new(config.initial_rto, config.min_rto, config.max_rto),
            rtt_timing: None,
            last_small_end: iss,
            retries: 0,
            stalled_since: None,
            persist_backoff: 0,
            unanswered_probes: 0,
            cc: Congestion::new(config.congestion, usize::from(mss_cap)),
            hystart: HyStart::new(),
            ack_rtt: None,
            cwnd_usage: cwnd_validation::CwndUsage::new(iss),
            rack: Rack::default(),
            retransmit_first_hole: false,
            tlp: None,
            dsack: None,
            challenge_window: Instant::ZERO,
            challenge_count: 0,
            keepalive_probes: 0,
            last_heard: Instant::ZERO,
            stats: TcpStats::default(),
            dup_acks: 0,
            in_recovery: false,
            recover: iss,
            prr: prr::Prr::new(iss),
            frto: frto::Frto::default(),
            undo: None,
            timers: TimerTable::default(),
            pending_rst: None;
            // The buffers: built by their constructor, or reset in place by the method
            // that keeps their allocations.
            send_buf: SendBuffer::new / reset(config.sndbuf),
            recv_buf: RecvBuffer::new / reset(config.rcvbuf),
            scoreboard: Scoreboard::new / reset(config.sndbuf / 256),
            assembler: Assembler::for_buffer / reset_for_buffer(
                config.rcvbuf,
                usize::from(config.mss)
            ),
        )
    }};
}

/// `initial_fields!` output: a new connection.
macro_rules! built {
    (;
        $($field:ident: $value:expr),* ;
        $($buf:ident: $ty:ident::$new:ident / $reset:ident($($arg:expr),*)),* $(,)?
    ) => {
        Connection {
            $($field: $value,)*
            $($buf: $ty::$new($($arg),*),)*
        }
    };
}

/// `initial_fields!` output: each field assigned to `$target` in turn, each buffer reset in
/// place (keeping its allocation).
macro_rules! assigned {
    ($target:ident;
        $($field:ident: $value:expr),* ;
        $($buf:ident: $ty:ident::$new:ident / $reset:ident($($arg:expr),*)),* $(,)?
    ) => {
        {
            $($target.$field = $value;)*
            $($target.$buf.$reset($($arg),*);)*
        }
    };
}

impl Connection {
    #[inline(always)]
    fn new(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        state: State,
    ) -> Connection {
        initial_fields!(built!(), config, local, remote, iss, state)
    }

    /// Gives up the connection's allocations, emptied, for [`Connection::adopt_storage`] of a
    /// later connection (see [`Storage`]); what it still buffered is discarded.
    pub fn into_storage(mut self) -> Storage {
        self.take_storage()
    }

    /// [`Connection::into_storage`] for a connection that is dropped in place afterwards
    /// (moving a connection out to consume it would copy it).
    pub fn take_storage(&mut self) -> Storage {
        self.output_quiet = false;
        Storage {
            send: self.send_buf.take_storage(),
            recv: self.recv_buf.take_storage(),
            segments: self.scoreboard.take_storage(),
            ranges: self.assembler.take_storage(),
        }
    }

    /// Bytes the connection's allocations hold: what [`Connection::take_storage`] would give
    /// back ([`Storage::bytes`]), without taking it.
    pub fn storage_bytes(&self) -> usize {
        self.send_buf.storage_bytes()
            + self.recv_buf.storage_bytes()
            + self.scoreboard.storage_bytes()
            + self.assembler.storage_bytes()
    }

    /// Takes over a finished connection's allocations instead of making its own: call it
    /// right after the constructor. Parts this connection already allocated are kept, and a
    /// part too small for this connection's buffer sizes grows on first use.
    pub fn adopt_storage(&mut self, storage: Storage) {
        self.output_quiet = false;
        self.send_buf.adopt_storage(storage.send);
        self.recv_buf.adopt_storage(storage.recv);
        self.scoreboard.adopt_storage(storage.segments);
        self.assembler.adopt_storage(storage.ranges);
    }

    /// [`Connection::connect`] in the place of a finished connection, which it replaces
    /// (keeping its allocations, as [`Connection::adopt_storage`] would).
    #[inline(always)]
    pub fn reopen_connect(
        &mut self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        now: Instant,
    ) {
        let _ = now;
        self.reopen(config, local, remote, iss, State::SynSent);
    }

    /// [`Connection::passive`] in the place of a finished connection, which it replaces
    /// (keeping its allocations). [`Connection::take_syn`] must come next.
    #[inline(always)]
    pub fn reopen_passive(
        &mut self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
    ) {
        self.reopen(config, local, remote, iss, State::SynReceived);
    }

    /// Rewrites this (finished) connection as `new` would build it, keeping its allocations.
    #[inline(always)]
    fn reopen(
        &mut self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        state: State,
    ) {
        // The buffers' allocations stay (emptied); everything else is as `new` makes it.
        let this = &mut *self;
        initial_fields!(assigned!(this), config, local, remote, iss, state);
        #[cfg(debug_assertions)]
        self.assert_as_new(config, local, remote, iss, state);
    }

    /// Debug builds: a reopened connection reads exactly as a new one (its buffers empty,
    /// whatever their allocations).
    #[cfg(debug_assertions)]
    fn assert_as_new(
        &self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        state: State,
    ) {
        let fresh = Connection::new(config, local, remote, iss, state);
        assert_eq!(
            format!("{self:?}"),
            format!("{fresh:?}"),
            "a reopened connection differs from a new one"
        );
    }

    /// Active open (RFC 9293 §3.10.1): a connection in SYN-SENT whose SYN is ready to transmit.
    /// `iss` is the initial send sequence number, chosen by the runtime.
    #[inline(always)]
    pub fn connect(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        now: Instant,
    ) -> Connection {
        let _ = now;
        Connection::new(config, local, remote, iss, State::SynSent)
    }

    /// Passive open: `syn` arrived at a listener on `local` from `remote`. The connection starts
    /// in SYN-RECEIVED with its SYN-ACK ready to transmit.
    pub fn accept(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &TcpRepr<'_>,
        iss: SeqNumber,
        now: Instant,
    ) -> Connection {
        let mut conn = Connection::passive(config, local, remote, iss);
        conn.take_syn(syn, now);
        conn
    }

    /// [`Connection::accept`] in two steps, so that a runtime can build the connection
    /// (1.5 KB) where it keeps it instead of copying it there: a connection in SYN-RECEIVED
    /// that has not seen the SYN yet. [`Connection::take_syn`] must come next.
    #[inline(always)]
    pub fn passive(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
    ) -> Connection {
        Connection::new(config, local, remote, iss, State::SynReceived)
    }

    /// The second step of [`Connection::accept`] after [`Connection::passive`]: takes the
    /// peer's SYN (RFC 9293 §3.10.7.2, LISTEN, "third, check for a SYN").
    pub fn take_syn(&mut self, syn: &TcpRepr<'_>, now: Instant) {
        self.output_quiet = false;
        debug_assert!(self.state == State::SynReceived && self.snd_max == self.iss);
        self.take_peer_syn(syn);
        self.ts_recent_stamp = now;
        self.snd_wnd = usize::from(syn.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq_number;
        self.snd_wl2 = self.iss;
        self.arm_idle(now);
    }

    /// Passive open completed by a SYN cookie (RFC 4987 §3.6): `ack` is the peer's ACK of a
    /// SYN-ACK built by [`super::SynCookies::syn_ack`], and `options` what
    /// [`super::SynCookies::check`] decoded from it. The connection starts in ESTABLISHED
    /// (ISS = SEG.ACK − 1, IRS = SEG.SEQ − 1) and has already processed `ack` (its data and
    /// FIN, if any).
    pub fn accept_cookie(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        ack: &TcpRepr<'_>,
        options: &super::CookieOptions,
        now: Instant,
    ) -> Connection {
        let iss = ack.ack_number - 1;
        let mut conn = Connection::new(config, local, remote, iss, State::Established);
        conn.irs = ack.seq_number - 1;
        conn.rcv_nxt = ack.seq_number;
        conn.last_ack_sent = conn.rcv_nxt;
        conn.snd_una = iss + 1;
        conn.snd_nxt = iss + 1;
        conn.snd_max = iss + 1;
        conn.last_small_end = iss + 1;
        conn.recover = iss + 1;
        conn.opts.mss_cap = options.mss.max(MIN_PEER_MSS);
        if let Some(shift) = options.window_scale {
            conn.opts.window_scaling = true;
            conn.opts.snd_shift = shift.min(MAX_WINDOW_SHIFT);
            conn.opts.rcv_shift = window_shift_for(config.rcvbuf);
        }
        conn.opts.sack = options.sack;
        conn.opts.timestamps = options.timestamps;
        conn.opts.refresh_send_mss();
        if let (true, Some(ts)) = (options.timestamps, ack.timestamp) {
            conn.ts_recent = ts.tsval;
            conn.ts_recent_stamp = now;
        }
        conn.cc = Congestion::new(config.congestion, usize::from(conn.send_mss()));
        conn.rcv_mss_estimate = usize::from(conn.send_mss());
        // The cookie SYN-ACK offered the whole (empty) buffer, unscaled.
        conn.rcv_adv = conn.rcv_nxt + conn.recv_buf.free().min(usize::from(u16::MAX));
        conn.snd_wnd = usize::from(ack.window_len) << conn.opts.snd_shift;
        conn.max_snd_wnd = conn.snd_wnd;
        conn.snd_wl1 = ack.seq_number;
        conn.snd_wl2 = ack.ack_number;
        conn.arm_idle(now);
        conn.arm_keepalive(now);
        conn.handle_segment(now, ack);
        conn
    }

    /// Records the peer's SYN: IRS, RCV.NXT and the options both sides offered.
    fn take_peer_syn(&mut self, syn: &TcpRepr<'_>) {
        self.irs = syn.seq_number;
        self.rcv_nxt = syn.seq_number + 1;
        self.last_ack_sent = self.rcv_nxt;
        let peer_mss = syn.max_seg_size.unwrap_or(DEFAULT_PEER_MSS);
        self.opts.mss_cap = peer_mss.min(self.config.mss).max(MIN_PEER_MSS);
        // RFC 7323 §2.2: scaling is on only when both SYNs carry the option.
        if let (true, Some(peer_shift)) = (self.config.window_scaling, syn.window_scale) {
            self.opts.window_scaling = true;
            self.opts.snd_shift = peer_shift.min(MAX_WINDOW_SHIFT);
            self.opts.rcv_shift = window_shift_for(self.config.rcvbuf);
        } else {
            self.opts.window_scaling = false;
            self.opts.snd_shift = 0;
            self.opts.rcv_shift = 0;
        }
        // RFC 7323 §3.2: timestamps only when both SYNs carry them.
        match (self.config.timestamps, syn.timestamp) {
            (true, Some(ts)) => {
                self.opts.timestamps = true;
                self.ts_recent = ts.tsval;
            }
            _ => self.opts.timestamps = false,
        }
        self.opts.refresh_send_mss();
        self.opts.sack = self.config.sack && syn.sack_permitted;
        self.cc = Congestion::new(self.config.congestion, usize::from(self.send_mss()));
        self.rcv_mss_estimate = usize::from(self.send_mss());
        // The window our SYN offered is unscaled (RFC 7323 §2.2).
        self.rcv_adv = self.rcv_nxt + self.recv_buf.free().min(usize::from(u16::MAX));
    }

    /// Processes a segment of this connection (RFC 9293 §3.10.7).
    pub fn handle_segment(&mut self, now: Instant, segment: &TcpRepr<'_>) {
        self.output_quiet = false;
        #[cfg(test)]
        let full_path_twin = self.full_path_twin(now, segment);
        // The predicted ordinary segment first (header_prediction.rs), else RFC 9293 §3.10.7.
        let predicted = self.try_header_prediction(now, segment);
        if !predicted {
            self.process_segment(now, segment);
        }
        self.update_persist(now);
        #[cfg(test)]
        self.assert_same_as(full_path_twin);
        if predicted {
            // Usually the segment only acknowledged our data or delayed its own ACK: the
            // runtime's `wants_transmit` after it then answers from the flag. The prediction
            // ruled out a queued FIN, lost data and a handshake state (and an ACK of
            // everything outstanding marks nothing lost), so of `nothing_to_send` only these
            // conditions are left to check.
            self.output_quiet = self.send_now.is_empty()
                && self.pending_rst.is_none()
                && self.data_end() <= self.snd_nxt;
            debug_assert_eq!(self.output_quiet, self.nothing_to_send());
        } else {
            // The handshake's last ACK, a SYN-ACK, our FIN's ACK: `has_output`'s quick "no"
            // here, instead of in a call from the runtime's `wants_transmit` after it.
            self.output_quiet = self.nothing_to_send();
        }
    }

    /// Fires every timer whose deadline is at or before `now` (retransmission, delayed ACK,
    /// TIME-WAIT, idle timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.output_quiet = false;
        for timer in Timer::ALL {
            if self.timers.expire(timer, now) {
                self.on_timer(now, timer);
            }
        }
    }

    /// The earliest instant at which [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// [`Connection::poll_timeout`] for a caller that keeps a wake-up `kept`, no later than
    /// the earliest deadline when it last asked (what this returned, or `None`): the earliest
    /// deadline if it is earlier than `kept` (any deadline without one), else `None`. Only a
    /// timer armed since can be earlier, so most answers need no scan of the timers. The
    /// runtime asks after every segment and API call, and most reads arm nothing.
    #[inline]
    pub fn poll_timeout_before(&mut self, kept: Option<Instant>) -> Option<Instant> {
        self.timers.next_before(kept)
    }

    /// Writes the next segment to send, TCP header and payload with a valid checksum, into
    /// `buf` and returns its length, or `None` when there is nothing to send now. `buf` is at
    /// least MSS + 60 bytes. Call repeatedly until `None`, or until
    /// [`Connection::wants_transmit`] turns false: a call that finds nothing changes nothing.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.output_quiet = false;
        let written = self.transmit(now, buf);
        // After every segment, not only at the end of a pass, so that a pass may end without
        // a last call that finds nothing. Sending only ever turns `persist_needed` off (it
        // raises SND.MAX and SND.NXT), so the result is the same as arming it once at the end.
        self.update_persist(now);
        written
    }

    /// Whether [`Connection::poll_transmit`] may have something to send (cheap check for the
    /// runtime's transmit list). Never false while `poll_transmit` would send: a false answer
    /// may end a transmit pass.
    ///
    /// Takes `&mut self` to remember a false answer until something can change it (the
    /// runtime asks after every API call, and most reads change nothing).
    #[inline]
    pub fn wants_transmit(&mut self) -> bool {
        if self.output_quiet {
            debug_assert!(!self.has_output(), "output_quiet hid output");
            return false;
        }
        let wants = self.has_output();
        self.output_quiet = !wants;
        wants
    }

    /// Queues application data; returns how many bytes were taken (short when the send buffer is
    /// nearly full). Errors as Linux: EAGAIN when the buffer is full; EPIPE after shutdown(WR) or
    /// close, or once reset; ENOTCONN before the handshake started or in LISTEN;
    /// EAGAIN while the handshake is still in progress (SYN-SENT/SYN-RECEIVED);
    /// a pending error (ECONNRESET, ETIMEDOUT, ECONNREFUSED) is reported and cleared first.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Errno> {
        self.output_quiet = false;
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        if self.fin_queued {
            return Err(Errno::EPIPE);
        }
        match self.state {
            State::Listen => Err(Errno::ENOTCONN),
            State::SynSent | State::SynReceived => Err(Errno::EAGAIN),
            State::Established | State::CloseWait => {
                if data.is_empty() {
                    return Ok(0);
                }
                self.check_app_limited();
                match self.send_buf.enqueue(data) {
                    0 => Err(Errno::EAGAIN),
                    n => Ok(n),
                }
            }
            _ => Err(Errno::EPIPE),
        }
    }

    /// Copies received in-order data into `buf` (consuming it unless `peek`). `Ok(0)` means end
    /// of stream (FIN received, or SHUT_RD). EAGAIN when nothing is buffered yet; a pending error
    /// is reported and cleared first; ENOTCONN when not connected.
    pub fn recv(&mut self, buf: &mut [u8], peek: bool) -> Result<usize, Errno> {
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        match self.state {
            State::Listen => return Err(Errno::ENOTCONN),
            State::SynSent | State::SynReceived => return Err(Errno::EAGAIN),
            _ => {}
        }
        if self.read_shutdown {
            return Ok(0);
        }
        let n = self.recv_buf.read(buf, peek);
        if n > 0 {
            if !peek {
                if self.assembler.is_empty() {
                    self.recv_buf.rewind_if_empty();
                }
                self.on_app_read();
            }
            return Ok(n);
        }
        if buf.is_empty() || self.fin_received || self.state == State::Closed {
            return Ok(0);
        }
        Err(Errno::EAGAIN)
    }

    /// Bytes that `recv` could return now (FIONREAD).
    pub fn recv_queue(&self) -> usize {
        if self.read_shutdown {
            0
        } else {
            self.recv_buf.readable()
        }
    }

    /// Bytes queued for sending and not yet acknowledged (SIOCOUTQ).
    pub fn send_queue(&self) -> usize {
        self.send_buf.len()
    }

    /// `shutdown(SHUT_WR)`: a FIN follows the queued data. Idempotent.
    ///
    /// In SYN-SENT/SYN-RECEIVED the FIN is queued and sent once the handshake completes.
    pub fn shutdown_write(&mut self, now: Instant) {
        self.output_quiet = false;
        let _ = now;
        if self.fin_queued {
            return;
        }
        match self.state {
            State::Closed | State::Listen => return,
            State::Established => self.state = State::FinWait1,
            State::CloseWait => self.state = State::LastAck,
            _ => {}
        }
        self.fin_queued = true;
    }

    /// `shutdown(SHUT_RD)`: further `recv` returns 0; data that arrives is acknowledged and dropped.
    pub fn shutdown_read(&mut self) {
        self.output_quiet = false;
        self.read_shutdown = true;
        let unread = self.recv_buf.readable();
        self.recv_buf.discard(unread);
    }

    /// `close`: as `shutdown_write`, and the application gives up the connection; unread data in
    /// the receive buffer makes it an abort (RST), as in Linux (RFC 2525 §2.17). With linger 0
    /// it aborts. A connection in SYN-SENT goes straight to CLOSED.
    pub fn close(&mut self, now: Instant) {
        self.output_quiet = false;
        match self.state {
            State::Closed | State::Listen | State::TimeWait => {}
            State::SynSent => self.enter_closed(None),
            _ => {
                let unread = !self.read_shutdown && self.recv_buf.readable() > 0;
                if self.config.linger == Some(Duration::ZERO) || unread {
                    self.abort(now);
                } else {
                    self.shutdown_write(now);
                }
            }
        }
        self.app_closed = true;
        self.shutdown_read();
    }

    /// `abort`: send RST (unless in SYN-SENT/CLOSED/TIME-WAIT) and go to CLOSED.
    pub fn abort(&mut self, now: Instant) {
        self.output_quiet = false;
        let _ = now;
        match self.state {
            State::SynSent | State::Closed | State::TimeWait | State::Listen => {}
            _ => self.queue_own_reset(),
        }
        self.enter_closed(None);
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The application's view for epoll.
    ///
    /// `writable` follows Linux's `sk_stream_is_writeable`: in ESTABLISHED/CLOSE-WAIT the free
    /// send space must be at least half of what is queued (so the buffer is ~2/3 full before
    /// EPOLLOUT drops); once the write side is shut down or the connection is closed, `send`
    /// fails at once with EPIPE and the connection counts as writable, as Linux reports it.
    #[inline]
    pub fn readiness(&self) -> Readiness {
        // The usual case, asked after every event of a busy connection: established, no error,
        // neither side finished. Then only the buffers matter (the general rules below give
        // the same answer).
        if self.state == State::Established
            && self.error.is_none()
            && !(self.fin_received | self.read_shutdown | self.fin_queued)
        {
            let free = self.send_buf.free();
            return Readiness {
                readable: self.recv_buf.readable() > 0,
                writable: free > 0 && free >= self.send_buf.len() / 2,
                ..Readiness::default()
            };
        }
        let error = self.error.is_some();
        let closed = self.state == State::Closed;
        let eof = self.fin_received || self.read_shutdown || closed;
        let write_done = self.fin_queued || closed;
        let stream_writable = matches!(self.state, State::Established | State::CloseWait)
            && self.send_buf.free() > 0
            && self.send_buf.free() >= self.send_buf.len() / 2;
        let synchronized = !matches!(self.state, State::SynSent | State::SynReceived);
        Readiness {
            readable: error || eof || self.recv_queue() > 0,
            writable: error || stream_writable || (write_done && synchronized),
            read_hangup: eof,
            hangup: closed || (eof && write_done),
            error,
        }
    }

    /// `SO_ERROR`: the pending error, cleared by reading it (ECONNREFUSED for a RST in answer to
    /// our SYN, ECONNRESET, ETIMEDOUT, EPIPE).
    pub fn take_error(&mut self) -> Option<Errno> {
        self.error.take()
    }

    /// The pending error without clearing it.
    pub fn peek_error(&self) -> Option<Errno> {
        self.error
    }

    /// True once the connection has reached CLOSED and has nothing left to transmit: the runtime
    /// may remove it from the flow table.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
            && self.pending_rst.is_none()
            && !self.send_now.has(SendNow::FINAL_ACK)
    }

    /// Local address.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }

    /// Remote address.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// The local and remote addresses summed once ([`AddressSum`]): the part of the TCP and
    /// IPv4 header checksums that never changes for this connection. Debug and test builds
    /// check it against the addresses.
    #[inline]
    pub fn address_sum(&self) -> AddressSum {
        debug_assert_eq!(
            self.address_sum,
            AddressSum::new(*self.local.ip(), *self.remote.ip()),
            "kept address sum is stale"
        );
        self.address_sum
    }

    /// The effective send MSS (TCP_MAXSEG): the largest payload of a segment we send, i.e. the
    /// peer's MSS option (536 without one, RFC 9293 §3.7.1) capped by ours, less the timestamps
    /// option when it is in use (RFC 7323 §3.2, RFC 6691).
    pub fn mss(&self) -> u16 {
        self.send_mss()
    }

    fn send_mss(&self) -> u16 {
        self.opts.send_mss
    }

    /// The configuration (for getsockopt).
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// Changes `TCP_NODELAY`.
    pub fn set_nodelay(&mut self, on: bool) {
        self.output_quiet = false;
        self.config.nodelay = on;
    }

    /// Changes the user timeout (`TCP_USER_TIMEOUT`, RFC 5482); takes effect at the next
    /// retransmission timer.
    pub fn set_user_timeout(&mut self, timeout: Option<Duration>) {
        self.output_quiet = false;
        self.config.user_timeout = timeout;
    }

    /// Changes the congestion controller (`TCP_CONGESTION`); cwnd and ssthresh carry over.
    pub fn set_congestion(&mut self, algorithm: super::CongestionAlgorithm) {
        self.output_quiet = false;
        self.config.congestion = algorithm;
        let mss = usize::from(self.send_mss());
        self.cc.switch_to(algorithm, mss);
    }

    /// The congestion controller in use (`TCP_CONGESTION`).
    pub fn congestion(&self) -> super::CongestionAlgorithm {
        self.cc.algorithm()
    }

    /// Changes linger (SO_LINGER).
    pub fn set_linger(&mut self, linger: Option<crate::time::Duration>) {
        self.output_quiet = false;
        self.config.linger = linger;
    }

    /// Turns keepalive on (`SO_KEEPALIVE` with `TCP_KEEPIDLE/INTVL/CNT`) or off. The timer is
    /// (re)armed at the next `poll_transmit` ([`Connection::wants_transmit`] says so).
    pub fn set_keepalive(&mut self, keepalive: Option<KeepAlive>) {
        self.output_quiet = false;
        if self.config.keepalive == keepalive {
            return;
        }
        self.config.keepalive = keepalive;
        self.send_now.set(SendNow::KEEPALIVE_REARM);
        if keepalive.is_none() {
            self.timers.stop(Timer::KeepAlive);
        }
    }

    /// Loss-recovery counters.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// The current retransmission timeout (RFC 6298), with backoff applied.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// The smoothed round-trip time, once measured (RFC 6298 SRTT).
    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    /// The congestion window in bytes (RFC 5681 cwnd).
    pub fn cwnd(&self) -> usize {
        self.cc.window()
    }

    /// The peer's current send window in bytes, after scaling (RFC 9293 SND.WND).
    pub fn send_window(&self) -> usize {
        self.snd_wnd
    }

    /// Whether window scaling is in use on this connection (RFC 7323 §2.2), with the shifts
    /// applied to the peer's windows and to ours.
    pub fn window_scale(&self) -> Option<(u8, u8)> {
        self.opts
            .window_scaling
            .then_some((self.opts.snd_shift, self.opts.rcv_shift))
    }

    /// Whether the timestamps option is in use (RFC 7323 §3.2).
    pub fn timestamps_enabled(&self) -> bool {
        self.opts.timestamps
    }

    /// Whether SACK was negotiated (RFC 2018 §2).
    pub fn sack_enabled(&self) -> bool {
        self.opts.sack
    }

    // ----- shared helpers -----

    /// One past the last byte the application queued.
    fn data_end(&self) -> SeqNumber {
        self.send_buf_seq + self.send_buf.len()
    }

    /// Whether our FIN has been sent and acknowledged.
    fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una == self.data_end() + 1
    }

    /// Bytes of sequence space in flight.
    fn flight_size(&self) -> usize {
        (self.snd_max - self.snd_una).max(0) as usize
    }

    /// RCV.WND: what is left of the window we advertised.
    fn rcv_wnd(&self) -> usize {
        (self.rcv_adv - self.rcv_nxt).max(0) as usize
    }

    /// Goes to CLOSED (RFC 9293 "delete the TCB"), recording `error` for the application.
    fn enter_closed(&mut self, error: Option<Errno>) {
        self.state = State::Closed;
        if error.is_some() {
            self.error = error;
        }
        self.timers.stop_all();
        self.send_now
            .clear(SendNow::ACK | SendNow::PROBE | SendNow::RETRANSMIT_FRONT | SendNow::TLP);
        self.scoreboard.clear();
    }

    /// Queues the RST of an abort: SEQ = SND.NXT, ACK = RCV.NXT (RFC 9293 §3.10.5 ABORT).
    fn queue_own_reset(&mut self) {
        self.pending_rst = Some(PendingReset {
            seq: self.snd_max,
            ack: Some(self.rcv_nxt),
        });
    }

    /// The peer was heard from (an acceptable segment): restarts mTCP's idle timeout and
    /// keepalive's user-timeout clock.
    fn arm_idle(&mut self, now: Instant) {
        self.last_heard = now;
        if let Some(idle) = self.config.idle_timeout {
            self.timers.set(Timer::Idle, now + idle);
        }
    }

    /// The application consumed data: send a window update when the window opened by at least
    /// two segments or half the buffer (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3).
    fn on_app_read(&mut self) {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let threshold = (2 * usize::from(self.send_mss())).min(self.recv_buf.capacity() / 2);
        if self.recv_buf.free() >= self.rcv_wnd() + threshold.max(1) {
            self.send_now.set(SendNow::ACK);
            self.output_quiet = false;
        }
    }
}

/// The RST to send in answer to `segment`, which matched no connection (RFC 9293 §3.10.7.1):
/// `None` when `segment` is itself a RST. Addresses are swapped by the caller; the ports are
/// swapped here.
///
/// If the segment has ACK, the reset is `<SEQ=SEG.ACK><CTL=RST>`; otherwise
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
pub fn reset_for(segment: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
    if segment.flags.rst() {
        return None;
    }
    let mut reply = TcpRepr::new(segment.dst_port, segment.src_port);
    if segment.flags.ack() {
        reply.seq_number = segment.ack_number;
        reply.flags = TcpFlags::RST;
    } else {
        reply.seq_number = SeqNumber(0);
        reply.ack_number = segment.seq_number + segment.segment_len();
        reply.flags = TcpFlags::RST | TcpFlags::ACK;
    }
    Some(reply)
}
