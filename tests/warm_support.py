"""Warm-mode test helpers: a daemon subprocess that is always stopped and waited for, and shims built for it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rscni_py.tools.shim import build_shim

ROOT = Path(__file__).resolve().parent.parent


class WarmDaemon:
    """``rscni-py serve`` running as a subprocess; its log goes to ``log``."""

    def __init__(self, proc: subprocess.Popen[bytes], socket_path: Path, log: Path) -> None:
        self.proc = proc
        self.socket_path = socket_path
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text()

    def children(self) -> list[int]:
        """Processes whose parent is the daemon (the calls in flight)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.pid:
                    found.append(int(entry))
        return found

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; SIGKILL when it does not stop in time. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def accepts(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def start_daemon(
    plugin: Path,
    socket_path: Path,
    log: Path,
    *options: str,
    user: int | None = None,
    umask: int | None = None,
) -> WarmDaemon:
    """Start ``rscni-py serve`` and wait until its socket accepts (its documented readiness)."""

    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rscni_py", "serve", str(plugin), "--socket", str(socket_path), *options],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            umask=-1 if umask is None else umask,
            user=user,
            group=user,
            extra_groups=None if user is None else [],
        )
    daemon = WarmDaemon(proc, socket_path, log)
    try:
        wait_until(lambda: accepts(socket_path) or proc.poll() is not None, what=f"{socket_path} to accept")
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {proc.returncode}: {log.read_text()}")
    except BaseException:
        daemon.stop()
        raise
    return daemon


@contextmanager
def warm_daemon(plugin: Path, socket_path: Path, log: Path, *options: str, **kwargs: Any) -> Iterator[WarmDaemon]:
    """A daemon that is stopped and waited for when the block ends, whatever happened in it."""
    daemon = start_daemon(plugin, socket_path, log, *options, **kwargs)
    try:
        yield daemon
    finally:
        daemon.stop()


def shim_for(output: Path, socket_path: Path, fallback: Path | None = None) -> Path:
    return build_shim(output, str(socket_path), fallback=None if fallback is None else str(fallback))


def run(
    executable: Path | Sequence[str],
    env: Mapping[str, str],
    stdin: bytes = b"",
    *,
    timeout: float = 60,
    cwd: Path | str = "/",
    umask: int = -1,
) -> tuple[int, str, str]:
    """Run a plugin executable the way a runtime does: the given environment only, stdin, stdout and stderr piped."""
    argv = [str(executable)] if isinstance(executable, Path) else list(executable)
    proc = subprocess.run(
        argv, input=stdin, env=dict(env), capture_output=True, check=False, timeout=timeout, cwd=cwd, umask=umask
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def start(executable: Path, env: Mapping[str, str], stdin: bytes) -> subprocess.Popen[bytes]:
    """Start a plugin call in the background (stdin written and closed); :func:`finish` collects it."""
    proc = subprocess.Popen(
        [str(executable)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env), cwd="/"
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    proc.stdin = None
    return proc


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


class WarmPlugins:
    """Plugins installed as shims, each served by its own daemon; :meth:`stop` stops every daemon."""

    def __init__(self) -> None:
        # Short: a socket path must fit in 107 bytes, and pytest's temporary directories are long.
        self.base = Path(tempfile.mkdtemp(prefix="rscni-warm-"))
        self.daemons: list[WarmDaemon] = []

    def install(self, directory: Path, name: str, script: Path, fallback: Path | None = None) -> Path:
        """Start a daemon for ``script`` and put its shim at ``directory/name``; return the shim."""
        sock = self.base / name / "d.sock"
        self.daemons.append(start_daemon(script, sock, self.base / f"{name}.log"))
        directory.mkdir(parents=True, exist_ok=True)
        return shim_for(directory / name, sock, fallback)

    def stop(self) -> None:
        codes = [daemon.stop() for daemon in self.daemons]
        logs = [daemon.log_text() for daemon in self.daemons]
        shutil.rmtree(self.base)
        assert codes == [0] * len(codes), logs


@contextmanager
def warm_plugins() -> Iterator[WarmPlugins]:
    plugins = WarmPlugins()
    try:
        yield plugins
    finally:
        plugins.stop()
