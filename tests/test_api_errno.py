"""The errno table of API.md §2, call by call.

Choices where mTCP is vague or buggy (API.md: "behave as Linux does"):
* ``mtcp_socket`` with a protocol other than 0 → EINVAL (API.md; mTCP ignores protocol).
* ``mtcp_listen`` with backlog <= 0 → EINVAL (mTCP's rule; Linux would clamp).
* a refused connect → ECONNREFUSED (mTCP reports ECONNRESET), seen as EPOLLERR and SO_ERROR,
  and the next read raises ConnectionRefusedError.
"""

from __future__ import annotations

import errno

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, connect, established, fresh_port, listen
from mtcp import AF_INET, AF_INET6, SHUT_WR, SOCK_DGRAM, SOCK_STREAM


def expect(code: int, fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(mtcp.MtcpError) as info:
        fn(*args)
    assert info.value.errno == code, (fn.__name__, info.value)
    assert fn.__name__ in str(info.value)
    return info.value


@pytest.fixture
def ctx(sim: Link) -> mtcp.Context:
    return sim.context(ADDR_A, max_concurrency=4)


def test_socket_domain_type_protocol(ctx: mtcp.Context) -> None:
    expect(errno.EAFNOSUPPORT, mtcp.mtcp_socket, ctx, AF_INET6, SOCK_STREAM, 0)
    expect(errno.EINVAL, mtcp.mtcp_socket, ctx, AF_INET, SOCK_DGRAM, 0)
    expect(errno.EINVAL, mtcp.mtcp_socket, ctx, AF_INET, SOCK_STREAM, 6)
    assert ctx.stats().sockets_in_use == 0


def test_enfile_when_pool_exhausted_and_freed_by_close(ctx: mtcp.Context) -> None:
    fds = [mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0) for _ in range(4)]
    assert len(set(fds)) == 4
    assert all(fd >= 0 for fd in fds)
    e = expect(errno.ENFILE, mtcp.mtcp_socket, ctx, AF_INET, SOCK_STREAM, 0)
    assert isinstance(e, OSError)
    mtcp.mtcp_close(ctx, fds[2])
    again = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    assert again == fds[2]  # the freed descriptor is reused
    expect(errno.ENFILE, mtcp.mtcp_epoll_create, ctx, 4)
    expect(errno.ENFILE, mtcp.mtcp_pipe, ctx)


@pytest.mark.parametrize("bad", [-1, 4, 9999, 2**31 - 1])
def test_ebadf_unknown_descriptor(ctx: mtcp.Context, bad: int) -> None:
    expect(errno.EBADF, mtcp.mtcp_bind, ctx, bad, (ADDR_A, 80))
    expect(errno.EBADF, mtcp.mtcp_listen, ctx, bad, 4)
    expect(errno.EBADF, mtcp.mtcp_connect, ctx, bad, (ADDR_B, 80))
    expect(errno.EBADF, mtcp.mtcp_read, ctx, bad, 10)
    expect(errno.EBADF, mtcp.mtcp_write, ctx, bad, b"x")
    expect(errno.EBADF, mtcp.mtcp_close, ctx, bad)
    expect(errno.EBADF, mtcp.mtcp_getsockname, ctx, bad)
    expect(errno.EBADF, mtcp.mtcp_setsock_nonblock, ctx, bad)


