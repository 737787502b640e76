"""Conversion between every pair of result versions (the rules of rscni_py/types/convert.py)."""

from __future__ import annotations

import copy
import json
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from pathlib import Path
from typing import Any

import pytest

from rscni_py.types import ConversionError, Interface, IPConfig, Result, Route, parse_result, v0_2, v0_4

GOLDEN = Path(__file__).parent / "golden"
ALL_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# IPv4-mapped IPv6 addresses as this Python writes them: 3.13 writes the IPv4 part dotted ("::ffff:10.0.0.2").
MAPPED_HOST = str(IPv6Address("::ffff:10.0.0.2"))
MAPPED_NET = str(IPv6Address("::ffff:10.0.0.0"))


def golden(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"result-{version}.json").read_text())
    return data


def shape(version: str) -> str:
    return {"0.1.0": "0.2", "0.2.0": "0.2", "1.0.0": "1.0", "1.1.0": "1.0"}.get(version, "0.4")


def body(version: str) -> dict[str, Any]:
    data = golden(version)
    del data["cniVersion"]
    return data


# 0.4 -> 1.x: interfaces come over with name, mac and sandbox only; ips lose version.
FROM_04_TO_1X: dict[str, Any] = {
    "interfaces": [
        {"name": "eth0", "mac": "00:11:22:33:44:55", "sandbox": "/var/run/netns/blue"},
        {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:ff"},
    ],
    "ips": [
        {"interface": 0, "address": "10.1.2.3/24", "gateway": "10.1.2.1"},
        {"interface": 0, "address": "2001:db8::3/64", "gateway": "2001:db8::1"},
        {"interface": 1, "address": "10.9.8.7/16", "gateway": "10.9.0.1"},
    ],
    "routes": body("0.4.0")["routes"],
    "dns": body("0.4.0")["dns"],
}

# 0.2 -> 0.4: ip4 then ip6, no interface index; routes of ip4 then of ip6; no interfaces.
FROM_02_TO_04: dict[str, Any] = {
    "ips": [
        {"version": "4", "address": "10.1.2.3/24", "gateway": "10.1.2.1"},
        {"version": "6", "address": "2001:db8::3/64", "gateway": "2001:db8::1"},
    ],
    "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.1.2.1"},
        {"dst": "192.168.0.0/16", "gw": "10.1.2.254"},
        {"dst": "2001:db8:ff::/48", "gw": "2001:db8::1"},
        {"dst": "::/0", "gw": "2001:db8::1"},
    ],
    "dns": body("0.2.0")["dns"],
}
FROM_02_TO_1X: dict[str, Any] = {
    **FROM_02_TO_04,
    "ips": [{"address": "10.1.2.3/24", "gateway": "10.1.2.1"}, {"address": "2001:db8::3/64", "gateway": "2001:db8::1"}],
}

# Expected body (everything but cniVersion) for (from shape, to shape). The goldens were written so
# that a down-conversion of the richer golden is exactly the poorer golden:
# 1.x -> 0.4 drops interface mtu/socketPath/pciID and adds version; 1.x/0.4 -> 0.2 keeps the first
# IPv4 and IPv6 address (10.9.8.7/16 is dropped) and only dst/gw of each route.
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("1.0", "1.0"): body("1.1.0"),
    ("1.0", "0.4"): body("0.4.0"),
    ("1.0", "0.2"): body("0.2.0"),
    ("0.4", "1.0"): FROM_04_TO_1X,
    ("0.4", "0.4"): body("0.4.0"),
    ("0.4", "0.2"): body("0.2.0"),
    ("0.2", "1.0"): FROM_02_TO_1X,
    ("0.2", "0.4"): FROM_02_TO_04,
    ("0.2", "0.2"): body("0.2.0"),
}

