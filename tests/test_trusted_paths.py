"""No write through a path another user can change (SECURITY.md, section 9; issue 12, item 5).

The rule lives in ``rscni_py.paths``; its four users are the state store, log files,
``rscni-py install`` and the debug plugin's ``cniOutput``. The attacks are planted by a real unprivileged user
(uid and gid 65534 in a forked child), in a directory under ``/tmp`` that user can reach.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from examples.debug.rscni_debug import DebugPlugin
from rscni_py.errors import CNIError
from rscni_py.paths import UntrustedPathError, ensure_trusted_dir, open_trusted_file
from rscni_py.protocol import logsetup
from rscni_py.protocol.dispatch import dispatch
from rscni_py.state import AttachmentStore
from rscni_py.tools.install import InstallError, install

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="planting files as another user needs root")


def as_nobody(action: Callable[[], object]) -> None:
    """Run ``action`` in a child process as uid and gid 65534, the unprivileged attacker; it must succeed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory under /tmp (root's, 0755) that the unprivileged user can reach, unlike pytest's tmp_path."""
    path = Path(tempfile.mkdtemp(prefix="rscni-trusted-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


@dataclass
class Planted:
    """A path the attacker controls (``path``), where the plugin is told to write, and the attacker's ``target``."""

    path: Path
    target: Path
    reason: str
    where: Path  # the directory or link the reason names


def _plant(base: Path, kind: str) -> Planted:
    target = base / "target"
    target.mkdir(mode=0o755)
    holder = base / "holder"
    holder.mkdir()
    if kind == "dir-of-another-user":
        # The attacker owns a directory on the path: it may put anything there, links included.
        os.chown(holder, NOBODY, NOBODY)
        reason = f"directory {holder} is owned by uid {NOBODY}, not by root"
    elif kind == "world-writable-dir":
        holder.chmod(0o777)
        reason = f"directory {holder} is writable by group or others without the sticky bit (mode 0777)"
    else:
        # /tmp-like: others cannot touch our entries, but their own link is theirs.
        holder.chmod(0o1777)
        reason = f"symbolic link {holder}/link is owned by uid {NOBODY}, not by root"
    as_nobody(lambda: os.symlink(target, holder / "link"))
    where = holder / "link" if kind.startswith("sticky") else holder
    return Planted(holder / "link", target, reason, where)


def _store_put(path: Path) -> str:
    with pytest.raises(UntrustedPathError) as caught:
        AttachmentStore("net1", root=path / "state").put("c1", "eth0", {"a": 1})
    return str(caught.value.strerror)


def _log_file(path: Path) -> str:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(CNIError) as caught:
            logsetup.ProcessLogging(io.StringIO()).configure(logsetup.INFO, str(path / "plugin.log"))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert (caught.value.code, caught.value.msg) == (5, f"cannot open log file {json.dumps(str(path / 'plugin.log'))}")
    return caught.value.details


def _install(path: Path) -> str:
    bundle = path.parent.parent / "plugin"
    bundle.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(InstallError) as caught:
        install(bundle, bin_dir=path / "bin")
    prefix = f"cannot install into bin dir {path / 'bin'}: "
    assert str(caught.value).startswith(prefix)
    return str(caught.value)[len(prefix) :]


def _debug_output(path: Path) -> str:
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0"}
    conf = {"cniVersion": "1.1.0", "name": "net1", "type": "rscni-debug", "cniOutput": str(path / "out")}
    out = io.StringIO()
    code = dispatch(DebugPlugin, {**env, "CNI_PATH": "/opt/cni/bin"}, io.BytesIO(json.dumps(conf).encode()), out, out)
    answer: dict[str, Any] = json.loads(out.getvalue())
    assert (code, answer["code"], answer["msg"]) == (1, 5, f"cniOutput: cannot use directory {path / 'out'}")
    return str(answer["details"])


USERS: dict[str, Callable[[Path], str]] = {
    "state-store": _store_put,
    "log-file": _log_file,
    "install": _install,
    "debug-cniOutput": _debug_output,
}


@pytest.mark.parametrize("kind", ["dir-of-another-user", "world-writable-dir", "sticky-dir-link-of-another-user"])
@pytest.mark.parametrize("user", USERS)
def test_planted_links_are_not_followed(base: Path, kind: str, user: str) -> None:
    planted = _plant(base, kind)
    reason = USERS[user](planted.path)
    # The log file's error quotes the OSError whole; the others give its reason.
    expected = f"[Errno 13] {planted.reason}: '{planted.where}'" if user == "log-file" else planted.reason
    assert reason == expected
    assert list(planted.target.iterdir()) == []


def test_a_link_of_root_in_a_sticky_directory_is_followed(base: Path) -> None:
    target = base / "target"
    target.mkdir(mode=0o700)
    sticky = base / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (sticky / "link").symlink_to("../target")  # relative, with "..": walked by the same rules
    AttachmentStore("net1", root=sticky / "link" / "state").put("c1", "eth0", {"a": 1})
    assert [p.relative_to(target).as_posix() for p in sorted(target.rglob("*"))] == [
        "state",
        "state/net1",
        "state/net1/c1:eth0.json",
    ]


def test_a_directory_another_user_created_first_is_refused(base: Path) -> None:
    sticky = base / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    as_nobody((sticky / "out").mkdir)
    with pytest.raises(UntrustedPathError) as caught:
        ensure_trusted_dir(sticky / "out" / "records", create_mode=0o755)
    assert caught.value.strerror == f"directory {sticky}/out is owned by uid {NOBODY}, not by root"
    assert list((sticky / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("plant", "reason"),
    [
        (lambda log: log.write_text("theirs\n"), "file {log} is owned by uid 65534, not by root"),
        (os.mkfifo, "{log} is not a regular file"),
    ],
    ids=["file-of-another-user", "fifo"],
)
def test_a_log_file_another_user_planted_is_refused(base: Path, plant: Callable[[Path], object], reason: str) -> None:
    sticky = base / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    log = sticky / "plugin.log"
    as_nobody(lambda: plant(log))
    with pytest.raises(UntrustedPathError) as caught:
        open_trusted_file(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    assert caught.value.strerror == reason.format(log=log)


def test_a_hard_link_is_refused_as_a_log_file(base: Path) -> None:
    # Where hard links to others' files are allowed (fs.protected_hardlinks=0), appending through one would
    # write into the linked file.
    (base / "precious").write_text("keep\n")
    os.link(base / "precious", base / "plugin.log")
    with pytest.raises(UntrustedPathError) as caught:
        open_trusted_file(base / "plugin.log", os.O_WRONLY | os.O_APPEND)
    assert caught.value.strerror == f"file {base}/plugin.log has 2 links"
    assert (base / "precious").read_text() == "keep\n"


def _modes(base: Path, *names: str) -> dict[str, int]:
    return {name: stat.S_IMODE((base / name).stat().st_mode) for name in names}


def test_missing_directories_get_fixed_modes_under_umask_000(base: Path, umask_000: None) -> None:
    (base / "plugin").write_bytes(b"#!/bin/sh\n")
    (base / "net.conf").write_text('{"cniVersion": "1.0.0", "name": "n", "type": "plugin"}')
    install(base / "plugin", bin_dir=base / "opt" / "cni" / "bin", conf=base / "net.conf", conf_dir=base / "etc" / "d")
    AttachmentStore("net1", root=base / "var" / "lib" / "rscni").put("c1", "eth0", {})
    assert _modes(base, "opt", "opt/cni", "opt/cni/bin", "etc", "etc/d", "var", "var/lib", "var/lib/rscni") == {
        "opt": 0o755,
        "opt/cni": 0o755,
        "opt/cni/bin": 0o755,
        "etc": 0o755,
        "etc/d": 0o755,
        "var": 0o755,
        "var/lib": 0o755,
        "var/lib/rscni": 0o700,
    }


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775, 0o757])
def test_install_refuses_a_bin_dir_others_can_write(base: Path, mode: int) -> None:
    (base / "plugin").write_bytes(b"#!/bin/sh\n")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    bin_dir.chmod(mode)
    with pytest.raises(InstallError) as caught:
        install(base / "plugin", bin_dir=bin_dir)
    assert str(caught.value) == (
        f"cannot install into bin dir {bin_dir}: directory {bin_dir} is writable by group or others (mode {mode:04o})"
    )
    assert list(bin_dir.iterdir()) == []


def test_links_of_root_are_walked_by_the_same_rules(base: Path) -> None:
    (base / "real").mkdir(mode=0o700)
    (base / "abs").symlink_to(base / "real")  # absolute: the walk starts again from /
    (base / "rel").symlink_to("abs/../real/x")  # relative, through another link and ".."
    (base / "loop").symlink_to("loop")
    ensure_trusted_dir(base / "abs" / "sub", create_mode=0o755)
    ensure_trusted_dir(base / "rel", create_mode=0o755)
    assert sorted(p.name for p in (base / "real").iterdir()) == ["sub", "x"]
    with pytest.raises(OSError) as caught:
        ensure_trusted_dir(base / "loop")
    assert str(caught.value) == f"[Errno 40] Too many levels of symbolic links: '{base}/loop'"
