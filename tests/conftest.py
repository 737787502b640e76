"""Suite-wide hooks: under ``CI=true`` a skip fails (tests/skip_policy.py)."""

from tests.skip_policy import pytest_make_collect_report, pytest_runtest_makereport

__all__ = ["pytest_make_collect_report", "pytest_runtest_makereport"]
