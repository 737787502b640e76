"""The veth example plugin (examples/veth/rscni_veth.py) in-process, through the SDK's dispatcher.

Every command goes through ``dispatch`` with an explicit environment and stdin, so what is asserted is exactly the
JSON a runtime would read.  IPAM is the real thing: Debian's ``host-local`` from ``/usr/lib/cni``, found through
``CNI_PATH`` and keeping its state in the test's ``tmp_path``.  The kernel side is checked with iproute2 and ping,
never with the plugin's own netlink module.

Namespaces, veth pairs and host routes need root: without it these tests are skipped, except under ``CI=true``
where that is a failure.  The configuration and delegation tests that never reach the kernel run everywhere.
Subnets come from the integration harness's leases, so concurrent test sessions never share an address.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any, cast

import pytest

from examples.veth import netops
from examples.veth.rscni_veth import VethPlugin
from rscni_py.protocol.dispatch import dispatch
from tests.integration.harness import NetNS, NetworkLease, acquire_lease, create_netns, delete_netns

IN_CI = os.environ.get("CI") == "true"
HOST_LOCAL_DIR = Path("/usr/lib/cni")


def _require(condition: bool, reason: str) -> None:
    """Skip when a prerequisite is missing, but fail in CI, where everything must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def ip_json(*args: str) -> list[dict[str, Any]]:
    out = run("ip", "-j", *args).stdout
    return cast(list[dict[str, Any]], json.loads(out)) if out.strip() else []


def host_link(name: str) -> dict[str, Any] | None:
    """The host link ``name`` as iproute2 JSON, or None."""
    proc = run("ip", "-j", "link", "show", "dev", name, check=False)
    if proc.returncode != 0:
        return None
    (link,) = json.loads(proc.stdout)
    return cast(dict[str, Any], link)


def ns_link(ns: NetNS, name: str) -> dict[str, Any]:
    (link,) = ip_json("-n", ns.name, "link", "show", "dev", name)
    return link


def static_routes(ns: NetNS, dev: str) -> list[tuple[str, str]]:
    """(dst, gateway or "") of the non-kernel IPv4 routes through ``dev`` in ``ns``, sorted."""
    return sorted(
        (r["dst"], r.get("gateway", ""))
        for r in ip_json("-n", ns.name, "-4", "route", "show", "dev", dev)
        if r.get("protocol") != "kernel"
    )


