"""BBR from Python: ``cc="bbr"`` in the config and ``TCP_CONGESTION = TCP_CA_BBR`` per socket."""

from __future__ import annotations

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, established, transfer


def test_config_accepts_bbr_and_rejects_unknown() -> None:
    assert mtcp.Config(cc="bbr").cc == "bbr"
    assert mtcp.Config(cc="BBR").cc == "bbr"
    with pytest.raises(ValueError, match="bbr"):
        mtcp.Config(cc="vegas")


def test_tcp_congestion_bbr_per_socket_moves_data_intact() -> None:
    assert (mtcp.TCP_CA_NEWRENO, mtcp.TCP_CA_CUBIC, mtcp.TCP_CA_BBR) == (0, 1, 2)
    link = Link("sim", seed=5, loss=0.02)
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb, port=5003)
    ca.setsockopt(cfd, mtcp.IPPROTO_TCP, mtcp.TCP_CONGESTION, mtcp.TCP_CA_BBR)
    assert ca.getsockopt(cfd, mtcp.IPPROTO_TCP, mtcp.TCP_CONGESTION) == mtcp.TCP_CA_BBR
    data = bytes(range(256)) * 800
    assert transfer(link, ca, cfd, cb, sfd, data) == data
    link.close()
