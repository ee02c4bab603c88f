"""Every call of API.md §1, over the simulated network and over an in-memory hub."""

from __future__ import annotations

import errno
import os

import pytest

import mtcp
from conftest import (
    ADDR_A,
    ADDR_B,
    Link,
    accept_one,
    connect,
    established,
    fresh_port,
    listen,
    read_exactly,
    transfer,
)
from mtcp import AF_INET, SOCK_STREAM


def test_echo(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    assert mtcp.mtcp_write(ca, cfd, b"hello, mtcp") == 11
    assert read_exactly(link, cb, sfd, 11) == b"hello, mtcp"
    assert mtcp.mtcp_write(cb, sfd, bytearray(b"back")) == 4
    assert read_exactly(link, ca, cfd, 4) == b"back"


def test_accept_returns_peer_and_names(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    port = fresh_port()
    lfd = listen(cb, ADDR_B, port)
    cfd = connect(ca, ADDR_B, port)
    got: list[tuple[int, tuple[str, int]]] = []
    eagain: list[int | None] = []

    def accepted() -> bool:
        try:
            got.append(mtcp.mtcp_accept(cb, lfd))
        except BlockingIOError as exc:
            eagain.append(exc.errno)
            return False
        return True

    assert link.wait(accepted)
    assert set(eagain) <= {errno.EAGAIN}
    sfd, (host, cport) = got[0]
    assert isinstance(sfd, int)
    assert host == ADDR_A
    assert link.wait(lambda: _peer(ca, cfd) is not None)
    assert mtcp.mtcp_getsockname(ca, cfd) == (ADDR_A, cport)
    assert mtcp.mtcp_getpeername(ca, cfd) == (ADDR_B, port)
    assert mtcp.mtcp_getsockname(cb, sfd)[1] == port
    assert mtcp.mtcp_getpeername(cb, sfd) == (ADDR_A, cport)
    assert mtcp.mtcp_getsockname(cb, lfd) == (ADDR_B, port)


def _peer(ctx: mtcp.Context, fd: int) -> tuple[str, int] | None:
    try:
        return mtcp.mtcp_getpeername(ctx, fd)
    except OSError:
        return None


def test_read_eagain_then_eof(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    with pytest.raises(BlockingIOError) as info:
        mtcp.mtcp_read(cb, sfd, 100)
    assert info.value.errno == errno.EAGAIN
    mtcp.mtcp_write(ca, cfd, b"last words")
    mtcp.mtcp_close(ca, cfd)
    assert read_exactly(link, cb, sfd, 10) == b"last words"
    eof: list[bytes] = []

    def at_eof() -> bool:
        try:
            eof.append(mtcp.mtcp_read(cb, sfd, 100))
        except BlockingIOError:
            return False
        return True

    assert link.wait(at_eof)
    assert eof == [b""]
    mtcp.mtcp_close(cb, sfd)


def test_readv_writev(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    n = mtcp.mtcp_writev(ca, cfd, [b"abc", bytearray(b"defg"), memoryview(b"hij")])
    assert n == 10
    assert link.wait(lambda: mtcp.mtcp_socket_ioctl(cb, sfd, mtcp.FIONREAD) >= 10)
    bufs = [bytearray(4), bytearray(3), memoryview(bytearray(8))]
    got = mtcp.mtcp_readv(cb, sfd, bufs)
    assert got == 10
    assert bytes(bufs[0]) == b"abcd"
    assert bytes(bufs[1]) == b"efg"
    assert bytes(bufs[2][:3]) == b"hij"


def test_write_accepts_any_bytes_like(link: Link) -> None:
    import array

    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    sent = 0
    for data in (b"ab", bytearray(b"cd"), memoryview(b"xxefxx")[2:4], array.array("B", b"gh")):
        sent += mtcp.mtcp_write(ca, cfd, data)
    assert sent == 8
    assert read_exactly(link, cb, sfd, 8) == b"abcdefgh"


def test_msg_peek_and_fionread(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    mtcp.mtcp_write(ca, cfd, b"peekaboo")
    assert link.wait(lambda: mtcp.mtcp_socket_ioctl(cb, sfd, mtcp.FIONREAD) == 8)
    assert mtcp.mtcp_recv(cb, sfd, 4, mtcp.MSG_PEEK) == b"peek"
    assert mtcp.mtcp_socket_ioctl(cb, sfd, mtcp.FIONREAD) == 8
    assert mtcp.mtcp_recv(cb, sfd, 100, 0) == b"peekaboo"
    assert mtcp.mtcp_socket_ioctl(cb, sfd, mtcp.FIONREAD) == 0


def test_short_write_when_send_buffer_full(link: Link) -> None:
    ca = link.context(ADDR_A, sndbuf=4096, rcvbuf=4096)
    cb = link.context(ADDR_B, sndbuf=4096, rcvbuf=4096)
    cfd, sfd, _ = established(link, ca, cb)
    data = os.urandom(64 * 1024)
    n = mtcp.mtcp_write(ca, cfd, data)
    assert 0 < n < len(data)
    assert transfer(link, ca, cfd, cb, sfd, data[n:]) is not None


def test_bulk_both_ways(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    up = os.urandom(200_000)
    down = os.urandom(150_000)
    assert transfer(link, ca, cfd, cb, sfd, up) == up
    assert transfer(link, cb, sfd, ca, cfd, down) == down


def test_epoll_level_triggered(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    ep = mtcp.mtcp_epoll_create(cb, 16)
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_ADD, sfd, mtcp.MTCP_EPOLLIN)
    assert mtcp.mtcp_epoll_wait(cb, ep, 16, 0) == []
    mtcp.mtcp_write(ca, cfd, b"0123456789")
    events: list[tuple[int, int]] = []
    assert link.wait(lambda: bool(events.extend(mtcp.mtcp_epoll_wait(cb, ep, 16, 0)) or events))
    assert events[0][0] == sfd
    assert events[0][1] & mtcp.MTCP_EPOLLIN
    # Level-triggered: still reported while data remains.
    mtcp.mtcp_read(cb, sfd, 3)
    again = mtcp.mtcp_epoll_wait(cb, ep, 16, 0)
    assert [fd for fd, ev in again if ev & mtcp.MTCP_EPOLLIN] == [sfd]
    mtcp.mtcp_read(cb, sfd, 100)
    assert [fd for fd, ev in mtcp.mtcp_epoll_wait(cb, ep, 16, 0) if ev & mtcp.EPOLLIN] == []
    # MOD to OUT: writable at once; DEL: nothing.
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_MOD, sfd, mtcp.MTCP_EPOLLOUT)
    out = mtcp.mtcp_epoll_wait(cb, ep, 16, 0)
    assert out
    assert out[0][0] == sfd
    assert out[0][1] & mtcp.MTCP_EPOLLOUT
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_DEL, sfd, 0)
    assert mtcp.mtcp_epoll_wait(cb, ep, 16, 0) == []


def test_epoll_edge_triggered(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    ep = mtcp.mtcp_epoll_create(cb, 16)
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_ADD, sfd, mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLET)
    mtcp.mtcp_write(ca, cfd, b"first")
    events: list[tuple[int, int]] = []
    assert link.wait(lambda: bool(events.extend(mtcp.mtcp_epoll_wait(cb, ep, 16, 0)) or events))
    assert events[0][0] == sfd
    # Edge-triggered: not reported again until new data arrives, even though data remains.
    assert mtcp.mtcp_epoll_wait(cb, ep, 16, 0) == []
    mtcp.mtcp_write(ca, cfd, b"second")
    more: list[tuple[int, int]] = []
    assert link.wait(lambda: bool(more.extend(mtcp.mtcp_epoll_wait(cb, ep, 16, 0)) or more))
    assert more[0][0] == sfd
    assert read_exactly(link, cb, sfd, 11) == b"firstsecond"


def test_epoll_listener_readable_on_connection(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    port = fresh_port()
    lfd = listen(cb, ADDR_B, port)
    ep = mtcp.mtcp_epoll_create(cb, 4)
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_ADD, lfd, mtcp.MTCP_EPOLLIN)
    connect(ca, ADDR_B, port)
    events: list[tuple[int, int]] = []
    assert link.wait(lambda: bool(events.extend(mtcp.mtcp_epoll_wait(cb, ep, 4, 0)) or events))
    assert events[0][0] == lfd
    assert events[0][1] & mtcp.MTCP_EPOLLIN
    fd, _ = mtcp.mtcp_accept(cb, lfd)
    assert fd >= 0


def test_epoll_wait_timeout_returns_empty(link: Link) -> None:
    ctx = link.context(ADDR_A)
    ep = mtcp.mtcp_epoll_create(ctx, 4)
    # A listener with no connection waiting has no event (a fresh unconnected socket would
    # report EPOLLHUP, as on Linux).
    fd = listen(ctx, ADDR_A, fresh_port())
    mtcp.mtcp_epoll_ctl(ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, mtcp.MTCP_EPOLLIN)
    assert mtcp.mtcp_epoll_wait(ctx, ep, 4, 20) == []


def test_peer_close_gives_rdhup_or_in(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    ep = mtcp.mtcp_epoll_create(cb, 4)
    mtcp.mtcp_epoll_ctl(cb, ep, mtcp.MTCP_EPOLL_CTL_ADD, sfd, mtcp.EPOLLIN | mtcp.EPOLLRDHUP)
    mtcp.mtcp_close(ca, cfd)
    events: list[tuple[int, int]] = []
    assert link.wait(lambda: bool(events.extend(mtcp.mtcp_epoll_wait(cb, ep, 4, 0)) or events))
    assert events[0][1] & (mtcp.EPOLLIN | mtcp.EPOLLRDHUP)
    assert mtcp.mtcp_read(cb, sfd, 10) == b""


def test_shutdown_wr_sends_fin_but_can_still_read(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    mtcp.mtcp_shutdown(ca, cfd, mtcp.SHUT_WR)
    eof: list[bytes] = []

    def peer_sees_eof() -> bool:
        try:
            eof.append(mtcp.mtcp_read(cb, sfd, 10))
        except BlockingIOError:
            return False
        return True

    assert link.wait(peer_sees_eof)
    assert eof == [b""]
    mtcp.mtcp_write(cb, sfd, b"reply")
    assert read_exactly(link, ca, cfd, 5) == b"reply"


def test_sockopts(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, _, _ = established(link, ca, cb)
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.SOL_SOCKET, mtcp.SO_ERROR) == 0
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.SOL_SOCKET, mtcp.SO_RCVBUF) > 0
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.SOL_SOCKET, mtcp.SO_SNDBUF) > 0
    assert isinstance(mtcp.mtcp_getsockopt(ca, cfd, mtcp.SOL_SOCKET, mtcp.SO_LINGER), int)
    assert 0 < mtcp.mtcp_getsockopt(ca, cfd, mtcp.IPPROTO_TCP, mtcp.TCP_MAXSEG) <= 1460
    mtcp.mtcp_setsockopt(ca, cfd, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, 1)
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY) == 1
    mtcp.mtcp_setsockopt(ca, cfd, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, 0)
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY) == 0
    mtcp.mtcp_setsock_nonblock(ca, cfd)


def test_pipe(link: Link) -> None:
    ctx = link.context(ADDR_A)
    r, w = mtcp.mtcp_pipe(ctx)
    assert r != w
    ep = mtcp.mtcp_epoll_create(ctx, 4)
    mtcp.mtcp_epoll_ctl(ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, r, mtcp.MTCP_EPOLLIN)
    with pytest.raises(BlockingIOError):
        mtcp.mtcp_read(ctx, r, 10)
    assert mtcp.mtcp_write(ctx, w, b"through the pipe") == 16
    events = mtcp.mtcp_epoll_wait(ctx, ep, 4, 100)
    assert events
    assert events[0][0] == r
    assert events[0][1] & mtcp.MTCP_EPOLLIN
    assert mtcp.mtcp_read(ctx, r, 100) == b"through the pipe"
    mtcp.mtcp_close(ctx, w)
    assert mtcp.mtcp_read(ctx, r, 100) == b""
    mtcp.mtcp_close(ctx, r)


def test_close_frees_descriptor_and_abort_resets(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    base = ca.stats().sockets_in_use
    cfd, sfd, _ = established(link, ca, cb)
    assert ca.stats().sockets_in_use == base + 1
    mtcp.mtcp_abort(ca, cfd)
    assert ca.stats().sockets_in_use == base

    def reset() -> bool:
        try:
            mtcp.mtcp_read(cb, sfd, 10)
        except ConnectionResetError:
            return True
        except BlockingIOError:
            return False
        return False

    assert link.wait(reset)


def test_init_rss_then_connect(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    port = fresh_port()
    lfd = listen(cb, ADDR_B, port)
    mtcp.mtcp_init_rss(ca, ADDR_A, 1, ADDR_B, port)
    connect(ca, ADDR_B, port)
    assert accept_one(link, cb, lfd) >= 0


def test_stats_count_traffic(link: Link) -> None:
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    before = ca.stats()
    cfd, sfd, _ = established(link, ca, cb)
    mtcp.mtcp_write(ca, cfd, b"x" * 1000)
    read_exactly(link, cb, sfd, 1000)
    after = ca.stats()
    assert after.tx_frames > before.tx_frames
    assert after.tx_bytes >= before.tx_bytes + 1000
    assert after.connections_opened == before.connections_opened + 1
    assert set(after.to_dict()) >= {"rx_frames", "tx_frames", "sockets_in_use", "flows"}


def test_context_core(link: Link) -> None:
    ctx = link.context(ADDR_A)
    assert ctx.core == 0


def test_create_context_bad_core(link: Link) -> None:
    stack = link.host(ADDR_A)
    with pytest.raises(mtcp.MtcpError) as info:
        stack.create_context(-1)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(mtcp.MtcpError):
        stack.create_context(5)  # num_cores is 1


def test_destroy_context_then_calls_fail(link: Link) -> None:
    ctx = link.context(ADDR_A)
    mtcp.mtcp_destroy_context(ctx)
    with pytest.raises(mtcp.MtcpError):
        mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)


# -- process default stack ------------------------------------------------------------------


@pytest.fixture
def default_stack(tmp_path):  # type: ignore[no-untyped-def]
    conf = tmp_path / "mtcp.conf"
    conf.write_text(f"io = memory\nport = default-{tmp_path.name}\naddr = 198.18.0.1/15\n")
    yield conf
    mtcp.mtcp_destroy()


def test_init_getconf_create_destroy(default_stack) -> None:  # type: ignore[no-untyped-def]
    stack = mtcp.mtcp_init(str(default_stack))
    assert isinstance(stack, mtcp.Stack)
    assert mtcp.mtcp_getconf().addr == "198.18.0.1/15"
    ctx = mtcp.mtcp_create_context(0)
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    mtcp.mtcp_close(ctx, fd)
    with pytest.raises(mtcp.MtcpError):
        mtcp.mtcp_init(str(default_stack))  # already initialised
    with pytest.raises(mtcp.MtcpError):
        mtcp.mtcp_setconf(mtcp.Config())
    mtcp.mtcp_destroy_context(ctx)
    mtcp.mtcp_destroy()
    with pytest.raises(mtcp.MtcpError):
        mtcp.mtcp_create_context(0)


def test_setconf_before_init(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = mtcp.Config(io="memory", port=f"setconf-{tmp_path.name}", max_concurrency=33)
    mtcp.mtcp_setconf(conf)
    try:
        assert mtcp.mtcp_getconf().max_concurrency == 33
        mtcp.mtcp_init(None)
        assert mtcp.mtcp_getconf().max_concurrency == 33
    finally:
        mtcp.mtcp_destroy()
        mtcp.api._pending_conf = None


def test_core_affinitize() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    try:
        mtcp.mtcp_core_affinitize(cpus[0])
        assert os.sched_getaffinity(0) == {cpus[0]}
        with pytest.raises(mtcp.MtcpError) as info:
            mtcp.mtcp_core_affinitize(-1)
        assert info.value.errno == errno.EINVAL
    finally:
        os.sched_setaffinity(0, cpus)


def test_event_to_string() -> None:
    assert mtcp.event_to_string(mtcp.EPOLLIN | mtcp.EPOLLOUT) == "EPOLLIN|EPOLLOUT"
    assert mtcp.event_to_string(0) == "EPOLLNONE"


def test_constants_have_linux_values() -> None:
    import select
    import socket

    for name in (
        "AF_INET",
        "AF_INET6",
        "SOCK_STREAM",
        "SOCK_DGRAM",
        "SOL_SOCKET",
        "IPPROTO_TCP",
        "SO_ERROR",
        "SO_RCVBUF",
        "SO_SNDBUF",
        "SO_LINGER",
        "SO_REUSEADDR",
        "SO_KEEPALIVE",
        "TCP_NODELAY",
        "TCP_MAXSEG",
        "SHUT_RD",
        "SHUT_WR",
        "SHUT_RDWR",
        "MSG_PEEK",
    ):
        assert getattr(mtcp, name) == getattr(socket, name), name
    for name in (
        "EPOLLIN",
        "EPOLLOUT",
        "EPOLLERR",
        "EPOLLHUP",
        "EPOLLRDHUP",
        "EPOLLET",
        "EPOLLONESHOT",
    ):
        assert getattr(mtcp, name) == getattr(select, name), name
        assert getattr(mtcp, "MTCP_" + name) == getattr(select, name), name
    # <sys/epoll.h>: EPOLL_CTL_ADD 1, EPOLL_CTL_DEL 2, EPOLL_CTL_MOD 3
    assert (mtcp.MTCP_EPOLL_CTL_ADD, mtcp.MTCP_EPOLL_CTL_DEL, mtcp.MTCP_EPOLL_CTL_MOD) == (1, 2, 3)
    import termios

    assert mtcp.FIONREAD == termios.FIONREAD


def test_every_api_name_exists() -> None:
    names = [
        "mtcp_init",
        "mtcp_destroy",
        "mtcp_getconf",
        "mtcp_setconf",
        "mtcp_core_affinitize",
        "mtcp_create_context",
        "mtcp_destroy_context",
        "mtcp_socket",
        "mtcp_bind",
        "mtcp_listen",
        "mtcp_accept",
        "mtcp_connect",
        "mtcp_read",
        "mtcp_readv",
        "mtcp_write",
        "mtcp_writev",
        "mtcp_shutdown",
        "mtcp_close",
        "mtcp_abort",
        "mtcp_getsockopt",
        "mtcp_setsockopt",
        "mtcp_getsockname",
        "mtcp_getpeername",
        "mtcp_socket_ioctl",
        "mtcp_epoll_create",
        "mtcp_epoll_ctl",
        "mtcp_epoll_wait",
        "mtcp_init_rss",
        "mtcp_recv",
        "mtcp_setsock_nonblock",
        "mtcp_pipe",
    ]
    for name in names:
        assert callable(getattr(mtcp, name)), name
        assert name in mtcp.__all__
