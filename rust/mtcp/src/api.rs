//! The mTCP calls as operations on one context's engine, with Linux's errno for each misuse
//! (API.md §2). Each returns `Result<_, Errno>`; `context.rs` turns that into `io::Error`.
use std::net::{Ipv4Addr, SocketAddrV4};

use mtcp_proto::tcp::{CongestionAlgorithm, Connection, State};
use mtcp_proto::wire::SeqNumber;
use mtcp_proto::{Duration, Errno, Instant};

use crate::consts::*;
use crate::context::SockId;
use crate::engine::{Core, Owner, RssFilter, EPHEMERAL};
use crate::flow_table::{FlowId, FlowKey};
use crate::pipe::Pipe;
use crate::socket::{EpollInstance, EpollReg, Kind, Listener, Socket, Stream, READINESS_STALE};

type R<T> = Result<T, Errno>;

impl Core {
    fn check_alive(&self) -> R<()> {
        if self.destroyed {
            Err(Errno::EPERM)
        } else {
            Ok(())
        }
    }

    fn sock(&self, s: SockId) -> R<&Socket> {
        self.check_alive()?;
        if s < 0 {
            return Err(Errno::EBADF);
        }
        self.sockets.get(s as u32).ok_or(Errno::EBADF)
    }

    fn sock_mut(&mut self, s: SockId) -> R<&mut Socket> {
        self.check_alive()?;
        if s < 0 {
            return Err(Errno::EBADF);
        }
        self.sockets.get_mut(s as u32).ok_or(Errno::EBADF)
    }

    fn flow_of(&self, s: SockId) -> R<Option<FlowId>> {
        match &self.sock(s)?.kind {
            Kind::Stream(st) => Ok(st.flow),
            Kind::Listener(_) => Ok(None),
            _ => Err(Errno::ENOTSOCK),
        }
    }

    fn conn_mut(&mut self, fid: FlowId) -> &mut Connection {
        &mut self
            .flows
            .get_mut(fid)
            .expect("a descriptor's flow lives until close")
            .conn
    }

    fn conn(&self, fid: FlowId) -> &Connection {
        &self
            .flows
            .get(fid)
            .expect("a descriptor's flow lives until close")
            .conn
    }

    // ------------------------------------------------------------------ socket, bind, listen

    pub(crate) fn socket(&mut self, domain: i32, ty: i32, protocol: i32) -> R<SockId> {
        self.check_alive()?;
        if domain != AF_INET {
            return Err(Errno::EAFNOSUPPORT);
        }
        if ty != SOCK_STREAM || protocol != 0 {
            return Err(Errno::EINVAL);
        }
        let opts = self.default_opts;
        let kind = Kind::Stream(Stream {
            bound: None,
            flow: None,
        });
        let id = self
            .sockets
            .insert_with(|| Socket::new(kind, opts))
            .ok_or(Errno::ENFILE)?;
        Ok(id as SockId)
    }

