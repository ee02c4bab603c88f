"""``mtcp netlab up|down|status``: the network lab for running mtcp against the Linux kernel.

Needs root (``ip netns``, ``ip link``, ``ethtool``). Every address is in 198.18.0.0/15
(RFC 2544 benchmarking space) and lives only in the namespaces the lab creates; the root
namespace is not touched except for the namespace mounts ``ip netns`` makes.

Layout::

    netns mtcp-stk                         netns mtcp-peer
    +-------------------------+  veth      +-------------------------------------+
    | mtcpv0  (no kernel IP)  |<---------->| mtcpv1 (TSO/GSO/GRO/tx-csum off)    |
    |  mtcp: afpacket, afxdp  | 2 queues   |   port of bridge mtcpbr0            |
    |        198.18.10.2/24   | each way   |   mtcpbr0 198.18.10.1/24: Linux TCP |
    +-------------------------+            +-------------------------------------+

    netns mtcp-tap
    +------------------------------------------------------------+
    | mtcptap0 (persistent multi-queue TAP), port of mtcpbr1     |
    |   mtcpbr1 198.18.11.1/24: the kernel side                  |
    |  mtcp: tap, 198.18.11.2/24 (the far end of the cable)      |
    +------------------------------------------------------------+

The stack's side of the veth has **no** kernel address (the kernel's TCP would otherwise
answer mtcp's segments with RSTs), IPv6 off (no router/neighbour solicitations) and GRO off;
the peer has TSO/GSO/GRO off so it sends MTU-sized frames (AF_PACKET and AF_XDP would otherwise
get 64 KB GSO super-frames) and TX checksum offload off (over veth, frames would otherwise carry
unfinished checksums). A process attaches to the TAP or the veth end from inside the
namespace: ``ip netns exec mtcp-stk mtcp epserver -f afpacket.conf`` (or, from Python,
:func:`in_netns`).

The veth pair has 2 receive and 2 transmit queues at each end, so AF_XDP can serve two
contexts; the peer sends on one of them (an AF_XDP stack with one context, bound to queue 0,
then sees every frame) unless :func:`peer_spread_over_queues` spreads it over both. The TAP is
made with ``multi_queue``, so a stack with several contexts attaches one queue each.

The kernel's address sits on a bridge whose only port is the cable to the stack, so that
``netlab loss P`` (or ``up --loss P``) can drop P % of the IPv4 frames in each direction with
an nftables ``bridge`` table (``numgen random mod 100 < P drop`` on the bridge's ``input`` and
``output`` hooks). That is wire loss for both senders: a bridge's transmit never reports a drop
to the kernel's TCP (a drop on the peer's own egress would be a local ENOBUFS that TCP retries
at once), and AF_PACKET/XDP on the stack side see frames before any hook of their own
namespace. ``loss 0`` removes the table. There is no netem on these kernels, so no delay or
reordering. ``up --no-bridge`` builds the plain layout instead: the kernel's addresses directly
on ``mtcpv1`` and ``mtcptap0`` (same names and addresses, no bridges, no loss injection).

``down`` deletes the three namespaces, which destroys the veth pair and the TAP; it always
runs to the end and is idempotent. ``up`` first runs ``down``.

This module is the lab's only implementation; ``scripts/netlab.sh`` runs it. It uses the
standard library only, so it also runs as a plain script before the package is built.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LOCK_PATH",
    "LOSS_NAMESPACES",
    "PEER_NS",
    "STACK_NS",
    "TAP_NS",
    "Lab",
    "LabError",
    "LossState",
    "add_arguments",
    "down",
    "exclusive",
    "in_netns",
    "loss",
    "loss_state",
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
    veth_bridge: str = "mtcpbr0"
    tap: str = "mtcptap0"
    tap_bridge: str = "mtcpbr1"
    tap_kernel_addr: str = "198.18.11.1"
    tap_stack_addr: str = "198.18.11.2"
    prefix_len: int = 24


LAB = Lab()


class LabError(RuntimeError):
    """A lab command failed (the message names the command and its output)."""


def _run(
    cmd: Sequence[str], *, check: bool = True, timeout: float = 20.0, stdin: str | None = None
) -> str:
    try:
        proc = subprocess.run(
            list(cmd), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
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


#: The lock every user of the lab holds (tests, ``mtcp bench --veth``): a second user on the
#: same machine waits for it rather than tearing the lab down under the first.
LOCK_PATH = Path(os.environ.get("MTCP_NETLAB_LOCK", "/tmp/mtcp-netlab.lock"))


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Holds the lab's lock (an ``flock`` on :data:`LOCK_PATH`) for the block."""
    with LOCK_PATH.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: Receive and transmit queues of each end of the veth pair: AF_XDP binds one socket per
