"""Jumbo frames on the in-memory link: ``mtu`` up to 9000 for ``io = "memory"``; segments
follow the MTU (MSS = mtu - 40) and a stream crosses intact in ~9 KB frames."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, established, transfer


@pytest.fixture
def memory() -> Iterator[Link]:
    link = Link("memory")
    yield link
    link.close()


def test_a_9000_byte_mtu_link_moves_a_stream_in_jumbo_frames(memory: Link) -> None:
    ca = memory.context(ADDR_A, mtu=9000, rcvbuf=1 << 20, sndbuf=1 << 20)
    cb = memory.context(ADDR_B, mtu=9000, rcvbuf=1 << 20, sndbuf=1 << 20)
    assert memory.stacks[0].config().mtu == 9000
    cfd, sfd, _ = established(memory, ca, cb)
    data = os.urandom(4 << 20)
    assert transfer(memory, ca, cfd, cb, sfd, data, chunks=[65536]) == data
    sent = ca.stats()
    # Full-size segments: 9,014-byte frames (8,948 bytes of data each with timestamps).
    assert sent.tx_bytes / sent.tx_frames > 8000
    assert sent.tx_frames < len(data) // 8000


def test_the_default_mtu_keeps_1514_byte_frames(memory: Link) -> None:
    ca = memory.context(ADDR_A)
    cb = memory.context(ADDR_B)
    cfd, sfd, _ = established(memory, ca, cb)
    data = os.urandom(1 << 20)
    assert transfer(memory, ca, cfd, cb, sfd, data, chunks=[65536]) == data
    sent = ca.stats()
    assert 1300 < sent.tx_bytes / sent.tx_frames <= 1514


@pytest.mark.parametrize("mtu", [9001, 65536])
def test_an_mtu_over_9000_is_a_config_error_naming_the_key(mtu: int) -> None:
    with pytest.raises(mtcp.ConfigError) as info:
        mtcp.Config(io="memory", mtu=mtu)
    assert info.value.key == "mtu"
    assert "9000" in str(info.value)
