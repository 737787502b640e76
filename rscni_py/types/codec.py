"""JSON <-> dataclass codec for every object CNI puts on the wire.

Two jobs are split on purpose:

* Validation is ours. dataclasses-json does not check types (it would turn ``"1500"`` into an MTU of
  1500 or keep a boolean where an integer belongs), so :func:`decode` first walks the dataclass type
  hints and checks every JSON value against them, building address objects on the way. A value that
  does not fit raises :class:`FieldError` naming its JSON path, which ``run()`` reports as code 7.
* dataclasses-json does the dict <-> dataclass mapping (JSON keys, defaults, construction, and
  dataclass -> dict with the omit rules). It is imported on the first :func:`decode` or
  :func:`encode`, never at import time: a plugin binary starts on every CNI call, and
  dataclasses-json pulls in marshmallow, which costs more than the rest of the SDK.
* The native engine (a plugin's ``codec = "native"``) swaps dataclasses-json for the codec's own per-class plans:
  identical output (every model test runs under both), several times faster, and no
  dataclasses-json import at all. Every command except VERSION decodes its configuration, so with
  the default engine the lazy import only spares VERSION; benchmarks/README.md has the figures.

Field declarations (:func:`json_field`, :class:`FieldSpec`, the annotated aliases) live in
:mod:`rscni_py.types.fields`, which model classes import while they are defined; this module
re-exports them and is imported on the first decode or encode.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, TypeVar, Union, cast

from rscni_py._base.quoting import SHOWN, q
from rscni_py._base.strict_json import json_type
from rscni_py.types._hints import ADDRESS_KINDS, AddressKind, HintCompiler
from rscni_py.types.addresses import parse_cidr, parse_ip
from rscni_py.types.fields import (
    ENGINES,
    EXCLUDE,
    LOOSE_BOOL,
    MAC,
    Engine,
    FieldError,
    FieldSpec,
    IPAddress,
    IPInterface,
    LooseBool,
    MACAddress,
    Omit,
    field_spec,
    json_field,
    raw_field,
)

__all__ = [
    "Engine",
    "FieldError",
    "FieldSpec",
    "IPAddress",
    "IPInterface",
    "LooseBool",
    "MACAddress",
    "Omit",
    "decode",
    "encode",
    "extra_keys",
    "field_spec",
    "json_field",
    "library_loaded",
    "parse_cidr",
    "parse_ip",
    "raw_field",
    "revalidate",
    "use_engine",
]

T = TypeVar("T")

# Aliases for the names the rest of this module uses.
_MAC: Final = MAC
_LOOSE_BOOL: Final = LOOSE_BOOL
_EXCLUDE: Final = EXCLUDE


# --- JSON value descriptions for error messages -------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# Patterns, not compiled objects: re compiles and caches them on the first MAC checked, not at every import.
_MAC_COLON: Final = r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2})*"
_MAC_DOT: Final = r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})*"


def _is_mac(text: str) -> bool:
    if re.fullmatch(_MAC_COLON, text):
        octets = (len(text) + 1) // 3
    elif re.fullmatch(_MAC_DOT, text):
        octets = 2 * ((len(text) + 1) // 5)
    else:
        return False
    return octets in (6, 8, 20)


# --- converters compiled from type hints ---------------------------------------------------------

_Converter = Callable[[object, str], Any]

_NAMES: Final[dict[object, str]] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
    dict: "an object",
}

# How JSON errors name each address kind of rscni_py.types._hints: what was expected, and the family-check noun.
_ADDRESS_NAMES: Final[dict[str, str]] = {
    "cidr": "a CIDR string",
    "ip": "an IP address string",
    "ip-or-cidr": "an IP address or CIDR string",
    "cidr4": "an IPv4 CIDR string",
    "cidr6": "an IPv6 CIDR string",
    "ip4": "an IPv4 address string",
    "ip6": "an IPv6 address string",
}
_FAMILY_NOUNS: Final[dict[str, str]] = {
    "cidr4": "IPv4 CIDR",
    "cidr6": "IPv6 CIDR",
    "ip4": "IPv4 address",
    "ip6": "IPv6 address",
}


def _address_name(arms: frozenset[object]) -> str | None:
    kind = ADDRESS_KINDS.get(arms)
    return None if kind is None else _ADDRESS_NAMES[kind.name]


def _expected_name(hint: object) -> str:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _expected_name(typing.get_args(hint)[0])
    if origin in (Union, types.UnionType):
        arms = tuple(arm for arm in typing.get_args(hint) if arm is not type(None))
        address = _address_name(frozenset(arms))
        if address is not None:
            return address
        return " or ".join(dict.fromkeys(_expected_name(arm) for arm in arms))
    if origin is not None:
        return _NAMES.get(origin, str(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "an object"
    return _address_name(frozenset({hint})) or _NAMES.get(hint, str(hint))


def _mismatch(hint: object, value: object, path: str) -> FieldError:
    return FieldError(path, f"expected {_expected_name(hint)}, got {json_type(value, with_value=True)}")


def _exact(kind: type, hint: object) -> _Converter:
    # type(value) is kind, not isinstance: bool is an int subclass and must not pass as an integer.
    def convert(value: object, path: str) -> Any:
        if type(value) is kind:
            return value
        raise _mismatch(hint, value, path)

    return convert


def _convert_float(value: object, path: str) -> Any:
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:  # JSON integers have no size limit; a float tops out near 1.8e308
            raise FieldError(path, f"number out of range: integer of {len(str(abs(value)))} digits") from None
    raise _mismatch(float, value, path)


def _address_parser(kind: AddressKind) -> Callable[[str], Any]:
    # The SDK's parser says what is wrong with the text; a family mismatch and the mixed kind get our own words.
    parse = kind.parse
    if kind.name == "ip-or-cidr":

        def parse_ip_or_cidr(text: str) -> Any:
            try:
                return parse(text)
            except ValueError:
                raise ValueError(f"invalid IP address or CIDR {q(text, limit=SHOWN)}") from None

        return parse_ip_or_cidr
    if kind.version is None:
        return parse
    version, noun = kind.version, _FAMILY_NOUNS[kind.name]

    def parse_family(text: str) -> Any:
        parsed = parse(text)
        if parsed.version != version:
            raise ValueError(f"invalid {noun} {q(text, limit=SHOWN)}")
        return parsed

    return parse_family


class _JSONCompiler(HintCompiler[_Converter]):
    """Compiles a field's type hint into a check of its JSON value, which also builds address objects."""

    __slots__ = ()

    def scalar(self, hint: object) -> _Converter:
        return _convert_float if hint is float else _exact(cast(type, hint), hint)

    def address(self, hint: object, kind: AddressKind) -> _Converter:
        parse = _address_parser(kind)

        def convert(value: object, path: str) -> Any:
            if not isinstance(value, str):
                raise _mismatch(hint, value, path)
            try:
                return parse(value)
            except ValueError as exc:
                raise FieldError(path, str(exc)) from None

        return convert

    def union(self, hint: object, arms: tuple[object, ...]) -> _Converter:
        options = [self(arm) for arm in arms]

        def convert(value: object, path: str) -> Any:
            for option in options:
                try:
                    return option(value, path)
                except FieldError:
                    continue
            raise _mismatch(hint, value, path)

        return convert

    def optional(self, hint: object, inner: _Converter, kind: AddressKind | None) -> _Converter:
        if kind is not None and kind.name in ("ip", "ip4", "ip6"):
            # Go's types.IP reads "" as an unset IP (and leaves it out when writing): same here.
            def convert_optional_ip(value: object, path: str) -> Any:
                return None if value is None or value == "" else inner(value, path)

            return convert_optional_ip

        def convert_optional(value: object, path: str) -> Any:
            return None if value is None else inner(value, path)

        return convert_optional

    def other(self, hint: object) -> _Converter:
        if hint is Any or hint is object:
            return lambda value, _path: value
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            cls = hint
            return lambda value, path: _decode_class(cls, value, path)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is Annotated:
            return self._annotated(args[0], args[1:])
        if origin is Literal:
            return _compile_literal(hint, args)
        if origin is list:
            item = self(args[0] if args else Any)

            def convert_list(value: object, path: str) -> Any:
                if type(value) is not list:
                    raise _mismatch(hint, value, path)
                return [item(entry, f"{path}[{index}]") for index, entry in enumerate(value)]

            return convert_list
        if origin is dict:
            if args and args[0] is not str:
                raise TypeError(f"JSON objects have string keys; unsupported hint {hint!r}")
            member = self(args[1] if args else Any)

            def convert_dict(value: object, path: str) -> Any:
                if not isinstance(value, Mapping):
                    raise _mismatch(hint, value, path)
                return {key: member(entry, _join(path, key)) for key, entry in value.items()}

            return convert_dict
        raise TypeError(f"rscni_py codec: unsupported type hint {hint!r}")

    def _annotated(self, base: object, marks: tuple[object, ...]) -> _Converter:
        if _LOOSE_BOOL in marks:

            def convert_loose_bool(value: object, path: str) -> Any:
                if type(value) is bool:
                    return value
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    return value.lower() == "true"
                raise FieldError(path, f'expected a boolean or "true"/"false", got {json_type(value, with_value=True)}')

            return convert_loose_bool
        inner = self(base)
        if _MAC in marks:

            def convert_mac(value: object, path: str) -> Any:
                text = inner(value, path)
                if text and not _is_mac(text):
                    raise FieldError(path, f"invalid MAC address {q(text, limit=SHOWN)}")
                return text

            return convert_mac
        return inner


