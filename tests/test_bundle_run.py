"""A bundle runs as a plugin on an interpreter that has none of our packages.

The bundle of tests/plugins/ledger.py is built for a fresh ``python -m venv --without-pip`` (no rscni_py, no
dataclasses-json) and started through its shebang, the way a runtime starts a plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rscni_py.tools.bundle import SHEBANG_FLAGS, bundle
from tests.interpreters import find_python

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / "tests" / "plugins" / "ledger.py"
ABOUT = "CNI ledger test plugin v1\nCNI protocol versions supported: 0.4.0, 1.0.0, 1.1.0\n"
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without pip: only the standard library."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    for module in ("rscni_py", "dataclasses_json", "marshmallow", "typing_extensions"):
        probe = subprocess.run([python, "-I", "-c", f"import {module}"], capture_output=True, check=False, cwd="/")
        assert probe.returncode == 1, f"the clean venv can import {module}"
    return python


@pytest.fixture(scope="module")
def ledger(clean_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle(LEDGER, tmp_path_factory.mktemp("bundle") / "ledger", python=str(clean_python))


def run(executable: Path, env: dict[str, str], stdin: bytes = b"", cwd: Path | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [str(executable)],
        input=stdin,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        check=False,
        timeout=60,
        cwd=cwd or "/",
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def config(data_dir: Path, version: str = "1.0.0") -> bytes:
    return json.dumps({"cniVersion": version, "name": "net1", "type": "ledger", "dataDir": str(data_dir)}).encode()


def test_shebang_names_the_clean_interpreter(ledger: Path, clean_python: Path) -> None:
    with ledger.open("rb") as handle:
        assert handle.readline() == f"#!{clean_python} {SHEBANG_FLAGS}\n".encode()


def test_about_without_command(ledger: Path) -> None:
    assert run(ledger, {}) == (0, "", ABOUT)


def test_version(ledger: Path) -> None:
    code, out, err = run(ledger, {"CNI_COMMAND": "VERSION"})
    assert (code, json.loads(out), err) == (
        0,
        {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]},
        "",
    )


def test_add_check_del(ledger: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # TMPDIR points at an empty directory, which must stay empty: the bundle never unpacks itself.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**ATTACH, "TMPDIR": str(scratch)}

    code, out, err = run(ledger, {**env, "CNI_COMMAND": "ADD"}, config(data))
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/x"}],
        "ips": [{"address": "192.0.2.10/24", "interface": 0}],
    }
    assert json.loads((data / "c1-eth0").read_text()) == {
        "netns": "/var/run/netns/x",
        "address": "192.0.2.10/24",
        "previous": [],
    }

    assert run(ledger, {**env, "CNI_COMMAND": "CHECK"}, config(data)) == (0, "", "")
    assert run(ledger, {**env, "CNI_COMMAND": "DEL"}, config(data)) == (0, "", "")
    assert not (data / "c1-eth0").exists()
    # DEL again succeeds; CHECK now reports the plugin's own error.
    assert run(ledger, {**env, "CNI_COMMAND": "DEL"}, config(data)) == (0, "", "")
    code, out, _ = run(ledger, {**env, "CNI_COMMAND": "CHECK"}, config(data))
    assert (code, json.loads(out)) == (
        1,
        {"cniVersion": "1.0.0", "code": 100, "msg": "no record of this attachment", "details": str(data / "c1-eth0")},
    )
    assert list(scratch.iterdir()) == []


def test_add_converts_to_older_config_version(ledger: Path, tmp_path: Path) -> None:
    code, out, _ = run(ledger, {**ATTACH, "CNI_COMMAND": "ADD"}, config(tmp_path, "0.4.0"))
    assert (code, json.loads(out)) == (
        0,
        {
            "cniVersion": "0.4.0",
            "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/x"}],
            "ips": [{"version": "4", "address": "192.0.2.10/24", "interface": 0}],
            "dns": {},
        },
    )


def test_error_for_bad_config(ledger: Path) -> None:
    bad = json.dumps({"cniVersion": "1.0.0", "name": "net1", "type": "ledger"}).encode()
    code, out, _ = run(ledger, {**ATTACH, "CNI_COMMAND": "ADD"}, bad)
    assert (code, json.loads(out)) == (
        1,
        {"cniVersion": "1.0.0", "code": 7, "msg": "invalid network config: dataDir: required field missing"},
    )


@pytest.fixture
def poison(tmp_path: Path) -> Path:
    """A directory whose rscni_py and dataclasses_json would break the plugin if they were imported."""
    for package in ("rscni_py", "dataclasses_json"):
        (tmp_path / "poison" / package).mkdir(parents=True)
        (tmp_path / "poison" / package / "__init__.py").write_text(
            "raise SystemExit('imported from outside the bundle')\n"
        )
    return tmp_path / "poison"


def test_isolated_from_environment_and_current_directory(ledger: Path, poison: Path, tmp_path: Path) -> None:
    env = {**ATTACH, "CNI_COMMAND": "ADD", "PYTHONPATH": str(poison), "PYTHONHOME": str(poison)}
    code, out, err = run(ledger, env, config(tmp_path / "data"), cwd=poison)
    assert (code, err) == (0, "")
    assert json.loads(out)["ips"] == [{"address": "192.0.2.10/24", "interface": 0}]


def _rewrite(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    """Copy a bundle (shebang included), replacing the given archive members."""
    raw = source.read_bytes()
    shebang = raw[: raw.index(b"\n") + 1]
    with target.open("wb") as out:
        out.write(shebang)
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
            for info in old.infolist():
                new.writestr(info, replace.get(info.filename, old.read(info.filename)))
    target.chmod(0o755)
    return target


def test_imports_use_the_precompiled_bytecode(ledger: Path, tmp_path: Path) -> None:
    """With every source file in the archive broken, the plugin still runs: only the .pyc files are read."""
    with zipfile.ZipFile(ledger) as archive:
        sources = [name for name in archive.namelist() if name.endswith(".py")]
    broken = _rewrite(ledger, tmp_path / "broken", dict.fromkeys(sources, b"raise ImportError('source used')\n"))
    code, out, err = run(broken, {**ATTACH, "CNI_COMMAND": "ADD"}, config(tmp_path / "data"))
    assert (code, err) == (0, "")
    assert json.loads(out)["interfaces"] == [{"name": "eth0", "sandbox": "/var/run/netns/x"}]
    # The control: without the .pyc files the same broken sources are used and fail.
    with zipfile.ZipFile(broken) as archive:
        compiled = [name for name in archive.namelist() if name.endswith(".pyc")]
    no_bytecode = _rewrite(broken, tmp_path / "no-bytecode", dict.fromkeys(compiled, b""))
    assert run(no_bytecode, {"CNI_COMMAND": "VERSION"})[0] != 0


def test_bytecode_is_compiled_by_the_target_interpreter(tmp_path: Path) -> None:
    # Another supported Python than the one running the tests, so its bytecode differs from ours.
    other = find_python(minor for minor in range(10, 20) if minor != sys.version_info.minor)
    if other is None:
        pytest.skip(f"needs a Python 3.10 or newer other than 3.{sys.version_info.minor}")
    output = bundle(LEDGER, tmp_path / "ledger-other", python=str(other))
    magic = subprocess.run(
        [other, "-I", "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with zipfile.ZipFile(output) as archive:
        magics = {archive.read(name)[:4].hex() for name in archive.namelist() if name.endswith(".pyc")}
    assert magics == {magic}
    code, out, err = run(output, {**ATTACH, "CNI_COMMAND": "ADD"}, config(tmp_path / "data"))
    assert (code, err) == (0, "")
    assert json.loads(out)["ips"] == [{"address": "192.0.2.10/24", "interface": 0}]


@pytest.fixture
def moved(ledger: Path, tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "opt" / "cni" / "bin" / "ledger"
    target.parent.mkdir(parents=True)
    shutil.copy2(ledger, target)
    yield target


def test_runs_after_being_moved(moved: Path, tmp_path: Path) -> None:
    """Nothing in the bundle depends on where it was built: install copies it elsewhere."""
    assert os.access(moved, os.X_OK)
    assert run(moved, {}) == (0, "", ABOUT)


@pytest.mark.parametrize(
    ("env", "stdin", "exit_code"),
    [({"CNI_COMMAND": "VERSION"}, b"", 0), ({}, b"", 0), ({"CNI_COMMAND": "ADD"}, b"{}", 1)],
    ids=["version", "about", "early-error-missing-env"],
)
def test_fast_paths_do_not_load_the_model_library(
    ledger: Path, clean_python: Path, env: dict[str, str], stdin: bytes, exit_code: int
) -> None:
    """From the bundle too, VERSION, the about text and early errors never import dataclasses-json/marshmallow."""
    proc = subprocess.run(
        [str(clean_python), SHEBANG_FLAGS, "-X", "importtime", str(ledger)],
        input=stdin,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        check=False,
        timeout=60,
        cwd="/",
    )
    assert proc.returncode == exit_code
    imported = {
        line.rpartition("|")[2].strip() for line in proc.stderr.decode().splitlines() if line.startswith("import time:")
    }
    assert "rscni_py.protocol.dispatch" in imported, "the import log is empty; the test proves nothing"
    assert sorted(name for name in imported if name.split(".")[0] in {"dataclasses_json", "marshmallow"}) == []
