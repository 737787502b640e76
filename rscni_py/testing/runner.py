"""``PluginRunner``: run a ``CNIPlugin`` class in process, the way a runtime would run its executable.

The runner builds what a runtime sends (the ``CNI_*`` variables of SPEC.md §2 and the JSON configuration on stdin),
hands them to the protocol dispatcher together with in-memory streams, and returns an :class:`Invocation` holding
the exit code, stdout, stderr, the typed result or error, and any exception that escaped the plugin.  Nothing global
is patched: not ``os.environ``, not ``sys.stdout``, so tests may run in parallel threads.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict

from typing_extensions import Unpack

from rscni_py.errors import CNIError
from rscni_py.protocol.commands import COMMAND_SPECS, Command, spec_of

if TYPE_CHECKING:
    from rscni_py.plugin import CNIPlugin
    from rscni_py.types import AnyResult, GCAttachment

__all__ = [
    "Cycle",
    "CycleOptions",
    "DEFAULT_CNI_PATH",
    "DEFAULT_CONTAINER_ID",
    "DEFAULT_IFNAME",
    "DEFAULT_NETNS",
    "DEFAULT_NETWORK_NAME",
    "Invocation",
    "InvokeOptions",
    "PluginRunner",
]

#: CNI_PATH when the runner is not told otherwise: the directory runtimes use by convention.
DEFAULT_CNI_PATH: Final = "/opt/cni/bin"
#: CNI_CONTAINERID for ADD, CHECK and DEL.
DEFAULT_CONTAINER_ID: Final = "test-container"
#: CNI_IFNAME for ADD, CHECK and DEL.
DEFAULT_IFNAME: Final = "eth0"
#: CNI_NETNS for ADD, CHECK and DEL: ``/dev/null``.  It exists (a plugin that checks the path finds it), it is never
#: the test process's own namespace (so the own-namespace guard, code 8, lets it through), it is never a namespace
#: at all (a plugin that really enters it fails loudly instead of changing the host), and it needs no cleanup.
DEFAULT_NETNS: Final = os.devnull
#: The ``name`` of the configuration the runner makes up when given none.
DEFAULT_NETWORK_NAME: Final = "test-network"


EnvOverrides = Mapping[str, "str | None"]
"""Environment changes: a value sets the variable, ``None`` removes it (e.g. to test a missing variable)."""


class CycleOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`PluginRunner.invoke` that every shortcut and ``cycle`` accept."""

    container_id: str | None
    netns: str | None
    ifname: str | None
    args: str
    env: EnvOverrides | None
    cni_version: str | None
    catch_exceptions: bool | None


class InvokeOptions(CycleOptions, total=False):
    """The keyword arguments of :meth:`PluginRunner.invoke`, for the command shortcuts."""

    prev_result: AnyResult | Mapping[str, Any] | None


