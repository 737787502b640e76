"""Our own example plugins pass the conformance kit: in-process and as executables, the way a runtime runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from examples.debug.rscni_debug import DebugPlugin
from rscni_py.testing import conformance
from tests.runtime_support import install_python_plugin

# Without a prevResult the debug plugin's ADD result has no address, which 0.1.0/0.2.0 cannot express (Go's debug
# plugin fails the same way), so its ADD/DEL lifecycle is checked from 0.3.0 on.
DEBUG_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


def debug_config(tmp_path: Path) -> dict[str, object]:
    return {"type": "rscni-debug", "cniOutput": str(tmp_path / "records")}


def outcomes_failed(outcomes: list[conformance.CheckOutcome]) -> list[str]:
    return [f"{o.name}: {o.detail}" for o in outcomes if not o.passed and not o.skipped]


def test_debug_plugin_in_process(tmp_path: Path) -> None:
    target = conformance.PluginTarget(DebugPlugin, config=debug_config(tmp_path), versions=DEBUG_VERSIONS)
    outcomes = conformance.run_checks(target)
    assert outcomes_failed(outcomes) == []
    assert len([o for o in outcomes if o.passed]) >= 15


@pytest.mark.integration
def test_debug_plugin_as_an_executable(tmp_path: Path) -> None:
    plugin = install_python_plugin(tmp_path / "bin", "rscni-debug")
    target = conformance.ExecutableTarget(
        plugin, config=debug_config(tmp_path), versions=DEBUG_VERSIONS, timeout=60, workers=2
    )
    outcomes = conformance.run_checks(target)
    assert outcomes_failed(outcomes) == []


VETH_SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "veth" / "rscni_veth.py"


@pytest.mark.integration
def test_veth_plugin_as_an_executable(tmp_path: Path) -> None:
    # A real point-to-point plugin: the kit gives it a fresh namespace, and Debian's host-local does IPAM.
    if os.geteuid() != 0 or not Path("/usr/lib/cni/host-local").exists():
        pytest.skip("needs root and /usr/lib/cni/host-local")
    plugin = install_python_plugin(tmp_path / "bin", "rscni-veth", VETH_SCRIPT)
    config = {
        "type": "rscni-veth",
        "stateDir": str(tmp_path / "state"),
        "ipam": {"type": "host-local", "subnet": "10.246.7.0/24", "dataDir": str(tmp_path / "ipam")},
    }
    target = conformance.ExecutableTarget(
        plugin,
        config=config,
        versions=("0.3.1", "0.4.0", "1.0.0"),
        needs_netns=True,
        cni_path=f"{tmp_path / 'bin'}:/usr/lib/cni",
        timeout=60,
        workers=2,
    )
    outcomes = conformance.run_checks(target)
    assert outcomes_failed(outcomes) == []
    assert not list((tmp_path / "ipam").glob("*/10.*")), "an address is still allocated"
