"""The ``mtcp`` command: ``mtcp version``, ``mtcp config FILE`` (parse and print an mtcp.conf),
``mtcp selftest`` (an echo over the simulated network)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _selftest() -> int:
    import mtcp

    net = mtcp.sim.Network(seed=1)
    server = net.add_host("198.18.0.1").create_context(0)
    client = net.add_host("198.18.0.2").create_context(0)
    listener = server.socket()
    listener.bind(("198.18.0.1", 7))
    listener.listen()
    conn = client.socket()
    if conn.connect_ex(("198.18.0.1", 7)) not in (0, errno.EINPROGRESS):
        return 1

    accepted: list[mtcp.Socket] = []

    def try_accept() -> bool:
        try:
            accepted.append(listener.accept()[0])
        except BlockingIOError:
            return False
        return True

    if not net.run(until=try_accept, max_ms=1000):
        print("selftest: no connection", file=sys.stderr)
        return 1
    conn.send(b"ping")
    got = bytearray()

    def echo() -> bool:
        with contextlib.suppress(BlockingIOError):
            got.extend(accepted[0].recv(16))
        return bytes(got) == b"ping"

    ok = net.run(until=echo, max_ms=1000)
    print("selftest:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtcp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    cfg = sub.add_parser("config", help="parse an mtcp.conf and print it as JSON")
    cfg.add_argument("file")
    sub.add_parser("selftest", help="an echo over the simulated network")
    args = parser.parse_args(argv)

    import mtcp

    if args.command == "version":
        print(mtcp.__version__)
        return 0
    if args.command == "config":
        try:
            conf = mtcp.Config.load(args.file)
        except mtcp.ConfigError as exc:
            print(f"mtcp: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(conf.to_dict(), indent=2))
        return 0
    return _selftest()


if __name__ == "__main__":
    sys.exit(main())
