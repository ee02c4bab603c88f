"""The lab without bridges (``mtcp netlab up --no-bridge``): the kernel's address sits directly
on the veth peer and on the TAP, the plain cable. A kernel ``curl`` is served over AF_PACKET
and over the TAP in that layout, loss injection refuses it with a clear error, and the bridged
lab (what the other interop tests use) is built again afterwards. Root only; lab addresses
only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from mtcp.tools import netlab

from .test_kernel_interop import BODY, HTTP_PORT, SITES, kernel, serving


@pytest.fixture
def plain_lab(lab: None) -> Iterator[None]:
    netlab.up(bridge=False)
    try:
        yield
    finally:
        netlab.up()  # back to the bridged lab for the tests that follow


@pytest.mark.parametrize("io", ["afpacket", "tap"])
def test_kernel_curl_over_the_plain_cable(plain_lab: None, io: str) -> None:
    site = SITES[io]
    links = subprocess.run(
        ["ip", "-n", site.kernel_ns, "-br", "link"], capture_output=True, text=True, check=True
    ).stdout
    assert "mtcpbr" not in links, links
    with serving(site):
        url = f"http://{site.stack_addr}:{HTTP_PORT}/"
        assert kernel(site, "curl", "-sS", "--max-time", "10", url).encode() == BODY


def test_loss_injection_needs_the_bridges(plain_lab: None) -> None:
    with pytest.raises(netlab.LabError, match="bridged lab"):
        netlab.loss(1)
    with pytest.raises(netlab.LabError, match="bridged lab"):
        netlab.up(bridge=False, loss_percent=1)
