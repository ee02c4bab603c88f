"""The per-call fast path of the bindings: reads through a reused scratch buffer, writes that
borrow ``bytes``, errno exceptions built in Rust, a reused epoll event list, and the calls a
``mtcp.Context`` binds straight to its native context. Each keeps the documented behaviour."""

from __future__ import annotations

import array
import errno
import signal
import sys
from collections.abc import Callable, Iterator

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, established, read_exactly
from mtcp import errors


class InlineLink(Link):
    """An in-memory hub of inline contexts: waiting polls every context (an inline context
    runs only inside its own calls)."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.pollers: list[tuple[mtcp.Context, int]] = []

    def context(self, addr: str, **config: object) -> mtcp.Context:
        ctx = super().context(addr, mode="inline", **config)
        self.pollers.append((ctx, ctx.epoll_create(1)))
        return ctx

    def wait(self, pred: Callable[[], object], timeout_ms: float = 5_000) -> bool:
        def poll_then(pred: Callable[[], object] = pred) -> object:
            for ctx, ep in self.pollers:
                ctx.epoll_wait(ep, 1, 0)
            return pred()

        return super().wait(poll_then, timeout_ms)


@pytest.fixture(params=["sim", "inline", "threaded"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Link, mtcp.Context, mtcp.Context]]:
    """A client (ADDR_A) and a server (ADDR_B) context in every way a context can run."""
    kind = request.param
    link = {"sim": Link("sim"), "inline": InlineLink(), "threaded": Link("memory")}[kind]
    mode = {"mode": "threaded"} if kind == "threaded" else {}
    try:
        yield link, link.context(ADDR_A, **mode), link.context(ADDR_B, **mode)
    finally:
        link.close()


def _read_when_ready(link: Link, ctx: mtcp.Context, fd: int, n: int) -> bytes:
    got: list[bytes] = []

    def ready() -> bool:
        try:
            got.append(ctx.read(fd, n))
        except BlockingIOError:
            return False
        return True

    assert link.wait(ready), "nothing arrived"
    return got[0]


def test_reads_return_exactly_what_arrived(
    pair: tuple[Link, mtcp.Context, mtcp.Context],
) -> None:
    link, client, server = pair
    cfd, sfd, _ = established(link, client, server)
    # A large read first (the scratch buffer grows to 256 KiB), then a small message: the
    # second read must not return anything left in the buffer by the first.
    client.write(cfd, b"a" * 1000)
    assert read_exactly(link, server, sfd, 1000) == b"a" * 1000
    client.write(cfd, b"b" * 10)
    assert _read_when_ready(link, server, sfd, 262144) == b"b" * 10
    # Larger than the scratch buffer is allowed to hold (1 MiB): a buffer of its own.
    client.write(cfd, b"c" * 7)
    assert _read_when_ready(link, server, sfd, 2 << 20) == b"c" * 7
    # recv(MSG_PEEK) goes through the same path and leaves the data in place.
    client.write(cfd, b"peek")
    assert link.wait(lambda: server.socket_ioctl(sfd, mtcp.FIONREAD) == 4)
    assert server.recv(sfd, 100, mtcp.MSG_PEEK) == b"peek"
    assert server.read(sfd, 2) == b"pe"
    assert server.read(sfd, 100) == b"ek"
    with pytest.raises(BlockingIOError):
        server.read(sfd, 262144)


def test_write_takes_every_bytes_like_object(
    pair: tuple[Link, mtcp.Context, mtcp.Context],
) -> None:
    link, client, server = pair
    cfd, sfd, _ = established(link, client, server)
    payloads: list[object] = [
        b"bytes",
        bytearray(b"bytearray"),
        memoryview(b"xxmemoryviewxx")[2:-2],
        array.array("B", b"array"),
    ]
    expected = b"bytesbytearraymemoryviewarray"
    for data in payloads:
        assert client.write(cfd, data) == len(memoryview(data).cast("B"))  # type: ignore[arg-type]
    assert read_exactly(link, server, sfd, len(expected)) == expected
    with pytest.raises(TypeError):
        client.write(cfd, "text")  # type: ignore[arg-type]


def _same_error(raised: BaseException, expected: errors.MtcpError) -> None:
    assert type(raised) is type(expected)
    assert raised.args == expected.args
    assert isinstance(raised, OSError)
    assert (raised.errno, raised.strerror) == (expected.errno, expected.strerror)


def test_errno_exceptions_are_what_error_from_errno_builds(
    pair: tuple[Link, mtcp.Context, mtcp.Context],
) -> None:
    link, client, server = pair
    _cfd, sfd, lfd = established(link, client, server)
    with pytest.raises(BlockingIOError) as would_block:
        server.read(sfd, 64)
    _same_error(would_block.value, errors.error_from_errno(errno.EAGAIN, "read"))
    with pytest.raises(OSError) as bad_fd:
        server.write(4000, b"x")
    _same_error(bad_fd.value, errors.error_from_errno(errno.EBADF, "write"))
    with pytest.raises(BlockingIOError) as no_conn:
        server.accept(lfd)
    _same_error(no_conn.value, errors.error_from_errno(errno.EAGAIN, "accept"))
    # Messages are made once per (call, errno) and reused: a second raise of each is the same.
    for call, expected in (("read", would_block.value), ("accept", no_conn.value)):
        with pytest.raises(BlockingIOError) as again:
            server.read(sfd, 64) if call == "read" else server.accept(lfd)
        _same_error(again.value, expected)  # type: ignore[arg-type]
    # Exceptions still take attributes and notes (they keep BaseException's __dict__).
    exc = would_block.value
    exc.context_note = "kept"  # type: ignore[attr-defined]
    assert exc.context_note == "kept"  # type: ignore[attr-defined]
    if sys.version_info >= (3, 11):
        exc.add_note("a note")
        assert exc.__notes__ == ["a note"]


def test_a_signal_handler_may_poll_during_a_blocking_wait() -> None:
    """The handler runs between the wait's slices, on the thread that waits: its own
    epoll_wait must work (the event list is taken, not borrowed, by the outer call)."""
    link = InlineLink()
    try:
        client = link.context(ADDR_A)
        server = link.context(ADDR_B)
        cfd, _sfd, _ = established(link, client, server)
        idle = server.epoll_create(4)
        busy = client.epoll_create(4)
        client.epoll_ctl(busy, mtcp.EPOLL_CTL_ADD, cfd, mtcp.EPOLLOUT)
        seen: list[list[tuple[int, int]]] = []

        class DoneError(Exception):
            pass

        def on_alarm(signum: int, frame: object) -> None:
            seen.append(client.epoll_wait(busy, 4, 0))
            raise DoneError

        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with pytest.raises(DoneError):
                server.epoll_wait(idle, 4, 5000)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert seen == [[(cfd, mtcp.EPOLLOUT)]]
        # The outer wait's list is reusable afterwards.
        assert server.epoll_wait(idle, 4, 0) == []
        assert client.epoll_wait(busy, 4, 0) == [(cfd, mtcp.EPOLLOUT)]
    finally:
        link.close()


def test_context_calls_behave_like_the_native_ones() -> None:
    """The descriptor-int calls of ``mtcp.Context`` are its native context's, bound per
    instance; each context gets its own, and a destroyed context refuses them."""
    link = Link("memory")
    try:
        a = link.context(ADDR_A, mode="inline")
        b = link.context(ADDR_B, mode="inline")
        assert a.read.__self__ is a.raw  # type: ignore[attr-defined]
        assert b.epoll_wait.__self__ is b.raw  # type: ignore[attr-defined]
        ep = a.epoll_create(4)
        assert a.epoll_wait(ep, 4, 0) == []
        with pytest.raises(OSError) as info:
            b.epoll_wait(ep + 100, 4, 0)
        assert info.value.errno == errno.EBADF
        a.destroy()
        with pytest.raises(OSError):
            a.epoll_wait(ep, 4, 0)
    finally:
        link.close()
