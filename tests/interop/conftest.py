"""Interop tests: the network lab for the session, and each phase's report remembered on the
test item, so fixtures can keep packet captures of failed tests only."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtcp.tools import netlab

#: Held while a test session uses the lab: a second session on the same machine waits for it
#: rather than tearing the lab down under the first.
LAB_LOCK = Path(os.environ.get("MTCP_NETLAB_LOCK", "/tmp/mtcp-netlab.lock"))


@pytest.fixture(scope="session")
def lab() -> Iterator[None]:
    """``mtcp netlab``'s namespaces, veth pair, bridges and TAP, torn down at the end."""
    with LAB_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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
