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
import operator
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
        # After a successful ADD: how to undo it if its result cannot be delivered.
        self.undo: Callable[[], None] | None = None

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
        output = _error_json(TryAgainLaterError(stop.reason), stop, request)
        code = 1
    except CNIError as err:
        logsetup.log(logsetup.INFO, "%s failed with code %d: %s", request.command or "command", err.code, err)
        output = _error_json(err, err, request)
        code = 1
    except Exception as exc:
        _print_traceback(exc, stderr)
        if on_exception is not None:
            on_exception(exc)
        output = _error_json(InternalError(_describe_exception(exc)), exc, request)
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
            _tell(stderr, f"rscni-py: cannot write the {request.command or 'command'} output to stdout: {exc}")
            if code == 0 and request.undo is not None:
                # The runtime sees a failed ADD: what it created must not stay (CNIPlugin.undo_add).
                _undo(request.undo, stderr)
            return 1
    return code


def _tell(stderr: TextIO, line: str) -> None:
    try:
        stderr.write(line + "\n")
    except (OSError, ValueError):
        pass  # nor is stderr usable: the exit code is the last word


def _undo(undo: Callable[[], None], stderr: TextIO) -> None:
    try:
        undo()
    except BaseException as exc:  # reported; the exit code already says failure
        _tell(stderr, f"rscni-py: undoing the undelivered ADD failed: {_describe_exception(exc)}")
    else:
        _tell(stderr, "rscni-py: the undelivered ADD was undone")


def _error_json(err: CNIError, cause: BaseException, request: _Request) -> str:
    """The error object for stdout; notes added to ``cause`` while it unwound (e.g. a rollback that could not
    release everything, docs/delegation.md) are appended to ``details``, so the runtime learns what was left."""
    document = err.to_dict(request.cni_version)
    notes = getattr(cause, "__notes__", None)
    if isinstance(notes, list) and notes:
        document["details"] = "; ".join(filter(None, [document.get("details", ""), *map(str, notes)]))
    return json.dumps(document, indent=4)


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

    with _Serving(plugin_cls, env):
        args = _build_args(plugin_cls, command, env, values, data, raw, override)
        args.config.validate()
        logsetup.log(logsetup.DEBUG, "calling %s.%s", plugin_cls.__name__, spec.method)
        outcome = getattr(plugin, spec.method)(args)
        if spec.prints != "result":
            return ""
        result = _render_result(outcome, version)

    def undo() -> None:
        with _Serving(plugin_cls, env):
            plugin.undo_add(args)

    request.undo = undo
    return result


