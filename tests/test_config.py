"""mtcp.Config (API.md §5): keyword arguments, files, and errors naming file, line and key."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import mtcp


def test_defaults_are_mtcps() -> None:
    cfg = mtcp.Config()
    assert cfg.io == "memory"
    assert cfg.max_concurrency == 10000
    assert cfg.max_num_buffers == 10000
    assert cfg.rcvbuf == 8192
    assert cfg.sndbuf == 8192
    assert cfg.tcp_timeout == 30
    assert cfg.tcp_timewait == 0
    assert cfg.mtu == 1500
    assert cfg.num_cores == 1


def test_every_key_is_a_keyword() -> None:
    cfg = mtcp.Config(
        io="memory",
        num_cores=2,
        core_mask=0x3,
        port=["hub0"],
        max_concurrency=64,
        max_num_buffers=128,
        rcvbuf=16384,
        sndbuf=32768,
        tcp_timeout=5,
        tcp_timewait=1,
        stat_print="hub0",
        addr="198.18.0.1/24",
        gateway="198.18.0.254",
        mac="02:00:c6:12:00:01",
        mtu=9000,
        mode="inline",
        arp=[("198.18.0.2/32", "02:00:c6:12:00:02")],
        routes=[("198.18.1.0/24", "hub0")],
        cc="cubic",
        tcp_syncookies=2,
    )
    assert cfg.num_cores == 2
    assert cfg.core_mask == 0x3
    assert cfg.port == ("hub0",)
    assert cfg.max_concurrency == 64
    assert cfg.max_num_buffers == 128
    assert (cfg.rcvbuf, cfg.sndbuf) == (16384, 32768)
    assert (cfg.tcp_timeout, cfg.tcp_timewait) == (5, 1)
    assert cfg.stat_print == ("hub0",)
    assert cfg.addr == "198.18.0.1/24"
    assert cfg.gateway == "198.18.0.254"
    assert cfg.mac == "02:00:c6:12:00:01"
    assert cfg.mtu == 9000
    assert cfg.mode == "inline"
    assert cfg.arp == (("198.18.0.2/32", "02:00:c6:12:00:02"),)
    assert cfg.routes[0][:2] == ("198.18.1.0/24", "hub0")
    assert cfg.cc == "cubic"
    assert cfg.tcp_syncookies == 2
    cfg.validate()


def test_text_values_like_a_conf_line() -> None:
    assert mtcp.Config(max_concurrency="77").max_concurrency == 77
    assert mtcp.Config(port="a b").port == ("a", "b")


def test_rcvbuf_alone_copies_to_sndbuf_in_files(tmp_path: Path) -> None:
    conf = tmp_path / "mtcp.conf"
    conf.write_text("io = memory\nrcvbuf = 4096\n")
    cfg = mtcp.Config.load(conf)
    assert (cfg.rcvbuf, cfg.sndbuf) == (4096, 4096)


def test_equality_repr_dict_roundtrip() -> None:
    a = mtcp.Config(max_concurrency=8, addr="198.18.0.9/15")
    b = mtcp.Config(addr="198.18.0.9/15", max_concurrency=8)
    assert a == b
    assert a != mtcp.Config(max_concurrency=9, addr="198.18.0.9/15")
    assert "max_concurrency=8" in repr(a)
    assert mtcp.Config(**a.to_dict()) == a
    assert mtcp.Config.from_dict(a.to_dict()) == a
    assert a.replace(max_concurrency=9).max_concurrency == 9
    assert a.max_concurrency == 8  # replace copies


def test_immutable() -> None:
    cfg = mtcp.Config()
    with pytest.raises(AttributeError):
        cfg.max_concurrency = 5  # type: ignore[misc]


def test_unknown_keyword_is_type_error() -> None:
    with pytest.raises(TypeError):
        mtcp.Config(no_such_key=1)  # type: ignore[call-arg]


def test_wrong_type_is_type_error() -> None:
    with pytest.raises(TypeError):
        mtcp.Config(max_concurrency=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mtcp.Config(port=[1, 2])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_concurrency", 0),
        ("rcvbuf", 12),
        ("mtu", 10),
        ("io", "psio"),
        ("addr", "300.1.2.3/24"),
        ("mac", "zz:00:00:00:00:00"),
        ("mode", "sometimes"),
        ("cc", "bbr9"),
    ],
)
def test_bad_value_names_key(key: str, value: object) -> None:
    with pytest.raises(mtcp.ConfigError) as info:
        mtcp.Config(**{key: value})  # type: ignore[arg-type]
    assert info.value.key == key
    assert key in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_file_with_tables(tmp_path: Path) -> None:
    (tmp_path / "arp.conf").write_text("ARP_ENTRY 1\n198.18.0.2/32 02:00:c6:12:00:02\n")
    (tmp_path / "route.conf").write_text("ROUTES 1\n198.18.1.0/24 hub0\n")
    conf = tmp_path / "mtcp.conf"
    conf.write_text(
        "# test\nio = memory\nport = hub0\naddr = 198.18.0.1/24\nnum_cores = 2\n"
        "max_concurrency = 256\nrcvbuf = 16384\nsndbuf = 16384\n"
        "arp_conf = arp.conf\nroute_conf = route.conf\n"
    )
    cfg = mtcp.Config.load(conf)
    assert cfg.port == ("hub0",)
    assert cfg.addr == "198.18.0.1/24"
    assert cfg.num_cores == 2
    assert cfg.max_concurrency == 256
    assert cfg.arp == (("198.18.0.2/32", "02:00:c6:12:00:02"),)
    assert any(r[0] == "198.18.1.0/24" and r[1] == "hub0" for r in cfg.routes)
    assert cfg.source is not None
    assert cfg.source.endswith("mtcp.conf")
    assert mtcp.Config(conf) == cfg  # positional path
    assert mtcp.Config(conf, max_concurrency=9).max_concurrency == 9
    assert mtcp._mtcp.parse_config(str(conf))["max_concurrency"] == 256


def test_parse_text() -> None:
    cfg = mtcp.Config.parse("io = memory\nmax_concurrency = 12\n")
    assert cfg.max_concurrency == 12


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("io = memory\nmax_concurrency = lots\n", 2, "max_concurrency"),
        ("io = memory\n\n# c\nrcvbuf = 1\n", 4, "rcvbuf"),
        ("io = memory\nno_such_key = 1\n", 2, "no_such_key"),
    ],
)
def test_file_errors_name_file_line_key(tmp_path: Path, text: str, line: int, key: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    with pytest.raises(mtcp.ConfigError) as info:
        mtcp.Config.load(conf)
    err = info.value
    assert err.file is not None
    assert err.file.endswith("bad.conf")
    assert err.line == line
    assert err.key == key
    assert f"bad.conf:{line}" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(mtcp.ConfigError) as info:
        mtcp.Config.load(tmp_path / "nope.conf")
    assert "nope.conf" in str(info.value)


def test_stack_accepts_config_path_and_mapping(tmp_path: Path) -> None:
    hub = f"cfg-{uuid.uuid4().hex}"
    files = []
    for name in ("a", "b"):
        conf = tmp_path / f"{name}.conf"
        conf.write_text(
            f"io = memory\nport = {hub}{name}\naddr = 198.18.0.1/15\nmax_concurrency = 32\n"
        )
        files.append(conf)
    for config in (
        mtcp.Config(io="memory", port=hub + "c", addr="198.18.0.1/15", max_concurrency=32),
        str(files[0]),
        files[1],
        {"io": "memory", "port": hub + "d", "addr": "198.18.0.1/15", "max_concurrency": 32},
    ):
        with mtcp.Stack(config) as stack:
            assert stack.config().max_concurrency == 32


def test_stack_rejects_invalid_config() -> None:
    with pytest.raises(mtcp.ConfigError):
        mtcp.Stack(mtcp.Config(io="memory", port="x", stat_print="not-a-port"))


def test_tcp_syncookies_default_and_range() -> None:
    assert mtcp.Config().tcp_syncookies == 1
    with pytest.raises(mtcp.ConfigError) as info:
        mtcp.Config(tcp_syncookies=3)
    assert info.value.key == "tcp_syncookies"


# (key, Linux/TcpConfig default, a different valid value, an out-of-range value)
_TCP_KNOBS = [
    ("tcp_timestamps", 1, 0, 2),
    ("tcp_window_scaling", 1, 0, 2),
    ("tcp_sack", 1, 0, 2),
    ("tcp_recovery", 1, 0, 2),
    ("tcp_frto", 2, 0, 3),
    ("tcp_prr", 1, 0, 2),
    ("tcp_retries2", 15, 8, 256),
    ("tcp_syn_retries", 6, 2, 0),
    ("tcp_challenge_ack_limit", 10, 1000, 2**31),
    ("tcp_rto_min_ms", 200, 5, 0),
    ("tcp_rto_max_ms", 60000, 120000, 999),
    ("tcp_rto_initial_ms", 1000, 3000, 120001),
    ("tcp_delack_ms", 40, 10, 501),
    ("tcp_quickack", 16, 0, 65536),
    ("tcp_hystart", 1, 0, 2),
    ("tcp_pacing", 0, 1, 2),
    ("checksum_offload", 1, 0, 2),
    ("xdp_zerocopy", 0, 1, 2),
]


@pytest.mark.parametrize(("key", "default", "value", "bad"), _TCP_KNOBS)
def test_tcp_knob_set_and_read_back(key: str, default: int, value: int, bad: int) -> None:
    def config(v: object) -> mtcp.Config:
        kwargs: dict[str, Any] = {key: v}
        return mtcp.Config(**kwargs)

    assert getattr(mtcp.Config(), key) == default
    assert getattr(config(value), key) == value
    assert getattr(config(str(value)), key) == value, "text as in mtcp.conf"
    with pytest.raises(mtcp.ConfigError) as info:
        config(bad)
    assert info.value.key == key


@pytest.mark.parametrize(("given", "read"), [("auto", "auto"), ("drv", "drv"), ("SKB", "skb")])
def test_xdp_mode_set_and_read_back(given: str, read: str) -> None:
    assert mtcp.Config().xdp_mode == "auto"
    assert mtcp.Config(xdp_mode=given).xdp_mode == read
    with pytest.raises(mtcp.ConfigError, match="auto, drv") as info:
        mtcp.Config(xdp_mode="turbo")
    assert info.value.key == "xdp_mode"


def test_tcp_knobs_from_a_conf_file(tmp_path: Path) -> None:
    lines = "".join(f"{key} = {value}\n" for key, _, value, _ in _TCP_KNOBS)
    path = tmp_path / "mtcp.conf"
    path.write_text(lines)
    cfg = mtcp.Config.load(path)
    assert {key: getattr(cfg, key) for key, *_ in _TCP_KNOBS} == {
        key: value for key, _, value, _ in _TCP_KNOBS
    }
    cfg.validate()
