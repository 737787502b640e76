"""Network configuration as a plugin receives it on stdin (SPEC.md "Plugin configuration objects").

:class:`NetConf` models the well-known keys; plugins add their own by subclassing. Every unknown key
is kept: the whole object stays in :attr:`NetConf.raw` and the keys no field took are
:attr:`NetConf.extra`. :class:`NetConfList` models the on-disk ``.conflist`` with libcni's version
selection.
"""

from dataclasses import dataclass
from typing import Any

from rscni_py._private.codec import FieldError, LooseBool, decode, extra_keys, json_field, raw_field
from rscni_py.types._family import CURRENT_VERSION, version_key
from rscni_py.types.common import DNS
from rscni_py.types.runtime_config import RuntimeConfig

__all__ = ["GCAttachment", "IPAMConf", "NetConf", "NetConfList", "select_version"]


@dataclass(kw_only=True)
class IPAMConf:
    """The ``ipam`` object: ``type`` names the IPAM plugin binary; every other key is kept in ``raw``."""

    type: str = json_field(default="", omit="empty")
    raw: dict[str, Any] = raw_field()
    """The whole ``ipam`` object as received (the IPAM plugin's own settings)."""

    @property
    def extra(self) -> dict[str, Any]:
        """The keys of the ``ipam`` object other than ``type``."""
        return extra_keys(self)


@dataclass(kw_only=True)
class GCAttachment:
    """One attachment still in use, from the GC input's ``cni.dev/valid-attachments``."""

    container_id: str = json_field("containerID")
    ifname: str


@dataclass(kw_only=True)
class NetConf:
    """A plugin configuration object: the request configuration of ADD, DEL, CHECK, STATUS and GC.

    Subclass it to add plugin-specific keys, with ``@dataclass`` or ``@dataclass(kw_only=True)``;
    fields may have defaults or not (the inherited ones are keyword-only)::

        @dataclass(kw_only=True)
        class BridgeConf(NetConf):
            bridge: str = "cni0"
            is_gateway: bool = json_field("isGateway", default=False)

    ``prev_result`` is the raw ``prevResult`` object; the dispatcher hands the parsed 1.x result to
    the plugin separately (see :func:`rscni_py.types.parse_prev_result`). ``valid_attachments`` is
    read from ``cni.dev/valid-attachments``, falling back to the older ``cni.dev/attachments``.
    """

    cni_version: str = json_field("cniVersion", default="", omit="empty")
    name: str = json_field(default="", omit="empty")
    type: str = json_field(default="", omit="empty")
    capabilities: dict[str, bool] = json_field(default_factory=dict, omit="empty")
    ipam: IPAMConf | None = json_field(default=None, omit="none")
    dns: DNS | None = json_field(default=None, omit="empty")
    args: dict[str, Any] | None = json_field(default=None, omit="none")
    runtime_config: RuntimeConfig = json_field("runtimeConfig", default_factory=RuntimeConfig, omit="empty")
    prev_result: dict[str, Any] | None = json_field("prevResult", default=None, omit="none")
    ip_masq: bool = json_field("ipMasq", default=False, omit="empty")
    valid_attachments: list[GCAttachment] | None = json_field(
        "cni.dev/valid-attachments", default=None, omit="none", aliases=("cni.dev/attachments",)
    )
    raw: dict[str, Any] = raw_field()
    """The whole configuration object as received; not compared, not shown, never written as a key."""

    @property
    def extra(self) -> dict[str, Any]:
        """The keys of the configuration that no field of this class took, as received."""
        return extra_keys(self)


@dataclass(kw_only=True)
class NetConfList:
    """A network configuration list (``.conflist``) as libcni reads it.

    ``disableCheck``, ``disableGC`` and ``loadOnlyInlinedPlugins`` also accept ``"true"``/``"false"``
    strings. Use :meth:`from_json` to get libcni's validation and version selection;
    :attr:`cni_version` is then the selected version.
    """

    cni_version: str = json_field("cniVersion", default="", omit="empty")
    cni_versions: list[str] = json_field("cniVersions", default_factory=list, omit="empty")
    name: str
    disable_check: LooseBool = json_field("disableCheck", default=False, omit="empty")
    disable_gc: LooseBool = json_field("disableGC", default=False, omit="empty")
    load_only_inlined_plugins: LooseBool = json_field("loadOnlyInlinedPlugins", default=False, omit="empty")
    plugins: list[NetConf] = json_field(default_factory=list, omit="empty")
    raw: dict[str, Any] = raw_field()

    @property
    def extra(self) -> dict[str, Any]:
        """The keys of the list that no field took, as received."""
        return extra_keys(self)

    @classmethod
    def from_json(cls, data: object) -> "NetConfList":
        """Decode, validate and pick the version of a configuration list.

        The selected version is the highest of ``cniVersions`` plus ``cniVersion``, ignoring entries
        newer than 1.1.0 (when ``cniVersions`` is absent, ``cniVersion`` as written). The list needs
        a ``plugins`` array (unless ``loadOnlyInlinedPlugins`` is false and it is absent) that is not
        empty and whose entries all have a ``type``.

        :raises FieldError: naming the offending key, e.g. ``plugins[1].type: required field missing``.
        """
        conf = decode(cls, data)
        conf.cni_version = select_version(conf.cni_version, conf.cni_versions, "cniVersions" in conf.raw)
        if "plugins" not in conf.raw:
            if conf.load_only_inlined_plugins:
                raise FieldError("plugins", "required field missing (loadOnlyInlinedPlugins is true)")
        elif not conf.plugins:
            raise FieldError("plugins", "no plugins in list")
        for index, plugin in enumerate(conf.plugins):
            if not plugin.type:
                raise FieldError(f"plugins[{index}].type", "required field missing")
        return conf


def select_version(cni_version: str, cni_versions: list[str], has_versions: bool = True) -> str:
    """libcni's choice of a list's version: the highest of ``cni_versions`` and ``cni_version``,
    skipping entries newer than the version this library implements (1.1.0).

    >>> select_version("0.4.0", ["1.0.0", "1.1.0", "2.0.0"])
    '1.1.0'

    :raises FieldError: for an entry that is not a version number.
    """
    if not has_versions:
        return cni_version
    current = version_key(CURRENT_VERSION)
    candidates: list[tuple[tuple[int, int, int], str]] = []
    entries = [(f"cniVersions[{index}]", entry) for index, entry in enumerate(cni_versions)]
    if cni_version:
        entries.append(("cniVersion", cni_version))
    for path, entry in entries:
        try:
            key = version_key(entry)
        except ValueError as exc:
            raise FieldError(path, str(exc)) from None
        if key <= current:
            candidates.append((key, entry))
    return max(candidates)[1] if candidates else cni_version
