"""Tests for ``rscni-py install``: atomic replacement, file modes and the error for each kind of bad input."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from rscni_py.tools import install as install_module
from rscni_py.tools.install import (
    DEFAULT_BIN_DIR,
    DEFAULT_CONF_DIR,
    InstallError,
    add_install_arguments,
    atomic_write,
    install,
    install_main,
    missing_plugin_types,
)

CONFLIST = {
    "cniVersion": "1.0.0",
    "name": "demo",
    "plugins": [{"type": "bridge", "bridge": "cni0"}, {"type": "demo-plugin"}],
}


def _zipapp(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return b"#!/usr/bin/python3 -I\n" + buffer.getvalue()


#: What ``rscni-py bundle`` makes: a ``#!`` line and a zip archive.
BUNDLE = _zipapp({"__main__.py": "print('plugin body')\n"})


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def plugin_file(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "demo-plugin.pyz"
    path.parent.mkdir()
    path.write_bytes(BUNDLE)
    return path


@pytest.fixture
def conflist(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "10-demo.conflist"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(CONFLIST))
    return path


def test_install_binary_and_conf(tmp_path: Path, plugin_file: Path, conflist: Path) -> None:
    bin_dir, conf_dir = tmp_path / "opt" / "cni" / "bin", tmp_path / "etc" / "cni" / "net.d"

    installed = install(plugin_file, bin_dir=bin_dir, conf=conflist, conf_dir=conf_dir)

    # The executable drops ".pyz", since a config's "type" names the file a runtime runs.
    assert installed == [bin_dir / "demo-plugin", conf_dir / "10-demo.conflist"]
    assert (bin_dir / "demo-plugin").read_bytes() == plugin_file.read_bytes()
    assert (conf_dir / "10-demo.conflist").read_bytes() == conflist.read_bytes()
    assert _mode(bin_dir / "demo-plugin") == 0o755
    assert _mode(conf_dir / "10-demo.conflist") == 0o644
    # No temporary files are left next to the targets.
    assert sorted(p.name for p in bin_dir.iterdir()) == ["demo-plugin"]
    assert sorted(p.name for p in conf_dir.iterdir()) == ["10-demo.conflist"]


@pytest.mark.parametrize(
    ("file_name", "name", "expected"),
    [
        ("plug.pyz", None, "plug"),
        ("plug", None, "plug"),
        ("plug.bin", None, "plug.bin"),
        ("plug.pyz", "other", "other"),
    ],
    ids=["pyz-suffix-dropped", "no-suffix", "other-suffix-kept", "explicit-name"],
)
def test_installed_name(tmp_path: Path, file_name: str, name: str | None, expected: str) -> None:
    source = tmp_path / file_name
    source.write_bytes(b"x")
    assert install(source, bin_dir=tmp_path / "bin", name=name) == [tmp_path / "bin" / expected]


def test_install_replaces_existing_file_and_mode(tmp_path: Path, plugin_file: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = bin_dir / "demo-plugin"
    old.write_bytes(b"old version")
    old.chmod(0o600)
    old_inode = old.stat().st_ino

    install(plugin_file, bin_dir=bin_dir)

    assert old.read_bytes() == plugin_file.read_bytes()
    assert _mode(old) == 0o755
    # A new inode: a process still running the old binary keeps its file (no "text file busy").
    assert old.stat().st_ino != old_inode


def _naive_write(target: Path, write: Callable[[IO[bytes]], object], *, mode: int) -> None:
    """A non-atomic writer (truncate, then write in place), used to prove the reader can catch one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write(handle)
    target.chmod(mode)


