//! SYN cookies (RFC 4987 §3.6), laid out as Linux's `net/ipv4/syncookies.c`: when a
//! listener's SYN queue is full, the SYN-ACK's ISN carries everything the handshake needs and
//! nothing is kept; the peer's ACK (SEG.ACK − 1 = the cookie) brings it back.
//!
//! The cookie is `H1(4-tuple) + peer ISN + (count << 24) + ((H2(4-tuple, count) + mss_index)
//! mod 2^24)`, with `count` a 64-second clock and `H1`, `H2` SipHash-2-4 under two secret keys
//! (as RFC 6528 asks of ISNs). It is valid for the current and the previous count (64–128 s).
//! The MSS is one of four values (Linux's table: 536, 1300, 1440, 1460).
//!
//! Options: when the SYN carries timestamps (RFC 7323), the low 5 bits of our SYN-ACK's TSval
//! hold the peer's window scale (0xf = none) and SACK-permitted, and the peer echoes them in
//! TSecr, as Linux does; without timestamps a cookie connection has no window scaling and no
//! SACK (nowhere to keep them).
use core::net::SocketAddrV4;

use super::options::{window_shift_for, MAX_WINDOW_SHIFT};
use super::TcpConfig;
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpFlags, TcpRepr, TcpTimestamp};

/// Linux's `net.ipv4.tcp_syncookies`: when a listener answers SYNs with cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynCookieMode {
    /// 0: never; a SYN that finds the SYN queue full is dropped (the peer retries).
    Off,
    /// 1 (default): when the listener's SYN queue (half-open connections) is full.
    #[default]
    WhenFull,
    /// 2: always, for every SYN (no half-open state at all).
    Always,
}

/// The MSS values a cookie can carry (Linux's `msstab`), smallest first.
const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// Bits of the cookie below the time count.
const COUNT_SHIFT: u32 = 24;
const LOW_MASK: u32 = (1 << COUNT_SHIFT) - 1;
/// Length of one count, in milliseconds (Linux: one minute).
const COUNT_PERIOD_MS: u64 = 64_000;
/// A cookie is accepted while the count has advanced by less than this (Linux's
/// `MAX_SYNCOOKIE_AGE`).
const MAX_AGE: u32 = 2;
/// Bits of TSval that carry the options.
const TS_OPTION_BITS: u32 = 5;
const TS_WSCALE_NONE: u32 = 0xf;
const TS_SACK: u32 = 0x10;

/// How long after the last cookie was sent the runtime should still check ACKs for cookies
/// when the mode is [`SynCookieMode::WhenFull`] (the cookie's lifetime).
pub const COOKIE_LIFETIME_MS: u64 = COUNT_PERIOD_MS * MAX_AGE as u64;

/// What a valid cookie gives back: the handshake's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieOptions {
    /// The send MSS cap (the MSS table's entry, at most our own MSS).
    pub mss: u16,
    /// The peer's window scale shift, when both sides offered scaling.
    pub window_scale: Option<u8>,
    /// Both sides offered SACK.
    pub sack: bool,
    /// Both sides use timestamps.
    pub timestamps: bool,
}

/// The secret keys of one listener context's cookies.
#[derive(Clone)]
pub struct SynCookies {
    key1: [u64; 2],
    key2: [u64; 2],
}

impl core::fmt::Debug for SynCookies {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SynCookies { .. }") // keys stay secret
    }
}

impl SynCookies {
    /// Cookies keyed from `secret` (the runtime draws it at random; expanded with splitmix64).
    pub fn new(secret: u64) -> SynCookies {
        let mut state = secret;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        SynCookies {
            key1: [next(), next()],
            key2: [next(), next()],
        }
    }