    pub(crate) fn bind(&mut self, s: SockId, addr: SocketAddrV4) -> R<()> {
        let local_ip = self.net.ip;
        let sock = self.sock(s)?;
        let Kind::Stream(st) = &sock.kind else {
            return Err(match sock.kind {
                Kind::Listener(_) => Errno::EINVAL,
                _ => Errno::ENOTSOCK,
            });
        };
        if st.bound.is_some() || st.flow.is_some() {
            return Err(Errno::EINVAL);
        }
        if !addr.ip().is_unspecified() && *addr.ip() != local_ip {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let port = if addr.port() == 0 {
            self.free_bind_port().ok_or(Errno::EADDRINUSE)?
        } else {
            if self.bound_ports[addr.port() as usize] > 0 {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        };
        self.bound_ports[port as usize] += 1;
        if let Kind::Stream(st) = &mut self.sock_mut(s)?.kind {
            st.bound = Some(SocketAddrV4::new(*addr.ip(), port));
        }
        Ok(())
    }

    fn free_bind_port(&mut self) -> Option<u16> {
        let span = EPHEMERAL.end() - EPHEMERAL.start() + 1;
        for _ in 0..span {
            let port = self.advance_port();
            if self.bound_ports[port as usize] == 0 && self.listeners[port as usize] < 0 {
                return Some(port);
            }
        }
        None
    }

    fn advance_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port >= *EPHEMERAL.end() {
            *EPHEMERAL.start()
        } else {
            port + 1
        };
        port
    }

    pub(crate) fn listen(&mut self, s: SockId, backlog: i32) -> R<()> {
        let max = self.sockets.available() + self.sockets.in_use();
        let sock = self.sock(s)?;
        match &sock.kind {
            Kind::Listener(_) => {
                // Linux: listen() again only changes the backlog.
                if backlog <= 0 {
                    return Err(Errno::EINVAL);
                }
                if let Kind::Listener(l) = &mut self.sock_mut(s)?.kind {
                    l.backlog = (backlog as usize).min(max);
                }
                return Ok(());
            }
            Kind::Stream(st) if st.flow.is_some() => return Err(Errno::EINVAL),
            Kind::Stream(_) => {}
            _ => return Err(Errno::ENOTSOCK),
        }
        // mTCP rejects a backlog <= 0; a larger one than the pool is clamped as Linux clamps
        // to somaxconn.
        if backlog <= 0 {
            return Err(Errno::EINVAL);
        }
        let bound = match &sock.kind {
            Kind::Stream(st) => st.bound,
            _ => None,
        };
        let local = match bound {
            Some(a) => a,
            None => {
                let port = self.free_bind_port().ok_or(Errno::EADDRINUSE)?;
                self.bound_ports[port as usize] += 1;
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)
            }
        };
        if self.listeners[local.port() as usize] >= 0 {
            return Err(Errno::EADDRINUSE);
        }
        self.listeners[local.port() as usize] = s;
        self.sock_mut(s)?.kind = Kind::Listener(Listener {
            local,
            backlog: (backlog as usize).min(max),
            accept_queue: Default::default(),
            half_open: 0,
        });
        Ok(())
    }

    pub(crate) fn accept(&mut self, s: SockId) -> R<(SockId, SocketAddrV4)> {
        let sock = self.sock(s)?;
        let Kind::Listener(l) = &sock.kind else {
            return Err(match sock.kind {
                Kind::Stream(_) => Errno::EINVAL,
                _ => Errno::ENOTSOCK,
            });
        };
        let Some(&fid) = l.accept_queue.front() else {
            return Err(Errno::EAGAIN);
        };
        let opts = sock.opts;
        let kind = Kind::Stream(Stream {
            bound: None,
            flow: Some(fid),
        });
        let new = self
            .sockets
            .insert_with(|| Socket::new(kind, opts))
            .ok_or(Errno::ENFILE)? as SockId;
        if let Kind::Listener(l) = &mut self.sock_mut(s)?.kind {
            l.accept_queue.pop_front();
        }
        let flow = self.flows.get_mut(fid).expect("queued flows are live");
        flow.owner = Owner::Socket(new);
        flow.in_accept_queue = false;
        let remote = flow.conn.remote();
        // The listener's EPOLLIN may go: `call_on` touches it. Nothing else needs settling:
        // the connection is as it was (what it wants to send, its timers), and its new
        // descriptor starts with its readiness unknown (`Socket::new`) and not in any epoll.
        debug_assert!(self
            .sockets
            .get(new as u32)
            .is_some_and(|sock| sock.reg.is_none() && sock.readiness == READINESS_STALE));
        Ok((new, remote))
    }

    // ------------------------------------------------------------------ connect

