"""The version matrix: the unit suite on every supported Python this machine has (``make matrix``, in ``make test``).

Interpreters are found as the tests find them (tests/interpreters.py: ``python3.X`` on ``PATH`` and pyenv's versions).
A supported version that is missing is reported; under ``CI=true`` it fails the run, as a skipped test would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

#: The Python versions rscni-py supports (setup.cfg's python_requires and classifiers say the same).
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

nox.options.sessions = ["unit"]
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"

sys.path.insert(0, str(Path(__file__).resolve().parent))  # noxfile.py is loaded by path, not as part of the tree
from tests.interpreters import find_python  # noqa: E402

FOUND = {version: find_python([int(version.partition(".")[2])]) for version in SUPPORTED}
AVAILABLE = [version for version, path in FOUND.items() if path is not None]
MISSING = [version for version in SUPPORTED if version not in AVAILABLE]
# nox looks interpreters up on PATH by name, so the directories of those found go first (a pyenv shim earlier on
# PATH would answer only for the selected version).
os.environ["PATH"] = os.pathsep.join(
    [*(str(path.parent) for path in FOUND.values() if path), os.environ.get("PATH", "")]
)


@nox.session(python=AVAILABLE)
def unit(session: nox.Session) -> None:
    """The unit suite (everything but the integration tests) under one interpreter."""
    if MISSING:
        message = f"no interpreter for Python {', '.join(MISSING)} (looked on PATH and in pyenv's versions)"
        if os.environ.get("CI") == "true":
            session.error(message)
        session.warn(message)
    session.install("--quiet", "-e", ".[test,typing,netlink]")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not integration", *session.posargs)