# --------------------------------------------------------------------------------------------
# Running the plugin
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the runtime would see: exit code, stdout parsed as JSON (None when empty), stderr."""

    code: int
    output: Any
    stderr: str


def call(
    command: str,
    conf: Mapping[str, Any],
    *,
    container_id: str,
    netns: str,
    cni_path: str = str(HOST_LOCAL_DIR),
    ifname: str = "eth0",
) -> Outcome:
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_PATH": cni_path,
    }
    stdout, stderr = io.StringIO(), io.StringIO()
    code = dispatch(VethPlugin, env, io.BytesIO(json.dumps(conf).encode()), stdout, stderr)
    text = stdout.getvalue()
    return Outcome(code, json.loads(text) if text else None, stderr.getvalue())


@dataclass
class Env:
    """One test's world: a namespace, a leased subnet, host-local's data dir, and the links to clean up."""

    ns: NetNS
    lease: NetworkLease
    ipam_dir: Path
    state_dir: Path
    container_id: str = field(default_factory=lambda: f"veth-{uuid.uuid4().hex[:12]}")
    network: str = field(default_factory=lambda: f"vethnet-{uuid.uuid4().hex[:8]}")

    @property
    def host_ifname(self) -> str:
        return netops.host_ifname(self.container_id, "eth0")

    def conf(self, version: str = "1.0.0", *, subnet: str | None = None, **extra: Any) -> dict[str, Any]:
        """A veth configuration with host-local allocating from the lease's subnet (or ``subnet``)."""
        return {
            "cniVersion": version,
            "name": self.network,
            "type": "rscni-veth",
            "mtu": 1400,
            "stateDir": str(self.state_dir),
            "ipam": {
                "type": "host-local",
                "dataDir": str(self.ipam_dir),
                "ranges": [[{"subnet": subnet or self.lease.subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
            **extra,
        }

    def call(self, command: str, conf: Mapping[str, Any], **kwargs: Any) -> Outcome:
        kwargs.setdefault("container_id", self.container_id)
        kwargs.setdefault("netns", self.ns.path)
        return call(command, conf, **kwargs)

    def records(self) -> dict[str, Any]:
        """The plugin's attachment records for the network: file name -> the stored document's data."""
        directory = self.state_dir / self.network
        if not directory.is_dir():
            return {}
        return {
            p.name: json.loads(p.read_text())["data"] for p in sorted(directory.iterdir()) if not p.name.startswith(".")
        }

    def allocated(self) -> list[str]:
        """The addresses host-local holds for the network (one file per address in its data dir)."""
        directory = self.ipam_dir / self.network
        if not directory.is_dir():
            return []
        return sorted(p.name for p in directory.iterdir() if p.name[0].isdigit())


@pytest.fixture
def root() -> None:
    _require(os.geteuid() == 0, "the veth plugin tests need root (network namespaces, veth pairs)")
    for tool in ("ip", "ping"):
        _require(shutil.which(tool) is not None, f"the {tool} command is missing")
    _require((HOST_LOCAL_DIR / "host-local").is_file(), "host-local missing (Debian containernetworking-plugins)")


@pytest.fixture
def world(root: None, tmp_path: Path) -> Iterator[Env]:
    lease = acquire_lease()
    ns = create_netns()
    env = Env(ns, lease, tmp_path / "ipam", tmp_path / "state")
    try:
        yield env
    finally:
        # The host end would vanish with the namespace, but asynchronously: delete it first, so the next holder of
        # the lease never meets a leftover host route.
        run("ip", "link", "del", env.host_ifname, check=False)
        delete_netns(ns)
        lease.release()


def expected_result(version: str, env: Env) -> dict[str, Any]:
    """The ADD result for the lease's first address, in the shape of ``version``; MACs read from the kernel."""
    host_mac = cast(dict[str, Any], host_link(env.host_ifname))["address"]
    cont_mac = ns_link(env.ns, "eth0")["address"]
    address, gateway = f"{env.lease.host(2)}/24", env.lease.gateway
    routes = [{"dst": "0.0.0.0/0", "gw": gateway}]
    if version == "0.2.0":
        return {"cniVersion": version, "ip4": {"ip": address, "gateway": gateway, "routes": routes}, "dns": {}}
    container: dict[str, Any] = {"name": "eth0", "mac": cont_mac, "mtu": 1400, "sandbox": env.ns.path}
    ip: dict[str, Any] = {"address": address, "gateway": gateway, "interface": 1}
    if version.startswith("0."):
        # 0.3.x/0.4.0 results have no interface mtu, an IP version on each address, and always a dns object.
        del container["mtu"]
        return {
            "cniVersion": version,
            "interfaces": [{"name": env.host_ifname, "mac": host_mac}, container],
            "ips": [{"version": "4", **ip}],
            "routes": routes,
            "dns": {},
        }
    return {
        "cniVersion": version,
        "interfaces": [{"name": env.host_ifname, "mac": host_mac}, container],
        "ips": [ip],
        "routes": routes,
    }


# --------------------------------------------------------------------------------------------
# ADD, CHECK, DEL
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.3.1", "0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_add_result_and_kernel_state(world: Env, version: str) -> None:
    conf = world.conf(version)
    out = world.call("ADD", conf)

    assert (out.code, out.output) == (0, expected_result(version, world))
    assert world.allocated() == [world.lease.host(2)]
    assert world.records() == {
        f"{world.container_id}:eth0.json": {
            "phase": "added",
            "hostIfname": world.host_ifname,
            "netns": world.ns.path,
            # What GC needs to release the address itself: the IPAM plugin and the configuration ADD gave it.
            "rscniPyDelegations": [{"type": "host-local", "config": conf}],
        }
    }
    link = ns_link(world.ns, "eth0")
    assert (link["mtu"], "UP" in link["flags"]) == (1400, True)
    (addr,) = ip_json("-n", world.ns.name, "addr", "show", "dev", "eth0")
    assert [f"{a['local']}/{a['prefixlen']}" for a in addr["addr_info"] if a["family"] == "inet"] == [
        f"{world.lease.host(2)}/24"
    ]
    gateway = world.lease.gateway
    assert static_routes(world.ns, "eth0") == sorted(
        [("default", gateway), (world.lease.subnet, gateway), (gateway, "")]
    )
    host_routes = ip_json("-4", "route", "show", "dev", world.host_ifname)
    assert [r["dst"] for r in host_routes] == [world.lease.host(2)]
    assert run("ping", "-c1", "-W2", world.lease.host(2), check=False).returncode == 0


def test_add_dual_stack(world: Env) -> None:
    v6 = ip_network(f"fd00:248:{world.lease.index:x}::/64")
    conf = world.conf()
    conf["ipam"]["ranges"].append([{"subnet": str(v6)}])
    conf["ipam"]["routes"].append({"dst": "::/0"})

    out = world.call("ADD", conf)

    expected = expected_result("1.0.0", world)
    expected["ips"].append({"address": f"{v6[2]}/64", "gateway": str(v6[1]), "interface": 1})
    expected["routes"].append({"dst": "::/0", "gw": str(v6[1])})
    assert (out.code, out.output) == (0, expected)
    assert run("ping", "-c1", "-W2", str(v6[2]), check=False).returncode == 0
    assert world.call("CHECK", {**conf, "prevResult": out.output}).code == 0
    assert world.call("DEL", {**conf, "prevResult": out.output}).code == 0
    assert world.allocated() == []


def test_dns_from_config_when_ipam_has_none(world: Env) -> None:
    dns = {"nameservers": ["10.250.0.53"], "search": ["svc.local"]}

    out = world.call("ADD", world.conf(dns=dns))

    assert (out.code, out.output) == (0, {**expected_result("1.0.0", world), "dns": dns})


def test_dns_from_ipam_wins(world: Env, tmp_path: Path) -> None:
    # host-local reads a resolv.conf-style file when given "resolvConf"; its DNS settings replace the config's.
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.250.0.99\nsearch example.test\n")
    conf = world.conf(dns={"nameservers": ["10.250.0.53"]})
    conf["ipam"]["resolvConf"] = str(resolv)

    out = world.call("ADD", conf)

    assert (out.code, out.output) == (
        0,
        {**expected_result("1.0.0", world), "dns": {"nameservers": ["10.250.0.99"], "search": ["example.test"]}},
    )


def test_check_passes_after_add(world: Env) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)
    assert added.code == 0, added.output

    out = world.call("CHECK", {**conf, "prevResult": added.output})

    assert (out.code, out.output) == (0, None)


# Each case damages the attachment after ADD; CHECK must name exactly what is gone.
CHECK_DAMAGE = [
    pytest.param(
        lambda env: env.ns.ip("route", "del", "default"),
        lambda env: f"route 0.0.0.0/0 via {env.lease.gateway} dev eth0 in {env.ns.path} is missing",
        id="default-route-removed",
    ),
    pytest.param(
        lambda env: env.ns.ip("addr", "del", f"{env.lease.host(2)}/24", "dev", "eth0"),
        # Removing the last IPv4 address makes the kernel flush every IPv4 route of the device: all are listed.
        lambda env: "; ".join(
            [
                f"interface eth0 in {env.ns.path} lacks address {env.lease.host(2)}/24",
                f"route {env.lease.gateway}/32 dev eth0 in {env.ns.path} is missing",
                f"route {env.lease.subnet} via {env.lease.gateway} dev eth0 in {env.ns.path} is missing",
                f"route 0.0.0.0/0 via {env.lease.gateway} dev eth0 in {env.ns.path} is missing",
            ]
        ),
        id="address-removed",
    ),
    pytest.param(
        lambda env: env.ns.ip("link", "set", "dev", "eth0", "mtu", "1300"),
        lambda env: f"interface eth0 in {env.ns.path} has MTU 1300, expected 1400",
        id="mtu-changed",
    ),
    pytest.param(
        lambda env: run("ip", "route", "del", env.lease.host(2), "dev", env.host_ifname),
        lambda env: f"host route {env.lease.host(2)}/32 dev {env.host_ifname} is missing",
        id="host-route-removed",
    ),
]


@pytest.mark.parametrize(("damage", "message"), CHECK_DAMAGE)
def test_check_reports_damage(world: Env, damage: Any, message: Any) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)
    assert added.code == 0, added.output
    damage(world)

    out = world.call("CHECK", {**conf, "prevResult": added.output})

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.0.0", "code": 102, "msg": f"attachment differs from the cached result: {message(world)}"},
    )


def test_check_needs_prev_result(world: Env) -> None:
    out = world.call("CHECK", world.conf())

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.0.0", "code": 7, "msg": "invalid network config: prevResult: required for CHECK"},
    )


