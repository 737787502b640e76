"""Real network namespaces for tests: created with ``ip netns add`` (root only), removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["NETNS_DIR", "NetnsUnavailable", "can_create_netns", "temporary_netns"]

#: Where ``ip netns add`` bind-mounts named namespaces.
NETNS_DIR: Final = "/run/netns"


class NetnsUnavailable(RuntimeError):
    """A network namespace could not be created (not root, or no ``ip`` command)."""


def can_create_netns() -> bool:
    """Whether this process may create namespaces: root and an ``ip`` command on PATH."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


@contextmanager
def temporary_netns(prefix: str = "rscni-test") -> Iterator[str]:
    """Create a fresh named namespace and yield its path (``/run/netns/<name>``); delete it on exit."""
    if not can_create_netns():
        raise NetnsUnavailable("creating a network namespace needs root and the ip command (iproute2)")
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NetnsUnavailable(f"ip netns add {name} failed: {proc.stderr.strip()}")
    try:
        yield os.path.join(NETNS_DIR, name)
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
