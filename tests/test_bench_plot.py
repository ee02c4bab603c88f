"""``mtcp bench`` plots: one PNG per workload when matplotlib is there (the ``plot`` extra),
a clear message and no file when it is not."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from mtcp.tools import bench


def _records() -> list[dict[str, Any]]:
    base = {"suite": "native", "conns": 64, "mode": "single"}
    return [
        {**base, "workload": "short", "stack": "kernel", "rate": 14_000.0},
        {**base, "workload": "short", "stack": "mtcp", "rate": 190_000.0},
        {**base, "workload": "bulk", "stack": "kernel", "gbps": 17.0, "conns": 1},
        {**base, "workload": "bulk", "stack": "mtcp", "gbps": 19.6, "conns": 1},
    ]


def test_one_png_per_workload(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = io.StringIO()
    written = bench._plot(_records(), tmp_path / "run", out)
    assert sorted(Path(p).name for p in written) == ["run-bulk.png", "run-short.png"]
    for p in written:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    out = io.StringIO()
    assert bench._plot(_records(), tmp_path / "run", out) == []
    assert "pip install 'mtcp[plot]'" in out.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_short_value_labels() -> None:
    assert bench._short_value(190_000.0) == "190k"
    assert bench._short_value(1_234_567.0) == "1.23M"
    assert bench._short_value(19.61) == "19.6"


def test_table_names_the_mtu_of_a_jumbo_row() -> None:
    # The suite's jumbo-frame bulk row must not read like the 1,500-byte one.
    jumbo = {
        "suite": "native",
        "conns": 1,
        "mode": "single",
        "workload": "bulk",
        "stack": "mtcp",
        "gbps": 60.0,
        "mtu": 9000,
    }
    recs = [*_records(), jumbo]
    rows = bench.table(recs).splitlines()
    assert any("| single, MTU 9000 |" in r and "60.00 Gbit/s" in r for r in rows)
    assert sum("MTU" in r for r in rows) == 1