def test_check_with_a_result_of_another_interface(world: Env) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)

    out = world.call("CHECK", {**conf, "prevResult": added.output}, ifname="net1")

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 102,
            "msg": f"prevResult has no interface net1 in {world.ns.path}",
            "details": "CHECK compares the attachment with the cached result of its ADD",
        },
    )


def test_check_after_del_fails(world: Env) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)
    assert world.call("DEL", {**conf, "prevResult": added.output}).code == 0

    out = world.call("CHECK", {**conf, "prevResult": added.output})

    # IPAM is checked first (as the reference ptp does): host-local no longer knows the container.
    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 999,
            "msg": f"host-local: Failed to find address added by container {world.container_id}",
        },
    )


def test_del_removes_everything_and_is_idempotent(world: Env) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)
    assert added.code == 0, added.output

    first = world.call("DEL", {**conf, "prevResult": added.output})
    second = world.call("DEL", {**conf, "prevResult": added.output})

    assert [(first.code, first.output), (second.code, second.output)] == [(0, None), (0, None)]
    assert host_link(world.host_ifname) is None
    assert world.records() == {}
    assert world.ns.links() == ["lo"]
    assert world.allocated() == []
    assert ip_json("-4", "route", "show", f"{world.lease.host(2)}/32") == []


def test_del_without_add_succeeds(world: Env) -> None:
    out = world.call("DEL", world.conf())

    assert (out.code, out.output) == (0, None)


