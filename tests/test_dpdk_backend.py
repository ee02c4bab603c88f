"""The DPDK backend's surface without DPDK running: which backends this build has, the
``dpdk_eal_args`` key, and the errors ``io = dpdk`` gives before the EAL starts (no root
needed). The DPDK port itself runs against the kernel's TCP in tests/interop."""

from __future__ import annotations

import errno

import pytest

import mtcp

ALWAYS_BUILT = {"memory", "sim", "tap", "afpacket", "afxdp"}


def test_features_is_a_frozenset_of_backend_names() -> None:
    built = mtcp.features()
    assert isinstance(built, frozenset)
    assert built >= ALWAYS_BUILT
    assert built <= ALWAYS_BUILT | {"dpdk"}


def test_dpdk_eal_args_keep_their_equals_signs() -> None:
    args = "--no-pci --no-huge -m 256 --vdev=net_af_packet0,iface=veth0"
    assert mtcp.Config(dpdk_eal_args=args).dpdk_eal_args == args
    parsed = mtcp.Config.parse(f"io = dpdk\ndpdk_eal_args = {args}  # EAL\n")
    assert parsed.dpdk_eal_args == args
    assert mtcp.Config().dpdk_eal_args == ""
    assert mtcp.Config(**parsed.to_dict()) == parsed


def _dpdk_config(**extra: str) -> mtcp.Config:
    return mtcp.Config(io="dpdk", port="net_af_packet0", **extra)


@pytest.mark.skipif("dpdk" in mtcp.features(), reason="this build has the dpdk feature")
def test_without_the_feature_io_dpdk_names_the_feature() -> None:
    config = _dpdk_config(addr="198.18.10.2/24", dpdk_eal_args="--no-pci --no-huge")
    with pytest.raises(OSError, match="feature `dpdk`") as info:
        mtcp.Stack(config)
    assert info.value.errno == errno.EOPNOTSUPP


@pytest.mark.skipif("dpdk" not in mtcp.features(), reason="built without the dpdk feature")
def test_with_the_feature_addr_and_eal_args_are_required() -> None:
    with pytest.raises((ValueError, OSError), match="addr"):
        mtcp.Stack(_dpdk_config(dpdk_eal_args="--no-pci --no-huge"))
    with pytest.raises((ValueError, OSError), match="dpdk_eal_args"):
        mtcp.Stack(_dpdk_config(addr="198.18.10.2/24"))
