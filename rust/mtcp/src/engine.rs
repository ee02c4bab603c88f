//! The per-context engine: one core's sockets, flows, timers and packet path.
//!
//! `Engine::poll` is mTCP's main-loop iteration: receive a burst, fire due timers, transmit
//! what connections and control traffic produced, then update epoll readiness. API calls
//! (`api.rs`) change the same state and leave transmission to the next poll.
use std::net::{Ipv4Addr, SocketAddrV4};

use mtcp_io::{PacketIo, Port, BURST, MAX_FRAME};
use mtcp_proto::tcp::{
    reset_for, CongestionAlgorithm, Connection, State, SynCookieMode, SynCookies, TcpConfig,
    COOKIE_LIFETIME_MS,
};
use mtcp_proto::wire::{ChecksumCaps, TcpRepr};
use mtcp_proto::{Duration, Instant};

use crate::arp_cache::ArpCache;
use crate::consts::*;
use crate::context::{ContextStats, SockId};
use crate::flow_table::{FlowHash, FlowId, FlowKey, FlowMap, Slab};
use crate::frame::{self, DropReason, Parsed, ETH_IP_HEADERS};
use crate::pipe::Pipe;
use crate::pool::Pool;
use crate::rx_stage::{Lookahead, StagedRx};
use crate::socket::{Kind, SockOpts, Socket, READINESS_STALE};
use crate::timer_wheel::TimerWheel;

/// Who holds a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// An application descriptor.
    Socket(SockId),
    /// Passive open not yet accepted: the listener's descriptor.
    Pending(SockId),
    /// The application closed it; the connection finishes on its own.
    Orphan,
}

pub(crate) struct Flow {
    pub(crate) conn: Connection,
    pub(crate) key: FlowKey,
    pub(crate) owner: Owner,
    /// In the flow map (false once the connection has closed and its 4-tuple is released).
    pub(crate) mapped: bool,
    pub(crate) in_accept_queue: bool,
    pub(crate) in_txq: bool,
    /// The deadline of this flow's live timer-wheel entry.
    pub(crate) timer_at: Option<Instant>,
    /// The next hop towards the peer, once looked up (the routes of a context never change).
    hop: Option<Ipv4Addr>,
    /// Bytes of buffers a freed flow's connection keeps for the next one in its slot,
    /// counted in `Core::kept_storage_bytes` (0 once reused, or when over the budget).
    kept_bytes: usize,
}

impl Flow {
    /// A flow just opened, in the flow map, with nothing queued yet.
    #[inline]
    pub(crate) fn new(conn: Connection, key: FlowKey, owner: Owner) -> Flow {
        Flow {
            conn,
            key,
            owner,
            mapped: true,
            in_accept_queue: false,
            in_txq: false,
            timer_at: None,
            hop: None,
            kept_bytes: 0,
        }
    }

    /// [`Flow::new`] in place, for a connection just rewritten in this freed slot.
    #[inline]
    fn reopen(&mut self, key: FlowKey, owner: Owner) {
        // The next hop stays when the peer's address does (a context's routes never change).
        if key.remote().ip() != self.key.remote().ip() {
            self.hop = None;
        }
        self.key = key;
        self.owner = owner;
        self.mapped = true;
        self.in_accept_queue = false;
        self.in_txq = false;
        self.timer_at = None;
        self.kept_bytes = 0;
    }
}

/// What happened to a flow, for `settle_flow`: it decides how the owner's readiness is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowEvent {
    /// A segment, an ICMP error or a timer: a new edge for edge-triggered waiters.
    Net,
    /// The engine's own doing: a close, teardown.
    Local,
    /// A transmit pass. Sending changes nothing an application sees (the state, a pending
    /// error and what the buffers hold change only with calls, segments and timers), so the
    /// owner of a flow still open is not touched; debug builds check that its kept
    /// readiness still holds.
    Transmitted,
    /// An API call on the descriptor that owns the flow. `ContextInner::call_on` touches that
    /// descriptor once the call is done (every call on a descriptor does, whatever it
    /// changed), so the settle leaves it alone.
    Call,
}

/// The addresses and routes of this host, shared by all its contexts.
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    pub(crate) ip: Ipv4Addr,
    pub(crate) prefix_len: u8,
    pub(crate) mac: [u8; 6],
    /// (network, prefix, gateway) for routes beyond the connected one.
    pub(crate) routes: Vec<(Ipv4Addr, u8, Option<Ipv4Addr>)>,
    pub(crate) gateway: Option<Ipv4Addr>,
}

fn in_prefix(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

impl NetConfig {
    /// The next hop for `dst`: itself when on-link, else the gateway of the longest matching
    /// route; `None` when unreachable.
    pub(crate) fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if in_prefix(dst, self.ip, self.prefix_len) {
            return Some(dst);
        }
        let best = self
            .routes
            .iter()
            .filter(|(net, prefix, _)| in_prefix(dst, *net, *prefix))
            .max_by_key(|(_, prefix, _)| *prefix);
        match best {
            Some((_, _, Some(gw))) => Some(*gw),
            Some((_, _, None)) => Some(dst),
            None => self.gateway,
        }
    }
}

/// Which client ports hash back to this context (mtcp_init_rss).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RssFilter {
    pub(crate) queue: usize,
    pub(crate) num_queues: usize,
}

pub(crate) struct Engine {
    /// The port queue, matched on so the in-memory link's frame callbacks inline.
    pub(crate) io: Port,
    pub(crate) core: Core,
    /// The flows of the receive burst being handled (`rx_stage`).
    ahead: Lookahead,
}

