"""Result shape of CNI 1.0.0 and 1.1.0 (SPEC.md "Success", Go ``pkg/types/100``).

This is the model plugins work with: ``rscni_py.types.Result`` is :class:`Result` from here. A
result of any other version converts to and from it with :meth:`Result.convert`.
"""

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

from rscni_py.types._family import FAMILY_VERSIONS
from rscni_py.types.common import DNS, ResultMethods, Route
from rscni_py.types.fields import IPAddress, IPInterface, MACAddress, json_field

if TYPE_CHECKING:
    from rscni_py.types.convert import AnyResult

__all__ = [
    "DNS",
    "IMPLEMENTED_SPEC_VERSION",
    "IPConfig",
    "Interface",
    "Result",
    "Route",
    "SUPPORTED_VERSIONS",
]

IMPLEMENTED_SPEC_VERSION: Final = "1.1.0"
SUPPORTED_VERSIONS: Final = frozenset(FAMILY_VERSIONS["1.0"])


@dataclass
class Interface:
    """An interface the plugin created (result ``interfaces[]``).

    ``sandbox`` is the netns path for container interfaces and empty for host interfaces;
    ``mtu``, ``socket_path`` (vhost-user socket) and ``pci_id`` (SR-IOV device) are spec 1.1.0.
    """

    name: str = json_field(default="")
    mac: MACAddress = json_field(default="", omit="empty")
    mtu: int = json_field(default=0, omit="empty")
    sandbox: str = json_field(default="", omit="empty")
    socket_path: str = json_field("socketPath", default="", omit="empty")
    pci_id: str = json_field("pciID", default="", omit="empty")


@dataclass
class IPConfig:
    """An IP address the plugin assigned (result ``ips[]``); 1.x has no ``version`` key.

    ``interface`` is an index into the result's ``interfaces`` (``None``: not tied to one, as in
    IPAM results; ``0`` is a real index and is written).
    """

    address: IPInterface
    gateway: IPAddress | None = json_field(default=None, omit="none")
    interface: int | None = json_field(default=None, omit="none")


@dataclass
class Result(ResultMethods):
    """The result of ADD for CNI 1.0.0/1.1.0; also the form ``prevResult`` is handed to plugins in.

    ``dns`` is left out of the JSON when empty; ``cniVersion`` is always written.
    """

    interfaces: list[Interface] = json_field(default_factory=list, omit="empty")
    ips: list[IPConfig] = json_field(default_factory=list, omit="empty")
    routes: list[Route] = json_field(default_factory=list, omit="empty")
    dns: DNS = json_field(default_factory=DNS, omit="empty")
    cni_version: str = json_field("cniVersion", default=IMPLEMENTED_SPEC_VERSION)

    implemented_version: ClassVar[str] = IMPLEMENTED_SPEC_VERSION

    def convert(self, version: str) -> "AnyResult":
        """This result as the given CNI version ; see :func:`rscni_py.types.convert_result`.

        :raises ConversionError: unknown version, or 0.1.0/0.2.0 requested and no IP to keep.
        """
        if version in SUPPORTED_VERSIONS and (self.cni_version or IMPLEMENTED_SPEC_VERSION) in SUPPORTED_VERSIONS:
            # Inside the 1.x shape only cniVersion changes: convert_result's rule, done here so that the common
            # case does not load the older result shapes and their converters.
            if version == self.cni_version:
                return self
            converted = copy.deepcopy(self)
            converted.cni_version = version
            return converted
        from rscni_py.types.convert import convert_result

        return convert_result(self, version)
