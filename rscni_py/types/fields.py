"""What model classes need while they are being defined: field declarations and the codec's marker types.

Every plugin imports the models at start-up, VERSION included, but only commands that decode or encode need the
validation and conversion machinery of :mod:`rscni_py.types.codec`. This module holds the part that class bodies
use (:func:`json_field`, :func:`raw_field`, the annotated aliases, :class:`FieldSpec`, :class:`FieldError`) and
imports nothing beyond ``dataclasses``, ``ipaddress`` and ``typing``; the codec re-exports every name.

One of our models whose field types are other models may leave them out of its module at import time and name them
in string annotations only, as lazy names of its module (``rscni_py._base.lazy``). Each dataclass costs a plugin
start about as much as a small module, and a plugin's VERSION never looks inside ``runtimeConfig`` or ``ipam``.

Field metadata is built here without importing dataclasses-json: its documented keys under
``"dataclasses_json"`` (``letter_case`` for the JSON key, ``exclude`` for the omit rule) plus our
own :class:`FieldSpec` under ``"rscni_py"``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, NamedTuple, TypeAlias

__all__ = [
    "ENGINES",
    "EXCLUDE",
    "Engine",
    "FieldError",
    "FieldSpec",
    "IPAddress",
    "IPInterface",
    "LOOSE_BOOL",
    "LooseBool",
    "MAC",
    "MACAddress",
    "Omit",
    "field_spec",
    "json_field",
    "raw_field",
]

IPInterface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface
"""A CIDR as CNI uses it (``address``, ``dst``): an IP with its prefix length, host bits kept."""

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
"""A plain IP address as CNI uses it (``gateway``, ``gw``)."""


class _Check:
    """Marker put in ``Annotated[...]`` to ask the codec for an extra check on a JSON value."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<check {self.name}>"


MAC: Final = _Check("mac")
LOOSE_BOOL: Final = _Check("loose-bool")

MACAddress: TypeAlias = Annotated[str, MAC]
"""A hardware address kept as the string the runtime sent; validated as 6, 8 or 20 octets
(``00:11:22:33:44:55``, ``00-11-...`` or ``0011.2233.4455``, as Go's ``net.ParseMAC``); ``""`` means unset."""

LooseBool: TypeAlias = Annotated[bool, LOOSE_BOOL]
"""A boolean that also accepts the strings ``"true"``/``"false"`` (any case), as libcni does for the
flags of a configuration list."""

Omit = Literal["never", "empty", "none", "always"]

#: What turns validated JSON values into model objects and back: dataclasses-json (the default) or the codec's
#: own per-class plans ("native", which never imports dataclasses-json). A plugin chooses with ``CNIPlugin.codec``.
Engine = Literal["dataclasses-json", "native"]
#: The engines, for checks at run time.
ENGINES: Final[tuple[Engine, ...]] = ("dataclasses-json", "native")
"""When :func:`encode` leaves a field out: ``never`` (always written), ``empty`` (Go's ``omitempty``:
``None``, ``""``, ``0``, ``False``, an empty list/object, or a nested object that encodes to ``{}``),
``none`` (only when ``None``, like a Go pointer with ``omitempty``), ``always`` (never written)."""


class FieldError(ValueError):
    """A JSON value that does not fit the model; names the JSON path.

    ``path`` is like ``ips[1].address`` or ``prevResult.routes[0].dst`` (``""`` for the top level),
    ``reason`` says what is wrong. ``str(err)`` is ``"{path}: {reason}"``, or just the reason at the
    top level.
    """

    path: str
    reason: str

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)

    def __reduce__(self) -> tuple[type[FieldError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class FieldSpec(NamedTuple):
    """How one dataclass field maps to JSON (stored in the field metadata under ``"rscni_py"``).

    Immutable; a NamedTuple rather than a frozen dataclass, which would generate six methods at every start.
    """

    key: str | None = None
    """JSON key; ``None`` means the Python field name."""
    aliases: tuple[str, ...] = ()
    """Older keys also read on decode (never written), tried in order after ``key``."""
    omit: Omit = "never"
    raw: bool = False
    """The field receives the whole original JSON object instead of one key."""


class _Key:
    """dataclasses-json ``letter_case`` override that maps a field to a fixed JSON key."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, _name: str) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<json key {self.key!r}>"


def _is_empty(value: object) -> bool:
    # Go's omitempty: zero numbers, false, "", empty slices/maps and nil pointers. Nested objects
    # arrive here already turned into dicts by dataclasses-json, so an empty DNS is {} and counts.
    if value is None or value is False:
        return True
    if type(value) is int or type(value) is float:
        return value == 0
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) == 0
    return False


def _is_none(value: object) -> bool:
    return value is None


def _always(_value: object) -> bool:
    return True


#: The omit predicate of each rule but ``never``; it sees the encoded value.
EXCLUDE: Final[dict[Omit, Callable[[object], bool]]] = {
    "empty": _is_empty,
    "none": _is_none,
    "always": _always,
}


def _metadata(spec: FieldSpec) -> dict[str, Any]:
    lib: dict[str, Any] = {}
    if spec.key is not None:
        lib["letter_case"] = _Key(spec.key)
    if spec.omit != "never":
        lib["exclude"] = EXCLUDE[spec.omit]
    return {"dataclasses_json": lib, "rscni_py": spec}


def json_field(
    key: str | None = None,
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
    omit: Omit = "never",
    aliases: tuple[str, ...] = (),
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """Declare a model field with its exact JSON key and omit rule.

    Use it for every field whose key is not the Python name, e.g.
    ``is_gateway: bool = json_field("isGateway", default=False)``. Fields declared without it use
    the Python name as key and are always written.

    :param key: the JSON key (default: the Python field name).
    :param default: default value when the key is missing (no default: the key is required).
    :param default_factory: zero-argument callable making the default, for lists and dicts.
    :param omit: when :func:`encode` leaves the field out (see :data:`Omit`).
    :param aliases: older keys read on decode when ``key`` is missing; never written.

    mypy's dataclass support only knows ``dataclasses.field``, so it treats every ``json_field(...)``
    as having a default: a required field declared this way is not flagged by mypy when a caller
    leaves it out of the constructor (decoding still reports it as ``required field missing``).
    Declare required fields whose key is the Python name without ``json_field``.
    """
    spec = FieldSpec(key=key, aliases=tuple(aliases), omit=omit)
    if default_factory is not None:
        if default is not dataclasses.MISSING:
            raise ValueError("json_field: give default or default_factory, not both")
        return dataclasses.field(default_factory=default_factory, repr=repr, compare=compare, metadata=_metadata(spec))
    return dataclasses.field(default=default, repr=repr, compare=compare, metadata=_metadata(spec))


def raw_field() -> Any:
    """A ``dict[str, Any]`` field that receives the whole original JSON object on decode.

    It is not a JSON key itself: never read as one, never written, not compared and not shown in
    ``repr``. :func:`encode` writes the object's unknown keys (:func:`extra_keys`) back out, so
    plugin-specific configuration survives a decode/encode round trip.
    """
    return dataclasses.field(
        default_factory=dict,
        repr=False,
        compare=False,
        metadata=_metadata(FieldSpec(omit="always", raw=True)),
    )


def field_spec(field: dataclasses.Field[Any]) -> FieldSpec:
    """The JSON mapping of a dataclass field (defaults for fields declared without :func:`json_field`)."""
    spec = field.metadata.get("rscni_py")
    return spec if isinstance(spec, FieldSpec) else FieldSpec()
