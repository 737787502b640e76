"""The CNI execution protocol (SPEC.md §2-§5): from environment and stdin to one JSON document and an exit code.

``dispatch`` takes every input as an argument and touches no global state, so tests and the in-process runner call
it directly; ``CNIPlugin.run()`` is the thin wrapper that hands it the real process environment and streams.

Order of the checks (the Go library's, with docs/decisions.md D-4 moving the own-netns guard before the plugin runs):
environment (VERSION answers here) -> stdin -> JSON and network name -> known command -> version gate ->
own-netns guard -> typed configuration, prevResult, CNI_ARGS -> the plugin's method -> output.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TextIO, cast, get_args

from rscni_py._base import strict_json
from rscni_py._base.quoting import q, q_list
from rscni_py._base.versions import ALL_VERSIONS, VersionError, at_least, config_version
from rscni_py.errors import (
    CNIError,
    DecodingFailureError,
    IncompatibleCNIVersionError,
    InternalError,
    InvalidEnvironmentVariablesError,
    InvalidNetNSError,
    InvalidNetworkConfigError,
    IOFailureError,
    TryAgainLaterError,
)
from rscni_py.plugin import CmdArgs, PluginInfo, unimplemented
from rscni_py.protocol import env as envvars
from rscni_py.protocol import logsetup
from rscni_py.protocol.commands import Command, CommandSpec, spec_of
from rscni_py.protocol.netns import OWN_NETNS_PATH, is_override, is_own_netns
from rscni_py.protocol.signals import DEADLINE_CONFIG_KEY, Interrupted

if TYPE_CHECKING:
    from rscni_py.plugin import CNIPlugin
    from rscni_py.protocol.signals import ProcessSignals

__all__ = ["MAX_CONFIG_BYTES", "MAX_JSON_DEPTH", "call_env", "dispatch"]

#: The largest network configuration read from stdin (16 MiB); a larger one is refused with code 5.
MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024
#: The deepest nesting of arrays and objects accepted in the configuration (the top-level object is level 1);
#: deeper is code 6. Real configurations nest fewer than ten levels. A fixed bound, well below the interpreter's
#: recursion limit, leaves room for the recursive walkers that run afterwards (the codec, ``copy.deepcopy``, the
#: indenting JSON encoder, the plugin's own code) and does not depend on how deep the caller's stack already is.
MAX_JSON_DEPTH: Final = 128
_READ_CHUNK: Final = 1024 * 1024

# The environment of the command being served in this context: what delegation starts from by default.
_CALL_ENV: Final[ContextVar[Mapping[str, str] | None]] = ContextVar("rscni_py_call_env", default=None)


def call_env() -> Mapping[str, str] | None:
    """The environment of the command this context is serving (the plugin's ``args.env``), None outside one.

    ``rscni_py.invoke`` starts a delegate's environment from it, so a plugin run in process (by the test runner,
    which never touches ``os.environ``) reaches the delegates of the ``CNI_PATH`` it was given.
    """
    return _CALL_ENV.get()


class _Request:
    """What is known about the request so far.

    The error JSON takes its cniVersion from here (docs/decisions.md, D-1).
    """

    def __init__(self, plugin_cls: type[CNIPlugin[Any, Any]]) -> None:
        self.supported = plugin_cls.supported_versions
        self.cni_version = max(self.supported, key=ALL_VERSIONS.index)
        self.command = ""

    def read_version(self, version: str) -> None:
        """The configuration's version becomes the error JSON's only when the plugin speaks it: an unknown or
        unsupported one ("2.0.0") is not echoed back as if it were (docs/protocol.md, section 7)."""
        if version in self.supported:
            self.cni_version = version


def dispatch(
    plugin_cls: type[CNIPlugin[Any, Any]],
    env: Mapping[str, str],
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    *,
    logs: logsetup.LogControl | None = None,
    signals: ProcessSignals | None = None,
    own_netns: str = OWN_NETNS_PATH,
    on_exception: Callable[[Exception], None] | None = None,
) -> int:
    """Serve one CNI command for ``plugin_cls`` and return the exit code (0 success, 1 error).

    Writes at most one JSON document to ``stdout``: the ADD result, the VERSION answer, or the error.
    Unexpected exceptions become code 999 with their traceback on ``stderr``; ``on_exception`` is then called with
    the exception itself (the in-process runner keeps it for the test).  With ``signals`` (given by ``run()``), a
    deadline from the class or the configuration is armed, and a stop by signal or deadline is code 11.
    """
    request = _Request(plugin_cls)
    owner = os.getpid()
    try:
        output = _serve(plugin_cls, env, stdin, stderr, logs, signals, own_netns, request)
    except Interrupted as stop:
        logsetup.log(logsetup.WARNING, "%s stopped: %s", request.command or "command", stop.reason)
        output = json.dumps(TryAgainLaterError(stop.reason).to_dict(request.cni_version), indent=4)
        code = 1
    except CNIError as err:
        logsetup.log(logsetup.INFO, "%s failed with code %d: %s", request.command or "command", err.code, err)
        output = json.dumps(err.to_dict(request.cni_version), indent=4)
        code = 1
    except Exception as exc:
        _print_traceback(exc, stderr)
        if on_exception is not None:
            on_exception(exc)
        internal = InternalError(_describe_exception(exc))
        output = json.dumps(internal.to_dict(request.cni_version), indent=4)
        code = 1
    else:
        code = 0
    if signals is not None:
        signals.disarm()
    if os.getpid() != owner:
        # A child the plugin forked without exec unwound through here; only the process the runtime started answers.
        return code
    if output:
        # One write of a complete document: nothing half-written reaches the runtime.
        try:
            stdout.write(output)
            stdout.flush()
        except (OSError, ValueError) as exc:  # the runtime closed our stdout: nobody is left to tell
            try:
                stderr.write(f"rscni-py: cannot write the {request.command or 'command'} output to stdout: {exc}\n")
            except (OSError, ValueError):
                pass  # nor is stderr usable: the exit code is the last word
            return 1
    return code


def _describe_exception(exc: BaseException) -> str:
    """``str(exc)``, or the class name when that is empty or ``__str__`` itself fails."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return text or type(exc).__name__


