"""The own-netns guard: refuse to operate on the plugin's own network namespace (docs/decisions.md, D-4).

A stale ``/proc/<pid>/ns/net`` path can point at the host's namespace; a plugin that then deletes or renames
"the container's" interfaces would break the host (containernetworking/plugins#714).  Go's skel checks this after the
plugin ran; we check before it runs, so a refused request changes nothing.
"""

from __future__ import annotations

import os
from typing import Final

from rscni_py.errors import InvalidNetNSError

__all__ = ["OWN_NETNS_PATH", "is_override", "is_own_netns"]

#: Where a process finds its own network namespace.
OWN_NETNS_PATH: Final = "/proc/self/ns/net"


def is_override(value: str) -> bool:
    """Whether CNI_NETNS_OVERRIDE asks to skip the guard: "1" or "true" in any case."""
    return value.lower() in ("1", "true")


def is_own_netns(path: str, own: str = OWN_NETNS_PATH) -> bool:
    """Whether ``path`` names the same namespace as ``own``.

    A path that cannot be opened is not our namespace (the plugin reports its own error about it); failing to read
    our own namespace is code 8, since the guard then cannot work.
    """
    try:
        target = os.stat(path)
    except (OSError, ValueError):
        return False
    try:
        mine = os.stat(own)
    except OSError as exc:
        raise InvalidNetNSError("get plugin's netns failed", str(exc)) from exc
    return (target.st_dev, target.st_ino) == (mine.st_dev, mine.st_ino)
