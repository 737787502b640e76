"""The ``ipam`` object of a plugin configuration (SPEC.md "IP Allocation"): which IPAM plugin to delegate to."""

from dataclasses import dataclass
from typing import Any

from rscni_py.types.fields import json_field, raw_field

__all__ = ["IPAMConf"]


@dataclass(kw_only=True)
class IPAMConf:
    """The ``ipam`` object: ``type`` names the IPAM plugin binary; every other key is kept in ``raw``."""

    type: str = json_field(default="", omit="empty")
    raw: dict[str, Any] = raw_field()
    """The whole ``ipam`` object as received (the IPAM plugin's own settings)."""

    @property
    def extra(self) -> dict[str, Any]:
        """The keys of the ``ipam`` object other than ``type``."""
        from rscni_py.types.codec import extra_keys

        return extra_keys(self)
