"""``mtcp epserver``: mTCP's ``apps/example/epserver.c`` — an HTTP/1.0-1.1 static file server
on mtcp epoll, one listener and one event loop per core, files preloaded into memory.

Each context gets a thread running :class:`ServerWorker`: accept everything pending, read
requests, answer from the preloaded :class:`~mtcp.tools._http.Resource` table with one write
when the response fits the send buffer, and register ``EPOLLOUT`` only for what did not fit.
Keep-alive connections stay open for the next request; others are closed after the response.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

import mtcp

from . import _http
from ._args import nonneg_int, port_number, positive_float, positive_int
from ._runtime import POLL_TIMEOUT_MS, Runner, make_config
from ._stats import ServerStats, fmt_count, gbit_per_s

__all__ = ["DEFAULT_PORT", "MAX_FILES", "ServerWorker", "add_arguments", "load_files", "run"]

DEFAULT_PORT = 80
DEFAULT_BACKLOG = 4096
#: mTCP's epserver preloads at most 30 files (``MAX_FILES``); we allow more, but not unbounded.
MAX_FILES = 1024
#: Largest file preloaded from ``--dir``.
MAX_FILE_SIZE = 256 * 1024 * 1024
_READ_SIZE = 8192
#: Reads per readable event before other connections get a turn (level-triggered mode).
_READS_PER_EVENT = 16
#: Requests answered per readable event (bounds a pipelining client's share).
_REQUESTS_PER_EVENT = 64


def generated_files(size: int) -> dict[str, bytes]:
    """The built-in file set: ``/index.html`` of ``size`` bytes, ``/64B``, ``/1KB``, ``/1MB``."""
    files = {"/index.html": _http.generate_body("/index.html", size)}
    for name, n in (("/64B", 64), ("/1KB", 1024), ("/1MB", 1024 * 1024)):
        files[name] = _http.generate_body(name, n)
    return files


def load_files(directory: str) -> dict[str, bytes]:
    """Preloads the regular files directly in ``directory`` (as mTCP's epserver does), as
    ``/name`` → contents; ``/`` serves ``index.html`` when there is one. Raises ``OSError``."""
    files: dict[str, bytes] = {}
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.is_file() or entry.stat().st_size > MAX_FILE_SIZE:
                continue
            if len(files) >= MAX_FILES:
                print(
                    f"epserver: more than {MAX_FILES} files; the rest are not served",
                    file=sys.stderr,
                )
                break
            with open(entry.path, "rb") as f:
                files["/" + entry.name] = f.read()
    if not files:
        raise FileNotFoundError(f"no regular files to serve in {directory}")
    return files


def build_resources(files: Mapping[str, bytes]) -> dict[str, _http.Resource]:
    resources = {path: _http.Resource(path, body) for path, body in files.items()}
    if "/" not in resources and "/index.html" in resources:
        resources["/"] = resources["/index.html"]
    return resources


class _Conn:
    """One accepted connection: bytes read but not parsed yet, the response being sent."""

    __slots__ = ("close_after", "out", "out_off", "parser", "watching_out")

    def __init__(self) -> None:
        self.parser = _http.RequestParser()
        self.out: memoryview | None = None
        self.out_off = 0
        self.close_after = False
        self.watching_out = False


class ServerWorker:
    """The event loop of one server context (use from one thread)."""

    def __init__(
        self,
        ctx: mtcp.Context,
        resources: Mapping[str, _http.Resource],
        *,
        port: int = DEFAULT_PORT,
        backlog: int = DEFAULT_BACKLOG,
        edge_triggered: bool = False,
        stats: ServerStats | None = None,
        max_events: int = 4096,
    ) -> None:
        self.ctx = ctx
        self.resources = resources
        self.port = port
        self.backlog = backlog
        self.et = mtcp.MTCP_EPOLLET if edge_triggered else 0
        self.stats = stats if stats is not None else ServerStats()
        self.max_events = max_events
        self.conns: dict[int, _Conn] = {}
        self.listener = -1
        self.epid = -1
        #: Set once the listener is up (tests and the demo wait for it).
        self.ready = threading.Event()

    def open(self) -> None:
        """Creates the epoll instance and the listener on ``0.0.0.0:port`` (mTCP's
        INADDR_ANY), as epserver's ``CreateListeningSocket``."""
        ctx = self.ctx
        self.epid = mtcp.mtcp_epoll_create(ctx, self.max_events)
        self.listener = mtcp.mtcp_socket(ctx, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        mtcp.mtcp_setsock_nonblock(ctx, self.listener)
        mtcp.mtcp_bind(ctx, self.listener, ("0.0.0.0", self.port))
        mtcp.mtcp_listen(ctx, self.listener, self.backlog)
        mtcp.mtcp_epoll_ctl(
            ctx, self.epid, mtcp.MTCP_EPOLL_CTL_ADD, self.listener, mtcp.MTCP_EPOLLIN | self.et
        )
        self.ready.set()

    def __call__(self, stop: threading.Event) -> None:
        """Serves until ``stop`` is set, then closes every connection."""
        if self.epid < 0:
            self.open()
        try:
            while not stop.is_set():
                events = mtcp.mtcp_epoll_wait(self.ctx, self.epid, self.max_events, POLL_TIMEOUT_MS)
                for sockid, ev in events:
                    if sockid == self.listener:
                        self._accept_all()
                    else:
                        self._on_event(sockid, ev)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for sockid in list(self.conns):
            self._close(sockid)
        for fd in (self.listener, self.epid):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    mtcp.mtcp_close(self.ctx, fd)
        self.listener = self.epid = -1

    # -- events ----------------------------------------------------------------------------------

    def _accept_all(self) -> None:
        ctx = self.ctx
        # Bounded by the backlog: the accept queue cannot hold more.
        for _ in range(self.backlog + 1):
            try:
                sockid, _peer = mtcp.mtcp_accept(ctx, self.listener)
            except BlockingIOError:
                return
            except OSError as exc:
                # ENFILE (pool exhausted) and the like: leave the rest queued for later.
                self.stats.errors += 1
                if exc.errno is not None and self.stats.errors <= 3:
                    print(f"epserver: accept: {exc}", file=sys.stderr)
                return
            self.stats.accepted += 1
            self.conns[sockid] = _Conn()
            try:
                mtcp.mtcp_epoll_ctl(
                    ctx, self.epid, mtcp.MTCP_EPOLL_CTL_ADD, sockid, mtcp.MTCP_EPOLLIN | self.et
                )
            except OSError:
                self.stats.errors += 1
                self._close(sockid)

    def _on_event(self, sockid: int, ev: int) -> None:
        conn = self.conns.get(sockid)
        if conn is None:
            return
        if ev & mtcp.MTCP_EPOLLERR:
            self.stats.errors += 1
            self._close(sockid)
            return
        if ev & mtcp.MTCP_EPOLLOUT and conn.out is not None and not self._flush(sockid, conn):
            return
        if ev & (mtcp.MTCP_EPOLLIN | mtcp.MTCP_EPOLLHUP | mtcp.MTCP_EPOLLRDHUP):
            self._on_readable(sockid, conn)

    def _on_readable(self, sockid: int, conn: _Conn) -> None:
        # Edge-triggered: drain to EAGAIN or we would not hear from this socket again.
        reads = 1 << 20 if self.et else _READS_PER_EVENT
        for _ in range(reads):
            try:
                data = mtcp.mtcp_read(self.ctx, sockid, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError:
                self.stats.errors += 1  # reset by the peer, …
                self._close(sockid)
                return
            if not data:  # the client closed its side
                self._close(sockid)
                return
            conn.parser.feed(data)
            if not self._serve(sockid, conn):
                return

    def _serve(self, sockid: int, conn: _Conn) -> bool:
        """Answers the complete requests read so far, one response in flight at a time.
        Returns False if the connection was closed."""
        for _ in range(_REQUESTS_PER_EVENT):
            if conn.out is not None:
                return True  # finish sending this response first (EPOLLOUT resumes us)
            try:
                req = conn.parser.next_request()
            except _http.HttpError:
                self.stats.errors += 1
                self._respond(sockid, conn, memoryview(_http.error_response(400, False)), True)
                return sockid in self.conns
            if req is None:
                return True
            self.stats.requests += 1
            keep = req.keep_alive
            if req.method not in ("GET", "HEAD"):
                data = _http.error_response(501, False)
                keep = False
            else:
                res = self.resources.get(req.target.split("?", 1)[0])
                if res is None:
                    data = _http.error_response(404, keep)
                elif req.method == "HEAD":
                    data = res.head[keep]
                else:
                    data = res.full[keep]
            if not self._respond(sockid, conn, memoryview(data), not keep):
                return False
        return True

    def _respond(self, sockid: int, conn: _Conn, data: memoryview, close_after: bool) -> bool:
        conn.out, conn.out_off, conn.close_after = data, 0, close_after
        return self._flush(sockid, conn)

    def _flush(self, sockid: int, conn: _Conn) -> bool:
        """Writes what the send buffer takes of the pending response. Returns False if the
        connection was closed (response done without keep-alive, or an error)."""
        out = conn.out
        assert out is not None
        try:
            while conn.out_off < len(out):
                n = mtcp.mtcp_write(self.ctx, sockid, out[conn.out_off :])
                if n <= 0:
                    break
                conn.out_off += n
                self.stats.bytes_out += n
        except BlockingIOError:
            pass
        except OSError:
            self.stats.errors += 1
            self._close(sockid)
            return False
        if conn.out_off < len(out):
            if not conn.watching_out:
                self._watch_out(sockid, conn, True)
            return True
        conn.out = None
        if conn.watching_out:
            self._watch_out(sockid, conn, False)
        if conn.close_after:
            self._close(sockid)
            return False
        return True

    def _watch_out(self, sockid: int, conn: _Conn, on: bool) -> None:
        conn.watching_out = on
        events = mtcp.MTCP_EPOLLIN | self.et | (mtcp.MTCP_EPOLLOUT if on else 0)
        try:
            mtcp.mtcp_epoll_ctl(self.ctx, self.epid, mtcp.MTCP_EPOLL_CTL_MOD, sockid, events)
        except OSError:
            self.stats.errors += 1

    def _close(self, sockid: int) -> None:
        if self.conns.pop(sockid, None) is None:
            return
        self.stats.closed += 1
        with contextlib.suppress(OSError):
            mtcp.mtcp_epoll_ctl(self.ctx, self.epid, mtcp.MTCP_EPOLL_CTL_DEL, sockid, 0)
        with contextlib.suppress(OSError):
            mtcp.mtcp_close(self.ctx, sockid)


# -- command line ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-p",
        "--dir",
        metavar="WWW_DIR",
        help="serve the files in this directory (default: a generated set: "
        "/index.html of --size bytes, /64B, /1KB, /1MB)",
    )
    p.add_argument(
        "--size",
        type=nonneg_int,
        default=1024,
        metavar="BYTES",
        help="size of the generated /index.html (default 1024)",
    )
    p.add_argument("-f", "--config", metavar="MTCP_CONF", help="an mTCP-style mtcp.conf")
    p.add_argument(
        "-N",
        "--cores",
        type=positive_int,
        metavar="N",
        help="number of cores (contexts), each with its own listener (default 1)",
    )
    p.add_argument(
        "-b",
        "--backlog",
        type=positive_int,
        default=DEFAULT_BACKLOG,
        help=f"listen backlog (default {DEFAULT_BACKLOG})",
    )
    p.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--addr",
        help="this host's address, e.g. 198.18.0.1/24 "
        "(default 198.18.0.1/24 on the in-memory link)",
    )
    p.add_argument("--hub", help="name of the in-memory link (io=memory; default mtcp0)")
    p.add_argument(
        "--max-concurrency",
        type=positive_int,
        metavar="N",
        help="socket pool size per core (default: the config's, 10000)",
    )
    p.add_argument(
        "--trigger",
        choices=("level", "edge"),
        default="level",
        help="epoll mode for connections (default level)",
    )
    p.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop after this long (default: run until Ctrl-C)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-second lines")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    files = load_files(args.dir) if args.dir else generated_files(args.size)
    resources = build_resources(files)
    cfg = make_config(
        args.config,
        hub=args.hub,
        addr=args.addr,
        default_addr="198.18.0.1/24",
        num_cores=args.cores,
        max_concurrency=args.max_concurrency,
    )
    cores = args.cores if args.cores is not None else cfg.num_cores
    stack = mtcp.Stack(cfg)
    try:
        return _serve(stack, cfg, cores, resources, args, out)
    finally:
        stack.destroy()


def _serve(
    stack: mtcp.Stack,
    cfg: mtcp.Config,
    cores: int,
    resources: Mapping[str, _http.Resource],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    contexts = [stack.create_context(core) for core in range(cores)]
    try:
        workers = [
            ServerWorker(
                ctx,
                resources,
                port=args.port,
                backlog=args.backlog,
                edge_triggered=args.trigger == "edge",
                max_events=min(3 * cfg.max_concurrency, 16384),
            )
            for ctx in contexts
        ]
        for w in workers:
            w.open()
        where = f"{cfg.io}:{','.join(cfg.port)}"
        print(
            f"epserver: serving {len(files_of(resources))} files on {cfg.addr} port "
            f"{args.port} ({where}), {cores} core(s), {args.trigger}-triggered epoll",
            file=out,
            flush=True,
        )
        last = ServerStats()

        def tick(elapsed: float, interval: float) -> None:
            nonlocal last
            now = ServerStats.total(w.stats for w in workers)
            if not args.quiet:
                accepted = (now.accepted - last.accepted) / interval
                requests = (now.requests - last.requests) / interval
                print(
                    f"[{elapsed:4.0f}s] accepted {fmt_count(accepted)}/s"
                    f"  requests {fmt_count(requests)}/s"
                    f"  {gbit_per_s(now.bytes_out - last.bytes_out, interval):.3f} Gbit/s"
                    f"  open {len_conns(workers)}  errors {now.errors}",
                    file=out,
                    flush=True,
                )
            last = now

        runner = Runner(
            [(f"epserver-core{w.ctx.core}", w) for w in workers],
            tick,
            duration=args.duration,
            out=out,
        )
        runner.run()
        total = ServerStats.total(w.stats for w in workers)
        print(
            f"epserver: {runner.elapsed:.1f} s, accepted {total.accepted}, "
            f"requests {total.requests}, sent {total.bytes_out} bytes, errors {total.errors}",
            file=out,
            flush=True,
        )
        for name, exc in runner.failures:
            print(f"epserver: {name}: {exc}", file=sys.stderr)
        return 1 if runner.failures else 0
    finally:
        for ctx in contexts:
            ctx.destroy()


def files_of(resources: Mapping[str, _http.Resource]) -> set[str]:
    return {r.path for r in resources.values()}


def len_conns(workers: Sequence[ServerWorker]) -> int:
    return sum(len(w.conns) for w in workers)
