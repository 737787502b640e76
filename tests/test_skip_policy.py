"""The suite's skip rule (tests/skip_policy.py), run on a small inner suite with and without ``CI=true``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

INNER = """
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("needs a unicorn")

@pytest.mark.skipif(True, reason="marked away")
def test_marked():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""

INNER_MODULE_SKIP = """
import pytest

pytest.skip("whole module away", allow_module_level=True)
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> pytest.RunResult:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_inner=INNER, test_module_skip=INNER_MODULE_SKIP)
    return pytester.runpytest_subprocess(
        "-p", "tests.skip_policy", "-q", "-rfEsx", "-p", "no:cacheprovider", "--continue-on-collection-errors"
    )


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_outside_ci_a_skip_stays_a_skip(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    result = _run(pytester, monkeypatch, ci)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)


@pytest.mark.parametrize("ci", ["true", "TRUE", "True"])
def test_under_ci_a_skip_fails_with_its_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    result = _run(pytester, monkeypatch, ci)
    # A skip in setup (a skipif mark, a fixture) becomes an error, one in the test body a failure.
    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    summary = sorted(line for line in result.outlines if line.startswith(("FAILED", "ERROR")))
    prefix = "skipped under CI=true, where every test must run: Skipped:"
    assert summary == [
        f"ERROR test_inner.py::test_marked - {prefix} marked away",
        f"ERROR test_module_skip.py - {prefix} whole module away",
        f"FAILED test_inner.py::test_skips - {prefix} needs a unicorn",
    ]
