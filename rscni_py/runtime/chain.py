"""Running a configuration list's plugin chain, the way libcni's ``CNIConfig`` does (SPEC.md §3, "Execution of
Network Configurations").

* ADD runs the plugins in order, each one's result becoming the next one's ``prevResult``; the last result is the
  outcome and is cached for the attachment (network, container ID, interface).
* CHECK (spec >= 0.4.0) runs them in order with the cached result as ``prevResult``; ``disableCheck`` skips it.
* DEL runs them in reverse order with the cached result as ``prevResult`` (spec >= 0.4.0), then forgets the cache
  entry. A missing cache entry is not an error: DEL then runs without ``prevResult``.
* GC (spec 1.1.0) first DELs every cached attachment of the network that is not among the valid ones, then sends
  GC to every plugin with ``cni.dev/valid-attachments``; ``disableGC`` skips it all.
* STATUS (spec 1.1.0) asks every plugin in order and stops at the first failure.

Each plugin receives its own object from the list with ``name`` and ``cniVersion`` set to the list's, and for ADD,
CHECK and DEL a ``runtimeConfig`` holding those capability arguments whose names the plugin declares in its
``capabilities`` (libcni's ``injectRuntimeConfig``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rscni_py._base.quoting import q
from rscni_py._base.versions import VersionError, at_least
from rscni_py.errors import (
    CNIError,
    DecodingFailureError,
    IncompatibleCNIVersionError,
    IOFailureError,
    UnknownContainerError,
)
from rscni_py.invoke import (
    DefaultExecutor,
    Executor,
    exec_plugin_with_result,
    exec_plugin_without_result,
    get_version_info,
    plugin_env,
)
from rscni_py.protocol.commands import COMMAND_SPECS, Command, spec_of
from rscni_py.protocol.env import validate_container_id, validate_ifname
from rscni_py.runtime.cache import CachedAttachment, CacheError, ResultCache, default_cache_dir
from rscni_py.runtime.config import NetworkConfigList
from rscni_py.types import AnyResult, ConversionError, FieldError, GCAttachment, parse_result

__all__ = ["PluginFailedError", "Runtime", "RuntimeConf"]

_log = logging.getLogger("rscni_py.runtime")

# Keys libcni sets in GC's configuration: the spec's current name, and the one the 1.1.0 tag used (cni#1101).
_VALID_ATTACHMENTS_KEYS = ("cni.dev/valid-attachments", "cni.dev/attachments")


@dataclass(frozen=True)
class RuntimeConf:
    """What the runtime knows about one attachment (libcni's ``RuntimeConf``)."""

    #: CNI_CONTAINERID.
    container_id: str
    #: CNI_IFNAME: the interface name inside the container.
    ifname: str = "eth0"
    #: CNI_NETNS: path of the container's network namespace.
    netns: str = ""
    #: CNI_ARGS as key/value pairs, sent joined as ``K1=V1;K2=V2``.
    args: tuple[tuple[str, str], ...] = ()
    #: Capability arguments; each plugin gets those it declares in ``capabilities`` as ``runtimeConfig``.
    capability_args: Mapping[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Reject a container ID or interface name that no plugin would accept (code 4), before running any."""
        if not self.container_id:
            raise UnknownContainerError("missing containerID")  # Go's ValidateContainerID wording and code
        validate_container_id(self.container_id)
        validate_ifname(self.ifname)

    def args_string(self) -> str:
        """CNI_ARGS as sent to plugins."""
        return ";".join(f"{key}={value}" for key, value in self.args)


class PluginFailedError(CNIError):
    """A plugin of the chain failed. The plugin's code and details are kept; the message names the plugin and
    the command first, as libcni does (``plugin type="bridge" failed (add): ...``)."""

    def __init__(self, command: str, plugin_type: str, cause: CNIError) -> None:
        spec = spec_of(command)
        # libcni names the plugin's method: "failed (delete)".
        verb = spec.method if spec is not None else command.lower()
        super().__init__(cause.code, f"plugin type={q(plugin_type)} failed ({verb}): {cause.msg}", cause.details)
        #: The command that failed ("ADD", "CHECK", ...).
        self.command = str(command)
        #: The failing plugin's ``type``.
        self.plugin_type = plugin_type
        #: The plugin's own error.
        self.cause = cause


class Runtime:
    """A local CNI runtime: runs configuration lists against plugins found in ``path`` (libcni's ``CNIConfig``).

    Plugins that do not touch network namespaces run without root; the runtime itself never enters one.

    :param path: directories searched for plugin executables (sent to plugins as CNI_PATH, joined with ``:``).
    :param cache_dir: where ADD results are cached (default: :func:`~rscni_py.runtime.default_cache_dir`).
    :param executor: the process layer (default: :class:`rscni_py.invoke.DefaultExecutor`).
    :param timeout: seconds each plugin may run before it is killed (code 11); ``None`` waits.
    :param env: the environment plugins start from (default: this process's); the six CNI_* variables are set
        on top of it for every invocation.
    """

    def __init__(
        self,
        path: Sequence[str | os.PathLike[str]],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        executor: Executor | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.path = [os.fspath(entry) for entry in path]
        self.cache = ResultCache(default_cache_dir() if cache_dir is None else cache_dir)
        self.executor: Executor = DefaultExecutor() if executor is None else executor
        self.timeout = timeout
        self._env = env

    # --- the five commands ---------------------------------------------------------------------------------------

    def add(self, netconf: NetworkConfigList, rt: RuntimeConf) -> AnyResult:
        """ADD every plugin in order, threading ``prevResult``; cache and return the last result (in the version the
        last plugin printed).

        :raises PluginFailedError: a plugin failed; later plugins did not run and nothing was cached.
        :raises CNIError: ``rt`` is invalid (code 4), or the cache cannot be written (code 5).
        """
        rt.validate()
        result: AnyResult | None = None
        for plugin in netconf.plugins:
            config = self._plugin_config(netconf, plugin, result, rt.capability_args)
            result = self._run_add(plugin, config, self._env_for(Command.ADD, rt))
        assert result is not None  # a list has at least one plugin
        entry = CachedAttachment(
            network=netconf.name,
            container_id=rt.container_id,
            ifname=rt.ifname,
            netns=rt.netns,
            cni_args=rt.args,
            capability_args=dict(rt.capability_args),
            config=netconf.to_bytes(),
            result=result.to_dict(),
        )
        try:
            self.cache.save(entry)
        except OSError as exc:
            raise IOFailureError(f"failed to set network {q(netconf.name)} cached result", str(exc)) from None
        return result

    def check(self, netconf: NetworkConfigList, rt: RuntimeConf) -> None:
        """CHECK every plugin in order with the cached ADD result as ``prevResult``.

        :raises IncompatibleCNIVersionError: the list's version is older than 0.4.0 (code 1).
        :raises PluginFailedError: a plugin reported a problem.
        """
        rt.validate()
        if not _allows(netconf.cni_version, Command.CHECK):
            raise IncompatibleCNIVersionError(
                f"configuration version {q(netconf.cni_version)} does not support the CHECK command"
            )
        if netconf.disable_check:
            _log.info("network %s: disableCheck is set, CHECK skipped", netconf.name)
            return
        cached = self._cached(netconf, rt)
        for plugin in netconf.plugins:
            config = self._plugin_config(netconf, plugin, cached, rt.capability_args)
            self._run(Command.CHECK, plugin, config, self._env_for(Command.CHECK, rt))

    def delete(self, netconf: NetworkConfigList, rt: RuntimeConf) -> None:
        """DEL every plugin in reverse order with the cached ADD result as ``prevResult`` (spec >= 0.4.0), then
        forget the cache entry. Without a cache entry (or with an unreadable one) DEL still runs, without
        ``prevResult``.

        :raises PluginFailedError: a plugin failed; the plugins before it in the list did not run and the cache
            entry is kept, so DEL can be retried.
        """
        rt.validate()
        cached: AnyResult | None = None
        if _at_least(netconf.cni_version, "0.4.0"):
            try:
                cached = self._cached(netconf, rt)
            except CNIError as exc:
                # DEL must be able to clean up even when the cache is damaged; plugins tolerate a missing prevResult.
                _log.warning("network %s: running DEL without prevResult: %s", netconf.name, exc)
        for plugin in reversed(netconf.plugins):
            config = self._plugin_config(netconf, plugin, cached, rt.capability_args)
            self._run(Command.DEL, plugin, config, self._env_for(Command.DEL, rt))
        self.cache.remove(netconf.name, rt.container_id, rt.ifname)

    def gc(self, netconf: NetworkConfigList, valid_attachments: Sequence[GCAttachment] | None = None) -> None:
        """Garbage-collect the network (libcni's ``GCNetworkList``).

        ``valid_attachments`` are the attachments still in use; ``None`` means every attachment in the cache. Cached
        attachments of this network that are not valid are DELeted first (with the CNI_NETNS, CNI_ARGS and
        capability arguments of their ADD). Then, at spec 1.1.0, every plugin gets GC with
        ``cni.dev/valid-attachments`` (and the older ``cni.dev/attachments``). Failures do not stop the others.

        :raises CNIError: the first failure's code, with every failure's message joined by ``"; "``.
        """
        if netconf.disable_gc:
            _log.info("network %s: disableGC is set, GC skipped", netconf.name)
            return
        cached = self.cache.attachments(netconf.name)
        if valid_attachments is None:
            valid_attachments = [GCAttachment(container_id=a.container_id, ifname=a.ifname) for a in cached]
        valid = {(a.container_id, a.ifname) for a in valid_attachments}
        errors: list[CNIError] = []
        for attachment in cached:
            if (attachment.container_id, attachment.ifname) in valid:
                continue
            stale = RuntimeConf(
                container_id=attachment.container_id,
                ifname=attachment.ifname,
                netns=attachment.netns,
                args=attachment.cni_args,
                capability_args=attachment.capability_args,
            )
            try:
                self.delete(netconf, stale)
            except CNIError as exc:
                what = f"failed to delete stale attachment {stale.container_id} {stale.ifname}"
                errors.append(CNIError(exc.code, f"{what}: {exc.msg}", exc.details))
        if _allows(netconf.cni_version, Command.GC):
            listed = [{"containerID": a.container_id, "ifname": a.ifname} for a in valid_attachments]
            for plugin in netconf.plugins:
                config = self._plugin_config(netconf, plugin, None, {})
                for key in _VALID_ATTACHMENTS_KEYS:
                    config[key] = listed
                try:
                    self._run(Command.GC, plugin, config, self._env_for(Command.GC, None))
                except CNIError as exc:
                    errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CNIError(errors[0].code, "; ".join(error.msg for error in errors))

    def status(self, netconf: NetworkConfigList) -> None:
        """STATUS of every plugin in order (spec 1.1.0; older lists have no STATUS and succeed).

        :raises PluginFailedError: the first plugin that is not ready (codes 50, 51) or failed.
        """
        if not _allows(netconf.cni_version, Command.STATUS):
            _log.info("network %s: version %s has no STATUS", netconf.name, netconf.cni_version)
            return
        for plugin in netconf.plugins:
            config = self._plugin_config(netconf, plugin, None, {})
            self._run(Command.STATUS, plugin, config, self._env_for(Command.STATUS, None))

    def validate(self, netconf: NetworkConfigList) -> list[str]:
        """Check that every plugin of the list is in the path and supports the list's version (asking each one with
        VERSION), as libcni's ``ValidateNetworkList`` does; return the capabilities the plugins declare, sorted.

        :raises CNIError: a plugin is missing (999) or does not support the version (1); with several problems, the
            first one's code and every message joined by ``"; "``.
        """
        version = netconf.cni_version or "0.1.0"
        errors: list[CNIError] = []
        capabilities: set[str] = set()
        for plugin in netconf.plugins:
            plugin_type = str(plugin.get("type", ""))
            try:
                path = self.executor.find_in_path(plugin_type, self.path)
                info = get_version_info(self.executor, path, env=self._base_env(), timeout=self.timeout)
                if version not in info.supported_versions:
                    raise IncompatibleCNIVersionError(
                        f"plugin {plugin_type} does not support config version {q(version)}",
                        f"plugin supports {', '.join(info.supported_versions)}",
                    )
            except CNIError as exc:
                errors.append(exc)
            declared = plugin.get("capabilities")
            if isinstance(declared, Mapping):
                capabilities.update(name for name, enabled in declared.items() if enabled is True)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CNIError(errors[0].code, "; ".join(error.msg for error in errors))
        return sorted(capabilities)

    # --- the cache -----------------------------------------------------------------------------------------------

    def cached_result(self, netconf: NetworkConfigList, rt: RuntimeConf) -> AnyResult | None:
        """The cached ADD result of an attachment, converted to the list's version; ``None`` when not cached.

        :raises DecodingFailureError: the cache entry cannot be read or converted (code 6).
        """
        return self._cached(netconf, rt)

    def _cached(self, netconf: NetworkConfigList, rt: RuntimeConf) -> AnyResult | None:
        try:
            entry = self.cache.load(netconf.name, rt.container_id, rt.ifname)
        except CacheError as exc:
            raise DecodingFailureError(f"failed to get network {q(netconf.name)} cached result", str(exc)) from None
        if entry is None or entry.result is None:
            return None
        try:
            # Converted to the list's version, so plugins get prevResult in the version of their configuration.
            return parse_result(entry.result).convert(netconf.cni_version)
        except (FieldError, ConversionError) as exc:
            raise DecodingFailureError(
                f"failed to convert cached result of network {q(netconf.name)} to version {q(netconf.cni_version)}",
                str(exc),
            ) from None

    # --- one plugin ----------------------------------------------------------------------------------------------

    def _plugin_config(
        self,
        netconf: NetworkConfigList,
        plugin: Mapping[str, Any],
        prev_result: AnyResult | None,
        capability_args: Mapping[str, Any],
    ) -> dict[str, Any]:
        """libcni's ``buildOneConfig``: the plugin's object with the list's name and version, ``prevResult`` when
        there is one, and ``runtimeConfig`` from the capabilities the plugin declares."""
        config = dict(plugin)
        config["name"] = netconf.name
        config["cniVersion"] = netconf.cni_version
        if prev_result is not None:
            config["prevResult"] = prev_result.to_dict()
        capabilities = plugin.get("capabilities")
        if isinstance(capabilities, Mapping):
            runtime_config = {
                name: capability_args[name]
                for name, enabled in capabilities.items()
                if enabled is True and name in capability_args
            }
            if runtime_config:
                config["runtimeConfig"] = runtime_config
        return config

    def _env_for(self, command: str, rt: RuntimeConf | None) -> dict[str, str]:
        """All six CNI_* variables on top of the base environment (libcni's ``Args.AsEnv``); GC and STATUS are not
        about one attachment, so their container ID, netns, interface and args are empty."""
        return plugin_env(
            self._base_env(),
            command,
            {
                "CNI_CONTAINERID": rt.container_id if rt else "",
                "CNI_NETNS": rt.netns if rt else "",
                "CNI_IFNAME": rt.ifname if rt else "",
                "CNI_ARGS": rt.args_string() if rt else "",
                "CNI_PATH": os.pathsep.join(self.path),
            },
        )

    def _base_env(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    def _run_add(self, plugin: Mapping[str, Any], config: dict[str, Any], env: Mapping[str, str]) -> AnyResult:
        plugin_type = str(plugin.get("type", ""))
        try:
            path = self.executor.find_in_path(plugin_type, self.path)
            return exec_plugin_with_result(self.executor, path, _encode(config), env, timeout=self.timeout)
        except CNIError as exc:
            raise PluginFailedError(Command.ADD, plugin_type, exc) from exc

    def _run(self, command: str, plugin: Mapping[str, Any], config: dict[str, Any], env: Mapping[str, str]) -> None:
        plugin_type = str(plugin.get("type", ""))
        try:
            path = self.executor.find_in_path(plugin_type, self.path)
            exec_plugin_without_result(self.executor, path, _encode(config), env, timeout=self.timeout)
        except CNIError as exc:
            raise PluginFailedError(command, plugin_type, exc) from exc


def _encode(config: Mapping[str, Any]) -> bytes:
    return json.dumps(config, separators=(",", ":")).encode()


def _allows(version: str, command: Command) -> bool:
    """Whether a list at ``version`` has ``command`` (its minimum version in the command table)."""
    minimum = COMMAND_SPECS[command].min_version
    return minimum is None or _at_least(version, minimum)


def _at_least(version: str, minimum: str) -> bool:
    try:
        return at_least(version or "0.1.0", minimum)
    except VersionError as exc:
        raise IncompatibleCNIVersionError(f"invalid configuration version {q(version)}: {exc}") from None
