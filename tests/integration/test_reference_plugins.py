"""The integration infrastructure itself, proven with Debian's reference plugins only.

These tests run libcni (through ``cni-driver``) with bridge + host-local from ``/usr/lib/cni`` in real namespaces.
They do not use rscni-py: if they fail, the harness or the machine is at fault, not the SDK.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from .harness import CNIRuntime, NetNS, NetworkLease, expect_ok

pytestmark = pytest.mark.integration

# What Debian's containernetworking-plugins 1.1.x (built with libcni 1.1.x) answer to VERSION.
REFERENCE_SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"]
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def bridge_conflist(cni: CNIRuntime, lease: NetworkLease, version: str, **ipam_extra: Any) -> dict[str, Any]:
    """bridge (the lease's bridge as gateway) with host-local IPAM allocating from the lease's subnet."""
    return {
        "cniVersion": version,
        "name": f"net{lease.index}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": lease.bridge,
                "isGateway": True,
                "ipam": cni.host_local(lease.subnet, routes=[{"dst": "0.0.0.0/0"}], **ipam_extra),
            }
        ],
    }


def mask_interfaces(result: dict[str, Any]) -> dict[str, Any]:
    """Replace the random parts of a bridge result (MACs, host veth name) after checking their format."""
    masked = dict(result)
    masked["interfaces"] = []
    for given in result["interfaces"]:
        entry = dict(given)
        assert MAC.match(entry["mac"]), entry
        entry["mac"] = "<mac>"
        if re.fullmatch(r"veth[0-9a-f]{8}", entry["name"]):
            entry["name"] = "<veth>"
        masked["interfaces"].append(entry)
    return masked


def expected_add_result(version: str, lease: NetworkLease, ns: NetNS) -> dict[str, Any]:
    """The result libcni should parse from bridge + host-local, per the result shape of ``version``."""
    ip: dict[str, Any] = {"interface": 2, "address": f"{lease.host(2)}/24", "gateway": lease.gateway}
    if version != "1.0.0":
        ip = {"version": "4", **ip}  # 0.3.x/0.4.0 results carry the IP version; 1.0.0 dropped it
    return {
        "cniVersion": version,
        "interfaces": [
            {"name": lease.bridge, "mac": "<mac>"},
            {"name": "<veth>", "mac": "<mac>"},
            {"name": "eth0", "mac": "<mac>", "sandbox": ns.path},
        ],
        "ips": [ip],
        "routes": [{"dst": "0.0.0.0/0"}],
        # libcni 1.1.2 still emits an empty dns object at every version (later releases omit it at 1.x).
        "dns": {},
    }


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_bridge_host_local_add_check_del(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, version: str
) -> None:
    conf = cni.write_config(bridge_conflist(cni, network_lease, version))
    network = f"net{network_lease.index}"
    container_ip = network_lease.host(2)

    # ADD: libcni's parsed result, the address inside the namespace, the default route, real connectivity.
    result = expect_ok(cni.add(conf, netns=netns))
    assert mask_interfaces(result) == expected_add_result(version, network_lease, netns)
    assert netns.addresses("eth0") == [f"{container_ip}/24"]
    assert [(r["dst"], r.get("gateway")) for r in netns.routes() if r["dst"] == "default"] == [
        ("default", network_lease.gateway)
    ]
    ping = subprocess.run(["ping", "-c", "1", "-W", "2", container_ip], capture_output=True, text=True, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert cni.allocated(network) == [container_ip]
    assert cni.cached_results() == [f"{network}-{cni.container_id}-eth0"]

    # CHECK exists from 0.4.0 on; libcni itself refuses it for older configurations.
    if version in ("0.4.0", "1.0.0"):
        assert cni.check(conf, netns=netns) == {"ok": True}
    else:
        message = f'configuration version "{version}" does not support the CHECK command'
        assert cni.check(conf, netns=netns) == {
            "ok": False,
            "error": {"code": -1, "msg": message, "details": ""},
            "message": message,
        }

    # DEL: interface gone, address back in host-local's pool, cache entry dropped; a second DEL is fine too.
    assert cni.delete(conf, netns=netns) == {"ok": True}
    assert not netns.has_link("eth0")
    assert cni.allocated(network) == []
    assert cni.cached_results() == []
    assert cni.delete(conf, netns=netns) == {"ok": True}


def test_single_conf_file_is_run_as_a_list(cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease) -> None:
    plugin = bridge_conflist(cni, network_lease, "0.4.0")["plugins"][0]
    conf = cni.write_config({"cniVersion": "0.4.0", "name": "single", **plugin})
    assert conf.suffix == ".conf"

    result = expect_ok(cni.add(conf, netns=netns))
    assert result["ips"] == [
        {"version": "4", "interface": 2, "address": f"{network_lease.host(2)}/24", "gateway": network_lease.gateway}
    ]
    assert cni.check(conf, netns=netns) == {"ok": True}
    assert cni.delete(conf, netns=netns) == {"ok": True}
    assert cni.allocated("single") == []


def test_cni_args_and_capability_args_reach_the_plugin(
    cni: CNIRuntime, make_netns: Callable[[], NetNS], network_lease: NetworkLease
) -> None:
    """host-local honours ``IP=`` in CNI_ARGS and the ``ips`` capability: proof both travel through libcni."""
    conflist = bridge_conflist(cni, network_lease, "1.0.0")
    conflist["plugins"][0]["capabilities"] = {"ips": True}
    conf = cni.write_config(conflist)
    by_args, by_capability = make_netns(), make_netns()

    static_ip = {"IgnoreUnknown": "1", "IP": network_lease.host(77)}
    expect_ok(cni.add(conf, netns=by_args, container_id="by-args", args=static_ip))
    expect_ok(
        cni.add(
            conf,
            netns=by_capability,
            container_id="by-capability",
            capability_args={"ips": [f"{network_lease.host(88)}/24"]},
        )
    )
    assert by_args.addresses("eth0") == [f"{network_lease.host(77)}/24"]
    assert by_capability.addresses("eth0") == [f"{network_lease.host(88)}/24"]
    assert cni.allocated(conflist["name"]) == [network_lease.host(77), network_lease.host(88)]


def test_version_reports_each_plugin(cni: CNIRuntime, network_lease: NetworkLease) -> None:
    conflist = bridge_conflist(cni, network_lease, "1.0.0")
    conflist["plugins"] += [{"type": "tuning"}, {"type": "portmap", "capabilities": {"portMappings": True}}]

    assert cni.version(conflist) == {
        "ok": True,
        "result": [
            {"type": name, "cniVersion": "1.0.0", "supportedVersions": REFERENCE_SUPPORTED}
            for name in ("bridge", "tuning", "portmap")
        ],
    }
    assert cni.validate(conflist) == {"ok": True, "result": {"capabilities": ["portMappings"]}}


@pytest.mark.parametrize(
    ("plugin_type", "version", "msg"),
    [
        ("bridge", "0.9.0", '[plugin bridge does not support config version "0.9.0"]'),
        (
            "no-such-plugin",
            "1.0.0",
            '[failed to find plugin "no-such-plugin" in path [{plugin_dir} /usr/lib/cni]]',
        ),
    ],
    ids=["unsupported-version", "missing-plugin"],
)
def test_validate_rejects(
    cni: CNIRuntime, network_lease: NetworkLease, plugin_type: str, version: str, msg: str
) -> None:
    conflist = bridge_conflist(cni, network_lease, version)
    conflist["plugins"][0]["type"] = plugin_type
    msg = msg.format(plugin_dir=cni.plugin_dir)
    assert cni.validate(conflist) == {
        "ok": False,
        "error": {"code": -1, "msg": msg, "details": ""},
        "message": msg,
    }


def test_plugin_error_keeps_its_code_invalid_subnet(cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease) -> None:
    conflist = bridge_conflist(cni, network_lease, "1.0.0")
    bad = f"10.248.{network_lease.index}.999/24"
    conflist["plugins"][0]["ipam"]["ranges"] = [[{"subnet": bad}]]

    msg = f"invalid CIDR address: {bad}"
    assert cni.add(conflist, netns=netns) == {
        "ok": False,
        "error": {"code": 999, "msg": msg, "details": ""},  # host-local's plain error becomes skel's 999
        "message": f'plugin type="bridge" failed (add): {msg}',
    }
    assert cni.cached_results() == []
    # bridge 1.1.x creates the veth before asking IPAM and does not undo it, and with a broken config the
    # runtime's DEL fails the same way; only deleting the namespace (the netns fixture does) removes it.
    assert netns.has_link("eth0")
    assert cni.delete(conflist, netns=netns) == {
        "ok": False,
        "error": {"code": 999, "msg": msg, "details": ""},
        "message": f'plugin type="bridge" failed (delete): {msg}',
    }


def test_plugin_error_keeps_its_code_incompatible_version(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease
) -> None:
    details = 'config is "0.9.0", plugin supports ["' + '" "'.join(REFERENCE_SUPPORTED) + '"]'
    assert cni.add(bridge_conflist(cni, network_lease, "0.9.0"), netns=netns) == {
        "ok": False,
        "error": {"code": 1, "msg": "incompatible CNI versions", "details": details},
        "message": f'plugin type="bridge" failed (add): incompatible CNI versions; {details}',
    }


def test_exhausted_pool_fails_and_leaves_first_attachment(
    cni: CNIRuntime, make_netns: Callable[[], NetNS], network_lease: NetworkLease
) -> None:
    only = network_lease.host(10)
    conflist = bridge_conflist(cni, network_lease, "0.4.0")
    one_address = {"subnet": network_lease.subnet, "rangeStart": only, "rangeEnd": only}
    conflist["plugins"][0]["ipam"]["ranges"] = [[one_address]]
    conf = cni.write_config(conflist)
    first, second = make_netns(), make_netns()

    expect_ok(cni.add(conf, netns=first, container_id="first"))
    msg = f"failed to allocate for range 0: no IP addresses available in range set: {only}-{only}"
    assert cni.add(conf, netns=second, container_id="second") == {
        "ok": False,
        "error": {"code": 999, "msg": msg, "details": ""},
        "message": f'plugin type="bridge" failed (add): {msg}',
    }
    assert first.addresses("eth0") == [f"{only}/24"]
    assert cni.allocated(conflist["name"]) == [only]

    # The runtime's DEL after the failed ADD removes the second veth but leaves the first attachment alone.
    assert cni.delete(conf, netns=second, container_id="second") == {"ok": True}
    assert second.links() == ["lo"]
    assert first.addresses("eth0") == [f"{only}/24"]
    assert cni.allocated(conflist["name"]) == [only]


@pytest.mark.parametrize(
    ("ifname", "msg", "details"),
    [
        ("", "interface name is empty", ""),
        ("eth0/x", "interface name contains / or : or whitespace characters", ""),
        ("a-very-long-name0", "interface name is too long", "interface name should be less than 16 characters"),
    ],
    ids=["empty", "slash", "too-long"],
)
def test_libcni_rejects_bad_interface_name_with_code_4(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, ifname: str, msg: str, details: str
) -> None:
    """libcni validates CNI_IFNAME before running any plugin and answers with code 4 (invalid environment)."""
    text = f"{msg}; {details}" if details else msg
    assert cni.add(bridge_conflist(cni, network_lease, "1.0.0"), netns=netns, ifname=ifname) == {
        "ok": False,
        "error": {"code": 4, "msg": msg, "details": details},
        "message": f'plugin type="bridge" failed (add): {text}',
    }
    assert netns.links() == ["lo"]