PAIRS = [(source, target) for source in ALL_VERSIONS for target in ALL_VERSIONS]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_every_version_pair(source: str, target: str) -> None:
    original = parse_result(golden(source))
    before = copy.deepcopy(original)
    converted = original.convert(target)
    assert converted.to_dict() == {"cniVersion": target, **EXPECTED[(shape(source), shape(target))]}
    assert converted.cni_version == target
    assert original == before, "conversion must not modify its input"
    if source == target:
        assert converted is original
    else:
        assert converted is not original


def test_converted_result_shares_nothing_mutable() -> None:
    original = parse_result(golden("1.0.0"))
    converted = original.convert("1.1.0")
    assert isinstance(converted, Result)
    converted.routes[0].mtu = 9999
    converted.dns.search.append("x")
    converted.interfaces.clear()
    assert original == parse_result(golden("1.0.0"))


# The one refusal: a result without IPs cannot become 0.1.0/0.2.0.
REFUSALS = [
    ("1.1.0-no-ips", Result(routes=[Route(IPv4Interface("10.0.0.0/8"))]), "0.2.0"),
    ("1.0.0-no-ips", Result(cni_version="1.0.0", interfaces=[Interface("eth0")]), "0.1.0"),
    ("0.4.0-no-ips", v0_4.Result(), "0.2.0"),
    ("0.3.0-no-ips", v0_4.Result(cni_version="0.3.0"), "0.1.0"),
    ("empty-target-means-0.1.0", Result(), ""),
]


