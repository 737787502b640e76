"""NetConf, runtimeConfig and NetConfList."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any

import pytest

from rscni_py.types import (
    DNS,
    Bandwidth,
    FieldError,
    GCAttachment,
    IPAMConf,
    IPRange,
    NetConf,
    NetConfList,
    PortMapping,
    RuntimeConfig,
    RuntimeDNS,
    decode,
    encode,
)
from rscni_py.types.conflist import select_version

FULL_CONF: dict[str, Any] = {
    "cniVersion": "1.1.0",
    "name": "mynet",
    "type": "bridge",
    "capabilities": {"portMappings": True, "bandwidth": False},
    "ipam": {"type": "host-local", "subnet": "10.1.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]},
    "dns": {"nameservers": ["10.1.0.53"], "domain": "example.com", "search": ["example.com"], "options": ["ndots:2"]},
    "args": {"cni": {"labels": [{"key": "app", "value": "web"}], "ips": ["10.1.2.42/24"]}},
    "runtimeConfig": {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}],
        "ipRanges": [
            [{"subnet": "10.1.2.0/24", "rangeStart": "10.1.2.10", "rangeEnd": "10.1.2.20", "gateway": "10.1.2.1"}],
            [{"subnet": "fd00::/64"}],
        ],
        "bandwidth": {"ingressRate": 1000000, "ingressBurst": 2000, "egressRate": 3000000, "egressBurst": 4000},
        "dns": {"servers": ["10.1.0.53"], "searches": ["svc.local"], "options": ["ndots:5"]},
        "ips": ["192.168.0.1", "10.10.0.1/24", "3ffe:ffff:0:1ff::2"],
        "mac": "c2:11:22:33:44:55",
        "infinibandGUID": "c2:11:22:33:44:55:66:77",
        "deviceID": "0000:04:00.5",
        "aliases": ["my-container", "primary-db"],
        "cgroupPath": "/kubelet.slice/pod1",
        "io.example/custom": {"x": 1},
    },
    "prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.1.2.42/24"}]},
    "ipMasq": True,
    "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}],
    "bridge": "cni0",
    "isDefaultGateway": True,
    "cni.dev/other": "kept",
}

FULL_EXPECTED = NetConf(
    cni_version="1.1.0",
    name="mynet",
    type="bridge",
    capabilities={"portMappings": True, "bandwidth": False},
    ipam=IPAMConf(type="host-local"),
    dns=DNS(["10.1.0.53"], "example.com", ["example.com"], ["ndots:2"]),
    args={"cni": {"labels": [{"key": "app", "value": "web"}], "ips": ["10.1.2.42/24"]}},
    runtime_config=RuntimeConfig(
        port_mappings=[PortMapping(host_port=8080, container_port=80, protocol="tcp", host_ip="127.0.0.1")],
        ip_ranges=[
            [
                IPRange(
                    subnet=IPv4Interface("10.1.2.0/24"),
                    range_start=IPv4Address("10.1.2.10"),
                    range_end=IPv4Address("10.1.2.20"),
                    gateway=IPv4Address("10.1.2.1"),
                )
            ],
            [IPRange(subnet=IPv6Interface("fd00::/64"))],
        ],
        bandwidth=Bandwidth(ingress_rate=1000000, ingress_burst=2000, egress_rate=3000000, egress_burst=4000),
        dns=RuntimeDNS(servers=["10.1.0.53"], searches=["svc.local"], options=["ndots:5"]),
        ips=[IPv4Address("192.168.0.1"), IPv4Interface("10.10.0.1/24"), IPv6Address("3ffe:ffff:0:1ff::2")],
        mac="c2:11:22:33:44:55",
        infiniband_guid="c2:11:22:33:44:55:66:77",
        device_id="0000:04:00.5",
        aliases=["my-container", "primary-db"],
        cgroup_path="/kubelet.slice/pod1",
    ),
    prev_result={"cniVersion": "1.1.0", "ips": [{"address": "10.1.2.42/24"}]},
    ip_masq=True,
    valid_attachments=[GCAttachment(container_id="c1", ifname="eth0"), GCAttachment(container_id="c2", ifname="net1")],
)


def test_full_config_decodes() -> None:
    assert decode(NetConf, FULL_CONF) == FULL_EXPECTED


def test_unknown_keys_are_kept_and_reachable() -> None:
    conf = decode(NetConf, FULL_CONF)
    assert conf.raw == FULL_CONF
    assert conf.extra == {"bridge": "cni0", "isDefaultGateway": True, "cni.dev/other": "kept"}
    assert conf.ipam is not None
    assert conf.ipam.extra == {"subnet": "10.1.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]}
    assert conf.runtime_config.extra == {"io.example/custom": {"x": 1}}


def test_full_config_encodes_back_to_the_same_json() -> None:
    assert encode(decode(NetConf, FULL_CONF)) == FULL_CONF


def test_encode_does_not_share_unknown_values() -> None:
    data = copy.deepcopy(FULL_CONF)
    out = encode(decode(NetConf, data))
    out["runtimeConfig"]["io.example/custom"]["x"] = 2
    assert data == FULL_CONF


def test_raw_is_not_compared_or_shown() -> None:
    a = decode(NetConf, {"type": "x", "foo": 1})
    b = decode(NetConf, {"type": "x", "foo": 2})
    assert a == b
    assert "foo" not in repr(a)


def test_minimal_config() -> None:
    conf = decode(NetConf, {})
    assert conf == NetConf()
    assert (conf.cni_version, conf.name, conf.type, conf.runtime_config, conf.ipam, conf.valid_attachments) == (
        "",
        "",
        "",
        RuntimeConfig(),
        None,
        None,
    )
    assert encode(conf) == {}


ATTACHMENTS: list[tuple[str, dict[str, Any], list[GCAttachment] | None, dict[str, Any]]] = [
    (
        "valid-attachments",
        {"cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]},
        [GCAttachment(container_id="a", ifname="eth0")],
        {},
    ),
    (
        "old-key-fallback",
        {"cni.dev/attachments": [{"containerID": "b", "ifname": "eth1"}]},
        [GCAttachment(container_id="b", ifname="eth1")],
        {},
    ),
    (
        "new-key-wins",
        {"cni.dev/valid-attachments": [], "cni.dev/attachments": [{"containerID": "b", "ifname": "e"}]},
        [],
        {},
    ),
    ("neither", {}, None, {}),
    (
        "extra-keys-in-attachment-ignored",
        {"cni.dev/valid-attachments": [{"containerID": "a", "ifname": "e", "x": 1}]},
        [GCAttachment(container_id="a", ifname="e")],
        {},
    ),
]


@pytest.mark.parametrize(("data", "expected", "extra"), [c[1:] for c in ATTACHMENTS], ids=[c[0] for c in ATTACHMENTS])
def test_gc_attachments(data: dict[str, Any], expected: list[GCAttachment] | None, extra: dict[str, Any]) -> None:
    conf = decode(NetConf, data)
    assert conf.valid_attachments == expected
    assert conf.extra == extra


def test_attachments_encode_under_the_current_key() -> None:
    conf = decode(NetConf, {"cni.dev/attachments": [{"containerID": "b", "ifname": "eth1"}]})
    assert encode(conf) == {"cni.dev/valid-attachments": [{"containerID": "b", "ifname": "eth1"}]}


def test_empty_dns_and_runtime_config_left_out() -> None:
    conf = NetConf(type="x", dns=DNS(), runtime_config=RuntimeConfig(), capabilities={})
    assert encode(conf) == {"type": "x"}


def test_runtime_config_with_only_unknown_capabilities_is_written() -> None:
    conf = decode(NetConf, {"runtimeConfig": {"future": [1]}})
    assert conf.runtime_config == RuntimeConfig()
    assert encode(conf) == {"runtimeConfig": {"future": [1]}}


# NetConfList: libcni version selection (entries newer than 1.1.0 skipped; max of cniVersions and cniVersion).
SELECTION = [
    ("no-cniVersions", "0.4.0", [], False, "0.4.0"),
    ("max-of-both", "0.4.0", ["1.0.0", "0.3.1"], True, "1.0.0"),
    ("cniVersion-is-max", "1.1.0", ["1.0.0"], True, "1.1.0"),
    ("newer-skipped", "0.4.0", ["1.0.0", "1.1.0", "1.2.0", "2.0.0"], True, "1.1.0"),
    ("all-newer-keep-cniVersion", "1.0.0", ["3.0.0"], True, "1.0.0"),
    ("newer-cniVersion-skipped", "2.0.0", ["1.0.0"], True, "1.0.0"),
    ("numeric-not-lexical", "", ["0.9.0", "0.10.0"], True, "0.10.0"),
    ("short-forms-compare-numerically", "", ["1", "0.4.0"], True, "1"),
    ("empty-list", "0.3.1", [], True, "0.3.1"),
]


@pytest.mark.parametrize(
    ("version", "versions", "has", "expected"), [c[1:] for c in SELECTION], ids=[c[0] for c in SELECTION]
)
def test_select_version(version: str, versions: list[str], has: bool, expected: str) -> None:
    assert select_version(version, versions, has) == expected


def test_select_version_rejects_garbage() -> None:
    with pytest.raises(FieldError) as info:
        select_version("1.0.0", ["1.0.0", "1.x"])
    assert str(info.value) == 'cniVersions[1]: failed to convert minor version part "x": invalid syntax'
    with pytest.raises(FieldError) as info:
        select_version("1.2.3.4", ["1.0.0"])
    assert str(info.value) == 'cniVersion: invalid version "1.2.3.4": too many parts'


def test_conf_list_full() -> None:
    data = {
        "cniVersion": "1.0.0",
        "cniVersions": ["0.4.0", "1.0.0", "1.1.0", "5.0.0"],
        "name": "net",
        "disableCheck": "True",
        "disableGC": False,
        "loadOnlyInlinedPlugins": "false",
        "plugins": [{"type": "bridge", "bridge": "cni0"}, {"type": "portmap", "capabilities": {"portMappings": True}}],
        "x-vendor": 1,
    }
    conf = NetConfList.from_json(data)
    assert conf == NetConfList(
        cni_version="1.1.0",
        cni_versions=["0.4.0", "1.0.0", "1.1.0", "5.0.0"],
        name="net",
        disable_check=True,
        disable_gc=False,
        load_only_inlined_plugins=False,
        plugins=[NetConf(type="bridge"), NetConf(type="portmap", capabilities={"portMappings": True})],
    )
    assert conf.plugins[0].extra == {"bridge": "cni0"}
    assert conf.extra == {"x-vendor": 1}


CONF_LIST_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no-name", {"plugins": [{"type": "a"}]}, "name: required field missing"),
    ("name-not-string", {"name": 1, "plugins": [{"type": "a"}]}, "name: expected a string, got integer 1"),
    ("empty-plugins", {"name": "n", "plugins": []}, "plugins: no plugins in list"),
    ("plugins-not-array", {"name": "n", "plugins": {}}, "plugins: expected an array, got object"),
    (
        "plugin-without-type",
        {"name": "n", "plugins": [{"type": "a"}, {"name": "x"}]},
        "plugins[1].type: required field missing",
    ),
    ("plugin-type-empty", {"name": "n", "plugins": [{"type": ""}]}, "plugins[0].type: required field missing"),
    (
        "inlined-without-plugins",
        {"name": "n", "loadOnlyInlinedPlugins": True},
        "plugins: required field missing (loadOnlyInlinedPlugins is true)",
    ),
    (
        "bad-bool-string",
        {"name": "n", "disableCheck": "yes", "plugins": [{"type": "a"}]},
        'disableCheck: expected a boolean or "true"/"false", got string "yes"',
    ),
    (
        "bad-cniVersions-entry",
        {"name": "n", "cniVersions": ["1.0.0", 1], "plugins": [{"type": "a"}]},
        "cniVersions[1]: expected a string, got integer 1",
    ),
    (
        "bad-plugin-field",
        {"name": "n", "plugins": [{"type": "a", "ipMasq": 1}]},
        "plugins[0].ipMasq: expected a boolean, got integer 1",
    ),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in CONF_LIST_BAD], ids=[c[0] for c in CONF_LIST_BAD])
def test_conf_list_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldError) as info:
        NetConfList.from_json(data)
    assert str(info.value) == message


def test_conf_list_without_plugins_key_is_allowed_when_not_inlined_only() -> None:
    assert NetConfList.from_json({"name": "n"}) == NetConfList(name="n")


@dataclass(kw_only=True)
class MultiConf(NetConf):
    """A plugin config nesting raw-keeping objects in a list and in a map."""

    delegates: list[NetConf] = field(default_factory=list)
    pools: dict[str, IPAMConf] = field(default_factory=dict)


def test_unknown_keys_written_back_at_every_depth() -> None:
    data = {
        "type": "multi",
        "delegates": [{"type": "a", "x": 1}, {"type": "b", "runtimeConfig": {"future": True}}],
        "pools": {"blue": {"type": "host-local", "subnet": "10.0.0.0/8"}, "red": {"rangeStart": "x"}},
        "top": [1, 2],
    }
    conf = decode(MultiConf, data)
    assert conf.delegates[0].extra == {"x": 1}
    assert conf.pools["red"] == IPAMConf()
    assert encode(conf) == data
