"""``mtcp bench --veth``: mtcp on real packet backends against one kernel peer (issue 6, item 7).

The lab (:mod:`mtcp.tools.netlab`) is brought up, used and *always* brought down. One kernel
server (:data:`PEER_SERVER`, Python's ``socket`` + ``select.epoll``, started with
``ip netns exec mtcp-peer timeout …``) listens on the peer's bridge address 198.18.10.1; the
same program runs in ``mtcp-tap`` on 198.18.11.1 for the TAP rows. Against it, from the other
end of the cable, the same client code (:mod:`mtcp.tools._bench_workloads`, one Python thread):

* mtcp, inline mode, on ``mtcpv0`` in ``mtcp-stk`` with ``io = afpacket`` and ``io = afxdp``
  (198.18.10.2), and on the TAP ``mtcptap0`` in ``mtcp-tap`` (198.18.11.2);
* the kernel's TCP (Python ``socket``) in ``mtcp-stk`` over the same veth. For that run only,
  ``mtcpv0`` gets the kernel address :data:`KERNEL_CLIENT_ADDR` (198.18.10.3), which is removed
  again before any mtcp run: while the kernel owns an address on the interface its TCP would
  answer segments meant for it, but 198.18.10.3 is not mtcp's, and frames for mtcp's
  198.18.10.2 are not the kernel's (forwarding is off), so the two never meet. This is simpler
  than a third namespace with a second veth and keeps "same cable, same peer" literal.

Workloads: ``short`` (connect, 64 B request, 64 B echo, close; 64 in flight), ``rpc`` (64 B
ping-pong on 1 connection; p50/p99) and ``bulk`` (64 MiB to a sink that acknowledges the last
byte). Every run is bounded (at most ``secs`` plus a few seconds of draining), the server by
``timeout``. All traffic stays in 198.18.0.0/15 inside the lab's namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import mtcp

from . import netlab
from ._bench_workloads import IN, OUT, KernelNet, MtcpNet, PyResult, _rpc, _short

__all__ = ["KERNEL_CLIENT_ADDR", "PEER_SERVER", "VETH_RUNS", "run_veth"]

ECHO_PORT = 7000
SINK_PORT = 7001
#: The kernel client's address on mtcpv0, present only during the kernel runs.
KERNEL_CLIENT_ADDR = "198.18.10.3"
#: Bytes of the bulk workload.
BULK_BYTES = 64 << 20
#: How long the peer server may live at most (``timeout`` kills it).
SERVER_LIFETIME_S = 600
#: (label, io) of the client stacks, in run order; ``kernel`` is Python's socket module.
VETH_RUNS = (("kernel", "veth"), ("mtcp", "afpacket"), ("mtcp", "afxdp"), ("mtcp", "tap"))

#: The kernel peer: echo on ECHO_PORT; on SINK_PORT an 8-byte big-endian length, then that
#: many bytes, answered by one byte "k". Single-threaded epoll, standard library only.
PEER_SERVER = r"""
import select, socket, sys
addr = sys.argv[1]
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(4096); s.setblocking(False)
    return s
ls = {listen(int(sys.argv[2])): "echo", listen(int(sys.argv[3])): "sink"}
byfd = {s.fileno(): (s, kind) for s, kind in ls.items()}
ep = select.epoll()
for s in ls: ep.register(s, select.EPOLLIN)
conns = {}
print("ready", flush=True)
while True:
    for fd, ev in ep.poll(1.0):
        if fd in byfd:
            lsock, kind = byfd[fd]
            while True:
                try:
                    c, _ = lsock.accept()
                except BlockingIOError:
                    break
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[c.fileno()] = [c, kind, -1, 0, b""]
                ep.register(c, select.EPOLLIN)
            continue
        st = conns.get(fd)
        if st is None:
            continue
        c = st[0]
        try:
            data = c.recv(262144)
            if data and st[1] == "echo":
                c.setblocking(True); c.settimeout(5.0); c.sendall(data); c.setblocking(False)
                continue
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            ep.unregister(fd); c.close(); del conns[fd]
            continue
        if st[2] < 0:
            st[4] += data
            if len(st[4]) < 8:
                continue
            st[2] = int.from_bytes(st[4][:8], "big"); st[3] = len(st[4]) - 8; st[4] = b""
        else:
            st[3] += len(data)
        if st[3] >= st[2]:
            try:
                c.send(b"k")
            except OSError:
                pass
            st[2] = -1; st[3] = 0
