"""Static typing promises: plugins written as documented type-check, and common mistakes are caught by mypy.

Each ``fail_*.py`` snippet marks every line mypy must flag with ``# expect-error: <text>``; the test checks that
mypy reports an error on exactly those lines and that the message contains the text.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typing"
ROOT = HERE.parent.parent
EXPECT = re.compile(r"#\s*expect-error:\s*(.+)$")


def mypy(path: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", sorted(HERE.glob("pass_*.py")), ids=lambda p: p.name)
def test_documented_usage_type_checks(path: Path) -> None:
    code, output = mypy(path)
    assert code == 0, output


@pytest.mark.parametrize("path", sorted(HERE.glob("fail_*.py")), ids=lambda p: p.name)
def test_mistakes_are_caught(path: Path) -> None:
    expected = {
        number: match.group(1).strip()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if (match := EXPECT.search(line))
    }
    assert expected, f"{path.name} marks no expected error"
    code, output = mypy(path)
    assert code == 1, output
    reported: dict[int, str] = {}
    for line in output.splitlines():
        match = re.match(rf".*{re.escape(path.name)}:(\d+): error: (.*)", line)
        if match:
            reported.setdefault(int(match.group(1)), "")
            reported[int(match.group(1))] += match.group(2)
    assert sorted(reported) == sorted(expected), output
    for number, text in expected.items():
        assert text in reported[number], f"line {number}: wanted {text!r} in {reported[number]!r}"