def _compile_literal(hint: object, allowed: tuple[object, ...]) -> _Converter:
    def convert_literal(value: object, path: str) -> Any:
        # Compare types too, so that True does not match a Literal[1].
        for option in allowed:
            if type(option) is type(value) and option == value:
                return value
        choices = ", ".join(json.dumps(option) for option in allowed)
        raise FieldError(path, f"expected one of {choices}, got {json_type(value, with_value=True)}")

    return convert_literal


#: A field's converter, by its type hint (compiled once per hint).
_converter: Final = _JSONCompiler()


# --- per-class plans -----------------------------------------------------------------------------


# Plain slotted classes rather than dataclasses: each @dataclass compiles its methods at import, and every command
# but VERSION imports this module.


class _FieldPlan:
    __slots__ = ("aliases", "convert", "key", "name", "required")

    def __init__(self, name: str, key: str, aliases: tuple[str, ...], required: bool, convert: _Converter) -> None:
        self.name = name
        self.key = key
        self.aliases = aliases
        self.required = required
        self.convert = convert


class _ClassPlan:
    __slots__ = ("fields", "hints", "nested_raw", "raw_field", "taken_keys", "writes")

    def __init__(
        self,
        fields: tuple[_FieldPlan, ...],
        writes: tuple[tuple[str, str, Callable[[object], bool] | None], ...],
        raw_field: str | None,
        taken_keys: frozenset[str],
        hints: dict[str, Any],
    ) -> None:
        self.fields = fields
        #: (field name, JSON key, omit predicate) of every field, for the native encoder.
        self.writes = writes
        self.raw_field = raw_field
        self.taken_keys = taken_keys
        self.hints = hints
        self.nested_raw: bool | None = None  # computed on first encode


