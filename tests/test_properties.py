"""Property tests (hypothesis): byte streams arrive intact; random API call sequences raise
only MtcpError (or TypeError/ValueError/OverflowError for wrong Python values) and leak no
descriptor."""

from __future__ import annotations

import errno

import hypothesis.strategies as st
from hypothesis import given, note, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import mtcp
from conftest import ADDR_A, ADDR_B, Link, established, transfer

POOL = 8


@settings(max_examples=25)
@given(
    data=st.binary(min_size=0, max_size=20_000),
    chunks=st.lists(st.integers(1, 5000), min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
    loss=st.sampled_from([0.0, 0.01, 0.05]),
    reorder=st.sampled_from([0.0, 0.05]),
)
def test_stream_arrives_intact_in_order(
    data: bytes, chunks: list[int], seed: int, loss: float, reorder: float
) -> None:
    link = Link("sim", seed=seed, loss=loss, reorder=reorder)
    try:
        ca, cb = link.context(ADDR_A), link.context(ADDR_B)
        # Virtual time: a minute covers any handshake the losses can delay (SYN backoff 1, 2,
        # 4, 8, 16 s); seed 315301 at 5 % loss needed more than 5 s.
        cfd, sfd, _ = established(link, ca, cb, port=7000, timeout_ms=60_000)
        got = transfer(link, ca, cfd, cb, sfd, data, chunks=chunks, timeout_ms=600_000)
        assert got == data
    finally:
        link.close()


ALLOWED = (mtcp.MtcpError, TypeError, ValueError, OverflowError)


class ApiMachine(RuleBasedStateMachine):
    """Random mTCP calls on one context (plus a peer to talk to) with random, often bad,
    descriptors. Only documented exceptions may come out; closing everything frees the pool."""

    def __init__(self) -> None:
        super().__init__()
        self.link = Link("sim", seed=3)
        self.ctx = self.link.context(ADDR_A, max_concurrency=POOL)
        self.peer = self.link.context(ADDR_B)
        server = mtcp.mtcp_socket(self.peer, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        mtcp.mtcp_bind(self.peer, server, (ADDR_B, 9000))
        mtcp.mtcp_listen(self.peer, server, 64)
        self.server = server
        self.fds: set[int] = set()

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        note(f"{fn.__name__}{args}")
        try:
            return fn(self.ctx, *args)
        except ALLOWED as exc:
            note(f"  -> {exc!r}")
            if isinstance(exc, mtcp.MtcpError):
                assert exc.errno is not None
                assert exc.errno > 0
            return None

    def fd(self, data: st.DataObject) -> int:
        pool = sorted(self.fds)
        if pool and data.draw(st.booleans()):
            return data.draw(st.sampled_from(pool))
        return data.draw(st.integers(-3, POOL + 3) | st.sampled_from([2**31 - 1, -(2**31)]))

    @rule()
    def socket(self) -> None:
        fd = self.call(mtcp.mtcp_socket, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        if fd is not None:
            assert fd not in self.fds
            self.fds.add(fd)

    @rule(domain=st.integers(-5, 50), ty=st.integers(-5, 10), proto=st.integers(-5, 300))
    def socket_bad_args(self, domain: int, ty: int, proto: int) -> None:
        fd = self.call(mtcp.mtcp_socket, domain, ty, proto)
        if fd is not None:
            self.fds.add(fd)

    @rule()
    def epoll_create(self) -> None:
        fd = self.call(mtcp.mtcp_epoll_create, 4)
        if fd is not None:
            self.fds.add(fd)

    @rule()
    def pipe(self) -> None:
        fds = self.call(mtcp.mtcp_pipe)
        if fds is not None:
            self.fds.update(fds)

    @rule(data=st.data(), port=st.integers(0, 65535))
    def bind(self, data: st.DataObject, port: int) -> None:
        self.call(mtcp.mtcp_bind, self.fd(data), (ADDR_A, port))

    @rule(data=st.data(), backlog=st.integers(-2, 20))
    def listen(self, data: st.DataObject, backlog: int) -> None:
        self.call(mtcp.mtcp_listen, self.fd(data), backlog)

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        got = self.call(mtcp.mtcp_accept, self.fd(data))
        if got is not None:
            self.fds.add(got[0])

    @rule(data=st.data(), port=st.sampled_from([9000, 9001]))
    def connect(self, data: st.DataObject, port: int) -> None:
        self.call(mtcp.mtcp_connect, self.fd(data), (ADDR_B, port))

    @rule(data=st.data(), n=st.integers(-1, 5000))
    def read(self, data: st.DataObject, n: int) -> None:
        self.call(mtcp.mtcp_read, self.fd(data), n)

    @rule(data=st.data(), payload=st.binary(max_size=3000))
    def write(self, data: st.DataObject, payload: bytes) -> None:
        self.call(mtcp.mtcp_write, self.fd(data), payload)

    @rule(data=st.data(), how=st.integers(-1, 3))
    def shutdown(self, data: st.DataObject, how: int) -> None:
        self.call(mtcp.mtcp_shutdown, self.fd(data), how)

    @rule(
        data=st.data(),
        level=st.sampled_from([mtcp.SOL_SOCKET, mtcp.IPPROTO_TCP, 999]),
        opt=st.integers(0, 40),
    )
    def getsockopt(self, data: st.DataObject, level: int, opt: int) -> None:
        self.call(mtcp.mtcp_getsockopt, self.fd(data), level, opt)

    @rule(data=st.data(), op=st.integers(0, 4), events=st.integers(0, 2**32 - 1))
    def epoll_ctl(self, data: st.DataObject, op: int, events: int) -> None:
        self.call(mtcp.mtcp_epoll_ctl, self.fd(data), op, self.fd(data), events)

    @rule(data=st.data(), maxevents=st.integers(-1, 8))
    def epoll_wait(self, data: st.DataObject, maxevents: int) -> None:
        self.call(mtcp.mtcp_epoll_wait, self.fd(data), maxevents, 0)

    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        fd = self.fd(data)
        self.call(mtcp.mtcp_close, fd)
        self.fds.discard(fd)

    @rule(data=st.data())
    def abort(self, data: st.DataObject) -> None:
        fd = self.fd(data)
        before = fd in self.fds
        self.call(mtcp.mtcp_abort, fd)
        if before:
            # abort frees the descriptor unless it was not a stream (ENOTSOCK): ask the pool.
            try:
                mtcp.mtcp_setsock_nonblock(self.ctx, fd)
            except mtcp.MtcpError as exc:
                if exc.errno == errno.EBADF:
                    self.fds.discard(fd)

    @rule(data=st.data())
    def wrong_types(self, data: st.DataObject) -> None:
        bad = data.draw(st.sampled_from([None, "1", 1.5, b"x", [1]]))
        self.call(mtcp.mtcp_close, bad)
        self.call(mtcp.mtcp_bind, self.fd(data), bad)
        self.call(mtcp.mtcp_write, self.fd(data), bad)

    @precondition(lambda self: True)
    @rule(ms=st.integers(0, 50))
    def advance(self, ms: int) -> None:
        assert self.link.net is not None
        self.link.net.run(max_ms=ms)
        for _ in range(4):  # drain the peer's accept queue so it never fills
            try:
                fd, _ = mtcp.mtcp_accept(self.peer, self.server)
                mtcp.mtcp_close(self.peer, fd)
            except BlockingIOError:
                break

    @invariant()
    def pool_accounting(self) -> None:
        assert self.ctx.stats().sockets_in_use <= POOL

    def teardown(self) -> None:
        try:
            for fd in sorted(self.fds):
                try:
                    mtcp.mtcp_close(self.ctx, fd)
                except mtcp.MtcpError:
                    pass
            # Every slot is free again: a full pool can be allocated.
            assert self.link.net is not None
            self.link.net.run(max_ms=100)
            fresh = [
                mtcp.mtcp_socket(self.ctx, mtcp.AF_INET, mtcp.SOCK_STREAM, 0) for _ in range(POOL)
            ]
            assert len(set(fresh)) == POOL
            assert all(fd >= 0 for fd in fresh)
        finally:
            self.link.close()


ApiMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=40, deadline=None)
test_api_state_machine = ApiMachine.TestCase
