"""Conformance kit: protocol checks that any CNI plugin can be run against, in process or as an executable.

A *target* is what gets checked: a :class:`PluginTarget` (a ``CNIPlugin`` class, run in process through the
protocol dispatcher) or an :class:`ExecutableTarget` (any plugin binary or script, in any language, run as a
subprocess the way a runtime runs it).  :func:`run_checks` runs every check in :data:`CHECKS` and returns one
:class:`CheckOutcome` per check, each naming the spec rule it enforces.  For pytest, use :func:`pytest_cases` with
``parametrize`` or subclass :class:`ConformanceSuite`.

Where the SPEC leaves room, the reference is Go's ``pkg/skel``, which nearly every real plugin uses: the checks
accept what Go plugins really do (e.g. the about text on stderr and exit 0 when ``CNI_COMMAND`` is unset, or any
error for GC/STATUS from a plugin built before spec 1.1.0 that does not know these commands).

What the kit sends:

* error probes use a ``CNI_NETNS`` path that does not exist, so a plugin that wrongly accepts a request cannot
  change a real namespace;
* the lifecycle and repeated-DEL checks use a real namespace when the target ``needs_netns`` (created with
  ``ip netns add`` when running as root, else those checks are skipped), or ``netns=`` when given;
* the environment holds only ``PATH``, the target's ``env`` and the ``CNI_*`` variables.
"""

from __future__ import annotations

import abc
import io
import json
import os
import subprocess
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from rscni_py._base import strict_json
from rscni_py._base.lazy import LazyNames
from rscni_py._base.versions import ALL_VERSIONS, VersionError, at_least
from rscni_py.protocol.commands import COMMAND_SPECS, Command, spec_of
from rscni_py.protocol.env import ENV_VARS
from rscni_py.testing._netns import NetnsUnavailable, can_create_netns, temporary_netns

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

    from rscni_py.plugin import CNIPlugin
    from rscni_py.testing.suite import ConformanceSuite

__all__ = [
    "CHECKS",
    "CHECK_NAMES",
    "Case",
    "Check",
    "CheckOutcome",
    "ConformanceSuite",
    "DEFAULT_EXEC_CNI_PATH",
    "ExecutableTarget",
    "KNOWN_VERSIONS",
    "NETWORK_NAME",
    "PluginTarget",
    "Probe",
    "Response",
    "Target",
    "failures",
    "format_report",
    "main",
    "pytest_cases",
    "run_check",
    "run_checks",
]

#: Every spec version the kit knows (0.1.0 to 1.1.0); supportedVersions must list only these.
KNOWN_VERSIONS: Final = ALL_VERSIONS
#: CNI_PATH given to executables unless the target says otherwise: where Debian puts the reference plugins.
DEFAULT_EXEC_CNI_PATH: Final = "/opt/cni/bin:/usr/lib/cni"
#: The ``name`` of every configuration the kit sends (a target's own ``name`` key wins).
NETWORK_NAME: Final = "conformance"


# --- targets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """What one execution of the target produced."""

    exit_code: int
    stdout: str
    stderr: str
    #: True when an executable did not finish within the target's timeout (it was killed).
    timed_out: bool = False


