"""``mtcp bench --veth``: mtcp on real packet backends against kernel peers (issues 6 and 7).

The lab (:mod:`mtcp.tools.netlab`) is brought up, used and *always* brought down, with the
lab's lock held throughout. A kernel peer server (:mod:`mtcp.tools._bench_veth_peer`: echo and
sink, in C when ``cc`` is present, else in Python; :data:`PEER_WORKERS` processes sharing the
ports with ``SO_REUSEPORT``) runs in ``mtcp-peer`` on the bridge address 198.18.10.1 and in
``mtcp-tap`` on 198.18.11.1 (the TAP rows). Against it, from the other end of the cable, the
same Python client code (:mod:`mtcp.tools._bench_workloads`):

* mtcp, inline mode, on ``mtcpv0`` in ``mtcp-stk`` with ``io = afpacket``, ``afxdp`` and
  ``dpdk`` (a ``net_af_packet`` vdev on ``mtcpv0``; only when the extension has DPDK), and on
  the TAP ``mtcptap0`` in ``mtcp-tap``;
* the kernel's TCP (Python ``socket``) in ``mtcp-stk`` over the same veth. For that run only,
  ``mtcpv0`` gets the kernel address :data:`KERNEL_CLIENT_ADDR` (198.18.10.3), removed again
  before any mtcp run: while the kernel owns an address on the interface its TCP would answer
  segments meant for it, but 198.18.10.3 is not mtcp's, and frames for mtcp's 198.18.10.2 are
  not the kernel's (forwarding is off), so the two never meet.

Each short/rpc row runs with **1 and 2 contexts** (issue 7 item 4): ``num_cores = n``, one
client thread per context driving it inline, ``mtcp_init_rss`` so replies come back to the
context that sent; the kernel row gets n client threads. A backend that refuses ``num_cores =
2`` gives a row with ``status: "not supported"`` and the reason instead of a figure. Bulk runs
with one context.

Every row runs in a child process (``python -m mtcp.tools._bench_veth --child SPEC`` under
``ip netns exec``): DPDK's EAL can be set up once per process only (the 1- and 2-queue rows
need different vdev arguments), a backend that crashes takes only its row with it, and each
row's CPU use is its own. The child measures, over the timed part only, the CPU time of each
client thread, of the peer's workers (``/proc/<pid>/stat``) and of the whole machine
(``/proc/stat``: user, system, softirq, steal, idle), and :func:`limit_of` names what ran out.

Workloads: ``short`` (connect, 64 B request, 64 B echo, close; 64 in flight per thread),
``rpc`` (64 B ping-pong on 1 connection per thread; p50/p99) and ``bulk`` (64 MiB to a sink
that acknowledges the last byte). Every run is bounded (``secs``, at most 10, plus at most
:data:`DRAIN_S` of draining); the child by ``timeout``, the peer by ``timeout``. All traffic
stays in 198.18.0.0/15 inside the lab's namespaces.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import mtcp

from . import netlab
from ._bench_veth_peer import PEER_SERVER, PEER_WORKERS, peer_program, peer_server
from ._bench_workloads import DRAIN_S, IN, OUT, KernelNet, MtcpNet, PyResult, _rpc, _short

__all__ = [
    "CONTEXTS",
    "KERNEL_CLIENT_ADDR",
    "PEER_SERVER",
    "PEER_WORKERS",
    "VETH_RUNS",
    "Row",
    "add_scaling",
    "limit_of",
    "plan",
    "run_veth",
    "veth_table",
]

ECHO_PORT = 7000
SINK_PORT = 7001
#: The kernel client's address on mtcpv0, present only during the kernel runs.
KERNEL_CLIENT_ADDR = "198.18.10.3"
#: Bytes of the bulk workload.
BULK_BYTES = 64 << 20
#: Short connections in flight per client thread.
SHORT_IN_FLIGHT = 64
#: Context counts of the short and rpc rows (kernel: client threads).
CONTEXTS = (1, 2)
#: (stack, io) of the client stacks, in run order; ``kernel`` is Python's socket module.
VETH_RUNS = (
    ("kernel", "veth"),
    ("mtcp", "afpacket"),
    ("mtcp", "afxdp"),
    ("mtcp", "tap"),
    ("mtcp", "dpdk"),
)
#: DPDK's port: EAL's af_packet vdev on the stack's veth end (as tests/interop do it).
DPDK_PORT = "net_af_packet0"
#: A child's own limit beyond the run's length (start-up, warm-up, draining, teardown).
CHILD_SLACK_S = 40.0
#: Bound of each wait for the other client threads (warm-up done, run started).
BARRIER_S = 30.0


@dataclass(frozen=True)
class Row:
    """One run: a workload, a client stack on a backend, and how many contexts (threads)."""

    workload: str
    stack: str
    io: str
    contexts: int

    @property
    def conns(self) -> int:
        """Connections in flight in all (per thread: 64 short, 1 rpc and bulk)."""
        return (SHORT_IN_FLIGHT if self.workload == "short" else 1) * self.contexts

    def label(self) -> str:
        return f"{self.workload} {self.stack} {self.io} x{self.contexts}"


def plan(ios: Sequence[str] | None = None) -> list[Row]:
    """The rows, in run order: short and rpc with every client stack at 1 and 2 contexts,
    then bulk with 1 context. ``ios`` keeps only those backends (``veth``: the kernel)."""
    runs = [(s, io) for s, io in VETH_RUNS if ios is None or io in ios]
    rows = [Row(w, s, io, n) for w in ("short", "rpc") for s, io in runs for n in CONTEXTS]
    rows += [Row("bulk", s, io, 1) for s, io in runs]
    return rows


# -- the kernel peer --------------------------------------------------------------------------


# -- CPU accounting ---------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: /proc/stat's cpu line, in order.
_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _machine_ticks() -> dict[str, int]:
    with open("/proc/stat") as f:
        values = f.readline().split()[1 : 1 + len(_STAT_FIELDS)]
    return dict(zip(_STAT_FIELDS, map(int, values), strict=False))


def _process_ticks(pid: int) -> int:
    """utime + stime of process ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


