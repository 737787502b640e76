"""Podman with a storage, configuration and network directory of its own, for the integration tests.

Debian's podman 4.3 without netavark uses its CNI backend: it reads network configuration lists from
``network_config_dir`` (a conflist's ``name`` is the podman network name) and plugins from ``cni_plugin_dirs``, both
set here in a private ``containers.conf`` (``CONTAINERS_CONF``), so nothing in /etc/cni or /opt/cni is touched.
Images and containers live under private ``--root``/``--runroot`` directories; the image is imported from a busybox
root file system built here, so nothing is pulled from a registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .containerd import busybox_rootfs, missing_busybox, mounts_under
from .harness import missing_tools

__all__ = ["ULIMITS", "Podman", "PodmanError", "missing_podman_requirements"]

#: runc cannot raise rlimits in some sandboxes; podman's defaults would make every ``podman run`` fail there.
ULIMITS: Final = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


class PodmanError(RuntimeError):
    """A podman command failed; the message has its output."""


def missing_podman_requirements() -> list[str]:
    """Say what this machine lacks to run containers with podman (empty list: nothing)."""
    return [*missing_tools({"podman": "podman"}), *missing_busybox()]


@dataclass
class Podman:
    """``podman`` with everything it keeps under ``workdir`` and plugins looked up in ``plugin_dirs``."""

    workdir: Path
    plugin_dirs: tuple[Path, ...]

    @property
    def network_dir(self) -> Path:
        """Where podman reads the network configuration lists."""
        return self.workdir / "net.d"

    def setup(self) -> None:
        """Write the private configuration: the CNI backend, our network directory, our plugin directories."""
        self.network_dir.mkdir(parents=True, exist_ok=True)
        dirs = ", ".join(json.dumps(str(d)) for d in self.plugin_dirs)
        (self.workdir / "containers.conf").write_text(
            "[network]\n"
            'network_backend = "cni"\n'
            f"network_config_dir = {json.dumps(str(self.network_dir))}\n"
            f"cni_plugin_dirs = [{dirs}]\n"
        )

    def argv(self, *args: str) -> list[str]:
        """``podman ARGS...`` with the private storage."""
        return ["podman", "--root", str(self.workdir / "root"), "--runroot", str(self.workdir / "runroot"), *args]

    @property
    def env(self) -> dict[str, str]:
        """The environment every podman command runs with: the private ``containers.conf``."""
        return {**os.environ, "CONTAINERS_CONF": str(self.workdir / "containers.conf")}

    def run(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS...``; with ``check``, a non-zero exit raises :class:`PodmanError` with its output."""
        proc = subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise PodmanError(f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    def import_busybox(self, image: str) -> None:
        """Import a busybox-only image named ``image`` from a root file system built here."""
        archive = self.workdir / "rootfs.tar"
        archive.write_bytes(busybox_rootfs())
        self.run("import", str(archive), image)

    def cleanup(self) -> list[str]:
        """Remove every container and image, unmount what podman's storage left mounted (its overlay directory is a
        mount of its own), then delete the working directory; return what could not be cleaned."""
        self.run("rm", "--all", "--force", check=False)
        self.run("rmi", "--all", "--force", check=False)
        problems = [
            f"cannot unmount {point}"
            for point in mounts_under(self.workdir)
            if subprocess.run(["umount", "--lazy", point], capture_output=True, check=False).returncode != 0
        ]
        if not problems:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems
