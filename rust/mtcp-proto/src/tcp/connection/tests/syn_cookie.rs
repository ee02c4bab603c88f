//! Connections opened by a SYN cookie (`Connection::accept_cookie`, RFC 4987 §3.6).
use super::*;
use crate::tcp::{CookieOptions, SynCookies};

/// The cookie handshake as the runtime runs it: SYN-ACK from `SynCookies`, the peer's ACK
/// (with `payload`), the cookie checked, the connection created.
fn cookie_open(config: &TcpConfig, syn: &TcpRepr<'_>, payload: &'static [u8]) -> Connection {
    let cookies = SynCookies::new(0x5eed);
    let syn_ack = cookies.syn_ack(config, LOCAL, REMOTE, syn, at(0));
    let ack = TcpRepr {
        seq_number: REMOTE_SEQ + 1,
        ack_number: syn_ack.seq_number + 1,
        timestamp: syn_ack.timestamp.map(|ts| TcpTimestamp {
            tsval: 500,
            tsecr: ts.tsval,
        }),
        payload,
        ..SEND_TEMPL
    };
    let options = cookies
        .check(config, LOCAL, REMOTE, &ack, at(10))
        .expect("valid cookie");
    Connection::accept_cookie(config, LOCAL, REMOTE, &ack, &options, at(10))
}

#[test]
fn test_cookie_ack_establishes_and_takes_data() {
    let mut c = cookie_open(&plain(), &remote_syn(), b"hello");
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.mss(), 1460);
    let mut buf = [0u8; 16];
    assert_eq!(c.recv(&mut buf, false), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // Our data starts right after the cookie ISN and is acknowledged normally.
    c.send(b"world").unwrap();
    let out = drain(&mut c, 20);
    let data = out.iter().find(|o| !o.payload.is_empty()).expect("data");
    assert_eq!(data.payload, b"world");
    assert_eq!(data.ack(), REMOTE_SEQ + 6);
    let iss = data.seq() - 1;
    send(
        &mut c,
        30,
        TcpRepr {
            seq_number: REMOTE_SEQ + 6,
            ..ack(iss + 6)
        },
    );
    assert_eq!(c.send_queue(), 0);
}

#[test]
fn test_cookie_keeps_options_through_timestamps() {
    let config = TcpConfig {
        rcvbuf: 1 << 20,
        ..TcpConfig::default()
    };
    let syn = TcpRepr {
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some(TcpTimestamp {
            tsval: 400,
            tsecr: 0,
        }),
        ..remote_syn()
    };
    let c = cookie_open(&config, &syn, b"");
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.window_scale(), Some((7, 5)));
    assert!(c.sack_enabled());
    assert!(c.timestamps_enabled());
    // The ACK's window is scaled by the peer's shift.
    assert_eq!(c.send_window(), usize::from(PEER_WINDOW) << 7);
}

#[test]
fn test_cookie_without_timestamps_has_no_options() {
    let syn = TcpRepr {
        window_scale: Some(7),
        sack_permitted: true,
        max_seg_size: Some(1400),
        ..remote_syn()
    };
    let c = cookie_open(&TcpConfig::default(), &syn, b"");
    assert_eq!(c.window_scale(), None);
    assert!(!c.sack_enabled() && !c.timestamps_enabled());
    // 1400 is not in the table: the next smaller entry.
    assert_eq!(c.mss(), 1300);
}

#[test]
fn test_cookie_ack_with_fin_goes_to_close_wait() {
    let config = plain();
    let cookies = SynCookies::new(1);
    let syn_ack = cookies.syn_ack(&config, LOCAL, REMOTE, &remote_syn(), at(0));
    let fin = TcpRepr {
        seq_number: REMOTE_SEQ + 1,
        ack_number: syn_ack.seq_number + 1,
        flags: TcpFlags::ACK | TcpFlags::FIN,
        ..SEND_TEMPL
    };
    let options = CookieOptions {
        mss: 1460,
        window_scale: None,
        sack: false,
        timestamps: false,
    };
    let mut c = Connection::accept_cookie(&config, LOCAL, REMOTE, &fin, &options, at(5));
    assert_eq!(c.state(), State::CloseWait);
    // The ACK of the FIN is delayed (it may go out with our FIN).
    recv_nothing(&mut c, 5);
    let delayed = 5 + config.delayed_ack.total_millis();
    tick(&mut c, delayed);
    assert_eq!(recv_one(&mut c, delayed).ack(), REMOTE_SEQ + 2);
}
