"""The hand-written stub of the native module matches it (mypy.stubtest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_native_stub_matches_runtime() -> None:
    pytest.importorskip("mypy.stubtest")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "mtcp._mtcp",
            "--allowlist",
            str(ROOT / ".stubtest-allowlist"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