class _Serving:
    """The context a plugin's method runs in: the plugin's codec engine builds its models and its result's JSON,
    and delegation starts from the command's environment (``call_env``).  A plain class: contextlib would cost
    every start an import."""

    def __init__(self, plugin_cls: type[CNIPlugin[Any, Any]], env: Mapping[str, str]) -> None:
        self._engine = plugin_cls.codec
        self._env = env

    def __enter__(self) -> None:
        from rscni_py.types import codec

        self._previous = codec.use_engine(self._engine)
        self._served = _CALL_ENV.set(self._env)

    def __exit__(self, *exc_info: object) -> None:
        from rscni_py.types import codec

        _CALL_ENV.reset(self._served)
        codec.use_engine(self._previous)


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
    """Decode stdin as JSON (code 6) and validate the network name (code 7), as Go's skel does first.

    stdin must be UTF-8 without a byte order mark, as Go's decoder reads it: UTF-16, UTF-32 and a BOM are refused
    (json.loads would accept them all), so is invalid UTF-8, which Go would replace (docs/protocol.md, section 3).
    """
    if not data.strip():
        raise DecodingFailureError("error decoding network config: stdin is empty")
    text = _utf8_text(data)
    too_deep = DecodingFailureError(f"error decoding network config: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    # Nesting needs an opening bracket per level, so a document with few brackets needs no check. The check reads
    # the text before the parser builds anything: refusing costs no lists or dicts.
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _text_depth_exceeds(data, MAX_JSON_DEPTH):
        raise too_deep
    try:
        raw = strict_json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise DecodingFailureError(f"error decoding network config: {exc}") from None
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


_BYTE_ORDER_MARKS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _utf8_text(data: bytes) -> str:
    """stdin as text: UTF-8, with no byte order mark and no NUL (which JSON cannot hold raw), else code 6."""
    not_utf8 = "error decoding network config: stdin is not UTF-8 text without a byte order mark"
    if data.startswith(_BYTE_ORDER_MARKS):
        raise DecodingFailureError(not_utf8, "it starts with a byte order mark")
    nul = data.find(b"\x00")
    if nul >= 0:  # UTF-16 or UTF-32 without a mark
        raise DecodingFailureError(not_utf8, f"it holds a NUL byte at offset {nul}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodingFailureError(not_utf8, str(exc)) from None


_BRACKET_RUN: Final = rb"\[+|\]+"
_NOT_BRACKETS_OR_QUOTES: Final = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_ONE_BRACKET_KIND: Final = bytes.maketrans(b"{}", b"[]")
# Peeling levels stops once fewer than one byte in this many is part of an innermost pair "[]".
_SPARSE_PAIRS: Final = 16


def _text_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects more than ``limit`` levels, in linear time.

    With the strings removed and objects written like arrays, only brackets are left. Deleting every innermost
    pair ``[]`` removes one level everywhere at once; that is repeated while such pairs make up at least one byte in
    ``_SPARSE_PAIRS``, so each pass shrinks the text by a fixed fraction and all passes together cost a few times
    its length. What is left then has few runs of equal brackets, and its depth is the highest running sum of the
    runs' lengths (+ for opening, - for closing runs). Every step runs in C; nothing is built per array or object.
    On a text that is not JSON the answer means nothing, and the parser reports the real error.
    """
    brackets = _brackets_outside_strings(data)
    peeled = 0
    while brackets and brackets.count(b"[]") * _SPARSE_PAIRS >= len(brackets):
        if peeled >= limit:
            return True
        brackets = brackets.replace(b"[]", b"")
        peeled += 1
    runs = list(map(len, re.findall(_BRACKET_RUN, brackets)))
    # Runs alternate; a balanced text starts with an opening one.
    first_closing = 1 if brackets.startswith(b"[") else 0
    runs[first_closing::2] = map(operator.neg, runs[first_closing::2])
    return max(itertools.accumulate(runs), default=0) > limit - peeled


def _brackets_outside_strings(data: bytes) -> bytes:
    """The brackets of a UTF-8 JSON text that are not inside strings, with ``{}`` written as ``[]``.

    A backslash escapes the byte after it, so deleting escaped backslashes and then escaped quotes leaves only
    the quotes that delimit strings (in UTF-8 no byte of a multi-byte character is a quote or a backslash). Of the
    brackets and quotes, two quotes side by side are an empty string or two strings with no bracket between them:
    deleting them changes nothing outside strings, and leaves only strings that hold brackets to split off.
    """
    text = (
        data.replace(b"\\\\", b"")
        .replace(b'\\"', b"")
        .translate(_ONE_BRACKET_KIND, _NOT_BRACKETS_OR_QUOTES)
        .replace(b'""', b"")
    )
    return b"".join(text.split(b'"')[::2]) if b'"' in text else text


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
    file_source = logsetup.ENV_LOG_FILE
    file_error: Callable[[str, str], CNIError] = InvalidEnvironmentVariablesError
    if not file:
        file = _config_text(raw, logsetup.CONFIG_LOG_FILE)
        file_source, file_error = logsetup.CONFIG_LOG_FILE, InvalidNetworkConfigError
    level = logsetup.parse_level(level_text, level_source, level_error) if level_text else logsetup.WARNING
    if file:
        # Imported here: only a configured log file needs it.
        from rscni_py.paths import PathTextError, check_path_text

        try:
            check_path_text(file)
        except PathTextError as exc:
            raise file_error(f"{file_source}: the path {exc.reason}", q(file)) from None
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
    """The ADD result, validated, converted to the configuration's version, as the text for stdout (docs/decisions.md,
    D-8).

    Validation comes first and is the same for every version: a bad field is code 999 naming its path, whatever
    version the result would have been printed at.
    """
    from rscni_py.types import ConversionError, FieldError, Result, validate_result

    if not isinstance(outcome, Result):
        # Only now the union of every shape: importing it loads the older ones, which most plugins never use.
        from rscni_py.types import AnyResult

        if not isinstance(outcome, get_args(AnyResult)):
            raise InternalError(f"add() returned {type(outcome).__name__}, expected a result (rscni_py.types.Result)")
    try:
        outcome = validate_result(outcome)
    except FieldError as exc:
        raise InternalError(f"add() returned an invalid result: {exc}") from None
    try:
        converted = outcome.convert(version)
    except ConversionError as exc:
        # Go reports this as an internal error too (e.g. a result without addresses asked for at 0.2.0).
        raise InternalError(str(exc)) from None
    return json.dumps(converted.to_dict(), indent=4)
