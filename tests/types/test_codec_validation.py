"""Decode validation: our own type check against the dataclass hints, with exact paths and reasons."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any, Literal

import pytest

from rscni_py._base.strict_json import json_type
from rscni_py.types import DNS, Interface, IPConfig, NetConf, Result, Route, v0_2, v0_4
from rscni_py.types.codec import (
    FieldError,
    IPAddress,
    IPInterface,
    LooseBool,
    MACAddress,
    decode,
    encode,
    json_field,
    parse_cidr,
    parse_ip,
)
from rscni_py.types.runtime_config import Bandwidth, RuntimeConfig


@dataclass
class Kitchen:
    """Every hint kind the codec supports, for codec-level cases."""

    number: float = 0.0
    anything: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    choice: Literal[1, 2, "x"] = 1
    either: int | str = 0
    maybe_list: list[int] | None = None
    nested: list[list[IPAddress]] = field(default_factory=list)
    v4only: IPv4Address | None = None
    v6net: IPv6Interface | None = None
    loose: LooseBool = False
    mac: MACAddress = ""
    inner: DNS | None = None


VALID: list[tuple[str, type[Any], object, object]] = [
    # results
    (
        "interface-all-fields",
        Interface,
        {"name": "eth0", "mac": "00:11:22:33:44:55", "mtu": 1500, "sandbox": "/n", "socketPath": "/s", "pciID": "p"},
        Interface("eth0", "00:11:22:33:44:55", 1500, "/n", "/s", "p"),
    ),
    ("interface-empty-object", Interface, {}, Interface()),
    (
        "interface-negative-index",
        IPConfig,
        {"address": "10.0.0.1/8", "interface": -1},
        IPConfig(IPv4Interface("10.0.0.1/8"), None, -1),
    ),
    (
        "ipv6-with-gateway",
        IPConfig,
        {"address": "fd00::5/64", "gateway": "fd00::1"},
        IPConfig(IPv6Interface("fd00::5/64"), IPv6Address("fd00::1")),
    ),
    (
        "gateway-null-is-unset",
        IPConfig,
        {"address": "10.0.0.1/8", "gateway": None},
        IPConfig(IPv4Interface("10.0.0.1/8")),
    ),
    # Go's types.IP reads "" as unset
    (
        "gateway-empty-is-unset",
        IPConfig,
        {"address": "10.0.0.1/8", "gateway": ""},
        IPConfig(IPv4Interface("10.0.0.1/8")),
    ),
    ("gw-empty-is-unset", Route, {"dst": "::/0", "gw": ""}, Route(IPv6Interface("::/0"))),
    ("single-family-ip-empty-is-unset", Kitchen, {"v4only": ""}, Kitchen()),
    (
        "unknown-keys-ignored",
        IPConfig,
        {"address": "10.0.0.1/8", "version": "4", "x": [1]},
        IPConfig(IPv4Interface("10.0.0.1/8")),
    ),
    (
        "route-table-zero",
        Route,
        {"dst": "10.0.0.0/8", "table": 0, "scope": 0},
        Route(IPv4Interface("10.0.0.0/8"), table=0, scope=0),
    ),
    ("mac-hyphens", Interface, {"mac": "00-11-22-33-44-55"}, Interface(mac="00-11-22-33-44-55")),
    ("mac-dots", Interface, {"mac": "0011.2233.4455"}, Interface(mac="0011.2233.4455")),
    ("mac-infiniband-20-octets", Interface, {"mac": ":".join(["ab"] * 20)}, Interface(mac=":".join(["ab"] * 20))),
    ("mac-8-octets", Interface, {"mac": "00:11:22:33:44:55:66:77"}, Interface(mac="00:11:22:33:44:55:66:77")),
    (
        "v0_4-ipconfig",
        v0_4.IPConfig,
        {"version": "6", "address": "fd00::5/64"},
        v0_4.IPConfig("6", IPv6Interface("fd00::5/64")),
    ),
    (
        "v0_2-route-fields-shared",
        v0_2.IPConfig,
        {"ip": "10.0.0.1/8", "routes": [{"dst": "1.0.0.0/8", "mtu": 9}]},
        v0_2.IPConfig(IPv4Interface("10.0.0.1/8"), routes=[Route(IPv4Interface("1.0.0.0/8"), mtu=9)]),
    ),
    # codec-level kinds
    ("float-accepts-integer", Kitchen, {"number": 3}, Kitchen(number=3.0)),
    ("float", Kitchen, {"number": 2.5}, Kitchen(number=2.5)),
    ("any-keeps-anything", Kitchen, {"anything": {"a": [None, True]}}, Kitchen(anything={"a": [None, True]})),
    ("dict-of-int", Kitchen, {"counts": {"a": 1, "b": -2}}, Kitchen(counts={"a": 1, "b": -2})),
    ("literal-int", Kitchen, {"choice": 2}, Kitchen(choice=2)),
    ("literal-str", Kitchen, {"choice": "x"}, Kitchen(choice="x")),
    ("union-second-arm", Kitchen, {"either": "s"}, Kitchen(either="s")),
    ("optional-list-null", Kitchen, {"maybe_list": None}, Kitchen()),
    (
        "nested-lists-of-ips",
        Kitchen,
        {"nested": [["10.0.0.1", "::1"], []]},
        Kitchen(nested=[[IPv4Address("10.0.0.1"), IPv6Address("::1")], []]),
    ),
    (
        "single-family-ip",
        Kitchen,
        {"v4only": "1.2.3.4", "v6net": "fd00::1/64"},
        Kitchen(v4only=IPv4Address("1.2.3.4"), v6net=IPv6Interface("fd00::1/64")),
    ),
    ("loose-bool-string", Kitchen, {"loose": "TRUE"}, Kitchen(loose=True)),
    ("loose-bool-false-string", Kitchen, {"loose": "False"}, Kitchen(loose=False)),
    ("nested-dataclass", Kitchen, {"inner": {"domain": "d"}}, Kitchen(inner=DNS(domain="d"))),
]


@pytest.mark.parametrize(("cls", "data", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid(cls: type[Any], data: object, expected: object) -> None:
    assert decode(cls, data) == expected


INVALID: list[tuple[str, type[Any], object, str, str]] = [
    # integers are integers: no strings, no booleans, no floats
    ("mtu-string", Interface, {"mtu": "1500"}, "mtu", 'expected an integer, got string "1500"'),
    ("mtu-bool", Interface, {"mtu": True}, "mtu", "expected an integer, got boolean true"),
    ("mtu-float", Interface, {"mtu": 1500.0}, "mtu", "expected an integer, got number 1500.0"),
    ("mtu-null", Interface, {"mtu": None}, "mtu", "expected an integer, got null"),
    (
        "index-string",
        IPConfig,
        {"address": "10.0.0.1/8", "interface": "0"},
        "interface",
        'expected an integer, got string "0"',
    ),
    (
        "route-table-bool",
        Route,
        {"dst": "10.0.0.0/8", "table": False},
        "table",
        "expected an integer, got boolean false",
    ),
    # strings are strings
    ("name-null", Interface, {"name": None}, "name", "expected a string, got null"),
    ("name-number", Interface, {"name": 7}, "name", "expected a string, got integer 7"),
    ("sandbox-array", Interface, {"sandbox": []}, "sandbox", "expected a string, got array"),
    # CIDRs
    ("cidr-prefix-too-long", IPConfig, {"address": "10.0.0.1/99"}, "address", 'invalid CIDR "10.0.0.1/99"'),
    ("cidr-without-prefix", IPConfig, {"address": "10.0.0.1"}, "address", 'invalid CIDR "10.0.0.1"'),
    ("cidr-netmask-form", IPConfig, {"address": "10.0.0.1/255.0.0.0"}, "address", 'invalid CIDR "10.0.0.1/255.0.0.0"'),
    ("cidr-zone", IPConfig, {"address": "fe80::1%eth0/64"}, "address", 'invalid CIDR "fe80::1%eth0/64"'),
    ("cidr-v6-prefix-129", IPConfig, {"address": "fd00::1/129"}, "address", 'invalid CIDR "fd00::1/129"'),
    ("cidr-leading-zero-octet", IPConfig, {"address": "10.0.0.01/8"}, "address", 'invalid CIDR "10.0.0.01/8"'),
    ("cidr-space", IPConfig, {"address": "10.0.0.1/ 8"}, "address", 'invalid CIDR "10.0.0.1/ 8"'),
    ("cidr-empty", IPConfig, {"address": ""}, "address", 'invalid CIDR ""'),
    ("optional-cidr-empty-is-not-unset", Kitchen, {"v6net": ""}, "v6net", 'invalid CIDR ""'),
    ("ip-list-entry-empty", Kitchen, {"nested": [[""]]}, "nested[0][0]", 'invalid IP address ""'),
    ("cidr-number", IPConfig, {"address": 167772161}, "address", "expected a CIDR string, got integer 167772161"),
    ("cidr-missing", IPConfig, {}, "address", "required field missing"),
    ("route-dst-missing", Route, {"gw": "10.0.0.1"}, "dst", "required field missing"),
    # IPs
    (
        "ip-garbage",
        IPConfig,
        {"address": "10.0.0.1/8", "gateway": "10.0.0.x"},
        "gateway",
        'invalid IP address "10.0.0.x"',
    ),
    ("ip-with-prefix", Route, {"dst": "10.0.0.0/8", "gw": "10.0.0.1/8"}, "gw", 'invalid IP address "10.0.0.1/8"'),
    ("ip-zone", Route, {"dst": "::/0", "gw": "fe80::1%eth0"}, "gw", 'invalid IP address "fe80::1%eth0"'),
    ("ip-object", Route, {"dst": "::/0", "gw": {}}, "gw", "expected an IP address string, got object"),
    ("ip-wrong-family", Kitchen, {"v4only": "::1"}, "v4only", 'invalid IPv4 address "::1"'),
    ("cidr-wrong-family", Kitchen, {"v6net": "10.0.0.0/8"}, "v6net", 'invalid IPv6 CIDR "10.0.0.0/8"'),
    # MACs
    ("mac-short", Interface, {"mac": "00:11:22:33:44"}, "mac", 'invalid MAC address "00:11:22:33:44"'),
    ("mac-mixed-separators", Interface, {"mac": "00:11:22-33:44:55"}, "mac", 'invalid MAC address "00:11:22-33:44:55"'),
    ("mac-not-hex", Interface, {"mac": "zz:11:22:33:44:55"}, "mac", 'invalid MAC address "zz:11:22:33:44:55"'),
    ("mac-7-octets", Interface, {"mac": "00:11:22:33:44:55:66"}, "mac", 'invalid MAC address "00:11:22:33:44:55:66"'),
    ("mac-number", Interface, {"mac": 1}, "mac", "expected a string, got integer 1"),
    # literals
    (
        "version-5",
        v0_4.IPConfig,
        {"version": "5", "address": "10.0.0.1/8"},
        "version",
        'expected one of "4", "6", got string "5"',
    ),
    (
        "version-int",
        v0_4.IPConfig,
        {"version": 4, "address": "10.0.0.1/8"},
        "version",
        'expected one of "4", "6", got integer 4',
    ),
    ("version-missing", v0_4.IPConfig, {"address": "10.0.0.1/8"}, "version", "required field missing"),
    ("literal-bool-is-not-1", Kitchen, {"choice": True}, "choice", 'expected one of 1, 2, "x", got boolean true'),
    # containers and paths
    ("ips-object", Result, {"ips": {}}, "ips", "expected an array, got object"),
    ("ips-null", Result, {"ips": None}, "ips", "expected an array, got null"),
    (
        "second-ip-bad",
        Result,
        {"ips": [{"address": "10.0.0.1/8"}, {"address": "10.0.0.1/99"}]},
        "ips[1].address",
        'invalid CIDR "10.0.0.1/99"',
    ),
    ("route-in-list", Result, {"routes": [{"dst": "::/0"}, {"gw": "::1"}]}, "routes[1].dst", "required field missing"),
    (
        "dns-nameservers-string",
        Result,
        {"dns": {"nameservers": "8.8.8.8"}},
        "dns.nameservers",
        'expected an array, got string "8.8.8.8"',
    ),
    (
        "dns-nameserver-number",
        Result,
        {"dns": {"nameservers": [8]}},
        "dns.nameservers[0]",
        "expected a string, got integer 8",
    ),
    ("dns-array", Result, {"dns": []}, "dns", "expected an object, got array"),
    (
        "interface-not-object",
        Result,
        {"interfaces": ["eth0"]},
        "interfaces[0]",
        'expected an object, got string "eth0"',
    ),
    (
        "v0_2-route",
        v0_2.Result,
        {"ip4": {"ip": "10.0.0.1/8", "routes": [{"dst": "x"}]}},
        "ip4.routes[0].dst",
        'invalid CIDR "x"',
    ),
    ("dict-value", Kitchen, {"counts": {"a": "1"}}, "counts.a", 'expected an integer, got string "1"'),
    ("dict-not-object", Kitchen, {"counts": [1]}, "counts", "expected an object, got array"),
    ("union-no-arm", Kitchen, {"either": 1.5}, "either", "expected an integer or a string, got number 1.5"),
    ("float-string", Kitchen, {"number": "1.5"}, "number", 'expected a number, got string "1.5"'),
    ("float-bool", Kitchen, {"number": False}, "number", "expected a number, got boolean false"),
    (
        "loose-bool-other-string",
        Kitchen,
        {"loose": "yes"},
        "loose",
        'expected a boolean or "true"/"false", got string "yes"',
    ),
    ("loose-bool-number", Kitchen, {"loose": 1}, "loose", 'expected a boolean or "true"/"false", got integer 1'),
    ("nested-list-item", Kitchen, {"nested": [[], ["1.2.3.4", "x"]]}, "nested[1][1]", 'invalid IP address "x"'),
    # configuration
    (
        "capability-string",
        NetConf,
        {"capabilities": {"portMappings": "yes"}},
        "capabilities.portMappings",
        'expected a boolean, got string "yes"',
    ),
    ("ipmasq-string", NetConf, {"ipMasq": "true"}, "ipMasq", 'expected a boolean, got string "true"'),
    (
        "runtime-ips",
        NetConf,
        {"runtimeConfig": {"ips": ["10.0.0.1", "10.0.0.1/33"]}},
        "runtimeConfig.ips[1]",
        'invalid IP address or CIDR "10.0.0.1/33"',
    ),
    (
        "runtime-ips-number",
        NetConf,
        {"runtimeConfig": {"ips": [1]}},
        "runtimeConfig.ips[0]",
        "expected an IP address or CIDR string, got integer 1",
    ),
    ("runtime-mac", NetConf, {"runtimeConfig": {"mac": "c2:11"}}, "runtimeConfig.mac", 'invalid MAC address "c2:11"'),
    (
        "port-mapping-port-string",
        NetConf,
        {"runtimeConfig": {"portMappings": [{"hostPort": "80", "containerPort": 80}]}},
        "runtimeConfig.portMappings[0].hostPort",
        'expected an integer, got string "80"',
    ),
    (
        "ip-ranges-subnet",
        NetConf,
        {"runtimeConfig": {"ipRanges": [[{"subnet": "10.0.0.0/8"}], [{"subnet": "bad"}]]}},
        "runtimeConfig.ipRanges[1][0].subnet",
        'invalid CIDR "bad"',
    ),
    (
        "attachment-missing-id",
        NetConf,
        {"cni.dev/valid-attachments": [{"ifname": "eth0"}]},
        "cni.dev/valid-attachments[0].containerID",
        "required field missing",
    ),
    (
        "old-attachment-key-path",
        NetConf,
        {"cni.dev/attachments": [{"containerID": 1, "ifname": "eth0"}]},
        "cni.dev/attachments[0].containerID",
        "expected a string, got integer 1",
    ),
    ("ipam-type-number", NetConf, {"ipam": {"type": 3}}, "ipam.type", "expected a string, got integer 3"),
    ("args-array", NetConf, {"args": []}, "args", "expected an object, got array"),
    ("prev-result-string", NetConf, {"prevResult": "x"}, "prevResult", 'expected an object, got string "x"'),
    ("bandwidth-float", Bandwidth, {"ingressRate": 1e6}, "ingressRate", "expected an integer, got number 1000000.0"),
    ("runtime-config-top", RuntimeConfig, {"aliases": "a"}, "aliases", 'expected an array, got string "a"'),
]


@pytest.mark.parametrize(("cls", "data", "path", "reason"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid(cls: type[Any], data: object, path: str, reason: str) -> None:
    with pytest.raises(FieldError) as info:
        decode(cls, data)
    assert (info.value.path, info.value.reason, str(info.value)) == (path, reason, f"{path}: {reason}")


def test_top_level_not_an_object() -> None:
    with pytest.raises(FieldError) as info:
        decode(Result, [])
    assert (info.value.path, info.value.reason, str(info.value)) == (
        "",
        "expected an object, got array",
        "expected an object, got array",
    )


def test_path_prefix() -> None:
    with pytest.raises(FieldError) as info:
        decode(Result, {"routes": [{"dst": "::/0", "gw": "g"}]}, path="prevResult")
    assert str(info.value) == 'prevResult.routes[0].gw: invalid IP address "g"'


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(FieldError) as info:
        decode(Interface, {"mtu": "9" * 100})
    assert info.value.reason == 'expected an integer, got string "' + "9" * 61 + '..."'


def test_field_error_is_a_value_error_and_pickles() -> None:
    err = FieldError("ips[0].address", "bad")
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.reason, str(copy)) == ("ips[0].address", "bad", "ips[0].address: bad")


def test_decode_needs_a_dataclass() -> None:
    with pytest.raises(TypeError):
        decode(dict, {})


def test_encode_needs_a_dataclass_instance() -> None:
    with pytest.raises(TypeError):
        encode(Result)
    with pytest.raises(TypeError):
        encode({"a": 1})


def test_unsupported_hint_is_a_programming_error() -> None:
    @dataclass
    class Odd:
        when: complex = 0j

    with pytest.raises(TypeError, match="unsupported type hint"):
        decode(Odd, {"when": 1})


DESCRIPTIONS: list[tuple[object, str, str]] = [
    (None, "null", "null"),
    (True, "boolean true", "boolean"),
    (0, "integer 0", "number"),
    (0.5, "number 0.5", "number"),
    ('a"b', 'string "a\\"b"', "string"),
    ("x" * 70, f'string "{"x" * 61}..."', "string"),
    ([1], "array", "array"),
    ({}, "object", "object"),
]


@pytest.mark.parametrize(("value", "text", "kind"), DESCRIPTIONS, ids=[d[1][:20] for d in DESCRIPTIONS])
def test_json_type(value: object, text: str, kind: str) -> None:
    assert (json_type(value, with_value=True), json_type(value)) == (text, kind)


ADDRESSES = [
    ("10.1.2.3/24", IPv4Interface("10.1.2.3/24")),
    ("2001:db8::3/64", IPv6Interface("2001:db8::3/64")),
    ("0.0.0.0/0", IPv4Interface("0.0.0.0/0")),
    ("10.1.2.3/024", IPv4Interface("10.1.2.3/24")),
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_parse_cidr_keeps_host_bits(text: str, expected: IPInterface) -> None:
    assert parse_cidr(text) == expected
    assert str(parse_cidr(text).ip) == text.split("/", maxsplit=1)[0]


def test_parse_ip() -> None:
    assert parse_ip("::ffff:1.2.3.4") == IPv6Address("::ffff:1.2.3.4")
    with pytest.raises(ValueError, match=r'invalid IP address "1\.2\.3"'):
        parse_ip("1.2.3")


# Subclassing with json_field: the JSON key, omit rules and aliases of a plugin's own fields.
@dataclass(kw_only=True)
class BridgeConf(NetConf):
    bridge: str
    is_gateway: bool = json_field("isGateway", default=False)
    hairpin_mode: bool = json_field("hairpinMode", default=False, omit="empty")
    vlan: int | None = json_field(default=None, omit="none")
    old_name: str = json_field("newName", default="", aliases=("oldName",), omit="empty")
    mtu: int = 0


def test_subclass_decode_and_encode() -> None:
    conf = decode(
        BridgeConf,
        {
            "cniVersion": "1.0.0",
            "name": "n",
            "type": "bridge",
            "bridge": "br0",
            "isGateway": True,
            "oldName": "x",
            "other": 1,
        },
    )
    assert conf == BridgeConf(cni_version="1.0.0", name="n", type="bridge", bridge="br0", is_gateway=True, old_name="x")
    assert conf.extra == {"other": 1}
    assert encode(conf) == {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "bridge",
        "bridge": "br0",
        "isGateway": True,
        "newName": "x",
        "mtu": 0,
        "other": 1,
    }


def test_subclass_required_field_and_types() -> None:
    with pytest.raises(FieldError) as info:
        decode(BridgeConf, {"type": "bridge"})
    assert str(info.value) == "bridge: required field missing"
    with pytest.raises(FieldError) as info:
        decode(BridgeConf, {"bridge": "b", "isGateway": "yes"})
    assert str(info.value) == 'isGateway: expected a boolean, got string "yes"'


def test_json_field_rejects_two_defaults() -> None:
    with pytest.raises(ValueError, match="not both"):
        json_field(default=1, default_factory=list)


# A plain @dataclass subclass works too: NetConf's fields are keyword-only, so a required field
# without a default may follow them.
@dataclass
class PlainConf(NetConf):
    device: str
    promisc: bool = json_field("promiscMode", default=False, omit="empty")


def test_plain_dataclass_subclass() -> None:
    conf = decode(PlainConf, {"type": "host-device", "device": "eth9", "promiscMode": True})
    assert conf == PlainConf("eth9", True, type="host-device")
    assert encode(conf) == {"type": "host-device", "device": "eth9", "promiscMode": True}