_PLANS: dict[type, _ClassPlan] = {}


def _plan(cls: type) -> _ClassPlan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: list[_FieldPlan] = []
    raw: str | None = None
    taken: set[str] = set()
    writes: list[tuple[str, str, Callable[[object], bool] | None]] = []
    for field in dataclasses.fields(cls):
        spec = field_spec(field)
        if spec.omit != "always":
            writes.append((field.name, field.name if spec.key is None else spec.key, _EXCLUDE.get(spec.omit)))
        if not field.init:
            continue
        if spec.raw:
            raw = field.name
            continue
        key = spec.key if spec.key is not None else field.name
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        fields.append(_FieldPlan(field.name, key, spec.aliases, required, _converter(hints[field.name])))
        taken.add(key)
        taken.update(spec.aliases)
    plan = _ClassPlan(tuple(fields), tuple(writes), raw, frozenset(taken), hints)
    _PLANS[cls] = plan
    return plan


# --- dataclasses-json, loaded on first use -------------------------------------------------------

_DecodeFn = Callable[[type, dict[str, Any], bool], Any]
_AsDictFn = Callable[..., Any]
_library: tuple[_DecodeFn, _AsDictFn] | None = None


def _dataclasses_json() -> tuple[_DecodeFn, _AsDictFn]:
    global _library
    if _library is None:
        from dataclasses_json import cfg, core

        # Address objects have no JSON form of their own; write them the way CNI spells them.
        # (This only adds encoders for the four ipaddress types to dataclasses-json's global table.)
        for kind in (
            ipaddress.IPv4Address,
            ipaddress.IPv6Address,
            ipaddress.IPv4Interface,
            ipaddress.IPv6Interface,
        ):
            cfg.global_config.encoders[kind] = str
        _library = (cast(_DecodeFn, core._decode_dataclass), cast(_AsDictFn, core._asdict))
    return _library


