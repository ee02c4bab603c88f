"""The Pythonic layer (API.md §3): mtcp.Stack / Context / Socket / Epoll."""

from __future__ import annotations

import errno

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, fresh_port


def _pair(link: Link) -> tuple[mtcp.Context, mtcp.Context]:
    return link.context(ADDR_A), link.context(ADDR_B)


def _connected(link: Link, ca: mtcp.Context, cb: mtcp.Context):  # type: ignore[no-untyped-def]
    port = fresh_port()
    server = cb.socket()
    server.bind((ADDR_B, port))
    server.listen()
    client = ca.socket()
    with pytest.raises(BlockingIOError) as info:
        client.connect((ADDR_B, port))
    assert info.value.errno == errno.EINPROGRESS
    accepted: list[tuple[mtcp.Socket, tuple[str, int]]] = []

    def accept() -> bool:
        try:
            accepted.append(server.accept())
        except BlockingIOError:
            return False
        return True

    assert link.wait(accept)
    conn, addr = accepted[0]
    assert addr[0] == ADDR_A
    return server, client, conn


def test_socket_object(link: Link) -> None:
    ca, cb = _pair(link)
    server, client, conn = _connected(link, ca, cb)
    assert isinstance(client, mtcp.Socket)
    assert isinstance(client.fileno(), int)
    assert client.family == mtcp.AF_INET
    assert client.type == mtcp.SOCK_STREAM
    assert link.wait(lambda: _sent(client, b"ping"))
    got = bytearray()
    assert link.wait(lambda: _recv_into(conn, got, 4))
    assert bytes(got) == b"ping"
    assert conn.getpeername() == client.getsockname()
    assert client.getpeername() == (ADDR_B, server.getsockname()[1])
    assert "fd=" in repr(client)
    conn.close()
    conn.close()  # idempotent
    assert conn.fileno() == -1
    assert conn.closed
    with pytest.raises(OSError) as info:
        conn.recv(1)
    assert info.value.errno == errno.EBADF


def _sent(sock: mtcp.Socket, data: bytes) -> bool:
    try:
        return sock.send(data) == len(data)
    except BlockingIOError:
        return False


def _recv_into(sock: mtcp.Socket, got: bytearray, n: int) -> bool:
    buf = bytearray(16)
    try:
        k = sock.recv_into(buf)
    except BlockingIOError:
        return False
    got.extend(buf[:k])
    return len(got) >= n


def test_connect_ex_and_context_managers(link: Link) -> None:
    ca, cb = _pair(link)
    port = fresh_port()
    with cb.socket() as server:
        server.bind((ADDR_B, port))
        server.listen(8)
        with ca.socket() as client:
            assert client.connect_ex((ADDR_B, port)) == errno.EINPROGRESS
            assert link.wait(lambda: client.getsockopt(mtcp.SOL_SOCKET, mtcp.SO_ERROR) == 0)
            assert link.wait(lambda: _has_peer(client))
        assert client.closed
    assert server.closed


def _has_peer(sock: mtcp.Socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def test_recv_peek_and_pending(link: Link) -> None:
    ca, cb = _pair(link)
    _server, client, conn = _connected(link, ca, cb)
    assert link.wait(lambda: _sent(client, b"abcdef"))
    assert link.wait(lambda: conn.pending() == 6)
    assert conn.recv(3, mtcp.MSG_PEEK) == b"abc"
    assert conn.recv(100) == b"abcdef"


def test_send_flags_unsupported(link: Link) -> None:
    ca, cb = _pair(link)
    _server, client, _conn = _connected(link, ca, cb)
    with pytest.raises(mtcp.MtcpError) as info:
        client.send(b"x", 0x40)
    assert info.value.errno == errno.EOPNOTSUPP


def test_shutdown_and_abort(link: Link) -> None:
    ca, cb = _pair(link)
    _server, client, conn = _connected(link, ca, cb)
    client.shutdown(mtcp.SHUT_WR)
    eof: list[bytes] = []

    def at_eof() -> bool:
        try:
            eof.append(conn.recv(10))
        except BlockingIOError:
            return False
        return True

    assert link.wait(at_eof)
    assert eof == [b""]
    client.abort()
    assert client.closed


def test_setsockopt(link: Link) -> None:
    ca, cb = _pair(link)
    _server, client, _conn = _connected(link, ca, cb)
    client.setsockopt(mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, True)
    assert client.getsockopt(mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY) == 1
    with pytest.raises(TypeError):
        client.setsockopt(mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, b"\x01")  # type: ignore[arg-type]


def test_epoll_object(link: Link) -> None:
    ca, cb = _pair(link)
    server, client, conn = _connected(link, ca, cb)
    with cb.epoll() as ep:
        assert isinstance(ep, mtcp.Epoll)
        ep.register(conn, mtcp.EPOLLIN)
        ep.register(server.fileno(), mtcp.EPOLLIN)
        assert ep.poll(0) == []
        assert link.wait(lambda: _sent(client, b"data"))
        events: list[tuple[int, int]] = []
        assert link.wait(lambda: bool(events.extend(ep.poll(0)) or events))
        assert events == [(conn.fileno(), events[0][1])]
        assert events[0][1] & mtcp.EPOLLIN
        ep.modify(conn, mtcp.EPOLLOUT)
        out = ep.poll(0.01)
        assert (conn.fileno(), mtcp.EPOLLOUT) in [(fd, ev & mtcp.EPOLLOUT) for fd, ev in out]
        ep.unregister(conn)
        assert ep.poll(0, maxevents=4) == []
        with pytest.raises(FileNotFoundError):
            ep.unregister(conn)
        with pytest.raises(TypeError):
            ep.register("nope")  # type: ignore[arg-type]
    assert ep.closed


def test_context_with_block_destroys(link: Link) -> None:
    stack = link.host(ADDR_A)
    with stack.create_context(0) as ctx:
        assert isinstance(ctx, mtcp.Context)
        assert ctx.core == 0
        s = ctx.socket()
        assert ctx.stats().sockets_in_use == 1
        s.close()
        assert "mtcp.Context" in repr(ctx)
    with pytest.raises(mtcp.MtcpError):
        ctx.socket()


def test_stack_from_config_object(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = mtcp.Config(io="memory", port=f"py-{tmp_path.name}", addr="198.18.0.7/15")
    with mtcp.Stack(cfg) as stack:
        assert stack.config().addr == "198.18.0.7/15"
        ctx = stack.create_context(core=0)
        assert ctx in stack.contexts
        s = ctx.socket()
        s.bind(("", fresh_port()))
        assert s.getsockname()[0] in ("0.0.0.0", "198.18.0.7")
