"""The veth example plugin under a real runtime: libcni runs it as the first plugin, with host-local as its IPAM.

libcni executes ``rscni-veth`` (a wrapper around examples/veth/rscni_veth.py) from the test ``CNI_PATH``; the plugin
finds Debian's host-local in the same ``CNI_PATH``, exactly as it would on a node.  What is asserted is what the
runtime sees (its parsed result, its errors with their codes) and what the kernel and host-local hold afterwards.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from examples.veth import netops
from rscni_py import SUPPORTED_VERSIONS

from .harness import REPO_ROOT, CNIRuntime, HostLinks, NetNS, NetworkLease, delete_netns, expect_ok

pytestmark = pytest.mark.integration

VETH = REPO_ROOT / "examples" / "veth" / "rscni_veth.py"


def veth_conflist(cni: CNIRuntime, lease: NetworkLease, version: str, **veth: Any) -> dict[str, Any]:
    """rscni-veth alone, host-local allocating from the lease's subnet with a default route."""
    return {
        "cniVersion": version,
        "name": f"veth{lease.index}",
        "plugins": [
            {
                "type": "rscni-veth",
                "mtu": 1400,
                "stateDir": str(cni.workdir / "state"),
                "ipam": cni.host_local(lease.subnet, routes=[{"dst": "0.0.0.0/0"}]),
                **veth,
            }
        ],
    }


def host_mac(name: str) -> str:
    (link,) = json.loads(
        subprocess.run(["ip", "-j", "link", "show", "dev", name], capture_output=True, text=True, check=True).stdout
    )
    return str(link["address"])


def ns_mac(ns: NetNS, name: str) -> str:
    (link,) = json.loads(ns.ip("-j", "link", "show", "dev", name))
    return str(link["address"])


