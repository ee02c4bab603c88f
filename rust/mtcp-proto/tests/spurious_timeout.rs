//! A delay spike, not a loss, in the two-connection harness: the receiver's ACKs are held for
//! 400 ms (longer than the 200 ms RTO) and then arrive in order, 0.5 ms apart. With F-RTO
//! (RFC 5682 §3) the timeout is found spurious, its reduction undone (RFC 4015 response) and
//! nothing but the timeout's single segment is resent; without it, the sender resends what it
//! had marked lost as its restarted slow start allows, and finishes later with the halved
//! ssthresh. RACK-TLP stays on, so the tail loss probe fires first, as in a real stack.
mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use mtcp_proto::tcp::{TcpConfig, TcpStats};
use mtcp_proto::time::Duration;

/// Sends 4 MiB client → server over a 20 ms RTT link whose server → client direction stalls
/// from 150 ms to 550 ms into the transfer (the window is full-sized by then); returns the
/// client's counters and when the server had all the data.
fn through_a_delay_spike(frto: bool) -> (TcpStats, Duration) {
    // Paced, so that segments reach the receiver spread out and it ACKs every second one
    // (the harness delivers a burst at one instant, which the receiver ACKs once).
    let client = TcpConfig {
        frto,
        pacing: true,
        ..config(256 * 1024)
    };
    let mut pair = Pair::new(
        5,
        Link::lossless(10),
        client,
        config(256 * 1024),
        4 * MIB,
        0,
    );
    let spike_from = pair.now + Duration::from_millis(150);
    let spike_to = spike_from + Duration::from_millis(400);
    let held = Rc::new(Cell::new(0));
    let counter = Rc::clone(&held);
    pair.delay_if = Some(Box::new(move |now, to_server| {
        if to_server || now < spike_from || now >= spike_to {
            return Duration::ZERO;
        }
        // Released when the spike ends, in order, 0.5 ms apart.
        counter.set(counter.get() + 1);
        (spike_to - now) + Duration::from_micros(500 * counter.get())
    }));
    let start = pair.now;
    while pair.server.received.len() < 4 * MIB {
        assert!(pair.step(), "{}", pair.describe());
    }
    let took = pair.now - start;
    pair.run(Duration::from_secs(60));
    pair.check_intact();
    assert!(
        held.get() > 50,
        "the spike held a window's ACKs: {}",
        held.get()
    );
    (pair.client.conn.as_ref().unwrap().stats(), took)
}

#[test]
fn delay_spike_timeout_is_undone_by_frto_without_resending_the_window() {
    let (stats, with_frto) = through_a_delay_spike(true);
    assert!(stats.timeouts >= 1, "the spike outlasts the RTO: {stats:?}");
    assert_eq!(stats.spurious_timeouts, stats.timeouts, "{stats:?}");
    assert!(stats.undos >= 1, "{stats:?}");
    // The tail loss probe and the timeout's retransmission, nothing else.
    assert!(stats.retransmitted_segments <= 2, "{stats:?}");

    let (stats, without) = through_a_delay_spike(false);
    assert!(stats.timeouts >= 1, "{stats:?}");
    assert_eq!((stats.spurious_timeouts, stats.undos), (0, 0), "{stats:?}");
    assert!(
        stats.retransmitted_segments > 2,
        "without F-RTO lost-marked segments are resent: {stats:?}"
    );
    // One RTT is 20 ms; the restored window saves more than that.
    assert!(
        with_frto + Duration::from_millis(20) < without,
        "{with_frto:?} with F-RTO, {without:?} without"
    );
}