class Target(abc.ABC):
    """Something to check, and how to talk to it.

    :param name: shown in reports and pytest ids.
    :param config: a minimal valid plugin configuration without ``cniVersion`` (the kit sets it per probe), e.g.
        ``{"type": "host-local", "subnet": "10.0.0.0/24", "dataDir": ...}``; default ``{"type": <plugin type>}``.
        ``name`` defaults to "conformance".
    :param versions: the versions the lifecycle check runs ADD at and the probes use; default: every known version
        the plugin lists in its VERSION answer.
    :param needs_netns: whether ADD needs a real network namespace (most main plugins; not IPAM plugins).
    :param netns: a namespace path to use instead of creating one.
    :param cni_path: CNI_PATH, where the plugin finds its delegates.
    :param env: extra variables for every execution.
    :param lifecycle: whether to run the ADD -> CHECK -> DEL -> DEL check (it changes the namespace it is given).
    """

    def __init__(
        self,
        *,
        name: str,
        plugin_type: str,
        config: Mapping[str, Any] | None = None,
        versions: Sequence[str] | None = None,
        needs_netns: bool = False,
        netns: str | None = None,
        cni_path: str,
        env: Mapping[str, str] | None = None,
        lifecycle: bool = True,
    ) -> None:
        self.name = name
        self.config: dict[str, Any] = {"name": NETWORK_NAME, "type": plugin_type, **(config or {})}
        self.config.pop("cniVersion", None)
        self.versions = tuple(versions) if versions is not None else None
        self.needs_netns = needs_netns
        self.netns = netns
        self.cni_path = cni_path
        self.env = dict(env or {})
        self.lifecycle = lifecycle
        #: How many of a check's independent error requests may run at once (lifecycle and DEL stay sequential).
        self.workers = 1

    @abc.abstractmethod
    def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
        """Run the plugin once with exactly these ``CNI_*`` variables and stdin."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class PluginTarget(Target):
    """A ``CNIPlugin`` class, run in process through the same dispatcher as ``run()`` (no subprocess, no root)."""

    def __init__(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        versions: Sequence[str] | None = None,
        needs_netns: bool = False,
        netns: str | None = None,
        cni_path: str = "/opt/cni/bin",
        env: Mapping[str, str] | None = None,
        lifecycle: bool = True,
    ) -> None:
        super().__init__(
            name=name or plugin_cls.__name__,
            plugin_type=plugin_cls.__name__.lower(),
            config=config,
            versions=versions,
            needs_netns=needs_netns,
            netns=netns,
            cni_path=cni_path,
            env=env,
            lifecycle=lifecycle,
        )
        self.plugin_cls = plugin_cls

    def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
        from rscni_py.protocol.dispatch import dispatch

        stdout, stderr = io.StringIO(), io.StringIO()
        code = dispatch(self.plugin_cls, {**self.env, **env}, io.BytesIO(stdin), stdout, stderr)
        return Response(code, stdout.getvalue(), stderr.getvalue())


class ExecutableTarget(Target):
    """A plugin executable in any language, run as a subprocess like a runtime runs it.

    :param path: the executable file.
    :param timeout: seconds before an execution counts as hung and is killed.
    :param workers: how many of a check's error requests run at once (1: strictly one at a time).  These requests
        must be refused before the plugin does anything, so running them together is safe for a conforming plugin.

    The other options are :class:`Target`'s.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        versions: Sequence[str] | None = None,
        needs_netns: bool = False,
        netns: str | None = None,
        cni_path: str = DEFAULT_EXEC_CNI_PATH,
        env: Mapping[str, str] | None = None,
        lifecycle: bool = True,
        timeout: float = 10.0,
        workers: int = 4,
    ) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path) or not os.access(self.path, os.X_OK):
            raise ValueError(f"conformance target {self.path!r} is not an executable file")
        base = os.path.basename(self.path)
        super().__init__(
            name=name or base,
            plugin_type=base,
            config=config,
            versions=versions,
            needs_netns=needs_netns,
            netns=netns,
            cni_path=cni_path,
            env=env,
            lifecycle=lifecycle,
        )
        self.timeout = timeout
        self.workers = max(1, workers)

    def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
        full = {"PATH": os.environ.get("PATH", os.defpath), **self.env, **env}
        try:
            proc = subprocess.run(
                [self.path], input=stdin, env=full, capture_output=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            return Response(-1, _text(exc.stdout), _text(exc.stderr), timed_out=True)
        return Response(proc.returncode, _text(proc.stdout), _text(proc.stderr))


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


# --- outcomes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One execution the kit made: what it sent and what came back (kept for the stdout and exit-code checks)."""

    label: str
    env: dict[str, str]
    stdin: bytes
    response: Response


@dataclass(frozen=True)
class CheckOutcome:
    """The verdict of one check on one target."""

    name: str
    #: The spec rule the check enforces.
    rule: str
    passed: bool
    #: Why it failed (every failing case), why it was skipped, or what was verified.
    detail: str
    skipped: bool = False

    def __str__(self) -> str:
        state = "SKIP" if self.skipped else ("PASS" if self.passed else "FAIL")
        return f"{state} {self.name}: {self.detail}"


class _Skip(Exception):
    """Raised by a check that cannot run on this target (the reason is the message)."""


@dataclass
class _Context:
    """The state of one run of the kit on one target: versions, namespaces, and every probe made."""

    target: Target
    absent_netns: str
    live_netns: str | None
    live_netns_problem: str
    container_id: str
    declared: tuple[str, ...] | None = None
    probes: list[Probe] = field(default_factory=list)
    #: Deviations the current check tolerates (as Go's reader does); shown in the outcome's detail.
    notes: list[str] = field(default_factory=list)

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions to try: the target's, else what the plugin declared, else every known one."""
        if self.target.versions is not None:
            return self.target.versions
        if self.declared:
            known = tuple(v for v in self.declared if v in KNOWN_VERSIONS)
            if known:
                return known
        return KNOWN_VERSIONS

    @property
    def newest(self) -> str:
        return max(self.versions, key=_order)

    @property
    def check_version(self) -> str:
        """A version that allows CHECK, so that only the variable under test can make CHECK fail."""
        allowed = [v for v in self.versions if _at_least(v, _min_version(Command.CHECK))]
        return max(allowed, key=_order) if allowed else self.newest

    def config(self, version: str | None, **extra: Any) -> bytes:
        data = dict(self.target.config)
        if version is not None:
            data["cniVersion"] = version
        data.update(extra)
        return json.dumps(data).encode()

    def env(self, command: str, **changes: str | None) -> dict[str, str]:
        """A runtime's environment for ``command``; GC and STATUS get empty attachment variables, as from libcni."""
        spec = spec_of(command)
        attached = spec is None or spec.attachment  # an unknown command gets everything, so only it is wrong
        env: dict[str, str | None] = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": self.container_id if attached else "",
            "CNI_NETNS": self.absent_netns if attached else "",
            "CNI_IFNAME": "eth0" if attached else "",
            "CNI_ARGS": "",
            "CNI_PATH": self.target.cni_path,
        }
        env.update(changes)
        return {key: value for key, value in env.items() if value is not None}

    def run(self, label: str, env: Mapping[str, str], stdin: bytes) -> Response:
        response = self.target.execute(env, stdin)
        self.probes.append(Probe(label, dict(env), stdin, response))
        return response

    def run_many(self, requests: Sequence[_Request]) -> list[Response]:
        """Send independent requests, ``target.workers`` at a time; record them in order."""
        workers = min(self.target.workers, len(requests))
        if workers <= 1:
            responses = [self.target.execute(r.env, r.stdin) for r in requests]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                responses = list(pool.map(lambda r: self.target.execute(r.env, r.stdin), requests))
        for request, response in zip(requests, responses, strict=True):
            self.probes.append(Probe(request.label, dict(request.env), request.stdin, response))
        return responses


