"""Sub-types shared by every result shape and by the configuration (SPEC.md "Result", Go ``pkg/types``).

:class:`Route` and :class:`DNS` are the same in every CNI version, as in Go: a 0.2.0 or 0.4.0
result may carry the 1.1.0 route fields, and conversion decides what survives.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rscni_py.types.fields import IPAddress, IPInterface, MACAddress, json_field

if TYPE_CHECKING:
    from rscni_py.types.convert import AnyResult

__all__ = [
    "ConversionError",
    "DNS",
    "IPAddress",
    "IPInterface",
    "MACAddress",
    "Route",
]


class ConversionError(ValueError):
    """A result cannot be converted to the requested CNI version.

    Raised for an unknown target version (``no converter for CNI result version 1.1.0 to 9.9.9``) and
    for the one refusal of the spec: a result without any IP cannot become 0.1.0/0.2.0
    (``cannot convert: no valid IP addresses``).
    """


@dataclass
class Route:
    """A route the plugin set up (result ``routes[]``; ``ip4.routes``/``ip6.routes`` in 0.1.0/0.2.0).

    ``mtu``, ``advmss``, ``priority``, ``table`` and ``scope`` exist since spec 1.1.0. ``0`` means unset
    for ``mtu``, ``advmss`` and ``priority``; ``table`` and ``scope`` use ``None`` for unset because 0
    is a meaningful value for them (written when set).
    """

    dst: IPInterface
    gw: IPAddress | None = json_field(default=None, omit="empty")
    mtu: int = json_field(default=0, omit="empty")
    advmss: int = json_field(default=0, omit="empty")
    priority: int = json_field(default=0, omit="empty")
    table: int | None = json_field(default=None, omit="none")
    scope: int | None = json_field(default=None, omit="none")


@dataclass
class DNS:
    """DNS settings (result ``dns`` and the well-known config key ``dns``); every key is optional."""

    nameservers: list[str] = json_field(default_factory=list, omit="empty")
    domain: str = json_field(default="", omit="empty")
    search: list[str] = json_field(default_factory=list, omit="empty")
    options: list[str] = json_field(default_factory=list, omit="empty")

    def is_empty(self) -> bool:
        """True when no key is set (then 1.x results and configs leave ``dns`` out)."""
        return not (self.nameservers or self.domain or self.search or self.options)


class ResultMethods:
    """What every result shape offers (``convert`` and ``to_dict``); each shape's ``Result`` dataclass mixes it in.

    ``implemented_version`` is the version an empty ``cniVersion`` stands for (Go's ``GetAsVersion``).
    """

    implemented_version: ClassVar[str]
    cni_version: str

    def convert(self, version: str) -> "AnyResult":
        """This result as the given CNI version ; see :func:`rscni_py.types.convert_result`.

        :raises ConversionError: unknown version, or 0.1.0/0.2.0 requested and no IP to keep.
        """
        from rscni_py.types.convert import convert_result

        return convert_result(cast("AnyResult", self), version)

    def to_dict(self) -> dict[str, Any]:
        """The exact JSON object of this result for its version, ``cniVersion`` first."""
        from rscni_py.types.codec import encode

        body = encode(self)
        del body["cniVersion"]
        return {"cniVersion": self.cni_version or self.implemented_version, **body}
