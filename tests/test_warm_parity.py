"""Warm mode answers exactly as a cold call: the protocol matrix at every spec version, and the conformance kit,
run against the shim and against the plugin started cold, give the same stdout and exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rscni_py._base.versions import ALL_VERSIONS
from rscni_py.testing import conformance
from tests.runtime_support import install_python_plugin
from tests.warm_support import ROOT, run, shim_for, warm_daemon

DEBUG = ROOT / "examples" / "debug" / "rscni_debug.py"
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


@dataclass(frozen=True)
class Executables:
    cold: Path
    warm: Path
    records: Path


@pytest.fixture(scope="module")
def executables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Executables]:
    base = tmp_path_factory.mktemp("warm-parity")
    with warm_daemon(DEBUG, base / "s" / "d.sock", base / "log") as daemon:
        yield Executables(
            cold=install_python_plugin(base / "bin", "rscni-debug"),
            warm=shim_for(base / "shim", daemon.socket_path),
            records=base / "records",
        )


def config(records: Path, version: str, **changes: object) -> bytes:
    document: dict[str, object] = {"cniVersion": version, "name": "n", "type": "rscni-debug", "cniOutput": str(records)}
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


@dataclass(frozen=True)
class Case:
    name: str
    env: dict[str, str]
    stdin: str  # "good", "no-output", "bad-json" or "no-name": built per version below
    wrapper: str = ""  # a shell redirection applied before the plugin starts, e.g. closing a stream


PER_VERSION = [
    Case("ADD", {"CNI_COMMAND": "ADD", **ATTACH}, "good"),
    Case("DEL", {"CNI_COMMAND": "DEL", **ATTACH}, "good"),
    Case("CHECK", {"CNI_COMMAND": "CHECK", **ATTACH}, "good"),
    Case("GC", {"CNI_COMMAND": "GC", "CNI_PATH": "/opt/cni/bin"}, "good"),
    Case("STATUS", {"CNI_COMMAND": "STATUS", "CNI_PATH": "/opt/cni/bin"}, "good"),
    Case("missing plugin key", {"CNI_COMMAND": "ADD", **ATTACH}, "no-output"),
    Case("missing network name", {"CNI_COMMAND": "ADD", **ATTACH}, "no-name"),
    Case("missing container id", {"CNI_COMMAND": "ADD", **ATTACH, "CNI_CONTAINERID": ""}, "good"),
    Case("unknown command", {"CNI_COMMAND": "FROB", **ATTACH}, "good"),
]
ONCE = [
    Case("VERSION", {"CNI_COMMAND": "VERSION"}, "good"),
    Case("no command", {}, "good"),
    Case("bad JSON", {"CNI_COMMAND": "ADD", **ATTACH}, "bad-json"),
    Case("closed stdin", {"CNI_COMMAND": "ADD", **ATTACH}, "good", "<&-"),
    Case("closed stdout", {"CNI_COMMAND": "ADD", **ATTACH}, "good", ">&-"),
    Case("closed stderr", {"CNI_COMMAND": "ADD", **ATTACH}, "no-output", "2>&-"),
]
MATRIX = [(case, version) for case in PER_VERSION for version in ALL_VERSIONS] + [(case, "1.1.0") for case in ONCE]


@pytest.mark.parametrize(("case", "version"), MATRIX, ids=[f"{c.name}-v{v}" for c, v in MATRIX])
def test_warm_answers_as_cold(executables: Executables, case: Case, version: str) -> None:
    stdin = {
        "good": config(executables.records, version),
        "no-output": config(executables.records, version, cniOutput=None),
        "no-name": config(executables.records, version, name=None),
        "bad-json": b'{"cniVersion": "1.0.0", "name": ',
    }[case.stdin]
    answers = []
    for executable in (executables.cold, executables.warm):
        argv = ["/bin/sh", "-c", f'exec "$0" {case.wrapper}', str(executable)]
        code, out, err = run(argv, {"PATH": "/usr/bin:/bin", **case.env}, stdin)
        answers.append((code, out, err if case.name == "no command" else ""))
    assert answers[1] == answers[0]


@pytest.mark.integration
def test_conformance_kit_through_the_shim(executables: Executables, tmp_path: Path) -> None:
    # The same configuration and versions as the cold run in tests/test_examples_conformance.py.
    target = conformance.ExecutableTarget(
        executables.warm,
        config={"type": "rscni-debug", "cniOutput": str(tmp_path / "records")},
        versions=("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"),
        timeout=60,
        workers=2,
    )
    outcomes = conformance.run_checks(target)
    assert [f"{o.name}: {o.detail}" for o in outcomes if not o.passed and not o.skipped] == []
    assert len([o for o in outcomes if o.passed]) >= 15
