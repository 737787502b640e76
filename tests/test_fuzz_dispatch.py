"""Property-based fuzzing of the dispatcher: whatever the environment and stdin, the runtime gets one valid CNI JSON
document or nothing on stdout, exit code 0 or 1, and a code that fits what happened.

The strategies and the invariant check are shared with ``benchmarks/fuzz_dispatch.py``, which runs the same cases by
the ten thousand and prints what it saw.  Here each property runs a fixed, derandomized budget so CI is stable.
"""

from __future__ import annotations

import enum
import io
import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rscni_py import CmdArgs, CNIError, CNIPlugin, K8sArgs, NetConf
from rscni_py._base.versions import ALL_VERSIONS, at_least
from rscni_py.errors import (
    DecodingFailureError,
    InvalidNetworkConfigError,
    TryAgainLaterError,
    UnknownContainerError,
)
from rscni_py.protocol import env as envvars
from rscni_py.protocol.commands import COMMAND_SPECS, Command
from rscni_py.protocol.dispatch import dispatch
from rscni_py.types import IPInterface, Result, json_field, parse_result, v0_4, v1_0
from rscni_py.types._family import family_of
from rscni_py.types.args import arg_field
from rscni_py.types.convert import AnyResult
from tests.recorder import Recorder

ROOT = Path(__file__).resolve().parent.parent
NOISY = ROOT / "tests" / "plugins" / "noisy.py"

COMMANDS: Final = tuple(command.value for command in Command)
_METHOD_OF: Final = {"ADD": "add", "DEL": "delete", "CHECK": "check", "GC": "gc", "STATUS": "status"}
#: Codes the dispatcher itself produces before a plugin method runs.
PRE_PLUGIN_CODES: Final = frozenset({1, 4, 6, 7, 8})
ERROR_KEYS: Final = frozenset({"cniVersion", "code", "msg", "details"})


# --- plugins ----------------------------------------------------------------------------------------------------------


class Plain(Recorder):
    """Succeeds at everything; ADD returns one address (the shared recorder, with an about text)."""

    about = "CNI fuzz plugin v0"


