"""Property tests (hypothesis): JSON round trips, lossless conversions, and down-conversions that drop
exactly what the spec drops."""

from __future__ import annotations

import dataclasses
import json
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Literal, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from rscni_py.types import DNS, ConversionError, Interface, IPConfig, Result, Route, parse_result, v0_2, v0_4
from rscni_py.types.codec import IPAddress, IPInterface

R = TypeVar("R", Result, v0_4.Result)

# --- strategies -------------------------------------------------------------------------------------

ipv4 = st.integers(0, 2**32 - 1).map(IPv4Address)
# IPv4-mapped IPv6 addresses count as IPv4 for Go's conversions; keep them out of "family" strategies
# (test_result_convert.py covers them explicitly).
ipv6 = st.integers(0, 2**128 - 1).map(IPv6Address).filter(lambda a: a.ipv4_mapped is None)
cidr4 = st.builds(lambda a, p: IPv4Interface((int(a), p)), ipv4, st.integers(0, 32))
cidr6 = st.builds(lambda a, p: IPv6Interface((int(a), p)), ipv6, st.integers(0, 128))
any_cidr: st.SearchStrategy[IPInterface] = st.one_of(cidr4, cidr6)
any_ip: st.SearchStrategy[IPAddress] = st.one_of(ipv4, ipv6)
words = st.text(st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=12)
macs = st.one_of(st.just(""), st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)))
small = st.integers(0, 70000)
optional_small = st.none() | st.integers(-5, 300)

dns = st.builds(DNS, st.lists(words, max_size=3), words, st.lists(words, max_size=3), st.lists(words, max_size=3))


def routes(dst: st.SearchStrategy[IPInterface]) -> st.SearchStrategy[Route]:
    return st.builds(Route, dst, st.none() | any_ip, small, small, small, optional_small, optional_small)


def _indexes_in_range(result: R) -> R:
    """A result whose ``ips[].interface`` index its ``interfaces`` (others are dropped), as reading demands."""
    for ip in result.ips:
        if ip.interface is not None and not 0 <= ip.interface < len(result.interfaces):
            ip.interface = None
    return result


v1_interfaces = st.builds(Interface, words, macs, small, words, words, words)
v1_ips = st.builds(IPConfig, any_cidr, st.none() | any_ip, optional_small)
v1_results = st.builds(
    Result,
    st.lists(v1_interfaces, max_size=3),
    st.lists(v1_ips, max_size=4),
    st.lists(routes(any_cidr), max_size=4),
    dns,
    st.sampled_from(["1.0.0", "1.1.0"]),
).map(_indexes_in_range)


@st.composite
def v04_ip(draw: st.DrawFn) -> v0_4.IPConfig:
    version: Literal["4", "6"] = draw(st.sampled_from(["4", "6"]))
    address: IPInterface = draw(cidr4) if version == "4" else draw(cidr6)
    return v0_4.IPConfig(version, address, draw(st.none() | any_ip), draw(optional_small))


v04_results = st.builds(
    v0_4.Result,
    st.lists(st.builds(v0_4.Interface, words, macs, words), max_size=3),
    st.lists(v04_ip(), max_size=4),
    st.lists(routes(any_cidr), max_size=4),
    dns,
    st.sampled_from(["0.3.0", "0.3.1", "0.4.0"]),
).map(_indexes_in_range)


def v02_config(cidr: st.SearchStrategy[IPInterface]) -> st.SearchStrategy[v0_2.IPConfig]:
    # 0.2 routes carry only dst/gw, and each sits under the ipN of its own family.
    plain_routes = st.builds(Route, cidr, st.none() | any_ip)
    return st.builds(v0_2.IPConfig, cidr, st.none() | any_ip, st.lists(plain_routes, max_size=3))


v02_results = st.builds(
    v0_2.Result,
    st.none() | v02_config(cidr4),
    st.none() | v02_config(cidr6),
    dns,
    st.sampled_from(["0.1.0", "0.2.0"]),
)
any_results = st.one_of(v1_results, v04_results, v02_results)

# No per-example deadline: timing depends on the machine's load, and speed is the benchmark's job.
relaxed = settings(deadline=None)

# --- JSON round trips -------------------------------------------------------------------------------


@relaxed
@given(any_results)
def test_json_round_trip(result: Result | v0_4.Result | v0_2.Result) -> None:
    text = json.dumps(result.to_dict())
    assert parse_result(json.loads(text)) == result


# --- lossless conversions ---------------------------------------------------------------------------


@relaxed
@given(v1_results, st.sampled_from(["1.0.0", "1.1.0"]))
def test_within_1x_is_lossless(result: Result, target: str) -> None:
    assert result.convert(target).convert(result.cni_version) == result


@relaxed
@given(v04_results, st.sampled_from(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]))
def test_0_4_up_and_back_is_lossless(result: v0_4.Result, target: str) -> None:
    assert result.convert(target).convert(result.cni_version) == result


@relaxed
@given(v02_results, st.sampled_from(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]))
def test_0_2_anywhere_and_back_is_lossless(result: v0_2.Result, target: str) -> None:
    if result.ip4 is None and result.ip6 is None and target not in ("0.1.0", "0.2.0"):
        # Up-conversion of an IP-less 0.2 result cannot come back down: the one refusal.
        up = result.convert(target)
        try:
            up.convert(result.cni_version)
        except ConversionError as exc:
            assert str(exc) == "cannot convert: no valid IP addresses"
        else:
            raise AssertionError("expected the refusal")
        return
    assert result.convert(target).convert(result.cni_version) == result


# --- down-conversions drop only what the spec drops -------------------------------------------------


@relaxed
@given(v1_results, st.sampled_from(["0.3.0", "0.3.1", "0.4.0"]))
def test_1x_to_0_4_drops_only_interface_extras(result: Result, target: str) -> None:
    back = result.convert(target).convert(result.cni_version)
    expected = dataclasses.replace(
        result,
        interfaces=[Interface(i.name, i.mac, sandbox=i.sandbox) for i in result.interfaces],
        # IPv4-mapped addresses are excluded from the strategy, so the computed version round-trips.
    )
    assert back == expected


def _is_v4(address: IPInterface) -> bool:
    return address.version == 4


@relaxed
@given(st.one_of(v1_results, v04_results), st.sampled_from(["0.1.0", "0.2.0"]))
def test_down_to_0_2_keeps_first_ip_per_family_and_their_routes(result: Result | v0_4.Result, target: str) -> None:
    first4 = next((ip for ip in result.ips if _is_v4(ip.address)), None)
    first6 = next((ip for ip in result.ips if not _is_v4(ip.address)), None)
    if first4 is None and first6 is None:
        try:
            result.convert(target)
        except ConversionError as exc:
            assert str(exc) == "cannot convert: no valid IP addresses"
            return
        raise AssertionError("expected the refusal")
    down = result.convert(target)
    assert isinstance(down, v0_2.Result)

    def expected(first: IPConfig | v0_4.IPConfig | None, v4: bool) -> v0_2.IPConfig | None:
        if first is None:
            return None
        kept = [Route(r.dst, r.gw) for r in result.routes if _is_v4(r.dst) == v4]
        return v0_2.IPConfig(first.address, first.gateway, kept)

    assert down == v0_2.Result(expected(first4, True), expected(first6, False), result.dns, target)