def _order(version: str) -> int:
    return KNOWN_VERSIONS.index(version) if version in KNOWN_VERSIONS else len(KNOWN_VERSIONS)


def _at_least(version: str, minimum: str) -> bool:
    try:
        return at_least(version, minimum)
    except VersionError:
        return False


# --- reading responses ---------------------------------------------------------------------------------------------


def _show(response: Response) -> str:
    if response.timed_out:
        return "timed out"
    out = response.stdout.strip().replace("\n", " ")
    if len(out) > 200:
        out = out[:200] + "..."
    text = f"exit {response.exit_code}, stdout {out!r}"
    if response.exit_code not in (0, 1) and response.stderr.strip():
        text += f", stderr {response.stderr.strip()[-200:]!r}"
    return text


def _document(stdout: str) -> tuple[bool, Any]:
    """(True, value) when stdout is exactly one JSON document; (True, None) when it is empty; (False, None) else."""
    text = stdout.strip()
    if not text:
        return True, None
    try:
        # Strict like a runtime's decoder: no NaN/Infinity, nothing after the document.
        return True, strict_json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def _error_object_problem(value: Any) -> str | None:
    """Why ``value`` is not a CNI error object ({code: int, msg: str, details?: str}), or None."""
    if not isinstance(value, dict):
        return "stdout is not a JSON object"
    code = value.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        return f"error object has no integer code: {value!r}"
    if not isinstance(value.get("msg"), str):
        return f"error object has no string msg: {value!r}"
    if "details" in value and not isinstance(value["details"], str):
        return f"error object's details is not a string: {value!r}"
    return None


def _expect_error(response: Response, codes: Sequence[int] | None, names: Sequence[str] = ()) -> str | None:
    """Why ``response`` is not an error with one of ``codes`` (None: any) whose text names all ``names``, or None."""
    if response.timed_out:
        return "timed out"
    if response.exit_code == 0:
        return f"expected error {_codes(codes)}, the plugin succeeded ({_show(response)})"
    single, value = _document(response.stdout)
    if not single or value is None:
        return f"expected error {_codes(codes)} on stdout ({_show(response)})"
    problem = _error_object_problem(value)
    if problem is not None:
        return problem
    if codes is not None and value["code"] not in codes:
        return f"expected error {_codes(codes)}, got {value['code']}: {value['msg']!r}"
    text = f"{value['msg']} {value.get('details', '')}"
    missing = [name for name in names if name not in text]
    if missing:
        return f"the error message does not name {', '.join(missing)}: {value['msg']!r}"
    return None


def _expect_success(response: Response) -> str | None:
    if response.timed_out:
        return "timed out"
    if response.exit_code != 0:
        return f"expected success ({_show(response)})"
    single, _ = _document(response.stdout)
    if not single:
        return f"stdout is not one JSON document ({_show(response)})"
    return None


def _codes(codes: Sequence[int] | None) -> str:
    return "(any code)" if codes is None else "/".join(str(code) for code in codes)


# --- the checks --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One protocol check: a name, the spec rule it enforces, and the function that runs it."""

    name: str
    rule: str
    run: Callable[[_Context], list[str]] = field(repr=False)
    #: Aggregate checks judge the probes every other check made instead of making their own.
    aggregate: bool = False


@dataclass(frozen=True)
class _Request:
    """One request of a check, with how to judge its response (None: as expected, else the problem)."""

    label: str
    env: Mapping[str, str]
    stdin: bytes
    judge: Callable[[Response], str | None]


_Case = tuple[str, _Request]


def _cases(ctx: _Context, cases: Sequence[_Case]) -> list[str]:
    """Send every request (concurrently when the target allows), then judge the responses in order."""
    responses = ctx.run_many([request for _, request in cases])
    problems = []
    for (label, request), response in zip(cases, responses, strict=True):
        problem = request.judge(response)
        if problem is not None:
            problems.append(f"{label}: {problem}")
    return problems


