"""Counters the tools keep per worker, a bounded latency histogram, and number formatting."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

__all__ = [
    "ClientStats",
    "LatencyHistogram",
    "ServerStats",
    "fmt_bytes",
    "fmt_count",
    "gbit_per_s",
]

# Values below 2**_SUB_BITS µs get one bucket each; above, each power of two is split into
# 2**_SUB_BITS buckets, so a percentile is off by less than 1/2**_SUB_BITS (under 1.6 %).
_SUB_BITS = 6
_SUB = 1 << _SUB_BITS
_MAX_US = (1 << 40) - 1  # ~12.7 days: anything longer is clamped
_MAX_KINDS = 8


def _bucket(us: int) -> int:
    if us < _SUB:
        return us
    shift = us.bit_length() - _SUB_BITS - 1
    return ((shift + 1) << _SUB_BITS) + ((us >> shift) - _SUB)


def _bucket_low(index: int) -> int:
    """The smallest value that falls in bucket ``index``."""
    if index < _SUB:
        return index
    shift = (index >> _SUB_BITS) - 1
    return ((index & (_SUB - 1)) + _SUB) << shift


class LatencyHistogram:
    """Latencies in µs with a fixed memory bound (an HDR-style log-linear histogram): exact
    count, sum and maximum; percentiles within 1.6 %."""

    __slots__ = ("_buckets", "count", "max_us", "sum_us")

    def __init__(self) -> None:
        self._buckets = [0] * _bucket(_MAX_US) + [0]
        self.count = 0
        self.sum_us = 0
        self.max_us = 0

    def record(self, us: float) -> None:
        value = min(max(int(us), 0), _MAX_US)
        self._buckets[_bucket(value)] += 1
        self.count += 1
        self.sum_us += value
        if value > self.max_us:
            self.max_us = value

    def merge(self, other: LatencyHistogram) -> None:
        for i, n in enumerate(other._buckets):
            if n:
                self._buckets[i] += n
        self.count += other.count
        self.sum_us += other.sum_us
        self.max_us = max(self.max_us, other.max_us)

    @property
    def mean_us(self) -> float:
        return self.sum_us / self.count if self.count else 0.0

    def percentile(self, p: float) -> int:
        """The ``p``-th percentile (0 < p <= 100) in µs; 0 when empty."""
        if not self.count:
            return 0
        rank = max(1, min(self.count, round(p / 100 * self.count + 0.5)))
        seen = 0
        for i, n in enumerate(self._buckets):
            seen += n
            if seen >= rank:
                return min(_bucket_low(i), self.max_us)
        return self.max_us  # pragma: no cover - the loop always reaches rank


@dataclass
class ServerStats:
    """One server context's counters (written by its worker thread only)."""

    accepted: int = 0
    requests: int = 0
    bytes_out: int = 0
    closed: int = 0
    errors: int = 0

    def add(self, other: ServerStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @classmethod
    def total(cls, parts: Iterable[ServerStats]) -> ServerStats:
        out = cls()
        for part in parts:
            out.add(part)
        return out


@dataclass
class ClientStats:
    """One client context's counters (written by its worker thread only)."""

    connects: int = 0
    completed: int = 0
    errors: int = 0
    #: Responses whose body differed from the expected one (also counted in ``errors``).
    mismatches: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    #: Bytes of complete (and, where expected, verified) response bodies.
    body_bytes: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: Error description → count (at most ``_MAX_KINDS`` kinds; the rest under "other").
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors += 1
        self._count_kind(what, 1)

    def _count_kind(self, what: str, n: int) -> None:
        if what not in self.error_kinds and len(self.error_kinds) >= _MAX_KINDS:
            what = "other"
        self.error_kinds[what] = self.error_kinds.get(what, 0) + n

    def error_lines(self) -> list[str]:
        """``"connect: Connection refused (x12)"``, most frequent first."""
        kinds = sorted(self.error_kinds.items(), key=lambda kv: -kv[1])
        return [f"{what} (x{n})" if n > 1 else what for what, n in kinds]

    def add(self, other: ClientStats) -> None:
        self.connects += other.connects
        self.completed += other.completed
        self.errors += other.errors
        self.mismatches += other.mismatches
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.body_bytes += other.body_bytes
        self.latency.merge(other.latency)
        for what, n in other.error_kinds.items():
            self._count_kind(what, n)

    @classmethod
    def total(cls, parts: Iterable[ClientStats]) -> ClientStats:
        out = cls()
        for part in parts:
            out.add(part)
        return out


def gbit_per_s(nbytes: float, seconds: float) -> float:
    return nbytes * 8 / seconds / 1e9 if seconds > 0 else 0.0


def fmt_bytes(n: float) -> str:
    """``1.50 MB`` (SI units, as network throughput is quoted)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n:.2f} TB"


def fmt_count(n: float) -> str:
    """``12,345``."""
    return f"{n:,.0f}"