#: receive queue, so this many contexts can run on ``mtcpv0``.
VETH_QUEUES = 2


def set_peer_tx_queues(count: int, lab: Lab = LAB) -> None:
    """Makes the kernel's end of the veth send on ``count`` queues (``ethtool -L tx``). A veth
    delivers a frame on the receive queue numbered like the peer's transmit queue, and the
    kernel picks that by its own flow hash (not mTCP's RSS): with 2, flows are spread over both
    of ``mtcpv0``'s queues as a multi-queue NIC spreads them. ``up`` leaves it at 1, so an
    AF_XDP stack with one context (bound to queue 0) sees every frame."""
    if not 1 <= count <= VETH_QUEUES:
        raise LabError(f"the veth has {VETH_QUEUES} queues; asked for {count}")
    if shutil.which("ethtool") is None:
        raise LabError("ethtool is not installed: apt-get install ethtool")
    _run(_ns(PEER_NS, "ethtool", "-L", lab.veth_peer, "tx", str(count)))


@contextlib.contextmanager
def peer_spread_over_queues(lab: Lab = LAB) -> Iterator[None]:
    """For the block, the veth peer spreads flows over all :data:`VETH_QUEUES` queues
    (:func:`set_peer_tx_queues`); back to 1 afterwards."""
    set_peer_tx_queues(VETH_QUEUES, lab)
    try:
        yield
    finally:
        set_peer_tx_queues(1, lab)


def up(lab: Lab = LAB, *, loss_percent: float = 0.0, bridge: bool = True) -> None:
    """Builds the lab (after a ``down``, so it starts clean), with ``loss_percent`` % random
    loss each way when it is above 0 (see :func:`loss`). With ``bridge=False`` the kernel's
    addresses sit directly on the veth peer and the TAP (the plain cable), and there is no
    loss injection (it lives on the bridges). Raises :class:`LabError`."""
    _require_root()
    _check_percent(loss_percent)
    if loss_percent > 0 and not bridge:
        raise LabError("loss injection needs the bridged lab (it drops frames on the bridges)")
    down(lab)
    try:
        _up(lab, bridge)
        if loss_percent > 0:
            loss(loss_percent, lab)
    except BaseException:
        down(lab)
        raise


def _attach_kernel_end(ns: str, bridge: str, port: str, cidr: str, bridged: bool) -> None:
    """The kernel's end of a cable: through a bridge (:func:`_bridge`), or with the address
    directly on ``port``."""
    if bridged:
        _bridge(ns, bridge, port, cidr)
        return
    _run(["ip", "-n", ns, "addr", "add", cidr, "dev", port])
    _run(["ip", "-n", ns, "link", "set", port, "up"])


def _bridge(ns: str, bridge: str, port: str, cidr: str) -> None:
    """The kernel's end of a cable: ``port`` enslaved to ``bridge``, the address on the bridge
    (where :func:`loss` drops frames), TSO/GSO off on the bridge. No STP, no forward delay, no
    multicast snooping; the bridge's frames skip iptables (``bridge-nf-call-*``: built into
    these kernels)."""
    _run(
        [
            "ip", "-n", ns, "link", "add", bridge, "type", "bridge",
            "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0",
        ]
    )  # fmt: skip
    for key in ("iptables", "ip6tables", "arptables"):
        _run(_ns(ns, "sysctl", "-qw", f"net.bridge.bridge-nf-call-{key}=0"), check=False)
    _run(["ip", "-n", ns, "link", "set", port, "master", bridge])
    _run(["ip", "-n", ns, "addr", "add", cidr, "dev", bridge])
    _run(["ip", "-n", ns, "link", "set", port, "up"])
    _run(["ip", "-n", ns, "link", "set", bridge, "up"])
    # The kernel's TCP sends through the bridge: without GSO there, every frame meets the loss
    # rule on its own (with it, one rule hit would drop a whole super-frame of segments).
    _offloads_off(ns, bridge, ["tso", "gso"])