def _check_version_shape(ctx: _Context) -> list[str]:
    response = ctx.run("VERSION", ctx.env(Command.VERSION), b'{"cniVersion": "1.1.0"}')
    if response.timed_out or response.exit_code != 0:
        return [f"VERSION failed ({_show(response)})"]
    single, value = _document(response.stdout)
    if not single or not isinstance(value, dict):
        return [f"VERSION stdout is not one JSON object ({_show(response)})"]
    problems = []
    version, supported = value.get("cniVersion"), value.get("supportedVersions")
    if not isinstance(version, str) or version not in KNOWN_VERSIONS:
        problems.append(f"cniVersion {version!r} is not a known spec version")
    if not isinstance(supported, list) or not supported:
        problems.append(f"supportedVersions {supported!r} is not a non-empty list")
    else:
        unknown = [v for v in supported if not isinstance(v, str) or v not in KNOWN_VERSIONS]
        if unknown:
            problems.append(f"supportedVersions lists unknown versions {unknown!r}")
        if len(set(map(str, supported))) != len(supported):
            problems.append(f"supportedVersions repeats versions: {supported!r}")
    return problems


def _missing_env(command: Command) -> Callable[[_Context], list[str]]:
    # The attachment variables the command requires, in the order they are checked; CNI_PATH stays set apart from
    # the "all removed" case, as every runtime sets it.
    needed = COMMAND_SPECS[command].required_env
    required = tuple(var.name for var in ENV_VARS if var.name in needed and var.name != "CNI_PATH")

    def check(ctx: _Context) -> list[str]:
        version = ctx.check_version if command == Command.CHECK else ctx.newest
        stdin = ctx.config(version)
        cases: list[_Case] = []
        everything = ctx.env(command, **dict.fromkeys((*required, "CNI_PATH")))
        cases.append(
            ("all removed", _probe(ctx, f"{command} without {','.join(required)}", everything, stdin, [4], required))
        )
        for name in required:
            env = ctx.env(command, **{name: None})
            cases.append((f"{name} removed", _probe(ctx, f"{command} without {name}", env, stdin, [4], (name,))))
        return _cases(ctx, cases)

    return check


def _probe(
    ctx: _Context,
    label: str,
    env: Mapping[str, str],
    stdin: bytes,
    codes: Sequence[int] | None,
    names: Sequence[str] = (),
) -> _Request:
    return _Request(label, env, stdin, lambda response: _expect_error(response, codes, names))


def _min_version(command: Command) -> str:
    minimum = COMMAND_SPECS[command].min_version
    assert minimum is not None, command
    return minimum


def _check_missing_command(ctx: _Context) -> list[str]:
    env = ctx.env("", CNI_COMMAND=None)
    response = ctx.run("no CNI_COMMAND", env, ctx.config(ctx.newest))
    # Go's skel prints the plugin's about text on stderr and exits 0 when it has one; otherwise error 4.
    if not response.timed_out and response.exit_code == 0 and not response.stdout.strip():
        return []
    problem = _expect_error(response, [4], ("CNI_COMMAND",))
    return [] if problem is None else [f"without CNI_COMMAND: {problem} (expected error 4, or exit 0 with no stdout)"]


_INVALID_ENV: Final = (
    (Command.ADD, "CNI_CONTAINERID", "bad/id"),
    (Command.ADD, "CNI_CONTAINERID", "-leading-dash"),
    (Command.DEL, "CNI_CONTAINERID", "has space"),
    (Command.ADD, "CNI_IFNAME", "a-very-long-ifname"),
    (Command.ADD, "CNI_IFNAME", "eth/0"),
    (Command.CHECK, "CNI_IFNAME", ".."),
    (Command.DEL, "CNI_IFNAME", "eth:0"),
)


def _check_invalid_env(ctx: _Context) -> list[str]:
    cases: list[_Case] = []
    for command, name, value in _INVALID_ENV:
        version = ctx.check_version if command == Command.CHECK else ctx.newest
        env = ctx.env(command, **{name: value})
        label = f"{command} {name}={value!r}"
        cases.append((label, _probe(ctx, label, env, ctx.config(version), [4])))
    return _cases(ctx, cases)


def _check_unknown_command(ctx: _Context) -> list[str]:
    cases: list[_Case] = []
    for command in ("NOPE", "add"):
        label = f"CNI_COMMAND={command}"
        cases.append((label, _probe(ctx, label, ctx.env(command), ctx.config(ctx.newest), [4])))
    return _cases(ctx, cases)


_BAD_JSON: Final = (
    ("empty stdin", b""),
    ("not JSON", b"this is not JSON"),
    ("truncated", b'{"name": "conformance", "type": '),
    ("two documents", b'{"name": "conformance"} {}'),
)


def _check_bad_json(ctx: _Context) -> list[str]:
    cases: list[_Case] = []
    for command in (Command.ADD, Command.DEL):
        for what, stdin in _BAD_JSON:
            label = f"{command} {what}"
            cases.append((label, _probe(ctx, label, ctx.env(command), stdin, [6])))
    return _cases(ctx, cases)


