"""The README's Python blocks pass ``mypy --strict``, and its test example runs and passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.doc_blocks import ROOT, blocks, mypy_strict, write_blocks

README = ROOT / "README.md"


def test_readme_blocks_are_the_ones_checked() -> None:
    assert list(blocks(README)) == ["tag_plugin.py", "block_2.py", "test_tag_plugin.py"]


def test_readme_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    assert mypy_strict(write_blocks(README, tmp_path), tmp_path) == (0, "")


def test_readme_test_example_passes(tmp_path: Path) -> None:
    write_blocks(README, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tag_plugin.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    summary = re.sub(r" in [\d.]+s$", "", done.stdout.strip().splitlines()[-1])
    assert (done.returncode, summary) == (0, "2 passed"), done.stdout