    pub(crate) fn connect(&mut self, s: SockId, addr: SocketAddrV4, now: Instant) -> R<()> {
        let sock = self.sock(s)?;
        let st = match &sock.kind {
            Kind::Stream(st) => st,
            Kind::Listener(_) => return Err(Errno::EISCONN),
            _ => return Err(Errno::ENOTSOCK),
        };
        if let Some(fid) = st.flow {
            let conn = self.conn_mut(fid);
            // mTCP: EALREADY while connecting, EISCONN once established (Linux would report a
            // completed non-blocking connect as success once first; mTCP is explicit here).
            return match conn.state() {
                State::SynSent | State::SynReceived => Err(Errno::EALREADY),
                State::Closed => {
                    // A failed attempt: report the error once, then ECONNABORTED, as Linux.
                    // EPOLLERR goes with the error (`call_on` touches the descriptor).
                    Err(conn.take_error().unwrap_or(Errno::ECONNABORTED))
                }
                _ => Err(Errno::EISCONN),
            };
        }
        if addr.ip().is_unspecified() || addr.ip().is_broadcast() || addr.ip().is_multicast() {
            return Err(Errno::ENETUNREACH);
        }
        if addr.port() == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        if self.net.next_hop(*addr.ip()).is_none() {
            return Err(Errno::ENETUNREACH);
        }
        if self.flows.is_full() {
            return Err(Errno::ENOMEM);
        }
        let bound = st.bound;
        let opts = sock.opts;
        let local_port = match bound {
            Some(b) => {
                if self.flow_map.contains_key(&FlowKey::new(addr, b.port())) {
                    return Err(Errno::EADDRNOTAVAIL);
                }
                b.port()
            }
            None => self.ephemeral_port(addr).ok_or(Errno::EADDRNOTAVAIL)?,
        };
        let local = SocketAddrV4::new(self.net.ip, local_port);
        let key = FlowKey::new(addr, local_port);
        let config = self.config_for(&opts);
        let iss = self.initial_seq(key, local_port, now);
        let fid = self
            .open_flow(
                || Connection::connect(&config, local, addr, SeqNumber(iss), now),
                |conn| conn.reopen_connect(&config, local, addr, SeqNumber(iss), now),
                key,
                Owner::Socket(s),
            )
            .ok_or(Errno::ENOMEM)?;
        if let Kind::Stream(st) = &mut self.sock_mut(s)?.kind {
            st.flow = Some(fid);
        }
        self.stats.connections_opened += 1;
        self.queue_opened(fid);
        Err(Errno::EINPROGRESS)
    }

    /// A free local port for a connection to `remote` whose replies hash to this context.
    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Option<u16> {
        let span = EPHEMERAL.end() - EPHEMERAL.start() + 1;
        for _ in 0..span {
            let port = self.advance_port();
            if self.listeners[port as usize] >= 0 || self.bound_ports[port as usize] > 0 {
                continue;
            }
            if self.flow_map.contains_key(&FlowKey::new(remote, port)) {
                continue;
            }
            if let Some(rss) = self.rss {
                let hash = mtcp_io::rss::flow_hash(
                    remote.ip().octets(),
                    self.net.ip.octets(),
                    remote.port(),
                    port,
                );
                if mtcp_io::rss::queue_for(hash, rss.num_queues) != rss.queue {
                    continue;
                }
            }
            return Some(port);
        }
        None
    }

    pub(crate) fn init_rss(&mut self, saddr: Ipv4Addr, num_addrs: i32, num_queues: usize) -> R<()> {
        self.check_alive()?;
        if num_addrs < 1 || (!saddr.is_unspecified() && saddr != self.net.ip) {
            return Err(Errno::EINVAL);
        }
        self.rss = (num_queues > 1).then_some(RssFilter {
            queue: self.cpu,
            num_queues,
        });
        Ok(())
    }

    // ------------------------------------------------------------------ data

    pub(crate) fn recv(&mut self, s: SockId, buf: &mut [u8], flags: i32) -> R<usize> {
        // One look at the descriptor; the errors in Linux's order (a pipe takes no flags,
        // then EINVAL, ENOTSOCK, ENOTCONN).
        let flow = match &self.sock(s)?.kind {
            Kind::Stream(st) => Ok(st.flow),
            Kind::Listener(_) => Ok(None),
            &Kind::PipeRead(p) => return self.pipe_read(p, buf),
            _ => Err(Errno::ENOTSOCK),
        };
        if flags & !MSG_PEEK != 0 {
            return Err(Errno::EINVAL);
        }
        let fid = flow?.ok_or(Errno::ENOTCONN)?;
        let r = self.conn_mut(fid).recv(buf, flags & MSG_PEEK != 0);
        // Only a read that consumed something (or an error) can open the window or change
        // readiness; an EAGAIN must not schedule work, or a polling app would spin the loop.
        if flags & MSG_PEEK == 0 && !matches!(r, Err(Errno::EAGAIN)) {
            self.after_call_event(fid, s);
        }
        r
    }

    pub(crate) fn readv(&mut self, s: SockId, bufs: &mut [&mut [u8]]) -> R<usize> {
        let mut total = 0;
        for (i, buf) in bufs.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            match self.recv(s, buf, 0) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if i == 0 || total == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(total)
    }