# -- loss injection -------------------------------------------------------------------------------

LOSS_TABLE = "mtcp_loss"
#: Where the loss rules live: the namespaces that hold the kernel's bridges.
LOSS_NAMESPACES = (PEER_NS, TAP_NS)
#: ``numgen random mod`` this: percentages have a resolution of 0.01.
_LOSS_SCALE = 10_000


def _check_percent(percent: float) -> None:
    if not 0.0 <= percent <= 100.0:
        raise LabError(f"loss must be a percentage from 0 to 100, not {percent}")


def _loss_ruleset(percent: float) -> str:
    threshold = round(percent * _LOSS_SCALE / 100)
    rule = f"meta protocol ip numgen random mod {_LOSS_SCALE} < {threshold} counter drop"
    return (
        f"table bridge {LOSS_TABLE} {{\n"
        f"  chain to_kernel {{ type filter hook input priority 0; policy accept; {rule}; }}\n"
        f"  chain from_kernel {{ type filter hook output priority 0; policy accept; {rule}; }}\n"
        "}\n"
    )


def loss(percent: float, lab: Lab = LAB) -> None:
    """Drops ``percent`` % of the IPv4 frames in each direction between each stack port and
    its kernel peer (an nftables ``bridge`` table on the kernel's bridges, hooks ``input``
    and ``output``); 0 removes the rules. ARP is never dropped. Raises :class:`LabError`."""
    _require_root()
    _check_percent(percent)
    if shutil.which("nft") is None:
        raise LabError("nft is not installed (loss injection): apt-get install nftables")
    if percent > 0 and not _bridged(lab):
        raise LabError("loss injection needs the bridged lab (mtcp netlab up without --no-bridge)")
    for ns in LOSS_NAMESPACES:
        _run(_ns(ns, "nft", "delete", "table", "bridge", LOSS_TABLE), check=False)
        if percent > 0:
            _run(_ns(ns, "nft", "-f", "-"), stdin=_loss_ruleset(percent))


def _bridged(lab: Lab = LAB) -> bool:
    """Whether the lab that is up has its bridges (``up(bridge=True)``)."""
    out = _run(["ip", "-n", PEER_NS, "-br", "link", "show", lab.veth_bridge], check=False)
    return lab.veth_bridge in out


@dataclass(frozen=True)
class LossState:
    """The loss rules of one namespace: the percentage (0 without rules) and the frames they
    dropped so far towards the kernel and from it."""

    percent: float
    dropped_to_kernel: int
    dropped_from_kernel: int


def loss_state(ns: str) -> LossState:
    """What :func:`loss` set up in ``ns`` (one of :data:`LOSS_NAMESPACES`), with counters."""
    if shutil.which("nft") is None:
        return LossState(0.0, 0, 0)
    out = _run(_ns(ns, "nft", "list", "table", "bridge", LOSS_TABLE), check=False)
    percent = 0.0
    drops: dict[str, int] = {}
    chain = ""
    for line in out.splitlines():
        words = line.split()
        if words[:1] == ["chain"] and len(words) > 1:
            chain = words[1]
        if "numgen" in words and "counter" in words:
            percent = int(words[words.index("<") + 1]) * 100 / _LOSS_SCALE
            drops[chain] = int(words[words.index("packets") + 1])
    return LossState(percent, drops.get("to_kernel", 0), drops.get("from_kernel", 0))


