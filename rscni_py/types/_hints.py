"""The SDK's one compiler of type hints into converters, used by the codec (JSON values) and CNI_ARGS (text).

A field's type hint means the same thing wherever it is read: ``X | None`` is an optional ``X``, a union of
``ipaddress`` classes is one address kind (named by the set of its classes), ``str``, ``int``, ``bool``, ``float``
and ``None`` are scalars. :class:`HintCompiler` does that dispatch once, caches a converter per hint, and leaves
what a converter does with a value, and which hints are supported at all, to its subclass: the codec's checks JSON
values (``rscni_py.types.codec``), the CNI_ARGS one parses ``KEY=VALUE`` text (``rscni_py.types.args``).

Only ``ipaddress``, ``types`` and ``typing`` are imported: CNI_ARGS classes are compiled when a plugin class is
defined, on every plugin start (docs/cost-model.md).
"""

from __future__ import annotations

import ipaddress
import types
import typing
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

from rscni_py.types.addresses import parse_cidr, parse_ip

__all__ = ["ADDRESS_KINDS", "SCALARS", "AddressKind", "HintCompiler"]

C = TypeVar("C")


def _parse_ip_or_cidr(text: str) -> Any:
    return parse_cidr(text) if "/" in text else parse_ip(text)


class AddressKind:
    """One address type a field may declare: its name, the SDK parser that reads it and the family it must have.

    ``name`` is one of ``ip``, ``ip4``, ``ip6``, ``cidr``, ``cidr4``, ``cidr6``, ``ip-or-cidr``; ``version`` is 4,
    6 or ``None`` for either family. Each compiler words its own errors around ``parse`` (whose ``ValueError``
    already names the text) and the family check.
    """

    __slots__ = ("name", "parse", "version")

    def __init__(self, name: str, parse: Callable[[str], Any], version: int | None) -> None:
        self.name = name
        self.parse = parse
        self.version = version


_V4_IP: Final = frozenset({ipaddress.IPv4Address})
_V6_IP: Final = frozenset({ipaddress.IPv6Address})
_V4_CIDR: Final = frozenset({ipaddress.IPv4Interface})
_V6_CIDR: Final = frozenset({ipaddress.IPv6Interface})

#: The address kinds, by the set of ``ipaddress`` classes a hint names (``None`` aside).
ADDRESS_KINDS: Final[dict[frozenset[object], AddressKind]] = {
    _V4_IP | _V6_IP: AddressKind("ip", parse_ip, None),
    _V4_IP: AddressKind("ip4", parse_ip, 4),
    _V6_IP: AddressKind("ip6", parse_ip, 6),
    _V4_CIDR | _V6_CIDR: AddressKind("cidr", parse_cidr, None),
    _V4_CIDR: AddressKind("cidr4", parse_cidr, 4),
    _V6_CIDR: AddressKind("cidr6", parse_cidr, 6),
    _V4_IP | _V6_IP | _V4_CIDR | _V6_CIDR: AddressKind("ip-or-cidr", _parse_ip_or_cidr, None),
}

#: The scalar hints, which :meth:`HintCompiler.scalar` compiles.
SCALARS: Final[tuple[object, ...]] = (str, int, bool, float, type(None))


class HintCompiler(Generic[C]):
    """Compiles type hints into converters of type ``C``, one per hint, cached.

    Unions are split here: the ``None`` arm makes the rest optional (:meth:`optional`), a set of address classes is
    one :meth:`address`, a single other arm is compiled on its own, several are a :meth:`union`. Scalars go to
    :meth:`scalar`, every other hint to :meth:`other`. A subclass raises ``TypeError`` for a hint it does not
    support.
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[object, C] = {}

    def __call__(self, hint: object) -> C:
        try:
            return self._cache[hint]
        except KeyError:
            pass
        except TypeError:  # an unhashable hint: compiled every time
            return self._compile(hint)
        converter = self._cache[hint] = self._compile(hint)
        return converter

    def _compile(self, hint: object) -> C:
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            arms = typing.get_args(hint)
            rest = tuple(arm for arm in arms if arm is not type(None))
            kind = ADDRESS_KINDS.get(frozenset(rest))
            if kind is not None:
                inner = self.address(hint, kind)
            elif len(rest) == 1:
                inner = self(rest[0])
            else:
                inner = self.union(hint, rest)
            return inner if len(rest) == len(arms) else self.optional(hint, inner, kind)
        kind = ADDRESS_KINDS.get(frozenset({hint})) if isinstance(hint, type) else None
        if kind is not None:
            return self.address(hint, kind)
        if hint in SCALARS:
            return self.scalar(hint)
        return self.other(hint)

    def scalar(self, hint: object) -> C:
        """The converter of one of :data:`SCALARS`."""
        raise TypeError(f"unsupported type hint {hint!r}")

    def address(self, hint: object, kind: AddressKind) -> C:
        """The converter of an address kind (``hint`` is the whole hint, for messages)."""
        raise TypeError(f"unsupported type hint {hint!r}")

    def union(self, hint: object, arms: tuple[object, ...]) -> C:
        """The converter of a union of several non-``None`` arms that are not one address kind."""
        raise TypeError(f"unsupported type hint {hint!r}")

    def optional(self, hint: object, inner: C, kind: AddressKind | None) -> C:
        """The converter of ``X | None``, given ``X``'s converter (and ``X``'s address kind, if it is one)."""
        raise TypeError(f"unsupported type hint {hint!r}")

    def other(self, hint: object) -> C:
        """The converter of any other hint (a class, a generic alias, ``Annotated``, ``Literal``, ``Any``...)."""
        raise TypeError(f"unsupported type hint {hint!r}")
