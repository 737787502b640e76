"""The GC input (SPEC.md "GC: Clean up any stale resources"): the attachments a runtime still uses."""

from dataclasses import dataclass

from rscni_py.types.fields import json_field

__all__ = ["GCAttachment"]


@dataclass(kw_only=True)
class GCAttachment:
    """One attachment still in use, from the GC input's ``cni.dev/valid-attachments``."""

    container_id: str = json_field("containerID")
    ifname: str
