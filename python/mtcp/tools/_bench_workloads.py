"""The workloads of ``mtcp bench`` written in Python, once, against a small adapter that is
either the mtcp API (descriptor ints, :class:`mtcp.Context`) or Python's own ``socket`` and
``select.epoll`` on loopback. One thread drives both the server and the client (no GIL
ping-pong between two Python threads), so the figures show the cost of Python per call.

Workloads: ``short`` (connect, 64 B request, 64 B response, the client closes with FIN, the
server closes on EOF), ``rpc`` (64 B ping-pong, one request in flight per connection) and
``bulk`` (one connection streams a number of bytes to a sink).
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import mtcp

__all__ = ["KernelNet", "MtcpNet", "PyResult", "run_workload"]

IN = 0x001
OUT = 0x004
ERR = 0x008
HUP = 0x010
MSG = 64
REQUEST = b"q" * MSG
PORT = 7000
SERVER_ADDR = "198.18.0.1"
CLIENT_ADDR = "198.18.0.2"
_hub_serial = itertools.count()
#: How long a blocking epoll wait lasts before a thread looks at its stop flag.
BLOCK_MS = 2
#: How long ``short`` waits after its deadline for the connections still in flight.
DRAIN_S = 5.0


def _nothing() -> None:
    pass


@dataclass
class PyResult:
    """What one Python run measured."""

    workload: str
    stack: str
    mode: str
    conns: int
    ops: int = 0
    errors: int = 0
    secs: float = 0.0
    bytes: int = 0
    latencies_us: list[float] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        lat = sorted(self.latencies_us)

        def pct(q: float) -> float:
            return lat[round((len(lat) - 1) * q)] if lat else 0.0

        return {
            "workload": self.workload,
            "stack": self.stack,
            "mode": self.mode,
            "conns": self.conns,
            "ops": self.ops,
            "errors": self.errors,
            "secs": round(self.secs, 4),
            "rate": round(self.ops / self.secs, 1) if self.secs else 0.0,
            "gbps": round(self.bytes * 8 / self.secs / 1e9, 3) if self.secs else 0.0,
            "p50_us": round(pct(0.5), 2),
            "p99_us": round(pct(0.99), 2),
        }


class MtcpNet:
    """One mtcp context (server or client side) through the descriptor-int API."""

    def __init__(self, ctx: mtcp.Context) -> None:
        self.ctx = ctx
        self.read = ctx.read
        self.write = ctx.write
        self.close = ctx.close

    def listener(self, port: int) -> int:
        s = self.ctx.socket().detach()
        self.ctx.setsockopt(s, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, 1)
        self.ctx.bind(s, ("0.0.0.0", port))
        self.ctx.listen(s, 4096)
        return s

    def connect(self, addr: tuple[str, int]) -> int:
        s = self.ctx.socket().detach()
        self.ctx.setsockopt(s, mtcp.IPPROTO_TCP, mtcp.TCP_NODELAY, 1)
        with contextlib.suppress(BlockingIOError):  # EINPROGRESS
            self.ctx.connect(s, addr)
        return s

    def accept(self, listener: int) -> int:
        return self.ctx.accept(listener)[0]

    def epoll(self) -> Epoller:
        ctx, ep = self.ctx, self.ctx.epoll_create(1024)
        return Epoller(
            add=lambda fd, ev: ctx.epoll_ctl(ep, mtcp.EPOLL_CTL_ADD, fd, ev),
            mod=lambda fd, ev: ctx.epoll_ctl(ep, mtcp.EPOLL_CTL_MOD, fd, ev),
            wait=lambda timeout_ms: ctx.epoll_wait(ep, 1024, timeout_ms),
        )


@dataclass
class Epoller:
    """register / modify / wait on one epoll instance."""

    add: Callable[[int, int], None]
    mod: Callable[[int, int], None]
    wait: Callable[[int], list[tuple[int, int]]]


class KernelNet:
    """Python's ``socket`` module on loopback, with ``select.epoll``."""

    def __init__(self) -> None:
        self.socks: dict[int, socket.socket] = {}

    def listener(self, port: int) -> int:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4096)
        s.setblocking(False)
        self.socks[s.fileno()] = s
        return s.fileno()

    def connect(self, addr: tuple[str, int]) -> int:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        s.connect_ex(addr)
        self.socks[s.fileno()] = s
        return s.fileno()

    def accept(self, listener: int) -> int:
        c, _ = self.socks[listener].accept()
        c.setblocking(False)
        self.socks[c.fileno()] = c
        return c.fileno()

    def read(self, fd: int, n: int) -> bytes:
        return self.socks[fd].recv(n)

    def write(self, fd: int, data: bytes) -> int:
        return self.socks[fd].send(data)

    def close(self, fd: int) -> None:
        self.socks.pop(fd).close()

    def epoll(self) -> Epoller:
        ep = select.epoll()

        def wait(timeout_ms: int) -> list[tuple[int, int]]:
            return ep.poll(timeout_ms / 1000.0, 1024)

        return Epoller(add=ep.register, mod=ep.modify, wait=wait)


