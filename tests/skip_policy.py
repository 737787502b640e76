"""The suite's one rule on skips: under ``CI=true`` a skipped test is a failure that names the skip reason.

A test whose prerequisite is missing (root, a Debian package, an interpreter) calls ``pytest.skip`` with the
reason, like any pytest test.  On a developer's machine that stays a skip; in CI (``.ci/run`` exports
``CI=true``) everything the suite needs is installed, so a skip means a missing install step and must not let the
run go green.  Expected failures (``xfail``) are not skips and are left alone.

``tests/conftest.py`` imports the hooks below, which is how pytest finds them.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pluggy
import pytest
from _pytest.reports import BaseReport

__all__ = ["in_ci", "pytest_make_collect_report", "pytest_runtest_makereport"]


def in_ci() -> bool:
    """Whether this run is CI's: ``CI=true`` in any case, as CI services set it."""
    return os.environ.get("CI", "").lower() == "true"


def _fail_skip(report: BaseReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    longrepr = report.longrepr
    # A skip's longrepr is (path, line, "Skipped: reason").
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pluggy.Result[pytest.CollectReport], None]:
    outcome = yield
    _fail_skip(outcome.get_result())
