//! The handshake's last ACK gives one RTT sample (RFC 6298 §2.2, §3: one measurement per
//! acknowledged segment; RFC 7323 §4.1 from its TSecr), not one for the SYN and another for
//! the same ACK: after a 100 ms handshake SRTT is 100 ms and RTTVAR 50 ms, so the RTO is
//! 100 + 4 * 50 = 300 ms (two samples of the same RTT would make it 250 ms).
use super::*;

fn handshake_rto(timestamps: bool) -> Duration {
    let config = TcpConfig {
        timestamps,
        min_rto: Duration::from_millis(10),
        ..plain()
    };
    let syn = TcpRepr {
        timestamp: timestamps.then_some(TcpTimestamp {
            tsval: 1000,
            tsecr: 0,
        }),
        ..remote_syn()
    };
    let mut c = Connection::accept(&config, LOCAL, REMOTE, &syn, LOCAL_SEQ, at(0));
    let syn_ack = recv_one(&mut c, 0);
    let echoed = syn_ack.repr.timestamp.map(|ts| TcpTimestamp {
        tsval: 1100,
        tsecr: ts.tsval,
    });
    send(
        &mut c,
        100,
        TcpRepr {
            timestamp: echoed,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), Some(Duration::from_millis(100)));
    c.rto()
}

#[test]
fn test_handshake_ack_is_one_rtt_sample_with_timestamps() {
    assert_eq!(handshake_rto(true), Duration::from_millis(300));
}

#[test]
fn test_handshake_ack_is_one_rtt_sample_without_timestamps() {
    assert_eq!(handshake_rto(false), Duration::from_millis(300));
}
