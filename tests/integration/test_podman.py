"""A second real container runtime runs a real container whose network our plugins set up: podman, offline.

Debian's podman 4.3 (CNI backend) runs a busybox container imported from a root file system built here from
Debian's busybox-static, on a network whose configuration list chains our bundled veth plugin (addresses from
Debian's host-local) and the debug plugin, which records what podman passed on ADD and DEL. The assertions are
test_containerd.py's: the container's address, routes and MTU, a ping from the host, the ADD and DEL records, and
nothing left behind once the container is removed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from examples.veth import netops

from .container_kit import (
    DEBUG,
    REPORT_SCRIPT,
    VETH,
    allocated,
    conflist,
    expected_add_record,
    expected_report,
    read_record,
    rscni_py,
    run_container,
)
from .harness import HostLinks, NetworkLease, require
from .podman import ULIMITS, Podman, PodmanError, missing_podman_requirements

pytestmark = pytest.mark.integration

IMAGE: Final = "localhost/rscni-busybox:podmantest"
#: libcni's default cache directory, which podman's CNI backend uses.
CNI_CACHE_RESULTS: Final = Path("/var/lib/cni/results")


@pytest.fixture
def podman(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    """Podman with private storage and configuration, the busybox image imported; all removed at the end."""
    require(*missing_podman_requirements())  # everything missing named at once, before the common checks run
    request.getfixturevalue("integration_env")
    workdir = tmp_path_factory.mktemp("podman")
    runtime = Podman(workdir, (workdir / "bin", Path("/usr/lib/cni")))
    try:
        runtime.setup()
        try:
            if runtime.run("info", "--format", "{{.Host.NetworkBackend}}").stdout != "cni\n":
                pytest.fail("podman does not use its CNI network backend (is netavark installed?)", pytrace=False)
            runtime.import_busybox(IMAGE)
        except PodmanError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield runtime
    finally:
        leftovers = runtime.cleanup()
        assert not leftovers, leftovers


def test_podman_run_with_our_plugins(
    podman: Podman,
    bundles: dict[str, Path],
    network_lease: NetworkLease,
    host_links: HostLinks,
    tmp_path: Path,
) -> None:
    lease = network_lease
    network = f"rscni-podman{lease.index}"
    config = tmp_path / f"{network}.conflist"
    config.write_text(json.dumps(conflist(tmp_path, lease, network), indent=2))
    bin_dir = podman.plugin_dirs[0]
    # Deployment as docs/deploy.md has it: executables first, the configuration that names them last.
    assert rscni_py("install", str(bundles[DEBUG]), "--bin-dir", str(bin_dir), cwd=tmp_path) == (
        f"installed {bin_dir / DEBUG}\n"
    )
    conf_args = ["--conf", str(config), "--conf-dir", str(podman.network_dir)]
    assert rscni_py("install", str(bundles[VETH]), "--bin-dir", str(bin_dir), *conf_args, cwd=tmp_path) == (
        f"installed {bin_dir / VETH}\ninstalled {podman.network_dir / config.name}\n"
    )
    assert network in podman.run("network", "ls", "--format", "{{.Name}}").stdout.split()

    name = f"podtest-{uuid.uuid4().hex[:8]}"
    shared = tmp_path / "shared"
    shared.mkdir()
    cidfile = tmp_path / "cid"
    address = lease.host(2)  # host-local's first free address in a fresh data dir (.1 is the gateway)
    argv = podman.argv(
        "run",
        "--rm",
        "--name",
        name,
        "--cidfile",
        str(cidfile),
        "--network",
        network,
        "--volume",
        f"{shared}:/shared",
        *ULIMITS,
        IMAGE,
        "sh",
        "-c",
        REPORT_SCRIPT,
    )
    hosts: list[str] = []

    def while_running() -> None:
        # The container ID (and with it the host end's name) is known once podman has created the container.
        hosts.append(host_links.track(netops.host_ifname(cidfile.read_text().strip(), "eth0")))
        assert host_links.exists(hosts[0])

    run = run_container(argv, shared, address, while_running, what="podman run", env=podman.env)
    assert run.ping.returncode == 0, run.ping.stdout + run.ping.stderr
    container_id, (host,) = cidfile.read_text().strip(), hosts

    expected, mac = expected_report(run.report, lease)
    assert run.report == expected
    assert (run.returncode, run.out, run.err) == (0, "done\n", "")

    # ADD as podman made it: a namespace it created under /run/netns, the plugin directories of containers.conf,
    # the container's name as K8S_POD_NAME, and our plugin's result handed on to the debug plugin as prevResult.
    add = read_record(tmp_path / "debug" / f"{container_id}-Add")
    netns = add["CNI_NETNS"]
    assert re.fullmatch(r"/run/netns/netns-[0-9a-f-]{36}", netns), add
    assert add == expected_add_record(
        add,
        tmp_path=tmp_path,
        lease=lease,
        network=network,
        host=host,
        mac=mac,
        container_id=container_id,
        cni_path=":".join(str(d) for d in podman.plugin_dirs),
        cni_args=f"IgnoreUnknown=1;K8S_POD_NAME={name}",
    )
    # DEL when the container is removed (run --rm): podman still has the namespace then, unlike ctr.
    assert read_record(tmp_path / "debug" / f"{container_id}-Del") == {**add, "CNI_COMMAND": "Del"}

    # Nothing left: the host end, the address, our attachment record, libcni's cache entry, podman's namespace and
    # the container itself.
    assert not host_links.exists(host)
    assert allocated(tmp_path / "ipam" / network) == []
    assert list((tmp_path / "veth-state" / network).glob("*.json")) == []
    assert not (CNI_CACHE_RESULTS / f"{network}-{container_id}-eth0").exists()
    assert not Path(netns).exists()
    assert podman.run("ps", "--all", "--quiet").stdout == ""
