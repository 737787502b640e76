"""Result shape of CNI 0.1.0 and 0.2.0 (Go ``pkg/types/020``): at most one IPv4 and one IPv6 config.

``dns`` is always written (``{}`` when empty). A missing or empty ``cniVersion`` means 0.1.0.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

from rscni_py.types._family import FAMILY_VERSIONS
from rscni_py.types.common import DNS, ResultMethods, Route
from rscni_py.types.fields import IPAddress, IPInterface, json_field

if TYPE_CHECKING:
    pass

__all__ = [
    "DNS",
    "IMPLEMENTED_SPEC_VERSION",
    "IPConfig",
    "Result",
    "Route",
    "SUPPORTED_VERSIONS",
]

IMPLEMENTED_SPEC_VERSION: Final = "0.2.0"
SUPPORTED_VERSIONS: Final = frozenset(FAMILY_VERSIONS["0.2"])


@dataclass
class IPConfig:
    """The ``ip4`` or ``ip6`` object: address (``ip``, always written), gateway and the routes for it."""

    ip: IPInterface
    gateway: IPAddress | None = json_field(default=None, omit="none")
    routes: list[Route] = json_field(default_factory=list, omit="empty")


@dataclass
class Result(ResultMethods):
    """The result of ADD for CNI 0.1.0/0.2.0."""

    ip4: IPConfig | None = json_field(default=None, omit="none")
    ip6: IPConfig | None = json_field(default=None, omit="none")
    dns: DNS = json_field(default_factory=DNS)
    cni_version: str = json_field("cniVersion", default=IMPLEMENTED_SPEC_VERSION)

    implemented_version: ClassVar[str] = IMPLEMENTED_SPEC_VERSION
