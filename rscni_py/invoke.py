"""Delegation: running another CNI plugin from inside a plugin (SPEC.md §4 "Plugin Delegation"), Go's ``pkg/invoke``.

A plugin that leaves part of its work to another plugin (typically IP address management) looks that plugin up in
``CNI_PATH``, runs it with its own environment where only ``CNI_COMMAND`` changes, feeds it the complete network
configuration it received on stdin, and lets the delegate's stderr reach its own stderr.  The delegate's result
comes back typed; its failure comes back as a :class:`~rscni_py.CNIError` that keeps the delegate's code, so
raising it from ``add()`` hands the runtime the delegate's own error.

Plugin authors need one line per command::

    from rscni_py import invoke

    def add(self, args):
        with invoke.add_with_rollback(args.config.ipam.type, args.stdin_data) as ipam:
            ...  # configure the interface with ipam.ips; if this raises, the delegate's DEL runs
            return result

    def delete(self, args):
        invoke.delegate_delete(args.config.ipam.type, args.stdin_data)

The delegate's environment starts from the environment of the command being served (``args.env``; outside a
command, ``os.environ``), so a plugin run in process by a test runner, which never touches ``os.environ``, reaches
the same delegates with the CNI_* values it was given. ``env=`` starts from another.

:func:`add_with_rollback` is the spec's "if ADD fails, run the delegate with DEL before returning failure": when the
block raises anything (``KeyboardInterrupt`` and ``SystemExit`` included), the delegate's DEL runs once, a failure of
that DEL is logged (never raised over the original error), and the original exception propagates.  The same
happens when the delegate's own ADD fails after it was started, since it may have allocated something first.

Layers, from the bottom:

* :class:`Executor` (protocol) and :class:`DefaultExecutor`: find a plugin in a list of directories and run it
  (subprocess, never a shell, own process group, timeout, "text file busy" retries, Go's failure mapping).
  ``rscni_py.testing.FakeExecutor`` replaces it in tests.
* :func:`plugin_env`, :func:`exec_plugin_with_result`, :func:`exec_plugin_without_result`,
  :func:`get_version_info`: what a runtime needs to run one plugin with a given environment (Go's
  ``ExecPluginWithResult``, with its result-version fixup, and ``GetVersionInfo``).
* :func:`delegate_add`, :func:`delegate_check`, :func:`delegate_delete`, :func:`delegate_gc`,
  :func:`delegate_status` and :func:`add_with_rollback`: what a plugin needs (Go's ``DelegateAdd`` and friends).

How a failing delegate is reported (Go's ``RawExec.pluginErr``; code 0 is Go's "unclassified"):

* exits non-zero with an error object on stdout: that error, code, msg and details kept (IPAM's 7 stays 7);
* exits non-zero, stdout and stderr empty: ``{0, "netplugin failed with no error message: exit status 1"}``;
* exits non-zero, stdout empty, stderr not: ``{0, 'netplugin failed: "<stderr>": exit status 1'}``;
* exits non-zero, stdout not an error object: ``{0, 'netplugin failed but error parsing its diagnostic message
  "<stdout>": <reason>'}``;
* killed by a signal: as above, with ``signal: killed`` (``signal: segmentation fault``, ...) for the exit status;
* cannot be executed: ``{0, "netplugin failed with no error message: fork/exec <path>: permission denied"}``;
* runs longer than ``timeout``: ``DelegateTimeoutError`` (11) naming the plugin and the timeout, its process group
  killed;
* not in CNI_PATH: ``InternalError`` (999) with Go's ``FindInPath`` message (Go's skel gives a plain error 999);
* exits 0 with output that is not a result of its version: ``DecodingFailureError`` (6), or
  ``IncompatibleCNIVersionError`` (1) for a version nobody knows (Go returns plain errors here, i.e. 999; these
  codes say what went wrong).

Two JSON documents on stdout (a result followed by an error, say) are not one valid document, so they fall under
"not an error object" or "not a result".
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO, runtime_checkable

from rscni_py._base import strict_json
from rscni_py._base.quoting import q
from rscni_py._base.versions import CURRENT_VERSION, config_version
from rscni_py.errors import (
    CNIError,
    DecodingFailureError,
    IncompatibleCNIVersionError,
    InternalError,
    TryAgainLaterError,
)
from rscni_py.plugin import PluginInfo
from rscni_py.protocol.commands import COMMAND_SPECS, Command, spec_of
from rscni_py.protocol.dispatch import call_env
from rscni_py.protocol.env import split_path
from rscni_py.protocol.signals import StopsDeferred
from rscni_py.types import AnyResult, ConversionError, FieldError, Result, parse_result

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_TIMEOUT",
    "DefaultExecutor",
    "Delegate",
    "DelegateTimeoutError",
    "Executor",
    "ROLLBACK_TIMEOUT",
    "TRACE_CONTEXT_VARIABLES",
    "add_with_rollback",
    "delegate_add",
    "delegate_check",
    "delegate_delete",
    "delegate_gc",
    "delegate_status",
    "exec_plugin_with_result",
    "exec_plugin_without_result",
    "find_in_path",
    "get_version_info",
    "plugin_env",
    "plugin_error",
]

_log = logging.getLogger("rscni_py.invoke")

#: OpenTelemetry's environment carriers; they reach delegates unchanged because the whole environment does.
TRACE_CONTEXT_VARIABLES: Final = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")

# How much of a delegate's output an error's details quote at most.
_MAX_QUOTED: Final = 4096

#: Seconds a delegate may run unless the caller says otherwise (docs/delegation.md, "Timeouts"): far above what an
#: IPAM plugin needs, and below the runtime's own request timeouts, so a hung delegate ends as code 11.
DEFAULT_TIMEOUT: Final = 60.0
#: The most a rollback's DEL may take: it often runs after a deadline or a signal, when the runtime waits for an
#: answer; an allocation it could not release is named in the error (docs/delegation.md, "Rollback").
ROLLBACK_TIMEOUT: Final = 10.0


class DelegateTimeoutError(TryAgainLaterError):
    """The delegate ran longer than its timeout and its process group was killed (code 11, try again later).

    Unlike a delegate that answered with an error, a killed one may have done part of its work, so
    :func:`add_with_rollback` undoes it.
    """


@runtime_checkable
class Executor(Protocol):
    """The process layer of delegation (Go's ``invoke.Exec``): find a plugin binary and run it.

    :class:`DefaultExecutor` runs real processes; ``rscni_py.testing.FakeExecutor`` answers from memory.
    """

    def exec_plugin(self, path: str, stdin: bytes, env: Mapping[str, str], *, timeout: float | None = None) -> bytes:
        """Run the plugin at ``path`` with exactly ``env`` and ``stdin``; return its stdout when it exits 0.

        :raises CNIError: the plugin failed, could not be run, or ran out of time (see the module's table).
        """
        ...

    def find_in_path(self, name: str, paths: Sequence[str]) -> str:
        """The path of plugin ``name`` in the first of ``paths`` that has it as a regular file.

        :raises CNIError: code 999 with Go's ``FindInPath`` messages.
        """
        ...


def find_in_path(name: str, paths: Sequence[str], *, is_file: Callable[[str], bool] = os.path.isfile) -> str:
    """Look a plugin up the way Go's ``invoke.FindInPath`` does.

    The name must be non-empty and hold no path separator; each directory is tried in order and the first *regular
    file* of that name wins (the execute bit is not checked: running it reports that).  A directory given as ""
    means the current directory, as Go's ``filepath.Join`` makes it.  ``is_file`` tests a candidate path; an
    executor that runs plugins elsewhere (or a fake one) passes its own, and keeps Go's rules and messages.

    :raises InternalError: ``no plugin name provided``, ``invalid plugin name: <name>``, ``no paths provided``, or
        ``failed to find plugin "<name>" in path [<dir> <dir>]``.  Go returns these as plain errors, which its skel
        reports with code 999; so do we.
    """
    if name == "":
        raise InternalError("no plugin name provided")
    if os.sep in name or (os.altsep is not None and os.altsep in name):
        raise InternalError(f"invalid plugin name: {name}")
    if not paths:
        raise InternalError("no paths provided")
    for directory in paths:
        candidate = os.path.join(directory, name)
        try:
            if is_file(candidate):
                return candidate
        except (OSError, ValueError):  # e.g. a NUL byte in CNI_PATH: not found there
            continue
    # Directories printed as Go prints a slice.
    raise InternalError(f"failed to find plugin {q(name)} in path [{' '.join(paths)}]")


class DefaultExecutor:
    """Runs plugins as child processes, the way Go's ``RawExec`` does, plus a timeout.

    * No shell: the path is executed directly, with exactly the given environment and stdin.
    * The child gets its own session (process group), so a timeout (or an interrupt of the caller while it waits)
      kills the child *and* anything it started.
    * An exec that fails with "text file busy" (the binary is still open for writing, e.g. being installed) is
      retried ``busy_retries`` times with a growing short sleep (``busy_delay``, doubled each time).
    * On success the child's stderr is copied to ``stderr`` (default: ``sys.stderr`` at the time of the call), as
      the spec asks ("the delegated plugin's stderr must reach the caller's stderr").  On failure it is part of the
      error instead, as in Go.
    """

    def __init__(
        self,
        *,
        stderr: TextIO | None = None,
        busy_retries: int = 5,
        busy_delay: float = 0.05,
        kill_grace: float = 2.0,
    ) -> None:
        """
        :param stderr: where a successful delegate's stderr goes; ``None`` means ``sys.stderr`` when it runs.
        :param busy_retries: how many times to retry an exec that failed with "text file busy" (Go: 5).
        :param busy_delay: the first sleep before such a retry, in seconds; doubled for each further retry.
        :param kill_grace: after a timeout kill, how long to wait for the child's pipes to close before giving up
            on its remaining output (a grandchild that left the process group may still hold them).
        """
        if busy_retries < 0 or busy_delay < 0 or kill_grace < 0:
            raise ValueError("busy_retries, busy_delay and kill_grace must not be negative")
        self._stderr = stderr
        self.busy_retries = busy_retries
        self.busy_delay = busy_delay
        self.kill_grace = kill_grace

    def find_in_path(self, name: str, paths: Sequence[str]) -> str:
        """See :func:`find_in_path`."""
        return find_in_path(name, paths)

    def exec_plugin(self, path: str, stdin: bytes, env: Mapping[str, str], *, timeout: float | None = None) -> bytes:
        """Run the plugin at ``path``; return its stdout when it exits 0, else raise the mapped ``CNIError``."""
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        proc = self._start(path, env)
        stdout, stderr = self._communicate(proc, path, stdin, timeout)
        if proc.returncode != 0:
            raise plugin_error(_exit_text(proc.returncode), stdout, stderr)
        if stderr:
            self._forward(stderr)
        return stdout

    def _start(self, path: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        # A bare name would make the OS search PATH; the caller meant a file relative to the current directory.
        executable = path if os.sep in path else os.path.join(os.curdir, path)
        attempt = 0
        while True:
            try:
                return subprocess.Popen(
                    [executable],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=dict(env),
                    close_fds=True,
                    start_new_session=True,
                )
            except OSError as exc:
                if exc.errno == errno.ETXTBSY and attempt < self.busy_retries:
                    # Someone still has the binary open for writing; it is most likely being installed right now.
                    _log.debug("plugin %s is busy (text file busy), retrying", path)
                    time.sleep(self.busy_delay * (2**attempt))
                    attempt += 1
                    continue
                # Go reports this through the same path as a silent failure: "fork/exec <path>: <errno text>".
                raise plugin_error(f"fork/exec {path}: {_errno_text(exc)}", b"", b"") from None

    def _communicate(
        self, proc: subprocess.Popen[bytes], path: str, stdin: bytes, timeout: float | None
    ) -> tuple[bytes, bytes]:
        try:
            return proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _, stderr = self._drain(proc)
            assert timeout is not None
            raise DelegateTimeoutError(
                f"plugin {q(path)} did not finish within {timeout:g}s and was killed",
                _quoted(stderr) if stderr else "",
            ) from None
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt, SystemExit from a signal handler): leave nothing behind.
            _kill_group(proc)
            self._drain(proc)
            raise

    def _drain(self, proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
        try:
            return proc.communicate(timeout=self.kill_grace)
        except subprocess.TimeoutExpired:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            proc.wait()
            return b"", b""

    def _forward(self, data: bytes) -> None:
        target = self._stderr if self._stderr is not None else sys.stderr
        try:
            target.write(data.decode("utf-8", "replace"))
            target.flush()
        except (OSError, ValueError):  # stderr is informational: losing it must not fail the call (as in Go)
            pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _errno_text(exc: OSError) -> str:
    # Go prints errno texts in lower case ("no such file or directory"); so does this.
    text = os.strerror(exc.errno) if exc.errno is not None else str(exc)
    return text[:1].lower() + text[1:]


def _exit_text(returncode: int) -> str:
    """How Go's ``exec.ExitError`` reads: ``exit status 1`` or ``signal: killed``."""
    if returncode >= 0:
        return f"exit status {returncode}"
    number = -returncode
    try:
        name = signal.strsignal(number) or f"signal {number}"
    except ValueError:
        name = f"signal {number}"
    return f"signal: {name[:1].lower()}{name[1:]}"


def _quoted(data: bytes) -> str:
    return q(data.decode("utf-8", "replace"), limit=_MAX_QUOTED)


def plugin_error(exit_text: str, stdout: bytes, stderr: bytes) -> CNIError:
    """The error for a plugin that failed, from its outputs (Go's ``RawExec.pluginErr``).

    ``exit_text`` says how it failed (``exit status 1``, ``signal: killed``, ``fork/exec <path>: ...``).  An error
    object on stdout is returned as it is, code included; anything else becomes code 0 quoting what the plugin said.
    Public so that other executors (e.g. one running plugins remotely) map failures identically.
    """
    if not stdout:
        if not stderr:
            return CNIError(0, f"netplugin failed with no error message: {exit_text}")
        return CNIError(0, f"netplugin failed: {_quoted(stderr)}: {exit_text}")
    try:
        data = strict_json.loads(stdout)
        if not isinstance(data, dict):
            raise ValueError(f"expected an error object, got {strict_json.json_type(data)}")
        if "code" not in data and "msg" not in data:
            raise ValueError("the object has neither code nor msg")
        # Go decodes a missing code as 0; keep that.
        return CNIError.from_dict({"code": 0, **data})
    except (ValueError, RecursionError) as exc:
        return CNIError(0, f"netplugin failed but error parsing its diagnostic message {_quoted(stdout)}: {exc}")


def plugin_env(base: Mapping[str, str], command: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a delegate runs with: ``base`` (ours) with ``CNI_COMMAND`` set to ``command``.

    Everything else passes through unchanged, as the spec asks: the other CNI_* variables, and the trace context
    (``TRACEPARENT``, ``TRACESTATE``, ``BAGGAGE``) so a delegate's spans join the caller's trace.  ``overrides``
    sets further variables (a runtime running a plugin sets all of CNI_CONTAINERID, CNI_NETNS, ... this way).

    :raises ValueError: ``command`` is not a CNI command.
    """
    spec = spec_of(command)
    if spec is None:
        raise ValueError(f"unknown CNI command {command!r}; expected one of {sorted(c.value for c in COMMAND_SPECS)}")
    env = dict(base)
    env["CNI_COMMAND"] = spec.command.value
    if overrides:
        env.update(overrides)
    return env


def _config_version(netconf: bytes) -> str:
    """The configuration's cniVersion as Go's ``ConfigDecoder`` reads it: missing or "" is 0.1.0."""
    try:
        data = strict_json.loads(netconf)
    except (ValueError, RecursionError) as exc:
        raise DecodingFailureError(f"decoding version from network config: {exc}") from None
    return config_version(data)


def exec_plugin_with_result(
    executor: Executor,
    path: str,
    netconf: bytes,
    env: Mapping[str, str],
    *,
    timeout: float | None = None,
) -> AnyResult:
    """Run a plugin that answers with a result (ADD) and return that result, typed, in the version it printed.

    A result without ``cniVersion`` (or with an empty one) is read at the configuration's version, and a
    configuration without one means 0.1.0: Go's ``fixupResultVersion``, kept for plugins that forget the key
    (containernetworking/cni#895).

    :raises CNIError: the plugin failed (see the module's table); ``DecodingFailureError`` (6) when its output is
        not one JSON object or does not fit the result shape of its version (the message names the field);
        ``IncompatibleCNIVersionError`` (1) when it printed a version nobody knows.
    """
    return _decode_result(path, netconf, executor.exec_plugin(path, netconf, env, timeout=timeout))


def _decode_result(path: str, netconf: bytes, stdout: bytes) -> AnyResult:
    """The result a plugin printed on stdout (see :func:`exec_plugin_with_result`)."""
    config_version = _config_version(netconf)
    try:
        data = strict_json.loads(stdout)
    except (ValueError, RecursionError) as exc:
        raise DecodingFailureError(
            f"failed to unmarshal raw result of plugin {q(path)}: {exc}", _quoted(stdout)
        ) from None
    if data is None:
        data = {}  # Go decodes "null" into an empty map and goes on
    if not isinstance(data, dict):
        raise DecodingFailureError(
            f"failed to unmarshal raw result of plugin {q(path)}: "
            f"expected an object, got {strict_json.json_type(data)}",
            _quoted(stdout),
        )
    version = data.get("cniVersion")
    if not isinstance(version, str) or version == "":
        version = config_version
        data["cniVersion"] = version
    try:
        return parse_result(data, version)
    except ConversionError as exc:
        raise IncompatibleCNIVersionError(f"result of plugin {q(path)}: {exc}") from None
    except FieldError as exc:
        raise DecodingFailureError(f"invalid result from plugin {q(path)}: {exc}", _quoted(stdout)) from None


def exec_plugin_without_result(
    executor: Executor,
    path: str,
    netconf: bytes,
    env: Mapping[str, str],
    *,
    timeout: float | None = None,
) -> None:
    """Run a plugin for a command without a result (DEL, CHECK, GC, STATUS); its stdout is ignored on success.

    :raises CNIError: the plugin failed (see the module's table).
    """
    executor.exec_plugin(path, netconf, env, timeout=timeout)


def get_version_info(
    executor: Executor,
    path: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> PluginInfo:
    """Ask a plugin which spec versions it supports (VERSION), as Go's ``GetVersionInfo`` does.

    The plugin runs with ``env`` (default: as for :func:`delegate_add`) plus ``CNI_COMMAND=VERSION`` and
    placeholder values for ``CNI_NETNS``, ``CNI_IFNAME`` and ``CNI_PATH`` (plugins built on old libraries demand
    them), and gets ``{"cniVersion": "1.1.0"}`` on stdin.  A plugin that answers ``unknown CNI_COMMAND: VERSION``
    predates the command and supports 0.1.0 only; an answer of ``{"cniVersion": "0.2.0"}`` alone means 0.1.0 and
    0.2.0.

    :raises CNIError: the plugin failed (see the module's table); ``DecodingFailureError`` (6) with Go's
        ``decoding version info: ...`` messages when the answer is not a version object.
    """
    overrides = {"CNI_NETNS": "dummy", "CNI_IFNAME": "dummy", "CNI_PATH": "dummy"}
    version_env = plugin_env(_starting_env(env), Command.VERSION, overrides)
    stdin = json.dumps({"cniVersion": CURRENT_VERSION}, separators=(",", ":")).encode()
    try:
        stdout = executor.exec_plugin(path, stdin, version_env, timeout=timeout)
    except CNIError as exc:
        if exc.msg == "unknown CNI_COMMAND: VERSION":
            return PluginInfo(("0.1.0",))
        raise
    try:
        data = strict_json.loads(stdout)
    except (ValueError, RecursionError) as exc:
        raise DecodingFailureError(f"decoding version info: {exc}", _quoted(stdout)) from None
    if not isinstance(data, dict):
        raise DecodingFailureError(f"decoding version info: expected an object, got {strict_json.json_type(data)}")
    version, supported = data.get("cniVersion"), data.get("supportedVersions")
    if version is not None and not isinstance(version, str):
        raise DecodingFailureError(
            f"decoding version info: cniVersion: expected a string, got {strict_json.json_type(version)}"
        )
    if supported is not None and not (isinstance(supported, list) and all(isinstance(v, str) for v in supported)):
        raise DecodingFailureError("decoding version info: supportedVersions: expected an array of strings")
    if not version:
        raise DecodingFailureError("decoding version info: missing field cniVersion")
    if not supported:
        if version == "0.2.0":
            return PluginInfo(("0.1.0", "0.2.0"))
        raise DecodingFailureError("decoding version info: missing field supportedVersions")
    return PluginInfo(tuple(supported))


# --- The plugin-author API -------------------------------------------------------------------------------------------


def _starting_env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """What a delegate's environment is built from: ``env``, else the served command's, else ``os.environ``."""
    if env is not None:
        return env
    served = call_env()
    return os.environ if served is None else served


def _prepare(
    plugin_type: str,
    netconf: bytes | Mapping[str, Any],
    command: str,
    env: Mapping[str, str] | None,
    executor: Executor | None,
) -> tuple[Executor, str, bytes, dict[str, str]]:
    base = _starting_env(env)
    runner: Executor = DefaultExecutor() if executor is None else executor
    path = runner.find_in_path(plugin_type, split_path(base.get("CNI_PATH", "")))
    data = netconf if isinstance(netconf, bytes) else json.dumps(netconf).encode()
    return runner, path, data, plugin_env(base, command)


def delegate_add(
    plugin_type: str,
    netconf: bytes | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    executor: Executor | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Result:
    """Run plugin ``plugin_type`` with ADD and return its result as the 1.x model (Go's ``DelegateAdd``).

    :param plugin_type: the delegate's name, looked up in ``CNI_PATH`` (typically ``args.config.ipam.type``).
    :param netconf: the configuration to pass, normally ``args.stdin_data`` unchanged (the spec wants the complete
        configuration the caller received); a mapping is sent as JSON.
    :param env: the environment to start from (default: the served command's, ``args.env``; outside a command,
        ``os.environ``); only ``CNI_COMMAND`` is changed.
    :param executor: the process layer (default: a :class:`DefaultExecutor`).
    :param timeout: seconds before the delegate is killed and :class:`DelegateTimeoutError` (11) raised; default
        :data:`DEFAULT_TIMEOUT`; None waits for ever.

    A 0.x result is converted to 1.1.0; a 1.x result keeps its version.  Remember to undo it when the rest of ADD
    fails: :func:`add_with_rollback` does that for you.

    :raises CNIError: the delegate is not found (999), failed (its own error), timed out (11) or printed something
        that is not a result (6).
    """
    runner, path, data, delegate_env = _prepare(plugin_type, netconf, Command.ADD, env, executor)
    result = exec_plugin_with_result(runner, path, data, delegate_env, timeout=timeout)
    return _as_current(result, path)


def _as_current(result: AnyResult, path: str) -> Result:
    if isinstance(result, Result):
        return result
    try:
        converted = result.convert("1.1.0")
    except ConversionError as exc:  # pragma: no cover - up-conversion cannot fail for a parsed result
        raise DecodingFailureError(f"result of plugin {q(path)}: {exc}") from None
    assert isinstance(converted, Result)
    return converted


class Delegate(Protocol):
    """The signature of :func:`delegate_delete`, :func:`delegate_check`, :func:`delegate_gc` and
    :func:`delegate_status`: run a delegate with a command that prints nothing on success."""

    def __call__(
        self,
        plugin_type: str,
        netconf: bytes | Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        executor: Executor | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None: ...


def _delegate_without_result(command: Command, doc: str) -> Delegate:
    """The ``delegate_<method>`` function of a command that prints nothing on success (the command table's row)."""

    def delegate(
        plugin_type: str,
        netconf: bytes | Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        executor: Executor | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        runner, path, data, delegate_env = _prepare(plugin_type, netconf, command, env, executor)
        exec_plugin_without_result(runner, path, data, delegate_env, timeout=timeout)

    spec = COMMAND_SPECS[command]
    assert spec.prints == "nothing", command
    delegate.__name__ = delegate.__qualname__ = f"delegate_{spec.method}"
    delegate.__doc__ = doc
    return delegate


delegate_delete: Final = _delegate_without_result(
    Command.DEL,
    """Run plugin ``plugin_type`` with DEL (Go's ``DelegateDel``); parameters as in :func:`delegate_add`.

    The spec requires a plugin to delegate DEL whenever it delegated ADD, and to return the delegate's error.
    """,
)
delegate_check: Final = _delegate_without_result(
    Command.CHECK,
    """Run plugin ``plugin_type`` with CHECK (Go's ``DelegateCheck``); parameters as in :func:`delegate_add`.""",
)
delegate_gc: Final = _delegate_without_result(
    Command.GC,
    """Run plugin ``plugin_type`` with GC (Go's ``DelegateGC``); parameters as in :func:`delegate_add`.

    The configuration carries ``cni.dev/valid-attachments``; pass it unchanged so the delegate sees the same list.
    """,
)
delegate_status: Final = _delegate_without_result(
    Command.STATUS,
    """Run plugin ``plugin_type`` with STATUS (Go's ``DelegateStatus``); parameters as in :func:`delegate_add`.

    The spec: a plugin must delegate STATUS to any delegate it needs for ADD; the delegate's 50/51 come back as
    ``PluginNotAvailableError``/``LimitedConnectivityError``.
    """,
)


@contextlib.contextmanager
def add_with_rollback(
    plugin_type: str,
    netconf: bytes | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    executor: Executor | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    rollback_timeout: float = ROLLBACK_TIMEOUT,
) -> Iterator[Result]:
    """Delegate ADD and undo it with the delegate's DEL if anything fails before the block ends.

    ::

        with invoke.add_with_rollback(args.config.ipam.type, args.stdin_data) as ipam:
            ...  # use ipam.ips, ipam.routes, ipam.dns; raising here releases the address again
            return result

    Only what this call's ADD did is undone (docs/delegation.md, "Rollback"):

    * The block raises (any ``BaseException``: an error, ``KeyboardInterrupt``, ``SystemExit`` from a signal
      handler): the delegate's DEL runs once with the same configuration and environment, then the original
      exception propagates unchanged.
    * The delegate's ADD exited 0 but its output is not a result, or it was killed by us (its timeout, or an
      interruption while it ran): DEL runs too, since it may have allocated, and the ADD error propagates.
    * The delegate answered ADD with an error (e.g. host-local's "duplicate allocation" for a repeated ADD):
      it allocated nothing, so nothing is undone; a DEL here would release what an earlier ADD of the same
      container holds.  A delegate that cannot be found is not run at all either.
    * The DEL runs with stops deferred (a second SIGTERM or the deadline waits until it ends) and within
      ``rollback_timeout`` seconds (at most ``timeout``).  If it fails, that is logged on the ``rscni_py.invoke``
      logger and added as a note to the original exception, saying the allocation may still be held; the
      dispatcher puts such notes into the error's ``details``.
    * The block ends normally: nothing else happens.

    Parameters as in :func:`delegate_add`.
    """
    runner, path, data, add_env = _prepare(plugin_type, netconf, Command.ADD, env, executor)
    del_env = plugin_env(add_env, Command.DEL)
    undo_timeout = rollback_timeout if timeout is None else min(timeout, rollback_timeout)
    try:
        stdout = runner.exec_plugin(path, data, add_env, timeout=timeout)
    except CNIError as exc:
        if isinstance(exc, DelegateTimeoutError):
            _rollback(runner, path, data, del_env, undo_timeout, exc)
        raise
    except BaseException as exc:  # interrupted while the delegate ran: it was killed part-way
        _rollback(runner, path, data, del_env, undo_timeout, exc)
        raise
    try:
        yield _as_current(_decode_result(path, data, stdout), path)
    except BaseException as exc:
        _rollback(runner, path, data, del_env, undo_timeout, exc)
        raise


def _rollback(
    runner: Executor,
    path: str,
    data: bytes,
    env: Mapping[str, str],
    timeout: float,
    original: BaseException,
) -> None:
    with StopsDeferred() as deferred:
        try:
            exec_plugin_without_result(runner, path, data, env, timeout=timeout)
        except Exception as exc:
            _log.warning("rollback: DEL of delegated plugin %s failed: %s", path, exc)
            _add_note(
                original,
                f"rollback: DEL of delegated plugin {path} failed, what its ADD allocated may still be held: {exc}",
            )
        else:
            _log.info("rollback: ran DEL of delegated plugin %s after: %s", path, original)
    for reason in deferred.reasons:
        _add_note(original, f"rollback: {reason} while the DEL of delegated plugin {path} ran; it was finished first")


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)``, also on Python 3.10 (which lacks the method but keeps the attribute)."""
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        setattr(exc, "__notes__", notes)  # noqa: B010 - typeshed declares the attribute for 3.11 and later only
    notes.append(note)
