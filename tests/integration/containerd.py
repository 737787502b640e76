"""A private containerd for the integration tests, an offline busybox image for it, and CNI's fixed directories.

``ctr run --cni`` (containerd 1.6) sets up the container's network itself, in the ``ctr`` process, with go-cni's
defaults: it loads the lexically first configuration file in ``/etc/cni/net.d`` and looks for plugins only in
``/opt/cni/bin``; libcni keeps its result cache in ``/var/lib/cni``.  None of these can be changed from the command
line, so :class:`SystemCNI` installs into them under names of its own and removes exactly what it added.

Everything else lives in a temporary directory: containerd's root, state, socket and ``opt`` directory, runc's
root.  The one path containerd 1.6 hard-codes is the shim sockets' directory, ``/run/containerd/s``, which
:class:`Containerd` removes again if it created it.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import struct
import subprocess
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .harness import missing_tools

__all__ = [
    "BUSYBOX",
    "CNI_BIN_DIR",
    "CNI_CACHE_DIR",
    "CNI_CONF_DIR",
    "SHIM_SOCKET_DIR",
    "Containerd",
    "ContainerdError",
    "SystemCNI",
    "build_image",
    "busybox_rootfs",
    "is_static_elf",
    "missing_busybox",
    "mounts_under",
    "missing_containerd_requirements",
]

#: go-cni's defaults, which ``ctr run --cni`` uses unchanged (go-cni v1.1.6, vendored by containerd 1.6.20).
CNI_CONF_DIR: Final = Path("/etc/cni/net.d")
CNI_BIN_DIR: Final = Path("/opt/cni/bin")
#: libcni's default cache directory (results of ADD, read back for DEL).
CNI_CACHE_DIR: Final = Path("/var/lib/cni")
#: containerd 1.6 puts every shim's socket here whatever its --state is (runtime/v2/shim/util_unix.go).
SHIM_SOCKET_DIR: Final = Path("/run/containerd/s")
#: Debian's busybox-static: a static binary, so the image needs no C library.
BUSYBOX: Final = Path("/bin/busybox")
#: The applets the image offers as commands.
APPLETS: Final = ("sh", "ip", "cat", "sleep", "ls")


class ContainerdError(RuntimeError):
    """containerd or ctr failed; the message has the command's output or containerd's log."""


def is_static_elf(path: Path) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter (``PT_INTERP``), i.e. statically linked.

    A dynamically linked busybox (Debian's ``busybox`` package) would need the C library inside the image.
    """
    with path.open("rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return False
        is64 = ident[4] == 2
        endian = "<" if ident[5] == 1 else ">"
        if is64:
            f.seek(0x20)
            (phoff,) = struct.unpack(endian + "Q", f.read(8))
            f.seek(0x36)
        else:
            f.seek(0x1C)
            (phoff,) = struct.unpack(endian + "I", f.read(4))
            f.seek(0x2A)
        phentsize, phnum = struct.unpack(endian + "HH", f.read(4))
        for index in range(phnum):
            f.seek(phoff + index * phentsize)
            (p_type,) = struct.unpack(endian + "I", f.read(4))
            if p_type == 3:  # PT_INTERP
                return False
    return True


def missing_busybox(busybox: Path = BUSYBOX) -> list[str]:
    """What is wrong with the busybox an offline image is built from (empty list: nothing)."""
    if not busybox.is_file():
        return [f"{busybox} missing (Debian package busybox-static)"]
    if not is_static_elf(busybox):
        return [f"{busybox} is dynamically linked; the image needs Debian's busybox-static"]
    return []


def missing_containerd_requirements(busybox: Path = BUSYBOX) -> list[str]:
    """Say what this machine lacks to run containers with containerd (empty list: nothing)."""
    return [
        *missing_tools({"containerd": "containerd", "ctr": "containerd", "runc": "runc"}),
        *missing_busybox(busybox),
    ]


def _oci_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def busybox_rootfs(busybox: Path = BUSYBOX) -> bytes:
    """An image's root file system as one uncompressed tar (a layer, or what ``podman import`` reads): busybox,
    symlinks for :data:`APPLETS`, and the directories runc mounts onto."""
    buffer = io.BytesIO()
    # Fixed owner, mode and mtime: the same busybox gives the same layer digest.
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("bin", "dev", "etc", "proc", "sys", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    return buffer.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest.removeprefix('sha256:')}")
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
    return digest


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def build_image(archive: Path, name: str, *, busybox: Path = BUSYBOX) -> str:
    """Write an OCI image archive (what ``ctr images import`` reads) holding a busybox-only image named ``name``.

    Returns the manifest's digest, which identifies the image once imported.

    The layer is gzip-compressed, as registries serve them; its uncompressed digest is the config's ``diff_id``.
    The index carries containerd's own name annotation (``io.containerd.image.name``), which ``ctr images import``
    takes as the whole image name, so no ``--base-name`` is needed; the OCI ``ref.name`` gets the tag only.
    """
    layer = busybox_rootfs(busybox)
    compressed = gzip.compress(layer, mtime=0)
    config = {
        "architecture": _oci_arch(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        config_bytes = _json_bytes(config)
        config_digest = _blob(tar, config_bytes)
        layer_digest = _blob(tar, compressed)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest,
                    "size": len(compressed),
                }
            ],
        }
        manifest_bytes = _json_bytes(manifest)
        manifest_digest = _blob(tar, manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "platform": {"architecture": _oci_arch(), "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": name.rpartition(":")[2],
                    },
                }
            ],
        }
        for member, data in (
            ("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"})),
            ("index.json", _json_bytes(index)),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return manifest_digest