@pytest.mark.parametrize(("result", "target"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusal_without_ips(result: Result | v0_4.Result, target: str) -> None:
    with pytest.raises(ConversionError) as info:
        result.convert(target)
    assert str(info.value) == "cannot convert: no valid IP addresses"


UNKNOWN = [
    ("unknown-target", Result(), "9.9.9", "no converter for CNI result version 1.1.0 to 9.9.9"),
    ("short-form-is-not-a-version", v0_4.Result(), "1.0", "no converter for CNI result version 0.4.0 to 1.0"),
    (
        "blank-source-uses-implemented",
        v0_2.Result(cni_version=""),
        "2.0.0",
        "no converter for CNI result version 0.2.0 to 2.0.0",
    ),
    (
        "source-version-of-another-shape",
        v0_4.Result(cni_version="1.1.0"),
        "1.1.0",
        "no converter for CNI result version 1.1.0 to 1.1.0",
    ),
]


@pytest.mark.parametrize(("result", "target", "message"), [c[1:] for c in UNKNOWN], ids=[c[0] for c in UNKNOWN])
def test_unknown_versions(result: Result | v0_4.Result | v0_2.Result, target: str, message: str) -> None:
    with pytest.raises(ConversionError) as info:
        result.convert(target)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_empty_target_means_0_1_0() -> None:
    converted = Result(ips=[IPConfig(IPv4Interface("10.0.0.2/8"))]).convert("")
    assert converted.to_dict() == {"cniVersion": "0.1.0", "ip4": {"ip": "10.0.0.2/8"}, "dns": {}}


def test_blank_source_version_converts_as_implemented_version() -> None:
    converted = v0_4.Result(cni_version="", ips=[v0_4.IPConfig("4", IPv4Interface("10.0.0.2/8"))]).convert("1.0.0")
    assert converted.to_dict() == {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/8"}]}


# Down to 0.2 details: a route whose family has no ipN is dropped; IPv4-mapped IPv6 counts as IPv4
# (Go's To4()); further IPs of a family are dropped, not refused.
DOWN_TO_02 = [
    (
        "route-without-matching-family-dropped",
        Result(
            ips=[IPConfig(IPv4Interface("10.0.0.2/8"), IPv4Address("10.0.0.1"))],
            routes=[Route(IPv6Interface("::/0"), IPv6Address("fd00::1")), Route(IPv4Interface("0.0.0.0/0"))],
        ),
        {
            "cniVersion": "0.2.0",
            "ip4": {"ip": "10.0.0.2/8", "gateway": "10.0.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
            "dns": {},
        },
    ),
    (
        "ipv6-only",
        Result(ips=[IPConfig(IPv6Interface("fd00::2/64"))], routes=[Route(IPv4Interface("0.0.0.0/0"))]),
        {"cniVersion": "0.2.0", "ip6": {"ip": "fd00::2/64"}, "dns": {}},
    ),
    (
        "ipv4-mapped-counts-as-ipv4",
        Result(
            ips=[IPConfig(IPv6Interface("::ffff:10.0.0.2/120"))], routes=[Route(IPv6Interface("::ffff:10.0.0.0/104"))]
        ),
        {
            "cniVersion": "0.2.0",
            "ip4": {"ip": f"{MAPPED_HOST}/120", "routes": [{"dst": f"{MAPPED_NET}/104"}]},
            "dns": {},
        },
    ),
    (
        "extra-ips-dropped",
        Result(ips=[IPConfig(IPv6Interface("fd00::2/64")), IPConfig(IPv6Interface("fd00::3/64"))]),
        {"cniVersion": "0.2.0", "ip6": {"ip": "fd00::2/64"}, "dns": {}},
    ),
]


@pytest.mark.parametrize(("result", "expected"), [c[1:] for c in DOWN_TO_02], ids=[c[0] for c in DOWN_TO_02])
def test_down_to_0_2_details(result: Result, expected: dict[str, Any]) -> None:
    assert result.convert("0.2.0").to_dict() == expected


def test_0_4_version_string_decides_the_family_going_down() -> None:
    # Go trusts the version field, not the address.
    result = v0_4.Result(ips=[v0_4.IPConfig("6", IPv4Interface("10.0.0.2/8"))])
    assert result.convert("0.2.0").to_dict() == {"cniVersion": "0.2.0", "ip6": {"ip": "10.0.0.2/8"}, "dns": {}}


def test_1x_to_0_4_computes_version_from_the_address() -> None:
    result = Result(ips=[IPConfig(IPv6Interface("::ffff:10.0.0.2/120")), IPConfig(IPv6Interface("fd00::2/64"))])
    assert result.convert("0.4.0").to_dict() == {
        "cniVersion": "0.4.0",
        "ips": [{"version": "4", "address": f"{MAPPED_HOST}/120"}, {"version": "6", "address": "fd00::2/64"}],
        "dns": {},
    }


@pytest.mark.parametrize(
    ("ip4", "ip6", "versions"),
    [(True, False, ["4"]), (False, True, ["6"]), (True, True, ["4", "6"])],
    ids=["ip4-only", "ip6-only", "both"],
)
def test_v02_to_v04_keeps_each_family_present(ip4: bool, ip6: bool, versions: list[str]) -> None:
    old = v0_2.Result(
        ip4=v0_2.IPConfig(IPv4Interface("10.0.0.2/24")) if ip4 else None,
        ip6=v0_2.IPConfig(IPv6Interface("fd00::2/64")) if ip6 else None,
    )
    assert [ip.version for ip in old.convert("0.4.0").ips] == versions  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "result",
    [
        Result(cni_version="0.4.0"),
        Result(cni_version="0.2.0"),
        v0_4.Result(cni_version="1.0.0"),
        v0_4.Result(cni_version="0.2.0"),
        v0_2.Result(cni_version="0.4.0"),
        v0_2.Result(cni_version="1.1.0"),
    ],
    ids=lambda r: f"{type(r).__module__.rpartition('.')[2]}-as-{r.cni_version}",
)
def test_a_version_its_shape_does_not_have_is_refused(result: Any) -> None:
    with pytest.raises(ConversionError) as info:
        result.convert("0.3.1")
    assert str(info.value) == f"no converter for CNI result version {result.cni_version} to 0.3.1"


def test_v04_to_v02_takes_the_first_address_of_each_family_only() -> None:
    # A second IPv4 address must not end up as ip6 when there is no IPv6 one.
    result = v0_4.Result(
        ips=[
            v0_4.IPConfig("4", IPv4Interface("10.0.0.2/24")),
            v0_4.IPConfig("4", IPv4Interface("10.0.1.2/24")),
        ]
    )
    assert result.convert("0.2.0").to_dict() == {"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}, "dns": {}}