class BrokenStr(Exception):
    """An exception whose message cannot even be computed."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ failed")


class Raising(Plain):
    """Every method raises ``failure`` (set per case)."""

    failure: ClassVar[Exception] = RuntimeError("unset")

    def _record(self, method: str, args: CmdArgs[Any, Any]) -> None:
        super()._record(method, args)
        raise type(self).failure


class Returning(Plain):
    """ADD returns ``outcome`` (set per case): a result of any version, or something that is not a result."""

    outcome: ClassVar[object] = None
    supported_versions = ("0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

    def add(self, args: CmdArgs[Any, Any]) -> AnyResult:
        self._record("add", args)
        return type(self).outcome  # type: ignore[return-value]  # deliberately anything


@dataclass(kw_only=True)
class TypedConf(NetConf):
    """Plugin keys with required fields of several types."""

    bridge: str
    mtu: int
    ratio: float
    subnet: IPInterface
    vlan: int | None = None
    hairpin: bool = json_field("hairpinMode", default=False)


@dataclass(kw_only=True)
class TypedArgs(K8sArgs):
    """Kubernetes keys plus a required pod name and an optional IP."""

    POD: str  # no default: required, keyed by the field name
    ip: ipaddress.IPv4Address | None = arg_field("IP")


class Typed(CNIPlugin[TypedConf, TypedArgs]):
    """A plugin with a typed configuration and CNI_ARGS class; supports only the 1.x versions."""

    supported_versions = ("1.0.0", "1.1.0")

    def add(self, args: CmdArgs[TypedConf, TypedArgs]) -> AnyResult:
        Recorder.calls.append(("add", args))
        # The dispatcher hands over the plugin's own classes.
        assert type(args.config) is TypedConf, args.config
        assert type(args.cni_args) is TypedArgs, args.cni_args
        return Result(ips=[v1_0.IPConfig(address=args.config.subnet)])

    def delete(self, args: CmdArgs[TypedConf, TypedArgs]) -> None:
        Recorder.calls.append(("delete", args))

    def check(self, args: CmdArgs[TypedConf, TypedArgs]) -> None:
        Recorder.calls.append(("check", args))

    def gc(self, args: CmdArgs[TypedConf, TypedArgs]) -> None:
        Recorder.calls.append(("gc", args))

    def status(self, args: CmdArgs[TypedConf, TypedArgs]) -> None:
        Recorder.calls.append(("status", args))


PLUGINS: Final[tuple[type[Plain] | type[Typed], ...]] = (Plain, Raising, Returning, Typed)


# --- strategies: results, configurations, environments, stdin ------------------------------------------------------


def _cidr(version: Literal[4, 6]) -> st.SearchStrategy[str]:
    bits = 32 if version == 4 else 128
    return st.tuples(st.ip_addresses(v=version), st.integers(0, bits)).map(lambda t: f"{t[0]}/{t[1]}")


def _ip(version: Literal[4, 6]) -> st.SearchStrategy[str]:
    return st.ip_addresses(v=version).map(str)


_names = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)
_macs = st.sampled_from(["00:11:22:33:44:55", "aa-bb-cc-dd-ee-ff", ""])
_dns = st.fixed_dictionaries(
    {},
    optional={
        "nameservers": st.lists(_ip(4), max_size=2),
        "domain": _names,
        "search": st.lists(_names, max_size=2),
        "options": st.lists(_names, max_size=2),
    },
)


def _routes(family: Literal[4, 6]) -> st.SearchStrategy[list[dict[str, Any]]]:
    route = st.fixed_dictionaries(
        {"dst": _cidr(family)},
        optional={
            "gw": _ip(family),
            "mtu": st.integers(0, 9000),
            "priority": st.integers(0, 100),
            "table": st.integers(0, 255),
        },
    )
    return st.lists(route, max_size=2)


_FAMILIES: Final[tuple[Literal[4, 6], ...]] = (4, 6)
_CIDRS: Final = {ipv: _cidr(ipv) for ipv in _FAMILIES}
_IPS: Final = {ipv: _ip(ipv) for ipv in _FAMILIES}
_V02_IPCONFIG: Final = {
    ipv: st.fixed_dictionaries({"ip": _CIDRS[ipv]}, optional={"gateway": _IPS[ipv], "routes": _routes(ipv)})
    for ipv in _FAMILIES
}
_IFACE_KEYS: Final[dict[str, st.SearchStrategy[Any]]] = {
    "name": _names,
    "mac": _macs,
    "sandbox": st.just("/var/run/netns/x"),
}
_INTERFACES: Final = {
    "0.4": st.lists(st.fixed_dictionaries({}, optional=_IFACE_KEYS), max_size=2),
    "1.0": st.lists(st.fixed_dictionaries({}, optional={**_IFACE_KEYS, "mtu": st.integers(0, 9000)}), max_size=2),
}
_ip_families = st.lists(st.sampled_from(_FAMILIES), max_size=3)
_v4_routes = _routes(4)


@st.composite
def result_json(draw: st.DrawFn, version: str) -> dict[str, Any]:
    """A valid result object of ``version``, as a plugin would print it."""
    family = family_of(version)
    out: dict[str, Any] = {"cniVersion": version}
    if family == "0.2":
        for ipv in _FAMILIES:
            if draw(st.booleans()):
                out[f"ip{ipv}"] = draw(_V02_IPCONFIG[ipv])
        out["dns"] = draw(_dns)
        return out
    assert family in ("0.4", "1.0")
    out["interfaces"] = draw(_INTERFACES[family])
    ips = []
    for ipv in draw(_ip_families):
        entry: dict[str, Any] = {"address": draw(_CIDRS[ipv])}
        if family == "0.4":
            entry["version"] = str(ipv)
        index = draw(st.none() | st.integers(0, len(out["interfaces"]) - 1)) if out["interfaces"] else None
        if index is not None:
            entry["interface"] = index
        if draw(st.booleans()):
            entry["gateway"] = draw(_IPS[ipv])
        ips.append(entry)
    out["ips"] = ips
    out["routes"] = draw(_v4_routes)
    out["dns"] = draw(_dns)
    return out


RESULTS: Final = {version: result_json(version) for version in ALL_VERSIONS}
any_result: st.SearchStrategy[dict[str, Any]] = st.one_of(*RESULTS.values())

_OPTIONAL_KEYS: Final[dict[str, st.SearchStrategy[Any]]] = {
    "ipam": st.fixed_dictionaries(
        {"type": st.just("host-local")}, optional={"subnet": _CIDRS[4], "routes": _v4_routes}
    ),
    "dns": _dns,
    "args": st.dictionaries(_names, st.integers() | _names, max_size=2),
    "capabilities": st.dictionaries(st.sampled_from(["portMappings", "ips", "mac"]), st.booleans(), max_size=2),
    "runtimeConfig": st.fixed_dictionaries(
        {},
        optional={
            "portMappings": st.lists(
                st.fixed_dictionaries(
                    {
                        "hostPort": st.integers(1, 65535),
                        "containerPort": st.integers(1, 65535),
                        "protocol": st.just("tcp"),
                    }
                ),
                max_size=2,
            ),
        },
    ),
    "prevResult": any_result,
    "cni.dev/valid-attachments": st.lists(st.fixed_dictionaries({"containerID": _names, "ifname": _names}), max_size=2),
    "vlan": st.none() | st.integers(0, 4094),
    "hairpinMode": st.booleans(),
}
_optional_key_sets = st.sets(st.sampled_from(sorted(_OPTIONAL_KEYS)))
_network_names = st.sampled_from(["net1", "k8s-pod-network", "a", "n.e_t-1"])
_versions = st.sampled_from(ALL_VERSIONS)


@st.composite
def _valid_config(draw: st.DrawFn) -> dict[str, Any]:
    version = draw(_versions)
    config: dict[str, Any] = {
        "cniVersion": version,
        "name": draw(_network_names),
        "type": "fuzz",
        "bridge": "cni0",
        "mtu": draw(st.integers(68, 9000)),
        "ratio": draw(st.floats(0, 1)),
        "subnet": draw(_CIDRS[4]),
    }
    for key in draw(_optional_key_sets):
        config[key] = draw(_OPTIONAL_KEYS[key])
    prev = config.get("prevResult")
    if prev is not None and family_of(prev["cniVersion"]) == family_of(version) and draw(st.booleans()):
        # A prevResult without cniVersion inherits the configuration's (Go's ParsePrevResult).
        del prev["cniVersion"]
    return config


#: A configuration every plugin here accepts, of any version, with a prevResult of any version or none (a
#: prevResult of another version family than the configuration's is refused with code 7, as Go does).
valid_config = _valid_config()

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_huge_numbers = st.sampled_from([10**20, 2**63, -(2**63) - 1, 10**400, -1, 1e308, 4.9e-324])
_odd_strings = st.sampled_from(
    [
        "",
        " ",
        ".",
        "..",
        "../../etc/passwd",
        "a/b",
        "x\n",
        "\u00e9" * 10,
        "\x00",
        "%s%n",
        "1.0",
        "0.4.0 ",
        "CNI_ARGS=a;b",
        "$(reboot)",
        "`id`",
        "a" * 300,
    ]
)


def _nest(levels: int, kind: str) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value] if kind == "array" else {"k": value}
    return value


_deep = st.tuples(st.sampled_from([20, 126, 127, 128, 200]), st.sampled_from(["array", "object"])).map(
    lambda t: _nest(*t)
)


def _paths(doc: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, object]] = (
        list(doc.items()) if isinstance(doc, dict) else list(enumerate(doc)) if isinstance(doc, list) else []
    )
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


_MUTATIONS = st.sampled_from(["drop", "replace", "mangle", "deep", "huge", "odd"])
_DAMAGE = st.sampled_from(["nan", "duplicate", "huge", "utf8", "truncate", "bom", "trailing", "none"])
_NAN_TEXT = st.sampled_from(["NaN", "Infinity", "-Infinity", "nan"])
_DUPLICATED = st.sampled_from(["name", "cniVersion", "type", "prevResult", "mtu"])
_HUGE_LITERALS = st.sampled_from(["1e400", "-1e400", "9" * 5000, "1" * 4301, "0." + "0" * 400 + "1", "1" * 400 + ".5"])
_BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
_TRAILERS = st.sampled_from([b" {}", b"\n\n", b"]", b"\x00"])
_INDENTS = st.sampled_from([None, 2])


def mutate(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with a few values dropped, replaced by other JSON types, mangled, nested deeply or made huge."""
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = paths[draw(st.integers(0, len(paths) - 1))]
        parent, key = _parent(doc, path), path[-1]
        action = draw(_MUTATIONS)
        if action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(json_values)
        elif action == "mangle" and isinstance(parent[key], str):
            text = parent[key]
            at = draw(st.integers(0, len(text)))
            parent[key] = text[:at] + draw(st.text(max_size=3)) + text[at + draw(st.integers(0, 2)) :]
        elif action == "deep":
            parent[key] = draw(_deep)
        elif action == "huge":
            parent[key] = draw(_huge_numbers)
        else:
            parent[key] = draw(_odd_strings)
    return doc


