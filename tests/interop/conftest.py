"""Interop tests: the network lab for the session, and each phase's report remembered on the
test item, so fixtures can keep packet captures of failed tests only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtcp.tools import netlab


@pytest.fixture(scope="session")
def lab() -> Iterator[None]:
    """``mtcp netlab``'s namespaces, veth pair, bridges and TAP, torn down at the end."""
    # Held for the whole session: another user of the lab (a second test session, `mtcp bench
    # --veth`) waits rather than tearing it down under these tests.
    with netlab.exclusive():
        try:
            netlab.up()
        except netlab.LabError as exc:
            netlab.down()
            pytest.fail(f"the network lab did not come up: {exc}", pytrace=False)
        try:
            yield
        finally:
            netlab.down()


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is an ``interop`` test, skipped without root or ``ip``."""
    missing = None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        missing = "interop tests need root"
    elif shutil.which("ip") is None:
        missing = "interop tests need iproute2 (ip)"
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.interop)
            if missing:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