def test_del_after_namespace_deleted_frees_the_address(world: Env) -> None:
    conf = world.conf()
    added = world.call("ADD", conf)
    assert added.code == 0, added.output
    delete_netns(world.ns)

    out = world.call("DEL", {**conf, "prevResult": added.output})

    assert (out.code, out.output) == (0, None)
    assert host_link(world.host_ifname) is None
    assert world.allocated() == []


def test_del_without_netns_frees_the_address(world: Env) -> None:
    # Runtimes may send DEL without CNI_NETNS (the sandbox is gone): the pair is found by its host end.
    conf = world.conf()
    assert world.call("ADD", conf).code == 0

    out = world.call("DEL", conf, netns="")

    assert (out.code, out.output) == (0, None)
    assert host_link(world.host_ifname) is None
    assert world.allocated() == []


# --------------------------------------------------------------------------------------------
# Failures: right code, nothing left behind
# --------------------------------------------------------------------------------------------


def assert_nothing_left(env: Env) -> None:
    assert host_link(env.host_ifname) is None
    assert env.records() == {}
    assert env.ns.links() == ["lo"]
    assert env.allocated() == []


def test_missing_ipam_plugin(world: Env, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    out = world.call("ADD", world.conf(), cni_path=str(empty))

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.0.0", "code": 999, "msg": f'failed to find plugin "host-local" in path [{empty}]'},
    )
    assert_nothing_left(world)


def test_pool_exhausted(world: Env, make_second_ns: NetNS) -> None:
    # host-local hands out .2 only from a /30: .0 is the network, .1 the gateway and .3 the broadcast address.
    base = world.lease.host(0)
    conf = world.conf(subnet=f"{base}/30")
    first = world.call("ADD", conf)
    assert first.code == 0, first.output
    other = f"{world.container_id}-b"

    out = world.call("ADD", conf, container_id=other, netns=make_second_ns.path)

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 999,
            "msg": "failed to allocate for range 0: no IP addresses available in range set: "
            f"{world.lease.host(1)}-{world.lease.host(2)}",
        },
    )
    assert host_link(netops.host_ifname(other, "eth0")) is None
    assert make_second_ns.links() == ["lo"]
    assert world.allocated() == [world.lease.host(2)]


@pytest.fixture
def make_second_ns(world: Env) -> Iterator[NetNS]:
    ns = create_netns()
    try:
        yield ns
    finally:
        delete_netns(ns)


def test_failure_after_ipam_releases_the_address(world: Env) -> None:
    # An interface already called eth0 in the namespace: IPAM has allocated by the time setup meets it.
    world.ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")

    out = world.call("ADD", world.conf())

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 100,
            "msg": f"interface eth0 already exists in network namespace {world.ns.path}",
            "details": f"ADD needs interface eth0; it is in use in network namespace {world.ns.path}",
        },
    )
    assert host_link(world.host_ifname) is None
    assert sorted(world.ns.links()) == ["eth0", "eth0-peer", "lo"]
    assert world.allocated() == []
    # The allocation really happened and was released: host-local moved on to the next address.
    assert (world.ipam_dir / world.network / "last_reserved_ip.0").read_text() == world.lease.host(2)


def test_ipam_result_unusable_with_the_mtu(world: Env) -> None:
    # The MTU is valid on its own, but the kernel disables IPv6 below 1280: only the IPAM result reveals the clash.
    conf = world.conf(mtu=1200)
    conf["ipam"]["ranges"].append([{"subnet": f"fd00:248:{world.lease.index:x}::/64"}])

    out = world.call("ADD", conf)

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 7,
            "msg": "invalid IPAM result: mtu: 1200 is below 1280, the minimum for IPv6 addresses",
        },
    )
    assert_nothing_left(world)


def test_netns_missing_on_add(world: Env) -> None:
    missing = f"/run/netns/rscni-missing-{uuid.uuid4().hex[:8]}"

    out = world.call("ADD", world.conf(), netns=missing)

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 3,
            "msg": f"network namespace {missing} does not exist",
            "details": missing,
        },
    )
    assert host_link(world.host_ifname) is None
    assert world.allocated() == []


def test_relative_netns_is_an_environment_error(world: Env) -> None:
    out = world.call("ADD", world.conf(), netns="run/netns/x")

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.0.0", "code": 4, "msg": "CNI_NETNS: 'run/netns/x' is not an absolute path"},
    )
    assert world.allocated() == []


def test_netns_not_a_namespace(world: Env, tmp_path: Path) -> None:
    plain = tmp_path / "not-a-netns"
    plain.write_text("")

    out = world.call("ADD", world.conf(), netns=str(plain))

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.0.0", "code": 8, "msg": f"{plain} is not a network namespace", "details": str(plain)},
    )
    assert world.allocated() == []


