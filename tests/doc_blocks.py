"""Code blocks of the project's Markdown pages, for tests that type-check and run them so the pages cannot rot.

A block preceded by ``<!-- file: NAME -->`` is saved under that name (so that a later block can import it);
the others are saved as ``block_N.py``, numbered from 1 in the order of the page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_BLOCK = re.compile(r"(?:<!-- file: (?P<name>[\w.]+) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)^```\n", re.S | re.M)


def blocks(page: Path, lang: str = "python") -> dict[str, str]:
    """The page's code blocks in ``lang``, by file name, in page order."""
    found: dict[str, str] = {}
    for number, match in enumerate(m for m in _BLOCK.finditer(page.read_text(encoding="utf-8")) if m["lang"] == lang):
        found[match["name"] or f"block_{number + 1}.py"] = match["code"]
    return found


def write_blocks(page: Path, directory: Path) -> list[Path]:
    """Save the page's Python blocks into ``directory``; return their paths."""
    paths = []
    for name, code in blocks(page).items():
        path = directory / name
        path.write_text(code, encoding="utf-8")
        paths.append(path)
    return paths


def mypy_strict(paths: list[Path], cwd: Path) -> tuple[int, str]:
    """``mypy --strict`` over ``paths`` (run in ``cwd``, so the blocks import each other): exit code and report."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, paths)],
        cwd=cwd,
        # The source tree, as mypy cannot follow an editable install's import hook.
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr
