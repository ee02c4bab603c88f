//! The addresses' part of the checksums, summed once per connection (`address_sum`), is that
//! of the connection's own addresses: after opening and after a reopen for other addresses,
//! with full checksums and with the pseudo-header sum a checksum-offloading port finishes.
use super::*;
use crate::wire::checksum;
use crate::wire::{AddressSum, IpProtocol};

const OTHER_LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 200, 3, 4), 8080);
const OTHER_REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(172, 31, 250, 9), 61000);

/// The SYN `c` sends now, checked with the checksum over `local` and `remote`.
#[track_caller]
fn syn_checks_for(c: &mut Connection, local: SocketAddrV4, remote: SocketAddrV4) {
    let mut buf = [0u8; 100];
    let len = c.poll_transmit(at(0), &mut buf).expect("a SYN");
    let syn = TcpRepr::parse(
        &buf[..len],
        *local.ip(),
        *remote.ip(),
        ChecksumCaps::default(),
    )
    .expect("the SYN's checksum is over the connection's addresses");
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!((syn.src_port, syn.dst_port), (local.port(), remote.port()));
}

#[test]
fn test_address_sum_follows_a_reopen_to_other_addresses() {
    let mut c = Connection::connect(&plain(), LOCAL, REMOTE, LOCAL_SEQ, at(0));
    assert_eq!(c.address_sum(), AddressSum::new(*LOCAL.ip(), *REMOTE.ip()));
    syn_checks_for(&mut c, LOCAL, REMOTE);
    c.abort(at(0));
    c.reopen_connect(&plain(), OTHER_LOCAL, OTHER_REMOTE, LOCAL_SEQ, at(0));
    assert_eq!(
        c.address_sum(),
        AddressSum::new(*OTHER_LOCAL.ip(), *OTHER_REMOTE.ip())
    );
    syn_checks_for(&mut c, OTHER_LOCAL, OTHER_REMOTE);
}

/// With transmit checksum offload the field holds the pseudo-header sum (RFC 9293 §3.1) of the
/// connection's addresses, as the general `checksum::pseudo_header_v4` works it out.
#[test]
fn test_partial_checksum_uses_the_connection_addresses() {
    let config = TcpConfig {
        checksum_offload: true,
        ..plain()
    };
    for (local, remote) in [(LOCAL, REMOTE), (OTHER_LOCAL, OTHER_REMOTE)] {
        let mut c = Connection::connect(&config, local, remote, LOCAL_SEQ, at(0));
        let mut buf = [0u8; 100];
        let len = c.poll_transmit(at(0), &mut buf).expect("a SYN");
        let field = u16::from_be_bytes([buf[16], buf[17]]);
        let expected =
            checksum::pseudo_header_v4(*local.ip(), *remote.ip(), IpProtocol::Tcp, len as u16);
        assert_eq!(field, expected, "{local} -> {remote}");
    }
}

/// A kept sum that no longer matches the addresses (what a reopen forgetting to update it
/// would leave) is caught by the debug check before a segment goes out.
#[test]
#[should_panic(expected = "kept address sum is stale")]
fn test_stale_address_sum_is_caught() {
    let mut c = Connection::connect(&plain(), LOCAL, REMOTE, LOCAL_SEQ, at(0));
    c.address_sum = AddressSum::new(*OTHER_LOCAL.ip(), *REMOTE.ip());
    let _ = c.poll_transmit(at(0), &mut [0u8; 100]);
}