def _insert_after_brace(text: str, piece: str) -> str:
    return text.replace("{", "{" + piece, 1) if "{" in text else text


def damage(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    """``doc`` serialised, then damaged as text: NaN, duplicate keys, huge literals, bad UTF-8, truncation..."""
    text = json.dumps(doc, indent=draw(_INDENTS))
    action = draw(_DAMAGE)
    if action == "nan":
        text = _insert_after_brace(text, f'"x": {draw(_NAN_TEXT)}, ')
    elif action == "duplicate":
        text = _insert_after_brace(text, f"{json.dumps(draw(_DUPLICATED))}: {json.dumps(draw(json_values))}, ")
    elif action == "huge":
        text = _insert_after_brace(text, f'"x": {draw(_HUGE_LITERALS)}, ')
    data = text.encode("utf-8", "surrogatepass")
    if action == "utf8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(_BAD_UTF8) + data[at:]
    elif action == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif action == "bom":
        data = b"\xef\xbb\xbf" + data
    elif action == "trailing":
        data += draw(_TRAILERS)
    return data


@st.composite
def _mutated_config(draw: st.DrawFn) -> bytes:
    return damage(draw, mutate(draw, draw(valid_config)))


#: stdin for one case, by kind: random bytes, random JSON, a valid configuration, or a mutated and damaged one.
STDIN: Final[dict[str, st.SearchStrategy[bytes]]] = {
    "bytes": st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    "json": (
        json_values | st.dictionaries(st.sampled_from(["name", "cniVersion", "type", "prevResult"]), json_values)
    ).map(lambda v: json.dumps(v).encode()),
    "valid": valid_config.map(lambda c: json.dumps(c).encode()),
    "mutated": _mutated_config(),
}
any_stdin = st.one_of(*STDIN.values())


MISSING: Final = "<missing>"
_VALID_ENV: Final[dict[str, list[str]]] = {
    "CNI_CONTAINERID": ["ctr1", "a", "0123456789abcdef" * 4, "x.y_z-1"],
    "CNI_NETNS": ["/var/run/netns/test", "/proc/1/ns/net-does-not-exist", "/proc/self/ns/net"],
    "CNI_IFNAME": ["eth0", "net1", "a" * 15, "\u00e9th0"],
    "CNI_ARGS": [
        "",
        "IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=ns;POD=web-0",
        "POD=p;IP=10.0.0.9",
        "POD=p;IgnoreUnknown=true;EXTRA=1",
    ],
    "CNI_PATH": ["/opt/cni/bin", "/opt/cni/bin:/usr/lib/cni", "::"],
    "CNI_NETNS_OVERRIDE": ["1", "true", "TRUE", "0", ""],
    "RSCNI_LOG_LEVEL": ["", "debug", "INFO"],
}
_odd_env_text = (
    _odd_strings | st.text(max_size=20) | st.sampled_from(["\udcff", "eth0\t", "IP=1.2.3.4/99", "POD=a=b", ";"])
)


def environment(valid_only: bool = False) -> st.SearchStrategy[dict[str, str]]:
    """CNI_* variables: each missing, valid or odd; the command valid, in the wrong case or made up."""
    command = (
        st.sampled_from(COMMANDS)
        if valid_only
        else st.sampled_from([*COMMANDS, "", "add", "NOPE", "VERSION "]) | st.text(max_size=8)
    )
    parts: dict[str, st.SearchStrategy[str]] = {"CNI_COMMAND": command}
    for name, good in _VALID_ENV.items():
        good_value = st.sampled_from(good)
        parts[name] = good_value if valid_only else st.just(MISSING) | good_value | _odd_env_text
    if valid_only:
        parts["CNI_NETNS"] = st.sampled_from(_VALID_ENV["CNI_NETNS"][:2])
        parts["CNI_ARGS"] = st.sampled_from(_VALID_ENV["CNI_ARGS"][1:])
    return st.fixed_dictionaries(parts).map(lambda env: {k: v for k, v in env.items() if v != MISSING})


ENV_ANY: Final = environment()
ENV_VALID: Final = environment(valid_only=True)

_texts = st.text(max_size=30) | st.sampled_from(["", "x" * 5000, "\udcff\ud800", "Traceback (most recent call last)"])
failures: st.SearchStrategy[Exception] = st.one_of(
    st.builds(CNIError, st.integers(100, 2**31), _texts, _texts),
    st.builds(UnknownContainerError, _texts),
    st.builds(TryAgainLaterError, _texts, _texts),
    st.builds(DecodingFailureError, _texts),
    st.builds(InvalidNetworkConfigError, _texts),
    st.builds(ValueError, _texts),
    st.builds(KeyError, _texts),
    st.builds(RuntimeError),
    st.builds(OSError, st.integers(1, 130), _texts),
    st.builds(RecursionError, _texts),
    st.builds(ZeroDivisionError),
    st.builds(BrokenStr),
)


def _parsed(data: dict[str, Any]) -> AnyResult:
    return parse_result(data)


outcomes: st.SearchStrategy[object] = st.one_of(
    any_result.map(_parsed),
    st.just(v1_0.Result()),
    st.just(v0_4.Result()),
    st.sampled_from([None, {"cniVersion": "1.0.0"}, "result", 0, Result]),
)


# --- one case -------------------------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    """How a case ended, for the benchmark's counts."""

    VERSION = "VERSION answered"
    ABOUT = "about text (no command)"
    SUCCESS = "success"
    ERROR = "error"


@dataclass
class Case:
    plugin: type[Plain] | type[Typed]
    env: dict[str, str]
    stdin: bytes
    failure: Exception | None = None
    outcome: object = None


@dataclass
class Observed:
    code: int
    stdout: str
    stderr: str
    calls: list[tuple[str, CmdArgs[Any, Any]]]


class RecordingLogs:
    """A ``LogControl`` that only records, so the log settings are exercised without touching files."""

    def __init__(self) -> None:
        self.settings: list[tuple[int, str | None]] = []

    def configure(self, level: int, file: str | None) -> None:
        self.settings.append((level, file))


_plugins = st.sampled_from(PLUGINS)


@st.composite
def cases(draw: st.DrawFn, stdin: st.SearchStrategy[bytes] = any_stdin, valid_env: bool = False) -> Case:
    """One fuzz case: a plugin and its behaviour, an environment, and stdin."""
    plugin = draw(_plugins)
    case = Case(plugin, draw(ENV_VALID if valid_env else ENV_ANY), draw(stdin))
    if plugin is Raising:
        case.failure = draw(failures)
    if plugin is Returning:
        case.outcome = draw(outcomes)
    return case


@st.composite
def fitting_cases(draw: st.DrawFn) -> Case:
    """A valid environment and a valid configuration whose version the plugin supports and the command allows.

    The prevResult, if any, is of the configuration's version family, so the plugin method is always called.
    """
    case = draw(cases(st.just(b""), valid_env=True))
    if case.plugin is not Typed:
        # The base CNIArgs class is strict (as Go's): it takes the Typed plugin's keys only with IgnoreUnknown.
        case.env["CNI_ARGS"] = draw(st.sampled_from([v for v in _VALID_ENV["CNI_ARGS"] if "IgnoreUnknown" in v]))
    command = case.env["CNI_COMMAND"]
    minimum = COMMAND_SPECS[Command(command)].min_version or "0.1.0"
    usable = [v for v in case.plugin.supported_versions if at_least(v, minimum)]
    config = draw(valid_config)
    if usable:
        config["cniVersion"] = draw(st.sampled_from(usable))
        if "prevResult" in config:
            config["prevResult"] = draw(
                st.sampled_from(sorted(_family_versions(config["cniVersion"]))).flatmap(
                    lambda version: RESULTS[version]
                )
            )
    case.stdin = json.dumps(config).encode()
    return case


def run_case(case: Case) -> Observed:
    """Dispatch one case in-process; nothing may escape."""
    Recorder.reset()
    if case.failure is not None:
        Raising.failure = case.failure
    Returning.outcome = case.outcome
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(case.plugin, case.env, io.BytesIO(case.stdin), out, err, logs=RecordingLogs())
    return Observed(code, out.getvalue(), err.getvalue(), list(Recorder.calls))


def _request_version(stdin: bytes) -> str | None:
    try:
        raw = json.loads(stdin)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    version = raw.get("cniVersion")
    return version or "0.1.0" if version is None or isinstance(version, str) else None


def _plugin_message(failure: Exception | None) -> str:
    if isinstance(failure, CNIError):
        return failure.msg + failure.details
    if failure is None or isinstance(failure, BrokenStr):
        return ""
    return str(failure)


def check(case: Case, seen: Observed) -> tuple[Outcome, int | None]:
    """Assert every invariant of one run; return how it ended and the error code (None on success)."""
    command = case.env.get("CNI_COMMAND", "")
    assert seen.code in (0, 1), seen
    # A traceback never reaches stdout, unless the plugin itself put the word in its error message.
    assert "Traceback" not in seen.stdout or "Traceback" in _plugin_message(case.failure)
    assert len(seen.calls) <= 1
    newest = max(case.plugin.supported_versions, key=ALL_VERSIONS.index)

    if command == "VERSION":
        # Needs nothing else and never reads stdin.
        assert (seen.code, seen.calls) == (0, [])
        assert (
            seen.stdout
            == json.dumps(
                {"cniVersion": "1.1.0", "supportedVersions": list(case.plugin.supported_versions)},
                separators=(",", ":"),
            )
            + "\n"
        )
        return Outcome.VERSION, None
    if command == "" and case.plugin.about:
        assert (seen.code, seen.stdout, seen.calls) == (0, "", [])
        assert seen.stderr.startswith(case.plugin.about + "\n")
        return Outcome.ABOUT, None

    for method, args in seen.calls:
        # A method only ever runs for its own command, with validated identifiers.
        assert _METHOD_OF[command] == method
        if command in ("ADD", "DEL", "CHECK"):
            envvars.validate_container_id(args.container_id)
            envvars.validate_ifname(args.ifname)
        assert args.config.name == args.raw_config["name"]
        envvars.validate_network_name(args.config.name)

    if seen.code == 0:
        assert seen.calls, "success without calling the plugin"
        if command != "ADD":
            assert seen.stdout == ""
            return Outcome.SUCCESS, None
        version = seen.calls[0][1].cni_version
        doc = json.loads(seen.stdout)
        assert isinstance(doc, dict) and doc["cniVersion"] == version
        parse_result(doc, version)  # a valid result of the configuration's version
        return Outcome.SUCCESS, None

    doc = json.loads(seen.stdout)
    assert isinstance(doc, dict) and set(doc) <= ERROR_KEYS and {"cniVersion", "code", "msg"} <= set(doc), doc
    assert type(doc["code"]) is int and isinstance(doc["msg"], str) and isinstance(doc["cniVersion"], str)
    assert isinstance(doc.get("details", ""), str)
    assert doc["cniVersion"] in (newest, _request_version(case.stdin)), doc
    code = doc["code"]
    if not seen.calls:
        assert code in PRE_PLUGIN_CODES, doc
    elif case.failure is not None:
        failure = case.failure
        if isinstance(failure, CNIError):
            assert (code, doc["msg"], doc.get("details", "")) == (failure.code, failure.msg, failure.details)
        else:
            assert code == 999
            assert doc["msg"] == (
                type(failure).__name__ if isinstance(failure, BrokenStr) else str(failure) or type(failure).__name__
            )
            assert "Traceback (most recent call last)" in seen.stderr
    else:
        # A plugin that returned no result, or one that cannot be converted to the configuration's version.
        assert code == 999 and command == "ADD", doc
    return Outcome.ERROR, code


def expected_to_call(case: Case) -> bool:
    """For a valid environment and an unmutated valid configuration: whether the plugin method must run."""
    command = case.env["CNI_COMMAND"]
    raw = json.loads(case.stdin)
    version = raw["cniVersion"]
    if command == "VERSION" or version not in case.plugin.supported_versions:
        return False
    minimum = COMMAND_SPECS[Command(command)].min_version
    if minimum is not None and not at_least(version, minimum):
        return False
    prev = raw.get("prevResult")
    if prev is not None and prev.get("cniVersion", version) not in _family_versions(version):
        return False
    # the strict base CNIArgs refuses the unknown POD key
    cni_args = case.env["CNI_ARGS"]
    return case.plugin is Typed or "POD=" not in cni_args or "IgnoreUnknown" in cni_args


def _family_versions(version: str) -> set[str]:
    family = family_of(version)
    return {v for v in ALL_VERSIONS if family_of(v) == family}


# --- properties -----------------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@FUZZ
@given(cases(STDIN["bytes"]))
def test_random_bytes(case: Case) -> None:
    check(case, run_case(case))


@FUZZ
@given(cases(STDIN["json"]))
def test_random_json(case: Case) -> None:
    check(case, run_case(case))


@FUZZ
@given(cases(STDIN["mutated"]))
def test_mutated_configs(case: Case) -> None:
    check(case, run_case(case))


@FUZZ
@given(cases(STDIN["mutated"], valid_env=True))
def test_mutated_configs_valid_environment(case: Case) -> None:
    check(case, run_case(case))


@FUZZ
@given(cases(STDIN["valid"], valid_env=True))
def test_valid_configs_reach_the_plugin_when_versions_allow(case: Case) -> None:
    seen = run_case(case)
    check(case, seen)
    assert bool(seen.calls) == expected_to_call(case), (seen, case)


@FUZZ
@given(fitting_cases())
def test_fitting_configs_always_reach_the_plugin(case: Case) -> None:
    seen = run_case(case)
    check(case, seen)
    if case.env["CNI_COMMAND"] != "VERSION":
        assert expected_to_call(case) and len(seen.calls) == 1, (seen, case)


# --- found by fuzzing: regressions ------------------------------------------------------------------------------------

VALID_ADD = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/var/run/netns/x",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}
VALID_CONFIG = b'{"cniVersion": "1.0.0", "name": "n", "type": "fuzz"}'


def test_exception_whose_str_fails_is_999_named_by_class() -> None:
    seen = run_case(Case(Raising, VALID_ADD, VALID_CONFIG, failure=BrokenStr()))
    assert (seen.code, json.loads(seen.stdout)) == (1, {"cniVersion": "1.0.0", "code": 999, "msg": "BrokenStr"})


class Unwritable(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("broken", ["stderr", "both"])
def test_unwritable_streams_do_not_raise(broken: str) -> None:
    Raising.failure = ValueError("boom")
    out: io.StringIO = Unwritable() if broken == "both" else io.StringIO()
    code = dispatch(Raising, VALID_ADD, io.BytesIO(VALID_CONFIG), out, Unwritable())
    assert code == 1
    if broken == "stderr":
        assert json.loads(out.getvalue()) == {"cniVersion": "1.0.0", "code": 999, "msg": "boom"}


# --- through run(), in a real process ---------------------------------------------------------------------------------


def _representable(value: str) -> bool:
    """Whether a real process environment can hold ``value`` (no NUL; encodable as file-system bytes)."""
    try:
        return b"\x00" not in os.fsencode(value)
    except UnicodeEncodeError:
        return False


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(env=ENV_ANY, stdin=any_stdin)
def test_run_prints_one_document_or_nothing(env: dict[str, str], stdin: bytes) -> None:
    env = {k: v for k, v in env.items() if _representable(v)}
    proc = subprocess.run(
        [sys.executable, str(NOISY)],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env},
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert b"Traceback" not in proc.stdout
    if proc.stdout:
        doc = json.loads(proc.stdout)
        assert isinstance(doc, dict)
        if proc.returncode == 1:
            assert type(doc["code"]) is int and isinstance(doc["msg"], str)
        else:
            assert env.get("CNI_COMMAND") in ("ADD", "VERSION")
    else:
        assert proc.returncode == 0 and env.get("CNI_COMMAND") in ("DEL", "CHECK", "GC", "STATUS", None, "")
    if proc.returncode == 1 and json.loads(proc.stdout)["code"] != 999:
        assert b"Traceback" not in proc.stderr
