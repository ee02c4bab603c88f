//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)]
use std::io;
use std::net::SocketAddrV4;

use mtcp::consts::*;
use mtcp::sim::{Impairments, Network};
use mtcp::{Config, Context, Errno, SockId};

pub fn errno(r: io::Result<impl Sized>) -> Errno {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => mtcp::errno_of(&e).unwrap_or_else(|| panic!("no errno in {e}")),
    }
}

/// A deterministic byte pattern, different per seed.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub struct SimPair {
    pub net: Network,
    pub server: Context,
    pub client: Context,
    pub server_addr: SocketAddrV4,
}

pub fn sim_pair(seed: u64, imp: Impairments, config: Config) -> SimPair {
    let net = Network::new(seed, imp);
    let a = net
        .add_host("198.18.0.1".parse().unwrap(), config.clone())
        .unwrap();
    let b = net.add_host("198.18.0.2".parse().unwrap(), config).unwrap();
    SimPair {
        server: a.create_context(0).unwrap(),
        client: b.create_context(0).unwrap(),
        net,
        server_addr: "198.18.0.1:80".parse().unwrap(),
    }
}

/// Listener on `addr`.
pub fn listener(ctx: &Context, addr: SocketAddrV4) -> SockId {
    let s = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    ctx.bind(s, addr).unwrap();
    ctx.listen(s, 128).unwrap();
    s
}

/// Opens a connection through the simulated network; returns (client sock, server sock).
pub fn sim_connect(p: &SimPair, lsock: SockId) -> (SockId, SockId) {
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    (
        c,
        sim_handshake(p, c, lsock, mtcp_proto::Duration::from_secs(30)),
    )
}

/// Connects the client's socket `c` (already set up: bound, options) to the server and runs
/// the network for at most `max` until the listener `lsock` accepted it and the client is
/// connected; returns the server's socket.
#[track_caller]
pub fn sim_handshake(p: &SimPair, c: SockId, lsock: SockId, max: mtcp_proto::Duration) -> SockId {
    assert_eq!(
        errno(p.client.connect(c, p.server_addr)),
        Errno::EINPROGRESS
    );
    let mut accepted = None;
    let ok = p.net.run_until(max, &mut || {
        if accepted.is_none() {
            if let Ok((s, _)) = p.server.accept(lsock) {
                accepted = Some(s);
            }
        }
        accepted.is_some() && p.client.getpeername(c).is_ok()
    });
    assert!(ok, "handshake did not complete at {:?}", p.net.now());
    accepted.unwrap()
}

/// Pumps `out` into `s` and reads everything from `s` into `got` until both are done.
pub struct Pump {
    pub ctx: Context,
    pub sock: SockId,
    pub out: Vec<u8>,
    pub sent: usize,
    pub got: Vec<u8>,
    pub eof: bool,
    pub shut: bool,
}

impl Pump {
    pub fn new(ctx: &Context, sock: SockId, out: Vec<u8>) -> Pump {
        Pump {
            ctx: ctx.clone(),
            sock,
            out,
            sent: 0,
            got: Vec::new(),
            eof: false,
            shut: false,
        }
    }

    pub fn step(&mut self) {
        while self.sent < self.out.len() {
            match self.ctx.write(self.sock, &self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if mtcp::errno_of(&e) == Some(Errno::EAGAIN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        if self.sent == self.out.len() && !self.shut {
            self.ctx.shutdown(self.sock, mtcp::consts::SHUT_WR).unwrap();
            self.shut = true;
        }
        let mut buf = [0u8; 16384];
        while !self.eof {
            match self.ctx.read(self.sock, &mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if mtcp::errno_of(&e) == Some(Errno::EAGAIN) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    pub fn done(&self) -> bool {
        self.shut && self.eof
    }
}

/// Sends `data` from `c` (client) to `s` (server) and reads it all, for at most `max` of
/// virtual time; returns what arrived (compare it with `data`).
pub fn transfer_one_way(
    p: &SimPair,
    c: SockId,
    s: SockId,
    data: &[u8],
    max: mtcp_proto::Duration,
) -> Vec<u8> {
    let len = data.len();
    let (mut sent, mut got) = (0, Vec::with_capacity(len));
    let mut buf = vec![0u8; 65536];
    p.net.run_until(max, &mut || {
        while sent < len {
            match p.client.write(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if mtcp::errno_of(&e) == Some(Errno::EAGAIN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        loop {
            match p.server.read(s, &mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                Ok(_) => break,
                Err(e) if mtcp::errno_of(&e) == Some(Errno::EAGAIN) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        got.len() == len
    });
    got
}
