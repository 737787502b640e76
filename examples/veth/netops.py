"""Netlink operations of the point-to-point (veth) example plugin.

This module does the kernel work behind the plugin's ADD, CHECK and DEL: it wires a container's
network namespace (``CNI_NETNS``) to the host with a veth pair, the same topology as the reference
``ptp`` plugin, and later verifies or removes it. It knows nothing about the CNI protocol or the
SDK: the plugin turns its IPAM result into :class:`VethConfig` and the returned
:class:`VethAttachment` into a CNI result (spec: SPEC.md "Add", "Check" and "Delete").

Topology built by :func:`setup` for each container address ``A/len`` with gateway ``G``:

* container side (interface ``CNI_IFNAME``): ``A/len`` without its automatic prefix route, an
  on-link host route to ``G``, the subnet ``A/len`` via ``G``, and every requested route via ``G``;
  so all traffic leaves through the host, as with ``ptp``;
* host side (interface ``veth`` + 11 hex digits derived from the container ID and ``CNI_IFNAME``):
  ``G/32`` (or ``G/128``) as a local address so the host answers for the gateway, and a host route
  ``A/32`` (or ``A/128``) through the host end.

An address without a gateway keeps its kernel prefix route and gets no host-side address; routes of
that family then go straight out of the container interface, which only reaches beyond the subnet
if the host end answers ARP/ND for everything (proxy ARP, a sysctl this module does not set).

What this module deliberately leaves alone: sysctls (IP forwarding, proxy ARP, masquerading are the
host administrator's or another plugin's business), the container's loopback (the ``loopback``
plugin's job) and IPv6 duplicate address detection (addresses are added with ``nodad``, as both ends
of a veth pair are ours, so they are usable at once).

Errors all derive from :class:`NetOpsError` and name the interface, namespace or address
concerned. :func:`setup` never leaves a half-built pair behind: if any step after the veth
creation fails, the pair is deleted before the error propagates.

The caller needs CAP_NET_ADMIN and CAP_SYS_ADMIN (to enter the namespace), as any CNI plugin run
by a container runtime has. Netlink goes through pyroute2's synchronous ``IPRoute``; a socket in
the container namespace is opened by pyroute2 in a short-lived forked child (its default ``fork``
child-process mode), given an already opened namespace file descriptor. Importing this module
sets ``pyroute2.config.disable_mp_signal`` so that child never runs the caller's signal handlers.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
    ip_address,
    ip_interface,
    ip_network,
)
from typing import Final, TypeAlias

import pyroute2.config
from pyroute2 import IPRoute, NetlinkError
from pyroute2.netlink import nlmsg_base

_log = logging.getLogger(__name__)

__all__ = [
    "AddressSpec",
    "CheckFailed",
    "InvalidArgument",
    "LinkExists",
    "LinkInfo",
    "NetlinkOperationFailed",
    "NetnsNotFound",
    "NetOpsError",
    "NotANetns",
    "RouteSpec",
    "VethAttachment",
    "VethConfig",
    "check",
    "check_netns",
    "host_ifname",
    "setup",
    "teardown",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPInterface: TypeAlias = IPv4Interface | IPv6Interface
IPNetwork: TypeAlias = IPv4Network | IPv6Network

#: Prefix of the host end's name; the rest is a digest, see :func:`host_ifname`.
HOST_IFNAME_PREFIX: Final = "veth"
#: Linux IFNAMSIZ is 16 bytes including the terminating NUL.
MAX_IFNAME_BYTES: Final = 15
#: Smallest MTU IPv4 allows (RFC 791) and the largest a veth accepts.
MIN_MTU: Final = 68
MAX_MTU: Final = 65535
#: The kernel disables IPv6 on a device whose MTU is below this (RFC 8200).
MIN_IPV6_MTU: Final = 1280

# Kernel ABI values (linux/if_addr.h, linux/rtnetlink.h, linux/nsfs.h, linux/sched.h).
_IFA_F_NODAD: Final = 0x02
_IFA_F_NOPREFIXROUTE: Final = 0x200
_RT_SCOPE_UNIVERSE: Final = 0
_RT_SCOPE_LINK: Final = 253
_RT_TABLE_MAIN: Final = 254
_NS_GET_NSTYPE: Final = 0xB703
_CLONE_NEWNET: Final = 0x40000000


# pyroute2 opens a socket inside a namespace from a forked child (no exec) and stops it with
# SIGTERM. With this setting the child resets SIGTERM/SIGINT to their defaults, so it simply ends
# instead of running whatever handlers the caller installed (a handler that raises would unwind
# the rest of the caller's work inside the child). The SDK's own handlers end such a child too;
# this keeps the module safe under any caller.
pyroute2.config.disable_mp_signal = True


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class NetOpsError(Exception):
    """Base of every error raised by this module; the plugin maps it to a CNI error."""


class InvalidArgument(NetOpsError, ValueError):
    """A name, address, route or MTU handed to this module is unusable (bad config)."""


class NetnsNotFound(NetOpsError):
    """The container's network namespace path (``CNI_NETNS``) does not exist."""

    def __init__(self, netns: str) -> None:
        super().__init__(f"network namespace {netns} does not exist")
        self.netns = netns


