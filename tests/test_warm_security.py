"""Warm mode's socket: private directory and socket whatever the umask, nothing followed through a symlink, callers
checked by their credentials (SO_PEERCRED), malformed requests refused and logged."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rscni_py.tools.serve import KIND_REFUSED, REFUSED_FRAME, STATUS_FRAME, STATUS_MAGIC
from tests.warm_support import ROOT, run, shim_for, warm_daemon

DEBUG = ROOT / "examples" / "debug" / "rscni_debug.py"
STRANGER = 1234
VERSION_ANSWER = (
    '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n'
)
REFUSED = {
    "cniVersion": "1.1.0",
    "code": 11,
    "msg": "the warm-mode daemon refused this call",
    "details": "the caller's user is not allowed (see the daemon's log)",
}


def serve_error(socket_path: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "rscni_py", "serve", str(DEBUG), "--socket", str(socket_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return proc.returncode, proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o777], ids=lambda m: f"umask{m:03o}")
def test_directory_and_socket_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    sock = tmp_path / "s" / "d.sock"
    with warm_daemon(DEBUG, sock, tmp_path / "log", umask=umask):
        assert (oct(sock.parent.stat().st_mode), oct(sock.lstat().st_mode)) == (oct(0o40700), oct(0o140600))


def refuse_setup(kind: str, tmp_path: Path) -> Path:
    """Prepare ``tmp_path/s/d.sock`` so that serving on it must be refused; return that path."""
    directory = tmp_path / "s"
    if kind == "symlinked directory":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        directory.symlink_to(tmp_path / "elsewhere")
    elif kind == "shared directory":
        directory.mkdir()
        directory.chmod(0o755)
    else:
        directory.mkdir(mode=0o700)
        if kind == "not a socket":
            (directory / "d.sock").write_text("")
        else:  # a symlink where the socket goes: never followed, never replaced
            (directory / "d.sock").symlink_to(tmp_path / "target")
    return directory / "d.sock"


REFUSALS = [
    ("symlinked directory", "socket directory {d}: is a symbolic link"),
    ("shared directory", "socket directory {d} has mode 0755, want 0700: give the socket a directory of its own"),
    ("not a socket", "{s} exists and is not a socket"),
    ("symlink as socket", "{s} exists and is not a socket"),
]


@pytest.mark.parametrize(("kind", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_unsafe_socket_paths_are_refused(tmp_path: Path, kind: str, message: str) -> None:
    sock = refuse_setup(kind, tmp_path)
    expected = "rscni-py serve: error: " + message.format(d=sock.parent, s=sock)
    assert serve_error(sock) == (1, expected)
    assert not (tmp_path / "target").exists()
    assert not (tmp_path / "elsewhere" / "d.sock").exists()


def test_a_second_daemon_on_the_same_socket_is_refused(tmp_path: Path) -> None:
    sock = tmp_path / "s" / "d.sock"
    with warm_daemon(DEBUG, sock, tmp_path / "log"):
        assert serve_error(sock) == (1, f"rscni-py serve: error: another daemon is serving {sock}")


def test_a_malformed_request_is_refused_and_logged(tmp_path: Path) -> None:
    with (
        warm_daemon(DEBUG, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
    ):
        conn.connect(str(daemon.socket_path))
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)
        assert STATUS_FRAME.unpack(conn.recv(STATUS_FRAME.size)) == (STATUS_MAGIC, KIND_REFUSED, REFUSED_FRAME)
    assert "rscni-py serve: refused a request: not a version 1 request (magic b'GET ', version " in daemon.log_text()


# --- callers checked by uid and group (needs root to run callers as other users) ------------------------------

GROUP = 4321  # the allowed group: any gid works, the daemon (root) gives it the directory and the socket


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A directory other users can traverse (pytest's own temporary directories are root's only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run callers as other users")
    base = Path(tempfile.mkdtemp(prefix="rscni-warm-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base)


def call_as(shim: Path, uid: int, gid: int, groups: list[int]) -> tuple[int, str]:
    proc = subprocess.run(
        [shim], env={"CNI_COMMAND": "VERSION"}, capture_output=True, text=True, check=False, timeout=30,
        user=uid, group=gid, extra_groups=groups, cwd="/",
    )  # fmt: skip
    return proc.returncode, proc.stdout


@pytest.mark.integration
def test_callers_are_checked_by_their_credentials(shared_base: Path) -> None:
    sock = shared_base / "s" / "d.sock"
    with warm_daemon(DEBUG, sock, shared_base / "log", "--allow-group", str(GROUP)) as daemon:
        assert (oct(sock.parent.stat().st_mode), oct(sock.lstat().st_mode)) == (oct(0o40710), oct(0o140660))
        assert (sock.parent.stat().st_gid, sock.lstat().st_gid) == (GROUP, GROUP)
        shim = shim_for(shared_base / "shim", sock)
        # Another user whose primary group is the allowed one: served.
        assert call_as(shim, STRANGER, GROUP, []) == (0, VERSION_ANSWER)
        # The same user without the group: the directory's mode keeps it out before the daemon sees it.
        code, out = call_as(shim, STRANGER, STRANGER, [])
        assert (code, json.loads(out)["details"]) == (1, f"{sock}: Permission denied")
        # With the group only as a supplementary group it passes the file modes, but its credentials (uid, primary
        # gid) are neither the daemon's nor the allowed ones: refused, and logged.
        code, out = call_as(shim, STRANGER, STRANGER, [GROUP])
        assert (code, json.loads(out)) == (1, REFUSED)
        assert run(shim, {"CNI_COMMAND": "VERSION"})[:2] == (0, VERSION_ANSWER)  # root, the daemon's own user
    assert "rscni-py serve: refused a caller: pid " in daemon.log_text()
    assert f", uid {STRANGER}, gid {STRANGER} (allowed: uid 0, gid {GROUP})\n" in daemon.log_text()
