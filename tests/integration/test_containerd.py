"""A real container runtime runs a real container whose network our plugin sets up: containerd, offline.

containerd 1.6 (Debian bookworm) runs a busybox container built here from Debian's busybox-static; ``ctr run --cni``
calls CNI itself through go-cni and libcni.  The plugins are bundled with ``rscni-py bundle`` for an interpreter
that has none of our packages and installed with ``rscni-py install``, exactly as docs/deploy.md describes:
examples/veth (veth pair, addresses from Debian's host-local) followed by the debug plugin, which records what the
runtime passed on ADD and DEL.  Nothing is pulled from a registry.  The same run is repeated in warm mode: the
installed executables are shims (``rscni-py shim build``) and daemons (``rscni-py serve``) serve the two plugins.
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
from tests.warm_support import warm_plugins

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
from .containerd import (
    CNI_BIN_DIR,
    CNI_CONF_DIR,
    Containerd,
    ContainerdError,
    SystemCNI,
    build_image,
    missing_containerd_requirements,
)
from .harness import LEASE_DIR, REPO_ROOT, HostLinks, NetworkLease, require

pytestmark = pytest.mark.integration

NAMESPACE: Final = "rscni"
IMAGE: Final = "rscni.test/busybox:ctrtest"
#: "00-" so that it sorts before the usual "10-..." configurations; the fixture refuses to run behind another one.
CONF_NAME: Final = "00-rscni-containerd-test.conflist"
#: go-cni's plugin directories as Debian builds them: /opt/cni/bin, then Debian's own /usr/lib/cni (where
#: host-local is, found by our plugin through CNI_PATH).
DEBIAN_CNI_PATH: Final = "/opt/cni/bin:/usr/lib/cni"


@pytest.fixture(scope="module")
def containerd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    """Our own containerd with the busybox image imported; stopped and its directories removed at the end."""
    require(*missing_containerd_requirements())  # everything missing named at once, before the common checks run
    request.getfixturevalue("integration_env")
    image_dir = tmp_path_factory.mktemp("image")
    daemon = Containerd(tmp_path_factory.mktemp("containerd"), NAMESPACE, LEASE_DIR / "containerd.lock")
    archive = image_dir / "busybox.tar"
    digest = build_image(archive, IMAGE)
    try:
        try:
            daemon.start()
            imported = daemon.ctr("images", "import", str(archive))
        except ContainerdError as exc:
            pytest.fail(str(exc), pytrace=False)
        assert imported.stdout == f"unpacking {IMAGE} ({digest})...done\n"
        yield daemon
    finally:
        leftovers = daemon.stop()
        assert not leftovers, leftovers


@pytest.fixture(params=["cold", "warm"])
def plugin_files(
    request: pytest.FixtureRequest, bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """The executables to install: the bundles (cold), or warm-mode shims whose daemons serve the same plugins."""
    if request.param == "cold":
        yield bundles
        return
    staging = tmp_path_factory.mktemp("shims")
    with warm_plugins() as plugins:
        yield {
            name: plugins.install(staging, name, REPO_ROOT / script)
            for name, script in ((VETH, "examples/veth/rscni_veth.py"), (DEBUG, "examples/debug/rscni_debug.py"))
        }


@pytest.fixture
def system_cni(containerd: Containerd, network_lease: NetworkLease) -> Iterator[SystemCNI]:
    """go-cni's fixed directories, ready for our files; everything we add is removed at teardown.

    Depends on ``containerd`` for its lock: only one session at a time may own the first configuration.
    """
    cni = SystemCNI(CONF_NAME, (VETH, DEBUG), f"rscni-ctr{network_lease.index}")
    blocking = cni.blocking_configs()
    if blocking:
        pytest.skip(f"{CNI_CONF_DIR} has {', '.join(blocking)}, which ctr would use instead of {CONF_NAME}")
    try:
        yield cni
    finally:
        cni.cleanup()


def test_ctr_run_with_our_plugin(
    containerd: Containerd,
    plugin_files: dict[str, Path],
    system_cni: SystemCNI,
    network_lease: NetworkLease,
    host_links: HostLinks,
    tmp_path: Path,
) -> None:
    lease = network_lease
    network = system_cni.network
    config = tmp_path / CONF_NAME
    config.write_text(json.dumps(conflist(tmp_path, lease, network), indent=2))

    # Deployment as docs/deploy.md has it: executables first, the configuration that names them last.
    assert rscni_py("install", str(plugin_files[DEBUG]), "--bin-dir", str(CNI_BIN_DIR), cwd=tmp_path) == (
        f"installed {CNI_BIN_DIR / DEBUG}\n"
    )
    assert rscni_py(
        "install",
        str(plugin_files[VETH]),
        "--bin-dir",
        str(CNI_BIN_DIR),
        "--conf",
        str(config),
        "--conf-dir",
        str(CNI_CONF_DIR),
        cwd=tmp_path,
    ) == (f"installed {CNI_BIN_DIR / VETH}\ninstalled {CNI_CONF_DIR / CONF_NAME}\n")

    name = f"ctrtest-{uuid.uuid4().hex[:8]}"
    # ctr names the CNI attachment "<namespace>-<container>"; the host end's name follows from it.
    container_id = f"{NAMESPACE}-{name}"
    host = host_links.track(netops.host_ifname(container_id, "eth0"))
    shared = tmp_path / "shared"
    shared.mkdir()
    address = lease.host(2)  # host-local's first free address in a fresh data dir (.1 is the gateway)

    argv = containerd.run_argv(
        IMAGE,
        name,
        "sh",
        "-c",
        REPORT_SCRIPT,
        options=["--cni", "--mount", f"type=bind,src={shared},dst=/shared,options=rbind:rw"],
    )

    def while_running() -> None:
        assert host_links.exists(host)  # the host end exists while the container runs

    run = run_container(argv, shared, address, while_running, what="ctr run")
    assert run.ping.returncode == 0, run.ping.stdout + run.ping.stderr

    # What the container saw of its network: its address and routes from host-local, the MTU from the config.
    expected, mac = expected_report(run.report, lease)
    assert run.report == expected
    # ctr logs a failed CNI DEL without changing its exit status, so its stderr must be empty too.
    assert (run.returncode, run.out, run.err) == (0, "done\n", "")

    # ADD as the runtime made it: the container's namespace by /proc path, Debian's plugin path, and our plugin's
    # result handed on to the debug plugin as prevResult.
    add = read_record(tmp_path / "debug" / f"{container_id}-Add")
    assert re.fullmatch(r"/proc/[0-9]+/ns/net", add["CNI_NETNS"]), add
    assert add == expected_add_record(
        add,
        tmp_path=tmp_path,
        lease=lease,
        network=network,
        host=host,
        mac=mac,
        container_id=container_id,
        cni_path=DEBIAN_CNI_PATH,
        cni_args="",
    )
    # DEL after the container exited (ctr run --rm): no namespace any more, the cached result as prevResult.
    assert read_record(tmp_path / "debug" / f"{container_id}-Del") == {**add, "CNI_COMMAND": "Del", "CNI_NETNS": ""}

    # The DEL reached our plugin too: host end gone, address released, attachment record and libcni cache gone.
    assert not host_links.exists(host)
    assert allocated(tmp_path / "ipam" / network) == []
    assert list((tmp_path / "veth-state" / network).glob("*.json")) == []
    assert not system_cni.cache_entry(container_id).exists()
    assert containerd.ctr("containers", "list", "--quiet").stdout == ""
