"""``mtcp epwget``: mTCP's ``apps/example/epwget.c`` — an HTTP GET load generator on mtcp epoll.

Each core keeps ``concurrency / cores`` connections in flight. Every request is a
short-connection transaction, as in mTCP: connect, send the GET once the connection is up
(``EPOLLOUT``), read the response to the end of its ``Content-Length``, close, and open the
next one. :class:`ClientWorker` can also keep persistent (keep-alive) connections that fetch
a resource over and over (``mtcp demo`` uses both kinds).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import mtcp

from . import _http
from ._args import positive_float, positive_int
from ._runtime import POLL_TIMEOUT_MS, Runner, make_config
from ._stats import ClientStats, fmt_bytes, fmt_count, gbit_per_s

__all__ = ["DEFAULT_CONCURRENCY", "ClientWorker", "Job", "add_arguments", "run"]

DEFAULT_CONCURRENCY = 100
DEFAULT_TIMEOUT_S = 60.0
#: After a stop, how long in-flight requests get to finish before counting as errors.
DRAIN_S = 2.0
_READ_SIZE = 64 * 1024
#: Reads per readable event before other connections get a turn (level-triggered).
_READS_PER_EVENT = 32


@dataclass(frozen=True)
class Job:
    """What one kind of connection fetches, and where its results are counted."""

    url: _http.Url
    stats: ClientStats
    #: If set, every body must have this length and CRC-32 (else: a mismatch, an error).
    expect: _http.Expect | None = None
    #: Persistent: one connection, one request after the other (``Connection: keep-alive``).
    keep_alive: bool = False


class _Conn:
    __slots__ = ("connected", "job", "parser", "req", "req_off", "sockid", "t_start")

    def __init__(self, job: Job, sockid: int, req: bytes) -> None:
        self.job = job
        self.sockid = sockid
        self.req = memoryview(req)
        self.req_off = 0
        self.parser = _http.ResponseParser()
        self.t_start = time.perf_counter_ns()
        self.connected = False


class ClientWorker:
    """The event loop of one client context (use from one thread).

    ``short`` connections: ``requests`` transactions in all (``None``: until stopped), at most
    ``concurrency`` at once. ``persistent``: one keep-alive connection per job, requesting
    again as soon as a response is complete, until stopped.
    """

    def __init__(
        self,
        ctx: mtcp.Context,
        *,
        short: Job | None = None,
        requests: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        persistent: Sequence[Job] = (),
        save_body: bool = False,
        drain_s: float = DRAIN_S,
        max_events: int = 4096,
    ) -> None:
        self.ctx = ctx
        self.short = short
        self.budget = requests  # short transactions not started yet (None: unlimited)
        self.concurrency = concurrency if short is not None else 0
        self.persistent = tuple(persistent)
        self.drain_s = drain_s
        self.max_events = max_events
        self.conns: dict[int, _Conn] = {}
        self.active_short = 0
        self.epid = -1
        #: With ``save_body``: the body of the first complete short response.
        self.saved: bytes | None = None
        self._save_pending = save_body
        self._saving = False  # a connection is collecting the body to save
        self._requests = {
            (job.url, job.keep_alive): _http.build_request(job.url, job.keep_alive)
            for job in (short, *self.persistent)
            if job is not None
        }

    # -- setup -----------------------------------------------------------------------------------

    def open(self) -> None:
        """The epoll instance; ``mtcp_init_rss`` for each destination, as epwget does, so
        the source ports chosen by ``connect`` steer replies to this context's core."""
        self.epid = mtcp.mtcp_epoll_create(self.ctx, self.max_events)
        dests = {(job.url.host, job.url.port) for job in (self.short, *self.persistent) if job}
        for host, port in sorted(dests):
            mtcp.mtcp_init_rss(self.ctx, "0.0.0.0", 1, host, port)

    @property
    def finished(self) -> bool:
        """No work left: every short transaction done and no persistent connection."""
        return not self.persistent and self.budget == 0 and not self.conns

    # -- loop ------------------------------------------------------------------------------------

    def __call__(self, stop: threading.Event) -> None:
        if self.epid < 0:
            self.open()
        try:
            for job in self.persistent:
                self._start(job)
            drain_until: float | None = None
            while True:
                if stop.is_set():
                    if drain_until is None:
                        drain_until = time.monotonic() + self.drain_s
                    if not self.conns:
                        break
                    if time.monotonic() >= drain_until:
                        self._abandon("no response before the stop (time limit or Ctrl-C)")
                        break
                else:
                    self._fill()
                    if self.finished:
                        break
                events = mtcp.mtcp_epoll_wait(self.ctx, self.epid, self.max_events, POLL_TIMEOUT_MS)
                for sockid, ev in events:
                    conn = self.conns.get(sockid)
                    if conn is not None:
                        self._on_event(conn, ev, stop.is_set())
        finally:
            self._abandon("no response before the stop (time limit or Ctrl-C)")
            if self.epid >= 0:
                with contextlib.suppress(OSError):
                    mtcp.mtcp_close(self.ctx, self.epid)
                self.epid = -1

    def _fill(self) -> None:
        """Opens short connections up to the concurrency (bounded per pass)."""
        short = self.short
        if short is None:
            return
        for _ in range(self.concurrency):
            if self.active_short >= self.concurrency or self.budget == 0:
                return
            if self.budget is not None:
                self.budget -= 1
            if not self._start(short):
                return  # socket/connect failed now: try again on the next pass

    def _start(self, job: Job) -> bool:
        """Opens a connection for ``job``: socket, non-blocking connect, wait for EPOLLOUT."""
        ctx = self.ctx
        try:
            sockid = mtcp.mtcp_socket(ctx, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        except OSError as exc:
            job.stats.error(f"socket: {exc.strerror or exc}")
            return False
        try:
            mtcp.mtcp_connect(ctx, sockid, (job.url.host, job.url.port))
        except BlockingIOError:
            pass  # EINPROGRESS: the SYN is on its way
        except OSError as exc:
            job.stats.error(f"connect: {exc.strerror or exc}")
            _close_quietly(ctx, sockid)
            return False
        conn = _Conn(job, sockid, self._requests[(job.url, job.keep_alive)])
        if self._save_pending and not self._saving and not job.keep_alive:
            conn.parser.sink = bytearray()
            self._saving = True
        try:
            mtcp.mtcp_epoll_ctl(
                ctx,
                self.epid,
                mtcp.MTCP_EPOLL_CTL_ADD,
                sockid,
                mtcp.MTCP_EPOLLOUT | mtcp.MTCP_EPOLLIN,
            )
        except OSError as exc:
            job.stats.error(f"epoll_ctl: {exc.strerror or exc}")
            _close_quietly(ctx, sockid)
            return False
        job.stats.connects += 1
        self.conns[sockid] = conn
        if not job.keep_alive:
            self.active_short += 1
        return True

    # -- events ----------------------------------------------------------------------------------

    def _on_event(self, conn: _Conn, ev: int, stopping: bool) -> None:
        if ev & mtcp.MTCP_EPOLLERR or (ev & mtcp.MTCP_EPOLLHUP and not conn.connected):
            self._fail(
                conn, self._socket_error(conn, "connect" if not conn.connected else "connection")
            )
            return
        if ev & mtcp.MTCP_EPOLLOUT and conn.req_off < len(conn.req):
            conn.connected = True
            if not self._send(conn):
                return
        if ev & (mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLHUP | mtcp.MTCP_EPOLLRDHUP):
            conn.connected = True
            self._receive(conn, stopping)

    def _send(self, conn: _Conn) -> bool:
        try:
            while conn.req_off < len(conn.req):
                n = mtcp.mtcp_write(self.ctx, conn.sockid, conn.req[conn.req_off :])
                if n <= 0:
                    break
                conn.req_off += n
                conn.job.stats.bytes_out += n
        except BlockingIOError:
            pass
        except OSError as exc:
            self._fail(conn, f"write: {exc.strerror or exc}")
            return False
        # Sent: only readability matters now (the level-triggered EPOLLOUT would spin).
        events = mtcp.MTCP_EPOLLIN | (mtcp.MTCP_EPOLLOUT if conn.req_off < len(conn.req) else 0)
        try:
            mtcp.mtcp_epoll_ctl(self.ctx, self.epid, mtcp.MTCP_EPOLL_CTL_MOD, conn.sockid, events)
        except OSError as exc:
            self._fail(conn, f"epoll_ctl: {exc.strerror or exc}")
            return False
        return True

    def _receive(self, conn: _Conn, stopping: bool) -> None:
        parser = conn.parser
        for _ in range(_READS_PER_EVENT):
            try:
                data = mtcp.mtcp_read(self.ctx, conn.sockid, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(conn, f"read: {exc.strerror or exc}")
                return
            if not data:
                if parser.finish_at_eof():
                    self._complete(conn, stopping, closed=True)
                else:
                    got = parser.body_len
                    want = parser.head.content_length if parser.head else None
                    self._fail(
                        conn,
                        f"connection closed after {got} of {want} body bytes"
                        if parser.head
                        else "connection closed before a response",
                    )
                return
            conn.job.stats.bytes_in += len(data)
            try:
                used = parser.feed(data)
            except _http.HttpError as exc:
                self._fail(conn, f"bad response: {exc}")
                return
            if used < len(data):
                self._fail(conn, f"{len(data) - used} bytes after the response")
                return
            if parser.complete:
                self._complete(conn, stopping, closed=False)
                return

    def _complete(self, conn: _Conn, stopping: bool, *, closed: bool) -> None:
        parser, job = conn.parser, conn.job
        stats = job.stats
        assert parser.head is not None
        if parser.head.status != 200:
            self._fail(conn, f"HTTP status {parser.head.status}")
            return
        if job.expect is not None and (
            parser.body_len != job.expect.length or parser.body_crc != job.expect.crc32
        ):
            stats.mismatches += 1
            self._fail(
                conn,
                f"body mismatch ({parser.body_len} bytes, crc {parser.body_crc:08x};"
                f" want {job.expect.length} bytes, crc {job.expect.crc32:08x})",
            )
            return
        stats.completed += 1
        stats.body_bytes += parser.body_len
        stats.latency.record((time.perf_counter_ns() - conn.t_start) / 1000)
        if parser.sink is not None and self._save_pending:
            self.saved = bytes(parser.sink)
            self._save_pending = False
        reuse = job.keep_alive and parser.head.keep_alive and not closed and not stopping
        if not reuse:
            self._close(conn)
            if job.keep_alive and not stopping:
                self._start(job)  # the server ended the persistent connection: open another
            return
        conn.parser = _http.ResponseParser()
        conn.req_off = 0
        conn.t_start = time.perf_counter_ns()
        self._send(conn)

    # -- teardown --------------------------------------------------------------------------------

    def _socket_error(self, conn: _Conn, what: str) -> str:
        try:
            err = mtcp.mtcp_getsockopt(self.ctx, conn.sockid, mtcp.SOL_SOCKET, mtcp.SO_ERROR)
        except OSError:
            err = 0
        return f"{what}: {os.strerror(err)}" if err else f"{what}: error event"

    def _fail(self, conn: _Conn, why: str) -> None:
        conn.job.stats.error(why)
        self._close(conn)

    def _close(self, conn: _Conn) -> None:
        if self.conns.pop(conn.sockid, None) is None:
            return
        if not conn.job.keep_alive:
            self.active_short -= 1
        if conn.parser.sink is not None:
            self._saving = False
        with contextlib.suppress(OSError):
            mtcp.mtcp_epoll_ctl(self.ctx, self.epid, mtcp.MTCP_EPOLL_CTL_DEL, conn.sockid, 0)
        _close_quietly(self.ctx, conn.sockid)

    def _abandon(self, why: str) -> None:
        """Closes every connection; a request in flight counts as an error."""
        for conn in list(self.conns.values()):
            idle = conn.job.keep_alive and conn.req_off == 0 and conn.parser.head is None
            if idle:
                self._close(conn)
            else:
                self._fail(conn, why)


def _close_quietly(ctx: mtcp.Context, sockid: int) -> None:
    with contextlib.suppress(OSError):
        mtcp.mtcp_close(ctx, sockid)


# -- command line ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="http://IPv4[:port]/path (no DNS)")
    p.add_argument(
        "requests",
        metavar="REQUESTS",
        type=positive_int,
        help="total number of requests (each on a new connection)",
    )
    p.add_argument(
        "-N",
        "--cores",
        type=positive_int,
        metavar="N",
        help="number of cores (contexts) (default 1)",
    )
    p.add_argument(
        "-c",
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"total concurrency (default {DEFAULT_CONCURRENCY})",
    )
    p.add_argument("-o", "--outfile", help="save the body of a response to this file")
    p.add_argument("-f", "--config", metavar="MTCP_CONF", help="an mTCP-style mtcp.conf")
    p.add_argument(
        "--addr",
        help="this client's address, e.g. 198.18.0.2/24 "
        "(default 198.18.0.2/24 on the in-memory link)",
    )
    p.add_argument("--hub", help="name of the in-memory link (io=memory; default mtcp0)")
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up after this long (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-second lines")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    url = _http.parse_url(args.url)
    cfg = make_config(
        args.config,
        hub=args.hub,
        addr=args.addr,
        default_addr="198.18.0.2/24",
        num_cores=args.cores,
    )
    cores = args.cores if args.cores is not None else cfg.num_cores
    if args.concurrency < cores:
        raise ValueError(f"concurrency {args.concurrency} is less than the {cores} cores")
    per_core = args.concurrency // cores
    # As epwget: max_fds = 3 x the per-core concurrency, pushed into max_concurrency and
    # max_num_buffers whatever the file says (mTCP does this with mtcp_setconf).
    max_fds = 3 * per_core + 16
    cfg = cfg.replace(max_concurrency=max_fds, max_num_buffers=max_fds)
    stack = mtcp.Stack(cfg)
    try:
        return _fetch(stack, cfg, url, cores, per_core, args, out)
    finally:
        stack.destroy()


def _fetch(
    stack: mtcp.Stack,
    cfg: mtcp.Config,
    url: _http.Url,
    cores: int,
    per_core: int,
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    contexts = [stack.create_context(core) for core in range(cores)]
    try:
        stats = [ClientStats() for _ in contexts]
        workers = []
        for i, ctx in enumerate(contexts):
            share = args.requests // cores + (1 if i < args.requests % cores else 0)
            w = ClientWorker(
                ctx,
                short=Job(url, stats[i]),
                requests=share,
                concurrency=min(per_core, max(share, 1)),
                save_body=args.outfile is not None and i == 0,
                max_events=min(3 * per_core + 16, 16384),
            )
            w.open()
            workers.append(w)
        print(
            f"epwget: {args.requests} requests to {url}, concurrency {args.concurrency}, "
            f"{cores} core(s), from {cfg.addr} ({cfg.io}:{','.join(cfg.port)})",
            file=out,
            flush=True,
        )
        last = ClientStats()

        def tick(elapsed: float, interval: float) -> None:
            nonlocal last
            now = ClientStats.total(stats)
            if not args.quiet:
                done = now.completed - last.completed
                rt_n = now.latency.count - last.latency.count
                rt_avg = (now.latency.sum_us - last.latency.sum_us) / rt_n if rt_n else 0.0
                rx = now.bytes_in - last.bytes_in
                print(
                    f"[{elapsed:4.0f}s] trans/s {fmt_count(done / interval)}"
                    f"  completed {now.completed}/{args.requests}  errors {now.errors}"
                    f"  in flight {sum(len(w.conns) for w in workers)}"
                    f"  {rx / interval / 1e6:.2f} MB/s ({gbit_per_s(rx, interval):.3f} Gbit/s)"
                    f"  rt avg {rt_avg:,.0f} µs max {now.latency.max_us:,} µs",
                    file=out,
                    flush=True,
                )
            last = now

        runner = Runner(
            [(f"epwget-core{w.ctx.core}", w) for w in workers],
            tick,
            done=lambda: all(w.finished for w in workers),
            duration=args.timeout,
            out=out,
        )
        runner.run()
        total = ClientStats.total(stats)
        _summary(total, args.requests, url, runner.elapsed, out)
        if runner.failures:
            for name, exc in runner.failures:
                print(f"epwget: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        if args.outfile is not None:
            saved = workers[0].saved
            if saved is not None:
                with open(args.outfile, "wb") as f:
                    f.write(saved)
                print(f"epwget: saved {len(saved)} bytes to {args.outfile}", file=out)
            else:
                print(f"epwget: no complete response to save to {args.outfile}", file=out)
        if total.completed == 0 and cfg.io == "memory":
            print(
                "epwget: hint: the in-memory link only joins stacks of one process: use "
                "`mtcp demo`, or `-f mtcp.conf` with a real port",
                file=sys.stderr,
            )
        return 0 if total.completed == args.requests and total.errors == 0 else 1
    finally:
        for ctx in contexts:
            ctx.destroy()


def _summary(
    total: ClientStats, requests: int, url: _http.Url, elapsed: float, out: TextIO
) -> None:
    lat = total.latency
    rate = total.completed / elapsed if elapsed > 0 else 0.0
    lines = [
        f"epwget: {requests} requests to {url} in {elapsed:.2f} s",
        f"  completed       {total.completed}",
        f"  errors          {total.errors}",
        f"  connections     {total.connects}",
        f"  trans/s         {rate:,.0f}",
        f"  received        {fmt_bytes(total.bytes_in)}  "
        f"({total.bytes_in / elapsed / 1e6 if elapsed else 0:.2f} MB/s, "
        f"{gbit_per_s(total.bytes_in, elapsed):.3f} Gbit/s)",
        f"  response time   avg {lat.mean_us:,.0f} µs  p99 {lat.percentile(99):,} µs  "
        f"max {lat.max_us:,} µs",
    ]
    missing = requests - total.completed - total.errors
    if missing > 0:
        lines.append(f"  not started     {missing}")
    lines += [f"  error: {e}" for e in total.error_lines()]
    print("\n".join(lines), file=out, flush=True)
