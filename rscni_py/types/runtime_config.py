"""``runtimeConfig``: values the runtime injects for the capabilities a plugin declared.

One typed field per well-known capability of CNI's CONVENTIONS.md. Capabilities
this module does not know stay in :attr:`RuntimeConfig.raw` / :attr:`RuntimeConfig.extra`, and are
written back by ``encode``.
"""

from dataclasses import dataclass
from typing import Any

from rscni_py.types.fields import IPAddress, IPInterface, MACAddress, json_field, raw_field

__all__ = ["Bandwidth", "IPRange", "PortMapping", "RuntimeConfig", "RuntimeDNS"]


@dataclass(kw_only=True)
class PortMapping:
    """One entry of the ``portMappings`` capability (portmap plugin)."""

    host_port: int = json_field("hostPort")
    container_port: int = json_field("containerPort")
    protocol: str = json_field(default="", omit="empty")
    host_ip: str = json_field("hostIP", default="", omit="empty")


@dataclass(kw_only=True)
class IPRange:
    """One range of the ``ipRanges`` capability, in host-local's ``ranges`` format."""

    subnet: IPInterface
    range_start: IPAddress | None = json_field("rangeStart", default=None, omit="none")
    range_end: IPAddress | None = json_field("rangeEnd", default=None, omit="none")
    gateway: IPAddress | None = json_field(default=None, omit="none")


@dataclass(kw_only=True)
class Bandwidth:
    """The ``bandwidth`` capability: rates in bits per second, bursts in bits."""

    ingress_rate: int | None = json_field("ingressRate", default=None, omit="none")
    ingress_burst: int | None = json_field("ingressBurst", default=None, omit="none")
    egress_rate: int | None = json_field("egressRate", default=None, omit="none")
    egress_burst: int | None = json_field("egressBurst", default=None, omit="none")


@dataclass(kw_only=True)
class RuntimeDNS:
    """The ``dns`` capability; note its keys differ from the result/config ``dns`` object."""

    servers: list[str] = json_field(default_factory=list, omit="empty")
    searches: list[str] = json_field(default_factory=list, omit="empty")
    options: list[str] = json_field(default_factory=list, omit="empty")


@dataclass(kw_only=True)
class RuntimeConfig:
    """The ``runtimeConfig`` object of a plugin configuration; every capability is optional."""

    port_mappings: list[PortMapping] | None = json_field("portMappings", default=None, omit="none")
    ip_ranges: list[list[IPRange]] | None = json_field("ipRanges", default=None, omit="none")
    bandwidth: Bandwidth | None = json_field(default=None, omit="none")
    dns: RuntimeDNS | None = json_field(default=None, omit="none")
    ips: list[IPInterface | IPAddress] | None = json_field(default=None, omit="none")
    """Requested addresses, each an IP (``"10.10.0.1"``) or a CIDR (``"10.10.0.1/24"``)."""
    mac: MACAddress | None = json_field(default=None, omit="none")
    infiniband_guid: str | None = json_field("infinibandGUID", default=None, omit="none")
    device_id: str | None = json_field("deviceID", default=None, omit="none")
    aliases: list[str] | None = json_field(default=None, omit="none")
    cgroup_path: str | None = json_field("cgroupPath", default=None, omit="none")
    raw: dict[str, Any] = raw_field()
    """The whole ``runtimeConfig`` object as received."""

    @property
    def extra(self) -> dict[str, Any]:
        """Capabilities not modelled here, by key, as received."""
        from rscni_py.types.codec import extra_keys

        return extra_keys(self)
