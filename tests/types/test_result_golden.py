"""Exact JSON of every result version: golden documents with every field set, and the omit rules."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from pathlib import Path
from typing import Any

import pytest

from rscni_py.types import DNS, AnyResult, Interface, IPConfig, Result, Route, parse_result, v0_2, v0_4

GOLDEN = Path(__file__).parent / "golden"
ALL_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


def golden(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"result-{version}.json").read_text())
    return data


FULL_DNS = DNS(
    nameservers=["10.1.2.53", "2001:db8::53"],
    domain="example.com",
    search=["example.com", "svc.example.com"],
    options=["ndots:5", "edns0"],
)
FULL_ROUTES = [
    Route(IPv4Interface("0.0.0.0/0"), IPv4Address("10.1.2.1"), mtu=1450, advmss=1400, priority=100, table=0, scope=0),
    Route(
        IPv4Interface("192.168.0.0/16"),
        IPv4Address("10.1.2.254"),
        mtu=1500,
        advmss=1460,
        priority=10,
        table=50,
        scope=253,
    ),
    Route(
        IPv6Interface("2001:db8:ff::/48"),
        IPv6Address("2001:db8::1"),
        mtu=1400,
        advmss=1340,
        priority=5,
        table=7,
        scope=200,
    ),
    Route(IPv6Interface("::/0"), IPv6Address("2001:db8::1")),
]


def built_v1(version: str) -> Result:
    return Result(
        interfaces=[
            Interface(
                "eth0", "00:11:22:33:44:55", 1500, "/var/run/netns/blue", "/run/vhost-user/sock0", "0000:3b:00.1"
            ),
            Interface(
                name="veth1234",
                mac="aa:bb:cc:dd:ee:ff",
                mtu=9000,
                socket_path="/run/vhost-user/sock1",
                pci_id="0000:3b:00.2",
            ),
        ],
        ips=[
            IPConfig(IPv4Interface("10.1.2.3/24"), IPv4Address("10.1.2.1"), 0),
            IPConfig(IPv6Interface("2001:db8::3/64"), IPv6Address("2001:db8::1"), 0),
            IPConfig(address=IPv4Interface("10.9.8.7/16"), gateway=IPv4Address("10.9.0.1"), interface=1),
        ],
        routes=FULL_ROUTES,
        dns=FULL_DNS,
        cni_version=version,
    )


def built_v04(version: str) -> v0_4.Result:
    return v0_4.Result(
        interfaces=[
            v0_4.Interface("eth0", "00:11:22:33:44:55", "/var/run/netns/blue"),
            v0_4.Interface("veth1234", "aa:bb:cc:dd:ee:ff"),
        ],
        ips=[
            v0_4.IPConfig("4", IPv4Interface("10.1.2.3/24"), IPv4Address("10.1.2.1"), 0),
            v0_4.IPConfig("6", IPv6Interface("2001:db8::3/64"), IPv6Address("2001:db8::1"), 0),
            v0_4.IPConfig("4", IPv4Interface("10.9.8.7/16"), IPv4Address("10.9.0.1"), 1),
        ],
        routes=FULL_ROUTES,
        dns=FULL_DNS,
        cni_version=version,
    )


def built_v02(version: str) -> v0_2.Result:
    return v0_2.Result(
        ip4=v0_2.IPConfig(
            IPv4Interface("10.1.2.3/24"),
            IPv4Address("10.1.2.1"),
            [
                Route(IPv4Interface("0.0.0.0/0"), IPv4Address("10.1.2.1")),
                Route(IPv4Interface("192.168.0.0/16"), IPv4Address("10.1.2.254")),
            ],
        ),
        ip6=v0_2.IPConfig(
            IPv6Interface("2001:db8::3/64"),
            IPv6Address("2001:db8::1"),
            [
                Route(IPv6Interface("2001:db8:ff::/48"), IPv6Address("2001:db8::1")),
                Route(IPv6Interface("::/0"), IPv6Address("2001:db8::1")),
            ],
        ),
        dns=FULL_DNS,
        cni_version=version,
    )


def built(version: str) -> AnyResult:
    if version.startswith("1."):
        return built_v1(version)
    if version in ("0.1.0", "0.2.0"):
        return built_v02(version)
    return built_v04(version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_golden_decodes_to_the_built_object(version: str) -> None:
    assert parse_result(golden(version)) == built(version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_built_object_encodes_to_the_golden(version: str) -> None:
    encoded = built(version).to_dict()
    assert encoded == golden(version)
    # JSON-ready: survives the json module unchanged.
    assert json.loads(json.dumps(encoded)) == encoded


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_golden_round_trips(version: str) -> None:
    assert parse_result(golden(version)).to_dict() == golden(version)


# Omit rules, one case per rule (Go's omitempty tags in pkg/types).
OMIT_CASES: list[tuple[str, AnyResult, dict[str, Any]]] = [
    # empty results: 1.x writes only cniVersion; 0.x always writes dns, as {} when empty
    ("empty-1.1.0", Result(), {"cniVersion": "1.1.0"}),
    ("empty-1.0.0", Result(cni_version="1.0.0"), {"cniVersion": "1.0.0"}),
    ("empty-0.4.0", v0_4.Result(), {"cniVersion": "0.4.0", "dns": {}}),
    ("empty-0.3.1", v0_4.Result(cni_version="0.3.1"), {"cniVersion": "0.3.1", "dns": {}}),
    ("empty-0.2.0", v0_2.Result(), {"cniVersion": "0.2.0", "dns": {}}),
    ("empty-0.1.0", v0_2.Result(cni_version="0.1.0"), {"cniVersion": "0.1.0", "dns": {}}),
    # an empty cniVersion is written as the shape's implemented version
    ("blank-version-1.x", Result(cni_version=""), {"cniVersion": "1.1.0"}),
    ("blank-version-0.4", v0_4.Result(cni_version=""), {"cniVersion": "0.4.0", "dns": {}}),
    ("blank-version-0.2", v0_2.Result(cni_version=""), {"cniVersion": "0.2.0", "dns": {}}),
    # 1.x: a dns with one key set is written with that key only
    ("dns-domain-only", Result(dns=DNS(domain="a.b")), {"cniVersion": "1.1.0", "dns": {"domain": "a.b"}}),
    # interface index 0 is kept, None is left out; interface name is written even when empty
    (
        "interface-index-0",
        Result(
            interfaces=[Interface()],
            ips=[IPConfig(IPv4Interface("10.0.0.2/8"), interface=0), IPConfig(IPv6Interface("fd00::2/64"))],
        ),
        {
            "cniVersion": "1.1.0",
            "interfaces": [{"name": ""}],
            "ips": [{"address": "10.0.0.2/8", "interface": 0}, {"address": "fd00::2/64"}],
        },
    ),
    # 0.4: version is always written, interface 0 kept
    (
        "version-always-0.4",
        v0_4.Result(ips=[v0_4.IPConfig("6", IPv6Interface("fd00::2/64"), interface=0)]),
        {"cniVersion": "0.4.0", "ips": [{"version": "6", "address": "fd00::2/64", "interface": 0}], "dns": {}},
    ),
    # route: mtu/advmss/priority 0 mean unset, table/scope 0 are real values
    (
        "route-zero-values",
        Result(routes=[Route(IPv4Interface("10.0.0.0/8"), mtu=0, advmss=0, priority=0, table=0, scope=0)]),
        {"cniVersion": "1.1.0", "routes": [{"dst": "10.0.0.0/8", "table": 0, "scope": 0}]},
    ),
    # host bits of a CIDR are kept
    (
        "host-bits-kept",
        Result(ips=[IPConfig(IPv4Interface("10.1.2.3/8"))]),
        {"cniVersion": "1.1.0", "ips": [{"address": "10.1.2.3/8"}]},
    ),
    # 0.2: ip always written, gateway and routes left out when unset
    (
        "ip4-minimal",
        v0_2.Result(ip4=v0_2.IPConfig(IPv4Interface("10.0.0.2/8"))),
        {"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/8"}, "dns": {}},
    ),
]


@pytest.mark.parametrize(("result", "expected"), [c[1:] for c in OMIT_CASES], ids=[c[0] for c in OMIT_CASES])
def test_omit_rules(result: AnyResult, expected: dict[str, Any]) -> None:
    assert result.to_dict() == expected