Net = MtcpNet | KernelNet
Step = Callable[[], None]


def _server(net: Net, echo: bool) -> tuple[Callable[[int], None], list[int]]:
    """An echo server (or a sink): returns its step function and a byte counter."""
    ep = net.epoll()
    listener = net.listener(PORT)
    ep.add(listener, IN)
    received = [0]
    read, write, close, accept, wait, add = (
        net.read,
        net.write,
        net.close,
        net.accept,
        ep.wait,
        ep.add,
    )

    def step(timeout_ms: int) -> None:
        for fd, _ev in wait(timeout_ms):
            if fd == listener:
                while True:
                    try:
                        c = accept(listener)
                    except BlockingIOError:
                        break
                    add(c, IN)
                continue
            try:
                data = read(fd, 262144)
            except BlockingIOError:
                continue
            except OSError:
                # A reset, or (mtcp threaded) an event for a descriptor closed meanwhile.
                with contextlib.suppress(OSError):
                    close(fd)
                continue
            if not data:
                close(fd)
                continue
            received[0] += len(data)
            if echo:
                write(fd, data)

    return step, received


def _short(
    sstep: Step, tmo: int, client: Net, to: tuple[str, int], conns: int, secs: float
) -> PyResult:
    r = PyResult("short", "", "", conns)
    ep = client.epoll()
    state: dict[int, int] = {}  # fd -> bytes received (-1: connecting)
    read, write, close = client.read, client.write, client.close
    t0 = time.perf_counter()
    deadline = t0 + secs

    def open_one() -> None:
        fd = client.connect(to)
        ep.add(fd, OUT)
        state[fd] = -1

    while True:
        now = time.perf_counter()
        running = now < deadline
        if running:
            while len(state) < conns:
                open_one()
        elif not state or now > deadline + DRAIN_S:
            r.errors += len(state)  # connections that never finished (a real network lost them)
            for fd in state:
                close(fd)
            break
        sstep()
        for fd, ev in ep.wait(tmo):
            got = state.get(fd)
            if got is None:
                continue
            if got < 0:
                if ev & (ERR | HUP):
                    close(fd)
                    del state[fd]
                    r.errors += 1
                elif ev & OUT:
                    write(fd, REQUEST)
                    ep.mod(fd, IN)
                    state[fd] = 0
                continue
            try:
                data = read(fd, 256)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data and got + len(data) < MSG:
                state[fd] = got + len(data)
                continue
            close(fd)
            del state[fd]
            if data:
                r.ops += 1
            else:
                r.errors += 1
    r.secs = time.perf_counter() - t0
    return r


def _rpc(
    sstep: Step, tmo: int, client: Net, to: tuple[str, int], conns: int, secs: float
) -> PyResult:
    r = PyResult("rpc", "", "", conns)
    ep = client.epoll()
    pending: set[int] = set()
    for _ in range(conns):
        fd = client.connect(to)
        ep.add(fd, OUT)
        pending.add(fd)
    established: list[int] = []
    limit = time.perf_counter() + 10.0
    while pending and time.perf_counter() < limit:
        sstep()
        for fd, ev in ep.wait(tmo):
            if fd in pending and ev & OUT:
                pending.discard(fd)
                ep.mod(fd, IN)
                established.append(fd)
    if pending:
        raise OSError(f"rpc: {len(pending)} of {conns} connections not established")
    read, write, wait = client.read, client.write, ep.wait
    perf = time.perf_counter
    sent_at: dict[int, float] = {}
    got = dict.fromkeys(established, 0)
    lat = r.latencies_us
    t0 = perf()
    deadline = t0 + secs
    for fd in established:
        sent_at[fd] = perf()
        write(fd, REQUEST)
    ops = 0
    while True:
        sstep()
        for fd, _ev in wait(tmo):
            try:
                data = read(fd, 256)
            except BlockingIOError:
                continue
            if not data:
                r.errors += 1
                continue
            n = got[fd] + len(data)
            if n < MSG:
                got[fd] = n
                continue
            got[fd] = n - MSG
            now = perf()
            lat.append((now - sent_at[fd]) * 1e6)
            ops += 1
            sent_at[fd] = now
            write(fd, REQUEST)
        if perf() >= deadline:
            break
    r.secs = perf() - t0
    r.ops = ops
    for fd in established:
        client.close(fd)
    return r