    pub(crate) fn send(&mut self, s: SockId, data: &[u8]) -> R<usize> {
        let fid = match &self.sock(s)?.kind {
            Kind::Stream(st) => st.flow.ok_or(Errno::EPIPE)?,
            Kind::Listener(_) => return Err(Errno::EPIPE),
            &Kind::PipeWrite(p) => return self.pipe_write(p, data),
            _ => return Err(Errno::ENOTSOCK),
        };
        let r = self.conn_mut(fid).send(data);
        match r {
            Ok(n) if n > 0 => self.after_send(fid, s),
            Err(Errno::EAGAIN) | Ok(_) => {}
            // A pending error was reported (and cleared).
            Err(_) => self.after_call_event(fid, s),
        }
        r
    }

    pub(crate) fn writev(&mut self, s: SockId, bufs: &[&[u8]]) -> R<usize> {
        let mut total = 0;
        for buf in bufs {
            if buf.is_empty() {
                continue;
            }
            match self.send(s, buf) {
                Ok(n) => {
                    total += n;
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if total == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if total == 0 && bufs.iter().all(|b| b.is_empty()) {
            // Nothing to send still checks the descriptor.
            self.sock(s)?;
        }
        Ok(total)
    }

    // ------------------------------------------------------------------ shutdown, close

    pub(crate) fn shutdown(&mut self, s: SockId, how: i32, now: Instant) -> R<()> {
        let fid = self.flow_of(s)?;
        if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let fid = fid.ok_or(Errno::ENOTCONN)?;
        let conn = self.conn_mut(fid);
        if matches!(conn.state(), State::Closed | State::SynSent | State::Listen) {
            return Err(Errno::ENOTCONN);
        }
        if how == SHUT_RD || how == SHUT_RDWR {
            conn.shutdown_read();
        }
        if how == SHUT_WR || how == SHUT_RDWR {
            conn.shutdown_write(now);
        }
        self.after_call_event(fid, s);
        Ok(())
    }

    pub(crate) fn close(&mut self, s: SockId, now: Instant) -> R<()> {
        self.release_descriptor(s, now, false)
    }

    pub(crate) fn abort(&mut self, s: SockId, now: Instant) -> R<()> {
        match self.sock(s)?.kind {
            Kind::Stream(_) => self.release_descriptor(s, now, true),
            _ => Err(Errno::ENOTSOCK),
        }
    }

    /// A closed stream's port and connection: the port is unbound, the connection closed
    /// (FIN after queued data) or aborted (RST) and left to finish without its descriptor.
    fn release_stream(
        &mut self,
        bound: Option<SocketAddrV4>,
        flow: Option<FlowId>,
        abort: bool,
        now: Instant,
    ) {
        if let Some(b) = bound {
            self.unbind(b.port());
        }
        if let Some(fid) = flow {
            let conn = self.conn_mut(fid);
            if abort {
                conn.abort(now);
            } else {
                conn.close(now);
            }
            self.drop_socket_flow(fid);
        }
    }

    fn release_descriptor(&mut self, s: SockId, now: Instant, abort: bool) -> R<()> {
        if let Kind::Stream(st) = &self.sock(s)?.kind {
            // The usual case, a stream: freed in place (moving the socket out copies it).
            let (bound, flow) = (st.bound, st.flow);
            self.sockets.free(s as u32);
            self.release_stream(bound, flow, abort, now);
            return Ok(());
        }
        let sock = self.sockets.remove(s as u32).expect("checked above");
        match sock.kind {
            Kind::Stream(st) => self.release_stream(st.bound, st.flow, abort, now),
            Kind::Listener(l) => {
                self.listeners[l.local.port() as usize] = -1;
                self.unbind(l.local.port());
                // Queued and half-open connections are reset, as Linux does.
                let pending: Vec<FlowId> = self
                    .flows
                    .ids()
                    .into_iter()
                    .filter(|&f| {
                        self.flows
                            .get(f)
                            .is_some_and(|fl| fl.owner == Owner::Pending(s))
                    })
                    .collect();
                for fid in pending {
                    if let Some(flow) = self.flows.get_mut(fid) {
                        flow.owner = Owner::Orphan;
                        flow.in_accept_queue = false;
                        flow.conn.abort(now);
                    }
                    self.after_flow_event(fid, false);
                }
            }
            Kind::Epoll(_) => {}
            Kind::PipeRead(p) => self.close_pipe_end(p, true),
            Kind::PipeWrite(p) => self.close_pipe_end(p, false),
        }
        Ok(())
    }

    fn unbind(&mut self, port: u16) {
        let n = &mut self.bound_ports[port as usize];
        *n = n.saturating_sub(1);
    }

    // ------------------------------------------------------------------ options, names

    pub(crate) fn getsockopt(&mut self, s: SockId, level: i32, opt: i32) -> R<i32> {
        let sock = self.sock(s)?;
        let flow = match &sock.kind {
            Kind::Stream(st) => st.flow,
            Kind::Listener(_) => None,
            _ => return Err(Errno::ENOTSOCK),
        };
        let listening = matches!(sock.kind, Kind::Listener(_));
        let o = sock.opts;
        match (level, opt) {
            (SOL_SOCKET, SO_ERROR) => {
                // EPOLLERR goes with the error (`call_on` touches the descriptor).
                let e = flow.and_then(|f| self.conn_mut(f).take_error());
                Ok(e.map_or(0, |e| e.raw()))
            }
            (SOL_SOCKET, SO_TYPE) => Ok(SOCK_STREAM),
            (SOL_SOCKET, SO_ACCEPTCONN) => Ok(listening as i32),
            (SOL_SOCKET, SO_RCVBUF) => Ok(o.rcvbuf as i32),
            (SOL_SOCKET, SO_SNDBUF) => Ok(o.sndbuf as i32),
            // As an int, Linux (and Python's socket) read l_onoff.
            (SOL_SOCKET, SO_LINGER) => Ok(o.linger.is_some() as i32),
            (SOL_SOCKET, SO_KEEPALIVE) => Ok(o.keepalive as i32),
            (SOL_SOCKET, SO_REUSEADDR) => Ok(o.reuseaddr as i32),
            (SOL_SOCKET, SO_REUSEPORT) => Ok(o.reuseport as i32),
            (SOL_SOCKET, _) => Err(Errno::ENOPROTOOPT),
            (IPPROTO_TCP, TCP_NODELAY) => Ok(o.nodelay as i32),
            (IPPROTO_TCP, TCP_MAXSEG) => Ok(flow.map_or(536, |f| i32::from(self.conn(f).mss()))),
            (IPPROTO_TCP, TCP_KEEPIDLE) => Ok(o.keepidle),
            (IPPROTO_TCP, TCP_KEEPINTVL) => Ok(o.keepintvl),
            (IPPROTO_TCP, TCP_KEEPCNT) => Ok(o.keepcnt),
            (IPPROTO_TCP, TCP_USER_TIMEOUT) => Ok(o.user_timeout_ms),
            (IPPROTO_TCP, TCP_CONGESTION) => Ok(match o.congestion {
                CongestionAlgorithm::NewReno => TCP_CA_NEWRENO,
                CongestionAlgorithm::Cubic => TCP_CA_CUBIC,
                CongestionAlgorithm::Bbr => TCP_CA_BBR,
            }),
            (IPPROTO_TCP, _) => Err(Errno::ENOPROTOOPT),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    pub(crate) fn setsockopt(&mut self, s: SockId, level: i32, opt: i32, value: i32) -> R<()> {
        let sock = self.sock(s)?;
        let flow = match &sock.kind {
            Kind::Stream(st) => st.flow,
            Kind::Listener(_) => None,
            _ => return Err(Errno::ENOTSOCK),
        };
        let positive = |v: i32| if v >= 1 { Ok(v) } else { Err(Errno::EINVAL) };
        let mut opts = sock.opts;
        match (level, opt) {
            // Linux doubles the value for bookkeeping overhead; mtcp uses it as given, with
            // mTCP's 64-byte minimum.
            (SOL_SOCKET, SO_RCVBUF) => opts.rcvbuf = (value.max(64)) as usize,
            (SOL_SOCKET, SO_SNDBUF) => opts.sndbuf = (value.max(64)) as usize,
            (SOL_SOCKET, SO_LINGER) => {
                opts.linger = (value >= 0).then(|| Duration::from_secs(value as u64));
            }
            (SOL_SOCKET, SO_KEEPALIVE) => opts.keepalive = value != 0,
            (SOL_SOCKET, SO_REUSEADDR) => opts.reuseaddr = value != 0,
            (SOL_SOCKET, SO_REUSEPORT) => opts.reuseport = value != 0,
            (SOL_SOCKET, _) => return Err(Errno::ENOPROTOOPT),
            (IPPROTO_TCP, TCP_NODELAY) => opts.nodelay = value != 0,
            (IPPROTO_TCP, TCP_MAXSEG) => {
                if !(88..=32767).contains(&value) {
                    return Err(Errno::EINVAL);
                }
            }
            (IPPROTO_TCP, TCP_KEEPIDLE) => opts.keepidle = positive(value)?,
            (IPPROTO_TCP, TCP_KEEPINTVL) => opts.keepintvl = positive(value)?,
            (IPPROTO_TCP, TCP_KEEPCNT) => opts.keepcnt = positive(value)?,
            // Linux: a negative user timeout is EINVAL, 0 turns it off.
            (IPPROTO_TCP, TCP_USER_TIMEOUT) if value < 0 => return Err(Errno::EINVAL),
            (IPPROTO_TCP, TCP_USER_TIMEOUT) => opts.user_timeout_ms = value,
            (IPPROTO_TCP, TCP_CONGESTION) => {
                opts.congestion = match value {
                    TCP_CA_NEWRENO => CongestionAlgorithm::NewReno,
                    TCP_CA_CUBIC => CongestionAlgorithm::Cubic,
                    TCP_CA_BBR => CongestionAlgorithm::Bbr,
                    // Linux: ENOENT for an unknown algorithm name.
                    _ => return Err(Errno::ENOENT),
                }
            }
            (IPPROTO_TCP, _) => return Err(Errno::ENOPROTOOPT),
            _ => return Err(Errno::EOPNOTSUPP),
        }
        self.sock_mut(s)?.opts = opts;
        if let Some(fid) = flow {
            let conn = self.conn_mut(fid);
            conn.set_nodelay(opts.nodelay);
            conn.set_linger(opts.linger);
            conn.set_keepalive(crate::engine::keepalive_of(&opts));
            conn.set_user_timeout(crate::engine::user_timeout_of(&opts));
            conn.set_congestion(opts.congestion);
            self.after_call_event(fid, s);
        }
        Ok(())
    }

    pub(crate) fn getsockname(&self, s: SockId) -> R<SocketAddrV4> {
        match &self.sock(s)?.kind {
            Kind::Stream(st) => Ok(match (st.flow, st.bound) {
                (Some(f), _) => self.conn(f).local(),
                (None, Some(b)) => b,
                (None, None) => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            }),
            Kind::Listener(l) => Ok(l.local),
            _ => Err(Errno::ENOTSOCK),
        }
    }

    pub(crate) fn getpeername(&self, s: SockId) -> R<SocketAddrV4> {
        let fid = self.flow_of(s)?.ok_or(Errno::ENOTCONN)?;
        let conn = self.conn(fid);
        match conn.state() {
            State::Closed | State::SynSent | State::Listen => Err(Errno::ENOTCONN),
            _ => Ok(conn.remote()),
        }
    }

    pub(crate) fn ioctl(&self, s: SockId, request: i32) -> R<i32> {
        let sock = self.sock(s)?;
        match request {
            FIONREAD => match &sock.kind {
                Kind::Stream(st) => Ok(st.flow.map_or(0, |f| self.conn(f).recv_queue() as i32)),
                Kind::Listener(_) => Err(Errno::EINVAL),
                Kind::PipeRead(p) => Ok(self.pipes.get(*p).map_or(0, |p| p.data.len() as i32)),
                _ => Err(Errno::ENOTSOCK),
            },
            // Sockets are always non-blocking; FIONBIO is accepted as in mTCP.
            FIONBIO => Ok(0),
            _ => Err(Errno::EINVAL),
        }
    }

    pub(crate) fn setsock_nonblock(&self, s: SockId) -> R<()> {
        self.sock(s).map(|_| ())
    }

    // ------------------------------------------------------------------ epoll

    pub(crate) fn epoll_create(&mut self, size: i32) -> R<SockId> {
        self.check_alive()?;
        if size <= 0 {
            return Err(Errno::EINVAL);
        }
        self.epoll_serial += 1;
        let kind = Kind::Epoll(EpollInstance {
            serial: self.epoll_serial,
            ready: Default::default(),
        });
        let id = self
            .sockets
            .insert(Socket::new(kind, self.default_opts))
            .ok_or(Errno::ENFILE)?;
        Ok(id as SockId)
    }

    pub(crate) fn epoll_ctl(&mut self, epid: SockId, op: i32, s: SockId, events: u32) -> R<()> {
        let serial = match &self.sock(epid)?.kind {
            Kind::Epoll(ep) => ep.serial,
            _ => return Err(Errno::EINVAL),
        };
        if s == epid {
            return Err(Errno::EINVAL);
        }
        let sock = self.sock_mut(s)?;
        if matches!(sock.kind, Kind::Epoll(_)) {
            return Err(Errno::EINVAL); // nested epoll is not supported
        }
        let registered = sock
            .reg
            .is_some_and(|r| r.epid == epid && r.serial == serial);
        match op {
            MTCP_EPOLL_CTL_ADD => {
                if registered {
                    return Err(Errno::EEXIST);
                }
                sock.reg = Some(EpollReg::new(epid, serial, events));
            }
            MTCP_EPOLL_CTL_MOD => {
                if !registered {
                    return Err(Errno::ENOENT);
                }
                sock.reg = Some(EpollReg::new(epid, serial, events));
            }
            MTCP_EPOLL_CTL_DEL => {
                if !registered {
                    return Err(Errno::ENOENT);
                }
                sock.reg = None;
                return Ok(());
            }
            _ => return Err(Errno::EINVAL),
        }
        // ADD and MOD report what is already pending (as Linux and mTCP do): `call_on`
        // touches the descriptor, and the call queues its events before it returns.
        sock.last_events = 0;
        Ok(())
    }

    /// Collects up to `max` ready events of `epid` into `out`.
    pub(crate) fn epoll_collect(
        &mut self,
        epid: SockId,
        max: usize,
        out: &mut Vec<(SockId, u32)>,
    ) -> R<usize> {
        self.update_events();
        let Kind::Epoll(ep) = &mut self.sock_mut(epid)?.kind else {
            return Err(Errno::EINVAL);
        };
        let serial = ep.serial;
        // The usual look (one busy connection, level-triggered): one entry, evaluated where it
        // sits. Evaluating an entry changes only that descriptor, never the queue, so a
        // level-triggered entry that stays needs no second look at the instance (the loop
        // below would leave a lone requeued entry in place too).
        if max > 0 && ep.ready.len() == 1 {
            let (s, generation) = ep.ready[0];
            let found = match self.collect_one(epid, serial, s, generation) {
                Some((events, requeue)) => {
                    out.push((s, events));
                    if requeue {
                        return Ok(1);
                    }
                    1
                }
                None => 0,
            };
            if let Some(Socket {
                kind: Kind::Epoll(ep),
                ..
            }) = self.sockets.get_mut(epid as u32)
            {
                ep.ready.pop_front();
            }
            return Ok(found);
        }
        // The ready queue is taken out while it is walked (one lookup of the instance, not two
        // per entry), and put back after: evaluating an entry changes only that descriptor.
        let mut queue = std::mem::take(&mut ep.ready);
        let mut found = 0;
        for _ in 0..queue.len() {
            if found >= max {
                break;
            }
            let Some(&(s, generation)) = queue.front() else {
                break;
            };
            let requeue = match self.collect_one(epid, serial, s, generation) {
                Some((events, requeue)) => {
                    out.push((s, events));
                    found += 1;
                    requeue
                }
                None => false,
            };
            // A level-triggered socket that stays goes to the back of the queue, where it
            // already is when it is alone there (a connection's usual case).
            if !(requeue && queue.len() == 1) {
                queue.pop_front();
                if requeue {
                    queue.push_back((s, generation));
                }
            }
        }
        if let Some(Socket {
            kind: Kind::Epoll(ep),
            ..
        }) = self.sockets.get_mut(epid as u32)
        {
            ep.ready = queue;
        }
        Ok(found)
    }

    /// Evaluates ready-queue entry `(s, generation)` of epoll `epid`: the events to report, if
    /// any, and whether the entry stays queued (level-triggered).
    #[inline]
    fn collect_one(
        &mut self,
        epid: SockId,
        serial: u64,
        s: SockId,
        generation: u32,
    ) -> Option<(u32, bool)> {
        // Queued for a descriptor closed since: nothing to report (the one now in its slot has
        // its own entry when it has events, as Linux drops closed descriptors).
        if generation != self.sockets.generation(s as u32) {
            return None;
        }
        let sock = self.sockets.get(s as u32)?;
        // Unchanged since `queue_touched` or the last collection looked at it (nothing touched
        // it since): the same events.
        let ready = match sock.readiness {
            READINESS_STALE => self.readiness_of(sock),
            known => {
                debug_assert_eq!(
                    known,
                    self.readiness_of(sock),
                    "descriptor {s}: its readiness changed without a touch"
                );
                known
            }
        };
        let sock = self.sockets.get_mut(s as u32)?;
        sock.readiness = ready;
        let reg = sock.reg.filter(|r| r.epid == epid && r.serial == serial)?;
        sock.queued = false;
        let events = ready & reg.events;
        if events == 0 {
            return None;
        }
        let requeue = if reg.events & MTCP_EPOLLONESHOT != 0 {
            sock.reg = Some(reg.disarmed());
            false
        } else {
            // Level-triggered: stays ready until the condition clears.
            reg.events & MTCP_EPOLLET == 0
        };
        sock.queued = requeue;
        Some((events, requeue))
    }

    // ------------------------------------------------------------------ pipes

    pub(crate) fn pipe(&mut self) -> R<(SockId, SockId)> {
        self.check_alive()?;
        if self.sockets.available() < 2 {
            return Err(Errno::ENFILE);
        }
        let r = self
            .sockets
            .insert(Socket::new(Kind::PipeRead(u32::MAX), self.default_opts));
        let w = self
            .sockets
            .insert(Socket::new(Kind::PipeWrite(u32::MAX), self.default_opts));
        let (r, w) = (
            r.expect("two free") as SockId,
            w.expect("two free") as SockId,
        );
        let Some(p) = self.pipes.insert(Pipe::new(r, w)) else {
            self.sockets.remove(r as u32);
            self.sockets.remove(w as u32);
            return Err(Errno::ENFILE);
        };
        self.sockets.get_mut(r as u32).expect("just made").kind = Kind::PipeRead(p);
        self.sockets.get_mut(w as u32).expect("just made").kind = Kind::PipeWrite(p);
        Ok((r, w))
    }

    fn pipe_read(&mut self, p: u32, buf: &mut [u8]) -> R<usize> {
        let pipe = self.pipes.get_mut(p).ok_or(Errno::EBADF)?;
        if pipe.data.is_empty() {
            return if pipe.writer.is_none() {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = buf.len().min(pipe.data.len());
        for (dst, src) in buf[..n].iter_mut().zip(pipe.data.drain(..n)) {
            *dst = src;
        }
        if let Some(w) = pipe.writer {
            self.touch(w, true);
        }
        Ok(n)
    }

    fn pipe_write(&mut self, p: u32, data: &[u8]) -> R<usize> {
        let pipe = self.pipes.get_mut(p).ok_or(Errno::EBADF)?;
        if pipe.reader.is_none() {
            return Err(Errno::EPIPE);
        }
        let n = data.len().min(pipe.space());
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        pipe.data.extend(&data[..n]);
        if let Some(r) = pipe.reader {
            self.touch(r, true);
        }
        Ok(n)
    }

    fn close_pipe_end(&mut self, p: u32, reader: bool) {
        let Some(pipe) = self.pipes.get_mut(p) else {
            return;
        };
        if reader {
            pipe.reader = None;
        } else {
            pipe.writer = None;
        }
        let other = if reader { pipe.writer } else { pipe.reader };
        if pipe.reader.is_none() && pipe.writer.is_none() {
            self.pipes.remove(p);
        }
        if let Some(o) = other {
            self.touch(o, true);
        }
    }

    // ------------------------------------------------------------------ teardown

    /// Closes every descriptor (mtcp_destroy_context): connections are aborted with RST.
    pub(crate) fn destroy(&mut self, now: Instant) {
        if self.destroyed {
            return;
        }
        for s in self.sockets.occupied() {
            let abort = matches!(self.sockets.get(s).map(|x| &x.kind), Some(Kind::Stream(_)));
            let _ = self.release_descriptor(s as SockId, now, abort);
        }
        for fid in self.flows.ids() {
            if let Some(flow) = self.flows.get_mut(fid) {
                flow.conn.abort(now);
            }
            self.after_flow_event(fid, false);
        }
        self.destroyed = true;
    }
}