    /// The SYN-ACK answering `syn` (from `remote` to our `local`) whose ISN is a cookie; only
    /// `config`'s MSS, buffers and option switches are used. The window is unscaled
    /// (RFC 7323 §2.2) and equals what [`super::Connection::accept_cookie`] assumes.
    pub fn syn_ack(
        &self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &TcpRepr<'_>,
        now: Instant,
    ) -> TcpRepr<'static> {
        let peer_mss = syn.max_seg_size.unwrap_or(MSS_TABLE[0]);
        let mss_index = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let cookie = self.cookie(local, remote, syn.seq_number, count(now), mss_index as u32);
        let mut repr = TcpRepr::new(local.port(), remote.port());
        repr.seq_number = cookie;
        repr.ack_number = syn.seq_number + 1;
        repr.flags = TcpFlags::SYN | TcpFlags::ACK;
        repr.window_len = config.rcvbuf.min(usize::from(u16::MAX)) as u16;
        repr.max_seg_size = Some(config.mss);
        if let (true, Some(ts)) = (config.timestamps, syn.timestamp) {
            let wscale = syn.window_scale.filter(|_| config.window_scaling);
            let sack = config.sack && syn.sack_permitted;
            let bits = wscale.map_or(TS_WSCALE_NONE, |s| u32::from(s.min(MAX_WINDOW_SHIFT)))
                | if sack { TS_SACK } else { 0 };
            repr.timestamp = Some(TcpTimestamp {
                tsval: encode_tsval(ts_clock(cookie, now), bits),
                tsecr: ts.tsval,
            });
            repr.window_scale = wscale.map(|_| window_shift_for(config.rcvbuf));
            repr.sack_permitted = sack;
        }
        repr
    }

    /// Checks the cookie in `ack` (SEG.ACK − 1), an ACK without SYN or RST from `remote` that
    /// matched no connection on `local`: the options to open the connection with, or `None`
    /// when the cookie is forged, stale, or its options disagree with `config`.
    pub fn check(
        &self,
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        ack: &TcpRepr<'_>,
        now: Instant,
    ) -> Option<CookieOptions> {
        if !ack.flags.ack() || ack.flags.syn() || ack.flags.rst() {
            return None;
        }
        let cookie = ack.ack_number - 1;
        let peer_isn = ack.seq_number - 1;
        let rest = cookie
            .0
            .wrapping_sub(self.h1(local, remote))
            .wrapping_sub(peer_isn.0);
        let now_count = count(now);
        let age = now_count.wrapping_sub(rest >> COUNT_SHIFT) & (u32::MAX >> COUNT_SHIFT);
        if age >= MAX_AGE {
            return None;
        }
        let cookie_count = now_count.wrapping_sub(age);
        let mss_index =
            (rest.wrapping_sub(self.h2(local, remote, cookie_count)) & LOW_MASK) as usize;
        let mss = *MSS_TABLE.get(mss_index)?;
        let mut options = CookieOptions {
            mss: mss.min(config.mss),
            window_scale: None,
            sack: false,
            timestamps: false,
        };
        if let (true, Some(ts)) = (config.timestamps, ack.timestamp) {
            let bits = ts.tsecr & ((1 << TS_OPTION_BITS) - 1);
            let wscale = bits & TS_WSCALE_NONE;
            let sack = bits & TS_SACK != 0;
            if (wscale != TS_WSCALE_NONE && (!config.window_scaling || wscale > 14))
                || (sack && !config.sack)
            {
                return None;
            }
            options.window_scale = (wscale != TS_WSCALE_NONE).then_some(wscale as u8);
            options.sack = sack;
            options.timestamps = true;
        }
        Some(options)
    }

    fn cookie(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNumber,
        count: u32,
        mss_index: u32,
    ) -> SeqNumber {
        let low = self.h2(local, remote, count).wrapping_add(mss_index) & LOW_MASK;
        SeqNumber(
            self.h1(local, remote)
                .wrapping_add(peer_isn.0)
                .wrapping_add(count << COUNT_SHIFT)
                .wrapping_add(low),
        )
    }

    fn h1(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let [a, b] = tuple_words(local, remote);
        siphash24(self.key1, &[a, b]) as u32
    }

    fn h2(&self, local: SocketAddrV4, remote: SocketAddrV4, count: u32) -> u32 {
        let [a, b] = tuple_words(local, remote);
        siphash24(self.key2, &[a, b, u64::from(count)]) as u32
    }
}

/// The 64-second clock of the cookie (wraps; only differences of the low 8 bits matter).
fn count(now: Instant) -> u32 {
    (now.total_millis() / COUNT_PERIOD_MS) as u32
}

