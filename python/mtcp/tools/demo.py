"""``mtcp demo``: a server stack and a client stack in this process, joined by the in-memory
link — no privileges, no setup. The server contexts run :class:`~mtcp.tools.epserver.ServerWorker`
(epserver), the client contexts :class:`~mtcp.tools.epwget.ClientWorker` (epwget-style short
connections, plus a few keep-alive connections doing bulk transfers). Every response body is a
known pattern and is checked (length and CRC-32); the verdict fails on any error or mismatch.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from typing import TextIO

import mtcp

from . import _http
from ._args import nonneg_int, positive_float, positive_int
from ._runtime import Runner, WorkerGroup
from ._stats import ClientStats, ServerStats, fmt_count, gbit_per_s
from .epserver import ServerWorker, build_resources
from .epwget import ClientWorker, Job

__all__ = ["CLIENT_ADDR", "SERVER_ADDR", "DemoResult", "add_arguments", "run"]

SERVER_ADDR = "198.18.0.1"
CLIENT_ADDR = "198.18.0.2"
PORT = 80
SHORT_PATH = "/index.html"
BULK_PATH = "/bulk.bin"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration",
        type=positive_float,
        default=5.0,
        metavar="SECONDS",
        help="how long the client sends requests (default 5)",
    )
    p.add_argument(
        "-N",
        "--cores",
        type=positive_int,
        default=1,
        metavar="N",
        help="cores (contexts) per stack (default 1)",
    )
    p.add_argument(
        "-c",
        "--concurrency",
        type=positive_int,
        default=32,
        metavar="N",
        help="short connections in flight, over all cores (default 32)",
    )
    p.add_argument(
        "--size",
        type=nonneg_int,
        default=1024,
        metavar="BYTES",
        help=f"size of {SHORT_PATH}, fetched by the short connections (default 1024)",
    )
    p.add_argument(
        "--bulk-connections",
        type=nonneg_int,
        default=2,
        metavar="N",
        help=f"keep-alive connections fetching {BULK_PATH} repeatedly (default 2)",
    )
    p.add_argument(
        "--bulk-size",
        type=positive_int,
        default=1 << 20,
        metavar="BYTES",
        help=f"size of {BULK_PATH} (default 1048576)",
    )
    p.add_argument(
        "--buffer",
        type=positive_int,
        default=64 * 1024,
        metavar="BYTES",
        help="socket send and receive buffer size (default 65536)",
    )
    p.add_argument(
        "--trigger",
        choices=("level", "edge"),
        default="level",
        help="server epoll mode (default level)",
    )
    p.add_argument("--hub", help="in-memory link name (default: a unique one)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-second lines")


@dataclass
class DemoResult:
    elapsed: float
    short: ClientStats
    bulk: ClientStats
    server: ServerStats
    failures: list[str]
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        total = self.short.errors + self.bulk.errors + self.server.errors
        return not self.failures and total == 0 and self.short.completed + self.bulk.completed > 0


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    hub = args.hub or f"mtcp-demo-{os.getpid()}-{secrets.token_hex(4)}"
    files = {
        SHORT_PATH: _http.generate_body(SHORT_PATH, args.size),
        BULK_PATH: _http.generate_body(BULK_PATH, args.bulk_size),
    }
    resources = build_resources(files)
    cores = args.cores
    per_core = max(1, args.concurrency // cores)
    # Room for every connection of a core, both directions, and the TIME-WAIT-free churn.
    pool = 3 * (per_core + args.bulk_connections) + 64

    def config(addr: str) -> mtcp.Config:
        return mtcp.Config(
            io="memory",
            port=hub,
            addr=f"{addr}/24",
            num_cores=cores,
            max_concurrency=pool,
            max_num_buffers=pool,
            rcvbuf=args.buffer,
            sndbuf=args.buffer,
        )

    print(
        f"mtcp demo: server {SERVER_ADDR}:{PORT} and client {CLIENT_ADDR} on the in-memory "
        f"link {hub!r}, {cores} core(s) each, {args.duration:g} s",
        file=out,
    )
    print(
        f"  short connections: {args.concurrency} in flight, each GET {SHORT_PATH} "
        f"({args.size:,} B) then close; keep-alive: {args.bulk_connections} x GET "
        f"{BULK_PATH} ({args.bulk_size:,} B) repeatedly",
        file=out,
        flush=True,
    )
    with (
        mtcp.Stack(config(SERVER_ADDR)) as server_stack,
        mtcp.Stack(config(CLIENT_ADDR)) as client_stack,
    ):
        result = _run(server_stack, client_stack, resources, files, cores, per_core, args, out)
    _report(result, args, out)
    if result.interrupted:
        return 130  # as a shell reports a command ended by SIGINT
    return 0 if result.ok else 1


def _run(
    server_stack: mtcp.Stack,
    client_stack: mtcp.Stack,
    resources: dict[str, _http.Resource],
    files: dict[str, bytes],
    cores: int,
    per_core: int,
    args: argparse.Namespace,
    out: TextIO,
) -> DemoResult:
    server_ctxs = [server_stack.create_context(c) for c in range(cores)]
    client_ctxs = [client_stack.create_context(c) for c in range(cores)]
    try:
        servers = [
            ServerWorker(
                ctx, resources, port=PORT, edge_triggered=args.trigger == "edge", max_events=1024
            )
            for ctx in server_ctxs
        ]
        for s in servers:
            s.open()
        short_url = _http.Url(SERVER_ADDR, PORT, SHORT_PATH)
        bulk_url = _http.Url(SERVER_ADDR, PORT, BULK_PATH)
        short_expect = _http.Expect.of(files[SHORT_PATH])
        bulk_expect = _http.Expect.of(files[BULK_PATH])
        short_stats = [ClientStats() for _ in client_ctxs]
        bulk_stats = [ClientStats() for _ in client_ctxs]
        clients = []
        for i, ctx in enumerate(client_ctxs):
            n_bulk = args.bulk_connections // cores + (
                1 if i < args.bulk_connections % cores else 0
            )
            bulk_job = Job(bulk_url, bulk_stats[i], bulk_expect, keep_alive=True)
            w = ClientWorker(
                ctx,
                short=Job(short_url, short_stats[i], short_expect),
                requests=None,
                concurrency=per_core,
                persistent=[bulk_job] * n_bulk,
                max_events=1024,
            )
            w.open()
            clients.append(w)

        server_group = WorkerGroup([(f"server-core{s.ctx.core}", s) for s in servers])
        server_group.start()
        last = (ClientStats(), ClientStats())

        def tick(elapsed: float, interval: float) -> None:
            nonlocal last
            short, bulk = ClientStats.total(short_stats), ClientStats.total(bulk_stats)
            if not args.quiet:
                conns = short.completed - last[0].completed
                reqs = conns + bulk.completed - last[1].completed
                rx = short.bytes_in + bulk.bytes_in - last[0].bytes_in - last[1].bytes_in
                rt_n = short.latency.count - last[0].latency.count
                rt = (short.latency.sum_us - last[0].latency.sum_us) / rt_n if rt_n else 0.0
                print(
                    f"[{elapsed:3.0f}s] connections {fmt_count(conns / interval)}/s"
                    f"  requests {fmt_count(reqs / interval)}/s"
                    f"  {gbit_per_s(rx, interval):.3f} Gbit/s"
                    f"  latency avg {rt:,.0f} µs"
                    f"  errors {short.errors + bulk.errors}",
                    file=out,
                    flush=True,
                )
            last = (short, bulk)

        runner = Runner(
            [(f"client-core{w.ctx.core}", w) for w in clients],
            tick,
            duration=args.duration,
            out=out,
        )
        try:
            runner.run()  # clients drain their in-flight requests before this returns
        finally:
            server_group.stop_and_join()
        failures = [
            f"{name}: {type(exc).__name__}: {exc}"
            for name, exc in (*runner.failures, *server_group.failures)
        ]
        return DemoResult(
            runner.elapsed,
            ClientStats.total(short_stats),
            ClientStats.total(bulk_stats),
            ServerStats.total(s.stats for s in servers),
            failures,
            runner.interrupted,
        )
    finally:
        for ctx in (*client_ctxs, *server_ctxs):
            ctx.destroy()


def _report(r: DemoResult, args: argparse.Namespace, out: TextIO) -> None:
    short, bulk = r.short, r.bulk
    t = r.elapsed
    requests = short.completed + bulk.completed
    body = short.body_bytes + bulk.body_bytes
    wire_in = short.bytes_in + bulk.bytes_in
    lat = short.latency
    errors = short.errors + bulk.errors + r.server.errors
    rows = [
        (
            "connections completed",
            f"{short.completed:,}",
            "short: connect, GET, read to Content-Length, close",
        ),
        ("connections/s", f"{short.completed / t:,.0f}" if t else "0", ""),
        (
            "requests/s",
            f"{requests / t:,.0f}" if t else "0",
            f"{short.completed:,} short + {bulk.completed:,} keep-alive bulk",
        ),
        ("bytes transferred", f"{wire_in:,}", f"HTTP received; {body:,} B of bodies, all verified"),
        ("throughput", f"{gbit_per_s(wire_in, t):.3f} Gbit/s", ""),
        ("latency avg", f"{lat.mean_us:,.0f} µs", "short connections, connect to last byte"),
        ("latency p99", f"{lat.percentile(99):,} µs", f"max {lat.max_us:,} µs"),
        (
            "bulk latency avg",
            f"{bulk.latency.mean_us:,.0f} µs",
            f"per {args.bulk_size:,} B response" if bulk.completed else "no bulk transfers",
        ),
        ("server accepted", f"{r.server.accepted:,}", f"{r.server.requests:,} requests served"),
        ("errors", f"{errors:,}", f"{short.mismatches + bulk.mismatches} body mismatches"),
    ]
    print(f"\nresults over {t:.2f} s:", file=out)
    for name, value, note in rows:
        line = f"  {name:<22} {value:>16}"
        print(f"{line}   {note}" if note else line, file=out)
    for line in ClientStats.total([short, bulk]).error_lines():
        print(f"  error: {line}", file=out)
    for failure in r.failures:
        print(f"  failure: {failure}", file=out)
    if r.interrupted:
        state = "no errors so far" if r.ok else "errors so far"
        print(f"verdict: interrupted ({state})", file=out, flush=True)
    elif r.ok:
        print(
            f"verdict: ok ({requests:,} responses complete and byte-identical, 0 errors)",
            file=out,
            flush=True,
        )
    else:
        why = (
            "no request completed"
            if errors == 0 and not r.failures
            else (f"{errors} errors" if errors else "; ".join(r.failures))
        )
        print(f"verdict: FAILED ({why})", file=out, flush=True)
