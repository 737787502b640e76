"""The version matrix: the unit suite on every supported Python this machine has (``make matrix``, in ``make test``).

Interpreters are found on ``PATH`` as ``python3.X``, and in pyenv's versions (``pyenv root``) when pyenv is installed.
A supported version that is missing is reported; under ``CI=true`` it fails the run, as a skipped test would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

#: The Python versions rscni-py supports (setup.cfg's python_requires and classifiers say the same).
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")

nox.options.sessions = ["unit"]
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"


def _pyenv_bin_dirs() -> list[str]:
    """The ``bin`` directories of pyenv's installed versions, newest first; none without pyenv."""
    pyenv = shutil.which("pyenv") or shutil.which(os.path.expanduser("~/.pyenv/bin/pyenv"))
    if pyenv is None:
        return []
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
    if not root:
        return []
    return [str(path) for path in sorted(Path(root).glob("versions/*/bin"), reverse=True)]


def _available(search_path: str) -> list[str]:
    return [version for version in SUPPORTED if shutil.which(f"python{version}", path=search_path)]


# nox looks interpreters up on PATH by name, so pyenv's versions are put there (after what PATH already has).
os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *_pyenv_bin_dirs()])
AVAILABLE = _available(os.environ["PATH"])
MISSING = [version for version in SUPPORTED if version not in AVAILABLE]


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
