"""Tests of the veth example's netlink operations (examples/veth/netops.py).

The netlink tests run as root against the real kernel in fresh network namespaces made with
`ip netns add`, and look at the outcome with iproute2 (`ip -j`) and `ping`, never with the module
under test. Without root they are skipped, except under CI=true where that is a failure.
Validation tests need no privileges.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.veth import netops
from examples.veth.netops import (
    AddressSpec,
    CheckFailed,
    InvalidArgument,
    LinkExists,
    LinkInfo,
    NetlinkOperationFailed,
    NetnsNotFound,
    NotANetns,
    RouteSpec,
    VethAttachment,
    VethConfig,
)


def _require(condition: bool, reason: str) -> None:
    """Skip when a prerequisite is missing (a failure under CI=true: tests/skip_policy.py)."""
    if not condition:
        pytest.skip(reason)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def ip_json(*args: str) -> list[dict[str, Any]]:
    out = run("ip", "-j", *args).stdout
    return cast(list[dict[str, Any]], json.loads(out)) if out.strip() else []


def link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ("ip", "-n", netns) if netns else ("ip",)
    return run(*prefix, "link", "show", "dev", name, check=False).returncode == 0


def link_names(netns: str) -> list[str]:
    return sorted(link["ifname"] for link in ip_json("-n", netns, "link", "show"))


def global_addresses(dev: str, netns: str | None = None) -> set[str]:
    prefix = ("-n", netns) if netns else ()
    (link,) = ip_json(*prefix, "addr", "show", "dev", dev)
    return {f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["scope"] == "global"}


def routes(dev: str, netns: str | None = None, *, v6: bool = False) -> set[tuple[str, str]]:
    """(dst, gateway or "") of the static routes through dev; kernel routes are left out."""
    prefix = ("-n", netns) if netns else ()
    family = ("-6",) if v6 else ("-4",)
    return {
        (r["dst"], r.get("gateway", ""))
        for r in ip_json(*prefix, *family, "route", "show", "dev", dev)
        if r.get("protocol") != "kernel"
    }


def link_details(dev: str, netns: str | None = None) -> tuple[str, int, bool]:
    """(MAC, MTU, is up) of dev."""
    prefix = ("-n", netns) if netns else ()
    (link,) = ip_json(*prefix, "link", "show", "dev", dev)
    return link["address"], link["mtu"], "UP" in link["flags"]


def ping(address: str) -> int:
    return run("ping", "-c1", "-W1", address, check=False).returncode


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

_subnets = itertools.count(10)


@dataclass
class Sandbox:
    """A fresh namespace and a unique container ID; its veth and namespace go away afterwards."""

    name: str
    path: str
    container_id: str
    subnet: int  # third octet of 10.249.N.0/24 reserved for this test

    @property
    def host_ifname(self) -> str:
        return netops.host_ifname(self.container_id, "eth0")

    def v4(self, host: int, prefixlen: int = 24) -> str:
        return f"10.249.{self.subnet}.{host}/{prefixlen}"

    def v6(self, host: int, prefixlen: int = 64) -> str:
        return f"fd00:249:0:{self.subnet:x}::{host}/{prefixlen}"

    def config(self, *, v4: bool = True, v6: bool = False, mtu: int | None = 1400) -> VethConfig:
        addresses: list[AddressSpec] = []
        route_list: list[RouteSpec] = []
        if v4:
            addresses.append(AddressSpec(ip_interface(self.v4(2)), ip_interface(self.v4(1)).ip))
            route_list.append(RouteSpec(ip_network("0.0.0.0/0")))
        if v6:
            addresses.append(AddressSpec(ip_interface(self.v6(2)), ip_interface(self.v6(1)).ip))
            route_list.append(RouteSpec(ip_network("::/0")))
        return VethConfig(
            container_id=self.container_id,
            ifname="eth0",
            netns=self.path,
            addresses=tuple(addresses),
            routes=tuple(route_list),
            mtu=mtu,
        )


def _new_sandbox() -> Sandbox:
    name = f"rscni-t{os.getpid()}-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name)
    return Sandbox(name, f"/var/run/netns/{name}", f"ctr-{uuid.uuid4().hex}", next(_subnets))


def _destroy(box: Sandbox) -> None:
    # The host end would vanish with the namespace anyway, but asynchronously; delete it first so
    # the next test never meets a leftover route or name.
    run("ip", "link", "del", box.host_ifname, check=False)
    run("ip", "netns", "del", box.name, check=False)


@pytest.fixture
def netns_tools() -> None:
    _require(os.geteuid() == 0, "netlink tests need root (network namespaces, veth pairs)")
    for tool in ("ip", "ping"):
        _require(shutil.which(tool) is not None, f"the {tool} command is missing")


@pytest.fixture
def sandbox(netns_tools: None) -> Iterator[Sandbox]:
    box = _new_sandbox()
    try:
        yield box
    finally:
        _destroy(box)


@pytest.fixture
def other_sandbox(netns_tools: None) -> Iterator[Sandbox]:
    box = _new_sandbox()
    try:
        yield box
    finally:
        _destroy(box)


# --------------------------------------------------------------------------------------------
# setup
# --------------------------------------------------------------------------------------------


def test_setup_ipv4_builds_ptp_topology(sandbox: Sandbox) -> None:
    attachment = netops.setup(sandbox.config())

    host_mac, host_mtu, host_up = link_details(sandbox.host_ifname)
    cont_mac, cont_mtu, cont_up = link_details("eth0", sandbox.name)
    gw = ip_address(f"10.249.{sandbox.subnet}.1")
    assert attachment == VethAttachment(
        host=LinkInfo(sandbox.host_ifname, host_mac),
        container=LinkInfo("eth0", cont_mac, sandbox.path),
        addresses=(AddressSpec(ip_interface(sandbox.v4(2)), gw),),
        routes=(RouteSpec(ip_network("0.0.0.0/0"), gw),),
        mtu=1400,
    )
    assert (host_mtu, host_up, cont_mtu, cont_up) == (1400, True, 1400, True)
    assert link_names(sandbox.name) == ["eth0", "lo"]
    assert global_addresses("eth0", sandbox.name) == {sandbox.v4(2)}
    assert routes("eth0", sandbox.name) == {
        ("default", str(gw)),
        (f"10.249.{sandbox.subnet}.0/24", str(gw)),
        (str(gw), ""),
    }
    assert global_addresses(sandbox.host_ifname) == {f"{gw}/32"}
    assert routes(sandbox.host_ifname) == {(f"10.249.{sandbox.subnet}.2", "")}
    assert ping(f"10.249.{sandbox.subnet}.2") == 0


def test_setup_dual_stack_ipv6_usable_at_once(sandbox: Sandbox) -> None:
    attachment = netops.setup(sandbox.config(v6=True))

    gw6 = ip_interface(sandbox.v6(1)).ip
    assert attachment.addresses == (
        AddressSpec(ip_interface(sandbox.v4(2)), ip_interface(sandbox.v4(1)).ip),
        AddressSpec(ip_interface(sandbox.v6(2)), gw6),
    )
    assert global_addresses("eth0", sandbox.name) == {sandbox.v4(2), sandbox.v6(2)}
    assert routes("eth0", sandbox.name, v6=True) == {
        ("default", str(gw6)),
        (str(ip_interface(sandbox.v6(2)).network), str(gw6)),
        (str(gw6), ""),
    }
    assert routes(sandbox.host_ifname, v6=True) == {(str(ip_interface(sandbox.v6(2)).ip), "")}
    # nodad: no wait for duplicate address detection before the address answers.
    assert ping(str(ip_interface(sandbox.v6(2)).ip)) == 0
    assert ping(f"10.249.{sandbox.subnet}.2") == 0


def test_setup_without_gateway_keeps_prefix_route(sandbox: Sandbox) -> None:
    config = VethConfig(
        container_id=sandbox.container_id,
        ifname="eth0",
        netns=sandbox.path,
        addresses=(AddressSpec(ip_interface(sandbox.v4(2))),),
    )
    attachment = netops.setup(config)

    assert (attachment.routes, attachment.mtu) == ((), 1500)
    assert global_addresses(sandbox.host_ifname) == set()
    assert {
        (r["dst"], r["protocol"], r["scope"]) for r in ip_json("-n", sandbox.name, "-4", "route", "show", "dev", "eth0")
    } == {(f"10.249.{sandbox.subnet}.0/24", "kernel", "link")}
    assert routes(sandbox.host_ifname) == {(f"10.249.{sandbox.subnet}.2", "")}
    netops.check(config, container_mac=attachment.container.mac)


def test_two_containers_share_the_gateway(sandbox: Sandbox, other_sandbox: Sandbox) -> None:
    # As with host-local IPAM: one subnet, one gateway per IP version, many containers; each
    # host end carries the same gateway addresses.
    gw4 = ip_address(f"10.249.{sandbox.subnet}.1")
    gw6 = ip_interface(sandbox.v6(1)).ip
    configs = [
        VethConfig(
            container_id=box.container_id,
            ifname="eth0",
            netns=box.path,
            addresses=(
                AddressSpec(ip_interface(sandbox.v4(host)), gw4),
                AddressSpec(ip_interface(sandbox.v6(host)), gw6),
            ),
            routes=(RouteSpec(ip_network("0.0.0.0/0")), RouteSpec(ip_network("::/0"))),
        )
        for box, host in ((sandbox, 2), (other_sandbox, 3))
    ]
    for config in configs:
        netops.setup(config)

    targets = [str(ip_interface(a).ip) for a in (sandbox.v4(2), sandbox.v4(3))]
    targets += [str(ip_interface(a).ip) for a in (sandbox.v6(2), sandbox.v6(3))]
    assert [ping(target) for target in targets] == [0, 0, 0, 0]
    for config in configs:
        netops.check(config)


def test_setup_accepts_proc_pid_netns_path(sandbox: Sandbox) -> None:
    holder = subprocess.Popen(["ip", "netns", "exec", sandbox.name, "sleep", "30"])
    try:
        proc_path = f"/proc/{holder.pid}/ns/net"
        # `ip netns exec` switches namespace before exec'ing sleep; wait until it has.
        for _ in range(100):
            if os.stat(proc_path).st_ino == os.stat(sandbox.path).st_ino:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        config = VethConfig(
            container_id=sandbox.container_id,
            ifname="eth0",
            netns=proc_path,
            addresses=(AddressSpec(ip_interface(sandbox.v4(2)), ip_interface(sandbox.v4(1)).ip),),
        )
        attachment = netops.setup(config)
        assert attachment.container.netns == proc_path
        assert global_addresses("eth0", sandbox.name) == {sandbox.v4(2)}
        netops.check(config)
    finally:
        holder.kill()
        holder.wait()


# --------------------------------------------------------------------------------------------
# setup failures leave nothing behind
# --------------------------------------------------------------------------------------------


def test_host_name_collision_leaves_nothing(sandbox: Sandbox) -> None:
    run("ip", "link", "add", sandbox.host_ifname, "type", "bridge")

    with pytest.raises(LinkExists) as info:
        netops.setup(sandbox.config())

    assert str(info.value) == (f"interface {sandbox.host_ifname} already exists in the host network namespace")
    assert link_names(sandbox.name) == ["lo"]
    # The foreign link is untouched: still a bridge, no address, and DEL leaves it alone too.
    (link,) = ip_json("-d", "link", "show", "dev", sandbox.host_ifname)
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert global_addresses(sandbox.host_ifname) == set()
    assert netops.teardown(sandbox.container_id, "eth0") is False
    assert link_exists(sandbox.host_ifname)


def test_container_name_collision_leaves_nothing(sandbox: Sandbox) -> None:
    run("ip", "-n", sandbox.name, "link", "add", "eth0", "type", "bridge")

    with pytest.raises(LinkExists) as info:
        netops.setup(sandbox.config())

    assert str(info.value) == f"interface eth0 already exists in network namespace {sandbox.path}"
    assert not link_exists(sandbox.host_ifname)
    assert link_names(sandbox.name) == ["eth0", "lo"]


def test_failure_after_creation_rolls_back(sandbox: Sandbox) -> None:
    # 192.0.2.1 is not reachable from the container, so the kernel refuses the route, and that
    # is the last step before the host side: the pair exists and must be removed again.
    config = VethConfig(
        container_id=sandbox.container_id,
        ifname="eth0",
        netns=sandbox.path,
        addresses=(AddressSpec(ip_interface(sandbox.v4(2)), ip_interface(sandbox.v4(1)).ip),),
        routes=(RouteSpec(ip_network("10.250.0.0/16"), ip_address("192.0.2.1")),),
    )

    with pytest.raises(NetlinkOperationFailed) as info:
        netops.setup(config)

    assert str(info.value) == (
        f"adding route 10.250.0.0/16 via 192.0.2.1 dev eth0 in {sandbox.path}: Network is unreachable (errno 101)"
    )
    assert info.value.errno == 101
    assert not link_exists(sandbox.host_ifname)
    assert link_names(sandbox.name) == ["lo"]
    assert f"10.249.{sandbox.subnet}.2" not in run("ip", "-4", "route", "show").stdout


def test_ipv6_disabled_in_container_is_named_and_rolled_back(sandbox: Sandbox) -> None:
    # Interfaces created in the namespace from now on start with IPv6 disabled.
    run(
        "ip",
        "netns",
        "exec",
        sandbox.name,
        "sysctl",
        "-qw",
        "net.ipv6.conf.default.disable_ipv6=1",
    )

    with pytest.raises(NetlinkOperationFailed) as info:
        netops.setup(sandbox.config(v6=True))

    assert str(info.value) == (
        f"adding address {sandbox.v6(2)} to eth0 in {sandbox.path}: Permission denied (errno 13);"
        " IPv6 looks disabled there (net.ipv6.conf.*.disable_ipv6)"
    )
    assert not link_exists(sandbox.host_ifname)
    assert link_names(sandbox.name) == ["lo"]


@pytest.mark.parametrize(
    ("make_path", "error", "message"),
    [
        (
            lambda tmp: "/var/run/netns/rscni-t-absent",
            NetnsNotFound,
            "network namespace /var/run/netns/rscni-t-absent does not exist",
        ),
        (lambda tmp: str(tmp / "plain-file"), NotANetns, "{path} is not a network namespace"),
        (lambda tmp: "/proc/self/ns/uts", NotANetns, "/proc/self/ns/uts is not a network namespace"),
    ],
    ids=["missing", "regular-file", "other-namespace-type"],
)
def test_bad_netns_path(
    netns_tools: None,
    tmp_path: Path,
    make_path: Any,
    error: type[Exception],
    message: str,
) -> None:
    (tmp_path / "plain-file").write_text("")
    path = make_path(tmp_path)
    config = VethConfig(
        container_id=f"ctr-{uuid.uuid4().hex}",
        ifname="eth0",
        netns=path,
        addresses=(AddressSpec(ip_interface("10.249.250.2/24")),),
    )

    for operation in (netops.setup, netops.check):
        with pytest.raises(error) as info:
            operation(config)
        assert str(info.value) == message.format(path=path)
    assert not link_exists(config.host_ifname)


# --------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------


def test_check_passes_after_setup(sandbox: Sandbox) -> None:
    config = sandbox.config(v6=True)
    attachment = netops.setup(config)

    netops.check(config, container_mac=attachment.container.mac)
    netops.check(config, container_mac=attachment.container.mac.upper())
    netops.check(config)


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            ["ip", "-n", "{ns}", "addr", "del", "{v6}", "dev", "eth0"],
            ["interface eth0 in {path} lacks address {v6}"],
        ),
        (
            ["ip", "route", "del", "{v4host}/32", "dev", "{host}"],
            ["host route {v4host}/32 dev {host} is missing"],
        ),
        (
            ["ip", "addr", "del", "{v4gw}/32", "dev", "{host}"],
            # The kernel drops a device's IPv4 routes with its last IPv4 address.
            [
                "host interface {host} lacks gateway address {v4gw}",
                "host route {v4host}/32 dev {host} is missing",
            ],
        ),
        (
            ["ip", "-n", "{ns}", "route", "del", "default", "via", "{v4gw}"],
            ["route 0.0.0.0/0 via {v4gw} dev eth0 in {path} is missing"],
        ),
        (
            ["ip", "-n", "{ns}", "link", "set", "eth0", "mtu", "1300"],
            ["interface eth0 in {path} has MTU 1300, expected 1400"],
        ),
        (
            ["ip", "-n", "{ns}", "link", "del", "eth0"],
            ["host interface {host} is missing", "interface eth0 in {path} is missing"],
        ),
    ],
    ids=["container-address", "host-route", "host-gateway", "container-route", "mtu", "veth"],
)
def test_check_names_what_is_missing(sandbox: Sandbox, breakage: list[str], expected: list[str]) -> None:
    config = sandbox.config(v6=True)
    netops.setup(config)
    values = {
        "ns": sandbox.name,
        "path": sandbox.path,
        "host": sandbox.host_ifname,
        "v6": sandbox.v6(2),
        "v4host": f"10.249.{sandbox.subnet}.2",
        "v4gw": f"10.249.{sandbox.subnet}.1",
    }
    run(*(part.format(**values) for part in breakage))

    with pytest.raises(CheckFailed) as info:
        netops.check(config)

    problems = tuple(line.format(**values) for line in expected)
    assert info.value.problems == problems
    assert str(info.value) == "; ".join(problems)


def test_check_reports_wrong_mac(sandbox: Sandbox) -> None:
    config = sandbox.config()
    attachment = netops.setup(config)

    with pytest.raises(CheckFailed) as info:
        netops.check(config, container_mac="02:00:00:00:00:01")

    assert info.value.problems == (
        f"interface eth0 in {sandbox.path} has MAC {attachment.container.mac}, expected 02:00:00:00:00:01",
    )


# --------------------------------------------------------------------------------------------
# teardown
# --------------------------------------------------------------------------------------------


def test_teardown_removes_everything_and_is_idempotent(sandbox: Sandbox) -> None:
    netops.setup(sandbox.config(v6=True))

    assert netops.teardown(sandbox.container_id, "eth0") is True

    assert not link_exists(sandbox.host_ifname)
    assert link_names(sandbox.name) == ["lo"]
    assert f"10.249.{sandbox.subnet}." not in run("ip", "-4", "route", "show").stdout
    assert f"fd00:249:0:{sandbox.subnet:x}:" not in run("ip", "-6", "route", "show").stdout
    assert ping(f"10.249.{sandbox.subnet}.2") != 0
    assert netops.teardown(sandbox.container_id, "eth0") is False


def test_teardown_after_netns_deleted(sandbox: Sandbox) -> None:
    netops.setup(sandbox.config())
    run("ip", "netns", "del", sandbox.name)

    # The kernel destroys the pair with the namespace, possibly a moment later; either way DEL
    # succeeds and afterwards nothing is left.
    netops.teardown(sandbox.container_id, "eth0")

    assert not link_exists(sandbox.host_ifname)
    assert netops.teardown(sandbox.container_id, "eth0") is False


def test_teardown_of_unknown_container(netns_tools: None) -> None:
    assert netops.teardown(f"ctr-{uuid.uuid4().hex}", "eth0") is False


# --------------------------------------------------------------------------------------------
# Names and validation (no privileges needed)
# --------------------------------------------------------------------------------------------


def test_host_ifname_known_value() -> None:
    # sha256(b"abc123\0eth0") starts with 70ce6f2401b; pinned so a change of scheme, which
    # would orphan the veths of running containers on upgrade, is noticed.
    assert netops.host_ifname("abc123", "eth0") == "veth70ce6f2401b"


@given(
    container_id=st.text(min_size=1, max_size=80),
    ifname=st.text(alphabet=st.characters(categories=["L", "N"], max_codepoint=127), min_size=1, max_size=15),
)
def test_host_ifname_is_a_valid_deterministic_name(container_id: str, ifname: str) -> None:
    name = netops.host_ifname(container_id, ifname)

    assert name == netops.host_ifname(container_id, ifname)
    assert len(name.encode()) == 15
    assert name.startswith("veth")
    int(name[4:], 16)
    assert name != netops.host_ifname(container_id + "x", ifname)


V4 = ip_interface("10.249.1.2/24")
V6 = ip_interface("fd00:249::2/64")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"container_id": ""}, "container_id: must be a non-empty string"),
        ({"ifname": ""}, "ifname: must be a non-empty string"),
        ({"ifname": "a" * 16}, "ifname: 'aaaaaaaaaaaaaaaa' is longer than 15 bytes"),
        ({"ifname": "é" * 8}, "ifname: 'éééééééé' is longer than 15 bytes"),
        ({"ifname": ".."}, "ifname: '..' is not a valid interface name"),
        ({"ifname": "eth/0"}, "ifname: 'eth/0' contains '/', ':' or whitespace"),
        ({"ifname": "eth 0"}, "ifname: 'eth 0' contains '/', ':' or whitespace"),
        ({"netns": ""}, "netns: must be a non-empty path"),
        ({"netns": "ns1"}, "netns: 'ns1' is not an absolute path"),
        ({"mtu": 67}, "mtu: 67 is outside 68..65535"),
        ({"mtu": 65536}, "mtu: 65536 is outside 68..65535"),
        ({"mtu": True}, "mtu: expected an integer, got True"),
        (
            {"mtu": 1279, "addresses": (AddressSpec(V6),)},
            "mtu: 1279 is below 1280, the minimum for IPv6 addresses",
        ),
        (
            {"addresses": (AddressSpec(V4), AddressSpec(ip_interface("10.249.1.2/16")))},
            "addresses: the same IP address is listed twice",
        ),
        (
            {"addresses": ("10.249.1.2/24",)},
            "addresses: expected AddressSpec items, got '10.249.1.2/24'",
        ),
        (
            {
                "routes": (
                    RouteSpec(ip_network("10.0.0.0/8"), ip_address("10.249.1.1")),
                    RouteSpec(ip_network("10.0.0.0/8"), ip_address("10.249.1.3")),
                )
            },
            "routes: 10.0.0.0/8 is given twice with different gateways (10.249.1.1 and 10.249.1.3)",
        ),
    ],
    ids=[
        "empty-container-id",
        "empty-ifname",
        "ifname-too-long",
        "ifname-too-many-bytes",
        "ifname-dotdot",
        "ifname-slash",
        "ifname-space",
        "empty-netns",
        "relative-netns",
        "mtu-too-small",
        "mtu-too-big",
        "mtu-bool",
        "mtu-too-small-for-ipv6",
        "duplicate-address",
        "address-not-spec",
        "conflicting-routes",
    ],
)
def test_invalid_config(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "container_id": "c1",
        "ifname": "eth0",
        "netns": "/var/run/netns/x",
        "addresses": (AddressSpec(V4, ip_address("10.249.1.1")),),
    }
    args.update(kwargs)

    with pytest.raises(InvalidArgument) as info:
        VethConfig(**args)

    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: AddressSpec(V4, ip_address("fd00:249::1")),
            "gateway fd00:249::1 of 10.249.1.2/24: IP version differs from the address",
        ),
        (lambda: AddressSpec(V4, ip_address("10.249.1.2")), "gateway 10.249.1.2 equals the container address"),
        (
            lambda: AddressSpec("10.249.1.2/24"),  # type: ignore[arg-type]
            "address: expected an IPv4Interface or IPv6Interface, got '10.249.1.2/24'",
        ),
        (
            lambda: RouteSpec(ip_network("::/0"), ip_address("10.249.1.1")),
            "gateway 10.249.1.1 of route ::/0: IP version differs from dst",
        ),
        (
            lambda: RouteSpec("0.0.0.0/0"),  # type: ignore[arg-type]
            "route dst: expected an IPv4Network or IPv6Network, got '0.0.0.0/0'",
        ),
    ],
    ids=["gateway-family", "gateway-is-address", "address-str", "route-gateway-family", "dst-str"],
)
def test_invalid_address_or_route(build: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        build()

    assert str(info.value) == message


def test_route_without_gateway_uses_the_family_gateway() -> None:
    gw4, gw6 = ip_address("10.249.1.1"), ip_address("fd00:249::1")
    config = VethConfig(
        container_id="c1",
        ifname="eth0",
        netns="/var/run/netns/x",
        addresses=(AddressSpec(V4, gw4), AddressSpec(V6, gw6)),
        routes=(
            RouteSpec(ip_network("0.0.0.0/0")),
            RouteSpec(ip_network("::/0")),
            RouteSpec(ip_network("192.0.2.0/24"), ip_address("10.249.1.254")),
        ),
    )

    assert netops._resolved_routes(config) == (
        RouteSpec(ip_network("0.0.0.0/0"), gw4),
        RouteSpec(ip_network("::/0"), gw6),
        RouteSpec(ip_network("192.0.2.0/24"), ip_address("10.249.1.254")),
    )


GW4 = ip_address("10.249.1.1")
GW6 = ip_address("fd00:249::1")
LINK, UNIVERSE = 253, 0


@pytest.mark.parametrize(
    ("addresses", "route_list", "expected"),
    [
        (
            (AddressSpec(V4, GW4),),
            (RouteSpec(ip_network("0.0.0.0/0")),),
            [
                ("10.249.1.1/32", None, LINK),
                ("10.249.1.0/24", GW4, UNIVERSE),
                ("0.0.0.0/0", GW4, UNIVERSE),
            ],
        ),
        (
            # A requested route for the subnet replaces the implicit one; duplicates collapse.
            (AddressSpec(V4, GW4),),
            (
                RouteSpec(ip_network("10.249.1.0/24"), ip_address("10.249.1.1")),
                RouteSpec(ip_network("0.0.0.0/0")),
                RouteSpec(ip_network("0.0.0.0/0"), GW4),
            ),
            [
                ("10.249.1.1/32", None, LINK),
                ("10.249.1.0/24", GW4, UNIVERSE),
                ("0.0.0.0/0", GW4, UNIVERSE),
            ],
        ),
        (
            # No gateway: the kernel's prefix route stays, routes go straight out of the link.
            (AddressSpec(V4),),
            (RouteSpec(ip_network("0.0.0.0/0")),),
            [("0.0.0.0/0", None, LINK)],
        ),
        (
            # A /32 (or /128) address has no subnet to route.
            (AddressSpec(ip_interface("10.249.1.2/32"), GW4), AddressSpec(V6, GW6)),
            (),
            [
                ("10.249.1.1/32", None, LINK),
                ("fd00:249::1/128", None, LINK),
                ("fd00:249::/64", GW6, UNIVERSE),
            ],
        ),
        (
            # Two addresses behind one gateway: one on-link route, one route per subnet.
            (AddressSpec(V4, GW4), AddressSpec(ip_interface("10.249.2.2/24"), GW4)),
            (),
            [
                ("10.249.1.1/32", None, LINK),
                ("10.249.1.0/24", GW4, UNIVERSE),
                ("10.249.2.0/24", GW4, UNIVERSE),
            ],
        ),
    ],
    ids=["default-route", "subnet-requested-and-dups", "no-gateway", "host-prefix", "shared-gw"],
)
def test_container_route_plan(
    addresses: tuple[AddressSpec, ...],
    route_list: tuple[RouteSpec, ...],
    expected: list[tuple[str, Any, int]],
) -> None:
    config = VethConfig("c1", "eth0", "/var/run/netns/x", addresses=addresses, routes=route_list)

    assert [(str(r.dst), r.gateway, r.scope) for r in netops._container_routes(config)] == expected


def test_pyroute2_stubs_match_the_installed_library() -> None:
    # stubtest imports the real pyroute2 and compares every stubbed name and signature with it.
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "pyroute2",
            "--ignore-missing-stub",
            "--allowlist",
            str(root / "stubs" / "pyroute2" / "stubtest-allowlist.txt"),
        ],
        cwd=root,
        env={**os.environ, "MYPYPATH": str(root / "stubs")},
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout.strip()) == (
        0,
        "Success: no issues found in 12 modules",
    )
