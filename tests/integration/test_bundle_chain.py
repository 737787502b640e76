"""A bundled plugin installed with ``rscni-py install`` and run by libcni, chained after bridge + host-local.

This is the deployment path end to end: the bundle is built for a venv that has none of our packages, installed
atomically into the runtime's plugin directory, and called by the reference runtime library with real namespaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rscni_py.tools.bundle import bundle
from rscni_py.tools.install import install

from .harness import REPO_ROOT, CNIRuntime, NetNS, NetworkLease, expect_ok
from .test_reference_plugins import bridge_conflist

pytestmark = pytest.mark.integration

LEDGER = REPO_ROOT / "tests" / "plugins" / "ledger.py"


@pytest.fixture(scope="module")
def ledger_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return bundle(LEDGER, tmp_path_factory.mktemp("bundle") / "ledger.pyz", python=str(venv / "bin" / "python"))


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_bundle_chained_after_bridge(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, ledger_bundle: Path, version: str
) -> None:
    conflist = bridge_conflist(cni, network_lease, version)
    conflist["plugins"].append({"type": "ledger", "dataDir": str(cni.workdir / "ledger")})
    conf_file = cni.workdir / "src" / "10-ledger.conflist"
    conf_file.parent.mkdir()
    conf_file.write_text(json.dumps(conflist))
    installed = install(ledger_bundle, bin_dir=cni.plugin_dir, conf=conf_file, conf_dir=cni.workdir / "net.d")
    assert installed == [cni.plugin_dir / "ledger", cni.workdir / "net.d" / "10-ledger.conflist"]
    conf = installed[1]
    address = f"{network_lease.host(2)}/24"

    result = expect_ok(cni.add(conf, netns=netns))
    # The bundle passed bridge's result through unchanged: the address host-local gave the container.
    assert [ip["address"] for ip in result["ips"]] == [address]
    assert netns.addresses("eth0") == [address]
    record = cni.workdir / "ledger" / f"{cni.container_id}-eth0"
    assert json.loads(record.read_text()) == {"netns": netns.path, "address": "192.0.2.10/24", "previous": [address]}

    assert cni.check(conf, netns=netns) == {"ok": True}
    assert cni.delete(conf, netns=netns) == {"ok": True}
    assert not record.exists()
    assert cni.allocated(conflist["name"]) == []
