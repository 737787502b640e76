"""Typed ``CNI_ARGS`` parsing, with the semantics of Go's ``types.LoadArgs``.

The CNI runtime may pass extra arguments to a plugin in the ``CNI_ARGS``
environment variable, as ``KEY=VALUE`` pairs joined by ``;`` (SPEC.md,
"Parameters"; CONVENTIONS.md documents the ``IP`` key).  The
spec leaves the string opaque, so this module is opt-in: a plugin declares a
dataclass derived from :class:`CNIArgs` and the SDK parses the string into it.

Parsing follows ``LoadArgs`` from containernetworking/cni ``pkg/types/args.go``:

* ``""`` gives the defaults.
* The string is split on ``;`` and every piece on ``=``; a piece that does not
  split into exactly two parts is an ``invalid pair``.  So a trailing ``;``
  (empty pair) and a value that itself contains ``=`` are errors, as in Go.
* Keys are case-sensitive.  A pair whose key no field declares is collected;
  after all pairs are read, collected pairs are an error unless
  ``IgnoreUnknown`` is true.  Where ``IgnoreUnknown`` appears in the string
  does not matter.
* A key given twice is parsed twice and the last value wins (Go assigns the
  field once per pair).  Both values must parse.
* Booleans take ``1``/``true`` and ``0``/``false`` in any letter case, like
  Go's ``UnmarshallableBool``; strings take any text, the empty one included.

Error messages use Go's wording and Go's ``%q`` quoting, so that a user who
searches for a message finds the Go plugins' reports too.

Tolerance (``IgnoreUnknown``): Go's zero value is strict, and that choice is a
long-running complaint (containernetworking/cni#126, #560, kubernetes#23049):
a chained plugin or a runtime adding one extra key breaks every strict plugin.
Kubelet now always sends ``IgnoreUnknown=1``.  :class:`CNIArgs` keeps Go's
strict default, so that a plugin ported from Go accepts and rejects the same
strings; a class opts into tolerance with the class variable
``ignore_unknown_default = True``, and :class:`K8sArgs`, the preset for
Kubernetes runtimes, does so.  An explicit ``IgnoreUnknown=0`` in the string
still makes a tolerant class strict for that call.

Field types are read by the SDK's one type-hint compiler
(``rscni_py.types._hints``), the codec's too; this module gives it the
CNI_ARGS parsers and Go's wording.  Only ``dataclasses``, ``inspect`` and
``typing`` are imported besides (plus what those load anyway): this module
is on every plugin's start-up path.  The per-class field table is built on
first use and cached.
"""

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar, overload

from rscni_py._base.quoting import q, q_list
from rscni_py.types._hints import AddressKind, HintCompiler

__all__ = [
    "CNIArgs",
    "CNIArgsError",
    "K8sArgs",
    "arg_field",
    "cni_args_keys",
    "format_cni_args",
    "parse_cni_args",
]

_T = TypeVar("_T")
_A = TypeVar("_A", bound="CNIArgs")

#: Field metadata key holding a field's CNI_ARGS key.
_KEY_METADATA = "rscni_py.cni_args_key"

#: The key that switches unknown-key tolerance on, as Go spells it.
_IGNORE_UNKNOWN_KEY = "IgnoreUnknown"


