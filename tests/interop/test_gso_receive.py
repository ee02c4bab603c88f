"""A kernel peer with TSO/GSO on: its TCP hands our port GSO super-frames (one segment of up to
64 KiB that the device was to cut into MSS-sized ones) and our stack must take them whole.

The lab turns TSO/GSO off on its bridges and the veth peer; here they go back on for one test,
so the kernel's TCP sends super-frames to the TAP (the device offers `TUN_F_TSO4` when opened
with ``checksum_offload``) and over the veth (AF_PACKET with ``PACKET_VNET_HDR``). A kernel
client then sends 8 MiB to our echo service and checks the echo by SHA-256; our context's
counters show frames far larger than the MTU arrived. Root only; lab addresses only.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from mtcp.tools import netlab

from .test_kernel_interop import SITES, Site, kernel_echo, serving

LAB = netlab.LAB


@contextlib.contextmanager
def kernel_gso_on(site: Site) -> Iterator[None]:
    """TSO/GSO on along the kernel's path to our port, put back off afterwards."""
    if site.io == "tap":
        devices = [(netlab.TAP_NS, LAB.tap_bridge, ["tso", "gso"])]
    else:
        devices = [
            (netlab.PEER_NS, LAB.veth_bridge, ["tso", "gso"]),
            (netlab.PEER_NS, LAB.veth_peer, ["tx", "sg", "tso", "gso"]),
        ]

    def ethtool(state: str) -> None:
        for ns, dev, features in devices:
            args = [arg for feature in features for arg in (feature, state)]
            subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-K", dev, *args],
                           check=True, timeout=10, capture_output=True)  # fmt: skip

    ethtool("on")
    try:
        yield
    finally:
        ethtool("off")


@pytest.mark.parametrize("io", ["tap", "afpacket"])
def test_gso_super_frames_from_the_kernel_are_taken_whole(lab: None, io: str) -> None:
    site = SITES[io]
    with serving(site, rcvbuf=262144, sndbuf=262144) as ctx:
        before = ctx.stats()
        with kernel_gso_on(site):
            kernel_echo(site, 8 * 1024 * 1024)
        after = ctx.stats()
    frames = after.rx_frames - before.rx_frames
    mean = (after.rx_bytes - before.rx_bytes) / max(frames, 1)
    # No frame without GSO is longer than 1514 bytes (and the kernel's ACKs of our echo are 66),
    # so a mean above that needs super-frames. How large they get depends on the kernel's TSO
    # autosizing, which shrinks them on a loaded machine (means of 2,800-9,000 B were seen).
    assert mean > 1600, f"no super-frames reached the stack: {frames} frames, mean {mean:.0f} B"