_engine: Engine = "dataclasses-json"


def use_engine(engine: Engine) -> Engine:
    """Choose what turns validated values into dataclasses and back, for this process; returns the previous choice.

    ``"dataclasses-json"`` (the default) hands construction and dataclass -> dict to dataclasses-json.
    ``"native"`` does both with the codec's own per-class plans: same results (the tests compare the
    two on every golden document and on generated results), several times faster, and it never
    imports dataclasses-json. See benchmarks/README.md for the figures.

    A plugin does not call this: it sets ``CNIPlugin.codec``, which the dispatcher applies while it serves a
    command (and the bundler honours). Tests and benchmarks use it to run the models under both engines.
    """
    global _engine
    if engine not in ENGINES:
        raise ValueError(f"unknown codec engine {engine!r}")
    previous, _engine = _engine, engine
    return previous


def library_loaded() -> bool:
    """Whether dataclasses-json has been imported by the codec (used by tests and benchmarks)."""
    return _library is not None and "dataclasses_json" in sys.modules


# --- public entry points -------------------------------------------------------------------------


def _decode_class(cls: type[T], data: object, path: str) -> T:
    if not isinstance(data, Mapping):
        raise FieldError(path, f"expected an object, got {json_type(data, with_value=True)}")
    plan = _plan(cls)
    values: list[tuple[_FieldPlan, Any]] = []
    for field in plan.fields:
        key = field.key
        if key not in data:
            key = next((alias for alias in field.aliases if alias in data), "")
            if not key:
                if field.required:
                    raise FieldError(_join(path, field.key), "required field missing")
                continue
        values.append((field, field.convert(data[key], _join(path, key))))
    if _engine == "native":
        # Missing keys are simply not passed: the dataclass applies its own defaults.
        obj = cls(**{field.name: value for field, value in values})
    else:
        decode_dataclass, _ = _dataclasses_json()
        obj = cast(T, decode_dataclass(cls, {field.key: value for field, value in values}, False))
    if plan.raw_field is not None:
        setattr(obj, plan.raw_field, dict(data))
    return obj


def decode(cls: type[T], data: object, *, path: str = "") -> T:
    """Validate a decoded JSON value against the dataclass ``cls`` and build it.

    Every value is checked against the field's type hint (nothing is coerced: ``"1500"`` is not an
    integer, ``true`` is not an integer, CIDRs/IPs/MACs must parse). Unknown keys are ignored, or
    kept in the class's raw field if it has one.

    :param path: JSON path of ``data`` inside a larger document, used as prefix in errors.
    :raises FieldError: naming the JSON path of the first value that does not fit.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"decode() needs a dataclass, got {cls!r}")
    return _decode_class(cls, data, path)


def revalidate(obj: T) -> T:
    """A model object built in Python, checked and rebuilt as :func:`decode` would build it from its own JSON.

    Whatever the fields hold (a ``str`` where an address belongs, a number where a string belongs), the object is
    written the way :func:`encode` writes it and decoded again: a value that fits comes back as its proper type (the
    address text ``"10.0.0.2/24"`` as an address), one that does not raises :class:`FieldError` naming its path.

    :raises FieldError: naming the JSON path of the first value that does not fit.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"revalidate() needs a dataclass instance, got {type(obj).__name__}")
    # The native encoder whatever the engine: it writes any value as it is, for decode to judge.
    return cast(T, _decode_class(type(obj), _encode_object(obj), ""))