/// The connection's timestamps clock once it exists: milliseconds offset by the ISS, as
/// `Connection::ts_clock`.
fn ts_clock(iss: SeqNumber, now: Instant) -> u32 {
    (now.total_millis() as u32).wrapping_add(iss.0)
}

/// TSval with `bits` in its low bits, never ahead of `clock` (Linux's
/// `cookie_init_timestamp`): the peer's RTT samples may be a few ms long, never negative.
fn encode_tsval(clock: u32, bits: u32) -> u32 {
    let ts = (clock >> TS_OPTION_BITS << TS_OPTION_BITS) | bits;
    if (ts.wrapping_sub(clock) as i32) > 0 {
        ((clock >> TS_OPTION_BITS).wrapping_sub(1) << TS_OPTION_BITS) | bits
    } else {
        ts
    }
}

fn tuple_words(local: SocketAddrV4, remote: SocketAddrV4) -> [u64; 2] {
    [
        u64::from(local.ip().to_bits()) << 32 | u64::from(remote.ip().to_bits()),
        u64::from(local.port()) << 16 | u64::from(remote.port()),
    ]
}

/// SipHash-2-4 of 64-bit words (their little-endian bytes).
fn siphash24(key: [u64; 2], words: &[u64]) -> u64 {
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut v = [
        key[0] ^ 0x736f_6d65_7073_6575,
        key[1] ^ 0x646f_7261_6e64_6f6d,
        key[0] ^ 0x6c79_6765_6e65_7261,
        key[1] ^ 0x7465_6462_7974_6573,
    ];
    for &m in words {
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let last = ((words.len() as u64 * 8) & 0xff) << 56;
    v[3] ^= last;
    round(&mut v);
    round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::Ipv4Addr;

    const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 1), 80);
    const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 49500);

    fn syn(mss: Option<u16>, ts: bool, ws: Option<u8>, sack: bool) -> TcpRepr<'static> {
        let mut syn = TcpRepr::new(REMOTE.port(), LOCAL.port());
        syn.seq_number = SeqNumber(0x1234_5678);
        syn.flags = TcpFlags::SYN;
        syn.window_len = 65535;
        syn.max_seg_size = mss;
        syn.window_scale = ws;
        syn.sack_permitted = sack;
        syn.timestamp = ts.then_some(TcpTimestamp {
            tsval: 777,
            tsecr: 0,
        });
        syn
    }

    /// The peer's final ACK for `syn_ack`.
    fn ack_for(syn: &TcpRepr<'_>, syn_ack: &TcpRepr<'_>) -> TcpRepr<'static> {
        let mut ack = TcpRepr::new(REMOTE.port(), LOCAL.port());
        ack.seq_number = syn.seq_number + 1;
        ack.ack_number = syn_ack.seq_number + 1;
        ack.flags = TcpFlags::ACK;
        ack.timestamp = syn_ack.timestamp.map(|ts| TcpTimestamp {
            tsval: 778,
            tsecr: ts.tsval,
        });
        ack
    }

    #[test]
    fn siphash_matches_reference_vector() {
        // The reference implementation's test vector 8: key 00..0f, message 00..07, output
        // bytes 62 24 93 9a 79 f5 f5 93.
        let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
        assert_eq!(
            siphash24(key, &[0x0706_0504_0302_0100]),
            0x93f5_f579_9a93_2462
        );
    }

    #[test]
    fn cookie_round_trips_mss_and_options() {
        let cookies = SynCookies::new(42);
        let config = TcpConfig::default();
        for (mss, want) in [
            (Some(1460), 1460),
            (Some(1400), 1300),
            (None, 536),
            (Some(100), 536),
        ] {
            let syn = syn(mss, true, Some(7), true);
            let now = Instant::from_millis(5_000);
            let syn_ack = cookies.syn_ack(&config, LOCAL, REMOTE, &syn, now);
            assert_eq!(syn_ack.flags, TcpFlags::SYN | TcpFlags::ACK);
            assert_eq!(syn_ack.ack_number, syn.seq_number + 1);
            assert_eq!(syn_ack.window_scale, Some(0));
            assert!(syn_ack.sack_permitted);
            let tsval = syn_ack.timestamp.unwrap().tsval;
            assert!((ts_clock(syn_ack.seq_number, now).wrapping_sub(tsval) as i32) >= 0);
            let ack = ack_for(&syn, &syn_ack);
            let got = cookies.check(
                &config,
                LOCAL,
                REMOTE,
                &ack,
                now + crate::time::Duration::from_millis(50),
            );
            assert_eq!(
                got,
                Some(CookieOptions {
                    mss: want,
                    window_scale: Some(7),
                    sack: true,
                    timestamps: true
                }),
                "peer mss {mss:?}"
            );
        }
    }

    #[test]
    fn cookie_without_timestamps_has_no_scaling_or_sack() {
        let cookies = SynCookies::new(7);
        let config = TcpConfig::default();
        let syn = syn(Some(1460), false, Some(7), true);
        let now = Instant::from_millis(1);
        let syn_ack = cookies.syn_ack(&config, LOCAL, REMOTE, &syn, now);
        assert_eq!(
            (
                syn_ack.window_scale,
                syn_ack.sack_permitted,
                syn_ack.timestamp
            ),
            (None, false, None)
        );
        let got = cookies.check(&config, LOCAL, REMOTE, &ack_for(&syn, &syn_ack), now);
        assert_eq!(
            got,
            Some(CookieOptions {
                mss: 1460,
                window_scale: None,
                sack: false,
                timestamps: false
            })
        );
    }

    #[test]
    fn cookie_expires_after_two_periods() {
        let cookies = SynCookies::new(9);
        let config = TcpConfig::default();
        let syn = syn(Some(1460), false, None, false);
        let sent = Instant::from_millis(10 * COUNT_PERIOD_MS + 100);
        let ack = ack_for(&syn, &cookies.syn_ack(&config, LOCAL, REMOTE, &syn, sent));
        let at = |ms: u64| Instant::from_millis(10 * COUNT_PERIOD_MS + ms);
        assert!(cookies
            .check(&config, LOCAL, REMOTE, &ack, at(100))
            .is_some());
        assert!(cookies
            .check(&config, LOCAL, REMOTE, &ack, at(COUNT_PERIOD_MS + 5))
            .is_some());
        assert!(cookies
            .check(&config, LOCAL, REMOTE, &ack, at(2 * COUNT_PERIOD_MS))
            .is_none());
    }

    #[test]
    fn forged_or_misdirected_cookies_fail() {
        let cookies = SynCookies::new(11);
        let config = TcpConfig::default();
        let syn = syn(Some(1460), false, None, false);
        let now = Instant::from_millis(3);
        let ack = ack_for(&syn, &cookies.syn_ack(&config, LOCAL, REMOTE, &syn, now));
        // Another key, another source port, another peer ISN, a guessed ACK number.
        assert!(SynCookies::new(12)
            .check(&config, LOCAL, REMOTE, &ack, now)
            .is_none());
        let other = SocketAddrV4::new(*REMOTE.ip(), REMOTE.port() + 1);
        assert!(cookies.check(&config, LOCAL, other, &ack, now).is_none());
        let wrong_seq = TcpRepr {
            seq_number: ack.seq_number + 1000,
            ..ack
        };
        assert!(cookies
            .check(&config, LOCAL, REMOTE, &wrong_seq, now)
            .is_none());
        // A blind attacker guessing ACK numbers: about 4 in 2^24 per count pass.
        let mut accepted = 0;
        for guess in 0..200_000u32 {
            let forged = TcpRepr {
                ack_number: SeqNumber(guess.wrapping_mul(0x9e37_79b9)),
                ..ack
            };
            accepted += cookies
                .check(&config, LOCAL, REMOTE, &forged, now)
                .is_some() as u32;
        }
        assert!(accepted <= 2, "{accepted} forged cookies accepted");
    }

    #[test]
    fn tsval_encoding_never_runs_ahead() {
        for clock in [0u32, 31, 32, 1000, u32::MAX, 0x8000_0000] {
            for bits in [0, 0xf, 0x1f] {
                let ts = encode_tsval(clock, bits);
                assert_eq!(ts & 0x1f, bits);
                assert!((clock.wrapping_sub(ts) as i32) >= 0, "{clock} {bits}");
                assert!(clock.wrapping_sub(ts) < 64);
            }
        }
    }
}