def _check_config_shape(ctx: _Context) -> list[str]:
    version = ctx.newest
    shapes: list[tuple[str, bytes, list[int]]] = [
        ("a JSON array", b"[]", [6, 7]),
        ("a JSON string", b'"conformance"', [6, 7]),
        ("JSON null", b"null", [6, 7]),
        (
            "no name",
            json.dumps({k: v for k, v in json.loads(ctx.config(version)).items() if k != "name"}).encode(),
            [7],
        ),
        ("a name with a space", ctx.config(version, name="bad name"), [7]),
    ]
    cases: list[_Case] = []
    for what, stdin, codes in shapes:
        label = f"ADD with {what}"
        cases.append((label, _probe(ctx, label, ctx.env(Command.ADD), stdin, codes)))
    return _cases(ctx, cases)


def _check_unsupported_version(ctx: _Context) -> list[str]:
    versions = [(Command.ADD, "99.0.0"), (Command.DEL, "99.0.0"), (Command.ADD, "1.0")]
    if ctx.declared:
        versions += [(Command.ADD, v) for v in KNOWN_VERSIONS if v not in ctx.declared]
    cases: list[_Case] = []
    for command, version in versions:
        label = f"{command} cniVersion {version}"
        cases.append((label, _probe(ctx, label, ctx.env(command), ctx.config(version), [1])))
    return _cases(ctx, cases)


def _check_missing_version(ctx: _Context) -> list[str]:
    commands = [Command.CHECK]
    if ctx.declared and "0.1.0" not in ctx.declared:
        commands.append(Command.ADD)
    cases: list[_Case] = []
    for command in commands:
        label = f"{command} without cniVersion"
        cases.append((label, _probe(ctx, label, ctx.env(command), ctx.config(None), [1])))
    return _cases(ctx, cases)


def _check_check_gating(ctx: _Context) -> list[str]:
    cases: list[_Case] = []
    for version in (v for v in KNOWN_VERSIONS if not _at_least(v, _min_version(Command.CHECK))):
        label = f"CHECK at {version}"
        cases.append((label, _probe(ctx, label, ctx.env(Command.CHECK), ctx.config(version), [1])))
    return _cases(ctx, cases)


def _new_command_gating(command: Command) -> Callable[[_Context], list[str]]:
    first = _min_version(command)

    def check(ctx: _Context) -> list[str]:
        knows = ctx.declared is not None and first in ctx.declared
        # A plugin built before the command's first spec version does not know it at all; any error refuses it.
        codes = [1] if knows else None
        cases: list[_Case] = []
        for version in (v for v in KNOWN_VERSIONS if not _at_least(v, first)):
            label = f"{command} at {version}"
            cases.append((label, _probe(ctx, label, ctx.env(command), ctx.config(version), codes)))
        return _cases(ctx, cases)

    return check


def _check_status(ctx: _Context) -> list[str]:
    if ctx.declared is None or "1.1.0" not in ctx.declared:
        raise _Skip("the plugin does not list 1.1.0, the first version with STATUS")
    response = ctx.run("STATUS at 1.1.0", ctx.env(Command.STATUS), ctx.config("1.1.0"))
    if not response.timed_out and response.exit_code == 0:
        return [] if not response.stdout.strip() else [f"STATUS succeeded but printed {response.stdout.strip()!r}"]
    problem = _expect_error(response, [50, 51])
    return [] if problem is None else [f"STATUS at 1.1.0: {problem} (expected success, or error 50/51 when not ready)"]


def _live_netns(ctx: _Context) -> str:
    if ctx.target.netns is not None:
        return ctx.target.netns
    if not ctx.target.needs_netns:
        return ctx.absent_netns
    if ctx.live_netns is None:
        raise _Skip(f"needs a network namespace: {ctx.live_netns_problem}")
    return ctx.live_netns


def _check_repeated_del(ctx: _Context) -> list[str]:
    netns = _live_netns(ctx)
    env = ctx.env(Command.DEL, CNI_NETNS=netns, CNI_CONTAINERID=f"{ctx.container_id}-del")
    stdin = ctx.config(ctx.newest)
    problems = []
    for n in (1, 2):
        problem = _expect_success(ctx.run(f"DEL #{n} of an unknown attachment", env, stdin))
        if problem is not None:
            problems.append(f"DEL #{n} of an unknown attachment: {problem}")
    return problems