pub(crate) struct Core {
    pub(crate) cpu: usize,
    pub(crate) net: NetConfig,
    pub(crate) tcp: TcpConfig,
    pub(crate) default_opts: SockOpts,
    pub(crate) caps: ChecksumCaps,
    /// Bytes of the port's transmit buffers (`Caps::max_frame`): what each frame is built in.
    tx_frame: usize,
    pub(crate) sockets: Pool<Socket>,
    pub(crate) flows: Slab<Flow>,
    pub(crate) flow_map: FlowMap,
    /// Listener descriptor by local port (-1: none).
    pub(crate) listeners: Box<[SockId]>,
    /// Sockets holding each local port through bind.
    pub(crate) bound_ports: Box<[u16]>,
    pub(crate) pipes: Pool<Pipe>,
    timers: TimerWheel<(FlowId, Instant)>,
    fired: Vec<(FlowId, Instant)>,
    txq: Vec<FlowId>,
    touched: Vec<SockId>,
    pub(crate) arp: ArpCache,
    /// Control frames (ARP, ICMP, RST) waiting for transmission.
    ctrl: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    /// Freed flow slots whose connections keep their buffers for the next connection built
    /// in the slot (see `mtcp_proto::tcp::Storage`), and the bytes they hold.
    kept_storage: usize,
    kept_storage_bytes: usize,
    ip_ident: u16,
    iss_secret: u64,
    /// SYN cookie keys (RFC 4987 §3.6) and when the last cookie went out.
    syn_cookies: SynCookies,
    cookie_sent_at: Option<Instant>,
    pub(crate) next_port: u16,
    pub(crate) rss: Option<RssFilter>,
    pub(crate) epoll_serial: u64,
    pub(crate) stats: ContextStats,
    /// Events became ready since the last `take_wakeup` (wake epoll waiters).
    wakeup: bool,
    pub(crate) destroyed: bool,
    pub(crate) now: Instant,
}

/// Closed connections' allocations a context keeps for new ones (in their freed flow slots):
/// enough for a burst of short connections, while a context that once held 100 k connections
/// returns most of their memory when they close.
const STORAGE_KEPT_MAX: usize = 256;
/// And at most this many bytes of them (256 connections with 4 MiB buffers would keep 2 GiB).
const STORAGE_KEPT_BYTES: usize = 64 << 20;

#[cfg(test)]
mod slot_reuse_tests;

/// Linux's ephemeral port range (ip_local_port_range).
pub(crate) const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

impl Core {
    pub(crate) fn new(
        cpu: usize,
        net: NetConfig,
        tcp: TcpConfig,
        max_concurrency: usize,
        seed: u64,
        now: Instant,
    ) -> Core {
        let default_opts = SockOpts {
            rcvbuf: tcp.rcvbuf,
            sndbuf: tcp.sndbuf,
            nodelay: tcp.nodelay,
            linger: None,
            keepalive: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            user_timeout_ms: tcp
                .user_timeout
                .map_or(0, |t| t.total_millis().min(i32::MAX as u64) as i32),
            congestion: tcp.congestion,
            reuseaddr: false,
            reuseport: false,
        };
        let mut rng = seed ^ 0x9e37_79b9_7f4a_7c15 ^ (cpu as u64).wrapping_mul(0x1000_0000_01b3);
        let iss_secret = xorshift(&mut rng);
        let syn_cookies = SynCookies::new(xorshift(&mut rng));
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        let next_port = EPHEMERAL.start() + (xorshift(&mut rng) % span) as u16;
        let mut flow_map = FlowMap::with_hasher(FlowHash::new(xorshift(&mut rng)));
        flow_map.reserve(max_concurrency * 2);
        Core {
            cpu,
            net,
            tcp,
            default_opts,
            caps: ChecksumCaps::default(),
            tx_frame: MAX_FRAME,
            sockets: Pool::new(max_concurrency),
            // Closed sockets leave connections finishing (FIN-WAIT, TIME-WAIT) behind, so the
            // flow slab is larger than the socket pool.
            flows: Slab::new(max_concurrency * 2),
            flow_map,
            listeners: vec![-1; 65536].into_boxed_slice(),
            bound_ports: vec![0; 65536].into_boxed_slice(),
            pipes: Pool::new(max_concurrency / 2 + 1),
            timers: TimerWheel::new(now),
            fired: Vec::with_capacity(BURST),
            txq: Vec::with_capacity(max_concurrency.min(4096)),
            touched: Vec::with_capacity(max_concurrency.min(4096)),
            arp: ArpCache::new(),
            ctrl: Vec::new(),
            spare: Vec::new(),
            kept_storage: 0,
            kept_storage_bytes: 0,
            ip_ident: 0,
            iss_secret,
            syn_cookies,
            cookie_sent_at: None,
            next_port,
            rss: None,
            epoll_serial: 0,
            stats: ContextStats::default(),
            wakeup: false,
            destroyed: false,
            now,
        }
    }

    /// RFC 6528 initial sequence number: a clock ticking every 4 µs plus a keyed hash of the
    /// 4-tuple.
    pub(crate) fn initial_seq(&self, key: FlowKey, local_port: u16, now: Instant) -> u32 {
        let mut h = (key.remote().ip().to_bits() as u64) << 32
            | u64::from(key.remote().port()) << 16
            | u64::from(local_port);
        h ^= self.iss_secret;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
        (h as u32).wrapping_add((now.total_micros() / 4) as u32)
    }

    /// Whether anything waits to be transmitted or is due now.
    pub(crate) fn has_work(&self) -> bool {
        !self.txq.is_empty() || !self.ctrl.is_empty()
    }

    /// The earliest timer deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Returns and clears "events became ready".
    pub(crate) fn take_wakeup(&mut self) -> bool {
        std::mem::take(&mut self.wakeup)
    }

    // ---------------------------------------------------------------- receive path

