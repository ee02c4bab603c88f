"""Shared fixtures: simulated networks, in-memory hubs, and helpers that open connections.

Addresses are in 198.18.0.0/15 (RFC 2544 benchmarking space); every in-memory test uses its
own hub name, so tests never see each other's frames.
"""

from __future__ import annotations

import errno
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

import mtcp

settings.register_profile("fast", max_examples=10, deadline=None)
settings.register_profile(
    "default", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "slow", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ADDR_A = "198.18.0.1"
ADDR_B = "198.18.0.2"
_ports = itertools.count(10_000)


def fresh_port() -> int:
    """A listening port not used before in this test session."""
    return next(_ports)


class Link:
    """Two or more hosts on one network: a simulated one (virtual time) or an in-memory hub
    (real time, a loop thread per context). ``wait(pred)`` drives time until ``pred()``."""

    def __init__(self, kind: str, seed: int = 7, **impairments: object) -> None:
        self.kind = kind
        self.hub = f"hub-{uuid.uuid4().hex[:12]}"
        self.net = mtcp.sim.Network(seed=seed, **impairments) if kind == "sim" else None  # type: ignore[arg-type]
        self.stacks: list[mtcp.Stack] = []

    def host(self, addr: str, **config: object) -> mtcp.Stack:
        # Small pools: the defaults (10,000 sockets and buffers) preallocate per context.
        config.setdefault("max_concurrency", 256)
        config.setdefault("max_num_buffers", 256)
        if self.net is not None:
            stack = self.net.add_host(addr, **config)
        else:
            cfg = mtcp.Config(io="memory", port=self.hub, addr=f"{addr}/15", **config)  # type: ignore[arg-type]
            stack = mtcp.Stack(cfg)
        self.stacks.append(stack)
        return stack

    def context(self, addr: str, **config: object) -> mtcp.Context:
        return self.host(addr, **config).create_context(0)

    def wait(self, pred: Callable[[], object], timeout_ms: float = 5_000) -> bool:
        """Advances time until ``pred()`` is true; False after ``timeout_ms``."""
        if self.net is not None:
            return self.net.run(until=pred, max_ms=timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            if pred():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)

    def settle(self, ms: float = 20) -> None:
        """Lets ``ms`` of time pass (both kinds)."""
        if self.net is not None:
            self.net.run(max_ms=ms)
        else:
            time.sleep(ms / 1000)

    def close(self) -> None:
        for stack in self.stacks:
            stack.destroy()


@pytest.fixture
def sim() -> Iterator[Link]:
    link = Link("sim")
    yield link
    link.close()


@pytest.fixture(params=["sim", "memory"])
def link(request: pytest.FixtureRequest) -> Iterator[Link]:
    """Each test using it runs over the simulated network and over an in-memory hub."""
    lk = Link(request.param)
    yield lk
    lk.close()


def try_call(fn: Callable[[], object]) -> Callable[[], bool]:
    """A predicate: ``fn()`` succeeded without ``BlockingIOError``."""

    def pred() -> bool:
        try:
            fn()
        except BlockingIOError:
            return False
        return True

    return pred


def accept_one(link: Link, ctx: mtcp.Context, listener: int, timeout_ms: float = 5_000) -> int:
    got: list[int] = []

    def pred() -> bool:
        try:
            got.append(ctx.accept(listener)[0])
        except BlockingIOError:
            return False
        return True

    assert link.wait(pred, timeout_ms), "no connection was accepted"
    return got[0]


def listen(ctx: mtcp.Context, addr: str, port: int, backlog: int = 16) -> int:
    fd = mtcp.mtcp_socket(ctx, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
    mtcp.mtcp_bind(ctx, fd, (addr, port))
    mtcp.mtcp_listen(ctx, fd, backlog)
    return fd


def connect(ctx: mtcp.Context, addr: str, port: int) -> int:
    fd = mtcp.mtcp_socket(ctx, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
    with pytest.raises(BlockingIOError) as info:
        mtcp.mtcp_connect(ctx, fd, (addr, port))
    assert info.value.errno == errno.EINPROGRESS
    return fd


def established(
    link: Link,
    ca: mtcp.Context,
    cb: mtcp.Context,
    port: int | None = None,
    timeout_ms: float = 5_000,
):
    """A connection from ``ca`` (client at ADDR_A) to ``cb`` (server at ADDR_B):
    ``(client_fd, server_fd, listener_fd)``, with the client's connect completed within
    ``timeout_ms`` (under loss, lost ARP requests and SYN backoff can take many seconds)."""
    port = port or fresh_port()
    lfd = listen(cb, ADDR_B, port)
    cfd = connect(ca, ADDR_B, port)
    sfd = accept_one(link, cb, lfd, timeout_ms)
    assert link.wait(lambda: _connected(ca, cfd), timeout_ms), "connect did not complete"
    return cfd, sfd, lfd


def _connected(ctx: mtcp.Context, fd: int) -> bool:
    try:
        ctx.getpeername(fd)
    except OSError:
        return False
    return True


def read_exactly(
    link: Link, ctx: mtcp.Context, fd: int, n: int, timeout_ms: float = 10_000
) -> bytes:
    """Reads until ``n`` bytes arrived (or end of stream)."""
    buf = bytearray()
    eof = []

    def pred() -> bool:
        while len(buf) < n:
            try:
                chunk = ctx.read(fd, n - len(buf))
            except BlockingIOError:
                return False
            if not chunk:
                eof.append(True)
                return True
            buf.extend(chunk)
        return True

    link.wait(pred, timeout_ms)
    return bytes(buf)


def transfer(
    link: Link,
    src: mtcp.Context,
    sfd: int,
    dst: mtcp.Context,
    dfd: int,
    data: bytes,
    chunks: list[int] | None = None,
    timeout_ms: float = 60_000,
) -> bytes:
    """Writes ``data`` from ``sfd`` (in ``chunks`` sizes, cycling) while reading at ``dfd``;
    returns what arrived."""
    sent = 0
    got = bytearray()
    sizes = itertools.cycle(chunks or [len(data) or 1])

    def pump() -> bool:
        nonlocal sent
        while sent < len(data):
            size = next(sizes)
            try:
                n = src.write(sfd, data[sent : sent + size])
            except BlockingIOError:
                break
            sent += n
            if n == 0:
                break
        while True:
            try:
                chunk = dst.read(dfd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            got.extend(chunk)
        return sent == len(data) and len(got) >= len(data)

    link.wait(pump, timeout_ms)
    return bytes(got)
