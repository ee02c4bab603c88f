"""``mtcp netlab up|down|status``: the network lab for running mtcp against the Linux kernel.

Needs root (``ip netns``, ``ip link``, ``ethtool``). Every address is in 198.18.0.0/15
(RFC 2544 benchmarking space) and lives only in the namespaces the lab creates; the root
namespace is not touched except for the namespace mounts ``ip netns`` makes.

Layout::

    netns mtcp-stk                         netns mtcp-peer
    +-------------------------+  veth      +----------------------------+
    | mtcpv0  (no kernel IP)  |<---------->| mtcpv1  198.18.10.1/24     |
    |  mtcp: afpacket         |            |  Linux TCP: curl, servers  |
    |        198.18.10.2/24   |            |  TSO/GSO/GRO off           |
    +-------------------------+            +----------------------------+

    netns mtcp-tap
    +------------------------------------------------------------+
    | mtcptap0  kernel side 198.18.11.1/24  (persistent TAP)     |
    |  mtcp: tap, 198.18.11.2/24 (the far end of the cable)      |
    +------------------------------------------------------------+

The stack's side of the veth has **no** kernel address (the kernel's TCP would otherwise
answer mtcp's segments with RSTs), IPv6 off (no router/neighbour solicitations) and GRO off;
the peer has TSO/GSO/GRO off so it sends MTU-sized frames (AF_PACKET and AF_XDP would otherwise
get 64 KB GSO super-frames) and TX checksum offload off (over veth, frames would otherwise carry
unfinished checksums). A process attaches to the TAP or the veth end from inside the
namespace: ``ip netns exec mtcp-stk mtcp epserver -f afpacket.conf`` (or, from Python,
:func:`in_netns`).

``down`` deletes the three namespaces, which destroys the veth pair and the TAP; it always
runs to the end and is idempotent. ``up`` first runs ``down``.

This module is the lab's only implementation; ``scripts/netlab.sh`` runs it. It uses the
standard library only, so it also runs as a plain script before the package is built.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "PEER_NS",
    "STACK_NS",
    "TAP_NS",
    "Lab",
    "LabError",
    "add_arguments",
    "down",
    "in_netns",
    "main",
    "run",
    "status",
    "up",
]

STACK_NS = "mtcp-stk"
PEER_NS = "mtcp-peer"
TAP_NS = "mtcp-tap"
NAMESPACES = (STACK_NS, PEER_NS, TAP_NS)


@dataclass(frozen=True)
class Lab:
    """Names and addresses of the lab (the defaults are what ``up`` builds)."""

    veth_stack: str = "mtcpv0"
    veth_peer: str = "mtcpv1"
    veth_peer_addr: str = "198.18.10.1"
    veth_stack_addr: str = "198.18.10.2"
    tap: str = "mtcptap0"
    tap_kernel_addr: str = "198.18.11.1"
    tap_stack_addr: str = "198.18.11.2"
    prefix_len: int = 24


LAB = Lab()


class LabError(RuntimeError):
    """A lab command failed (the message names the command and its output)."""


def _run(cmd: Sequence[str], *, check: bool = True, timeout: float = 20.0) -> str:
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise LabError(f"{cmd[0]} is not installed (needed for the lab)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(cmd)}: timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces and devices)")


def _offloads_off(ns: str, dev: str, features: Sequence[str]) -> None:
    """Turns offloads off with ethtool (required: GSO super-frames break AF_PACKET/AF_XDP)."""
    if shutil.which("ethtool") is None:
        raise LabError("ethtool is not installed: apt-get install ethtool")
    args: list[str] = []
    for feature in features:
        args += [feature, "off"]
    _run(_ns(ns, "ethtool", "-K", dev, *args))


def up(lab: Lab = LAB) -> None:
    """Builds the lab (after a ``down``, so it starts clean). Raises :class:`LabError`."""
    _require_root()
    down(lab)
    try:
        _up(lab)
    except BaseException:
        down(lab)
        raise


def _up(lab: Lab) -> None:
    for ns in NAMESPACES:
        _run(["ip", "netns", "add", ns])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
    # The veth pair is created inside mtcp-stk, so no device ever appears in the root namespace.
    _run(
        [
            "ip", "-n", STACK_NS, "link", "add", lab.veth_stack, "type", "veth",
            "peer", "name", lab.veth_peer, "netns", PEER_NS,
        ]
    )  # fmt: skip
    # Stack side: no IPv4 address, no IPv6 (no RS/ND/MLD noise), no forwarding, GRO off.
    _run(_ns(STACK_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(_ns(STACK_NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
    _run(_ns(STACK_NS, "sysctl", "-qw", f"net.ipv6.conf.{lab.veth_stack}.disable_ipv6=1"))
    _run(["ip", "-n", STACK_NS, "link", "set", lab.veth_stack, "up"])
    _offloads_off(STACK_NS, lab.veth_stack, ["gro"])
    # Kernel peer: MTU-sized frames only.
    peer_cidr = f"{lab.veth_peer_addr}/{lab.prefix_len}"
    _run(_ns(PEER_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(["ip", "-n", PEER_NS, "addr", "add", peer_cidr, "dev", lab.veth_peer])
    _run(["ip", "-n", PEER_NS, "link", "set", lab.veth_peer, "up"])
    # "tx" (checksum offload) too: over veth the kernel would hand frames with unfinished
    # checksums (CHECKSUM_PARTIAL), which a user-space stack rightly drops.
    _offloads_off(PEER_NS, lab.veth_peer, ["tx", "tso", "gso", "gro", "tx-udp-segmentation"])
    # TAP: persistent, kernel side addressed; mtcp attaches from inside mtcp-tap.
    tap_cidr = f"{lab.tap_kernel_addr}/{lab.prefix_len}"
    _run(_ns(TAP_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(_ns(TAP_NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
    _run(["ip", "-n", TAP_NS, "tuntap", "add", "dev", lab.tap, "mode", "tap"])
    _run(["ip", "-n", TAP_NS, "addr", "add", tap_cidr, "dev", lab.tap])
    _run(["ip", "-n", TAP_NS, "link", "set", lab.tap, "up"])


def down(lab: Lab = LAB) -> list[str]:
    """Removes everything ``up`` made; never raises for what is already gone. Returns the
    errors of the deletions that failed (empty when all is clean)."""
    del lab  # every device lives in (and dies with) one of the namespaces
    errors: list[str] = []
    if shutil.which("ip") is None:
        return ["ip is not installed"]
    present = set(_namespaces())
    for ns in NAMESPACES:
        if ns not in present:
            continue
        # Stop whatever still runs in the namespace first (bounded servers the tests left).
        with contextlib.suppress(LabError):
            pids = _run(["ip", "netns", "pids", ns], check=False).split()
            for pid in pids:
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), 9)
        try:
            _run(["ip", "netns", "del", ns])
        except LabError as exc:
            errors.append(str(exc))
    return errors


def _namespaces() -> list[str]:
    out = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def status(lab: Lab = LAB) -> tuple[bool, str]:
    """Whether the lab is up, and a readable summary of its namespaces and addresses."""
    present = set(_namespaces())
    lines = []
    for ns in NAMESPACES:
        if ns not in present:
            lines.append(f"{ns}: absent")
            continue
        addrs = _run(["ip", "-n", ns, "-br", "addr"], check=False).strip()
        lines.append(f"{ns}:")
        lines.extend(f"  {line}" for line in addrs.splitlines() if not line.startswith("lo "))
    is_up = all(ns in present for ns in NAMESPACES)
    del lab
    return is_up, "\n".join(lines)


# setns(2) with CLONE_NEWNET: moves only the calling thread, which is all mtcp needs — the
# interface is looked up and opened while the thread is inside; the descriptors keep working
# from any namespace afterwards.
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(ns: str) -> Iterator[None]:
    """Runs the ``with`` body with this thread in network namespace ``ns`` (needs root).

    Create mtcp stacks (``mtcp.Stack(...)``) inside the block: they open their interface there
    and keep using it after the thread has come back.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("up", "down", "status"),
        help="up: build the lab (after a clean down); down: remove it; status: show it",
    )


def run(args: argparse.Namespace) -> int:
    """The ``mtcp netlab`` command: exit 0 ok, 1 failure (status: 1 when the lab is down)."""
    try:
        if args.action == "up":
            up()
            print(status()[1])
            lab = LAB
            print(
                f"afpacket: ip netns exec {STACK_NS} <cmd> with io = afpacket, port = "
                f"{lab.veth_stack}, addr = {lab.veth_stack_addr}/{lab.prefix_len}; "
                f"kernel peer: ip netns exec {PEER_NS} ... {lab.veth_peer_addr}"
            )
            print(
                f"tap:      ip netns exec {TAP_NS} <cmd> with io = tap, port = {lab.tap}, "
                f"addr = {lab.tap_stack_addr}/{lab.prefix_len}; kernel peer: "
                f"ip netns exec {TAP_NS} ... {lab.tap_kernel_addr}"
            )
            return 0
        if args.action == "down":
            errors = down()
            for error in errors:
                print(f"netlab: {error}", file=sys.stderr)
            return 1 if errors else 0
        is_up, text = status()
        print(text)
        return 0 if is_up else 1
    except LabError as exc:
        print(f"netlab: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netlab", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