@dataclass
class _CpuSample:
    wall: float
    machine: dict[str, int]
    peers: list[int]
    process: float

    @classmethod
    def now(cls, peer_pids: Sequence[int]) -> _CpuSample:
        return cls(
            time.perf_counter(),
            _machine_ticks(),
            [_process_ticks(p) for p in peer_pids],
            time.process_time(),
        )


def _cpu_use(a: _CpuSample, b: _CpuSample, threads: Sequence[float]) -> dict[str, Any]:
    """What each part used between samples ``a`` and ``b``, in CPUs (CPU seconds per second
    of wall time): each client thread, the client process, each peer worker, the machine."""
    wall = max(b.wall - a.wall, 1e-9)

    def cpus(ticks: float) -> float:
        return round(ticks / _TICK / wall, 3)

    machine = {k: cpus(b.machine[k] - a.machine[k]) for k in _STAT_FIELDS}
    return {
        "wall_s": round(wall, 3),
        "client_threads": [round(t / wall, 3) for t in threads],
        "client_process": round((b.process - a.process) / wall, 3),
        "peer_workers": [cpus(y - x) for x, y in zip(a.peers, b.peers, strict=False)],
        "machine": {
            "cpus": os.cpu_count() or 1,
            "busy": round(sum(v for k, v in machine.items() if k not in ("idle", "iowait")), 3),
            "idle": round(machine["idle"] + machine["iowait"], 3),
            "user": round(machine["user"] + machine["nice"], 3),
            "system": machine["system"],
            "softirq": round(machine["softirq"] + machine["irq"], 3),
            "steal": machine["steal"],
        },
    }


#: A part using this much of one CPU counts as saturated.
SATURATED = 0.85


