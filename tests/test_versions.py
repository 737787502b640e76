"""Version strings (rscni_py/_base/versions.py), pinned to what Go's pkg/version does.

tests/test_invoke_subprocess.py::test_version_parsing_matches_go runs the same kind of strings through Go's
``ParseVersion``; this table keeps our answers fixed where Go is not installed.
"""

from __future__ import annotations

import pytest

from rscni_py._base.versions import VersionError, at_least, parse_version

GO_INT_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("0.4.0", (0, 4, 0)),
        ("+0.4.0", (0, 4, 0)),  # Atoi takes a leading sign
        ("-0.4.0", (0, 4, 0)),
        ("0.+4.-1", (0, 4, -1)),
        ("1", (1, 0, 0)),
        ("1.2", (1, 2, 0)),
        ("", (0, 1, 0)),  # no version declared is 0.1.0
        ("007.08.09", (7, 8, 9)),
        (f"{GO_INT_MAX}.0.0", (GO_INT_MAX, 0, 0)),  # Go's int limit, and one past it below
        (f"0.0.-{GO_INT_MAX + 1}", (0, 0, -GO_INT_MAX - 1)),
    ],
)
def test_parse_version(text: str, parts: tuple[int, int, int]) -> None:
    assert parse_version(text) == parts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("+", 'failed to convert major version part "+": invalid syntax'),
        ("++1", 'failed to convert major version part "++1": invalid syntax'),
        ("1.2.3.4", 'invalid version "1.2.3.4": too many parts'),
        (" 1.0.0", 'failed to convert major version part " 1": invalid syntax'),
        ("1.0.", 'failed to convert micro version part "": invalid syntax'),
        ("1_0.0.0", 'failed to convert major version part "1_0": invalid syntax'),
        ("\u0661.0.0", 'failed to convert major version part "\u0661": invalid syntax'),
        (f"{GO_INT_MAX + 1}.0.0", f'failed to convert major version part "{GO_INT_MAX + 1}": value out of range'),
        (f"0.-{GO_INT_MAX + 2}", f'failed to convert minor version part "-{GO_INT_MAX + 2}": value out of range'),
    ],
)
def test_parse_version_refuses(text: str, message: str) -> None:
    with pytest.raises(VersionError) as info:
        parse_version(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [("+0.4.0", "0.4.0", True), ("0.3.9", "0.4.0", False), ("0.4.1", "0.4.0", True), ("1", "0.99.99", True)],
)
def test_at_least_compares_numbers(version: str, minimum: str, expected: bool) -> None:
    assert at_least(version, minimum) is expected
