"""The runtime's result cache: one file per attachment, holding the ADD result that CHECK and DEL need.

The spec makes the runtime responsible for handing the final ADD result back as ``prevResult`` on CHECK and DEL,
so the result must outlive the process that ran ADD. The file layout and format are libcni's
(``<dir>/results/<network>-<containerID>-<ifname>``, JSON of kind ``cniCacheV1``), so a cache written here can be
read by libcni-based tools and the other way round. Network names, container IDs and interface names are validated
before they reach this module; none of them can contain ``/``, so a cache path never leaves the cache directory.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = ["CACHE_KIND", "CacheError", "CachedAttachment", "ResultCache", "default_cache_dir"]

#: The ``kind`` of a cache file in libcni's format.
CACHE_KIND: Final = "cniCacheV1"
#: The cache directory of a runtime run as root.
ROOT_CACHE_DIR: Final = Path("/var/lib/cni/rscni-py")


def default_cache_dir() -> Path:
    """Where results are cached by default: ``/var/lib/cni/rscni-py`` as root, else the user's cache directory
    (``$XDG_CACHE_HOME/rscni-py``, by default ``~/.cache/rscni-py``)."""
    if os.geteuid() == 0:
        return ROOT_CACHE_DIR
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rscni-py"


class CacheError(ValueError):
    """A cache file exists but cannot be read as a cache entry."""


@dataclass(frozen=True)
class CachedAttachment:
    """One cached attachment: who was attached, how, and the final ADD result."""

    network: str
    container_id: str
    ifname: str
    #: CNI_NETNS of the ADD, so that GC can DEL a stale attachment with it.
    netns: str = ""
    #: The CNI_ARGS pairs of the ADD.
    cni_args: tuple[tuple[str, str], ...] = ()
    #: The capability arguments of the ADD.
    capability_args: dict[str, Any] = field(default_factory=dict)
    #: The configuration list the ADD ran, as JSON bytes.
    config: bytes = b""
    #: The final ADD result as a JSON object (``None`` when none was stored).
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The cache file's object, in libcni's format (``config`` is base64, as Go writes ``[]byte``)."""
        out: dict[str, Any] = {
            "kind": CACHE_KIND,
            "containerId": self.container_id,
            "config": base64.b64encode(self.config).decode("ascii"),
            "ifName": self.ifname,
            "networkName": self.network,
        }
        if self.netns:
            out["netns"] = self.netns
        if self.cni_args:
            out["cniArgs"] = [list(pair) for pair in self.cni_args]
        if self.capability_args:
            out["capabilityArgs"] = self.capability_args
        if self.result is not None:
            out["result"] = self.result
        return out

    @classmethod
    def from_json(cls, data: object) -> CachedAttachment:
        """Read a cache file's object; raises :class:`CacheError` when it is not one."""
        if not isinstance(data, dict) or data.get("kind") != CACHE_KIND:
            raise CacheError(f"not a cache entry of kind {CACHE_KIND}")
        strings = {key: data.get(key, "") for key in ("containerId", "ifName", "networkName", "netns", "config")}
        for key, value in strings.items():
            if not isinstance(value, str):
                raise CacheError(f"{key}: expected a string")
        try:
            config = base64.b64decode(strings["config"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CacheError(f"config: not base64: {exc}") from None
        raw_args = data.get("cniArgs") or []
        if not isinstance(raw_args, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
            for pair in raw_args
        ):
            raise CacheError("cniArgs: expected a list of [key, value] string pairs")
        capability_args = data.get("capabilityArgs") or {}
        result = data.get("result")
        if not isinstance(capability_args, dict):
            raise CacheError("capabilityArgs: expected an object")
        if result is not None and not isinstance(result, dict):
            raise CacheError("result: expected an object")
        return cls(
            network=strings["networkName"],
            container_id=strings["containerId"],
            ifname=strings["ifName"],
            netns=strings["netns"],
            cni_args=tuple((pair[0], pair[1]) for pair in raw_args),
            capability_args=capability_args,
            config=config,
            result=result,
        )


class ResultCache:
    """The cache directory: ``results/<network>-<containerID>-<ifname>`` files, written atomically."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @property
    def results_dir(self) -> Path:
        """The directory holding one file per attachment."""
        return self.directory / "results"

    def path_for(self, network: str, container_id: str, ifname: str) -> Path:
        """The cache file of one attachment."""
        return self.results_dir / f"{network}-{container_id}-{ifname}"

    def save(self, entry: CachedAttachment) -> Path:
        """Store an attachment, replacing any earlier entry for it; readers never see a partial file."""
        target = self.path_for(entry.network, entry.container_id, entry.ifname)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entry.to_json(), out)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def load(self, network: str, container_id: str, ifname: str) -> CachedAttachment | None:
        """The cached attachment, or ``None`` when there is none.

        :raises CacheError: the file exists but is not a cache entry.
        """
        path = self.path_for(network, container_id, ifname)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return CachedAttachment.from_json(json.loads(data))
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError and CacheError
            raise CacheError(f"{path}: {exc}") from None

    def remove(self, network: str, container_id: str, ifname: str) -> None:
        """Forget an attachment; nothing happens when it is not cached."""
        self.path_for(network, container_id, ifname).unlink(missing_ok=True)

    def attachments(self, network: str | None = None) -> list[CachedAttachment]:
        """Every readable cached attachment (of ``network`` if given), sorted by container ID and interface.

        Unreadable files are skipped, as libcni does when it lists attachments for GC.
        """
        try:
            names = sorted(entry.name for entry in os.scandir(self.results_dir) if not entry.name.startswith("."))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            try:
                entry = CachedAttachment.from_json(json.loads((self.results_dir / name).read_bytes()))
            except (OSError, ValueError):
                continue
            if network is None or entry.network == network:
                found.append(entry)
        return sorted(found, key=lambda entry: (entry.network, entry.container_id, entry.ifname))