    pub(crate) fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += frame.len() as u64;
        // An established connection's segment first, read straight into its repr (frame.rs).
        if let Some(plain) = frame::parse_plain_tcp(frame, self.net.mac, self.net.ip, self.caps) {
            self.handle_tcp(now, plain.src_mac, plain.src_ip, &plain.segment);
            return;
        }
        match frame::parse(frame, self.net.mac, self.net.ip, self.caps) {
            Parsed::Tcp {
                src_mac,
                src_ip,
                segment,
            } => self.handle_tcp(now, src_mac, src_ip, &segment),
            Parsed::ArpRequest {
                sender_mac,
                sender_ip,
                for_us,
            } => {
                if for_us {
                    let mut out = std::mem::take(&mut self.ctrl);
                    self.arp.learn(sender_ip, sender_mac, now, &mut out);
                    self.ctrl = out;
                    let mut buf = self.spare_frame();
                    frame::build_arp(
                        &mut buf,
                        2,
                        self.net.mac,
                        self.net.ip,
                        sender_mac,
                        sender_ip,
                    );
                    self.ctrl.push(buf);
                }
            }
            Parsed::ArpReply {
                sender_mac,
                sender_ip,
            } => {
                let mut out = std::mem::take(&mut self.ctrl);
                self.arp.learn(sender_ip, sender_mac, now, &mut out);
                self.ctrl = out;
            }
            Parsed::EchoRequest {
                src_mac,
                src_ip,
                icmp,
            } => {
                let mut buf = self.spare_frame();
                self.ip_ident = self.ip_ident.wrapping_add(1);
                if frame::build_echo_reply(
                    &mut buf,
                    self.net.mac,
                    src_mac,
                    self.net.ip,
                    src_ip,
                    self.ip_ident,
                    icmp,
                ) {
                    self.ctrl.push(buf);
                } else {
                    self.spare.push(buf);
                }
            }
            Parsed::IcmpError {
                error,
                remote,
                local_port,
                seq,
            } => self.handle_icmp_error(now, error, remote, local_port, seq),
            Parsed::Ignored => {}
            Parsed::Dropped(reason) => {
                self.stats.drops += 1;
                match reason {
                    DropReason::Malformed => self.stats.rx_malformed += 1,
                    DropReason::BadChecksum => self.stats.rx_bad_checksum += 1,
                    DropReason::Fragment => self.stats.rx_fragments += 1,
                }
            }
        }
    }

    fn handle_tcp(&mut self, now: Instant, src_mac: [u8; 6], src_ip: Ipv4Addr, seg: &TcpRepr<'_>) {
        if seg.src_port == 0 || seg.dst_port == 0 {
            self.stats.drops += 1;
            return;
        }
        let remote = SocketAddrV4::new(src_ip, seg.src_port);
        let key = FlowKey::new(remote, seg.dst_port);
        let lsock = self.listeners[seg.dst_port as usize];
        let mut reuse_iss = None;
        if let Some(&fid) = self.flow_map.get(&key) {
            if let Some(flow) = self.flows.get_mut(fid) {
                if lsock >= 0 && flow.conn.accepts_new_incarnation(seg) {
                    // RFC 6191 / Linux's TCP_TW_SYN: the SYN is newer than anything the
                    // TIME-WAIT connection saw, so end it and let the listener take the SYN.
                    reuse_iss = Some(flow.conn.new_incarnation_iss());
                    flow.conn.end_time_wait();
                    self.unmap(fid);
                    self.after_flow_event(fid, true);
                } else {
                    flow.conn.handle_segment(now, seg);
                    self.after_flow_event(fid, true);
                    return;
                }
            }
        }
        if lsock >= 0 && !seg.flags.rst() {
            let done = if seg.flags.syn() && !seg.flags.ack() {
                self.passive_open(now, lsock, key, remote, src_mac, seg, reuse_iss)
            } else if seg.flags.ack() && !seg.flags.syn() {
                self.cookie_open(now, lsock, key, remote, seg)
            } else {
                false
            };
            if done {
                return;
            }
        }
        if let Some(rst) = reset_for(seg) {
            let mut buf = self.spare_frame();
            self.ip_ident = self.ip_ident.wrapping_add(1);
            frame::build_tcp(
                &mut buf,
                self.net.mac,
                src_mac,
                self.net.ip,
                src_ip,
                self.ip_ident,
                &rst,
                !self.caps.tx,
            );
            self.ctrl.push(buf);
        }
    }

    /// An ICMP error quoting one of our segments goes to its connection (found by the quoted
    /// 4-tuple), which checks the quoted sequence number (RFC 5927 §4.1) and acts on it.
    fn handle_icmp_error(
        &mut self,
        now: Instant,
        error: mtcp_proto::tcp::IcmpError,
        remote: SocketAddrV4,
        local_port: u16,
        seq: mtcp_proto::wire::SeqNumber,
    ) {
        let key = FlowKey::new(remote, local_port);
        let Some(&fid) = self.flow_map.get(&key) else {
            return;
        };
        if let Some(flow) = self.flows.get_mut(fid) {
            if flow.conn.handle_icmp_error(now, seq, error) {
                self.after_flow_event(fid, true);
            }
        }
    }

    /// A SYN for a listener: a new connection in SYN-RECEIVED; or, when the SYN queue (the
    /// half-open connections, at most max(backlog, 128), and the flow slab) is full, a SYN
    /// cookie (RFC 4987 §3.6; always with `tcp_syncookies = 2`, never with 0, when the SYN is
    /// dropped and the peer retries). A full accept queue drops the SYN, as in Linux.
    /// `iss` overrides the RFC 6528 ISS (a new incarnation of a TIME-WAIT 4-tuple starts
    /// above the old SND.NXT, RFC 6191 §2).
    #[allow(clippy::too_many_arguments)]
    fn passive_open(
        &mut self,
        now: Instant,
        lsock: SockId,
        key: FlowKey,
        remote: SocketAddrV4,
        src_mac: [u8; 6],
        syn: &TcpRepr<'_>,
        iss: Option<mtcp_proto::wire::SeqNumber>,
    ) -> bool {
        let Some(Socket {
            kind: Kind::Listener(l),
            opts,
            ..
        }) = self.sockets.get(lsock as u32)
        else {
            return false;
        };
        if l.accept_queue.len() >= l.backlog {
            self.stats.drops += 1;
            return true;
        }
        let syn_queue_full = l.half_open >= l.backlog.max(128) || self.flows.is_full();
        let local = SocketAddrV4::new(self.net.ip, syn.dst_port);
        let config = self.config_for(opts);
        let use_cookie = match self.tcp.syn_cookies {
            SynCookieMode::Off => false,
            SynCookieMode::WhenFull => syn_queue_full,
            SynCookieMode::Always => true,
        };
        if use_cookie {
            let syn_ack = self.syn_cookies.syn_ack(&config, local, remote, syn, now);
            let mut buf = self.spare_frame();
            self.ip_ident = self.ip_ident.wrapping_add(1);
            frame::build_tcp(
                &mut buf,
                self.net.mac,
                src_mac,
                self.net.ip,
                *remote.ip(),
                self.ip_ident,
                &syn_ack,
                !self.caps.tx,
            );
            self.ctrl.push(buf);
            self.cookie_sent_at = Some(now);
            return true;
        }
        if syn_queue_full {
            self.stats.drops += 1;
            return true;
        }
        let iss = iss.unwrap_or_else(|| {
            mtcp_proto::wire::SeqNumber(self.initial_seq(key, syn.dst_port, now))
        });
        // Built in the flow slab (over the finished connection a freed slot keeps, if any),
        // then given the SYN there (no copy of the connection).
        let Some(fid) = self.open_passive(
            || Connection::passive(&config, local, remote, iss),
            |conn| conn.reopen_passive(&config, local, remote, iss),
            |conn| conn.take_syn(syn, now),
            key,
            lsock,
        ) else {
            return false;
        };
        self.queue_opened(fid);
        true
    }

    /// Puts a connection that listener `lsock` opened into the flow table (`make` builds it
    /// there, or `reuse` over a freed slot's connection, see `open_flow`; `finish` completes
    /// it in place), counted as half-open until it is promoted to the accept queue
    /// (SYN-cookie connections too, so the promotion can uncount them). `None` when the flow
    /// table is full; the caller settles the flow.
    #[inline]
    fn open_passive(
        &mut self,
        make: impl FnOnce() -> Connection,
        reuse: impl FnOnce(&mut Connection),
        finish: impl FnOnce(&mut Connection),
        key: FlowKey,
        lsock: SockId,
    ) -> Option<FlowId> {
        let fid = self.open_flow(make, reuse, key, Owner::Pending(lsock))?;
        if let Some(flow) = self.flows.get_mut(fid) {
            finish(&mut flow.conn);
        }
        if let Some(Socket {
            kind: Kind::Listener(l),
            ..
        }) = self.sockets.get_mut(lsock as u32)
        {
            l.half_open += 1;
        }
        self.stats.connections_opened += 1;
        Some(fid)
    }

    /// A connection just opened whose SYN or SYN-ACK is due goes onto the transmit list, and
    /// that is all the settling it needs: sending it is what a transmit pass is for, a queued
    /// flow's timers are read after its pass, and its owner is the descriptor of the call
    /// that opened it (touched by the call) or a listener that hears of it at promotion.
    #[inline]
    pub(crate) fn queue_opened(&mut self, fid: FlowId) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        debug_assert!(
            matches!(flow.conn.state(), State::SynSent | State::SynReceived)
                && flow.conn.wants_transmit(),
            "a connection just opened has its SYN to send"
        );
        queue_for_transmit(&mut self.txq, flow, fid);
    }

    /// An ACK for no connection on a listening port: the third segment of a handshake answered
    /// with a SYN cookie. A valid cookie opens the connection in ESTABLISHED, straight into the
    /// accept queue; anything else is left to the caller (a RST). Cookies are only looked for
    /// while they may be outstanding (Linux's `tcp_synq_no_recent_overflow`), so a blind ACK
    /// flood costs nothing when no cookie was sent.
    fn cookie_open(
        &mut self,
        now: Instant,
        lsock: SockId,
        key: FlowKey,
        remote: SocketAddrV4,
        ack: &TcpRepr<'_>,
    ) -> bool {
        let recent = self
            .cookie_sent_at
            .is_some_and(|t| now.total_millis() <= t.total_millis() + COOKIE_LIFETIME_MS);
        if !recent && self.tcp.syn_cookies != SynCookieMode::Always {
            return false;
        }
        let Some(Socket {
            kind: Kind::Listener(l),
            opts,
            ..
        }) = self.sockets.get(lsock as u32)
        else {
            return false;
        };
        let local = SocketAddrV4::new(self.net.ip, ack.dst_port);
        let config = self.config_for(opts);
        let Some(options) = self.syn_cookies.check(&config, local, remote, ack, now) else {
            return false;
        };
        if l.accept_queue.len() >= l.backlog || self.flows.is_full() {
            // Linux drops it too: the peer's retransmission (or data) brings the cookie again.
            self.stats.drops += 1;
            return true;
        }
        let make = || Connection::accept_cookie(&config, local, remote, ack, &options, now);
        let Some(fid) = self.open_passive(
            make,
            |conn| {
                let storage = conn.take_storage();
                *conn = make();
                conn.adopt_storage(storage);
            },
            |_| {},
            key,
            lsock,
        ) else {
            return false;
        };
        // Established, and the ACK processed (maybe data, a FIN): the whole settle, which
        // promotes it to the accept queue.
        self.after_flow_event(fid, true);
        true
    }

    /// Adopts what the port offers: checksums it vouches for on receive are not checked
    /// again, and when it finishes TCP checksums on transmit, segments leave with the
    /// pseudo-header sum only. The port alone decides (it was opened with the
    /// `checksum_offload` setting): a port that finishes checksums must get partial ones.
    pub(crate) fn set_port_caps(&mut self, port: mtcp_io::Caps) {
        self.caps = ChecksumCaps {
            rx: !port.rx_checksum,
            tx: !port.tx_checksum,
        };
        self.tcp.checksum_offload = port.tx_checksum;
        self.tx_frame = port.max_frame;
    }

    /// The connection parameters for a socket with `opts`.
    pub(crate) fn config_for(&self, opts: &SockOpts) -> TcpConfig {
        TcpConfig {
            rcvbuf: opts.rcvbuf,
            sndbuf: opts.sndbuf,
            nodelay: opts.nodelay,
            linger: opts.linger,
            keepalive: keepalive_of(opts),
            user_timeout: user_timeout_of(opts),
            congestion: opts.congestion,
            ..self.tcp.clone()
        }
    }

    /// Bookkeeping after anything happened to a flow: accept-queue promotion, timer, transmit
    /// list, epoll readiness, and release once closed.
    pub(crate) fn after_flow_event(&mut self, fid: FlowId, from_net: bool) {
        if from_net {
            self.settle_after_net(fid);
        } else {
            self.settle_flow(fid, FlowEvent::Local, true);
        }
    }

    /// `settle_flow` after a segment, an ICMP error or a timer (most settles), compiled for
    /// that case alone.
    #[inline(never)]
    fn settle_after_net(&mut self, fid: FlowId) {
        self.settle_flow(fid, FlowEvent::Net, true);
    }

    /// `settle_flow` after a call on the owning descriptor, compiled for that case alone.
    #[inline(never)]
    fn settle_after_call(&mut self, fid: FlowId) {
        self.settle_flow(fid, FlowEvent::Call, true);
    }

    /// `settle_flow` after a transmit pass, compiled for that case alone.
    #[inline(never)]
    fn settle_after_transmit(&mut self, fid: FlowId) {
        self.settle_flow(fid, FlowEvent::Transmitted, false);
    }

    /// `after_flow_event` for an API call on `s`, the flow's owner (see [`FlowEvent::Call`]).
    pub(crate) fn after_call_event(&mut self, fid: FlowId, s: SockId) {
        debug_assert!(
            self.flows
                .get(fid)
                .is_none_or(|f| f.owner == Owner::Socket(s)),
            "a call settles only the flow of its own descriptor"
        );
        self.settle_after_call(fid);
    }

    /// After `send` took new data on `s`'s flow: onto the transmit list without asking
    /// `wants_transmit`, since new data is what a transmit pass is for (when the window or
    /// Nagle holds it back, the pass finds nothing to send, as after any other hint). Then
    /// there is nothing left to settle: a queued flow's timers are read after its transmit
    /// pass, and the call touches its descriptor itself ([`FlowEvent::Call`]).
    #[inline]
    pub(crate) fn after_send(&mut self, fid: FlowId, s: SockId) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        debug_assert!(
            flow.owner == Owner::Socket(s),
            "a call settles only the flow of its own descriptor"
        );
        queue_for_transmit(&mut self.txq, flow, fid);
    }

    /// `after_flow_event` without queueing for transmission: used right after a transmit pass
    /// drained the flow. `wants_transmit` is only a hint (Nagle may hold data back), so a flow
    /// goes back on the list only when something new happens to it.
    #[inline(always)]
    fn settle_flow(&mut self, fid: FlowId, event: FlowEvent, may_queue: bool) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        if may_queue && !flow.in_txq && flow.conn.wants_transmit() {
            queue_for_transmit(&mut self.txq, flow, fid);
        }
        // A queued flow's deadline is read once, after the transmit pass settles it (sending
        // arms and stops timers anyway); `has_work` keeps the loop from sleeping meanwhile.
        // `timer_at` is never later than the deadline last read here (it is what that read
        // returned, or earlier, or none), as `poll_timeout_before` needs.
        if !flow.in_txq {
            if let Some(deadline) = flow.conn.poll_timeout_before(flow.timer_at) {
                flow.timer_at = Some(deadline);
                self.timers.insert(deadline, (fid, deadline));
            }
            debug_assert!(
                flow.conn
                    .poll_timeout()
                    .is_none_or(|d| flow.timer_at.is_some_and(|t| t <= d)),
                "a connection deadline earlier than the flow's wake-up"
            );
        }
        // The usual case (after every segment and API call of an open connection): only the
        // descriptor's readiness may have changed. Accept-queue promotion and release are
        // out of line; an orphan still closing, a connection still in SYN-RECEIVED and one
        // already in its listener's accept queue have nothing else to do (the common cases of
        // a short connection's first and last segments).
        let open = flow.in_txq || !flow.conn.is_closed();
        match flow.owner {
            Owner::Socket(s) if open => self.touch_owner(s, event),
            Owner::Orphan if open => {}
            Owner::Pending(_)
                if open && (flow.in_accept_queue || flow.conn.state() == State::SynReceived) => {}
            _ => self.settle_owner(fid, event),
        }
    }

    /// Marks the owning descriptor of a flow `event` happened to.
    #[inline]
    fn touch_owner(&mut self, s: SockId, event: FlowEvent) {
        match event {
            FlowEvent::Call => {}
            FlowEvent::Transmitted => {
                debug_assert!(
                    self.sockets.get(s as u32).is_none_or(|sock| {
                        sock.readiness == READINESS_STALE
                            || sock.readiness == self.readiness_of(sock)
                    }),
                    "descriptor {s}: a transmit pass changed its readiness"
                );
            }
            FlowEvent::Net | FlowEvent::Local => self.touch(s, event == FlowEvent::Net),
        }
    }

    /// The rest of `settle_flow`: a connection not yet accepted (promotion to the accept
    /// queue), an orphan, or a closed connection (release).
    #[inline(never)]
    fn settle_owner(&mut self, fid: FlowId, event: FlowEvent) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        let state = flow.conn.state();
        let closed = flow.conn.is_closed() && !flow.in_txq;
        match flow.owner {
            // A closing flow: touched after a transmit pass too.
            Owner::Socket(s) if event == FlowEvent::Transmitted => self.touch(s, false),
            Owner::Socket(s) => self.touch_owner(s, event),
            Owner::Pending(l) => {
                let promote = !flow.in_accept_queue
                    && !closed
                    && !matches!(state, State::SynReceived | State::Closed | State::Listen);
                if promote {
                    flow.in_accept_queue = true;
                    if let Some(Socket {
                        kind: Kind::Listener(lst),
                        ..
                    }) = self.sockets.get_mut(l as u32)
                    {
                        lst.half_open = lst.half_open.saturating_sub(1);
                        lst.accept_queue.push_back(fid);
                    }
                    self.touch(l, true);
                }
            }
            Owner::Orphan => {}
        }
        if closed {
            self.release(fid);
        }
    }

    /// Puts a new connection into the flow slab and the 4-tuple map: `reuse` rewrites the
    /// finished connection a freed slot still holds (in place, keeping its buffers), `make`
    /// builds one for a slot that never held any. `None` when the slab is full.
    #[inline]
    pub(crate) fn open_flow(
        &mut self,
        make: impl FnOnce() -> Connection,
        reuse: impl FnOnce(&mut Connection),
        key: FlowKey,
        owner: Owner,
    ) -> Option<FlowId> {
        let mut kept = 0;
        let fid = self.flows.insert_or_reuse(
            || Flow::new(make(), key, owner),
            |flow| {
                kept = flow.kept_bytes;
                reuse(&mut flow.conn);
                flow.reopen(key, owner);
            },
        )?;
        if kept > 0 {
            self.kept_storage -= 1;
            self.kept_storage_bytes -= kept;
        }
        debug_assert!(
            self.flows
                .get(fid)
                .and_then(|f| f.hop)
                .is_none_or(|hop| self.net.next_hop(*key.remote().ip()) == Some(hop)),
            "a kept next hop is the peer's"
        );
        self.flow_map.insert(key, fid);
        Some(fid)
    }

    /// Takes a flow out of the table for good. Its slot keeps the finished connection for
    /// the next one opened there (`open_flow`), with its buffers while the context keeps fewer
    /// than `STORAGE_KEPT_MAX` connections' worth, else without them (freed now).
    fn free_flow(&mut self, fid: FlowId) {
        let (count, bytes) = (&mut self.kept_storage, &mut self.kept_storage_bytes);
        self.flows.retire_with(fid, |flow| {
            let held = flow.conn.storage_bytes();
            if held > 0 && *count < STORAGE_KEPT_MAX && *bytes + held <= STORAGE_KEPT_BYTES {
                *count += 1;
                *bytes += held;
                flow.kept_bytes = held;
            } else {
                drop(flow.conn.take_storage());
            }
        });
    }

    /// A closed connection gives up its 4-tuple; it is freed unless a descriptor still holds it
    /// (then `close` frees it).
    fn release(&mut self, fid: FlowId) {
        self.unmap(fid);
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        flow.timer_at = None;
        match flow.owner {
            Owner::Socket(_) => {}
            Owner::Orphan => {
                self.free_flow(fid);
            }
            Owner::Pending(l) => {
                let queued = flow.in_accept_queue;
                if let Some(Socket {
                    kind: Kind::Listener(lst),
                    ..
                }) = self.sockets.get_mut(l as u32)
                {
                    if queued {
                        lst.accept_queue.retain(|&f| f != fid);
                        // Its EPOLLIN may go.
                        self.touch(l, false);
                    } else {
                        lst.half_open = lst.half_open.saturating_sub(1);
                    }
                }
                self.free_flow(fid);
            }
        }
    }

    /// Takes a flow out of the 4-tuple map, so segments for its 4-tuple no longer reach it.
    fn unmap(&mut self, fid: FlowId) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        if flow.mapped {
            flow.mapped = false;
            let key = flow.key;
            // One probe: the entry is this flow's (`mapped` says so); were it another's, it
            // goes back.
            if let Some(other) = self.flow_map.remove(&key) {
                if other != fid {
                    self.flow_map.insert(key, other);
                }
            }
        }
    }

    /// Frees a flow that a descriptor held (on close, after the connection was told).
    pub(crate) fn drop_socket_flow(&mut self, fid: FlowId) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        flow.owner = Owner::Orphan;
        if !flow.mapped {
            self.free_flow(fid);
        } else if !flow.conn.is_closed() {
            // Closed by the application, not finished: its FIN (or RST) is what a transmit
            // pass is for, so onto the list without asking `wants_transmit` (as `after_send`;
            // a pass that finds nothing settles the flow as usual). An orphan has no
            // descriptor to touch, and a queued flow's timers are read after its pass.
            queue_for_transmit(&mut self.txq, flow, fid);
        } else {
            self.after_flow_event(fid, false);
        }
    }

    // ---------------------------------------------------------------- timers

    pub(crate) fn fire_timers(&mut self, now: Instant) {
        // Nothing due (most polls): the wheel's own check, without moving `fired` around.
        // An empty wheel still goes through `expire`, which advances its clock.
        if self.timers.next_deadline().is_some_and(|d| d > now) {
            return;
        }
        let mut fired = std::mem::take(&mut self.fired);
        self.timers.expire(now, &mut fired);
        for &(fid, deadline) in &fired {
            let Some(flow) = self.flows.get_mut(fid) else {
                continue;
            };
            if flow.timer_at != Some(deadline) {
                continue; // superseded by an earlier deadline
            }
            flow.timer_at = None;
            if flow.conn.poll_timeout().is_some_and(|d| d <= now) {
                flow.conn.handle_timeout(now);
            }
            self.after_flow_event(fid, true);
        }
        fired.clear();
        self.fired = fired;
    }

    // ---------------------------------------------------------------- transmit path

    fn spare_frame(&mut self) -> Vec<u8> {
        let mut b = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MAX_FRAME));
        b.clear();
        b
    }

    pub(crate) fn transmit(&mut self, now: Instant, io: &mut Port) {
        if !self.ctrl.is_empty() {
            self.transmit_ctrl(io);
        }
        let mut txq = std::mem::take(&mut self.txq);
        for &fid in &txq {
            if let Some(flow) = self.flows.get_mut(fid) {
                flow.in_txq = false;
                // Retransmissions happen only in poll_transmit: count them around it.
                let before = flow.conn.stats().retransmitted_segments;
                self.emit_flow(now, fid, io);
                if let Some(flow) = self.flows.get(fid) {
                    let after = flow.conn.stats().retransmitted_segments;
                    self.stats.retransmits += after.saturating_sub(before);
                }
                self.settle_after_transmit(fid);
            }
        }
        txq.clear();
        // Keep the allocation; anything queued meanwhile (by settle_flow's touches) stays.
        txq.append(&mut self.txq);
        self.txq = txq;
    }

    /// Sends the control frames (ARP, ICMP, RST) and keeps their buffers.
    #[inline(never)]
    fn transmit_ctrl(&mut self, io: &mut Port) {
        for buf in std::mem::take(&mut self.ctrl) {
            let n = buf.len();
            if io.tx_with(n, |out| {
                out[..n].copy_from_slice(&buf);
                n
            }) {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += n as u64;
            }
            self.spare.push(buf);
        }
    }

    fn emit_flow(&mut self, now: Instant, fid: FlowId, io: &mut Port) {
        let Some(flow) = self.flows.get_mut(fid) else {
            return;
        };
        let remote_ip = *flow.key.remote().ip();
        let hop = match flow.hop {
            Some(hop) => hop,
            None => {
                let Some(hop) = self.net.next_hop(remote_ip) else {
                    self.stats.drops += drain_unroutable(&mut flow.conn, now, self.tx_frame);
                    return;
                };
                flow.hop = Some(hop);
                hop
            }
        };
        let (src_mac, src_ip) = (self.net.mac, self.net.ip);
        let addresses = flow.conn.address_sum();
        match self.arp.lookup(hop, now) {
            Some(dst_mac) => loop {
                let mut sent = 0;
                let ident = &mut self.ip_ident;
                let conn = &mut flow.conn;
                let ok = io.tx_with(self.tx_frame, |buf| {
                    let Some(n) = conn.poll_transmit(now, &mut buf[ETH_IP_HEADERS..]) else {
                        return 0;
                    };
                    *ident = ident.wrapping_add(1);
                    frame::write_headers(
                        buf, src_mac, dst_mac, src_ip, remote_ip, addresses, *ident, n,
                    );
                    sent = ETH_IP_HEADERS + n;
                    sent
                });
                if sent == 0 {
                    break;
                }
                if ok {
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += sent as u64;
                } else {
                    self.stats.drops += 1;
                }
                // `wants_transmit` is never false while poll_transmit would send: the pass
                // ends without a buffer hand-out and a call that finds nothing.
                if !flow.conn.wants_transmit() {
                    break;
                }
            },
            None => loop {
                let mut buf = self.arp.buffer();
                buf.resize(self.tx_frame, 0);
                let Some(n) = flow.conn.poll_transmit(now, &mut buf[ETH_IP_HEADERS..]) else {
                    self.arp.recycle(buf);
                    break;
                };
                self.ip_ident = self.ip_ident.wrapping_add(1);
                frame::write_headers(
                    &mut buf,
                    src_mac,
                    [0; 6],
                    src_ip,
                    remote_ip,
                    addresses,
                    self.ip_ident,
                    n,
                );
                buf.truncate(ETH_IP_HEADERS + n);
                if self.arp.hold(hop, buf, now) {
                    let mut req = self.spare.pop().unwrap_or_default();
                    frame::build_arp(&mut req, 1, src_mac, src_ip, [0xff; 6], hop);
                    self.ctrl.push(req);
                }
            },
        }
    }

    // ---------------------------------------------------------------- readiness and epoll

    /// Marks a descriptor whose readiness may have changed: its cached readiness goes, and
    /// epoll looks at it again. The only way the cache is invalidated: the engine touches
    /// the owner of a flow it settles, and `ContextInner::call_on` the descriptor of every
    /// call on one, after the call.
    pub(crate) fn touch(&mut self, s: SockId, from_net: bool) {
        let Some(sock) = self.sockets.get_mut(s as u32) else {
            return;
        };
        sock.readiness = READINESS_STALE;
        let Some(reg) = sock.reg else {
            return;
        };
        if from_net {
            // A new arrival is a new edge even if the socket was already readable (Linux wakes
            // edge-triggered waiters on every arrival).
            sock.last_events &= !(MTCP_EPOLLIN | MTCP_EPOLLOUT);
        }
        // Level-triggered and already in the ready queue: `queue_touched` would skip it, and
        // `epoll_collect` evaluates it when it gets there (the usual case for a busy
        // connection, whose every segment and call lands here). `queued` only turns false in
        // `epoll_collect`, after it has run `update_events`, so skipping now is the same as
        // skipping then.
        if sock.queued && reg.events & MTCP_EPOLLET == 0 {
            return;
        }
        // An API call and the transmit pass after it touch the same socket back to back.
        if self.touched.last() != Some(&s) {
            self.touched.push(s);
        }
    }

    /// The events a descriptor would report now.
    pub(crate) fn readiness(&self, s: SockId) -> u32 {
        match self.sockets.get(s as u32) {
            Some(sock) => self.readiness_of(sock),
            None => 0,
        }
    }

    /// The events `sock`, a descriptor of this core, would report now. A stream's (the usual
    /// question, after every event of a connection) inline, the rest out of line.
    #[inline]
    pub(crate) fn readiness_of(&self, sock: &Socket) -> u32 {
        let Kind::Stream(st) = &sock.kind else {
            return self.readiness_of_other(sock);
        };
        match st.flow.and_then(|f| self.flows.get(f)) {
            // mTCP: a socket without a connection has no events (Linux says OUT|HUP).
            None => 0,
            Some(flow) => {
                let r = flow.conn.readiness();
                let mut ev = 0;
                if r.readable {
                    ev |= MTCP_EPOLLIN;
                }
                if r.writable {
                    ev |= MTCP_EPOLLOUT;
                }
                if r.read_hangup {
                    ev |= MTCP_EPOLLRDHUP | MTCP_EPOLLIN;
                }
                if r.hangup {
                    ev |= MTCP_EPOLLHUP;
                }
                if r.error {
                    ev |= MTCP_EPOLLERR;
                }
                ev
            }
        }
    }

    /// `readiness_of` for a descriptor other than a stream.
    #[inline(never)]
    fn readiness_of_other(&self, sock: &Socket) -> u32 {
        match &sock.kind {
            Kind::Stream(_) => self.readiness_of(sock),
            Kind::Listener(l) => {
                if l.accept_queue.is_empty() {
                    0
                } else {
                    MTCP_EPOLLIN
                }
            }
            Kind::Epoll(_) => 0,
            Kind::PipeRead(p) => match self.pipes.get(*p) {
                Some(pipe) => {
                    let mut ev = 0;
                    if !pipe.data.is_empty() {
                        ev |= MTCP_EPOLLIN;
                    }
                    if pipe.writer.is_none() {
                        ev |= MTCP_EPOLLIN | MTCP_EPOLLHUP;
                    }
                    ev
                }
                None => MTCP_EPOLLHUP,
            },
            Kind::PipeWrite(p) => match self.pipes.get(*p) {
                Some(pipe) => {
                    let mut ev = 0;
                    if pipe.space() > 0 {
                        ev |= MTCP_EPOLLOUT;
                    }
                    if pipe.reader.is_none() {
                        ev |= MTCP_EPOLLERR;
                    }
                    ev
                }
                None => MTCP_EPOLLERR,
            },
        }
    }

    /// Moves touched descriptors with pending events into their epoll's ready queue.
    #[inline]
    pub(crate) fn update_events(&mut self) {
        // Most calls find nothing touched: keep that check inline, the work out of line.
        if !self.touched.is_empty() {
            self.queue_touched();
        }
    }

    #[inline(never)]
    fn queue_touched(&mut self) {
        // By index: `touched` stays in place (nothing below touches a socket).
        for i in 0..self.touched.len() {
            let s = self.touched[i];
            let Some(sock) = self.sockets.get(s as u32) else {
                continue;
            };
            let Some(reg) = sock.reg else { continue };
            if sock.queued && reg.events & MTCP_EPOLLET == 0 {
                // Level-triggered and already queued: nothing to record, and `epoll_collect`
                // evaluates it when it gets there.
                continue;
            }
            let ready = self.readiness(s);
            let Some(sock) = self.sockets.get_mut(s as u32) else {
                continue;
            };
            sock.readiness = ready;
            let mask = ready & reg.events;
            let fire = if reg.events & MTCP_EPOLLET != 0 {
                let rising = mask & !sock.last_events;
                sock.last_events = mask;
                rising != 0
            } else {
                mask != 0
            };
            if fire && !sock.queued {
                sock.queued = true;
                let generation = self.sockets.generation(s as u32);
                if let Some(Socket {
                    kind: Kind::Epoll(ep),
                    ..
                }) = self.sockets.get_mut(reg.epid as u32)
                {
                    if ep.serial == reg.serial {
                        ep.ready.push_back((s, generation));
                        self.wakeup = true;
                        continue;
                    }
                }
                if let Some(sock) = self.sockets.get_mut(s as u32) {
                    sock.queued = false;
                }
            }
        }
        self.touched.clear();
    }
}