@dataclass(frozen=True)
class Invocation:
    """What one command produced: exit code, stdout, stderr, and the exception that escaped the plugin (if any).

    ``result``, ``error`` and ``json`` decode stdout on access.  ``cni_version`` is the configuration's
    ``cniVersion`` ("0.1.0" when it has none, as the spec says; ``None`` when stdin was not a JSON object).
    """

    #: The CNI_COMMAND that was run ("" when the test removed it).
    command: str
    #: 0 for success, 1 for an error (the dispatcher's codes), or a ``SystemExit`` code the plugin raised.
    exit_code: int
    #: Everything written to stdout: one JSON document or nothing.
    stdout: str
    #: Everything written to stderr (tracebacks of unexpected exceptions, the about text).
    stderr: str
    #: The configuration's cniVersion, used to parse the result.
    cni_version: str | None = None
    #: An exception raised by the plugin's own code (not a ``CNIError``, which is an ordinary error result).
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the command succeeded: exit code 0 and no exception escaped the plugin."""
        return self.exit_code == 0 and self.exception is None

    @property
    def json(self) -> Any:
        """Stdout decoded as JSON; ``None`` when stdout is empty.

        :raises ValueError: stdout is not one JSON document.
        """
        if not self.stdout.strip():
            return None
        try:
            return json.loads(self.stdout)
        except ValueError as exc:
            raise ValueError(f"{self.command} stdout is not one JSON document ({exc}): {self.stdout!r}") from None

    @property
    def result(self) -> AnyResult | None:
        """The ADD result, typed and parsed at the configuration's version; ``None`` for other commands or errors.

        :raises ValueError: the output is not a result of that version (``FieldError`` names the field).
        """
        from rscni_py.types import parse_result

        if self.command != Command.ADD or self.exit_code != 0:
            return None
        data = self.json
        if data is None:
            return None
        return parse_result(data, self.cni_version)

    @property
    def error(self) -> CNIError | None:
        """The error the plugin reported, rebuilt as a ``CNIError`` subclass with its code; ``None`` on success.

        :raises ValueError: the command failed but stdout is not an error object.
        """
        if self.exit_code == 0:
            return None
        data = self.json
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ValueError(f"{self.command} failed but stdout is not an error object: {self.stdout!r}")
        return CNIError.from_dict(data)

    def __repr__(self) -> str:
        if self.ok:
            return f"<Invocation {self.command or '-'} ok>"
        try:
            error = self.error
        except ValueError:
            error = None
        state = f"error {error.code}" if error is not None else f"exit {self.exit_code}"
        if self.exception is not None:
            state += f" {type(self.exception).__name__}"
        return f"<Invocation {self.command or '-'} {state}>"


@dataclass(frozen=True)
class Cycle:
    """The ADD -> CHECK -> DEL sequence of one attachment, each fed the ADD result as prevResult."""

    add: Invocation
    #: ``None`` when CHECK was not run: ADD failed, or the configuration is older than 0.4.0 (no CHECK there).
    check: Invocation | None
    delete: Invocation

    @property
    def ok(self) -> bool:
        """Whether every command that ran succeeded."""
        return self.add.ok and (self.check is None or self.check.ok) and self.delete.ok

    def __repr__(self) -> str:
        return f"<Cycle add={self.add!r} check={self.check!r} delete={self.delete!r}>"


class PluginRunner:
    """Runs a plugin class in process with a runtime's inputs (click's ``CliRunner`` for CNI plugins).

    :param env: variables added to every invocation (e.g. ``CNI_NETNS_OVERRIDE`` or ``RSCNI_LOG_LEVEL``); they
        override the runner's defaults, and ``invoke(env=...)`` overrides them.  ``None`` removes a variable.
    :param cni_path: CNI_PATH, where a plugin looks up delegates.
    :param catch_exceptions: when False, an exception escaping the plugin is re-raised by ``invoke`` (after the
        dispatcher reported it as error 999), so a test shows the original traceback.
    """

    def __init__(
        self,
        env: EnvOverrides | None = None,
        cni_path: str = DEFAULT_CNI_PATH,
        catch_exceptions: bool = True,
    ) -> None:
        self.env: dict[str, str | None] = dict(env or {})
        self.cni_path = cni_path
        self.catch_exceptions = catch_exceptions

    # --- the general entry point ---------------------------------------------------------------------------------

    def invoke(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        command: str,
        config: Mapping[str, Any] | bytes | None = None,
        *,
        container_id: str | None = None,
        netns: str | None = None,
        ifname: str | None = None,
        args: str = "",
        env: EnvOverrides | None = None,
        prev_result: AnyResult | Mapping[str, Any] | None = None,
        cni_version: str | None = None,
        catch_exceptions: bool | None = None,
    ) -> Invocation:
        """Run ``command`` (ADD, DEL, CHECK, GC, STATUS, VERSION, or anything else to test refusal).

        :param config: the network configuration: a dict (serialised to JSON), raw bytes (sent unchanged, to test
            bad input), or ``None`` for a minimal valid one (``cniVersion`` = ``cni_version`` or the plugin's newest,
            ``name`` = "test-network", ``type`` = the class name in lower case).
        :param container_id: CNI_CONTAINERID; default "test-container" for ADD, CHECK and DEL and empty otherwise,
            as libcni sends it.  ``netns`` (default ``/dev/null``, see :data:`DEFAULT_NETNS`) and ``ifname``
            (default "eth0") follow the same rule.
        :param args: CNI_ARGS, e.g. ``"IgnoreUnknown=1;K8S_POD_NAME=web"``.
        :param env: last-word changes to the environment; ``None`` as a value removes the variable.
        :param prev_result: put into the configuration as ``prevResult``; a result object is converted to the
            configuration's version first, as a runtime would have received it.
        :param cni_version: sets the configuration's ``cniVersion``.
        :param catch_exceptions: overrides the runner's setting for this call.
        """
        from rscni_py.protocol.dispatch import dispatch

        data, version = self._stdin(plugin_cls, command, config, prev_result, cni_version)
        full_env = self._env(command, container_id, netns, ifname, args, env)
        # The dispatcher turns an unexpected exception into error 999, which is right for a runtime but hides the
        # traceback from a test: its exception hook hands the exception to the Invocation.
        escaped: list[BaseException] = []
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            exit_code = dispatch(plugin_cls, full_env, io.BytesIO(data), stdout, stderr, on_exception=escaped.append)
        except KeyboardInterrupt:
            raise
        except SystemExit as exc:  # the plugin called sys.exit(): a real process would end here with that code
            escaped.append(exc)
            exit_code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            escaped.append(exc)
            exit_code = 1
        exception = escaped[0] if escaped else None
        catch = self.catch_exceptions if catch_exceptions is None else catch_exceptions
        if exception is not None and not catch:
            raise exception
        return Invocation(
            command=full_env.get("CNI_COMMAND", ""),
            exit_code=exit_code,
            stdout=stdout.getvalue(),
            stderr=stderr.getvalue(),
            cni_version=version,
            exception=exception,
        )

    # --- one shortcut per command --------------------------------------------------------------------------------

    def add(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | bytes | None = None,
        **kwargs: Unpack[InvokeOptions],
    ) -> Invocation:
        """ADD; see :meth:`invoke` for the keyword arguments."""
        return self.invoke(plugin_cls, Command.ADD, config, **kwargs)

    def check(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | bytes | None = None,
        **kwargs: Unpack[InvokeOptions],
    ) -> Invocation:
        """CHECK (spec 0.4.0 and later); pass the ADD result as ``prev_result``."""
        return self.invoke(plugin_cls, Command.CHECK, config, **kwargs)

    def delete(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | bytes | None = None,
        **kwargs: Unpack[InvokeOptions],
    ) -> Invocation:
        """DEL; pass the ADD result as ``prev_result`` as a runtime does."""
        return self.invoke(plugin_cls, Command.DEL, config, **kwargs)

    def status(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | bytes | None = None,
        **kwargs: Unpack[InvokeOptions],
    ) -> Invocation:
        """STATUS (spec 1.1.0): no container, namespace or interface is sent."""
        return self.invoke(plugin_cls, Command.STATUS, config, **kwargs)

    def gc(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | None = None,
        *,
        valid_attachments: Sequence[GCAttachment | tuple[str, str] | Mapping[str, str]] = (),
        **kwargs: Unpack[InvokeOptions],
    ) -> Invocation:
        """GC (spec 1.1.0) with the attachments the runtime still uses.

        Each attachment is a ``GCAttachment``, a ``(container_id, ifname)`` pair or a ``{"containerID", "ifname"}``
        dict.  Like libcni, the list goes under both ``cni.dev/valid-attachments`` and the older
        ``cni.dev/attachments``.
        """
        base = dict(config) if config is not None else self._default_config(plugin_cls, kwargs.get("cni_version"))
        listed = [_attachment(item) for item in valid_attachments]
        base["cni.dev/valid-attachments"] = listed
        base["cni.dev/attachments"] = listed
        return self.invoke(plugin_cls, Command.GC, base, **kwargs)

    def version(self, plugin_cls: type[CNIPlugin[Any, Any]], **kwargs: Unpack[InvokeOptions]) -> Invocation:
        """VERSION; stdin carries ``{"cniVersion": "1.1.0"}`` as libcni sends it (the plugin does not read it)."""
        return self.invoke(plugin_cls, Command.VERSION, {"cniVersion": "1.1.0"}, **kwargs)

    def cycle(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        config: Mapping[str, Any] | None = None,
        *,
        prev_result: AnyResult | Mapping[str, Any] | None = None,
        **kwargs: Unpack[CycleOptions],
    ) -> Cycle:
        """ADD, then CHECK and DEL with the ADD result as prevResult: the life of one attachment.

        ``prev_result`` is what the previous plugin of a chain returned: ADD receives it as ``prevResult``, as a
        chained plugin does; CHECK and DEL then receive this plugin's own ADD result, the chain's result so far.
        CHECK is skipped when ADD failed or the configuration's version is older than 0.4.0 (libcni does not send
        CHECK there).  DEL runs even after a failed ADD, without prevResult, as a runtime cleans up.
        """
        from rscni_py._base.versions import at_least

        added = self.add(plugin_cls, config, prev_result=prev_result, **kwargs)
        checked: Invocation | None = None
        if not added.ok:
            return Cycle(added, None, self.delete(plugin_cls, config, **kwargs))
        prev = added.json if isinstance(added.json, Mapping) else None
        version = added.cni_version or "0.1.0"
        try:
            can_check = at_least(version, COMMAND_SPECS[Command.CHECK].min_version or "0.1.0")
        except ValueError:
            can_check = False
        if can_check:
            checked = self.check(plugin_cls, config, prev_result=prev, **kwargs)
        deleted = self.delete(plugin_cls, config, prev_result=prev, **kwargs)
        return Cycle(added, checked, deleted)

    # --- building the inputs -------------------------------------------------------------------------------------

    def _default_config(self, plugin_cls: type[CNIPlugin[Any, Any]], cni_version: str | None) -> dict[str, Any]:
        from rscni_py._base.versions import ALL_VERSIONS

        newest = max(plugin_cls.supported_versions, key=lambda v: ALL_VERSIONS.index(v) if v in ALL_VERSIONS else -1)
        return {
            "cniVersion": cni_version or newest,
            "name": DEFAULT_NETWORK_NAME,
            "type": plugin_cls.__name__.lower(),
        }

    def _stdin(
        self,
        plugin_cls: type[CNIPlugin[Any, Any]],
        command: str,
        config: Mapping[str, Any] | bytes | None,
        prev_result: AnyResult | Mapping[str, Any] | None,
        cni_version: str | None,
    ) -> tuple[bytes, str | None]:
        """The bytes for stdin and the configuration's cniVersion."""
        if isinstance(config, (bytes, bytearray)):
            if prev_result is not None or cni_version is not None:
                raise TypeError("prev_result and cni_version need a dict config, not raw bytes")
            return bytes(config), _version_of_bytes(bytes(config))
        data = dict(config) if config is not None else self._default_config(plugin_cls, cni_version)
        if cni_version is not None:
            data["cniVersion"] = cni_version
        version = _version_of(data)
        if prev_result is not None:
            data["prevResult"] = _prev_result_dict(prev_result, version)
        return json.dumps(data).encode(), version

    def _env(
        self,
        command: str,
        container_id: str | None,
        netns: str | None,
        ifname: str | None,
        args: str,
        overrides: EnvOverrides | None,
    ) -> dict[str, str]:
        """The environment a runtime would pass, then the runner's and the call's changes."""
        # Commands that act on one attachment get a container ID, a namespace and an interface name.
        spec = spec_of(command)
        attached = spec is not None and spec.attachment
        env: dict[str, str | None] = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id if container_id is not None else (DEFAULT_CONTAINER_ID if attached else ""),
            "CNI_NETNS": netns if netns is not None else (DEFAULT_NETNS if attached else ""),
            "CNI_IFNAME": ifname if ifname is not None else (DEFAULT_IFNAME if attached else ""),
            "CNI_ARGS": args,
            "CNI_PATH": self.cni_path,
        }
        env.update(self.env)
        env.update(overrides or {})
        return {key: value for key, value in env.items() if value is not None}


def _version_of(data: Mapping[str, Any]) -> str | None:
    version = data.get("cniVersion")
    if version is None or version == "":
        return "0.1.0"  # spec: a configuration without cniVersion is 0.1.0
    return version if isinstance(version, str) else None


def _version_of_bytes(data: bytes) -> str | None:
    try:
        decoded = json.loads(data)
    except ValueError:
        return None
    if decoded is None:
        decoded = {}
    return _version_of(decoded) if isinstance(decoded, Mapping) else None


def _prev_result_dict(prev: AnyResult | Mapping[str, Any], version: str | None) -> Any:
    if isinstance(prev, Mapping):
        return dict(prev)
    converted = prev.convert(version) if version else prev
    return converted.to_dict()


def _attachment(item: GCAttachment | tuple[str, str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(item, tuple):
        container_id, ifname = item
        return {"containerID": container_id, "ifname": ifname}
    if isinstance(item, Mapping):
        return {"containerID": item["containerID"], "ifname": item["ifname"]}
    return {"containerID": item.container_id, "ifname": item.ifname}