@pytest.mark.parametrize(
    ("writer", "expect_partial"),
    [(atomic_write, False), (_naive_write, True)],
    ids=["atomic-never-partial", "naive-writer-is-caught"],
)
def test_reader_in_the_middle_of_an_install_sees_a_whole_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: Callable[..., None], expect_partial: bool
) -> None:
    """Each install stops after its first chunk is written, and the target is read right then.

    No timing involved: the read happens at the worst moment every time.  The second case swaps in a writer that is
    not atomic and checks that the same read catches it, so the first case would fail if install() wrote in place.
    """
    seen: list[bytes] = []

    class ReadAfterFirstChunk:
        def __init__(self, handle: IO[bytes], target: Path) -> None:
            self.handle, self.target, self.writes = handle, target, 0

        def write(self, data: bytes) -> int:
            written = self.handle.write(data)
            self.handle.flush()
            self.writes += 1
            if self.writes == 1:
                seen.append(self.target.read_bytes())
            return written

    def observed(target: Path, write: Callable[[IO[bytes]], object], *, mode: int) -> None:
        writer(target, lambda handle: write(ReadAfterFirstChunk(handle, target)), mode=mode)  # type: ignore[arg-type]

    chunk = install_module._COPY_CHUNK
    versions = [bytes([65 + i]) * (3 * chunk) for i in range(2)]
    sources = []
    for i, content in enumerate(versions):
        source = tmp_path / f"v{i}" / "plug"
        source.parent.mkdir()
        source.write_bytes(content)
        sources.append(source)
    bin_dir = tmp_path / "bin"
    install(sources[0], bin_dir=bin_dir)
    monkeypatch.setattr(install_module, "atomic_write", observed)
    for round_ in range(4):
        install(sources[(round_ + 1) % 2], bin_dir=bin_dir)
    assert (bin_dir / "plug").read_bytes() == versions[0]
    if expect_partial:
        # Truncated, then one chunk of the new version: what a runtime could have executed.
        assert seen == [versions[(round_ + 1) % 2][:chunk] for round_ in range(4)]
    else:
        # Always the previous version, whole.
        assert seen == [versions[round_ % 2] for round_ in range(4)]


@pytest.fixture
def workdir(tmp_path: Path, plugin_file: Path) -> Iterator[Path]:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-dir").mkdir()
    yield tmp_path