def ping(address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ping", "-c", "1", "-W", "2", address], capture_output=True, text=True, check=False)


@pytest.fixture
def veth(cni: CNIRuntime) -> None:
    cni.install_plugin("rscni-veth", VETH)


def expected_result(version: str, cni: CNIRuntime, lease: NetworkLease, ns: NetNS, host: str) -> dict[str, Any]:
    """The result libcni parses from rscni-veth at ``version``: our result converted by the SDK, decoded by Go."""
    # The plugin reports the container end's mtu (a spec 1.1.0 field); libcni 1.1.2 has no such field and drops it.
    container = {"name": "eth0", "mac": ns_mac(ns, "eth0"), "sandbox": ns.path}
    ip: dict[str, Any] = {"interface": 1, "address": f"{lease.host(2)}/24", "gateway": lease.gateway}
    if version != "1.0.0":
        ip = {"version": "4", **ip}
    return {
        "cniVersion": version,
        "interfaces": [{"name": host, "mac": host_mac(host)}, container],
        "ips": [ip],
        "routes": [{"dst": "0.0.0.0/0", "gw": lease.gateway}],
        "dns": {},
    }


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_add_check_del(
    cni: CNIRuntime, veth: None, netns: NetNS, network_lease: NetworkLease, host_links: HostLinks, version: str
) -> None:
    conf = cni.write_config(veth_conflist(cni, network_lease, version))
    network = f"veth{network_lease.index}"
    host = host_links.track(netops.host_ifname(cni.container_id, "eth0"))
    container_ip = network_lease.host(2)

    # ADD: libcni's parsed result, the kernel state, real connectivity from the host to the container.
    result = expect_ok(cni.add(conf, netns=netns))
    assert result == expected_result(version, cni, network_lease, netns, host)
    assert netns.addresses("eth0") == [f"{container_ip}/24"]
    assert sorted((r["dst"], r.get("gateway", "")) for r in netns.routes()) == sorted(
        [("default", network_lease.gateway), (network_lease.subnet, network_lease.gateway), (network_lease.gateway, "")]
    )
    reply = ping(container_ip)
    assert reply.returncode == 0, reply.stdout + reply.stderr
    assert cni.allocated(network) == [container_ip]
    assert cni.cached_results() == [f"{network}-{cni.container_id}-eth0"]
    assert [p.name for p in (cni.workdir / "state" / network).glob("*.json")] == [f"{cni.container_id}:eth0.json"]

    # CHECK: libcni sends the cached result as prevResult (from 0.4.0 on; it refuses CHECK before that itself).
    if version != "0.3.1":
        assert cni.check(conf, netns=netns) == {"ok": True}

    # DEL: the pair, the host route and the address are gone; a second DEL succeeds too.
    assert cni.delete(conf, netns=netns) == {"ok": True}
    assert not host_links.exists(host)
    assert netns.links() == ["lo"]
    assert cni.allocated(network) == []
    assert cni.cached_results() == []
    assert list((cni.workdir / "state" / network).glob("*.json")) == []
    assert ping(container_ip).returncode != 0
    assert cni.delete(conf, netns=netns) == {"ok": True}


def test_check_fails_when_the_attachment_changed(
    cni: CNIRuntime, veth: None, netns: NetNS, network_lease: NetworkLease, host_links: HostLinks
) -> None:
    conf = cni.write_config(veth_conflist(cni, network_lease, "1.0.0"))
    host_links.track(netops.host_ifname(cni.container_id, "eth0"))
    expect_ok(cni.add(conf, netns=netns))
    netns.ip("route", "del", "default")

    msg = (
        "attachment differs from the cached result: "
        f"route 0.0.0.0/0 via {network_lease.gateway} dev eth0 in {netns.path} is missing"
    )
    assert cni.check(conf, netns=netns) == {
        "ok": False,
        "error": {"code": 102, "msg": msg, "details": ""},
        "message": msg,  # libcni 1.1.2 prefixes the plugin type on ADD and DEL errors only
    }


def test_failure_after_ipam_leaves_no_address(
    cni: CNIRuntime, veth: None, netns: NetNS, network_lease: NetworkLease, host_links: HostLinks
) -> None:
    conflist = veth_conflist(cni, network_lease, "1.0.0")
    host = host_links.track(netops.host_ifname(cni.container_id, "eth0"))
    # CNI_IFNAME is taken in the namespace: host-local allocates, then the veth cannot be created.
    netns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")

    msg = f"interface eth0 already exists in network namespace {netns.path}"
    details = f"ADD needs interface eth0; it is in use in network namespace {netns.path}"
    assert cni.add(conflist, netns=netns) == {
        "ok": False,
        "error": {"code": 100, "msg": msg, "details": details},
        "message": f'plugin type="rscni-veth" failed (add): {msg}; {details}',
    }
    assert cni.allocated(conflist["name"]) == []
    assert not host_links.exists(host)
    assert cni.cached_results() == []
    # The runtime answers a failed ADD with DEL; it must succeed and leave the foreign eth0 alone.
    assert cni.delete(conflist, netns=netns) == {"ok": True}
    assert sorted(netns.links()) == ["eth0", "eth0-peer", "lo"]


def test_namespace_deleted_between_add_and_del(
    cni: CNIRuntime, veth: None, make_netns: Callable[[], NetNS], network_lease: NetworkLease, host_links: HostLinks
) -> None:
    conflist = veth_conflist(cni, network_lease, "1.0.0")
    ns = make_netns()
    host = host_links.track(netops.host_ifname(cni.container_id, "eth0"))
    expect_ok(cni.add(conflist, netns=ns))
    delete_netns(ns)

    assert cni.delete(conflist, netns=ns) == {"ok": True}
    assert cni.allocated(conflist["name"]) == []
    assert not host_links.exists(host)
    assert cni.cached_results() == []


def test_exhausted_pool_error_reaches_libcni_and_leaves_nothing(
    cni: CNIRuntime, veth: None, make_netns: Callable[[], NetNS], network_lease: NetworkLease, host_links: HostLinks
) -> None:
    only = network_lease.host(10)
    conflist = veth_conflist(cni, network_lease, "1.0.0")
    conflist["plugins"][0]["ipam"]["ranges"] = [
        [{"subnet": network_lease.subnet, "rangeStart": only, "rangeEnd": only}]
    ]
    conf = cni.write_config(conflist)
    first, second = make_netns(), make_netns()
    host_links.track(netops.host_ifname("first", "eth0"))
    second_host = host_links.track(netops.host_ifname("second", "eth0"))

    expect_ok(cni.add(conf, netns=first, container_id="first"))
    # host-local's plain error (skel's 999) passes through rscni-veth unchanged.
    msg = f"failed to allocate for range 0: no IP addresses available in range set: {only}-{only}"
    assert cni.add(conf, netns=second, container_id="second") == {
        "ok": False,
        "error": {"code": 999, "msg": msg, "details": ""},
        "message": f'plugin type="rscni-veth" failed (add): {msg}',
    }
    assert second.links() == ["lo"]
    assert not host_links.exists(second_host)
    assert cni.allocated(conflist["name"]) == [only]
    assert cni.delete(conf, netns=second, container_id="second") == {"ok": True}
    assert cni.allocated(conflist["name"]) == [only]
    assert first.addresses("eth0") == [f"{only}/24"]


BAD_CONFIGS = [
    pytest.param({"mtu": 10}, 7, "invalid network config: mtu: 10 is outside 68..65535", "", id="mtu"),
    pytest.param(
        {"ipam": {"type": "no-such-ipam"}},
        999,
        'failed to find plugin "no-such-ipam" in path [{plugin_dir} /usr/lib/cni]',
        "",
        id="missing-ipam-plugin",
    ),
]


@pytest.mark.parametrize(("override", "code", "msg", "details"), BAD_CONFIGS)
def test_plugin_error_reaches_libcni_with_its_code(
    cni: CNIRuntime,
    veth: None,
    netns: NetNS,
    network_lease: NetworkLease,
    override: dict[str, Any],
    code: int,
    msg: str,
    details: str,
) -> None:
    conflist = veth_conflist(cni, network_lease, "1.0.0", **override)
    msg = msg.format(plugin_dir=cni.plugin_dir)

    assert cni.add(conflist, netns=netns) == {
        "ok": False,
        "error": {"code": code, "msg": msg, "details": details},
        "message": f'plugin type="rscni-veth" failed (add): {msg}',
    }
    assert netns.links() == ["lo"]
    assert cni.allocated(conflist["name"]) == []


def test_version_and_validation(cni: CNIRuntime, veth: None, network_lease: NetworkLease) -> None:
    conflist = veth_conflist(cni, network_lease, "1.0.0")

    # VERSION answers at the newest spec version with every version the SDK supports (docs/decisions.md, D-2).
    assert cni.version(conflist) == {
        "ok": True,
        "result": [{"type": "rscni-veth", "cniVersion": "1.1.0", "supportedVersions": list(SUPPORTED_VERSIONS)}],
    }
    assert cni.validate(conflist) == {"ok": True, "result": {"capabilities": []}}


def test_validation_rejects_a_version_we_do_not_support(
    cni: CNIRuntime, veth: None, network_lease: NetworkLease
) -> None:
    msg = '[plugin rscni-veth does not support config version "0.9.0"]'
    assert cni.validate(veth_conflist(cni, network_lease, "0.9.0")) == {
        "ok": False,
        "error": {"code": -1, "msg": msg, "details": ""},
        "message": msg,
    }


def test_shipped_conflist(
    cni: CNIRuntime, veth: None, netns: NetNS, network_lease: NetworkLease, host_links: HostLinks
) -> None:
    """examples/veth/netconf.conflist as shipped (veth, then loopback), with only the subnet and IPAM dir moved."""
    conflist = json.loads((VETH.parent / "netconf.conflist").read_text())
    ipam = conflist["plugins"][0]["ipam"]
    ipam["ranges"] = [[{"subnet": network_lease.subnet}]]
    ipam["dataDir"] = str(cni.ipam_dir)
    conflist["plugins"][0]["stateDir"] = str(cni.workdir / "state")
    conf = cni.write_config(conflist)
    host_links.track(netops.host_ifname(cni.container_id, "eth0"))

    result = expect_ok(cni.add(conf, netns=netns))
    assert result["dns"] == {"nameservers": ["10.250.0.1"]}
    assert result["ips"] == [
        {"interface": 1, "address": f"{network_lease.host(2)}/24", "gateway": network_lease.gateway}
    ]
    assert "UP" in json.loads(netns.ip("-j", "link", "show", "dev", "lo"))[0]["flags"]
    assert ping(network_lease.host(2)).returncode == 0
    assert cni.check(conf, netns=netns) == {"ok": True}
    assert cni.delete(conf, netns=netns) == {"ok": True}
    assert cni.allocated(conflist["name"]) == []
