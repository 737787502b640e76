"""Conversion between result versions: one explicit table, keyed by (from shape, to shape).

Rules from Go's ``pkg/types/{020,040,100}/types.go``:

* 0.2 -> 0.4: ``ip4`` then ``ip6`` become ``ips`` (``version`` "4"/"6", no ``interface``); their
  routes are concatenated; ``dns`` copied.
* 0.4 -> 0.2: the first IP of each version becomes ``ip4``/``ip6``, further ones are dropped; a
  route goes to the ``ipN`` of its destination's family if that exists, keeping only ``dst`` and
  ``gw``; interfaces are lost. No IP at all is the one refusal.
* 0.4 -> 1.x: ``version`` dropped. 1.x -> 0.4: ``version`` computed from the address; interface
  ``mtu``, ``socketPath`` and ``pciID`` are lost; routes keep every field.
* 0.2 <-> 1.x goes through 0.4.0. Inside a shape only ``cniVersion`` changes.

Nothing is registered at import time; the table below is the whole story.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, Final, Literal, TypeAlias

from rscni_py.types import v0_2, v0_4, v1_0
from rscni_py.types._family import IMPLEMENTED_VERSION, Family, family_of
from rscni_py.types.common import DNS, ConversionError, Route
from rscni_py.types.fields import IPInterface

__all__ = ["AnyResult", "convert_result", "family_of_result"]

AnyResult: TypeAlias = v0_2.Result | v0_4.Result | v1_0.Result
"""A result of any CNI version: one of the three result shapes."""

_RESULT_CLASSES: Final[tuple[tuple[type[Any], Family], ...]] = (
    (v0_2.Result, "0.2"),
    (v0_4.Result, "0.4"),
    (v1_0.Result, "1.0"),
)


def family_of_result(result: AnyResult) -> Family:
    """The result shape (module) a result object belongs to."""
    for cls, family in _RESULT_CLASSES:
        if isinstance(result, cls):
            return family
    raise TypeError(f"not a CNI result: {type(result).__name__}")


def _is_ipv4(address: IPInterface) -> bool:
    # Go tests IP.To4() != nil, which is also true for IPv4-mapped IPv6 addresses (::ffff:a.b.c.d).
    return address.version == 4 or address.ip.ipv4_mapped is not None


def _copy_dns(dns: DNS) -> DNS:
    return DNS(list(dns.nameservers), dns.domain, list(dns.search), list(dns.options))


def _copy_route(route: Route) -> Route:
    return dataclasses.replace(route)


def _same_shape(result: Any, version: str) -> Any:
    converted = copy.deepcopy(result)
    converted.cni_version = version
    return converted


def _v02_to_v04(result: v0_2.Result, version: str) -> v0_4.Result:
    ips: list[v0_4.IPConfig] = []
    routes: list[Route] = []
    families: tuple[tuple[Literal["4", "6"], v0_2.IPConfig | None], ...] = (("4", result.ip4), ("6", result.ip6))
    for ip_version, config in families:
        if config is None:
            continue
        ips.append(v0_4.IPConfig(version=ip_version, address=config.ip, gateway=config.gateway))
        routes.extend(_copy_route(route) for route in config.routes)
    return v0_4.Result(ips=ips, routes=routes, dns=_copy_dns(result.dns), cni_version=version)


def _v04_to_v02(result: v0_4.Result, version: str) -> v0_2.Result:
    ip4: v0_2.IPConfig | None = None
    ip6: v0_2.IPConfig | None = None
    for ip in result.ips:
        if ip.version == "4" and ip4 is None:
            ip4 = v0_2.IPConfig(ip=ip.address, gateway=ip.gateway)
        elif ip.version == "6" and ip6 is None:
            ip6 = v0_2.IPConfig(ip=ip.address, gateway=ip.gateway)
    if ip4 is None and ip6 is None:
        raise ConversionError("cannot convert: no valid IP addresses")
    for route in result.routes:
        target = ip4 if _is_ipv4(route.dst) else ip6
        if target is not None:
            target.routes.append(Route(dst=route.dst, gw=route.gw))
    return v0_2.Result(ip4=ip4, ip6=ip6, dns=_copy_dns(result.dns), cni_version=version)


def _v04_to_v10(result: v0_4.Result, version: str) -> v1_0.Result:
    return v1_0.Result(
        interfaces=[v1_0.Interface(name=i.name, mac=i.mac, sandbox=i.sandbox) for i in result.interfaces],
        ips=[v1_0.IPConfig(address=ip.address, gateway=ip.gateway, interface=ip.interface) for ip in result.ips],
        routes=[_copy_route(route) for route in result.routes],
        dns=_copy_dns(result.dns),
        cni_version=version,
    )


def _v10_to_v04(result: v1_0.Result, version: str) -> v0_4.Result:
    return v0_4.Result(
        interfaces=[v0_4.Interface(name=i.name, mac=i.mac, sandbox=i.sandbox) for i in result.interfaces],
        ips=[
            v0_4.IPConfig(
                version="4" if _is_ipv4(ip.address) else "6",
                address=ip.address,
                gateway=ip.gateway,
                interface=ip.interface,
            )
            for ip in result.ips
        ],
        routes=[_copy_route(route) for route in result.routes],
        dns=_copy_dns(result.dns),
        cni_version=version,
    )


def _v02_to_v10(result: v0_2.Result, version: str) -> v1_0.Result:
    return _v04_to_v10(_v02_to_v04(result, "0.4.0"), version)


def _v10_to_v02(result: v1_0.Result, version: str) -> v0_2.Result:
    return _v04_to_v02(_v10_to_v04(result, "0.4.0"), version)


_CONVERTERS: Final[dict[tuple[Family, Family], Callable[[Any, str], AnyResult]]] = {
    ("0.2", "0.2"): _same_shape,
    ("0.2", "0.4"): _v02_to_v04,
    ("0.2", "1.0"): _v02_to_v10,
    ("0.4", "0.2"): _v04_to_v02,
    ("0.4", "0.4"): _same_shape,
    ("0.4", "1.0"): _v04_to_v10,
    ("1.0", "0.2"): _v10_to_v02,
    ("1.0", "0.4"): _v10_to_v04,
    ("1.0", "1.0"): _same_shape,
}


def convert_result(result: AnyResult, version: str) -> AnyResult:
    """Convert a result of any version to ``version`` (``""`` means 0.1.0, as in Go).

    The same version returns ``result`` itself; anything else is a new object sharing nothing
    mutable with ``result``. An empty ``cni_version`` on ``result`` counts as its shape's
    implemented version (0.2.0, 0.4.0 or 1.1.0).

    :raises ConversionError: ``no converter for CNI result version X to Y`` for a version outside
        the known list (or a ``cni_version`` that does not match the object's shape), and
        ``cannot convert: no valid IP addresses`` for the 0.1.0/0.2.0 refusal.
    """
    from_family = family_of_result(result)
    from_version = result.cni_version or IMPLEMENTED_VERSION[from_family]
    to_version = version or "0.1.0"
    to_family = family_of(to_version)
    if family_of(from_version) != from_family or to_family is None:
        raise ConversionError(f"no converter for CNI result version {from_version} to {to_version}")
    if to_version == result.cni_version:
        return result
    return _CONVERTERS[(from_family, to_family)](result, to_version)