# --------------------------------------------------------------------------------------------
# Configuration errors (no kernel, no IPAM: these run without root)
# --------------------------------------------------------------------------------------------


def _base_conf() -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "vethnet",
        "type": "rscni-veth",
        "ipam": {"type": "host-local", "subnet": "10.250.0.0/24"},
    }


def _without(key: str) -> dict[str, Any]:
    conf = _base_conf()
    del conf[key]
    return conf


BAD_CONFIGS = [
    pytest.param(_without("ipam"), "invalid network config: ipam: required field missing", id="ipam-missing"),
    pytest.param(
        {**_base_conf(), "ipam": {"subnet": "10.250.0.0/24"}},
        "invalid network config: ipam.type: required field missing",
        id="ipam-type-missing",
    ),
    pytest.param(
        {**_base_conf(), "ipam": "host-local"},
        'invalid network config: ipam: expected an object, got string "host-local"',
        id="ipam-not-an-object",
    ),
    pytest.param(
        {**_base_conf(), "mtu": "1500"},
        'invalid network config: mtu: expected an integer, got string "1500"',
        id="mtu-string",
    ),
    pytest.param(
        {**_base_conf(), "mtu": 67},
        "invalid network config: mtu: 67 is outside 68..65535",
        id="mtu-too-small",
    ),
    pytest.param(
        {**_base_conf(), "stateDir": "var/lib/x"},
        "invalid network config: stateDir: expected an absolute directory path, got 'var/lib/x'",
        id="state-dir-relative",
    ),
    # Paths that cannot name a file are configuration errors too, never a traceback (issue 12, item 6).
    pytest.param(
        {**_base_conf(), "stateDir": "/var/lib/a\u0000b"},
        "invalid network config: stateDir: the path contains a NUL character",
        id="state-dir-nul",
    ),
    pytest.param(
        {**_base_conf(), "stateDir": "/var/lib/\ud800"},
        "invalid network config: stateDir: the path contains a lone surrogate (a JSON escape that is no character)",
        id="state-dir-lone-surrogate",
    ),
    pytest.param(
        {**_base_conf(), "stateDir": "/" + "x" * 256},
        "invalid network config: stateDir: the path has a component longer than 255 bytes",
        id="state-dir-long-component",
    ),
    pytest.param(
        {**_base_conf(), "stateDir": "/x" * 2048},
        "invalid network config: stateDir: the path is longer than 4095 bytes",
        id="state-dir-long-path",
    ),
    pytest.param(
        {**_base_conf(), "mtu": 65536},
        "invalid network config: mtu: 65536 is outside 68..65535",
        id="mtu-too-large",
    ),
]


@pytest.mark.parametrize(("conf", "message"), BAD_CONFIGS)
@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_bad_config(tmp_path: Path, conf: dict[str, Any], message: str, command: str) -> None:
    # An empty CNI_PATH directory: if validation let the config through, the error would be "failed to find".
    out = call(command, conf, container_id="c1", netns="/run/netns/unused", cni_path=str(tmp_path))

    assert (out.code, out.output) == (1, {"cniVersion": "1.0.0", "code": 7, "msg": message})


# --------------------------------------------------------------------------------------------
# STATUS and GC (spec 1.1.0): forwarded to IPAM
# --------------------------------------------------------------------------------------------

FAKE_IPAM = """#!/bin/sh
# Records each call (command, then stdin). Fails with the error in the file "answer" next to it when that exists;
# answers ADD with the file "result" when that exists.
here=$(dirname "$0")
{ echo "$CNI_COMMAND"; cat; echo; } >> "$here/calls"
if [ -s "$here/answer" ]; then cat "$here/answer"; exit 1; fi
if [ "$CNI_COMMAND" = ADD ] && [ -s "$here/result" ]; then cat "$here/result"; fi
exit 0
"""


@pytest.fixture
def fake_ipam(tmp_path: Path) -> Path:
    """A CNI_PATH directory with a shell IPAM plugin ``fake-ipam`` that records its calls."""
    directory = tmp_path / "bin"
    directory.mkdir()
    script = directory / "fake-ipam"
    script.write_text(FAKE_IPAM)
    script.chmod(0o755)
    return directory


def _v11_conf(state_dir: Path, **extra: Any) -> dict[str, Any]:
    return {
        "cniVersion": "1.1.0",
        "name": "vethnet",
        "type": "rscni-veth",
        "stateDir": str(state_dir),
        "ipam": {"type": "fake-ipam"},
        **extra,
    }