def _conf(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "confs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


# (id, keyword arguments relative to tmp_path, expected message with {tmp} for tmp_path)
BAD_INPUT: list[tuple[str, dict[str, str], str]] = [
    # The bundle itself.
    ("missing-bundle", {"bundle": "nope.pyz"}, "bundle not found: {tmp}/nope.pyz"),
    ("bundle-is-directory", {"bundle": "a-dir"}, "bundle is a directory, not a file: {tmp}/a-dir"),
    ("bad-name-slash", {"name": "a/b"}, "invalid plugin name 'a/b': it must be a plain file name"),
    ("bad-name-dotdot", {"name": ".."}, "invalid plugin name '..': it must be a plain file name"),
    # Where it goes.
    ("bin-dir-is-file", {"bin_dir": "a-file"}, "bin dir is not a directory: {tmp}/a-file"),
    (
        "bin-dir-below-file",
        {"bin_dir": "a-file/bin"},
        "cannot install into bin dir {tmp}/a-file/bin: Not a directory",
    ),
    ("conf-dir-is-file", {"conf": "ok.conflist", "conf_dir": "a-file"}, "conf dir is not a directory: {tmp}/a-file"),
    ("conf-dir-without-conf", {"conf_dir": "a-dir"}, "--conf-dir needs --conf"),
    # The network configuration.
    ("missing-conf", {"conf": "none.conflist"}, "network config not found: {tmp}/confs/none.conflist"),
    (
        "conf-not-json",
        {"conf": "bad.conflist"},
        "network config {tmp}/confs/bad.conflist is not valid JSON: Expecting value: line 1 column 1 (char 0)",
    ),
    (
        "conf-not-object",
        {"conf": "list.conf"},
        "network config {tmp}/confs/list.conf: expected a JSON object, got list",
    ),
    (
        "conf-without-type",
        {"conf": "notype.conf"},
        "network config {tmp}/confs/notype.conf: missing string field 'type'",
    ),
    (
        "conflist-named-conf",
        {"conf": "list-in.conf"},
        "network config {tmp}/confs/list-in.conf: missing string field 'type' "
        "(a configuration list with 'plugins' must be named *.conflist)",
    ),
    (
        "conflist-without-plugins",
        {"conf": "noplugins.conflist"},
        "network config list {tmp}/confs/noplugins.conflist: missing non-empty array field 'plugins'",
    ),
    (
        "conflist-without-name",
        {"conf": "noname.conflist"},
        "network config list {tmp}/confs/noname.conflist: missing string field 'name'",
    ),
    (
        "conflist-plugin-without-type",
        {"conf": "plugin-notype.conflist"},
        "network config list {tmp}/confs/plugin-notype.conflist: missing string field 'plugins[1].type'",
    ),
    (
        "conf-wrong-suffix",
        {"conf": "net.yaml"},
        "network config {tmp}/confs/net.yaml: the file name must end in .conflist, .conf or .json "
        "(runtimes ignore other files)",
    ),
]

CONF_TEXTS = {
    "ok.conflist": json.dumps(CONFLIST),
    "bad.conflist": "",
    "list.conf": "[]",
    "notype.conf": '{"cniVersion": "1.0.0", "name": "n"}',
    "list-in.conf": json.dumps(CONFLIST),
    "noplugins.conflist": '{"cniVersion": "1.0.0", "name": "n", "plugins": []}',
    "noname.conflist": '{"cniVersion": "1.0.0", "plugins": [{"type": "x"}]}',
    "plugin-notype.conflist": '{"name": "n", "plugins": [{"type": "x"}, {"bridge": "cni0"}]}',
    "net.yaml": json.dumps(CONFLIST),
}


@pytest.mark.parametrize(("case", "kwargs", "message"), BAD_INPUT, ids=[case for case, _, _ in BAD_INPUT])
def test_bad_input(workdir: Path, plugin_file: Path, case: str, kwargs: dict[str, str], message: str) -> None:
    for name, text in CONF_TEXTS.items():
        _conf(workdir, name, text)
    bundle = workdir / kwargs["bundle"] if "bundle" in kwargs else plugin_file
    bin_dir = workdir / kwargs.get("bin_dir", "out/bin")
    conf = workdir / "confs" / kwargs["conf"] if "conf" in kwargs else None
    conf_dir = workdir / kwargs["conf_dir"] if "conf_dir" in kwargs else None

    with pytest.raises(InstallError) as caught:
        install(bundle, bin_dir=bin_dir, name=kwargs.get("name"), conf=conf, conf_dir=conf_dir)

    assert str(caught.value) == message.format(tmp=workdir)
    # Bad input is refused before anything is written.
    assert not (workdir / "out").exists()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rscni-py install")
    add_install_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_defaults() -> None:
    ns = _parse(["plug.pyz"])
    assert vars(ns) == {
        "bundle": Path("plug.pyz"),
        "bin_dir": DEFAULT_BIN_DIR,
        "name": None,
        "conf": None,
        "conf_dir": None,
        "allow_script": False,
    }
    assert (Path("/opt/cni/bin"), Path("/etc/cni/net.d")) == (DEFAULT_BIN_DIR, DEFAULT_CONF_DIR)


def test_install_main_success(
    tmp_path: Path, plugin_file: Path, conflist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "bridge").write_bytes(b"\x7fELF")  # the conflist's first plugin, already there
    argv = [str(plugin_file), "--bin-dir", str(tmp_path / "bin")]
    argv += ["--conf", str(conflist), "--conf-dir", str(tmp_path / "net.d")]
    assert install_main(_parse(argv)) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"installed {tmp_path}/bin/demo-plugin\ninstalled {tmp_path}/net.d/10-demo.conflist\n", "")


