"""The ``mtcp`` command.

Subcommands: ``demo`` (a server and a client stack in one process, over the in-memory link),
``epserver`` and ``epwget`` (mTCP's sample HTTP server and load generator), ``bench`` (mtcp
against the kernel's TCP, native and from Python), ``version``,
``config`` (parse an mtcp.conf and print it), ``selftest`` (an echo over the simulated
network) and ``netlab`` (the namespaces, veth pair and TAP for running against the kernel).
Exit status: 0 success, 1 failure (errors, mismatches, an OSError), 2 bad usage or a bad
configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_Handler = Callable[[argparse.Namespace], int]


def _version(_args: argparse.Namespace) -> int:
    import mtcp

    print(getattr(mtcp, "__version__", "unknown"))
    return EXIT_OK


def _config(args: argparse.Namespace) -> int:
    import mtcp

    conf = mtcp.Config.load(args.file)
    print(json.dumps(conf.to_dict(), indent=2, default=str))
    return EXIT_OK


def _selftest(_args: argparse.Namespace) -> int:
    """An echo between two hosts of the simulated network (virtual time, deterministic)."""
    import mtcp

    net = mtcp.sim.Network(seed=1)
    server = net.add_host("198.18.0.1").create_context(0)
    client = net.add_host("198.18.0.2").create_context(0)
    listener = server.socket()
    listener.bind(("198.18.0.1", 7))
    listener.listen()
    conn = client.socket()
    if conn.connect_ex(("198.18.0.1", 7)) not in (0, errno.EINPROGRESS):
        print("selftest: connect failed", file=sys.stderr)
        return EXIT_FAILURE
    accepted: list[mtcp.Socket] = []

    def try_accept() -> bool:
        try:
            accepted.append(listener.accept()[0])
        except BlockingIOError:
            return False
        return True

    if not net.run(until=try_accept, max_ms=1000):
        print("selftest: no connection", file=sys.stderr)
        return EXIT_FAILURE
    conn.send(b"ping")
    got = bytearray()

    def echo() -> bool:
        with contextlib.suppress(BlockingIOError):
            got.extend(accepted[0].recv(16))
        return bytes(got) == b"ping"

    ok = net.run(until=echo, max_ms=1000)
    print("selftest:", "ok" if ok else "FAILED")
    return EXIT_OK if ok else EXIT_FAILURE


def _tool(module: str) -> _Handler:
    def handler(args: argparse.Namespace) -> int:
        from importlib import import_module

        run: _Handler = import_module(f"mtcp.tools.{module}").run
        return run(args)

    return handler


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    from .tools import bench, demo, epserver, epwget, netlab

    parser = argparse.ArgumentParser(
        prog="mtcp",
        description="A user-space TCP/IPv4 stack with mTCP's per-core design and API.",
        epilog="Start with `mtcp demo`. Exit status: 0 ok, 1 failure, 2 bad usage.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help: str, handler: _Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    demo.add_arguments(
        add(
            "demo",
            "server and client stacks in one process on the in-memory link: "
            "HTTP load for a few seconds, figures and a verdict",
            _tool("demo"),
        )
    )
    epserver.add_arguments(
        add(
            "epserver",
            "mTCP's epserver: an HTTP/1.0-1.1 file server on mtcp epoll",
            _tool("epserver"),
        )
    )
    epwget.add_arguments(
        add(
            "epwget",
            "mTCP's epwget: HTTP GET load, one new connection per request",
            _tool("epwget"),
        )
    )
    netlab.add_arguments(
        add(
            "netlab",
            "build, remove or show the network lab (namespaces, veth, TAP, bridges) "
            "and set its packet loss, for running over real interfaces; needs root",
            _tool("netlab"),
        )
    )
    bench.add_arguments(
        add(
            "bench",
            "mtcp against the kernel's TCP on this machine: short connections, RPC, bulk, "
            "connection scale; a table, a JSON record and plots",
            _tool("bench"),
        )
    )
    add("version", "print the version", _version)
    add(
        "config",
        "parse an mtcp.conf (and the arp.conf/route.conf it names), print it as JSON",
        _config,
    ).add_argument("file", metavar="MTCP_CONF")
    add("selftest", "an echo over the simulated network", _selftest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``mtcp`` command; returns its exit status."""
    try:
        import mtcp

        parser = build_parser()
    except ImportError as exc:  # the native extension is missing or broken
        print(f"mtcp: cannot load the mtcp package: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    args = parser.parse_args(argv)  # exits with status 2 on bad usage
    from .tools._runtime import UsageError

    handler: _Handler = args.handler
    limit = _time_limit(args)
    if limit is not None:
        _arm_watchdog(limit, args.command)
    try:
        return handler(args)
    except mtcp.ConfigError as exc:
        print(f"mtcp {args.command}: bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, ValueError) as exc:
        print(f"mtcp {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mtcp {args.command}: {_describe(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"mtcp {args.command}: interrupted", file=sys.stderr)
        return 130


#: Beyond its own time bound, how long a run may take to start and stop before the watchdog
#: ends the process (a stuck stack must not hang a script or a CI job).
WATCHDOG_GRACE_S = 30.0


def _time_limit(args: argparse.Namespace) -> float | None:
    """The longest a run of this command may take, or ``None`` (runs until Ctrl-C)."""
    bound = getattr(args, "timeout", None) or getattr(args, "duration", None)
    return None if bound is None else float(bound) + WATCHDOG_GRACE_S


def _arm_watchdog(seconds: float, command: str) -> None:
    """Ends the process with status 1 if the command is still running after ``seconds``."""

    def fire() -> None:
        print(
            f"mtcp {command}: still running {seconds:.0f} s after the start; "
            "the stack did not stop, exiting",
            file=sys.stderr,
            flush=True,
        )
        os._exit(EXIT_FAILURE)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def _describe(exc: OSError) -> str:
    text = str(exc)
    if exc.filename is not None and str(exc.filename) not in text:
        text += f": {exc.filename}"
    return text


if __name__ == "__main__":
    sys.exit(main())
