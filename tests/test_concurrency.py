"""Contexts driven from several Python threads at once (issue 7).

Two threaded contexts per stack on one in-memory hub: an epoll echo server thread per server
context and a client thread per client context; every connection's echo is checked by length
and SHA-256, and each connection was opened by exactly one server context. Calls release the
GIL, so the threads and the contexts' loop threads really run side by side. A second test has
two threads use the same context at once (one writes, one reads, different sockets).
"""

from __future__ import annotations

import errno
import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

import mtcp

SERVER = "198.18.9.1"
CLIENT = "198.18.9.2"
CONNS_PER_CLIENT = 25
BYTES_PER_CONN = 256 * 1024
BUDGET_S = 15.0

pytestmark = pytest.mark.timeout(30)


def stack(hub: str, addr: str) -> mtcp.Stack:
    cfg = mtcp.Config(
        io="memory",
        port=hub,
        addr=f"{addr}/24",
        num_cores=2,
        max_concurrency=128,
        max_num_buffers=128,
    )
    return mtcp.Stack(cfg)


def retryable(e: OSError) -> bool:
    # ENOTCONN: the handshake is still under way.
    return isinstance(e, BlockingIOError) or e.errno == errno.ENOTCONN


def echo_server(ctx: mtcp.Context, port: int, ready: threading.Event, stop: threading.Event) -> int:
    """Echoes every connection in order until ``stop``; returns how many it accepted."""
    lsock = ctx.raw.socket(mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
    ctx.bind(lsock, ("0.0.0.0", port))
    ctx.listen(lsock, 128)
    ep = ctx.epoll_create(64)
    ctx.epoll_ctl(ep, mtcp.MTCP_EPOLL_CTL_ADD, lsock, mtcp.MTCP_EPOLLIN)
    ready.set()
    pending: dict[int, bytearray] = {}
    accepted = 0
    while not stop.is_set():
        for fd, ev in ctx.epoll_wait(ep, 64, 10):
            if fd == lsock:
                while True:
                    try:
                        conn, _ = ctx.accept(lsock)
                    except BlockingIOError:
                        break
                    accepted += 1
                    pending[conn] = bytearray()
                    events = mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLOUT
                    ctx.epoll_ctl(ep, mtcp.MTCP_EPOLL_CTL_ADD, conn, events)
                continue
            out = pending.get(fd)
            if out is None:
                continue
            eof = bool(ev & (mtcp.MTCP_EPOLLERR | mtcp.MTCP_EPOLLHUP))
            while True:
                # What was read but not yet echoed goes first: the echo keeps the order.
                try:
                    while out:
                        del out[: ctx.write(fd, bytes(out))]
                except BlockingIOError:
                    break
                try:
                    data = ctx.read(fd, 16384)
                except BlockingIOError:
                    break
                if not data:
                    eof = True
                    break
                out += data
            if eof and not out:
                ctx.close(fd)
                del pending[fd]
    assert not pending, f"{len(pending)} connections left open"
    return accepted


@dataclass
class Conn:
    """One client connection: its pattern, how much went out, and what came back."""

    data: bytes
    sent: int = 0
    received: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


def echo_client(ctx: mtcp.Context, seed: int, results: dict[int, int]) -> None:
    """Opens every connection at once; checks each echo's length and SHA-256."""
    ctx.init_rss("0.0.0.0", 1, SERVER, 80)
    ep = ctx.epoll_create(64)
    rng = random.Random(seed)
    conns: dict[int, Conn] = {}
    for _ in range(CONNS_PER_CLIENT):
        fd = ctx.raw.socket(mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        with pytest.raises(BlockingIOError):
            ctx.connect(fd, (SERVER, 80))
        ctx.epoll_ctl(ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLOUT)
        conns[fd] = Conn(rng.randbytes(BYTES_PER_CONN))
    deadline = time.monotonic() + BUDGET_S
    done = 0
    while done < CONNS_PER_CLIENT:
        assert time.monotonic() < deadline, f"client {seed}: {done}/{CONNS_PER_CLIENT} done"
        for fd, _ in ctx.epoll_wait(ep, 64, 10):
            c = conns.get(fd)
            if c is None:
                continue
            try:
                while c.sent < len(c.data):
                    c.sent += ctx.write(fd, c.data[c.sent : c.sent + 65536])
                    if c.sent == len(c.data):
                        ctx.shutdown(fd, mtcp.SHUT_WR)
            except OSError as e:
                if not retryable(e):
                    raise
            while True:
                try:
                    chunk = ctx.read(fd, 32768)
                except OSError as e:
                    if retryable(e):
                        break
                    raise
                if not chunk:
                    assert c.received == len(c.data), f"fd {fd}: {c.received} bytes echoed"
                    expected = hashlib.sha256(c.data).hexdigest()
                    assert c.digest.hexdigest() == expected, f"fd {fd}: echo differs"
                    ctx.close(fd)
                    del conns[fd]
                    results[seed] = results.get(seed, 0) + 1
                    done += 1
                    break
                c.digest.update(chunk)
                c.received += len(chunk)
                assert c.received <= len(c.data), f"fd {fd}: echo longer than what was sent"


class Worker(threading.Thread):
    """A thread that keeps its target's result or exception for the test to look at."""

    def __init__(self, target: Callable[..., object], *args: object) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self._args = args
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn(*self._args)
        except BaseException as e:
            self.error = e

    def outcome(self) -> object:
        self.join(BUDGET_S + 5)
        assert not self.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def test_four_python_threads_drive_two_contexts_per_side() -> None:
    hub = f"hub-{uuid.uuid4().hex[:12]}"
    server, client = stack(hub, SERVER), stack(hub, CLIENT)
    try:
        sctx = [server.create_context(0), server.create_context(1)]
        cctx = [client.create_context(0), client.create_context(1)]
        stop = threading.Event()
        ready = [threading.Event(), threading.Event()]
        servers = [Worker(echo_server, ctx, 80, ready[i], stop) for i, ctx in enumerate(sctx)]
        for t in servers:
            t.start()
        # A SYN steered to a context without its listener would be refused.
        assert all(r.wait(5) for r in ready)
        results: dict[int, int] = {}
        clients = [Worker(echo_client, ctx, i + 1, results) for i, ctx in enumerate(cctx)]
        for t in clients:
            t.start()
        try:
            for t in clients:
                t.outcome()
        finally:
            stop.set()
        accepted = [t.outcome() for t in servers]
        assert results == {1: CONNS_PER_CLIENT, 2: CONNS_PER_CLIENT}
        assert sum(accepted) == 2 * CONNS_PER_CLIENT  # type: ignore[arg-type]
        for i, ctx in enumerate(sctx):
            stats = ctx.stats()
            # Only the context that accepted a connection ever opened it.
            assert stats.connections_opened == accepted[i], f"server context {i}"
            assert stats.drops == 0
        for ctx in cctx:
            assert ctx.stats().connections_opened == CONNS_PER_CLIENT
            assert ctx.stats().drops == 0
    finally:
        server.destroy()
        client.destroy()


def test_two_python_threads_share_one_context() -> None:
    total = 8 * 1024 * 1024
    hub = f"hub-{uuid.uuid4().hex[:12]}"
    server, client = stack(hub, SERVER), stack(hub, CLIENT)
    try:
        s, c = server.create_context(0), client.create_context(0)
        lsock = s.raw.socket(mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        s.bind(lsock, (SERVER, 81))
        s.listen(lsock, 8)
        deadline = time.monotonic() + BUDGET_S

        def connect() -> tuple[int, int]:
            fd = c.raw.socket(mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
            with pytest.raises(BlockingIOError):
                c.connect(fd, (SERVER, 81))
            while True:
                assert time.monotonic() < deadline, "accept"
                try:
                    conn, _ = s.accept(lsock)
                    return fd, conn
                except BlockingIOError:
                    time.sleep(0.001)

        up_c, up_s = connect()
        down_c, down_s = connect()
        data = random.Random(77).randbytes(total)

        def writer(ctx: mtcp.Context, fd: int) -> None:
            sent = 0
            while sent < total:
                assert time.monotonic() < deadline, f"writer stuck at {sent}"
                try:
                    sent += ctx.write(fd, data[sent : sent + 65536])
                except OSError as e:
                    if not retryable(e):
                        raise
                    time.sleep(0)
            ctx.shutdown(fd, mtcp.SHUT_WR)

        def reader(ctx: mtcp.Context, fd: int) -> str:
            digest, n = hashlib.sha256(), 0
            while True:
                assert time.monotonic() < deadline, f"reader stuck at {n}"
                try:
                    chunk = ctx.read(fd, 65536)
                except OSError as e:
                    if not retryable(e):
                        raise
                    time.sleep(0)
                    continue
                if not chunk:
                    assert n == total
                    return digest.hexdigest()
                n += len(chunk)
                digest.update(chunk)

        # Each context has a writer thread and a reader thread on different sockets.
        threads = [
            Worker(writer, c, up_c),
            Worker(reader, c, down_c),
            Worker(reader, s, up_s),
            Worker(writer, s, down_s),
        ]
        for t in threads:
            t.start()
        outcomes = [t.outcome() for t in threads]
        expected = hashlib.sha256(data).hexdigest()
        assert outcomes[1] == expected
        assert outcomes[2] == expected
        assert s.stats().drops == 0
        assert c.stats().drops == 0
    finally:
        server.destroy()
        client.destroy()