def extra_keys(obj: object) -> dict[str, Any]:
    """The keys of ``obj``'s raw JSON object that none of its fields (or their aliases) took."""
    plan = _plan(type(obj))
    if plan.raw_field is None:
        return {}
    raw: dict[str, Any] = getattr(obj, plan.raw_field)
    return {key: value for key, value in raw.items() if key not in plan.taken_keys}


def _has_nested_raw(cls: type, seen: set[type]) -> bool:
    plan = _plan(cls)
    if plan.nested_raw is not None:
        return plan.nested_raw
    if plan.raw_field is not None:
        plan.nested_raw = True
        return True
    seen.add(cls)
    found = False
    stack = list(plan.hints.values())
    while stack and not found:
        hint = stack.pop()
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            found = hint not in seen and _has_nested_raw(hint, seen)
        else:
            stack.extend(typing.get_args(hint))
    plan.nested_raw = found
    return found


def _merge_extras(obj: object, out: dict[str, Any]) -> None:
    # Write back the unknown keys of every object that kept its raw form, at every depth.
    cls = type(obj)
    if not _has_nested_raw(cls, set()):
        return
    for key, value in extra_keys(obj).items():
        out.setdefault(key, copy.deepcopy(value))
    for field in _plan(cls).fields:
        value = getattr(obj, field.name)
        if field.key not in out:
            # Left out by its omit rule because it encoded to {}: its unknown keys still count.
            if dataclasses.is_dataclass(value) and not isinstance(value, type) and extra_keys(value):
                out[field.key] = {}
            else:
                continue
        _merge_value(value, out[field.key])


def _merge_value(value: object, encoded: object) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(encoded, dict):
            _merge_extras(value, encoded)
    elif isinstance(value, (list, tuple)) and isinstance(encoded, list):
        for item, encoded_item in zip(value, encoded, strict=True):
            _merge_value(item, encoded_item)
    elif isinstance(value, Mapping) and isinstance(encoded, dict):
        for key, item in value.items():
            if key in encoded:
                _merge_value(item, encoded[key])


_ADDRESS_TYPES: Final = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


_SCALARS: Final = (str, int, bool, float, type(None))


def _encode_value(value: object) -> Any:
    if type(value) in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_object(value)
    if isinstance(value, (list, tuple)):
        return [_encode_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _encode_value(item) for key, item in value.items()}
    if isinstance(value, _ADDRESS_TYPES):
        return str(value)
    return value


def _encode_object(obj: object) -> dict[str, Any]:
    # The native encoder: same keys and omit rules as the dataclasses-json path (the omit predicate
    # sees the encoded value there too), with unknown keys written back at every depth.
    plan = _plan(type(obj))
    out: dict[str, Any] = {}
    for name, key, omit in plan.writes:
        value = _encode_value(getattr(obj, name))
        if omit is None or not omit(value):
            out[key] = value
    if plan.raw_field is not None:
        for key, value in extra_keys(obj).items():
            out.setdefault(key, copy.deepcopy(value))
    return out


def encode(obj: object) -> dict[str, Any]:
    """Turn a model dataclass into a JSON-ready dict with its exact keys and omit rules.

    Unknown keys kept in a raw field are written back after the declared ones.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"encode() needs a dataclass instance, got {type(obj).__name__}")
    if _engine == "native":
        return _encode_object(obj)
    _, asdict = _dataclasses_json()
    out = cast(dict[str, Any], asdict(obj, encode_json=False))
    _merge_extras(obj, out)
    return out