def limit_of(cpu: dict[str, Any], gil_held: bool = True) -> str:
    """What bounded a run, from its :func:`_cpu_use` figures: the machine (no idle CPU
    left; softirq time is shown apart, but much of it is also in the client's and the peer's
    process times, since it runs inside their system calls), one client thread, the GIL
    (Python client threads that together use one CPU, when their calls keep the GIL:
    ``gil_held``, mtcp in inline mode), client threads that together use one CPU although
    their calls release the GIL (the kernel's ``socket``, mtcp threaded: a hint of the GIL,
    not a proof), a peer worker, or nothing saturated (latency-bound)."""
    threads: list[float] = cpu["client_threads"]
    peers: list[float] = cpu["peer_workers"]
    m = cpu["machine"]
    if m["idle"] < 0.1 * m["cpus"]:
        # Softirq work done in a process's system call (veth delivers the receiver's packets
        # in the sender's context) is in that process's time too: the rest is kernel threads,
        # interrupts on otherwise idle CPUs and other processes.
        client = cpu.get("client_process", sum(threads))
        rest = m["busy"] - client - sum(peers) - m["steal"]
        return (
            f"machine CPU (all {m['cpus']} busy: client {client:.2f}, peer {sum(peers):.2f}, "
            f"steal {m['steal']:.2f}, rest {max(rest, 0.0):.2f}; softirq {m['softirq']:.2f})"
        )
    if threads and max(threads) >= SATURATED:
        return "client thread CPU"
    if len(threads) > 1 and sum(threads) >= SATURATED:
        if gil_held:
            return "GIL (the client threads share one CPU)"
        return "client threads at 1 CPU together (their calls release the GIL)"
    if peers and max(peers) >= SATURATED:
        return "peer worker CPU"
    return "no CPU saturated (latency-bound)"


# -- the child: one row -----------------------------------------------------------------------


def _mtcp_config(io: str, workload: str, contexts: int, mode: str = "inline") -> mtcp.Config:
    lab = netlab.LAB
    port, addr = (
        (lab.tap, lab.tap_stack_addr)
        if io == "tap"
        else (DPDK_PORT if io == "dpdk" else lab.veth_stack, lab.veth_stack_addr)
    )
    buf = 262144 if workload == "bulk" else 8192
    extra: dict[str, Any] = {}
    if io == "dpdk":
        # As tests/interop: no PCI scan, no hugepages, one lcore; one vdev queue pair per context.
        vdev = f"{DPDK_PORT},iface={lab.veth_stack},qpairs={contexts}"
        extra["dpdk_eal_args"] = (
            f"--no-pci --no-huge -m 256 --no-telemetry -l 0 --file-prefix=mtcp-vbench --vdev={vdev}"
        )
    return mtcp.Config(
        io=io,
        port=port,
        addr=f"{addr}/{lab.prefix_len}",
        mode=mode,
        num_cores=contexts,
        max_concurrency=2048,
        max_num_buffers=2048,
        rcvbuf=buf,
        sndbuf=buf,
        **extra,
    )


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


def _nothing() -> None:
    pass


def _warm_up(client: KernelNet | MtcpNet, echo: tuple[str, int]) -> None:
    """One connection and one exchange, so ARP is resolved on both ends (for each context:
    each learns it through its own queue) before the clock runs; 64 SYNs towards an
    unresolved neighbour overflow its queue and show 1 s SYN retransmissions."""
    _rpc(_nothing, 1, client, echo, 1, 0.05)


def _workload(
    workload: str, client: KernelNet | MtcpNet, server: str, ports: Sequence[int], secs: float
) -> PyResult:
    """One client thread's run against the peer at ``server`` (``ports``: echo, sink)."""
    if workload == "short":
        return _short(_nothing, 1, client, (server, ports[0]), SHORT_IN_FLIGHT, secs)
    if workload == "rpc":
        return _rpc(_nothing, 1, client, (server, ports[0]), 1, secs)
    return _bulk_to_sink(client, (server, ports[1]), BULK_BYTES)


