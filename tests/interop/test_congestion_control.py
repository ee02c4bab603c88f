"""Each congestion controller against the kernel's TCP through real loss: our stack on
AF_PACKET with ``cc = newreno | cubic | bbr``, 2 % of the frames dropped each way by the lab's
nftables rule, and a kernel client echoing 8 MiB of random data through our echo service (so
our sender, under that controller, moves 8 MiB to the kernel through the loss). Every byte must
come back (SHA-256), our context must have retransmitted, and the rule must have dropped
frames. The rates are printed side by side. Root only; lab addresses only.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from mtcp.tools import netlab

from .test_kernel_interop import SITES, kernel_echo, serving

SITE = SITES["afpacket"]
SIZE = 8 * 1024 * 1024


@pytest.fixture
def two_percent_loss(lab: None) -> Iterator[None]:
    netlab.loss(2)
    try:
        yield
    finally:
        netlab.loss(0)


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (nftables) is not installed")
@pytest.mark.parametrize("cc", ["newreno", "cubic", "bbr"])
def test_each_controller_moves_data_intact_through_loss(two_percent_loss: None, cc: str) -> None:
    before = netlab.loss_state(SITE.kernel_ns)
    with serving(SITE, cc=cc, rcvbuf=1 << 20, sndbuf=1 << 20) as ctx:
        seconds = kernel_echo(SITE, SIZE, timeout=120)
        retransmits = ctx.stats().retransmits
    after = netlab.loss_state(SITE.kernel_ns)
    assert after.dropped_to_kernel > before.dropped_to_kernel, "the rule dropped our frames"
    assert retransmits > 0, "our sender repaired the losses"
    rate = 2 * SIZE * 8 / seconds / 1e6
    print(f"{cc}: 8 MiB each way at 2 % loss in {seconds:.2f} s ({rate:.0f} Mbit/s), "
          f"{retransmits} retransmissions")  # fmt: skip