def _calls(directory: Path) -> list[tuple[str, Any]]:
    lines = (directory / "calls").read_text().splitlines()
    return [(lines[i], json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_status_forwarded(fake_ipam: Path) -> None:
    conf = _v11_conf(fake_ipam.parent / "state")

    out = call("STATUS", conf, container_id="", netns="", ifname="", cni_path=str(fake_ipam))

    assert (out.code, out.output) == (0, None)
    assert _calls(fake_ipam) == [("STATUS", conf)]


def test_status_passes_ipam_unavailability_on(fake_ipam: Path) -> None:
    (fake_ipam / "answer").write_text('{"code": 50, "msg": "pool not ready", "details": "leases loading"}')

    conf = _v11_conf(fake_ipam.parent / "state")

    out = call("STATUS", conf, container_id="", netns="", ifname="", cni_path=str(fake_ipam))

    assert (out.code, out.output) == (
        1,
        {"cniVersion": "1.1.0", "code": 50, "msg": "pool not ready", "details": "leases loading"},
    )


def test_gc_forwarded_with_valid_attachments(fake_ipam: Path) -> None:
    valid = [{"containerID": "c1", "ifname": "eth0"}]
    conf = _v11_conf(fake_ipam.parent / "state", **{"cni.dev/valid-attachments": valid})

    out = call("GC", conf, container_id="", netns="", ifname="", cni_path=str(fake_ipam))

    assert (out.code, out.output) == (0, None)
    assert _calls(fake_ipam) == [("GC", conf)]


def test_del_reports_ipam_failure(fake_ipam: Path) -> None:
    # Nothing to tear down (no such pair), but IPAM's DEL fails: its error is the answer.
    (fake_ipam / "answer").write_text('{"code": 11, "msg": "store locked"}')

    conf = _v11_conf(fake_ipam.parent / "state")

    out = call("DEL", conf, container_id="c-none", netns="", cni_path=str(fake_ipam))

    assert (out.code, out.output) == (1, {"cniVersion": "1.1.0", "code": 11, "msg": "store locked"})
    assert [command for command, _ in _calls(fake_ipam)] == ["DEL"]


# --------------------------------------------------------------------------------------------
# As a process: run() with its signal handlers, as a runtime executes it
# --------------------------------------------------------------------------------------------

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "veth" / "rscni_veth.py"


def run_script(command: str, conf: Mapping[str, Any], env: Env, *, cwd: Path) -> tuple[int, str]:
    """Run the plugin script in a fresh interpreter; return its exit status and stdout."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)],
        input=json.dumps(conf).encode(),
        capture_output=True,
        cwd=cwd,
        timeout=60,
        check=False,
        env={
            **os.environ,
            # rscni_py is not installed in the test environment: the repository root provides it.
            "PYTHONPATH": str(SCRIPT.parent.parent.parent),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": env.container_id,
            "CNI_NETNS": env.ns.path,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(HOST_LOCAL_DIR),
        },
    )
    return proc.returncode, proc.stdout.decode()


def test_cycles_as_a_process_print_one_answer_each(world: Env, tmp_path: Path) -> None:
    # pyroute2 opens the namespace socket from a forked child and stops it with SIGTERM; run() handles SIGTERM.
    # The child must not inherit that handler, or it would run the rest of the command and print a second answer.
    conf = world.conf()
    for _ in range(3):
        code, stdout = run_script("ADD", conf, world, cwd=tmp_path)
        assert code == 0, stdout
        result = json.loads(stdout)  # exactly one JSON document
        assert result == expected_result("1.0.0", world)
        code, stdout = run_script("CHECK", {**conf, "prevResult": result}, world, cwd=tmp_path)
        assert (code, stdout) == (0, "")
        code, stdout = run_script("DEL", {**conf, "prevResult": result}, world, cwd=tmp_path)
        assert (code, stdout) == (0, "")
        assert world.allocated() == []
        # host-local hands out the next address each time; start over so the expected result stays the same.
        shutil.rmtree(world.ipam_dir)


# --------------------------------------------------------------------------------------------
# Attachment records and GC
# --------------------------------------------------------------------------------------------


def test_failure_to_record_removes_the_pair_and_the_address(world: Env, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    conf = world.conf(stateDir=str(blocker / "state"))

    out = world.call("ADD", conf)

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 5,
            "msg": f"stateDir: cannot use {blocker}/state/{world.network}: Not a directory",
        },
    )
    assert host_link(world.host_ifname) is None
    assert world.ns.links() == ["lo"]
    assert world.allocated() == []


def test_gc_removes_pairs_of_attachments_no_longer_valid(world: Env, fake_ipam: Path) -> None:
    # Debian's host-local stops at spec 1.0.0, so the attachments are added at 1.0.0 and GC (1.1.0 only) goes to a
    # recording IPAM stand-in; the plugin's records are per network name, which both configurations share.
    kept, stale = world.container_id, f"{world.container_id}-stale"
    conf = world.conf()
    other_ns = create_netns()
    try:
        assert world.call("ADD", conf).code == 0
        assert world.call("ADD", conf, container_id=stale, netns=other_ns.path).code == 0
        gc_conf = {
            "cniVersion": "1.1.0",
            "name": world.network,
            "type": "rscni-veth",
            "stateDir": str(world.state_dir),
            "ipam": {"type": "fake-ipam"},
            "cni.dev/valid-attachments": [{"containerID": kept, "ifname": "eth0"}],
        }

        assert world.allocated() == [world.lease.host(2), world.lease.host(3)]

        # The stand-in's GC does nothing, as host-local's does; the stale address is released by an IPAM DEL
        # with the stale attachment's own IDs and the configuration its ADD used, through the real host-local.
        cni_path = f"{fake_ipam}:{HOST_LOCAL_DIR}"
        out = call("GC", gc_conf, container_id="", netns="", ifname="", cni_path=cni_path)

        assert (out.code, out.output) == (0, None)
        assert host_link(netops.host_ifname(stale, "eth0")) is None
        assert other_ns.links() == ["lo"]
        assert host_link(world.host_ifname) is not None
        assert list(world.records()) == [f"{kept}:eth0.json"]
        assert world.allocated() == [world.lease.host(2)]
        assert _calls(fake_ipam) == [("GC", gc_conf)]
    finally:
        run("ip", "link", "del", netops.host_ifname(stale, "eth0"), check=False)
        delete_netns(other_ns)


def test_gc_without_valid_attachments_removes_all(world: Env, fake_ipam: Path) -> None:
    assert world.call("ADD", world.conf()).code == 0
    gc_conf = {
        "cniVersion": "1.1.0",
        "name": world.network,
        "type": "rscni-veth",
        "stateDir": str(world.state_dir),
        "ipam": {"type": "fake-ipam"},
    }

    out = call("GC", gc_conf, container_id="", netns="", ifname="", cni_path=f"{fake_ipam}:{HOST_LOCAL_DIR}")

    assert (out.code, out.output) == (0, None)
    assert host_link(world.host_ifname) is None
    assert world.records() == {}
    assert world.allocated() == []


def test_gc_runs_ipam_gc_even_when_the_store_fails(fake_ipam: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    conf = _v11_conf(blocker)
    (fake_ipam / "answer").write_text('{"code": 999, "msg": "ipam gc broke"}')

    out = call("GC", conf, container_id="", netns="", ifname="", cni_path=str(fake_ipam))

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.1.0",
            "code": 5,
            "msg": f"stateDir: cannot use {blocker}/vethnet: Not a directory",  # the state root is a file
            "details": "IPAM plugin fake-ipam GC failed too: ipam gc broke",
        },
    )
    assert [command for command, _ in _calls(fake_ipam)] == ["GC"]


def test_ipam_result_without_addresses_is_rolled_back(world: Env, fake_ipam: Path) -> None:
    (fake_ipam / "result").write_text('{"cniVersion": "1.1.0", "routes": [{"dst": "0.0.0.0/0"}]}')
    conf = _v11_conf(fake_ipam.parent / "state")

    out = call("ADD", conf, container_id="c1", netns=world.ns.path, cni_path=str(fake_ipam))

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.1.0",
            "code": 7,
            "msg": "IPAM plugin fake-ipam returned no IP addresses",
            "details": "ipam: the result has no ips",
        },
    )
    # The spec's rule for a failed ADD after delegation: the delegate's DEL runs, with the same configuration.
    assert _calls(fake_ipam) == [("ADD", conf), ("DEL", conf)]


# --------------------------------------------------------------------------------------------
# Faults: a repeated ADD, a FIFO for a namespace, a plugin killed during IPAM's ADD
# --------------------------------------------------------------------------------------------


def test_repeated_add_is_refused_and_changes_nothing(world: Env) -> None:
    conf = world.conf()
    assert world.call("ADD", conf).code == 0
    records = world.records()

    out = world.call("ADD", conf)

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 100,
            "msg": f"attachment {world.container_id}/eth0 already exists",
            "details": "a repeated ADD changes nothing; DEL the attachment first",
        },
    )
    assert world.allocated() == [world.lease.host(2)]
    assert world.records() == records
    assert host_link(world.host_ifname) is not None


def test_fifo_as_netns_is_refused_before_ipam_without_hanging(world: Env, tmp_path: Path) -> None:
    fifo = tmp_path / "netns-fifo"
    os.mkfifo(fifo)

    out = world.call("ADD", world.conf(), netns=str(fifo))

    assert (out.code, out.output) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 8,
            "msg": f"{fifo} is not a network namespace",
            "details": str(fifo),
        },
    )
    assert world.allocated() == []
    assert world.records() == {}


# host-local behind a wrapper that takes its time over ADD, so the plugin can be killed while IPAM works.
SLOW_ADD = """#!/bin/sh
if [ "$CNI_COMMAND" = ADD ]; then touch "{flag}"; sleep 1; fi
exec {host_local}
"""


def test_kill_during_ipam_add_is_released_by_gc(world: Env, fake_ipam: Path, tmp_path: Path) -> None:
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    started = tmp_path / "ipam-started"
    (slow / "host-local").write_text(SLOW_ADD.format(flag=started, host_local=HOST_LOCAL_DIR / "host-local"))
    (slow / "host-local").chmod(0o755)
    conf = world.conf()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "PYTHONPATH": str(SCRIPT.parent.parent.parent),
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": world.container_id,
            "CNI_NETNS": world.ns.path,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(slow),
        },
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(conf).encode())
    proc.stdin.close()
    waited = 0.0
    while not started.exists():
        assert waited < 30 and proc.poll() is None
        time.sleep(0.01)
        waited += 0.01
    proc.kill()  # while IPAM allocates: nothing of the plugin runs any more
    proc.wait()
    # The delegate, in a session of its own, still finishes the allocation.
    for _ in range(300):
        if world.allocated():
            break
        time.sleep(0.01)
    assert world.allocated() == [world.lease.host(2)]
    assert [doc["phase"] for doc in world.records().values()] == ["adding"]
    # The runtime retries the ADD without a DEL: host-local refuses the duplicate, and the record that leads to
    # the killed ADD's lease stays.
    retry = world.call("ADD", conf)
    assert (retry.code, retry.output["code"], retry.output["msg"]) == (
        1,
        999,
        f"failed to allocate for range 0: {world.lease.host(2)} has been allocated to {world.container_id}, "
        "duplicate allocation is not allowed",
    )
    assert [doc["phase"] for doc in world.records().values()] == ["adding"]

    gc_conf = {**_v11_conf(world.state_dir), "name": world.network}
    out = call("GC", gc_conf, container_id="", netns="", ifname="", cni_path=f"{fake_ipam}:{HOST_LOCAL_DIR}")

    assert (out.code, out.output) == (0, None)
    assert world.allocated() == []
    assert world.records() == {}


@pytest.mark.parametrize("how", ["closed", "broken-pipe"])
def test_undeliverable_add_leaves_nothing(world: Env, how: str) -> None:
    # The runtime never reads the result, so it takes the ADD as failed: the pair, address and record must go.
    env = {
        **os.environ,
        "PYTHONPATH": str(SCRIPT.parent.parent.parent),
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": world.container_id,
        "CNI_NETNS": world.ns.path,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": str(HOST_LOCAL_DIR),
    }
    read_end, write_end = os.pipe()
    if how == "broken-pipe":
        os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, str(SCRIPT)],
            input=json.dumps(world.conf()).encode(),
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
            timeout=60,
            preexec_fn=(lambda: os.close(1)) if how == "closed" else None,
        )
    finally:
        os.close(write_end)
        if how == "closed":
            os.close(read_end)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines()[-1] == "rscni-py: the undelivered ADD was undone"
    assert host_link(world.host_ifname) is None
    assert world.allocated() == []
    assert world.records() == {}


# The plugin as a process, killed (SIGKILL) right after the pair is built, before the record would say so.
KILLED_BEFORE_RECORD = """
import os, signal, sys
sys.path.insert(0, {root!r})
from examples.veth import rscni_veth
rscni_veth._record = lambda args: os.kill(os.getpid(), signal.SIGKILL)
rscni_veth.VethPlugin.run()
"""


@pytest.mark.parametrize("cleanup", ["GC", "DEL"])
def test_kill_after_the_pair_is_built_is_found_by_del_and_gc(
    world: Env, fake_ipam: Path, tmp_path: Path, cleanup: str
) -> None:
    conf = world.conf()
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_RECORD.format(root=str(SCRIPT.parent.parent.parent))],
        input=json.dumps(conf).encode(),
        capture_output=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": world.container_id,
            "CNI_NETNS": world.ns.path,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(HOST_LOCAL_DIR),
        },
    )
    assert (proc.returncode, proc.stdout) == (-9, b"")
    assert host_link(world.host_ifname) is not None
    assert world.allocated() == [world.lease.host(2)]
    assert [doc["phase"] for doc in world.records().values()] == ["adding"]

    if cleanup == "GC":
        gc_conf = {**_v11_conf(world.state_dir), "name": world.network}
        out = call("GC", gc_conf, container_id="", netns="", ifname="", cni_path=f"{fake_ipam}:{HOST_LOCAL_DIR}")
    else:
        out = world.call("DEL", conf)

    assert (out.code, out.output) == (0, None)
    assert host_link(world.host_ifname) is None
    assert world.allocated() == []
    assert world.records() == {}