"""


@contextlib.contextmanager
def _peer_server(ns: str, addr: str) -> Iterator[None]:
    """The kernel server in ``ns`` on ``addr``, stopped (killed if need be) on exit."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "timeout", str(SERVER_LIFETIME_S), sys.executable, "-c",
         PEER_SERVER, addr, str(ECHO_PORT), str(SINK_PORT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: `timeout` and the server die together
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        line = proc.stdout.readline()  # bounded: the server prints or dies (timeout)
        if line.strip() != "ready":
            raise OSError(f"kernel peer server in {ns} did not start: {proc.stderr.read()!r}")
        yield
    finally:
        # Killing only `timeout` left the server holding the pipes, and communicate() timed out.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)  # reaps it and closes both pipes


def _bulk_to_sink(client: KernelNet | MtcpNet, to: tuple[str, int], total: int) -> PyResult:
    """Streams ``total`` bytes (after an 8-byte length) and waits for the sink's "k"; the time
    runs from the first byte to the acknowledgement. At most 10 s."""
    r = PyResult("bulk", "", "", 1)
    ep = client.epoll()
    fd = client.connect(to)
    ep.add(fd, OUT)
    limit = time.perf_counter() + 10.0
    while not any(ev & OUT for _, ev in ep.wait(1)):
        if time.perf_counter() > limit:
            raise OSError("bulk: connection not established")
    ep.mod(fd, IN)
    payload = total.to_bytes(8, "big") + b"b" * 65536
    chunk = memoryview(b"b" * 65536)
    sent = -8
    t0 = time.perf_counter()
    deadline = t0 + 10.0
    acked = False
    while not acked:
        if time.perf_counter() > deadline:
            raise OSError(f"bulk: not done in 10 s ({max(sent, 0)} of {total} bytes sent)")
        while sent < total:
            data = payload if sent < 0 else chunk[: min(len(chunk), total - sent)]
            try:
                n = client.write(fd, bytes(data))
            except BlockingIOError:
                break
            if n <= 0:
                break
            if sent < 0 and n < 8:
                raise OSError("bulk: short write of the length header")
            sent += n
            if sent < 0:
                break
        for _fd, _ev in ep.wait(0 if sent < total else 1):
            with contextlib.suppress(BlockingIOError):
                acked = client.read(fd, 16) == b"k"
    r.secs = time.perf_counter() - t0
    r.bytes = total
    r.ops = 1
    client.close(fd)
    return r


def _one(workload: str, client: KernelNet | MtcpNet, server_addr: str, secs: float) -> PyResult:
    nothing = lambda: None  # noqa: E731 — the server is the kernel peer, nothing to step here
    # Warm-up: one connection and one exchange, so ARP is resolved on both ends before the
    # clock runs (64 SYNs towards an unresolved neighbour overflow its queue: 1 s SYN RTOs).
    _rpc(nothing, 1, client, (server_addr, ECHO_PORT), 1, 0.05)
    if workload == "short":
        return _short(nothing, 1, client, (server_addr, ECHO_PORT), 64, secs)
    if workload == "rpc":
        return _rpc(nothing, 1, client, (server_addr, ECHO_PORT), 1, secs)
    return _bulk_to_sink(client, (server_addr, SINK_PORT), BULK_BYTES)


def _mtcp_client(io: str, workload: str) -> tuple[mtcp.Stack, MtcpNet]:
    lab = netlab.LAB
    ns, port, addr = (
        (netlab.TAP_NS, lab.tap, lab.tap_stack_addr)
        if io == "tap"
        else (netlab.STACK_NS, lab.veth_stack, lab.veth_stack_addr)
    )
    buf = 262144 if workload == "bulk" else 8192
    cfg = mtcp.Config(
        io=io,
        port=port,
        addr=f"{addr}/{lab.prefix_len}",
        mode="inline",
        max_concurrency=2048,
        max_num_buffers=2048,
        rcvbuf=buf,
        sndbuf=buf,
    )
    with netlab.in_netns(ns):
        stack = mtcp.Stack(cfg)
    return stack, MtcpNet(stack.create_context(0))


def _kernel_address(present: bool) -> None:
    lab = netlab.LAB
    verb = "add" if present else "del"
    subprocess.run(
        ["ip", "-n", netlab.STACK_NS, "addr", verb, f"{KERNEL_CLIENT_ADDR}/{lab.prefix_len}",
         "dev", lab.veth_stack],
        check=present, capture_output=True, timeout=10,
    )  # fmt: skip


def _kernel_run(workload: str, secs: float) -> PyResult:
    """The kernel client in mtcp-stk over mtcpv0 (which owns 198.18.10.3 only meanwhile)."""
    _kernel_address(True)
    net = KernelNet()
    try:
        with netlab.in_netns(netlab.STACK_NS):
            # Sockets created here stay in mtcp-stk. Short connections leave TIME_WAIT on the
            # client: reuse them (namespace-local sysctl) so the port range never runs dry.
            subprocess.run(
                ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1",
                 "net.ipv4.ip_local_port_range=10000 65000"],
                check=False, capture_output=True, timeout=10,
            )  # fmt: skip
            return _one(workload, net, netlab.LAB.veth_peer_addr, secs)
    finally:
        for fd in list(net.socks):
            net.close(fd)
        _kernel_address(False)