def test_ebadf_closed_descriptor(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    mtcp.mtcp_close(ctx, fd)
    expect(errno.EBADF, mtcp.mtcp_close, ctx, fd)
    expect(errno.EBADF, mtcp.mtcp_bind, ctx, fd, (ADDR_A, 80))


def test_descriptor_of_another_context_is_unknown(sim: Link) -> None:
    a = sim.context(ADDR_A)
    b = sim.context(ADDR_B)
    fd = mtcp.mtcp_socket(a, AF_INET, SOCK_STREAM, 0)
    expect(errno.EBADF, mtcp.mtcp_bind, b, fd, (ADDR_B, 80))
    expect(errno.EBADF, mtcp.mtcp_close, b, fd)


def test_enotsock_for_epoll_and_pipe_ids(ctx: mtcp.Context) -> None:
    ep = mtcp.mtcp_epoll_create(ctx, 4)
    expect(errno.ENOTSOCK, mtcp.mtcp_bind, ctx, ep, (ADDR_A, 80))
    expect(errno.ENOTSOCK, mtcp.mtcp_listen, ctx, ep, 4)
    expect(errno.ENOTSOCK, mtcp.mtcp_connect, ctx, ep, (ADDR_B, 80))


def test_epoll_ctl_errors(ctx: mtcp.Context) -> None:
    ep = mtcp.mtcp_epoll_create(ctx, 4)
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    expect(errno.ENOENT, mtcp.mtcp_epoll_ctl, ctx, ep, mtcp.MTCP_EPOLL_CTL_MOD, fd, 1)
    expect(errno.ENOENT, mtcp.mtcp_epoll_ctl, ctx, ep, mtcp.MTCP_EPOLL_CTL_DEL, fd, 0)
    mtcp.mtcp_epoll_ctl(ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, mtcp.MTCP_EPOLLIN)
    e = expect(errno.EEXIST, mtcp.mtcp_epoll_ctl, ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, 1)
    assert isinstance(e, FileExistsError)
    expect(errno.EINVAL, mtcp.mtcp_epoll_ctl, ctx, fd, mtcp.MTCP_EPOLL_CTL_ADD, ep, 1)
    expect(errno.EBADF, mtcp.mtcp_epoll_ctl, ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, 99, 1)
    expect(errno.EINVAL, mtcp.mtcp_epoll_wait, ctx, ep, 0, 0)
    expect(errno.EINVAL, mtcp.mtcp_epoll_create, ctx, 0)


@pytest.mark.parametrize("backlog", [0, -1])
def test_listen_backlog_must_be_positive(ctx: mtcp.Context, backlog: int) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    mtcp.mtcp_bind(ctx, fd, (ADDR_A, fresh_port()))
    expect(errno.EINVAL, mtcp.mtcp_listen, ctx, fd, backlog)


def test_eaddrinuse_two_listeners_same_port(sim: Link) -> None:
    ctx = sim.context(ADDR_A)
    port = fresh_port()
    listen(ctx, ADDR_A, port)
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    # Linux refuses the bind; mTCP binds and refuses the listen. Either is EADDRINUSE.
    failed: list[int | None] = []
    try:
        mtcp.mtcp_bind(ctx, fd, (ADDR_A, port))
    except mtcp.MtcpError as exc:
        failed.append(exc.errno)
    if failed:
        assert failed == [errno.EADDRINUSE]
    else:
        expect(errno.EADDRINUSE, mtcp.mtcp_listen, ctx, fd, 4)


def test_bind_twice_is_einval(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    mtcp.mtcp_bind(ctx, fd, (ADDR_A, fresh_port()))
    expect(errno.EINVAL, mtcp.mtcp_bind, ctx, fd, (ADDR_A, fresh_port()))


def test_bind_foreign_address_is_eaddrnotavail(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    expect(errno.EADDRNOTAVAIL, mtcp.mtcp_bind, ctx, fd, ("198.19.7.7", 80))


def test_accept_on_non_listener_is_einval(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    expect(errno.EINVAL, mtcp.mtcp_accept, ctx, fd)


def test_accept_empty_queue_is_eagain(ctx: mtcp.Context) -> None:
    lfd = listen(ctx, ADDR_A, fresh_port())
    e = expect(errno.EAGAIN, mtcp.mtcp_accept, ctx, lfd)
    assert isinstance(e, BlockingIOError)


def test_ealready_and_eisconn(sim: Link) -> None:
    ca, cb = sim.context(ADDR_A), sim.context(ADDR_B)
    port = fresh_port()
    listen(cb, ADDR_B, port)
    fd = connect(ca, ADDR_B, port)
    e = expect(errno.EALREADY, mtcp.mtcp_connect, ca, fd, (ADDR_B, port))
    assert isinstance(e, BlockingIOError)
    assert sim.wait(lambda: _has_peer(ca, fd))
    expect(errno.EISCONN, mtcp.mtcp_connect, ca, fd, (ADDR_B, port))


def _has_peer(ctx: mtcp.Context, fd: int) -> bool:
    try:
        ctx.getpeername(fd)
    except OSError:
        return False
    return True


def test_enotconn_on_unconnected_socket(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    expect(errno.ENOTCONN, mtcp.mtcp_read, ctx, fd, 10)
    expect(errno.ENOTCONN, mtcp.mtcp_getpeername, ctx, fd)
    # Linux answers a write on a never-connected TCP socket with EPIPE (mTCP: ENOTCONN).
    expect(errno.EPIPE, mtcp.mtcp_write, ctx, fd, b"x")


def _refused_connect(sim: Link) -> tuple[mtcp.Context, int]:
    """A connect to a port of a live host with no listener, after the RST came back."""
    ca = sim.context(ADDR_A)
    sim.context(ADDR_B)  # answers with RST
    ep = mtcp.mtcp_epoll_create(ca, 4)
    fd = connect(ca, ADDR_B, fresh_port())
    mtcp.mtcp_epoll_ctl(ca, ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLOUT)
    events: list[tuple[int, int]] = []

    def got_event() -> bool:
        events.extend(mtcp.mtcp_epoll_wait(ca, ep, 4, 0))
        return bool(events)

    assert sim.wait(got_event)
    assert events[0][0] == fd
    assert events[0][1] & mtcp.MTCP_EPOLLERR
    return ca, fd


def test_econnrefused_so_error(sim: Link) -> None:
    ca, fd = _refused_connect(sim)
    assert mtcp.mtcp_getsockopt(ca, fd, mtcp.SOL_SOCKET, mtcp.SO_ERROR) == errno.ECONNREFUSED


def test_econnrefused_then_read_raises(sim: Link) -> None:
    ca, fd = _refused_connect(sim)
    with pytest.raises(ConnectionRefusedError) as info:
        mtcp.mtcp_read(ca, fd, 10)
    assert isinstance(info.value, mtcp.MtcpError)
    assert info.value.errno == errno.ECONNREFUSED


def test_epipe_after_shutdown_wr(sim: Link) -> None:
    ca, cb = sim.context(ADDR_A), sim.context(ADDR_B)
    cfd, _sfd, _ = established(sim, ca, cb)
    mtcp.mtcp_shutdown(ca, cfd, SHUT_WR)
    with pytest.raises(BrokenPipeError) as info:
        mtcp.mtcp_write(ca, cfd, b"late")
    assert info.value.errno == errno.EPIPE
    assert isinstance(info.value, mtcp.MtcpError)


def test_econnreset_after_peer_abort(sim: Link) -> None:
    ca, cb = sim.context(ADDR_A), sim.context(ADDR_B)
    cfd, sfd, _ = established(sim, ca, cb)
    mtcp.mtcp_abort(cb, sfd)

    def reset() -> bool:
        try:
            mtcp.mtcp_read(ca, cfd, 10)
        except BlockingIOError:
            return False
        except ConnectionResetError:
            return True
        return False

    assert sim.wait(reset)
    assert mtcp.mtcp_getsockopt(ca, cfd, mtcp.SOL_SOCKET, mtcp.SO_ERROR) in (0, errno.ECONNRESET)


def test_shutdown_bad_how_is_einval(sim: Link) -> None:
    ca, cb = sim.context(ADDR_A), sim.context(ADDR_B)
    cfd, _, _ = established(sim, ca, cb)
    expect(errno.EINVAL, mtcp.mtcp_shutdown, ca, cfd, 7)


def test_recv_bad_flags_is_einval(sim: Link) -> None:
    ca, cb = sim.context(ADDR_A), sim.context(ADDR_B)
    cfd, _, _ = established(sim, ca, cb)
    expect(errno.EINVAL, mtcp.mtcp_recv, ca, cfd, 10, 0x40)


def test_ioctl_unknown_request_is_einval(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    expect(errno.EINVAL, mtcp.mtcp_socket_ioctl, ctx, fd, 0x1234)


def test_destroyed_context_is_eperm(sim: Link) -> None:
    ctx = sim.context(ADDR_A)
    ctx.destroy()
    e = expect(errno.EPERM, mtcp.mtcp_socket, ctx, AF_INET, SOCK_STREAM, 0)
    assert isinstance(e, PermissionError)


@pytest.mark.parametrize(
    ("args", "exc"),
    [
        (("x", SOCK_STREAM, 0), TypeError),
        ((AF_INET, None, 0), TypeError),
        ((2**40, SOCK_STREAM, 0), OverflowError),
    ],
)
def test_wrong_python_types(ctx: mtcp.Context, args: tuple[object, ...], exc: type) -> None:
    with pytest.raises(exc):
        mtcp.mtcp_socket(ctx, *args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("addr", "exc"),
    [
        ("198.18.0.1", TypeError),
        (("198.18.0.1",), TypeError),
        ((1, 80), TypeError),
        (("198.18.0.1", "80"), TypeError),
        (("198.18.0.1", 70000), OverflowError),
        (("198.18.0.1", -1), OverflowError),
        (("not.an.ip", 80), ValueError),
        (("::1", 80), ValueError),
    ],
)
def test_bad_addresses(ctx: mtcp.Context, addr: object, exc: type) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    with pytest.raises(exc):
        mtcp.mtcp_bind(ctx, fd, addr)  # type: ignore[arg-type]


def test_bad_buffers(ctx: mtcp.Context) -> None:
    fd = mtcp.mtcp_socket(ctx, AF_INET, SOCK_STREAM, 0)
    with pytest.raises(TypeError):
        mtcp.mtcp_write(ctx, fd, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mtcp.mtcp_readv(ctx, fd, [b"read-only"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="negative"):
        mtcp.mtcp_read(ctx, fd, -1)