def _clients(spec: dict[str, Any]) -> tuple[list[KernelNet | MtcpNet], Callable[[], None]]:
    """The row's client ends (one per context/thread) and how to release them. Raises
    :class:`_NotSupportedError` when the backend refuses the number of contexts."""
    n = int(spec["contexts"])
    if spec["stack"] == "kernel":
        nets = [KernelNet() for _ in range(n)]

        def close_all() -> None:
            for net in nets:
                for fd in list(net.socks):
                    net.close(fd)

        return list(nets), close_all
    cfg = _mtcp_config(spec["io"], spec["workload"], n, spec.get("mode", "inline"))
    own_addr = netlab.LAB.tap_stack_addr if spec["io"] == "tap" else netlab.LAB.veth_stack_addr
    try:
        stack = mtcp.Stack(cfg)
    except (OSError, ValueError) as exc:
        if n > 1:
            raise _NotSupportedError(str(exc)) from exc
        raise
    try:
        contexts = [stack.create_context(i) for i in range(n)]
        if n > 1:
            for ctx in contexts:
                # mtcp_init_rss: source ports whose replies hash back to this context.
                mtcp.mtcp_init_rss(ctx, own_addr, 1, spec["server"], _ports(spec)[0])
    except BaseException:
        stack.destroy()
        raise
    return [MtcpNet(ctx) for ctx in contexts], stack.destroy


def _keep_polling(net: KernelNet | MtcpNet, done: threading.Event, bound: float) -> None:
    """After its own run, a thread keeps its mtcp context polled until every thread is done
    (at most ``bound`` seconds): with software steering, frames for a sibling context that
    reach this context's queue move only while this context polls (inline mode: in its API
    calls), and a context left alone would strand the sibling's last connections."""
    if not isinstance(net, MtcpNet):
        return
    wait = net.epoll().wait
    limit = time.monotonic() + bound
    while not done.is_set() and time.monotonic() < limit:
        wait(1)


def _ports(spec: dict[str, Any]) -> list[int]:
    """The peer's (echo, sink) ports: ``spec["ports"]`` or the lab's (7000, 7001)."""
    return [int(p) for p in spec.get("ports", (ECHO_PORT, SINK_PORT))]


#: The context counters a record keeps (per context): whose connections, whose frames.
CONTEXT_STATS = ("connections_opened", "rx_frames", "tx_frames", "rx_steered", "retransmits",
                 "drops")  # fmt: skip


def _context_stats(net: MtcpNet) -> dict[str, int]:
    """The :data:`CONTEXT_STATS` counters of ``net``'s context (warm-up included)."""
    every = net.ctx.stats().to_dict()
    return {k: every[k] for k in CONTEXT_STATS if k in every}


class _NotSupportedError(Exception):
    """The backend refused this number of contexts (the message says why)."""