class NotANetns(NetOpsError):
    """The ``CNI_NETNS`` path exists but is not a network namespace."""

    def __init__(self, netns: str) -> None:
        super().__init__(f"{netns} is not a network namespace")
        self.netns = netns


class LinkExists(NetOpsError):
    """An interface with the name we want already exists (host end or container end)."""

    def __init__(self, ifname: str, where: str) -> None:
        super().__init__(f"interface {ifname} already exists in {where}")
        self.ifname = ifname
        self.where = where


class NetlinkOperationFailed(NetOpsError):
    """The kernel refused a netlink request; ``errno`` is the kernel's error number."""

    def __init__(self, action: str, err: NetlinkError, hint: str = "") -> None:
        message = f"{action}: {os.strerror(err.code)} (errno {err.code})"
        if hint:
            message = f"{message}; {hint}"
        super().__init__(message)
        self.action = action
        self.errno = err.code


class CheckFailed(NetOpsError):
    """CHECK found the attachment different from what was set up; ``problems`` lists each gap."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressSpec:
    """One container address (an IPAM ``ips`` entry): address with prefix, optional gateway."""

    address: IPInterface
    gateway: IPAddress | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.address, IPv4Interface | IPv6Interface):
            raise InvalidArgument(f"address: expected an IPv4Interface or IPv6Interface, got {self.address!r}")
        if self.gateway is None:
            return
        if not isinstance(self.gateway, IPv4Address | IPv6Address):
            raise InvalidArgument(f"gateway of {self.address}: expected an IP address, got {self.gateway!r}")
        if self.gateway.version != self.address.version:
            raise InvalidArgument(f"gateway {self.gateway} of {self.address}: IP version differs from the address")
        if self.gateway == self.address.ip:
            raise InvalidArgument(f"gateway {self.gateway} equals the container address")


@dataclass(frozen=True)
class RouteSpec:
    """A container route (an IPAM ``routes`` entry).

    ``gateway`` None means "via the gateway of the first address of the same IP version", or
    straight out of the container interface when no address of that version has a gateway. An
    explicit gateway must be reachable on the link, i.e. one of the addresses' gateways: the
    container has no prefix route that would make other subnet members on-link.
    """

    dst: IPNetwork
    gateway: IPAddress | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dst, IPv4Network | IPv6Network):
            raise InvalidArgument(f"route dst: expected an IPv4Network or IPv6Network, got {self.dst!r}")
        if self.gateway is not None:
            if not isinstance(self.gateway, IPv4Address | IPv6Address):
                raise InvalidArgument(f"gateway of route {self.dst}: expected an IP address, got {self.gateway!r}")
            if self.gateway.version != self.dst.version:
                raise InvalidArgument(f"gateway {self.gateway} of route {self.dst}: IP version differs from dst")


@dataclass(frozen=True)
class VethConfig:
    """Everything :func:`setup` and :func:`check` need; all of it comes from CNI input.

    ``container_id`` is ``CNI_CONTAINERID``, ``ifname`` is ``CNI_IFNAME``, ``netns`` is
    ``CNI_NETNS`` (a path such as ``/var/run/netns/NAME`` or ``/proc/PID/ns/net``), ``addresses``
    and ``routes`` come from the IPAM result, ``mtu`` from the network config (None keeps the
    kernel default of 1500).
    """

    container_id: str
    ifname: str
    netns: str
    addresses: tuple[AddressSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    mtu: int | None = None

    def __post_init__(self) -> None:
        _validate_container_id(self.container_id)
        _validate_ifname(self.ifname, "ifname")
        _validate_netns(self.netns)
        # Accept lists from callers but store tuples, so the config stays hashable and frozen.
        object.__setattr__(self, "addresses", tuple(self.addresses))
        object.__setattr__(self, "routes", tuple(self.routes))
        for spec in self.addresses:
            if not isinstance(spec, AddressSpec):
                raise InvalidArgument(f"addresses: expected AddressSpec items, got {spec!r}")
        for route in self.routes:
            if not isinstance(route, RouteSpec):
                raise InvalidArgument(f"routes: expected RouteSpec items, got {route!r}")
        seen = {spec.address.ip for spec in self.addresses}
        if len(seen) != len(self.addresses):
            raise InvalidArgument("addresses: the same IP address is listed twice")
        if self.mtu is not None:
            if isinstance(self.mtu, bool) or not isinstance(self.mtu, int):
                raise InvalidArgument(f"mtu: expected an integer, got {self.mtu!r}")
            if not MIN_MTU <= self.mtu <= MAX_MTU:
                raise InvalidArgument(f"mtu: {self.mtu} is outside {MIN_MTU}..{MAX_MTU}")
            if self.mtu < MIN_IPV6_MTU and any(s.address.version == 6 for s in self.addresses):
                raise InvalidArgument(f"mtu: {self.mtu} is below {MIN_IPV6_MTU}, the minimum for IPv6 addresses")
        # Resolving the routes here reports conflicts before anything is created.
        _container_routes(self)

    @property
    def host_ifname(self) -> str:
        """Name of the host end of the pair."""
        return host_ifname(self.container_id, self.ifname)


@dataclass(frozen=True)
class LinkInfo:
    """One end of the veth pair: name, MAC, and the namespace path (None for the host)."""

    name: str
    mac: str
    netns: str | None = None


@dataclass(frozen=True)
class VethAttachment:
    """What :func:`setup` created, for the plugin's CNI result.

    ``routes`` are the requested routes with their gateway resolved (the on-link route to the
    gateway and the subnet route are implementation details and not listed). ``mtu`` is the MTU the
    kernel reports for the container end.
    """

    host: LinkInfo
    container: LinkInfo
    addresses: tuple[AddressSpec, ...]
    routes: tuple[RouteSpec, ...]
    mtu: int


# --------------------------------------------------------------------------------------------
# Names and validation
# --------------------------------------------------------------------------------------------


def host_ifname(container_id: str, ifname: str) -> str:
    """Deterministic name of the host end for a container's ``CNI_CONTAINERID`` + ``CNI_IFNAME``.

    DEL finds the pair from its arguments alone, without any stored state. 11 hex digits fill the
    15-byte name limit; they make an accidental clash between two attachments unlikely even with
    tens of thousands of containers on a host (a clash is reported as :class:`LinkExists`).
    """
    _validate_container_id(container_id)
    _validate_ifname(ifname, "ifname")
    digest = hashlib.sha256(f"{container_id}\0{ifname}".encode()).hexdigest()
    return HOST_IFNAME_PREFIX + digest[: MAX_IFNAME_BYTES - len(HOST_IFNAME_PREFIX)]


def _validate_netns(netns: str) -> None:
    if not netns:
        raise InvalidArgument("netns: must be a non-empty path")
    if not os.path.isabs(netns):
        raise InvalidArgument(f"netns: {netns!r} is not an absolute path")


def _validate_container_id(container_id: str) -> None:
    if not container_id:
        raise InvalidArgument("container_id: must be a non-empty string")


def _validate_ifname(name: str, what: str) -> None:
    # The same rules the kernel and libcni apply to interface names.
    if not name:
        raise InvalidArgument(f"{what}: must be a non-empty string")
    if len(name.encode()) > MAX_IFNAME_BYTES:
        raise InvalidArgument(f"{what}: {name!r} is longer than {MAX_IFNAME_BYTES} bytes")
    if name in (".", ".."):
        raise InvalidArgument(f"{what}: {name!r} is not a valid interface name")
    if any(c in "/:" or c.isspace() for c in name):
        raise InvalidArgument(f"{what}: {name!r} contains '/', ':' or whitespace")


def _host_prefix(addr: IPAddress) -> IPNetwork:
    return ip_network(f"{addr}/{addr.max_prefixlen}")


@dataclass(frozen=True)
class _Route:
    """A route as installed: dst, optional gateway, scope."""

    dst: IPNetwork
    gateway: IPAddress | None
    scope: int = _RT_SCOPE_UNIVERSE

    def describe(self, dev: str) -> str:
        via = f" via {self.gateway}" if self.gateway is not None else ""
        return f"route {self.dst}{via} dev {dev}"


def _gateways(config: VethConfig) -> dict[int, IPAddress]:
    """The default gateway per IP version: that of the first address of the version having one."""
    found: dict[int, IPAddress] = {}
    for spec in config.addresses:
        if spec.gateway is not None:
            found.setdefault(spec.address.version, spec.gateway)
    return found


def _resolved_routes(config: VethConfig) -> tuple[RouteSpec, ...]:
    gateways = _gateways(config)
    return tuple(
        RouteSpec(r.dst, r.gateway if r.gateway is not None else gateways.get(r.dst.version)) for r in config.routes
    )


def _container_routes(config: VethConfig) -> list[_Route]:
    """Every route setup installs in the container, in order, without duplicates.

    The on-link routes to the gateways come first, as the kernel only accepts a route via a
    gateway it can reach. A requested route for the same destination as an implicit one wins.
    """
    requested: dict[IPNetwork, _Route] = {}
    for route in _resolved_routes(config):
        scope = _RT_SCOPE_UNIVERSE if route.gateway is not None else _RT_SCOPE_LINK
        new = _Route(route.dst, route.gateway, scope)
        old = requested.setdefault(route.dst, new)
        if old != new:
            raise InvalidArgument(
                f"routes: {route.dst} is given twice with different gateways ({old.gateway} and {new.gateway})"
            )
    implicit: dict[IPNetwork, _Route] = {}
    for spec in config.addresses:
        if spec.gateway is not None:
            # The gateway is on the link itself: it is the host end's address.
            dst = _host_prefix(spec.gateway)
            implicit.setdefault(dst, _Route(dst, None, _RT_SCOPE_LINK))
    for spec in config.addresses:
        if spec.gateway is not None and spec.address.network.prefixlen < spec.address.max_prefixlen:
            # Stands in for the kernel's prefix route: the rest of the subnet is behind the host.
            implicit.setdefault(spec.address.network, _Route(spec.address.network, spec.gateway))
    return [r for dst, r in implicit.items() if dst not in requested] + list(requested.values())


def _host_addresses(config: VethConfig) -> list[IPAddress]:
    """Gateways the host end answers for, without duplicates."""
    out: list[IPAddress] = []
    for spec in config.addresses:
        if spec.gateway is not None and spec.gateway not in out:
            out.append(spec.gateway)
    return out


# --------------------------------------------------------------------------------------------
# Netlink helpers
# --------------------------------------------------------------------------------------------


@contextmanager
def _open_netns(netns: str) -> Iterator[int]:
    """Open ``netns`` and make sure it is a network namespace; yields the file descriptor.

    O_NONBLOCK: a FIFO (or a device) planted at the path must not hang the plugin in open(); the
    NS_GET_NSTYPE ioctl then refuses anything that is not a namespace file.
    """
    try:
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise NetnsNotFound(netns) from None
    except OSError as exc:
        raise NetOpsError(f"cannot open network namespace {netns}: {exc.strerror}") from None
    try:
        try:
            nstype = fcntl.ioctl(fd, _NS_GET_NSTYPE)
        except OSError:
            raise NotANetns(netns) from None
        if nstype != _CLONE_NEWNET:
            raise NotANetns(netns)
        yield fd
    finally:
        os.close(fd)


def check_netns(netns: str) -> None:
    """Raise :class:`NetnsNotFound` / :class:`NotANetns` unless ``netns`` is a network namespace.

    Never blocks; ADD calls it before anything is allocated, so a bad path costs nothing to undo.
    Raises :class:`InvalidArgument` for an empty or relative path.
    """
    _validate_netns(netns)
    with _open_netns(netns):
        pass


@contextmanager
def _netns_iproute(netns: str) -> Iterator[IPRoute]:
    """An ``IPRoute`` bound to the namespace at path ``netns``; never creates a namespace."""
    # flags=0: pyroute2 would otherwise create a missing namespace (its default is O_CREAT).
    with _open_netns(netns) as fd, IPRoute(netns=fd, flags=0) as ipr:
        yield ipr


def _str_attr(msg: nlmsg_base, key: str) -> str | None:
    value = msg.get(key)
    return value if isinstance(value, str) else None


def _int_attr(msg: nlmsg_base, key: str | tuple[str, ...]) -> int | None:
    value = msg.get(key)
    return value if isinstance(value, int) else None


def _lookup(ipr: IPRoute, ifname: str) -> int | None:
    indexes = ipr.link_lookup(ifname=ifname)
    return indexes[0] if indexes else None


def _link(ipr: IPRoute, index: int) -> nlmsg_base:
    return ipr.get_links(index)[0]


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _add_address(ipr: IPRoute, index: int, addr: IPAddress, prefixlen: int, *, prefix_route: bool, where: str) -> None:
    flags = 0 if prefix_route else _IFA_F_NOPREFIXROUTE
    if addr.version == 6:
        flags |= _IFA_F_NODAD
    try:
        ipr.addr("add", index=index, address=str(addr), prefixlen=prefixlen, flags=flags)
    except NetlinkError as err:
        hint = ""
        if addr.version == 6 and err.code == errno.EACCES:
            hint = "IPv6 looks disabled there (net.ipv6.conf.*.disable_ipv6)"
        action = f"adding address {addr}/{prefixlen} to {where}"
        raise NetlinkOperationFailed(action, err, hint) from err


def _add_route(ipr: IPRoute, index: int, route: _Route, where: str) -> None:
    request: dict[str, object] = {
        "dst": str(route.dst),
        "oif": index,
        "scope": route.scope,
        "family": _family(route.dst.version),
        "table": _RT_TABLE_MAIN,
    }
    if route.gateway is not None:
        request["gateway"] = str(route.gateway)
    try:
        ipr.route("add", **request)
    except NetlinkError as err:
        raise NetlinkOperationFailed(f"adding {route.describe(where)}", err) from err


def _routes_of(ipr: IPRoute, index: int, version: int) -> set[tuple[IPNetwork, IPAddress | None]]:
    """(dst, gateway) of the main-table routes through interface ``index``."""
    found: set[tuple[IPNetwork, IPAddress | None]] = set()
    for msg in ipr.route("dump", family=_family(version), table=_RT_TABLE_MAIN):
        if _int_attr(msg, "oif") != index:
            continue
        dst_len = _int_attr(msg, "dst_len") or 0
        dst = _str_attr(msg, "dst") or ("0.0.0.0" if version == 4 else "::")
        gateway = _str_attr(msg, "gateway")
        found.add(
            (
                ip_network(f"{dst}/{dst_len}", strict=False),
                ip_address(gateway) if gateway is not None else None,
            )
        )
    return found


def _addresses_of(ipr: IPRoute, index: int) -> set[IPInterface]:
    found: set[IPInterface] = set()
    for msg in ipr.addr("dump", index=index):
        # For IPv4 IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on ptp links).
        addr = _str_attr(msg, "local") or _str_attr(msg, "address")
        prefixlen = _int_attr(msg, "prefixlen")
        if addr is None or prefixlen is None:
            continue
        found.add(ip_interface(f"{addr}/{prefixlen}"))
    return found


def _delete_link(ipr: IPRoute, name: str) -> bool:
    """Delete link ``name`` if present; True when this call removed it."""
    index = _lookup(ipr, name)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except NetlinkError as err:
        if err.code == errno.ENODEV:
            return False  # deleted concurrently: the outcome is the same
        raise NetlinkOperationFailed(f"deleting interface {name} on the host", err) from err
    return True


# --------------------------------------------------------------------------------------------
# ADD, CHECK, DEL
# --------------------------------------------------------------------------------------------


def setup(config: VethConfig) -> VethAttachment:
    """ADD: create the pair, configure both ends, return what was created.

    Raises :class:`NetnsNotFound` / :class:`NotANetns` for a bad ``netns``, :class:`LinkExists` when
    the host end's name or ``ifname`` in the container is taken (nothing is created then), and
    :class:`NetlinkOperationFailed` when the kernel refuses a step (the pair is removed first).
    """
    host_name = config.host_ifname
    container_routes = _container_routes(config)
    with _open_netns(config.netns) as ns_fd, IPRoute() as host:
        if _lookup(host, host_name) is not None:
            raise LinkExists(host_name, "the host network namespace")
        with IPRoute(netns=ns_fd, flags=0) as cont:
            if _lookup(cont, config.ifname) is not None:
                raise LinkExists(config.ifname, f"network namespace {config.netns}")
            # The peer is created directly inside the container namespace under its final name,
            # so it never collides with host interfaces such as eth0.
            try:
                host.link(
                    "add",
                    ifname=host_name,
                    kind="veth",
                    peer={"ifname": config.ifname, "net_ns_fd": ns_fd},
                )
            except NetlinkError as err:
                if err.code == errno.EEXIST:
                    raise LinkExists(
                        f"{host_name} or {config.ifname}",
                        f"the host or network namespace {config.netns}",
                    ) from None
                raise NetlinkOperationFailed(
                    f"creating veth pair {host_name} <-> {config.ifname} in {config.netns}", err
                ) from err
            try:
                return _configure(config, host, cont, host_name, container_routes)
            except BaseException:
                try:
                    _delete_link(host, host_name)
                except Exception as cleanup_exc:  # report both, the first one wins
                    _log.warning("rollback failed too: %s", cleanup_exc)
                raise


def _configure(
    config: VethConfig,
    host: IPRoute,
    cont: IPRoute,
    host_name: str,
    container_routes: list[_Route],
) -> VethAttachment:
    where = f"{config.ifname} in {config.netns}"
    host_index = _lookup(host, host_name)
    cont_index = _lookup(cont, config.ifname)
    if host_index is None or cont_index is None:
        raise NetOpsError(f"veth pair {host_name} <-> {where} vanished right after creation")

    link_settings: dict[str, object] = {"state": "up"}
    if config.mtu is not None:
        link_settings["mtu"] = config.mtu
    try:
        cont.link("set", index=cont_index, **link_settings)
    except NetlinkError as err:
        raise NetlinkOperationFailed(f"bringing up {where}", err) from err
    try:
        host.link("set", index=host_index, **link_settings)
    except NetlinkError as err:
        raise NetlinkOperationFailed(f"bringing up {host_name} on the host", err) from err

    for spec in config.addresses:
        _add_address(
            cont,
            cont_index,
            spec.address.ip,
            spec.address.network.prefixlen,
            prefix_route=spec.gateway is None,
            where=where,
        )
    for route in container_routes:
        _add_route(cont, cont_index, route, where)

    for gateway in _host_addresses(config):
        _add_address(
            host,
            host_index,
            gateway,
            gateway.max_prefixlen,
            prefix_route=False,
            where=f"{host_name} on the host",
        )
    for spec in config.addresses:
        _add_route(
            host,
            host_index,
            _Route(_host_prefix(spec.address.ip), None, _RT_SCOPE_LINK),
            f"{host_name} on the host",
        )

    host_link = _link(host, host_index)
    cont_link = _link(cont, cont_index)
    return VethAttachment(
        host=LinkInfo(host_name, _str_attr(host_link, "address") or ""),
        container=LinkInfo(config.ifname, _str_attr(cont_link, "address") or "", config.netns),
        addresses=config.addresses,
        routes=_resolved_routes(config),
        mtu=_int_attr(cont_link, "mtu") or 0,
    )


def check(config: VethConfig, *, container_mac: str | None = None) -> None:
    """CHECK: verify the attachment is still as :func:`setup` made it.

    Looks at the container end (exists, is a veth paired with the host end, has ``container_mac``
    when given, the MTU when configured, every address and route) and the host end (exists, has the
    gateway addresses and the host route to every container address). Raises :class:`CheckFailed`
    listing every difference, or :class:`NetnsNotFound` / :class:`NotANetns`.
    """
    problems: list[str] = []
    host_name = config.host_ifname
    where = f"{config.ifname} in {config.netns}"
    with IPRoute() as host:
        host_index = _lookup(host, host_name)
        if host_index is None:
            problems.append(f"host interface {host_name} is missing")
        else:
            if _link(host, host_index).get(("linkinfo", "kind")) != "veth":
                problems.append(f"host interface {host_name} is not a veth")
            host_addrs = {a.ip for a in _addresses_of(host, host_index)}
            for gateway in _host_addresses(config):
                if gateway not in host_addrs:
                    problems.append(f"host interface {host_name} lacks gateway address {gateway}")
            for version in (4, 6):
                routes = _routes_of(host, host_index, version)
                for spec in config.addresses:
                    want = (_host_prefix(spec.address.ip), None)
                    if spec.address.version == version and want not in routes:
                        problems.append(f"host route {want[0]} dev {host_name} is missing")

    with _netns_iproute(config.netns) as cont:
        cont_index = _lookup(cont, config.ifname)
        if cont_index is None:
            problems.append(f"interface {where} is missing")
            raise CheckFailed(problems)
        link = _link(cont, cont_index)
        if link.get(("linkinfo", "kind")) != "veth":
            problems.append(f"interface {where} is not a veth")
        elif host_index is not None and _int_attr(link, "link") != host_index:
            problems.append(f"interface {where} is not the peer of host interface {host_name}")
        mac = _str_attr(link, "address") or ""
        if container_mac is not None and mac.lower() != container_mac.lower():
            problems.append(f"interface {where} has MAC {mac}, expected {container_mac}")
        mtu = _int_attr(link, "mtu")
        if config.mtu is not None and mtu != config.mtu:
            problems.append(f"interface {where} has MTU {mtu}, expected {config.mtu}")
        addrs = _addresses_of(cont, cont_index)
        for spec in config.addresses:
            if spec.address not in addrs:
                problems.append(f"interface {where} lacks address {spec.address}")
        routes = _routes_of(cont, cont_index, 4) | _routes_of(cont, cont_index, 6)
        for route in _container_routes(config):
            if (route.dst, route.gateway) not in routes:
                problems.append(f"{route.describe(config.ifname)} in {config.netns} is missing")
    if problems:
        raise CheckFailed(problems)


def teardown(container_id: str, ifname: str) -> bool:
    """DEL: delete the pair by its host end (the kernel removes the container end with it).

    Idempotent: a missing pair, or a container namespace that is already gone (which destroys
    the pair too), is success. The namespace itself is never needed, so it is not an argument.
    A host link with our name that is not a veth is not ours and is left alone.
    Returns True when this call deleted the pair, False when there was nothing to delete.
    """
    name = host_ifname(container_id, ifname)
    with IPRoute() as host:
        index = _lookup(host, name)
        if index is None:
            return False
        try:
            kind = _link(host, index).get(("linkinfo", "kind"))
        except NetlinkError as err:
            # The namespace was just deleted: the kernel removes the pair while we look at it.
            if err.code == errno.ENODEV:
                return False
            raise NetlinkOperationFailed(f"reading interface {name} on the host", err) from err
        if kind != "veth":
            return False
        return _delete_link(host, name)
