"""Network configuration as a plugin receives it on stdin (SPEC.md "Plugin configuration objects").

:class:`NetConf` models the well-known keys; plugins add their own by subclassing. Every unknown key
is kept: the whole object stays in :attr:`NetConf.raw` and the keys no field took are
:attr:`NetConf.extra`. The sub-objects have their own modules (``ipam``, ``runtime_config``, ``gc``,
``common``); the on-disk ``.conflist`` is ``conflist``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from rscni_py._base.lazy import LazyNames
from rscni_py.types.fields import json_field, raw_field

if TYPE_CHECKING:
    from rscni_py.types.common import DNS
    from rscni_py.types.gc import GCAttachment
    from rscni_py.types.ipam import IPAMConf
    from rscni_py.types.runtime_config import RuntimeConfig

__all__ = ["NetConf"]

# The sub-models NetConf's fields name, imported when first needed (a decode, get_type_hints), not when a plugin
# starts: defining them costs a plugin's VERSION about 7.7 % (15.8 M of 204 M instructions for tests/plugins/typed.py,
# by valgrind), which is why they are lazy.
_LAZY: Final = LazyNames(
    __name__,
    {
        "DNS": "rscni_py.types.common",
        "GCAttachment": "rscni_py.types.gc",
        "IPAMConf": "rscni_py.types.ipam",
        "RuntimeConfig": "rscni_py.types.runtime_config",
    },
)


def _empty_runtime_config() -> RuntimeConfig:
    # The default of runtime_config: the model is imported when a NetConf is built, never at start-up.
    runtime_config: type[RuntimeConfig] = _LAZY.get("RuntimeConfig")
    return runtime_config()


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

    The classes of the sub-objects (``IPAMConf``, ``DNS``, ``RuntimeConfig``, ``GCAttachment``) are named in
    string annotations and imported when first needed (a decode, or ``typing.get_type_hints``), so that a
    plugin's VERSION does not define them. Decode with :func:`~rscni_py.types.decode`, not with dataclasses-json's
    own API.
    """

    cni_version: str = json_field("cniVersion", default="", omit="empty")
    name: str = json_field(default="", omit="empty")
    type: str = json_field(default="", omit="empty")
    capabilities: dict[str, bool] = json_field(default_factory=dict, omit="empty")
    ipam: IPAMConf | None = json_field(default=None, omit="none")
    dns: DNS | None = json_field(default=None, omit="empty")
    args: dict[str, Any] | None = json_field(default=None, omit="none")
    runtime_config: RuntimeConfig = json_field("runtimeConfig", default_factory=_empty_runtime_config, omit="empty")
    prev_result: dict[str, Any] | None = json_field("prevResult", default=None, omit="none")
    ip_masq: bool = json_field("ipMasq", default=False, omit="empty")
    valid_attachments: list[GCAttachment] | None = json_field(
        "cni.dev/valid-attachments", default=None, omit="none", aliases=("cni.dev/attachments",)
    )
    raw: dict[str, Any] = raw_field()
    """The whole configuration object as received; not compared, not shown, never written as a key."""

    def validate(self) -> None:
        """The plugin's own checks of its configuration, beyond what the field types express.

        The hook a configuration class overrides (with ``@override``) to refuse values its types cannot: raise a
        ``CNIError``, normally ``InvalidNetworkConfigError`` (code 7) naming the key. The dispatcher calls it once
        per command that reads a configuration, after the configuration, ``prevResult`` and ``CNI_ARGS`` are
        decoded and before the plugin's method runs. The default accepts everything.
        """

    @property
    def extra(self) -> dict[str, Any]:
        """The keys of the configuration that no field of this class took, as received."""
        from rscni_py.types.codec import extra_keys

        return extra_keys(self)


_LAZY.resolve_annotations(NetConf)