def run_row(spec: dict[str, Any]) -> dict[str, Any]:
    """One row, in this process (the child): ``spec`` has ``workload``, ``stack``, ``io``,
    ``contexts``, ``secs``, ``server`` (the peer's address), ``peer_pids`` and optionally
    ``ports`` (the peer's echo and sink ports). Returns the
    record: figures, ``status`` ``ok`` or ``not supported`` (with ``reason``), CPU use."""
    n = int(spec["contexts"])
    row = Row(spec["workload"], spec["stack"], spec["io"], n)
    base: dict[str, Any] = {
        "suite": "veth", "workload": row.workload, "stack": row.stack, "mode": row.io,
        "io": row.io, "contexts": n, "conns": row.conns,
    }  # fmt: skip
    try:
        nets, release = _clients(spec)
    except _NotSupportedError as exc:
        return {**base, "status": "not supported", "reason": str(exc)}
    secs = min(float(spec["secs"]), 10.0)
    ports = _ports(spec)
    results: list[PyResult | None] = [None] * n
    cpu_times = [0.0] * n
    errors: list[BaseException] = []
    start = threading.Barrier(n + 1, timeout=BARRIER_S)

    finished = threading.Semaphore(0)
    all_done = threading.Event()

    def drive(i: int) -> None:
        try:
            _warm_up(nets[i], (spec["server"], ports[0]))
            start.wait()
            t = time.thread_time()
            results[i] = _workload(row.workload, nets[i], spec["server"], ports, secs)
            cpu_times[i] = time.thread_time() - t
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            start.abort()
        finally:
            finished.release()
        _keep_polling(nets[i], all_done, secs + DRAIN_S + BARRIER_S)

    threads = [threading.Thread(target=drive, args=(i,), daemon=True) for i in range(n)]
    try:
        for t in threads:
            t.start()
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait()
        before = _CpuSample.now(spec["peer_pids"])
        deadline = time.monotonic() + secs + DRAIN_S + BARRIER_S
        for _ in threads:
            finished.acquire(timeout=max(deadline - time.monotonic(), 0.0))
        all_done.set()
        for t in threads:
            t.join(max(deadline - time.monotonic(), 0.0) + 5.0)
        after = _CpuSample.now(spec["peer_pids"])
        stats = [_context_stats(net) for net in nets if isinstance(net, MtcpNet)]
    finally:
        if not any(t.is_alive() for t in threads):
            release()  # a hung thread keeps its stack; the process exits anyway
    if errors:
        raise OSError(f"{row.label()}: {errors[0]}") from errors[0]
    if any(r is None for r in results):
        raise OSError(f"{row.label()}: a client thread did not finish")
    done = [r for r in results if r is not None]
    total = PyResult(row.workload, row.stack, row.io, row.conns)
    total.ops = sum(r.ops for r in done)
    total.errors = sum(r.errors for r in done)
    total.bytes = sum(r.bytes for r in done)
    total.secs = max(r.secs for r in done)
    total.latencies_us = [x for r in done for x in r.latencies_us]
    rec = {**total.record(), **base, "status": "ok"}
    rec["thread_rates"] = [round(r.ops / r.secs, 1) if r.secs else 0.0 for r in done]
    if stats:
        rec["context_stats"] = stats
    rec["cpu"] = _cpu_use(before, after, cpu_times)
    # mtcp inline: every call but epoll_wait keeps the GIL; socket calls and mtcp's calls on
    # a context with a loop thread release it.
    gil_held = row.stack == "mtcp" and spec.get("mode", "inline") == "inline"
    rec["limit"] = limit_of(rec["cpu"], gil_held)
    return rec


def _child_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m mtcp.tools._bench_veth")
    p.add_argument("--child", required=True, help="the row as JSON (see run_row)")
    spec = json.loads(p.parse_args(argv).child)
    print(json.dumps(run_row(spec)), flush=True)
    return 0


# -- the parent: every row, in the lab --------------------------------------------------------


def _kernel_address(present: bool) -> None:
    lab = netlab.LAB
    verb = "add" if present else "del"
    subprocess.run(
        ["ip", "-n", netlab.STACK_NS, "addr", verb, f"{KERNEL_CLIENT_ADDR}/{lab.prefix_len}",
         "dev", lab.veth_stack],
        check=present, capture_output=True, timeout=10,
    )  # fmt: skip


