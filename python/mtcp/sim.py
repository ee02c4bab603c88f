"""The simulated network (API.md §4): deterministic, seeded, virtual clock.

>>> net = Network(seed=7, loss=0.01)
>>> a = net.add_host("198.18.0.1")
>>> b = net.add_host("198.18.0.2", max_concurrency=8)

Nothing moves except inside :meth:`Network.run` / :meth:`Network.step`; the same seed gives the
same packets, byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from . import _mtcp
from .config import Config
from .stack import Stack

__all__ = ["Network"]

_IMPAIRMENTS = (
    "loss",
    "reorder",
    "duplicate",
    "corrupt",
    "delay_us",
    "jitter_us",
    "rate_bps",
    "queue_bytes",
    "mtu",
)


class Network:
    """A simulated Ethernet segment joining hosts.

    ``loss``, ``reorder``, ``duplicate`` and ``corrupt`` are per-frame probabilities;
    ``delay_us`` is the one-way propagation delay (plus up to ``jitter_us``); ``rate_bps`` a
    bottleneck per direction with a ``queue_bytes`` queue (``None``: unlimited); ``mtu`` the
    largest IP packet the segment carries.
    """

    __slots__ = ("_hosts", "_raw")

    def __init__(
        self,
        seed: int = 7,
        loss: float = 0.0,
        reorder: float = 0.0,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        delay_us: int = 50,
        rate_bps: int | None = None,
        mtu: int = 1500,
        *,
        jitter_us: int | None = None,
        queue_bytes: int | None = None,
    ) -> None:
        self._raw = _mtcp.Network(
            seed=seed,
            loss=loss,
            reorder=reorder,
            duplicate=duplicate,
            corrupt=corrupt,
            delay_us=delay_us,
            jitter_us=jitter_us,
            rate_bps=rate_bps,
            queue_bytes=queue_bytes,
            mtu=mtu,
        )
        self._hosts: list[Stack] = []

    @property
    def raw(self) -> _mtcp.Network:
        return self._raw

    def add_host(self, addr: str, **config: Any) -> Stack:
        """Adds a host at ``addr`` (``"198.18.0.1"``, or with a prefix: ``"198.18.0.1/24"``;
        /15 by default) and returns its :class:`mtcp.Stack`. Keyword arguments are
        :class:`mtcp.Config` fields (``max_concurrency=8``, ``rcvbuf=65536``, …)."""
        if "/" in addr:
            config.setdefault("addr", addr)
            addr = addr.split("/", 1)[0]
        cfg = Config(**config)
        stack = Stack._adopt(self._raw.add_host(addr, cfg._raw), cfg)
        self._hosts.append(stack)
        return stack

    @property
    def hosts(self) -> tuple[Stack, ...]:
        return tuple(self._hosts)

    def step(self) -> bool:
        """Processes the next event (a delivery or a timer); ``False`` if nothing is pending."""
        return self._raw.step()

    def run(self, until: Callable[[], object] | None = None, max_ms: float = 10_000) -> bool:
        """Advances virtual time: until ``until()`` is true (checked after every event) or
        ``max_ms`` passed. Returns whether ``until`` became true; without ``until`` it just
        advances ``max_ms`` and returns ``False``."""
        return self._raw.run(until, float(max_ms))

    def configure(self, **impairments: Any) -> None:
        """Changes some impairments mid-run, e.g. ``configure(loss=1.0)`` (a cut cable)."""
        unknown = set(impairments) - set(_IMPAIRMENTS)
        if unknown:
            raise TypeError(f"unknown impairments: {', '.join(sorted(unknown))}")
        self._raw.configure(**impairments)

    @property
    def impairments(self) -> dict[str, Any]:
        return self._raw.impairments()

    @property
    def now_us(self) -> int:
        """Virtual time in microseconds."""
        return self._raw.now_us

    def capture(self, path: str | os.PathLike[str]) -> None:
        """Writes every frame from now on to a pcap file at ``path``."""
        self._raw.capture(os.fspath(path))

    def __repr__(self) -> str:
        return f"<mtcp.sim.Network hosts={len(self._hosts)}>"