def _check_lifecycle(ctx: _Context) -> list[str]:
    if not ctx.target.lifecycle:
        raise _Skip("disabled for this target (lifecycle=False)")
    netns = _live_netns(ctx)
    problems: list[str] = []
    for index, version in enumerate(sorted(ctx.versions, key=_order)):
        env_changes = {"CNI_NETNS": netns, "CNI_CONTAINERID": f"{ctx.container_id}-{index}"}
        stdin = ctx.config(version)
        added = ctx.run(f"ADD at {version}", ctx.env(Command.ADD, **env_changes), stdin)
        problem, prev = _judge_add(ctx, added, version)
        if problem is not None:
            problems.append(f"ADD at {version}: {problem}")
            ctx.run(f"DEL after failed ADD at {version}", ctx.env(Command.DEL, **env_changes), stdin)
            continue
        with_prev = ctx.config(version, prevResult=prev)
        steps = ["DEL", "DEL again"]
        if _at_least(version, _min_version(Command.CHECK)):
            steps.insert(0, "CHECK")
        for step in steps:
            command = step.split()[0]
            response = ctx.run(f"{step} at {version}", ctx.env(command, **env_changes), with_prev)
            problem = _expect_success(response)
            if problem is not None:
                problems.append(f"{step} at {version} after ADD: {problem}")
    return problems


def _judge_add(ctx: _Context, response: Response, version: str) -> tuple[str | None, Any]:
    """Whether an ADD response is a result of the configuration's version; returns (problem, result JSON)."""
    from rscni_py.types import parse_result

    problem = _expect_success(response)
    if problem is not None:
        return problem, None
    _, value = _document(response.stdout)
    if not isinstance(value, dict):
        return f"the ADD result is not a JSON object ({_show(response)})", None
    if value.get("cniVersion") != version:
        return f"the result's cniVersion is {value.get('cniVersion')!r}, the configuration's is {version!r}", value
    try:
        parse_result(_tolerated(ctx, value, version), version)
    except ValueError as exc:
        return f"the result is not a valid {version} result: {exc}", value
    return None, value


def _tolerated(ctx: _Context, value: dict[str, Any], version: str) -> dict[str, Any]:
    """Fill what Go's reader tolerates missing, with a note.

    The 0.3.0-0.4.0 result requires ``ips[].version``; Go's loopback plugin (up to at least 1.x) labels a 1.x-shaped
    result with the configuration's version and so leaves it out, and libcni reads such a result without complaint.
    The kit accepts it like libcni does, and says so in the outcome.
    """
    if version not in ("0.3.0", "0.3.1", "0.4.0") or not isinstance(value.get("ips"), list):
        return value
    ips, unversioned = [], []
    for index, ip in enumerate(value["ips"]):
        if isinstance(ip, dict) and "version" not in ip and isinstance(ip.get("address"), str):
            unversioned.append(f"ips[{index}]")
            ips.append({**ip, "version": "6" if ":" in ip["address"] else "4"})
        else:
            ips.append(ip)
    if unversioned:
        ctx.notes.append(
            f"ADD at {version}: {', '.join(unversioned)} without version (the spec requires it; libcni reads it)"
        )
    return {**value, "ips": ips}


def _check_stdout_framing(ctx: _Context) -> list[str]:
    problems = []
    for probe in ctx.probes:
        if probe.response.timed_out:
            continue  # reported by exit-codes
        single, _ = _document(probe.response.stdout)
        if not single:
            problems.append(f"{probe.label}: stdout is not one JSON document ({_show(probe.response)})")
    return problems


def _check_exit_codes(ctx: _Context) -> list[str]:
    problems = []
    for probe in ctx.probes:
        response = probe.response
        if response.timed_out:
            problems.append(f"{probe.label}: timed out")
            continue
        single, value = _document(response.stdout)
        if response.exit_code == 0:
            if single and isinstance(value, dict) and _error_object_problem(value) is None:
                problems.append(f"{probe.label}: printed an error object but exited 0")
        elif response.exit_code == 1:
            if single and value is not None and _error_object_problem(value) is not None:
                problems.append(
                    f"{probe.label}: exited 1 but stdout is not an error object: {_error_object_problem(value)}"
                )
            elif single and value is None:
                problems.append(f"{probe.label}: exited 1 without an error object on stdout")
        else:
            problems.append(f"{probe.label}: exit code {response.exit_code}, expected 0 or 1 ({_show(response)})")
    return problems


