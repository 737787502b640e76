"""A network configuration list, the on-disk ``.conflist`` (SPEC.md "Configuration format"), with libcni's rules.

Runtimes read these files; plugins see one entry of ``plugins`` at a time, as a :class:`~rscni_py.types.NetConf`.
"""

from dataclasses import dataclass
from typing import Any

from rscni_py.types._family import CURRENT_VERSION, version_key
from rscni_py.types.fields import FieldError, LooseBool, json_field, raw_field
from rscni_py.types.netconf import NetConf

__all__ = ["NetConfList", "select_version"]


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
        from rscni_py.types.codec import extra_keys

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
        from rscni_py.types.codec import decode

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