impl Engine {
    /// The engine of one context: `core` driven through the port queue `io`.
    pub(crate) fn new(io: Port, core: Core) -> Engine {
        Engine {
            io,
            core,
            ahead: Lookahead::default(),
        }
    }

    /// One iteration of the loop; returns whether anything was received or sent.
    #[inline]
    pub(crate) fn poll(&mut self, now: Instant) -> bool {
        // The usual inline poll: nothing arrived, nothing queued, timers pending but none due.
        // Then the full iteration below would only record `now` and update readiness (timer
        // expiry returns at once when the earliest deadline is later), so do just that. An
        // empty wheel takes the full path, which also advances the wheel's clock.
        let Engine { io, core, .. } = self;
        if !core.has_work() && core.next_deadline().is_some_and(|d| d > now) && !io.has_pending() {
            core.now = now;
            core.update_events();
            return false;
        }
        self.poll_full(now)
    }

    #[inline(never)]
    fn poll_full(&mut self, now: Instant) -> bool {
        let Engine { io, core, ahead } = self;
        core.now = now;
        // Asking first is cheaper than an empty burst (most inline polls find nothing).
        let received = if io.has_pending() {
            receive(io, core, ahead, now)
        } else {
            0
        };
        core.fire_timers(now);
        let had_tx = core.has_work();
        if had_tx {
            // Only `transmit` builds frames, so with nothing queued there is nothing to flush.
            core.transmit(now, io);
            io.flush();
        }
        core.update_events();
        received > 0 || had_tx
    }
}

