"""Result shape of CNI 0.3.0, 0.3.1 and 0.4.0 (Go ``pkg/types/040``).

Differences from 1.x: every ``ips[]`` entry carries ``version`` (``"4"``/``"6"``, always written),
interfaces have only ``name``, ``mac`` and ``sandbox``, and ``dns`` is always written (``{}`` when
empty).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, Literal

from rscni_py.types._family import FAMILY_VERSIONS
from rscni_py.types.common import DNS, ResultMethods, Route
from rscni_py.types.fields import IPAddress, IPInterface, MACAddress, json_field

if TYPE_CHECKING:
    pass

__all__ = [
    "DNS",
    "IMPLEMENTED_SPEC_VERSION",
    "IPConfig",
    "Interface",
    "Result",
    "Route",
    "SUPPORTED_VERSIONS",
]

IMPLEMENTED_SPEC_VERSION: Final = "0.4.0"
SUPPORTED_VERSIONS: Final = frozenset(FAMILY_VERSIONS["0.4"])


@dataclass
class Interface:
    """An interface the plugin created (result ``interfaces[]``); ``name`` is always written."""

    name: str = json_field(default="")
    mac: MACAddress = json_field(default="", omit="empty")
    sandbox: str = json_field(default="", omit="empty")


@dataclass
class IPConfig:
    """An IP address the plugin assigned (result ``ips[]``), with its address family as ``version``."""

    version: Literal["4", "6"]
    address: IPInterface
    gateway: IPAddress | None = json_field(default=None, omit="none")
    interface: int | None = json_field(default=None, omit="none")


@dataclass
class Result(ResultMethods):
    """The result of ADD for CNI 0.3.0/0.3.1/0.4.0."""

    interfaces: list[Interface] = json_field(default_factory=list, omit="empty")
    ips: list[IPConfig] = json_field(default_factory=list, omit="empty")
    routes: list[Route] = json_field(default_factory=list, omit="empty")
    dns: DNS = json_field(default_factory=DNS)
    cni_version: str = json_field("cniVersion", default=IMPLEMENTED_SPEC_VERSION)

    implemented_version: ClassVar[str] = IMPLEMENTED_SPEC_VERSION
