"""docs/tutorial.md works as written: its plugin and tests pass ``mypy --strict`` and pytest, its shell example
prints the JSON the page shows, and the plugin serves ADD, CHECK and DEL as an executable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.doc_blocks import ROOT, blocks, mypy_strict, write_blocks

TUTORIAL = ROOT / "docs" / "tutorial.md"


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False, timeout=300)


def test_tutorial_blocks_are_the_ones_checked() -> None:
    assert list(blocks(TUTORIAL)) == ["rscni_dns.py", "test_rscni_dns.py"]
    assert len(blocks(TUTORIAL, "sh")) == len(blocks(TUTORIAL, "json")) == 1


def test_tutorial_code_passes_mypy_strict(tmp_path: Path) -> None:
    assert mypy_strict(write_blocks(TUTORIAL, tmp_path), tmp_path) == (0, "")


def test_tutorial_tests_pass(tmp_path: Path) -> None:
    write_blocks(TUTORIAL, tmp_path)
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_rscni_dns.py"], tmp_path)
    summary = re.sub(r" in [\d.]+s$", "", done.stdout.strip().splitlines()[-1])
    assert (done.returncode, summary) == (0, "2 passed"), done.stdout


def test_tutorial_plugin_as_an_executable(tmp_path: Path) -> None:
    """The page's shell example prints the page's JSON; CHECK and DEL with that result then succeed silently."""
    write_blocks(TUTORIAL, tmp_path)
    # "python3" in the example is this interpreter, with the SDK of this checkout.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    (shell,) = blocks(TUTORIAL, "sh").values()
    added = _run(["sh", "-c", shell], tmp_path, env=env)
    (shown,) = blocks(TUTORIAL, "json").values()
    assert (added.returncode, added.stdout, added.stderr) == (0, shown.rstrip("\n"), "")

    config = {"cniVersion": "1.0.0", "name": "net", "type": "rscni-dns", "nameservers": ["10.0.0.53"]}
    stdin = json.dumps({**config, "prevResult": json.loads(added.stdout)})
    for command in ("CHECK", "DEL"):
        cni_env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "c1", "CNI_NETNS": "/dev/null", "CNI_IFNAME": "eth0"}
        done = _run(
            [sys.executable, "rscni_dns.py"], tmp_path, env={**env, **cni_env, "CNI_PATH": "/opt/cni/bin"}, stdin=stdin
        )
        assert (command, done.returncode, done.stdout, done.stderr) == (command, 0, "", "")