def _bulk(
    sstep: Step, tmo: int, client: Net, to: tuple[str, int], total: int, received: list[int]
) -> PyResult:
    r = PyResult("bulk", "", "", 1)
    ep = client.epoll()
    fd = client.connect(to)
    ep.add(fd, OUT)
    limit = time.perf_counter() + 10.0
    while not any(ev & OUT for _, ev in ep.wait(tmo)):
        sstep()
        if time.perf_counter() > limit:
            raise OSError("bulk: connection not established")
    chunk = b"b" * 65536
    sent = 0
    full = False
    t0 = time.perf_counter()
    while received[0] < total:
        if full and tmo:
            # Threaded: the send buffer is full, so wait for EPOLLOUT (the socket is registered
            # for it) rather than spin on EAGAIN, as a non-blocking sender does. Spinning took
            # the context's lock from mtcp's loop thread and a CPU from both stacks' threads.
            ep.wait(tmo)
        full = False
        while sent < total:
            try:
                n = client.write(fd, chunk[: min(len(chunk), total - sent)])
            except BlockingIOError:
                full = True
                break
            if n <= 0:
                break
            sent += n
        sstep()
    r.secs = time.perf_counter() - t0
    r.bytes = total
    r.ops = 1
    client.close(fd)
    return r


def run_workload(
    workload: str, stack: str, mode: str, conns: int, secs: float, total: int
) -> PyResult:
    """Runs one workload on ``stack`` (``mtcp`` or ``socket``: Python's socket module on
    loopback). ``mode``: ``single`` or ``inline`` (one thread drives server and client; mtcp
    runs inline) or ``threaded`` (the server on a second Python thread; mtcp's pinned loop
    threads)."""
    stacks: list[mtcp.Stack] = []
    if stack == "socket":
        server: Net = KernelNet()
        client: Net = server
        to = ("127.0.0.1", PORT)
    else:
        hub = f"pybench-{next(_hub_serial)}"

        def make(addr: str, core_mask: int) -> MtcpNet:
            cfg = mtcp.Config(
                io="memory",
                port=hub,
                addr=f"{addr}/24",
                mode="threaded" if mode == "threaded" else "inline",
                core_mask=core_mask,
                rcvbuf=262144 if workload == "bulk" else 8192,
                sndbuf=262144 if workload == "bulk" else 8192,
            )
            st = mtcp.Stack(cfg)
            stacks.append(st)
            return MtcpNet(st.create_context(0))

        server, client = make(SERVER_ADDR, 1), make(CLIENT_ADDR, 2)
        to = (SERVER_ADDR, PORT)
    step, received = _server(server, echo=workload != "bulk")
    stop = threading.Event()
    server_thread = None
    if mode == "threaded":
        # An application thread per side, blocking in epoll_wait as mTCP applications do (a
        # thread that polls without blocking would starve the pinned loop threads).
        def serve_forever() -> None:
            while not stop.is_set():
                step(BLOCK_MS)

        server_thread = threading.Thread(target=serve_forever, name="bench-server", daemon=True)
        server_thread.start()
        sstep: Step = _nothing
        tmo = BLOCK_MS
    else:
        sstep, tmo = (lambda: step(0)), 0
    try:
        if workload == "short":
            r = _short(sstep, tmo, client, to, conns, secs)
        elif workload == "rpc":
            r = _rpc(sstep, tmo, client, to, conns, secs)
        elif workload == "bulk":
            r = _bulk(sstep, tmo, client, to, total, received)
        else:
            raise ValueError(f"unknown workload {workload}")
    finally:
        stop.set()
        if server_thread is not None:
            server_thread.join(5.0)
        for st in stacks:
            st.destroy()
        if isinstance(server, KernelNet):
            for fd in list(server.socks):
                server.close(fd)
    r.stack, r.mode = stack, mode
    return r