def _print_traceback(exc: BaseException, stderr: TextIO) -> None:
    # stderr is the log; when the runtime has closed it, the error JSON on stdout is all that is left to give.
    import traceback  # only here: most runs never need it

    try:
        traceback.print_exception(exc, file=stderr)
    except (OSError, ValueError):
        pass


def _serve(
    plugin_cls: type[CNIPlugin[Any, Any]],
    env: Mapping[str, str],
    stdin: BinaryIO,
    stderr: TextIO,
    logs: logsetup.LogControl | None,
    signals: ProcessSignals | None,
    own_netns: str,
    request: _Request,
) -> str:
    """Run the protocol; return the text for stdout ("" for none) or raise a ``CNIError``."""
    command = env.get("CNI_COMMAND", "")
    request.command = command
    try:
        values = envvars.read_env(env, command)
    except InvalidEnvironmentVariablesError:
        if command == "" and plugin_cls.about:
            # Run by hand with no command: say what this is, as Go's skel does.
            versions = ", ".join(plugin_cls.supported_versions)
            stderr.write(f"{plugin_cls.about}\nCNI protocol versions supported: {versions}\n")
            stderr.flush()
            return ""
        raise
    logsetup.set_context(command, values["CNI_CONTAINERID"])
    if command == Command.VERSION:
        # stdin is never read for VERSION (docs/decisions.md, D-2): a person or runtime may leave it open.
        return json.dumps(_version_info(plugin_cls).to_dict(), separators=(",", ":")) + "\n"

    data = _read_stdin(stdin)
    raw = _load_config(data)
    version = config_version(raw)
    request.read_version(version)
    spec = spec_of(command)
    if spec is None:
        raise InvalidEnvironmentVariablesError(f"unknown CNI_COMMAND: {command}")
    plugin = _instance(plugin_cls, command)
    _check_version(spec, version, plugin_cls.supported_versions)
    if logs is not None:
        _configure_logging(logs, env, raw)
    deadline = _deadline(raw, plugin_cls.deadline)
    if signals is not None and deadline is not None:
        signals.arm_deadline(deadline)

    netns = values["CNI_NETNS"]
    override = is_override(values["CNI_NETNS_OVERRIDE"])
    if spec.netns_guard and netns and not override and is_own_netns(netns, own_netns):
        raise InvalidNetNSError("plugin's netns and netns from CNI_NETNS should not be the same", q(netns))

    # The plugin's codec engine builds its models, and its result's JSON, for the rest of the command.
    from rscni_py.types import codec

    previous = codec.use_engine(plugin_cls.codec)
    served = _CALL_ENV.set(env)
    try:
        args = _build_args(plugin_cls, command, env, values, data, raw, override)
        args.config.validate()
        logsetup.log(logsetup.DEBUG, "calling %s.%s", plugin_cls.__name__, spec.method)
        outcome = getattr(plugin, spec.method)(args)
        if spec.prints != "result":
            return ""
        return _render_result(outcome, version)
    finally:
        _CALL_ENV.reset(served)
        codec.use_engine(previous)


