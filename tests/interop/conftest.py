"""Interop tests: the network lab for the session, and each phase's report remembered on the
test item, so fixtures can keep packet captures of failed tests only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mtcp.tools import netlab


@pytest.fixture(scope="session")
def lab() -> Iterator[None]:
    """``mtcp netlab``'s namespaces, veth pair, bridges and TAP, torn down at the end."""
    try:
        netlab.up()
    except netlab.LabError as exc:
        netlab.down()
        pytest.fail(f"the network lab did not come up: {exc}", pytrace=False)
    try:
        yield
    finally:
        netlab.down()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