def _up(lab: Lab, bridge: bool) -> None:
    for ns in NAMESPACES:
        _run(["ip", "netns", "add", ns])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
    # The veth pair is created inside mtcp-stk, so no device ever appears in the root namespace.
    # VETH_QUEUES queues each way (AF_XDP with that many contexts); the peer sends on one.
    queues = ["numtxqueues", str(VETH_QUEUES), "numrxqueues", str(VETH_QUEUES)]
    _run(
        [
            "ip", "-n", STACK_NS, "link", "add", lab.veth_stack, *queues, "type", "veth",
            "peer", "name", lab.veth_peer, *queues, "netns", PEER_NS,
        ]
    )  # fmt: skip
    set_peer_tx_queues(1, lab)
    # Stack side: no IPv4 address, no IPv6 (no RS/ND/MLD noise), no forwarding, GRO off.
    _run(_ns(STACK_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(_ns(STACK_NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
    _run(_ns(STACK_NS, "sysctl", "-qw", f"net.ipv6.conf.{lab.veth_stack}.disable_ipv6=1"))
    _run(["ip", "-n", STACK_NS, "link", "set", lab.veth_stack, "up"])
    _offloads_off(STACK_NS, lab.veth_stack, ["gro"])
    # Kernel peer: MTU-sized frames only.
    peer_cidr = f"{lab.veth_peer_addr}/{lab.prefix_len}"
    _run(_ns(PEER_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(_ns(PEER_NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
    _attach_kernel_end(PEER_NS, lab.veth_bridge, lab.veth_peer, peer_cidr, bridge)
    # "tx" (checksum offload) too: over veth the kernel would hand frames with unfinished
    # checksums (CHECKSUM_PARTIAL), which a user-space stack rightly drops.
    _offloads_off(PEER_NS, lab.veth_peer, ["tx", "tso", "gso", "gro", "tx-udp-segmentation"])
    # TAP: persistent, kernel side addressed; mtcp attaches from inside mtcp-tap.
    tap_cidr = f"{lab.tap_kernel_addr}/{lab.prefix_len}"
    _run(_ns(TAP_NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
    _run(_ns(TAP_NS, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
    # multi_queue: a stack with several contexts attaches one queue each (one context still
    # attaches, with IFF_MULTI_QUEUE, to the one queue).
    _run(["ip", "-n", TAP_NS, "tuntap", "add", "dev", lab.tap, "mode", "tap", "multi_queue"])
    _attach_kernel_end(TAP_NS, lab.tap_bridge, lab.tap, tap_cidr, bridge)


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
    for ns in LOSS_NAMESPACES:
        if ns in present:
            state = loss_state(ns)
            if state.percent > 0:
                lines.append(
                    f"{ns}: loss {state.percent:g} % each way (dropped so far: "
                    f"{state.dropped_to_kernel} to the kernel, {state.dropped_from_kernel} from it)"
                )
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


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"a percentage from 0 to 100, not {text}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("up", "down", "status", "loss"),
        help="up: build the lab (after a clean down); down: remove it; status: show it; "
        "loss P: drop P %% of the IPv4 frames each way (0: none)",
    )
    p.add_argument("percent", nargs="?", type=_percent, help="for loss: the percentage (0 to 100)")
    p.add_argument(
        "--loss",
        type=_percent,
        default=0.0,
        metavar="P",
        help="for up: start with P %% random loss each way",
    )
    p.add_argument(
        "--no-bridge",
        action="store_true",
        help="for up: the kernel's addresses directly on the veth peer and the TAP, no bridges "
        "(no loss injection)",
    )


def run(args: argparse.Namespace) -> int:
    """The ``mtcp netlab`` command: exit 0 ok, 1 failure (status: 1 when the lab is down)."""
    try:
        if args.action == "loss":
            if args.percent is None:
                print("netlab: loss needs a percentage, e.g. `netlab loss 1`", file=sys.stderr)
                return 2
            loss(args.percent)
            print(status()[1])
            return 0
        if args.action == "up":
            up(loss_percent=args.loss, bridge=not args.no_bridge)
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