def _run_one(stack: str, io: str, workload: str, secs: float) -> dict[str, Any]:
    if stack == "kernel":
        r = _kernel_run(workload, secs)
    else:
        st, client = _mtcp_client(io, workload)
        try:
            peer = netlab.LAB.tap_kernel_addr if io == "tap" else netlab.LAB.veth_peer_addr
            r = _one(workload, client, peer, secs)
        finally:
            st.destroy()
    r.stack, r.mode = stack, io
    rec = r.record()
    rec["suite"] = "veth"
    rec["io"] = io
    return rec


def run_veth(secs: float, out: TextIO, describe: Any) -> list[dict[str, Any]]:
    """Brings the lab up, runs every (workload, client) pair against the kernel peers, brings
    the lab down (always). ``secs``: length of each short/rpc run (at most 10)."""
    secs = min(secs, 10.0)
    workloads = ("short", "rpc", "bulk")
    runs = [(w, s, io) for w in workloads for s, io in VETH_RUNS]
    with netlab.exclusive():
        return _run_in_lab(runs, secs, out, describe)


def _run_in_lab(
    runs: list[tuple[str, str, str]], secs: float, out: TextIO, describe: Any
) -> list[dict[str, Any]]:
    """:func:`run_veth`'s body, run while the lab's lock is held."""
    records: list[dict[str, Any]] = []
    netlab.up()
    try:
        lab = netlab.LAB
        with (
            _peer_server(netlab.PEER_NS, lab.veth_peer_addr),
            _peer_server(netlab.TAP_NS, lab.tap_kernel_addr),
        ):
            for i, (workload, stack, io) in enumerate(runs, 1):
                conns = 64 if workload == "short" else 1
                print(
                    f"  [{i}/{len(runs)}] veth {workload} {conns} {stack} {io} ...",
                    end=" ",
                    file=out,
                    flush=True,
                )
                try:
                    rec = _run_one(stack, io, workload, secs)
                except OSError as exc:
                    print(f"failed: {exc}", file=out)
                    continue
                records.append(rec)
                print(describe(rec), file=out, flush=True)
    finally:
        errors = netlab.down()
        for error in errors:
            print(f"  netlab down: {error}", file=out)
    return records