#: Every check, in the order they run.
CHECKS: Final[tuple[Check, ...]] = (
    Check(
        "version-shape",
        "SPEC §2 VERSION / §5 Version success: exit 0 and one JSON object on stdout with cniVersion and a non-empty "
        "supportedVersions list of spec versions",
        _check_version_shape,
    ),
    Check(
        "missing-env-add",
        "SPEC §2 Parameters, §5 code 4: ADD requires CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME; a missing one is "
        "error 4 naming the variable",
        _missing_env(Command.ADD),
    ),
    Check(
        "missing-env-check",
        "SPEC §2 Parameters, §5 code 4: CHECK requires CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME; a missing one is "
        "error 4 naming the variable",
        _missing_env(Command.CHECK),
    ),
    Check(
        "missing-env-del",
        "SPEC §2 Parameters, §5 code 4: DEL requires CNI_CONTAINERID and CNI_IFNAME (CNI_NETNS is optional); a "
        "missing one is error 4 naming the variable",
        _missing_env(Command.DEL),
    ),
    Check(
        "missing-command",
        "SPEC §2 Parameters: CNI_COMMAND is required; without it, error 4 (or, as Go's skel does, the about text on "
        "stderr, exit 0 and nothing on stdout)",
        _check_missing_command,
    ),
    Check(
        "invalid-env",
        "SPEC §2 Parameters, §5 code 4: CNI_CONTAINERID must match [a-zA-Z0-9][a-zA-Z0-9_.-]* and CNI_IFNAME must "
        "be a valid Linux interface name; otherwise error 4",
        _check_invalid_env,
    ),
    Check(
        "unknown-command",
        "SPEC §2 Parameters, §5 code 4: CNI_COMMAND is one of ADD, DEL, CHECK, GC, STATUS, VERSION (case-sensitive); "
        "anything else is error 4",
        _check_unknown_command,
    ),
    Check(
        "bad-json",
        "SPEC §5 code 6: a network configuration on stdin that is not one JSON document is a decoding failure",
        _check_bad_json,
    ),
    Check(
        "config-shape",
        "SPEC §1 plugin configuration, §5 codes 6/7: the configuration is an object with a name matching "
        "[a-zA-Z0-9][a-zA-Z0-9_.-]*; otherwise error 6 (not decodable) or 7 (invalid)",
        _check_config_shape,
    ),
    Check(
        "unsupported-version",
        "SPEC §2/§5 code 1: a cniVersion the plugin does not list in its VERSION answer is refused with error 1",
        _check_unsupported_version,
    ),
    Check(
        "missing-version",
        "SPEC §1: a configuration without cniVersion is version 0.1.0 (so CHECK refuses it with error 1, and ADD "
        "does when 0.1.0 is not supported)",
        _check_missing_version,
    ),
    Check(
        "check-gating",
        "SPEC §2 CHECK (added in 0.4.0): CHECK with an older cniVersion is error 1",
        _check_check_gating,
    ),
    Check(
        "gc-gating",
        "SPEC §2 GC (added in 1.1.0): GC with an older cniVersion is refused (error 1 from a plugin that supports "
        "1.1.0; any error from one built before GC existed)",
        _new_command_gating(Command.GC),
    ),
    Check(
        "status-gating",
        "SPEC §2 STATUS (added in 1.1.0): STATUS with an older cniVersion is refused (error 1 from a plugin that "
        "supports 1.1.0; any error from one built before STATUS existed)",
        _new_command_gating(Command.STATUS),
    ),
    Check(
        "status",
        "SPEC §2 STATUS (1.1.0): a plugin that lists 1.1.0 answers STATUS with exit 0 and no output when ready, or "
        "error 50 (not available) / 51 (limited connectivity)",
        _check_status,
    ),
    Check(
        "repeated-del",
        "SPEC §2 DEL: DEL of an attachment that does not exist (again) succeeds; runtimes call DEL more than once",
        _check_repeated_del,
    ),
    Check(
        "lifecycle",
        "SPEC §2 ADD/CHECK/DEL, §5 Success: ADD prints one result whose cniVersion is the configuration's, CHECK "
        "and DEL with that prevResult succeed, and a second DEL succeeds",
        _check_lifecycle,
    ),
    Check(
        "stdout-framing",
        "SPEC §2/§5 Output: stdout carries exactly one JSON document (result, error or version) or nothing; no "
        "other text, no second document (cni#571)",
        _check_stdout_framing,
        aggregate=True,
    ),
    Check(
        "exit-codes",
        "SPEC §2 Output: exit 0 on success; on failure a non-zero exit with the error object on stdout (Go plugins "
        "always exit 1, and the kit requires exactly 0 or 1)",
        _check_exit_codes,
        aggregate=True,
    ),
)

#: The names of :data:`CHECKS`, for ``parametrize``.
CHECK_NAMES: Final[tuple[str, ...]] = tuple(check.name for check in CHECKS)
_BY_NAME: Final = {check.name: check for check in CHECKS}


# --- running -----------------------------------------------------------------------------------------------------


@contextmanager
def _context(target: Target) -> Iterator[_Context]:
    """A fresh context; a real namespace is created only when the target needs one and none was given."""
    token = uuid.uuid4().hex[:8]
    absent = os.path.join(tempfile.gettempdir(), f"rscni-conformance-{token}-no-such-netns")
    container_id = f"conformance-{token}"
    if target.needs_netns and target.netns is None:
        if not can_create_netns():
            yield _Context(target, absent, None, "run as root (ip netns add) or give the target netns=", container_id)
            return
        try:
            with temporary_netns("rscni-conformance") as path:
                yield _Context(target, absent, path, "", container_id)
        except NetnsUnavailable as exc:
            yield _Context(target, absent, None, str(exc), container_id)
        return
    yield _Context(target, absent, None, "", container_id)


def _declared_versions(ctx: _Context) -> tuple[str, ...] | None:
    """The plugin's supportedVersions, asked quietly (this probe is not judged by the aggregate checks)."""
    response = ctx.target.execute(ctx.env(Command.VERSION), b'{"cniVersion": "1.1.0"}')
    single, value = _document(response.stdout)
    if response.exit_code != 0 or not single or not isinstance(value, dict):
        return None
    supported = value.get("supportedVersions")
    if not isinstance(supported, list) or not all(isinstance(v, str) for v in supported):
        return None
    return tuple(supported)


