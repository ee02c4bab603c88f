"""Stack configuration: mTCP's ``mtcp.conf`` keys, as a typed Python object.

Rust parses and validates (``Config.load`` reads the same files mTCP reads; each keyword
argument is handed to Rust as the text a line of ``mtcp.conf`` would carry), so a file and
keyword arguments accept exactly the same values and fail with the same
:class:`mtcp.ConfigError`, naming the file, line and key.

>>> cfg = Config(io="memory", port="hub0", addr="198.18.0.1/15", max_concurrency=64)
>>> cfg.max_concurrency
64
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

from . import _mtcp
from .errors import ConfigError

__all__ = ["KEYS", "ArpSpec", "Config", "RouteSpec"]

#: Every key of ``mtcp.conf`` that :class:`Config` takes as a keyword argument.
KEYS: tuple[str, ...] = (
    "io",
    "num_cores",
    "core_mask",
    "port",
    "max_concurrency",
    "max_num_buffers",
    "rcvbuf",
    "sndbuf",
    "tcp_timeout",
    "tcp_timewait",
    "stat_print",
    "addr",
    "gateway",
    "mac",
    "mtu",
    "mode",
    "arp",
    "routes",
    "cc",
    "tcp_syncookies",
    "tcp_timestamps",
    "tcp_window_scaling",
    "tcp_sack",
    "tcp_recovery",
    "tcp_frto",
    "tcp_prr",
    "tcp_retries2",
    "tcp_syn_retries",
    "tcp_challenge_ack_limit",
    "tcp_rto_min_ms",
    "tcp_rto_max_ms",
    "tcp_rto_initial_ms",
    "tcp_delack_ms",
    "tcp_quickack",
    "tcp_hystart",
    "tcp_pacing",
    "checksum_offload",
    "dpdk_eal_args",
    "xdp_mode",
    "xdp_zerocopy",
    "arp_conf",
    "route_conf",
)

#: One static ARP entry: ``("198.18.0.2/32", "02:00:c6:12:00:02")``.
ArpSpec = tuple[str, Union[str, bytes]]
#: One route: ``("198.18.1.0/24", "veth0")`` or ``("0.0.0.0/0", "veth0", "198.18.0.254")``.
RouteSpec = Union[tuple[str, str], tuple[str, str, Union[str, None]]]

_LIST_KEYS = frozenset({"port", "stat_print"})
_STR_KEYS = frozenset(
    {"io", "addr", "gateway", "mode", "cc", "dpdk_eal_args", "xdp_mode", "arp_conf", "route_conf"}
)
#: Keys with a value of their own shape (a hex mask, a MAC, entry lists): not ints.
_OTHER_KEYS = frozenset({"core_mask", "mac", "arp", "routes"})
#: Every other key takes an int (or its text).
_INT_KEYS = frozenset(KEYS) - _LIST_KEYS - _STR_KEYS - _OTHER_KEYS


def _type_error(key: str, value: object, expected: str) -> TypeError:
    return TypeError(f"Config({key}=...) must be {expected}, not {type(value).__name__}")


def _conf_text(key: str, value: object) -> str:
    """The text a ``key = <text>`` line of mtcp.conf would carry for ``value``."""
    if isinstance(value, str):
        return value
    if key in _INT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, value, "an int or str")
        return str(value)
    if key == "core_mask":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, value, "an int or hex str")
        return f"{value:#x}"
    if key in _LIST_KEYS:
        if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
            return " ".join(value)
        raise _type_error(key, value, "a str or a list of str")
    if key in ("arp_conf", "route_conf") and isinstance(value, os.PathLike):
        return str(os.fspath(value))
    if key == "mac":
        if isinstance(value, (bytes, bytearray)) and len(value) == 6:
            return ":".join(f"{b:02x}" for b in value)
        raise _type_error(key, value, "a str or 6 bytes")
    raise _type_error(key, value, "a str")


def _mac_bytes(mac: str | bytes) -> bytes:
    if isinstance(mac, (bytes, bytearray)):
        raw = bytes(mac)
    else:
        parts = mac.replace("-", ":").split(":")
        raw = bytes(int(p, 16) for p in parts if len(p) <= 2)
        if len(parts) != 6:
            raise ValueError(mac)
    if len(raw) != 6:
        raise ValueError(mac)
    return raw


def _iface(text: str) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(text)


def _arp_table(value: object) -> list[tuple[str, int, bytes]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _type_error("arp", value, "a list of (addr, mac) pairs")
    table = []
    for entry in value:
        try:
            dest, mac = entry
            net = _iface(dest)
            table.append((str(net.ip), net.network.prefixlen, _mac_bytes(mac)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"arp: bad entry {entry!r} (want ('198.18.0.2/32', 'aa:bb:cc:dd:ee:ff'))",
                key="arp",
                reason=f"bad entry {entry!r}",
            ) from exc
    return table


def _route_table(value: object) -> list[tuple[str, int, str, str | None]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _type_error("routes", value, "a list of (dest, iface[, gateway]) tuples")
    table = []
    for entry in value:
        try:
            dest, iface, *rest = entry
            if len(rest) > 1 or not isinstance(iface, str):
                raise ValueError(entry)
            gateway = rest[0] if rest else None
            net = _iface(dest)
            if gateway is not None:
                gateway = str(ipaddress.IPv4Address(gateway))
            table.append((str(net.ip), net.network.prefixlen, iface, gateway))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"routes: bad entry {entry!r} (want ('198.18.1.0/24', 'veth0'[, gateway]))",
                key="routes",
                reason=f"bad entry {entry!r}",
            ) from exc
    return table


def _apply(raw: _mtcp.RawConfig, changes: Mapping[str, object]) -> None:
    for key in KEYS:  # a fixed order, so "port" is known before anything that depends on it
        value = changes.get(key)
        if value is None:
            continue
        if key == "arp":
            raw.set_arp(_arp_table(value))
        elif key == "routes":
            raw.set_routes(_route_table(value))
        else:
            text = _conf_text(key, value)
            try:
                raw.set(key, text)
            except ConfigError as exc:
                if exc.key is None:
                    exc.key = key
                raise


class Config:
    """A stack configuration. Every ``mtcp.conf`` key is a keyword argument; ``None`` keeps
    mTCP's default. ``Config("mtcp.conf", max_concurrency=64)`` loads a file first.
    Instances are immutable: :meth:`replace` makes a changed copy.

    Values may be given typed (``max_concurrency=64``, ``port=["veth0"]``) or as the text of
    an ``mtcp.conf`` line (``max_concurrency="64"``). ``arp`` and ``routes`` take lists of
    tuples (see :data:`ArpSpec`, :data:`RouteSpec`).
    """

    __slots__ = ("_raw", "_values")

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        /,
        *,
        io: str | None = None,
        num_cores: int | str | None = None,
        core_mask: int | str | None = None,
        port: str | Sequence[str] | None = None,
        max_concurrency: int | str | None = None,
        max_num_buffers: int | str | None = None,
        rcvbuf: int | str | None = None,
        sndbuf: int | str | None = None,
        tcp_timeout: int | str | None = None,
        tcp_timewait: int | str | None = None,
        stat_print: str | Sequence[str] | None = None,
        addr: str | None = None,
        gateway: str | None = None,
        mac: str | bytes | None = None,
        mtu: int | str | None = None,
        mode: str | None = None,
        arp: Iterable[ArpSpec] | None = None,
        routes: Iterable[RouteSpec] | None = None,
        cc: str | None = None,
        tcp_syncookies: int | str | None = None,
        tcp_timestamps: int | str | None = None,
        tcp_window_scaling: int | str | None = None,
        tcp_sack: int | str | None = None,
        tcp_recovery: int | str | None = None,
        tcp_frto: int | str | None = None,
        tcp_prr: int | str | None = None,
        tcp_retries2: int | str | None = None,
        tcp_syn_retries: int | str | None = None,
        tcp_challenge_ack_limit: int | str | None = None,
        tcp_rto_min_ms: int | str | None = None,
        tcp_rto_max_ms: int | str | None = None,
        tcp_rto_initial_ms: int | str | None = None,
        tcp_delack_ms: int | str | None = None,
        tcp_quickack: int | str | None = None,
        tcp_hystart: int | str | None = None,
        tcp_pacing: int | str | None = None,
        checksum_offload: int | str | None = None,
        dpdk_eal_args: str | None = None,
        xdp_mode: str | None = None,
        xdp_zerocopy: int | str | None = None,
        arp_conf: str | os.PathLike[str] | None = None,
        route_conf: str | os.PathLike[str] | None = None,
    ) -> None:
        changes = {
            "io": io,
            "num_cores": num_cores,
            "core_mask": core_mask,
            "port": port,
            "max_concurrency": max_concurrency,
            "max_num_buffers": max_num_buffers,
            "rcvbuf": rcvbuf,
            "sndbuf": sndbuf,
            "tcp_timeout": tcp_timeout,
            "tcp_timewait": tcp_timewait,
            "stat_print": stat_print,
            "addr": addr,
            "gateway": gateway,
            "mac": mac,
            "mtu": mtu,
            "mode": mode,
            "arp": arp,
            "routes": routes,
            "cc": cc,
            "tcp_syncookies": tcp_syncookies,
            "tcp_timestamps": tcp_timestamps,
            "tcp_window_scaling": tcp_window_scaling,
            "tcp_sack": tcp_sack,
            "tcp_recovery": tcp_recovery,
            "tcp_frto": tcp_frto,
            "tcp_prr": tcp_prr,
            "tcp_retries2": tcp_retries2,
            "tcp_syn_retries": tcp_syn_retries,
            "tcp_challenge_ack_limit": tcp_challenge_ack_limit,
            "tcp_rto_min_ms": tcp_rto_min_ms,
            "tcp_rto_max_ms": tcp_rto_max_ms,
            "tcp_rto_initial_ms": tcp_rto_initial_ms,
            "tcp_delack_ms": tcp_delack_ms,
            "tcp_quickack": tcp_quickack,
            "tcp_hystart": tcp_hystart,
            "tcp_pacing": tcp_pacing,
            "checksum_offload": checksum_offload,
            "dpdk_eal_args": dpdk_eal_args,
            "xdp_mode": xdp_mode,
            "xdp_zerocopy": xdp_zerocopy,
            "arp_conf": arp_conf,
            "route_conf": route_conf,
        }
        raw = _mtcp.RawConfig() if path is None else _mtcp.RawConfig.load(os.fspath(path))
        _apply(raw, changes)
        self._init(raw)

    def _init(self, raw: _mtcp.RawConfig) -> None:
        self._raw = raw
        self._values: dict[str, Any] = raw.to_dict()

    @classmethod
    def _from_raw(cls, raw: _mtcp.RawConfig) -> Config:
        self = cls.__new__(cls)
        self._init(raw)
        return self

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        """Reads an mTCP ``mtcp.conf`` and the ``arp.conf``/``route.conf`` it names."""
        return cls._from_raw(_mtcp.RawConfig.load(os.fspath(path)))

    @classmethod
    def parse(cls, text: str, file: str | os.PathLike[str] | None = None) -> Config:
        """Parses ``mtcp.conf`` text; ``file`` is used in messages and for relative paths."""
        return cls._from_raw(
            _mtcp.RawConfig.parse_str(text, None if file is None else os.fspath(file))
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        """The inverse of :meth:`to_dict` (unknown keys raise ``TypeError``)."""
        return cls(**{k: v for k, v in values.items() if k != "source"})

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (the same keywords as the constructor)."""
        unknown = set(changes) - set(KEYS)
        if unknown:
            raise TypeError(f"Config.replace() got unknown keys: {', '.join(sorted(unknown))}")
        raw = self._raw.copy()
        _apply(raw, changes)
        return Config._from_raw(raw)

    def validate(self) -> None:
        """Checks the cross-field rules (raises :class:`mtcp.ConfigError`). Starting a
        :class:`mtcp.Stack` does this too."""
        self._raw.validate()

    def get(self, key: str) -> str | None:
        """The ``mtcp.conf`` text of ``key`` (``None`` for an unknown key)."""
        return self._raw.get(key)

    def to_dict(self) -> dict[str, Any]:
        """Every key → its value; ``Config(**cfg.to_dict())`` equals ``cfg``."""
        return {k: v for k, v in self._values.items() if k != "source"}

    @property
    def io(self) -> str:
        """Packet backend: ``memory``, ``sim``, ``tap``, ``afpacket``, ``afxdp`` or ``dpdk``."""
        return str(self._values["io"])

    @property
    def num_cores(self) -> int:
        return int(self._values["num_cores"])

    @property
    def core_mask(self) -> int | None:
        value = self._values["core_mask"]
        return None if value is None else int(value)

    @property
    def port(self) -> tuple[str, ...]:
        """Interface names (for ``io=memory``: the hub name)."""
        return tuple(self._values["port"])

    @property
    def max_concurrency(self) -> int:
        """Per-context socket pool size."""
        return int(self._values["max_concurrency"])

    @property
    def max_num_buffers(self) -> int:
        return int(self._values["max_num_buffers"])

    @property
    def rcvbuf(self) -> int:
        return int(self._values["rcvbuf"])

    @property
    def sndbuf(self) -> int:
        return int(self._values["sndbuf"])

    @property
    def tcp_timeout(self) -> int:
        """Idle timeout in seconds; ``<= 0`` disables it."""
        return int(self._values["tcp_timeout"])

    @property
    def tcp_timewait(self) -> int:
        """TIME-WAIT length in seconds."""
        return int(self._values["tcp_timewait"])

    @property
    def stat_print(self) -> tuple[str, ...]:
        return tuple(self._values["stat_print"])

    def _optional_str(self, key: str) -> str | None:
        value = self._values[key]
        return None if value is None else str(value)

    @property
    def addr(self) -> str | None:
        """This host's address with prefix, e.g. ``198.18.0.1/24``."""
        return self._optional_str("addr")

    @property
    def gateway(self) -> str | None:
        return self._optional_str("gateway")

    @property
    def mac(self) -> str | None:
        return self._optional_str("mac")

    @property
    def mtu(self) -> int:
        return int(self._values["mtu"])

    @property
    def mode(self) -> str:
        """``threaded`` (a pinned loop thread per context) or ``inline``."""
        return str(self._values["mode"])

    @property
    def arp(self) -> tuple[tuple[str, str], ...]:
        return tuple((str(d), str(m)) for d, m in self._values["arp"])

    @property
    def routes(self) -> tuple[tuple[str, str, str | None], ...]:
        return tuple((str(d), str(i), g) for d, i, g in self._values["routes"])

    @property
    def cc(self) -> str:
        """Congestion control: ``reno``, ``newreno``, ``cubic`` or ``bbr``."""
        return str(self._values["cc"])

    @property
    def tcp_syncookies(self) -> int:
        """SYN cookies as Linux's ``tcp_syncookies``: 0 never, 1 when the SYN queue is full,
        2 always."""
        return int(self._values["tcp_syncookies"])

    @property
    def tcp_timestamps(self) -> int:
        """Offer timestamps (RFC 7323 §3), as Linux's ``tcp_timestamps``: 1 on, 0 off."""
        return int(self._values["tcp_timestamps"])

    @property
    def tcp_window_scaling(self) -> int:
        """Offer window scaling (RFC 7323 §2), as Linux's ``tcp_window_scaling``: 1 on,
        0 off."""
        return int(self._values["tcp_window_scaling"])

    @property
    def tcp_sack(self) -> int:
        """Offer SACK (RFC 2018), as Linux's ``tcp_sack``: 1 on, 0 off."""
        return int(self._values["tcp_sack"])

    @property
    def tcp_recovery(self) -> int:
        """RACK-TLP loss detection (RFC 8985) with SACK, bit 1 of Linux's ``tcp_recovery``:
        1 on, 0 off."""
        return int(self._values["tcp_recovery"])

    @property
    def tcp_frto(self) -> int:
        """F-RTO (RFC 5682) detection and undo of spurious timeouts, as Linux's ``tcp_frto``:
        0 off, 1 or 2 (default) on."""
        return int(self._values["tcp_frto"])

    @property
    def tcp_prr(self) -> int:
        """Proportional Rate Reduction (RFC 6937) in fast recovery: 1 on (default), 0 off."""
        return int(self._values["tcp_prr"])

    @property
    def tcp_retries2(self) -> int:
        """RTO expiries without progress before ETIMEDOUT (Linux's ``tcp_retries2``, a
        count here)."""
        return int(self._values["tcp_retries2"])

    @property
    def tcp_syn_retries(self) -> int:
        """SYN retransmissions before ``connect`` fails with ETIMEDOUT (``tcp_syn_retries``)."""
        return int(self._values["tcp_syn_retries"])

    @property
    def tcp_challenge_ack_limit(self) -> int:
        """Challenge ACKs (RFC 5961) per second per connection; 0 means no limit."""
        return int(self._values["tcp_challenge_ack_limit"])

    @property
    def tcp_rto_min_ms(self) -> int:
        """Lower bound on the retransmission timeout, in ms (RFC 6298 §2.4)."""
        return int(self._values["tcp_rto_min_ms"])

    @property
    def tcp_rto_max_ms(self) -> int:
        """Upper bound on the retransmission timeout, in ms (RFC 6298 §2.5)."""
        return int(self._values["tcp_rto_max_ms"])

    @property
    def tcp_rto_initial_ms(self) -> int:
        """Retransmission timeout before the first RTT sample, in ms (RFC 6298 §2.1)."""
        return int(self._values["tcp_rto_initial_ms"])

    @property
    def tcp_delack_ms(self) -> int:
        """Longest an ACK of in-order data is delayed, in ms (RFC 5681 §4.2)."""
        return int(self._values["tcp_delack_ms"])

    @property
    def tcp_quickack(self) -> int:
        """Most ACKs sent at once when data starts to arrive (Linux's quickack mode); 0 off."""
        return int(self._values["tcp_quickack"])

    @property
    def tcp_hystart(self) -> int:
        """HyStart++ (RFC 9406) in the initial slow start: 1 on (default, as Linux), 0 off."""
        return int(self._values["tcp_hystart"])

    @property
    def tcp_pacing(self) -> int:
        """Pace data segments at 2x (slow start) or 1.2x (avoidance) cwnd/SRTT: 1 on, 0 off."""
        return int(self._values["tcp_pacing"])

    @property
    def checksum_offload(self) -> int:
        """Let a port that can (TAP, AF_PACKET) finish and vouch for TCP checksums: 1 on, 0 off."""
        return int(self._values["checksum_offload"])

    @property
    def dpdk_eal_args(self) -> str:
        """The DPDK EAL's arguments for ``io = dpdk`` (e.g. ``--no-pci --no-huge -m 256
        --vdev=net_af_packet0,iface=veth0``); empty by default."""
        return str(self._values["dpdk_eal_args"])

    @property
    def xdp_mode(self) -> str:
        """Where ``io = afxdp`` runs its XDP program: ``auto`` (native, else generic), ``drv``
        or ``skb``; ``MTCP_XDP_MODE`` overrides it."""
        return str(self._values["xdp_mode"])

    @property
    def xdp_zerocopy(self) -> int:
        """1: ``io = afxdp`` asks for zero-copy first; 0 (default): copy mode."""
        return int(self._values["xdp_zerocopy"])

    @property
    def arp_conf(self) -> str | None:
        """The ARP table file named by the configuration, if any."""
        return self._optional_str("arp_conf")

    @property
    def route_conf(self) -> str | None:
        """The route table file named by the configuration, if any."""
        return self._optional_str("route_conf")

    @property
    def source(self) -> str | None:
        """The file this configuration was loaded from, if any."""
        return self._optional_str("source")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        default = _DEFAULTS.to_dict() if _DEFAULTS is not None else {}
        items = [f"{k}={v!r}" for k, v in self.to_dict().items() if default.get(k) != v]
        if self.source is not None:
            items.append(f"source={self.source!r}")
        return f"Config({', '.join(items)})"


_DEFAULTS: Config | None = None
_DEFAULTS = Config()