def test_install_main_warns_about_plugin_types_it_cannot_find(
    tmp_path: Path, plugin_file: Path, conflist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The configuration names plugins that are neither installed now nor in the bin dir: installed, with a warning
    (a runtime may look in more directories than this one, such as Debian's /usr/lib/cni)."""
    argv = [str(plugin_file), "--bin-dir", str(tmp_path / "bin"), "--name", "demo"]
    argv += ["--conf", str(conflist), "--conf-dir", str(tmp_path / "net.d")]
    assert install_main(_parse(argv)) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (
        f"installed {tmp_path}/bin/demo\ninstalled {tmp_path}/net.d/10-demo.conflist\n",
        f"rscni-py install: warning: network config {conflist} names plugin types 'bridge', 'demo-plugin', found "
        f"neither among the executables installed now nor in {tmp_path}/bin: the runtime fails every ADD on this "
        "network unless it finds them in another of its plugin directories\n",
    )


@pytest.mark.parametrize(
    ("conf", "present", "missing"),
    [
        ({"name": "n", "plugins": [{"type": "mine"}, {"type": "bridge"}, {"type": "bridge"}]}, [], ["bridge"]),
        ({"name": "n", "plugins": [{"type": "mine"}, {"type": "bridge"}]}, ["bridge"], []),
        ({"name": "n", "type": "other"}, [], ["other"]),
        ({"name": "n", "type": "mine"}, [], []),
    ],
    ids=["conflist-missing-once", "conflist-complete", "conf-missing", "conf-is-the-plugin"],
)
def test_missing_plugin_types(tmp_path: Path, conf: dict[str, object], present: list[str], missing: list[str]) -> None:
    for name in present:
        (tmp_path / name).write_bytes(b"")
    assert missing_plugin_types(json.dumps(conf).encode(), tmp_path, "mine") == missing


PYTHON_SOURCE_ERROR = (
    "{path} is Python source, not a bundle: it runs only where rscni-py and everything it imports are installed for "
    "the node's interpreter; build a one-file bundle with 'rscni-py bundle {path}', or pass --allow-script to install "
    "it as it is"
)


@pytest.mark.parametrize(
    ("file_name", "content", "refused"),
    [
        ("plugin.py", b"from rscni_py import CNIPlugin\n", True),
        ("plugin", b"#!/usr/bin/env python3\nfrom rscni_py import CNIPlugin\n", True),
        ("plugin", b"#!/usr/bin/python3.11 -I\nimport sys\n", True),
        ("plugin.pyz", BUNDLE, False),
        ("plugin", b"#!/bin/sh\nexec /usr/lib/cni/bridge\n", False),
        ("plugin", b"\x7fELF\x02\x01\x01", False),
    ],
    ids=["py-file", "env-python-script", "python-script", "bundle", "shell-script", "elf"],
)
def test_python_source_is_refused_unless_allowed(tmp_path: Path, file_name: str, content: bytes, refused: bool) -> None:
    source = tmp_path / "src" / file_name
    source.parent.mkdir()
    source.write_bytes(content)
    if refused:
        with pytest.raises(InstallError) as caught:
            install(source, bin_dir=tmp_path / "bin")
        assert str(caught.value) == PYTHON_SOURCE_ERROR.format(path=source)
        assert not (tmp_path / "bin").exists()
    installed = install(source, bin_dir=tmp_path / "bin", allow_script=refused)
    assert [path.read_bytes() for path in installed] == [content]


def test_install_main_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert install_main(_parse([str(tmp_path / "missing"), "--bin-dir", str(tmp_path / "bin")])) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"rscni-py install: error: bundle not found: {tmp_path}/missing\n")


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs /usr/bin/python3 for an unprivileged run")
def test_unwritable_bin_dir_as_unprivileged_user() -> None:
    """As a user without write permission on the bin dir, install fails with one line and exit code 1."""
    # pytest's tmp_path is private to root, so use a world-readable directory the unprivileged user can reach.
    root = Path(tempfile.mkdtemp(prefix="rscni-install-test-"))
    try:
        root.chmod(0o755)
        (root / "plug").write_bytes(b"plugin")
        (root / "plug").chmod(0o644)
        bin_dir = root / "bin"
        bin_dir.mkdir(mode=0o555)
        # The system Python imports this checkout's rscni_py (its own standard library is all the module needs).
        script = (
            "import sys\n"
            f"sys.path.insert(0, {str(Path(install_module.__file__).parents[2])!r})\n"
            "from rscni_py.tools import install as module\n"
            "import argparse\n"
            "parser = argparse.ArgumentParser()\n"
            "module.add_install_arguments(parser)\n"
            "sys.exit(module.install_main(parser.parse_args(sys.argv[1:])))\n"
        )
        as_root = os.geteuid() == 0
        # Root may write anywhere, so drop to "nobody"; /root's pyenv is out of its reach, the system Python is not.
        interpreter = "/usr/bin/python3" if as_root else sys.executable
        completed = subprocess.run(
            [interpreter, "-I", "-c", script, str(root / "plug"), "--bin-dir", str(bin_dir)],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            user=65534 if as_root else None,
            group=65534 if as_root else None,
            extra_groups=[] if as_root else None,
        )
        assert (completed.returncode, completed.stdout, completed.stderr) == (
            1,
            "",
            f"rscni-py install: error: cannot install into bin dir {bin_dir}: Permission denied\n",
        )
        assert list(bin_dir.iterdir()) == []
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)
