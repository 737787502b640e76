"""Find other Python interpreters on this machine for the tests that need one, wherever they are installed.

Candidates, in this order: ``sys.executable``, every ``python3.N`` on ``PATH``, and the interpreters in pyenv's
versions directory (``pyenv root``, else ``$PYENV_ROOT`` or ``~/.pyenv``).  Each is asked for its version and its
own path, and that path is what a test gets: a pyenv shim for a version that is not selected fails the probe and is
passed over, and one that answers here is not handed to a test that runs it in another environment.  A test that
finds none skips, which fails under ``CI=true`` (tests/skip_policy.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["find_python"]

_MINORS = range(6, 20)


def _pyenv_root() -> Path:
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        found = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False, timeout=30)
        if found.returncode == 0 and found.stdout.strip():
            return Path(found.stdout.strip())
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _candidates() -> Iterator[Path]:
    yield Path(sys.executable)
    for minor in _MINORS:
        on_path = shutil.which(f"python3.{minor}")
        if on_path is not None:
            yield Path(on_path)
    versions = _pyenv_root() / "versions"
    if versions.is_dir():
        yield from sorted(versions.glob("*/bin/python3.*[0-9]"))


@functools.cache
def _versions() -> dict[tuple[int, int], Path]:
    """The first working interpreter of each ``3.N``."""
    found: dict[tuple[int, int], Path] = {}
    for path in _candidates():
        try:
            probe = subprocess.run(
                [path, "-I", "-c", "import sys; print(*sys.version_info[:2], sys.executable)"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        major, minor, executable = [*probe.stdout.strip().split(" ", 2), "", ""][:3]
        if probe.returncode == 0 and major == "3" and minor.isdigit() and executable:
            # The interpreter itself, not the name that found it: a pyenv shim answers only in some environments.
            found.setdefault((3, int(minor)), Path(executable))
    return found


def find_python(minors: Iterable[int]) -> Path | None:
    """The first of the given ``3.N`` versions (in the order given) that this machine has, or None."""
    versions = _versions()
    return next((versions[(3, minor)] for minor in minors if (3, minor) in versions), None)
