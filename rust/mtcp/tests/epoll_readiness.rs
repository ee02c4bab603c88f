//! Level-triggered epoll reports what a descriptor is ready for at each wait, also when a
//! call changed that without a segment or a touch of its own: a pipe end's own read or write,
//! `SO_ERROR` (or a second `connect`) taking the pending error, and a connection leaving a
//! listener's accept queue before `accept`, a stream's own `shutdown`. (The engine keeps each
//! descriptor's last computed readiness until something may have changed it: every call on a
//! descriptor touches it when done, the engine touches the owner of a flow it settles. Debug
//! builds check each kept readiness against a fresh one.)
mod common;

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Context, Errno, SockId};
use mtcp_proto::Duration;

/// The events of one `epoll_wait` (no timeout), by descriptor.
fn wait(ctx: &Context, ep: SockId) -> Vec<(SockId, u32)> {
    let mut out = Vec::new();
    ctx.epoll_wait(ep, &mut out, 16, 0).unwrap();
    out.sort_unstable();
    out
}

fn events_of(events: &[(SockId, u32)], s: SockId) -> u32 {
    events
        .iter()
        .find(|&&(fd, _)| fd == s)
        .map_or(0, |&(_, ev)| ev)
}

fn pair() -> SimPair {
    sim_pair(7, Impairments::default(), Config::default())
}

/// A new epoll instance watching a new pipe: the read end for EPOLLIN, the write end for
/// EPOLLOUT (both level-triggered). Returns (epoll, read end, write end).
fn pipe_in_epoll(ctx: &Context) -> (SockId, SockId, SockId) {
    let ep = ctx.epoll_create(4).unwrap();
    let (r, w) = ctx.pipe().unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, r, MTCP_EPOLLIN)
        .unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, w, MTCP_EPOLLOUT)
        .unwrap();
    (ep, r, w)
}

#[test]
fn a_pipe_end_stops_reporting_once_its_own_call_clears_the_condition() {
    let p = pair();
    let ctx = &p.client;
    let (ep, r, w) = pipe_in_epoll(ctx);
    assert_eq!(wait(ctx, ep), vec![(w, MTCP_EPOLLOUT)]);

    ctx.write(w, b"abc").unwrap();
    // Level-triggered: reported at every wait while it lasts.
    for _ in 0..2 {
        let ev = wait(ctx, ep);
        assert_eq!(events_of(&ev, r), MTCP_EPOLLIN);
        assert_eq!(events_of(&ev, w), MTCP_EPOLLOUT);
    }
    // The reader's own read drains the pipe (only the writer is told).
    let mut buf = [0u8; 8];
    assert_eq!(ctx.read(r, &mut buf).unwrap(), 3);
    assert_eq!(wait(ctx, ep), vec![(w, MTCP_EPOLLOUT)]);

    // The writer's own writes fill it (only the reader is told).
    let mut written = 0;
    loop {
        match ctx.write(w, &[7u8; 4096]) {
            Ok(n) => written += n,
            Err(e) => {
                assert_eq!(mtcp::errno_of(&e), Some(Errno::EAGAIN));
                break;
            }
        }
    }
    assert!(written > 0);
    assert_eq!(wait(ctx, ep), vec![(r, MTCP_EPOLLIN)]);
    assert_eq!(wait(ctx, ep), vec![(r, MTCP_EPOLLIN)]);
}

#[test]
fn epollerr_goes_with_the_error_so_error_takes() {
    let p = pair();
    let ctx = &p.client;
    let ep = ctx.epoll_create(4).unwrap();
    // Refused twice: SO_ERROR takes the error from one, a second connect from the other.
    let a = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    let b = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    for s in [a, b] {
        let refused = "198.18.0.1:81".parse().unwrap();
        assert_eq!(errno(ctx.connect(s, refused)), Errno::EINPROGRESS);
        ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, s, MTCP_EPOLLOUT)
            .unwrap();
    }
    p.net.run_for(Duration::from_millis(50));
    for _ in 0..2 {
        let ev = wait(ctx, ep);
        assert_ne!(events_of(&ev, a) & MTCP_EPOLLERR, 0, "{ev:?}");
        assert_ne!(events_of(&ev, b) & MTCP_EPOLLERR, 0, "{ev:?}");
    }
    assert_eq!(
        ctx.getsockopt(a, SOL_SOCKET, SO_ERROR).unwrap(),
        Errno::ECONNREFUSED.raw()
    );
    assert_eq!(
        errno(ctx.connect(b, "198.18.0.1:81".parse().unwrap())),
        Errno::ECONNREFUSED
    );
    let ev = wait(ctx, ep);
    // Still hung up (closed), no longer in error.
    assert_eq!(events_of(&ev, a) & MTCP_EPOLLERR, 0, "{ev:?}");
    assert_eq!(events_of(&ev, b) & MTCP_EPOLLERR, 0, "{ev:?}");
    assert_ne!(events_of(&ev, a) & MTCP_EPOLLHUP, 0, "{ev:?}");
}

#[test]
fn shutting_its_read_side_makes_a_stream_readable_at_once() {
    let p = pair();
    let l = listener(&p.server, p.server_addr);
    let (c, _s) = sim_connect(&p, l);
    let ctx = &p.client;
    let ep = ctx.epoll_create(4).unwrap();
    let watch = MTCP_EPOLLIN | MTCP_EPOLLOUT | MTCP_EPOLLRDHUP;
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, c, watch).unwrap();
    for _ in 0..2 {
        assert_eq!(wait(ctx, ep), vec![(c, MTCP_EPOLLOUT)]);
    }
    // No segment goes out or comes in: only the call itself changes what the socket reports
    // (Linux's tcp_poll: a read side shut down reads as end of stream).
    ctx.shutdown(c, SHUT_RD).unwrap();
    assert_eq!(wait(ctx, ep), vec![(c, watch)]);
}

#[test]
fn a_listener_stops_reporting_when_its_only_pending_connection_is_reset() {
    let p = pair();
    let l = listener(&p.server, p.server_addr);
    let ep = p.server.epoll_create(4).unwrap();
    p.server
        .epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, l, MTCP_EPOLLIN)
        .unwrap();
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(p.client.connect(c, p.server_addr)),
        Errno::EINPROGRESS
    );
    p.net.run_for(Duration::from_millis(50));
    for _ in 0..2 {
        assert_eq!(wait(&p.server, ep), vec![(l, MTCP_EPOLLIN)]);
    }
    // The client resets the connection before the server accepts it: it leaves the queue.
    p.client.abort(c).unwrap();
    p.net.run_for(Duration::from_millis(50));
    assert_eq!(wait(&p.server, ep), vec![]);
    assert_eq!(errno(p.server.accept(l)), Errno::EAGAIN);
}

#[test]
fn a_closed_descriptor_leaves_the_ready_queue_so_its_successor_is_reported_once() {
    let p = pair();
    let ctx = &p.client;
    let (ep, r, w) = pipe_in_epoll(ctx);
    ctx.write(w, b"x").unwrap();
    // Both level-triggered and ready: both stay queued after this wait.
    assert_eq!(wait(ctx, ep).len(), 2);
    ctx.close(r).unwrap();
    ctx.close(w).unwrap();
    // The new pipe's ends take the closed ones' descriptors.
    let (r2, w2) = ctx.pipe().unwrap();
    let mut reused = [r2, w2];
    reused.sort_unstable();
    let mut old = [r, w];
    old.sort_unstable();
    assert_eq!(reused, old);
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, r2, MTCP_EPOLLIN)
        .unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, w2, MTCP_EPOLLOUT)
        .unwrap();
    ctx.write(w2, b"y").unwrap();
    let mut expected = vec![(r2, MTCP_EPOLLIN), (w2, MTCP_EPOLLOUT)];
    expected.sort_unstable();
    assert_eq!(wait(ctx, ep), expected);
}

#[test]
fn a_oneshot_registration_reports_nothing_more_until_it_is_armed_again() {
    // epoll_ctl(2): after its event, an EPOLLONESHOT descriptor is disabled, EPOLLERR and
    // EPOLLHUP included, until EPOLL_CTL_MOD; MOD reports what is pending then.
    let p = pair();
    let ctx = &p.client;
    let ep = ctx.epoll_create(4).unwrap();
    let (r, w) = ctx.pipe().unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, r, MTCP_EPOLLIN | MTCP_EPOLLONESHOT)
        .unwrap();
    assert_eq!(wait(ctx, ep), vec![]);
    ctx.write(w, b"abc").unwrap();
    assert_eq!(wait(ctx, ep), vec![(r, MTCP_EPOLLIN)]);
    // Still readable, more data, then the writer's close (a hang-up): all silent.
    assert_eq!(wait(ctx, ep), vec![]);
    ctx.write(w, b"def").unwrap();
    assert_eq!(wait(ctx, ep), vec![]);
    ctx.close(w).unwrap();
    assert_eq!(wait(ctx, ep), vec![]);
    // Armed again: the pending condition at once, and once only.
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_MOD, r, MTCP_EPOLLIN | MTCP_EPOLLONESHOT)
        .unwrap();
    let ev = wait(ctx, ep);
    assert_eq!(ev.len(), 1);
    assert_ne!(events_of(&ev, r) & MTCP_EPOLLIN, 0);
    assert_eq!(wait(ctx, ep), vec![]);
    // A plain registration of no events still hears EPOLLHUP (it is always reported).
    let (r2, w2) = ctx.pipe().unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, r2, 0).unwrap();
    assert_eq!(wait(ctx, ep), vec![]);
    ctx.close(w2).unwrap();
    assert_ne!(events_of(&wait(ctx, ep), r2) & MTCP_EPOLLHUP, 0);
}

#[test]
fn a_lone_edge_triggered_entry_is_reported_once_per_edge() {
    // The only entry of its ready queue (epoll_collect's one-entry path): once reported, an
    // edge-triggered registration leaves the queue until a new arrival.
    let p = pair();
    let ctx = &p.client;
    let ep = ctx.epoll_create(4).unwrap();
    let (r, w) = ctx.pipe().unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, r, MTCP_EPOLLIN | MTCP_EPOLLET)
        .unwrap();
    assert_eq!(wait(ctx, ep), vec![]);
    for round in 0..3 {
        ctx.write(w, b"abc").unwrap();
        assert_eq!(wait(ctx, ep), vec![(r, MTCP_EPOLLIN)], "round {round}");
        assert_eq!(
            wait(ctx, ep),
            vec![],
            "round {round}: reported twice for one edge"
        );
    }
    // Level-triggered again: reported at every wait while data remains.
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_MOD, r, MTCP_EPOLLIN)
        .unwrap();
    for _ in 0..2 {
        assert_eq!(wait(ctx, ep), vec![(r, MTCP_EPOLLIN)]);
    }
}
