"""Network configuration files as a runtime reads them (libcni ``conf.go``; SPEC.md "Configuration format").

A network configuration list (``.conflist``) names a network and the chain of plugins attached to it; a single
plugin configuration (``.conf``, the pre-1.0 format) is turned into a list of one plugin, as libcni's
``ConfListFromConf`` does. Validation and version selection (``cniVersions``) are those of
:meth:`rscni_py.types.NetConfList.from_json`; the plugin objects themselves are kept exactly as written, because a
runtime must pass plugin-specific keys through unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rscni_py.errors import DecodingFailureError, InvalidNetworkConfigError, IOFailureError
from rscni_py.protocol.env import validate_network_name

__all__ = [
    "CONFIG_EXTENSIONS",
    "NetworkConfigList",
    "conflist_from_bytes",
    "conflist_from_json",
    "load_conflist",
]

#: File name extensions of configuration files in a directory, as libcni and container runtimes look for them.
CONFIG_EXTENSIONS: Final = (".conf", ".conflist", ".json")


@dataclass(frozen=True)
class NetworkConfigList:
    """A validated network configuration list: what the runtime runs ADD, CHECK, DEL, GC and STATUS over.

    ``cni_version`` is the selected version (the highest of ``cniVersions`` and ``cniVersion`` that this library
    knows); every plugin receives it. ``plugins`` are the plugin objects as written in the file.
    """

    #: The network name; each plugin receives it as ``name``.
    name: str
    #: The version the runtime speaks to every plugin of the list.
    cni_version: str
    #: The plugin configuration objects, in chain order, exactly as written.
    plugins: tuple[dict[str, Any], ...]
    #: ``disableCheck``: CHECK succeeds without running any plugin.
    disable_check: bool = False
    #: ``disableGC``: GC does nothing.
    disable_gc: bool = False
    #: The list as a JSON object (for a single ``.conf``, the list built around it).
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: The file it was read from, if any.
    source: Path | None = field(default=None, compare=False)

    def to_bytes(self) -> bytes:
        """The list as compact JSON, as the result cache stores it."""
        return json.dumps(self.raw, separators=(",", ":")).encode()


def _where(source: Path | None) -> str:
    return f" in {source}" if source is not None else ""


def conflist_from_json(data: object, source: Path | None = None) -> NetworkConfigList:
    """Validate a decoded configuration: a list (it has ``plugins``) or a single plugin configuration.

    :raises InvalidNetworkConfigError: (code 7) naming the offending key, e.g. ``plugins[0].type: required field
        missing``, or a network name with characters outside ``[a-zA-Z0-9_.-]``.
    """
    from rscni_py.types import NetConfList
    from rscni_py.types.codec import FieldError

    if not isinstance(data, dict):
        raise InvalidNetworkConfigError(f"invalid network configuration{_where(source)}: expected a JSON object")
    if "plugins" not in data:
        data = _list_from_single(data, source)
    try:
        conf = NetConfList.from_json(data)
    except FieldError as exc:
        raise InvalidNetworkConfigError(f"invalid network configuration{_where(source)}: {exc}") from None
    if not conf.name:
        raise InvalidNetworkConfigError(f"invalid network configuration{_where(source)}: name: required field missing")
    validate_network_name(conf.name)
    plugins = tuple(plugin.raw for plugin in conf.plugins)
    return NetworkConfigList(
        name=conf.name,
        cni_version=conf.cni_version,
        plugins=plugins,
        disable_check=bool(conf.disable_check),
        disable_gc=bool(conf.disable_gc),
        raw=data,
        source=source,
    )


def _list_from_single(data: dict[str, Any], source: Path | None) -> dict[str, Any]:
    """libcni's ``ConfListFromConf``: the list takes the plugin's name and version and holds the plugin alone."""
    plugin_type = data.get("type")
    if not isinstance(plugin_type, str) or not plugin_type:
        # Neither a list (no "plugins") nor a plugin configuration (no "type"): say both.
        raise InvalidNetworkConfigError(
            f"invalid network configuration{_where(source)}: type: required field missing "
            '(a plugin configuration needs "type", a configuration list needs "plugins")'
        )
    single: dict[str, Any] = {"name": data.get("name", ""), "plugins": [data]}
    if "cniVersion" in data:
        single["cniVersion"] = data["cniVersion"]
    return single


def conflist_from_bytes(data: bytes, source: Path | None = None) -> NetworkConfigList:
    """Decode (code 6 when not JSON) and validate (code 7) a configuration file's content."""
    try:
        decoded = json.loads(data)
    except ValueError as exc:
        raise DecodingFailureError(f"error parsing network configuration{_where(source)}: {exc}") from None
    return conflist_from_json(decoded, source)


def load_conflist(path: str | os.PathLike[str], name: str | None = None) -> NetworkConfigList:
    """Load a configuration from a file, or from a directory the way runtimes do.

    For a directory, the files ending in ``.conf``, ``.conflist`` or ``.json`` are taken in lexical order of their
    names: the first one, or with ``name`` the first whose network has that name.

    :raises IOFailureError: (code 5) the path cannot be read.
    :raises DecodingFailureError: (code 6) a file is not JSON.
    :raises InvalidNetworkConfigError: (code 7) a configuration is invalid, or none is found.
    """
    where = Path(path)
    if where.is_dir():
        try:
            names = sorted(entry.name for entry in os.scandir(where) if _is_config_file(entry))
        except OSError as exc:
            raise IOFailureError(f"error reading directory {where}", exc.strerror or str(exc)) from None
        for file_name in names:
            conf = _load_file(where / file_name)
            if name is None or conf.name == name:
                return conf
        wanted = "" if name is None else f" named {json.dumps(name)}"
        raise InvalidNetworkConfigError(f"no network configuration{wanted} found in {where}")
    conf = _load_file(where)
    if name is not None and conf.name != name:
        raise InvalidNetworkConfigError(
            f"network configuration {where} is named {json.dumps(conf.name)}, not {json.dumps(name)}"
        )
    return conf


def _is_config_file(entry: os.DirEntry[str]) -> bool:
    return entry.name.endswith(CONFIG_EXTENSIONS) and entry.is_file()


def _load_file(path: Path) -> NetworkConfigList:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IOFailureError(f"error reading {path}", exc.strerror or str(exc)) from None
    return conflist_from_bytes(data, path)
