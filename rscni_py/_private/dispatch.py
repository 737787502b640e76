"""The CNI execution protocol (SPEC.md §2-§5): from environment and stdin to one JSON document and an exit code.

``dispatch`` takes every input as an argument and touches no global state, so tests and the in-process runner call
it directly; ``CNIPlugin.run()`` is the thin wrapper that hands it the real process environment and streams.

Order of the checks (the Go library's, with decision D-4 moving the own-netns guard before the plugin runs):
environment (VERSION answers here) -> stdin -> JSON and network name -> known command -> version gate ->
own-netns guard -> typed configuration, prevResult, CNI_ARGS -> the plugin's method -> output.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Final, Mapping, TextIO, get_args

from rscni_py._private import env as envvars
from rscni_py._private import logsetup
from rscni_py._private.netns import OWN_NETNS_PATH, is_override, is_own_netns
from rscni_py._private.plugin import CmdArgs
from rscni_py._private.quoting import q, q_list
from rscni_py._private.signals import DEADLINE_CONFIG_KEY, Interrupted
from rscni_py._private.versions import ALL_VERSIONS, MIN_VERSION_FOR_COMMAND, VersionError, at_least
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

if TYPE_CHECKING:
    from rscni_py._private.plugin import CNIPlugin
    from rscni_py._private.signals import ProcessSignals

__all__ = ["MAX_CONFIG_BYTES", "dispatch"]

#: The largest network configuration read from stdin (16 MiB); a larger one is refused with code 5.
MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024

_log = logging.getLogger("rscni_py")

# Which plugin method serves which command: the one place where "DEL" becomes "delete".
_METHODS: Final = {"ADD": "add", "DEL": "delete", "CHECK": "check", "GC": "gc", "STATUS": "status"}
# Commands guarded against acting on the plugin's own namespace (Go guards the same two).
_NETNS_GUARDED: Final = frozenset({"ADD", "DEL"})


class _Request:
    """What is known about the request so far; the error JSON takes its cniVersion from here (decision D-1)."""

    def __init__(self, plugin_cls: type[CNIPlugin[Any, Any]]) -> None:
        self.cni_version = max(plugin_cls.supported_versions, key=ALL_VERSIONS.index)
        self.command = ""


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
) -> int:
    """Serve one CNI command for ``plugin_cls`` and return the exit code (0 success, 1 error).

    Writes at most one JSON document to ``stdout``: the ADD result, the VERSION answer, or the error.
    Unexpected exceptions become code 999 with their traceback on ``stderr``.  With ``signals`` (given by
    ``run()``), a deadline from the class or the configuration is armed, and a stop by signal or deadline is code 11.
    """
    request = _Request(plugin_cls)
    owner = os.getpid()
    try:
        output = _serve(plugin_cls, env, stdin, stderr, logs, signals, own_netns, request)
    except Interrupted as stop:
        _log.warning("%s stopped: %s", request.command or "command", stop.reason)
        output = json.dumps(TryAgainLaterError(stop.reason).to_dict(request.cni_version), indent=4)
        code = 1
    except CNIError as err:
        _log.info("%s failed with code %d: %s", request.command or "command", err.code, err)
        output = json.dumps(err.to_dict(request.cni_version), indent=4)
        code = 1
    except Exception as exc:  # noqa: BLE001 - every failure must become a CNI error (decision D-7)
        traceback.print_exception(exc, file=stderr)
        internal = InternalError(str(exc) or type(exc).__name__)
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
            stderr.write(f"rscni-py: cannot write the {request.command or 'command'} output to stdout: {exc}\n")
            return 1
    return code


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
    plugin = plugin_cls()
    if command == "VERSION":
        # stdin is never read for VERSION (decision D-2): a person or runtime may leave it open.
        return json.dumps(plugin.version().to_dict(), separators=(",", ":")) + "\n"

    data = _read_stdin(stdin)
    raw = _load_config(data)
    version = _config_version(raw)
    request.cni_version = version
    if command not in _METHODS:
        raise InvalidEnvironmentVariablesError(f"unknown CNI_COMMAND: {command}")
    _check_version(command, version, plugin_cls.supported_versions)
    if logs is not None:
        _configure_logging(logs, env, raw)
    deadline = _deadline(raw, plugin_cls.deadline)
    if signals is not None and deadline is not None:
        signals.arm_deadline(deadline)

    netns = values["CNI_NETNS"]
    override = is_override(values["CNI_NETNS_OVERRIDE"])
    if command in _NETNS_GUARDED and netns and not override and is_own_netns(netns, own_netns):
        raise InvalidNetNSError("plugin's netns and netns from CNI_NETNS should not be the same", q(netns))

    args = _build_args(plugin_cls, command, env, values, data, raw, override)
    _log.debug("calling %s.%s", plugin_cls.__name__, _METHODS[command])
    outcome = getattr(plugin, _METHODS[command])(args)
    if command != "ADD":
        return ""
    return _render_result(outcome, version)


def _read_stdin(stdin: BinaryIO) -> bytes:
    try:
        data = stdin.read(MAX_CONFIG_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise IOFailureError(f"error reading from stdin: {exc}") from exc
    if data is None:  # a non-blocking stream with nothing ready
        raise IOFailureError("error reading from stdin: no data available")
    if len(data) > MAX_CONFIG_BYTES:
        raise IOFailureError(
            f"error reading from stdin: the network config is larger than {MAX_CONFIG_BYTES} bytes",
        )
    return data


def _reject_constant(name: str) -> Any:
    # JSON has no NaN or Infinity; Python's parser would accept them, Go's does not.
    raise ValueError(f"invalid JSON value {name}")


def _load_config(data: bytes) -> dict[str, Any]:
    """Decode stdin as JSON (code 6) and validate the network name (code 7), as Go's skel does first."""
    if not data.strip():
        raise DecodingFailureError("error decoding network config: stdin is empty")
    try:
        raw = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise DecodingFailureError("error decoding network config: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DecodingFailureError(f"error decoding network config: {exc}") from None
    if raw is None:
        raw = {}  # Go decodes null into an empty object, so the name check below reports it
    if not isinstance(raw, dict):
        raise DecodingFailureError(
            f"error decoding network config: expected a JSON object, got {_json_kind(raw)}"
        )
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise DecodingFailureError(f"error decoding network config: name: expected a string, got {_json_kind(name)}")
    if not name:
        raise InvalidNetworkConfigError("missing network name")
    envvars.validate_network_name(name)
    return raw


def _config_version(raw: Mapping[str, Any]) -> str:
    """The configuration's cniVersion; missing, null or "" means 0.1.0 (Go's ``DecodeVersion``)."""
    version = raw.get("cniVersion")
    if version is None or version == "":
        return "0.1.0"
    if not isinstance(version, str):
        raise DecodingFailureError(
            f"decoding version from network config: cniVersion: expected a string, got {_json_kind(version)}"
        )
    return version


def _check_version(command: str, version: str, supported: tuple[str, ...]) -> None:
    """Version gate: the command's minimum, then an exact match against the plugin's list."""
    minimum = MIN_VERSION_FOR_COMMAND.get(command)
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
        level_text, level_source, level_error = _config_text(raw, logsetup.CONFIG_LOG_LEVEL), logsetup.CONFIG_LOG_LEVEL, InvalidNetworkConfigError
    if not file:
        file = _config_text(raw, logsetup.CONFIG_LOG_FILE)
    level = logsetup.parse_level(level_text, level_source, level_error) if level_text else logging.WARNING
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
        raise InvalidNetworkConfigError(f"{key}: expected a string, got {_json_kind(value)}")
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
    from rscni_py._private.codec import FieldError, decode
    from rscni_py.types import ConversionError, parse_prev_result
    from rscni_py.types.args import CNIArgsError, parse_cni_args

    try:
        config = decode(plugin_cls.config_class, raw)
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
    """The ADD result converted to the configuration's version, as the text for stdout (decision D-8)."""
    from rscni_py.types import AnyResult, ConversionError

    if not isinstance(outcome, get_args(AnyResult)):
        raise InternalError(f"add() returned {type(outcome).__name__}, expected a result (rscni_py.types.Result)")
    try:
        converted = outcome.convert(version)
    except ConversionError as exc:
        # Go reports this as an internal error too (e.g. a result without addresses asked for at 0.2.0).
        raise InternalError(str(exc)) from None
    return json.dumps(converted.to_dict(), indent=4)


def _json_kind(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