class CNIArgsError(ValueError):
    """``CNI_ARGS`` could not be parsed into the plugin's args class.

    ``run()`` reports it as CNI error code 4 (invalid environment variables).
    ``str(err)`` is the message and always starts with ``"ARGS: "``.

    Attributes:
        message: the whole message, e.g. ``ARGS: invalid pair "a=b=c"``.
        pair: the raw ``KEY=VALUE`` text at fault, or ``None`` when the error
            is not about one pair (unknown or missing keys).
        unknown: the pairs with undeclared keys, for an ``unknown args`` error;
            empty otherwise.
    """

    def __init__(self, message: str, *, pair: str | None = None, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.pair = pair
        self.unknown = unknown

    def __str__(self) -> str:
        return self.message


@overload
def arg_field(key: str) -> None: ...


@overload
def arg_field(key: str, *, default: _T) -> _T: ...


def arg_field(key: str, *, default: object = None) -> Any:
    """Declare a :class:`CNIArgs` field whose ``CNI_ARGS`` key is ``key``.

    Without ``default`` the field defaults to ``None``, which suits the usual
    ``X | None`` field: CNI_ARGS keys are all optional in Go.  A field declared
    without any default (plain ``ip: IPv4Address``) is required; its key is the
    Python field name.

    >>> from dataclasses import dataclass
    >>> @dataclass(kw_only=True)
    ... class Args(CNIArgs):
    ...     pod_name: str | None = arg_field("K8S_POD_NAME")
    ...     debug: bool = arg_field("DEBUG", default=False)
    >>> parse_cni_args(Args, "K8S_POD_NAME=web-0;DEBUG=True")
    Args(ignore_unknown=False, pod_name='web-0', debug=True)
    """
    return dataclasses.field(default=default, metadata={_KEY_METADATA: key})


@dataclasses.dataclass(kw_only=True)
class CNIArgs:
    """Base of every typed ``CNI_ARGS`` class (Go: ``types.CommonArgs``).

    Subclass it with ``@dataclass`` and declare one field per key.  A field's
    key is given with :func:`arg_field`, else it is the Python field name.
    Field types: ``str``, ``bool``, ``int``, ``IPv4Address``, ``IPv6Address``,
    ``IPv4Address | IPv6Address``, ``IPv4Interface``, ``IPv6Interface``,
    ``IPv4Interface | IPv6Interface`` (an address with its prefix, as in
    ``IP=10.0.0.5/24``), each optionally ``| None``.  Any other type raises
    ``TypeError`` the first time the class is used, or earlier through
    :func:`cni_args_keys`.

    Values: ``int`` is a decimal integer with an optional sign; an address
    field takes a bare address (no zone); an interface field requires the
    ``/prefix``.  An empty value is ``""`` for a string and ``None`` for an
    optional address or interface (Go's ``net.IP`` reads ``""`` as nil); for
    any other field it is an error.

    ``ignore_unknown`` (key ``IgnoreUnknown``) makes undeclared keys
    acceptable.  Its default comes from the class variable
    ``ignore_unknown_default``: ``False`` here, as in Go; a subclass that sets
    ``ignore_unknown_default = True`` in its body is tolerant by default, both
    when parsed and when constructed directly.
    """

    #: Default of ``ignore_unknown`` for this class.  Strict (Go's behaviour)
    #: here; set it to ``True`` in a subclass body to tolerate keys meant for
    #: other plugins, which is what a chained or Kubernetes plugin wants.
    ignore_unknown_default: ClassVar[bool] = False

    ignore_unknown: bool = arg_field(_IGNORE_UNKNOWN_KEY, default=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # @dataclass runs after this hook, so re-declaring the field here makes
        # the dataclass machinery give the subclass its own default.  A field
        # re-declared explicitly in the class body wins over the class variable.
        if "ignore_unknown_default" in cls.__dict__:
            # The class's own annotation dict is extended in place, before @dataclass reads it.
            own = cls.__dict__.get("__annotations__")  # noqa: RUF063 - a copy would not be seen by @dataclass
            if own is None:
                own = {}
                cls.__annotations__ = own
            default = cls.__dict__["ignore_unknown_default"]
            if not isinstance(default, bool):
                raise TypeError(
                    f"{cls.__qualname__}.ignore_unknown_default must be a bool, not {type(default).__name__}"
                )
            if "ignore_unknown" not in own:
                own["ignore_unknown"] = bool
                cls.ignore_unknown = dataclasses.field(
                    default=default, kw_only=True, metadata={_KEY_METADATA: _IGNORE_UNKNOWN_KEY}
                )


@dataclasses.dataclass(kw_only=True)
class K8sArgs(CNIArgs):
    """The pod identity that Kubernetes container runtimes put in ``CNI_ARGS``.

    A typical value is
    ``IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=id;K8S_POD_UID=uid``.
    Every key is optional: runtimes and versions differ in which ones they
    send.  Tolerant by default, because runtimes add keys of their own and a
    plugin should not fail on them even when ``IgnoreUnknown=1`` is missing.
    Subclass it (with ``@dataclass``) to add keys.
    """

    ignore_unknown_default: ClassVar[bool] = True

    pod_name: str | None = arg_field("K8S_POD_NAME")
    pod_namespace: str | None = arg_field("K8S_POD_NAMESPACE")
    pod_uid: str | None = arg_field("K8S_POD_UID")
    pod_infra_container_id: str | None = arg_field("K8S_POD_INFRA_CONTAINER_ID")


# --- value conversions -------------------------------------------------------
# Each parser takes the raw value text and raises ValueError with the reason
# that follows "error parsing value of pair ...: ".

_Parser = Callable[[str], object]


def _parse_str(text: str) -> object:
    return text


def _parse_bool(text: str) -> object:
    # Go's UnmarshallableBool lower-cases the input, also in its error message.
    lowered = text.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"boolean unmarshal error: invalid input {lowered}")


def _format_bool(value: Any) -> str:
    return "true" if value else "false"


_DIGITS = frozenset("0123456789")


def _parse_int(text: str) -> object:
    # int() alone would also take "1_000", " 7" and non-ASCII digits.
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not _DIGITS.issuperset(digits):
        raise ValueError(f"invalid integer: {text}")
    try:
        return int(text)
    except ValueError:  # longer than the interpreter's int conversion limit
        raise ValueError(f"invalid integer: integer too long ({len(digits)} digits)") from None


_SCALAR_PARSERS: dict[object, _Parser] = {str: _parse_str, bool: _parse_bool, int: _parse_int}

# Go's LoadArgs wording for each address kind of rscni_py.types._hints that CNI_ARGS supports.
_ADDRESS_NOUNS: dict[str, str] = {
    "ip": "IP address",
    "ip4": "IPv4 address",
    "ip6": "IPv6 address",
    "cidr": "CIDR address",
    "cidr4": "IPv4 CIDR address",
    "cidr6": "IPv6 CIDR address",
}


class _TextCompiler(HintCompiler[_Parser]):
    """Compiles a CNI_ARGS field's type hint into the parser of its value text; other hints raise ``TypeError``."""

    __slots__ = ()

    def scalar(self, hint: object) -> _Parser:
        parser = _SCALAR_PARSERS.get(hint)
        return super().scalar(hint) if parser is None else parser

    def address(self, hint: object, kind: AddressKind) -> _Parser:
        noun = _ADDRESS_NOUNS.get(kind.name)
        if noun is None:
            return super().address(hint, kind)
        parse, version = kind.parse, kind.version

        # The SDK's address parser (rscni_py.types.addresses), with Go's LoadArgs wording and an optional family.
        def parse_value(text: str) -> object:
            try:
                value = parse(text)
            except ValueError:
                raise ValueError(f"invalid {noun}: {text}") from None
            if version is not None and value.version != version:
                raise ValueError(f"invalid {noun}: {text}")
            return value

        return parse_value

    def optional(self, hint: object, inner: _Parser, kind: AddressKind | None) -> _Parser:
        if kind is None:
            # An empty value stays a parse error for int and bool, and is "" for a string.
            return inner

        # Go's net.IP reads "" as nil.
        def parse_optional(text: str) -> object:
            return None if text == "" else inner(text)

        return parse_optional


_parser: Final = _TextCompiler()


# Plain slotted classes rather than dataclasses: each @dataclass compiles code
# at import time, and this module is imported by every plugin run.


class _Spec:
    """How one field maps to one CNI_ARGS key."""

    __slots__ = ("key", "name", "parse", "required")

    def __init__(self, name: str, key: str, parse: _Parser, required: bool) -> None:
        self.name = name
        self.key = key
        self.parse = parse
        self.required = required


class _Table:
    """The parsed field list of one args class, built once and cached."""

    __slots__ = ("by_key", "ignore_unknown_default", "specs")

    def __init__(self, specs: tuple[_Spec, ...], by_key: dict[str, _Spec], ignore_unknown_default: bool) -> None:
        self.specs = specs
        self.by_key = by_key
        self.ignore_unknown_default = ignore_unknown_default


_TABLES: dict[type, _Table] = {}


def _table(cls: type[CNIArgs]) -> _Table:
    table = _TABLES.get(cls)
    if table is None:
        table = _TABLES[cls] = _build_table(cls)
    return table


def _build_table(cls: type[CNIArgs]) -> _Table:
    given: object = cls  # callers may pass anything at runtime
    if not (isinstance(given, type) and issubclass(given, CNIArgs)):
        raise TypeError(f"CNI_ARGS class must be a subclass of CNIArgs, not {cls!r}")
    # A subclass without @dataclass would silently ignore its own fields.
    if "__dataclass_fields__" not in cls.__dict__ and inspect.get_annotations(cls):
        raise TypeError(f"CNI_ARGS class {cls.__qualname__} must be decorated with @dataclass")
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # NameError etc. from an unresolvable annotation
        raise TypeError(f"CNI_ARGS class {cls.__qualname__}: cannot resolve field types: {exc}") from exc

    specs: list[_Spec] = []
    by_key: dict[str, _Spec] = {}
    ignore_default = False
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        where = f"CNI_ARGS class {cls.__qualname__}, field {f.name}"
        key = f.metadata.get(_KEY_METADATA, f.name)
        if not isinstance(key, str) or not key or ";" in key or "=" in key:
            raise TypeError(f"{where}: key must be a non-empty string without ';' or '=', not {key!r}")
        if key in by_key:
            raise TypeError(f"{where}: key {key!r} is already used by field {by_key[key].name}")
        try:
            parser = _parser(hints[f.name])
        except TypeError:
            raise TypeError(
                f"{where}: unsupported type {hints[f.name]!r}; use str, bool, int, an ipaddress "
                "address or interface type (or a v4 | v6 union of them), optionally | None"
            ) from None
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        spec = _Spec(f.name, key, parser, required)
        if f.name == "ignore_unknown":
            if hints[f.name] is not bool or key != _IGNORE_UNKNOWN_KEY:
                raise TypeError(f"{where}: must stay `bool` with key {_IGNORE_UNKNOWN_KEY!r}")
            ignore_default = bool(f.default)
        specs.append(spec)
        by_key[key] = spec
    return _Table(tuple(specs), by_key, ignore_default)


# --- public functions --------------------------------------------------------


def cni_args_keys(cls: type[CNIArgs]) -> tuple[str, ...]:
    """Return the ``CNI_ARGS`` keys ``cls`` declares, in field order.

    Builds and caches the class's field table, so calling it once at plugin
    definition time turns a bad args class into an immediate ``TypeError``.

    >>> cni_args_keys(K8sArgs)
    ('IgnoreUnknown', 'K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID')
    """
    return tuple(spec.key for spec in _table(cls).specs)


def parse_cni_args(cls: type[_A], raw: str) -> _A:
    """Parse the ``CNI_ARGS`` string ``raw`` into an instance of ``cls``.

    Follows Go's ``types.LoadArgs`` (see the module docstring).  Beyond Go: a
    field without a default is required (``ARGS: missing required args
    [...]``), and a ``ValueError`` raised by the class's ``__post_init__`` is
    reported as ``ARGS: <its message>``.

    Raises:
        CNIArgsError: for any problem with ``raw``; the message names the pair.
        TypeError: when ``cls`` itself is not a valid args class.

    >>> parse_cni_args(K8sArgs, "K8S_POD_NAME=web-0;OTHER=1")
    K8sArgs(ignore_unknown=True, pod_name='web-0', pod_namespace=None, pod_uid=None, pod_infra_container_id=None)
    >>> try:
    ...     parse_cni_args(CNIArgs, "OTHER=1")
    ... except CNIArgsError as err:
    ...     print(err)
    ARGS: unknown args ["OTHER=1"]
    """
    table = _table(cls)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    if raw:
        for pair in raw.split(";"):
            parts = pair.split("=")
            if len(parts) != 2:
                raise CNIArgsError(f"ARGS: invalid pair {q(pair)}", pair=pair)
            key, text = parts
            spec = table.by_key.get(key)
            if spec is None:
                unknown.append(pair)
                continue
            try:
                values[spec.name] = spec.parse(text)
            except ValueError as exc:
                raise CNIArgsError(f"ARGS: error parsing value of pair {q(pair)}: {exc}", pair=pair) from None

    ignore_unknown = values.get("ignore_unknown", table.ignore_unknown_default)
    if unknown and not ignore_unknown:
        raise CNIArgsError(f"ARGS: unknown args {q_list(unknown)}", unknown=tuple(unknown))
    missing = [spec.key for spec in table.specs if spec.required and spec.name not in values]
    if missing:
        raise CNIArgsError(f"ARGS: missing required args {q_list(missing)}")
    try:
        return cls(**values)
    except CNIArgsError:
        raise
    except ValueError as exc:
        raise CNIArgsError(f"ARGS: {exc}") from None


def format_cni_args(args: CNIArgs) -> str:
    """Render ``args`` as a ``CNI_ARGS`` string; ``parse_cni_args`` reads it back equal.

    Fields are written in declaration order (so ``IgnoreUnknown`` first).
    ``None`` values are left out, and so is ``IgnoreUnknown`` when it is false
    and the class is strict by default anyway.  Booleans are written as
    ``true``/``false``.  Used to build the environment of a delegated plugin
    and in tests.

    Raises:
        ValueError: a value cannot be written because it contains ``;`` or ``=``.

    >>> format_cni_args(K8sArgs(pod_name="web-0", pod_namespace="default"))
    'IgnoreUnknown=true;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default'
    """
    table = _table(type(args))
    pairs: list[str] = []
    for spec in table.specs:
        value = getattr(args, spec.name)
        if value is None:
            continue
        if spec.name == "ignore_unknown" and not value and not table.ignore_unknown_default:
            continue
        text = _format_bool(value) if isinstance(value, bool) else str(value)
        if ";" in text or "=" in text:
            raise ValueError(
                f"cannot write CNI_ARGS key {spec.key}: value {text!r} cannot be represented "
                "(';' and '=' cannot be escaped)"
            )
        pairs.append(f"{spec.key}={text}")
    return ";".join(pairs)