def _run_one(check: Check, ctx: _Context) -> CheckOutcome:
    ctx.notes = []
    try:
        problems = check.run(ctx)
    except _Skip as skip:
        return CheckOutcome(check.name, check.rule, False, str(skip), skipped=True)
    notes = f" (tolerated: {'; '.join(ctx.notes)})" if ctx.notes else ""
    if problems:
        return CheckOutcome(check.name, check.rule, False, "; ".join(problems) + notes)
    return CheckOutcome(check.name, check.rule, True, "ok" + notes)


def run_checks(target: Target, names: Sequence[str] | None = None) -> list[CheckOutcome]:
    """Run the checks named (default: all of :data:`CHECKS`) against ``target``; one outcome per check.

    Aggregate checks (stdout-framing, exit-codes) judge the probes of the other checks, so asking for one of them
    runs all the others too (their outcomes are returned only when asked for).

    :raises KeyError: an unknown check name.
    """
    wanted = list(CHECK_NAMES if names is None else names)
    for name in wanted:
        if name not in _BY_NAME:
            raise KeyError(f"unknown conformance check {name!r}; known: {', '.join(CHECK_NAMES)}")
    needs_all = any(_BY_NAME[name].aggregate for name in wanted)
    to_run = [c for c in CHECKS if c.name in wanted or (needs_all and not c.aggregate)]
    outcomes: dict[str, CheckOutcome] = {}
    with _context(target) as ctx:
        ctx.declared = _declared_versions(ctx)
        for check in to_run:
            outcomes[check.name] = _run_one(check, ctx)
    return [outcomes[name] for name in wanted]


def run_check(target: Target, name: str) -> CheckOutcome:
    """The outcome of one check on ``target``, from a full run made once per target object and then cached."""
    cached = _CACHE.get(target)
    if cached is None:
        cached = {outcome.name: outcome for outcome in run_checks(target)}
        _CACHE[target] = cached
    if name not in cached:
        raise KeyError(f"unknown conformance check {name!r}; known: {', '.join(CHECK_NAMES)}")
    return cached[name]


_CACHE: weakref.WeakKeyDictionary[Target, dict[str, CheckOutcome]] = weakref.WeakKeyDictionary()


def failures(outcomes: Sequence[CheckOutcome]) -> list[str]:
    """The names of the checks that failed (not skipped)."""
    return [o.name for o in outcomes if not o.passed and not o.skipped]


def format_report(target: Target, outcomes: Sequence[CheckOutcome]) -> str:
    """A plain-text report: one line per check."""
    lines = [f"conformance of {target.name}:"]
    lines += [f"  {outcome}" for outcome in outcomes]
    return "\n".join(lines)


# --- pytest --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One check on one target, as a pytest parameter; :meth:`verify` passes, fails or skips the test."""

    target: Target
    check: str

    def verify(self) -> None:
        import pytest

        outcome = run_check(self.target, self.check)
        if outcome.skipped:
            pytest.skip(outcome.detail)
        if not outcome.passed:
            pytest.fail(f"{outcome.name} ({outcome.rule}): {outcome.detail}", pytrace=False)


def pytest_cases(*targets: Target) -> list[ParameterSet]:
    """Parameters for ``pytest.mark.parametrize``: one :class:`Case` per check and target, with readable ids::

    @pytest.mark.parametrize("case", conformance.pytest_cases(conformance.ExecutableTarget("./my-plugin")))
    def test_conformance(case):
        case.verify()
    """
    import pytest

    return [pytest.param(Case(t, name), id=f"{t.name}:{name}") for t in targets for name in CHECK_NAMES]


# ConformanceSuite needs pytest at class creation; it is loaded only when asked for.
_LAZY: Final = LazyNames(__name__, {"ConformanceSuite": "rscni_py.testing.suite"})

if not TYPE_CHECKING:
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rscni_py.testing.conformance PLUGIN [--netns] [--config JSON]``: check an executable."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rscni_py.testing.conformance", description=main.__doc__)
    parser.add_argument("plugin", help="path of the plugin executable")
    parser.add_argument("--config", default="{}", help="minimal valid configuration (JSON object, no cniVersion)")
    parser.add_argument("--needs-netns", action="store_true", help="ADD needs a real network namespace")
    parser.add_argument("--cni-path", default=DEFAULT_EXEC_CNI_PATH, help="CNI_PATH for delegates")
    parser.add_argument("--version", action="append", dest="versions", help="a version to try (repeatable)")
    options = parser.parse_args(argv)
    target = ExecutableTarget(
        options.plugin,
        config=json.loads(options.config),
        needs_netns=options.needs_netns,
        cni_path=options.cni_path,
        versions=options.versions,
    )
    outcomes = run_checks(target)
    print(format_report(target, outcomes))
    return 1 if failures(outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