/// Up to four bursts from the port, each in stages (`rx_stage`: the burst's flows looked up
/// and prefetched, then every frame to `handle_frame` in order); returns how many.
/// Out of line: a poll that only transmits (after a call queued a segment) then doesn't pay
/// for the receive loop's set-up, and one that receives pays for it only once it has frames.
#[inline(never)]
fn receive(io: &mut Port, core: &mut Core, ahead: &mut Lookahead, now: Instant) -> usize {
    let mut received = 0;
    let mut staged = StagedRx::new(core, now, ahead);
    for _ in 0..4 {
        let n = io.rx_burst_staged(BURST, &mut staged);
        received += n;
        if n < BURST {
            break;
        }
    }
    received
}

/// Puts `fid` on the transmit list unless it is there already: `flow.in_txq` says whether
/// it is, so a flow is on the list at most once.
#[inline(always)]
fn queue_for_transmit(txq: &mut Vec<FlowId>, flow: &mut Flow, fid: FlowId) {
    if !flow.in_txq {
        flow.in_txq = true;
        txq.push(fid);
    }
}

/// Unroutable: drains a connection's segments (counted as drops) so it times out rather than
/// spins. Out of line and cold: its scratch frame (`tx_frame` bytes, as a port's transmit
/// buffer, so a full segment fits) is allocated only here.
#[cold]
#[inline(never)]
fn drain_unroutable(conn: &mut Connection, now: Instant, tx_frame: usize) -> u64 {
    let mut scratch = vec![0u8; tx_frame];
    let mut dropped = 0;
    while conn.poll_transmit(now, &mut scratch).is_some() {
        dropped += 1;
    }
    dropped
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    if x == 0 {
        x = 0x2545_f491_4f6c_dd1d;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// `SO_KEEPALIVE` with `TCP_KEEPIDLE/INTVL/CNT` (seconds, count) as the TCP layer takes it.
pub(crate) fn keepalive_of(opts: &SockOpts) -> Option<mtcp_proto::tcp::KeepAlive> {
    opts.keepalive.then(|| mtcp_proto::tcp::KeepAlive {
        idle: Duration::from_secs(opts.keepidle.max(1) as u64),
        interval: Duration::from_secs(opts.keepintvl.max(1) as u64),
        count: opts.keepcnt.max(1) as u32,
    })
}

/// `TCP_USER_TIMEOUT` (milliseconds, 0 = off) as the TCP layer takes it.
pub(crate) fn user_timeout_of(opts: &SockOpts) -> Option<Duration> {
    (opts.user_timeout_ms > 0).then(|| Duration::from_millis(opts.user_timeout_ms as u64))
}

/// Linux's default idle retransmission clamp etc. live in `TcpConfig`; this is the one place
/// the runtime turns `mtcp.conf` into connection parameters.
pub(crate) fn tcp_config_from(config: &crate::Config) -> TcpConfig {
    TcpConfig {
        mss: (config.mtu.saturating_sub(40)).clamp(88, 65495) as u16,
        rcvbuf: config.rcvbuf,
        sndbuf: config.sndbuf,
        timewait: Duration::from_secs(config.tcp_timewait),
        idle_timeout: (config.tcp_timeout > 0)
            .then(|| Duration::from_secs(config.tcp_timeout as u64)),
        congestion: match config.cc.as_str() {
            "cubic" => CongestionAlgorithm::Cubic,
            "bbr" => CongestionAlgorithm::Bbr,
            _ => CongestionAlgorithm::NewReno,
        },
        syn_cookies: match config.tcp_syncookies {
            0 => SynCookieMode::Off,
            2 => SynCookieMode::Always,
            _ => SynCookieMode::WhenFull,
        },
        hystart: config.tcp_hystart,
        pacing: config.tcp_pacing,
        timestamps: config.tcp_timestamps,
        window_scaling: config.tcp_window_scaling,
        sack: config.tcp_sack,
        rack: config.tcp_recovery,
        frto: config.tcp_frto != 0,
        prr: config.tcp_prr,
        max_retries: config.tcp_retries2,
        max_syn_retries: config.tcp_syn_retries,
        challenge_ack_limit: config.tcp_challenge_ack_limit,
        min_rto: Duration::from_millis(config.tcp_rto_min_ms),
        max_rto: Duration::from_millis(config.tcp_rto_max_ms),
        initial_rto: Duration::from_millis(config.tcp_rto_initial_ms),
        delayed_ack: Duration::from_millis(config.tcp_delack_ms),
        quick_acks: config.tcp_quickack,
        ..TcpConfig::default()
    }
}