def _acquire_lock(path: Path, timeout: float) -> int:
    """Take an exclusive ``flock`` on ``path``, waiting up to ``timeout`` seconds; return the descriptor."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise ContainerdError(f"{path} stayed locked for {timeout:.0f} s (another test session?)") from None
            time.sleep(0.2)


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, outermost first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    return list(reversed(missing))


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, deepest first (from ``/proc/self/mountinfo``)."""
    prefix = str(directory.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with spaces and other specials written as octal escapes.
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


@dataclass
class Containerd:
    """A containerd daemon of our own: root, state, socket and config in ``workdir``; driven with ``ctr``.

    Only one runs at a time on a host (a lock in ``lock_path``), because two of them would share containerd's fixed
    shim socket directory and, in the tests, CNI's fixed directories.
    """

    workdir: Path
    namespace: str
    lock_path: Path
    #: The daemon's log (stdout and stderr), quoted in errors.
    log_path: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lock_fd: int | None = field(default=None, init=False, repr=False)
    _created_dirs: list[Path] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "containerd.log"

    @property
    def address(self) -> Path:
        """The daemon's gRPC socket (``ctr --address``)."""
        return self.workdir / "containerd.sock"

    def _write_config(self) -> Path:
        config = self.workdir / "config.toml"
        # The CRI plugin is Kubernetes' interface and would start its own CNI handling; ctr does not need it.
        # The "opt" plugin otherwise creates /opt/containerd.
        config.write_text(
            "version = 2\n"
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            '[plugins."io.containerd.internal.v1.opt"]\n'
            f'  path = "{self.workdir / "opt"}"\n'
        )
        return config

    def start(self, timeout: float = 30.0) -> None:
        """Start the daemon and wait until ``ctr version`` reaches it."""
        self._lock_fd = _acquire_lock(self.lock_path, timeout=300.0)
        self._created_dirs = _missing_dirs(SHIM_SOCKET_DIR)
        config = self._write_config()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    "containerd",
                    "--config",
                    str(config),
                    "--root",
                    str(self.workdir / "root"),
                    "--state",
                    str(self.workdir / "state"),
                    "--address",
                    str(self.address),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise ContainerdError(f"containerd exited with {self._process.returncode}:\n{self.log()}")
            if self.address.exists() and self.ctr("version", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ContainerdError(f"containerd did not answer within {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        """The daemon's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ctr_argv(self, *args: str) -> list[str]:
        """``ctr`` talking to this daemon, in this namespace."""
        return ["ctr", "--address", str(self.address), "--namespace", self.namespace, *args]

    def ctr(self, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``ctr ARGS...``; with ``check``, a non-zero exit raises :class:`ContainerdError` with its output."""
        proc = subprocess.run(self.ctr_argv(*args), capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise ContainerdError(f"ctr {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    def run_argv(self, image: str, container: str, *command: str, options: Sequence[str] = ()) -> list[str]:
        """``ctr run --rm`` for a container whose private files (FIFOs, runc state) stay in ``workdir``.

        ``--cgroup ""`` lets runc name the cgroup after the container and remove it afterwards; containerd's
        default (``/<namespace>/<id>``) leaves the namespace's parent cgroups behind.
        """
        return self.ctr_argv(
            "run",
            "--rm",
            "--runc-root",
            str(self.workdir / "runc"),
            "--fifo-dir",
            str(self.workdir / "fifo"),
            "--cgroup",
            "",
            *options,
            image,
            container,
            *command,
        )

    def _remove_containers(self) -> None:
        # Containers a failed test left: kill their tasks so the shims exit and unmount the root file systems.
        for task in self.ctr("tasks", "list", "--quiet", check=False).stdout.split():
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
            for _ in range(50):
                if self.ctr("tasks", "delete", task, check=False).returncode == 0:
                    break
                time.sleep(0.1)
        for container in self.ctr("containers", "list", "--quiet", check=False).stdout.split():
            self.ctr("containers", "delete", container, check=False)

    def stop(self) -> list[str]:
        """Remove leftover containers, stop the daemon, delete ``workdir``; return what could not be cleaned."""
        problems: list[str] = []
        if self._process is not None:
            if self._process.poll() is None:
                self._remove_containers()
                self._process.terminate()
                try:
                    self._process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
                    problems.append("containerd did not stop on SIGTERM and was killed")
            self._process = None
        for point in mounts_under(self.workdir):
            # Never delete through a mount: unmount what a dead shim left, or leave the directory alone.
            if subprocess.run(["umount", "--lazy", point], capture_output=True, check=False).returncode != 0:
                problems.append(f"cannot unmount {point}")
        if not problems:
            shutil.rmtree(self.workdir, ignore_errors=True)
        for directory in reversed(self._created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass  # not empty: a shim or another containerd still uses it
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        return problems


@dataclass
class SystemCNI:
    """Our plugins and configuration in go-cni's fixed directories, removed again at :meth:`cleanup`.

    ``ctr run --cni`` reads only the lexically first configuration in :data:`CNI_CONF_DIR`, so a configuration that
    sorts before ``conf_name`` would silently replace ours: :meth:`blocking_configs` names them so the caller can
    refuse to run.  Files named like ours are ours (left by a killed run) and are overwritten.  Directories that did
    not exist are removed at the end if they are empty again; nothing else is touched.
    """

    conf_name: str
    plugin_names: tuple[str, ...]
    network: str
    _created_dirs: list[Path] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        # Recorded before anything runs: libcni creates CNI_CACHE_DIR/results itself on the first ADD.
        for directory in (CNI_CONF_DIR, CNI_BIN_DIR, CNI_CACHE_DIR / "results"):
            self._created_dirs += [d for d in _missing_dirs(directory) if d not in self._created_dirs]

    @property
    def conf_path(self) -> Path:
        """Where our configuration list goes."""
        return CNI_CONF_DIR / self.conf_name

    def plugin_path(self, name: str) -> Path:
        """Where an executable of ours goes."""
        return CNI_BIN_DIR / name

    def cache_entry(self, container_id: str, ifname: str = "eth0") -> Path:
        """libcni's cached result for an attachment (written on ADD, removed on a successful DEL)."""
        return CNI_CACHE_DIR / "results" / f"{self.network}-{container_id}-{ifname}"

    def blocking_configs(self) -> list[str]:
        """Configuration files in :data:`CNI_CONF_DIR` that go-cni would load instead of ours."""
        if not CNI_CONF_DIR.is_dir():
            return []
        return sorted(
            entry.name
            for entry in CNI_CONF_DIR.iterdir()
            if entry.suffix in (".conf", ".conflist", ".json") and entry.name < self.conf_name
        )

    def cleanup(self) -> None:
        """Remove our configuration first (so nothing picks it up half-removed), then our plugins and directories.

        libcni's cache entries of our network go too: the network name is ours alone, and a DEL that failed or
        never ran (a killed ``ctr``) leaves them behind.
        """
        results = CNI_CACHE_DIR / "results"
        cached = sorted(results.glob(f"{self.network}-*")) if results.is_dir() else []
        for path in [self.conf_path, *(self.plugin_path(name) for name in self.plugin_names), *cached]:
            path.unlink(missing_ok=True)
        for directory in reversed(self._created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass  # something else put files there meanwhile: not ours to remove