def _instance(plugin_cls: type[CNIPlugin[Any, Any]], command: str) -> CNIPlugin[Any, Any]:
    """The plugin object that serves ``command``; a class left abstract (a command method missing or misspelled)
    is refused with code 999 naming what is missing, instead of Python's "Can't instantiate abstract class"."""
    if plugin_cls.__abstractmethods__:
        raise InternalError(f"{plugin_cls.__name__} cannot serve {command}: {unimplemented(plugin_cls)}")
    return plugin_cls()


def _version_info(plugin_cls: type[CNIPlugin[Any, Any]]) -> PluginInfo:
    """The VERSION answer. It needs none of the command methods, so a class left abstract still gives it: its
    ``version()`` is called with the class itself as ``self`` (the base implementation reads class attributes)."""
    if plugin_cls.__abstractmethods__:
        return plugin_cls.version(cast("CNIPlugin[Any, Any]", plugin_cls))
    return plugin_cls().version()


def _read_stdin(stdin: BinaryIO) -> bytes:
    """Read stdin to its end, but never more than ``MAX_CONFIG_BYTES + 1`` bytes (code 5 beyond the limit).

    Loops because a raw (unbuffered) stream may return less than asked for before its end; asks for at most
    ``_READ_CHUNK`` at a time because such a stream allocates a buffer of the size asked for on every call.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_CONFIG_BYTES:
            chunk = stdin.read(min(_READ_CHUNK, MAX_CONFIG_BYTES + 1 - size))
            if chunk is None:  # a non-blocking stream with nothing ready
                raise IOFailureError("error reading from stdin: no data available")
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, ValueError) as exc:
        raise IOFailureError(f"error reading from stdin: {exc}") from exc
    if size > MAX_CONFIG_BYTES:
        raise IOFailureError(
            f"error reading from stdin: the network config is larger than {MAX_CONFIG_BYTES} bytes",
        )
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _load_config(data: bytes) -> dict[str, Any]:
    """Decode stdin as JSON (code 6) and validate the network name (code 7), as Go's skel does first."""
    if not data.strip():
        raise DecodingFailureError("error decoding network config: stdin is empty")
    too_deep = DecodingFailureError(f"error decoding network config: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        raw = strict_json.loads(data)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DecodingFailureError(f"error decoding network config: {exc}") from None
    # Nesting needs an opening bracket per level, so a document with few brackets needs no check.
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _too_deep(data, raw):
        raise too_deep
    if raw is None:
        raw = {}  # Go decodes null into an empty object, so the name check below reports it
    if not isinstance(raw, dict):
        raise DecodingFailureError(
            f"error decoding network config: expected a JSON object, got {strict_json.json_type(raw)}"
        )
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise DecodingFailureError(
            f"error decoding network config: name: expected a string, got {strict_json.json_type(name)}"
        )
    if not name:
        raise InvalidNetworkConfigError("missing network name")
    envvars.validate_network_name(name)
    return raw


def _too_deep(data: bytes, document: object) -> bool:
    """Whether the JSON text ``data`` (already parsed into ``document``) nests more than ``MAX_JSON_DEPTH`` levels."""
    if b"\x00" in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 or UTF-32, which json.loads also reads: brackets are not single bytes there, walk the objects.
        return _depth_exceeds(document, MAX_JSON_DEPTH)
    return _text_depth_exceeds(data, MAX_JSON_DEPTH)


# A JSON string token; in valid UTF-8 JSON no byte of a multi-byte character is a quote or a backslash.
# Compiled on first use (re caches it) rather than at import: VERSION never checks a document's depth.
_JSON_STRING: Final = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_NOT_BRACKETS: Final = bytes(byte for byte in range(256) if byte not in b"[]{}")
_ONE_BRACKET_KIND: Final = bytes.maketrans(b"{}", b"[]")
# +1 for an opening bracket, -1 for a closing one, indexed by byte value.
_STEP: Final = tuple(1 if byte == ord("[") else -1 if byte == ord("]") else 0 for byte in range(256))


def _text_depth_exceeds(data: bytes, limit: int) -> bool:
    """Depth check on the text of a valid UTF-8 JSON document, without building anything per array or object.

    With the strings removed and objects written like arrays, only balanced brackets are left. Deleting every
    empty pair ``[]`` removes the innermost level everywhere at once; that is repeated while it keeps halving the
    text (wide documents vanish in a few passes). The depth of what is left is the highest running sum of +1 per
    opening and -1 per closing bracket. Every step runs in C.
    """
    brackets = re.sub(_JSON_STRING, b"", data, flags=re.DOTALL).translate(_ONE_BRACKET_KIND, _NOT_BRACKETS)
    removed = 0
    while brackets and removed < limit:
        inner = brackets.replace(b"[]", b"")
        removed += 1
        halved = 2 * len(inner) <= len(brackets)
        brackets = inner
        if not halved:
            break
    if not brackets:
        return False
    if removed >= limit:
        return True
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets))) > limit - removed


def _depth_exceeds(document: object, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in the parsed ``document``.

    Breadth first, one level at a time: no recursion, so any depth is safe; visits every array and object once.
    """
    level: list[Any] = [document] if isinstance(document, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        keep = below.append
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if isinstance(child, (dict, list)):
                    keep(child)
        level = below
    return False


def _check_version(spec: CommandSpec, version: str, supported: tuple[str, ...]) -> None:
    """Version gate: the command's minimum, then an exact match against the plugin's list."""
    minimum, command = spec.min_version, spec.command.value
    if minimum is not None:
        try:
            if not at_least(version, minimum):
                raise IncompatibleCNIVersionError(f"config version does not allow {command}", q(version))
            if not any(at_least(mine, version) for mine in supported):
                raise IncompatibleCNIVersionError(f"plugin version does not allow {command}", q(version))
        except VersionError as exc:
            raise DecodingFailureError(str(exc)) from None
    if version not in supported:
        raise IncompatibleCNIVersionError(
            "incompatible CNI versions", f"config is {q(version)}, plugin supports {q_list(supported)}"
        )


def _configure_logging(logs: logsetup.LogControl, env: Mapping[str, str], raw: Mapping[str, Any]) -> None:
    """Apply the log settings: environment first, then the configuration's keys."""
    level_text, file = env.get(logsetup.ENV_LOG_LEVEL, ""), env.get(logsetup.ENV_LOG_FILE, "")
    level_error: Callable[[str, str], CNIError] = InvalidEnvironmentVariablesError
    level_source = logsetup.ENV_LOG_LEVEL
    if not level_text:
        level_text, level_source, level_error = (
            _config_text(raw, logsetup.CONFIG_LOG_LEVEL),
            logsetup.CONFIG_LOG_LEVEL,
            InvalidNetworkConfigError,
        )
    if not file:
        file = _config_text(raw, logsetup.CONFIG_LOG_FILE)
    level = logsetup.parse_level(level_text, level_source, level_error) if level_text else logsetup.WARNING
    logs.configure(level, file or None)


def _deadline(raw: Mapping[str, Any], default: float | None) -> float | None:
    """The command's deadline in seconds: the configuration's ``deadline`` key, else the class attribute."""
    value = raw.get(DEADLINE_CONFIG_KEY, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 86400:
        raise InvalidNetworkConfigError(
            f"{DEADLINE_CONFIG_KEY}: expected a number of seconds between 0 and 86400, got {json.dumps(value)}"
        )
    return float(value)


def _config_text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidNetworkConfigError(f"{key}: expected a string, got {strict_json.json_type(value)}")
    return value


def _build_args(
    plugin_cls: type[CNIPlugin[Any, Any]],
    command: str,
    env: Mapping[str, str],
    values: Mapping[str, str],
    data: bytes,
    raw: dict[str, Any],
    override: bool,
) -> CmdArgs[Any, Any]:
    """Decode configuration, prevResult and CNI_ARGS into the plugin's types (codes 7, 7 and 4)."""
    from rscni_py.types import ConversionError, parse_prev_result
    from rscni_py.types.args import CNIArgsError, parse_cni_args
    from rscni_py.types.codec import FieldError, decode

    try:
        # "cniVersion": null means unset, as in Go (and as the version gate above read it).
        typed = {k: v for k, v in raw.items() if k != "cniVersion"} if raw.get("cniVersion", "") is None else raw
        config = decode(plugin_cls.config_class, typed)
        prev_result = parse_prev_result(raw)
    except (FieldError, ConversionError) as exc:
        raise InvalidNetworkConfigError(f"invalid network config: {exc}") from None
    try:
        cni_args = parse_cni_args(plugin_cls.args_class, values["CNI_ARGS"])
    except CNIArgsError as exc:
        # The parser's messages read "ARGS: ..." as Go's do; name the variable itself.
        raise InvalidEnvironmentVariablesError(f"CNI_{exc}", q(values["CNI_ARGS"])) from None
    return CmdArgs(
        command=command,
        container_id=values["CNI_CONTAINERID"],
        netns=values["CNI_NETNS"],
        ifname=values["CNI_IFNAME"],
        args=values["CNI_ARGS"],
        path=envvars.split_path(values["CNI_PATH"]),
        stdin_data=data,
        config=config,
        cni_args=cni_args,
        prev_result=prev_result,
        netns_override=override,
        raw_config=raw,
        env=env,
    )


def _render_result(outcome: object, version: str) -> str:
    """The ADD result converted to the configuration's version, as the text for stdout (docs/decisions.md, D-8)."""
    from rscni_py.types import ConversionError, Result

    if not isinstance(outcome, Result):
        # Only now the union of every shape: importing it loads the older ones, which most plugins never use.
        from rscni_py.types import AnyResult

        if not isinstance(outcome, get_args(AnyResult)):
            raise InternalError(f"add() returned {type(outcome).__name__}, expected a result (rscni_py.types.Result)")
    try:
        converted = outcome.convert(version)
    except ConversionError as exc:
        # Go reports this as an internal error too (e.g. a result without addresses asked for at 0.2.0).
        raise InternalError(str(exc)) from None
    return json.dumps(converted.to_dict(), indent=4)