def _row_in_child(
    row: Row, secs: float, peers: dict[str, list[int]], mode: str = "inline"
) -> dict[str, Any]:
    """Runs ``row`` in a child process in the client's namespace; returns its record.
    Raises OSError when the child fails or outlives its bound."""
    lab = netlab.LAB
    tap = row.io == "tap"
    spec = {
        "workload": row.workload, "stack": row.stack, "io": row.io, "contexts": row.contexts,
        "secs": secs, "server": lab.tap_kernel_addr if tap else lab.veth_peer_addr,
        "peer_pids": peers["tap" if tap else "veth"], "mode": mode,
    }  # fmt: skip
    bound = min(secs, 10.0) + DRAIN_S + CHILD_SLACK_S
    argv = [
        "ip", "netns", "exec", netlab.TAP_NS if tap else netlab.STACK_NS,
        "timeout", "-k", "5", str(int(bound)),
        sys.executable, "-m", "mtcp.tools._bench_veth", "--child", json.dumps(spec),
    ]  # fmt: skip
    # AF_XDP with several contexts: the peer spreads flows over the veth's queues, as a
    # multi-queue NIC would (with one queue every frame would reach context 0 first).
    spread = row.io == "afxdp" and row.contexts > 1
    if row.stack == "kernel":
        _kernel_address(True)
    try:
        with netlab.peer_spread_over_queues() if spread else contextlib.nullcontext():
            done = subprocess.run(argv, capture_output=True, text=True, timeout=bound + 15)
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"no result in {bound + 15:.0f} s") from exc
    finally:
        if row.stack == "kernel":
            _kernel_address(False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise OSError(tail[0][-300:])
    rec: dict[str, Any] = json.loads(lines[-1])
    if spread:
        rec["peer_tx_queues"] = netlab.VETH_QUEUES
    return rec


Runner = Callable[[Row], dict[str, Any]]


def run_rows(
    rows: Sequence[Row], runner: Runner, out: TextIO, describe: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """Runs each row with ``runner`` and prints a progress line per row; a row that fails
    becomes a ``status: "failed"`` record, a DPDK row without DPDK ``skipped``. Adds
    :func:`add_scaling`."""
    records: list[dict[str, Any]] = []
    has_dpdk = "dpdk" in mtcp.features()
    for i, row in enumerate(rows, 1):
        print(f"  [{i}/{len(rows)}] veth {row.label()} ...", end=" ", file=out, flush=True)
        base = {
            "suite": "veth", "workload": row.workload, "stack": row.stack, "mode": row.io,
            "io": row.io, "contexts": row.contexts, "conns": row.conns,
        }  # fmt: skip
        if row.io == "dpdk" and not has_dpdk:
            rec = {**base, "status": "skipped", "reason": "mtcp built without the dpdk feature"}
        else:
            try:
                rec = runner(row)
            except OSError as exc:
                rec = {**base, "status": "failed", "reason": str(exc)}
        records.append(rec)
        if rec.get("status") == "ok":
            print(f"{describe(rec)}; {rec.get('limit', '')}", file=out, flush=True)
        else:
            print(f"{rec['status']}: {rec.get('reason', '')}", file=out, flush=True)
    add_scaling(records)
    return records


def add_scaling(records: list[dict[str, Any]]) -> None:
    """``scaling`` on each multi-context record: its rate over the same workload, stack and
    backend's 1-context rate (both must have run)."""
    one = {
        (r["workload"], r["stack"], r["io"]): float(r["rate"])
        for r in records
        if r.get("status") == "ok" and r.get("contexts") == 1
    }
    for r in records:
        if r.get("status") != "ok" or r.get("contexts", 1) == 1:
            continue
        base = one.get((r["workload"], r["stack"], r["io"]))
        if base:
            r["scaling"] = round(float(r["rate"]) / base, 2)


def run_veth(
    secs: float,
    out: TextIO,
    describe: Callable[[dict[str, Any]], str],
    ios: Sequence[str] | None = None,
    mode: str = "inline",
) -> list[dict[str, Any]]:
    """Takes the lab's lock, brings the lab up, runs :func:`plan`'s rows (``ios``: only those
    backends) against the kernel peers, brings the lab down (always). ``secs``: length of each
    short/rpc run (at most 10). ``mode``: mtcp's run mode (``inline``, or ``threaded``: a
    loop thread per context under each client thread)."""
    secs = min(secs, 10.0)
    with netlab.exclusive():
        netlab.up()
        try:
            return run_in_lab(plan(ios), secs, out, describe, mode)
        finally:
            for error in netlab.down():
                print(f"  netlab down: {error}", file=out)


def run_in_lab(
    rows: Sequence[Row],
    secs: float,
    out: TextIO,
    describe: Callable[[dict[str, Any]], str],
    mode: str = "inline",
) -> list[dict[str, Any]]:
    """The rows, with the lab up and its lock held by the caller: starts both peers, sets the
    kernel client's sysctls in ``mtcp-stk`` and runs each row in a child."""
    lab = netlab.LAB
    # Short connections leave TIME_WAIT on the kernel client: reuse them (namespace-local
    # sysctls) so the port range never runs dry.
    subprocess.run(
        ["ip", "netns", "exec", netlab.STACK_NS, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1",
         "net.ipv4.ip_local_port_range=10000 65000"],
        check=False, capture_output=True, timeout=10,
    )  # fmt: skip
    ports = (ECHO_PORT, SINK_PORT)
    with tempfile.TemporaryDirectory(prefix="mtcp-bench-peer-") as tmp:
        program, kind = peer_program(Path(tmp))
        print(f"  kernel peer: {kind}, {PEER_WORKERS} worker processes each", file=out)
        with (
            peer_server(netlab.PEER_NS, lab.veth_peer_addr, ports, program) as veth_peer,
            peer_server(netlab.TAP_NS, lab.tap_kernel_addr, ports, program) as tap_peer,
        ):
            peers = {"veth": veth_peer, "tap": tap_peer}

            def runner(row: Row) -> dict[str, Any]:
                rec = _row_in_child(row, secs, peers, mode)
                rec["peer"] = kind
                if row.stack == "mtcp":
                    rec["run_mode"] = mode
                return rec

            return run_rows(rows, runner, out, describe)


# -- the table --------------------------------------------------------------------------------


def _figure_text(r: dict[str, Any]) -> str:
    if r.get("status") != "ok":
        return f"{r.get('status')}: {r.get('reason', '')}"
    if r["workload"] == "bulk":
        text = f"{r['gbps']:,.2f} Gbit/s"
    else:
        unit = "conn/s" if r["workload"] == "short" else "req/s"
        text = f"{r['rate']:,.0f} {unit}"
    return text + (f" ({r['errors']} failed)" if r.get("errors") else "")


def _steering_text(r: dict[str, Any]) -> str:
    """Frames that reached another context's queue first (software-steered) as a share of all
    frames the contexts received, and the contexts' retransmissions."""
    stats = r.get("context_stats")
    if not stats:
        return ""
    frames = sum(c.get("rx_frames", 0) for c in stats)
    steered = sum(c.get("rx_steered", 0) for c in stats)
    share = f"{100 * steered / frames:.0f} %" if frames else "-"
    return f"{share} / {sum(c.get('retransmits', 0) for c in stats)}"


def veth_table(records: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: a row per record with its figure (or why there is none), latency,
    the ratio to the kernel with as many threads, the 1 → 2 scaling, the share of frames
    steered between contexts and the retransmissions (mtcp), CPU use and the limit."""
    lines = [
        "| workload | stack | io | ctx | figure | p50 µs | p99 µs | vs kernel | 1→2 "
        "| steered / retrans | CPUs: client / peer / softirq / idle | limit |",
        "|" + "---|" * 12,
    ]
    for r in records:
        ok = r.get("status") == "ok"
        cpu = r.get("cpu")
        cpu_text = ""
        if cpu:
            m = cpu["machine"]
            cpu_text = (
                f"{' + '.join(f'{t:.2f}' for t in cpu['client_threads'])} / "
                f"{' + '.join(f'{t:.2f}' for t in cpu['peer_workers'])} / "
                f"{m['softirq']:.2f} / {m['idle']:.2f}"
            )
        p50 = f"{r['p50_us']:.1f}" if ok and r.get("p50_us") else ""
        p99 = f"{r['p99_us']:.1f}" if ok and r.get("p99_us") else ""
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
        scaling = f"{r['scaling']:.2f}x" if "scaling" in r else ""
        lines.append(
            f"| {r['workload']} | {r['stack']} | {r['io']} | {r.get('contexts', 1)} "
            f"| {_figure_text(r)} | {p50} | {p99} | {ratio} | {scaling} | {_steering_text(r)} "
            f"| {cpu_text} "
            f"| {r.get('limit', '') if ok else ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
