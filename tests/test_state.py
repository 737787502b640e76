"""Tests for rscni_py.state: keys, file layout, atomic writes, locking across processes, GC and DEL helpers."""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rscni_py import state
from rscni_py.state import (
    ALREADY_GONE_ERRNOS,
    DELEGATIONS_KEY,
    AttachmentKey,
    AttachmentStore,
    CorruptStateError,
    GCError,
    GCFailure,
    GCReport,
    InvalidDocumentError,
    InvalidKeyError,
    LockTimeoutError,
    StateError,
    UnsafePathError,
    is_already_gone,
    release_delegations,
    remove_stale_attachments,
    stale_attachments,
    tolerate_missing,
    with_delegation,
)
from rscni_py.testing.fake_exec import FakeExecutor

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore("net1", root=tmp_path / "state")


def _error_fields(exc: StateError) -> tuple[str, str, str, int]:
    return (type(exc).__name__, exc.msg, exc.details, exc.cni_code)


def _spawn(code: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    """Start a separate Python process running ``code`` with the worktree importable."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> None:
    """Wait for a process started by _spawn and close its pipes, whatever state they are in."""
    process.wait(timeout=30)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


# ---------------------------------------------------------------------------------------------------------------
# Key validation

LONGEST_ID = "a" * state.MAX_CONTAINER_ID_BYTES

VALID_KEYS = [
    # container IDs: the CNI regex, one character is enough
    ("a", "eth0"),
    ("A1_b.c-d", "eth0"),
    ("0123456789abcdef" * 4, "eth0"),
    (LONGEST_ID, "eth0"),
    # ifnames: up to 15 bytes, anything but "/", ":" and whitespace
    ("c1", "a" * 15),
    ("c1", "é" * 7),  # 14 bytes
    ("c1", "net1.100"),
    ("c1", "..."),
    ("c1", "%"),
    ("c1", "-"),
    ("c1", "\x00"),  # Go accepts NUL; the file name escapes it
    ("c1", "\x1c"),  # Python's isspace says yes, Go's unicode.IsSpace says no: follow Go
    ("c1", "\udcff"),  # the byte 0xff from a non-UTF-8 CNI_IFNAME (os.environ's surrogateescape)
]


@pytest.mark.parametrize(("container_id", "ifname"), VALID_KEYS, ids=[repr(k)[:40] for k in VALID_KEYS])
def test_valid_keys_are_accepted(store: AttachmentStore, container_id: str, ifname: str) -> None:
    store.put(container_id, ifname, {"ok": True})
    assert store.get(container_id, ifname) == {"ok": True}
    assert store.list() == [AttachmentKey(container_id, ifname)]


INVALID_KEYS = [
    # container IDs
    ("", "eth0", ("containerID", "missing containerID", "", 4)),
    ("-abc", "eth0", ("containerID", "invalid characters in containerID", "-abc", 4)),
    (".abc", "eth0", ("containerID", "invalid characters in containerID", ".abc", 4)),
    ("..", "eth0", ("containerID", "invalid characters in containerID", "..", 4)),
    ("a/b", "eth0", ("containerID", "invalid characters in containerID", "a/b", 4)),
    ("../../etc", "eth0", ("containerID", "invalid characters in containerID", "../../etc", 4)),
    ("abc\n", "eth0", ("containerID", "invalid characters in containerID", "abc\n", 4)),
    ("a b", "eth0", ("containerID", "invalid characters in containerID", "a b", 4)),
    ("a:b", "eth0", ("containerID", "invalid characters in containerID", "a:b", 4)),
    ("é", "eth0", ("containerID", "invalid characters in containerID", "é", 4)),
    (
        LONGEST_ID + "a",
        "eth0",
        (
            "containerID",
            "containerID is too long for the state store",
            f"containerID should be at most {state.MAX_CONTAINER_ID_BYTES} characters",
            4,
        ),
    ),
    # ifnames, in Go's order of checks
    ("c1", "", ("ifname", "interface name is empty", "", 4)),
    (
        "c1",
        "a" * 16,
        ("ifname", "interface name is too long", "interface name should be less than 16 characters", 4),
    ),
    (
        "c1",
        "é" * 8,
        ("ifname", "interface name is too long", "interface name should be less than 16 characters", 4),
    ),
    ("c1", ".", ("ifname", "interface name is . or ..", ".", 4)),
    ("c1", "..", ("ifname", "interface name is . or ..", "..", 4)),
    ("c1", "a/b", ("ifname", "interface name contains / or : or whitespace characters", "a/b", 4)),
    ("c1", "../x", ("ifname", "interface name contains / or : or whitespace characters", "../x", 4)),
    ("c1", "a:b", ("ifname", "interface name contains / or : or whitespace characters", "a:b", 4)),
    ("c1", "a b", ("ifname", "interface name contains / or : or whitespace characters", "a b", 4)),
    ("c1", "eth0\n", ("ifname", "interface name contains / or : or whitespace characters", "eth0\n", 4)),
    ("c1", "a\u00a0b", ("ifname", "interface name contains / or : or whitespace characters", "a\u00a0b", 4)),
    ("c1", "a\u3000", ("ifname", "interface name contains / or : or whitespace characters", "a\u3000", 4)),
    # strings that cannot come from the environment (they would make two names map to one file)
    (
        "c1",
        "\udcc3\udca9",
        ("ifname", "interface name is not valid UTF-8 or raw bytes", repr("\udcc3\udca9"), 4),
    ),
    ("c1", "\ud800", ("ifname", "interface name is not valid UTF-8 or raw bytes", repr("\ud800"), 4)),
]


@pytest.mark.parametrize(
    ("container_id", "ifname", "expected"), INVALID_KEYS, ids=[repr(k[:2])[:40] for k in INVALID_KEYS]
)
def test_invalid_keys_are_refused_everywhere(
    store: AttachmentStore, container_id: str, ifname: str, expected: tuple[str, str, str, int]
) -> None:
    for operation in (
        lambda: store.path(container_id, ifname),
        lambda: store.put(container_id, ifname, {}),
        lambda: store.get(container_id, ifname),
        lambda: store.delete(container_id, ifname),
    ):
        with pytest.raises(InvalidKeyError) as info:
            operation()
        assert (info.value.field, info.value.msg, info.value.details, info.value.cni_code) == expected
        assert info.value.value == (ifname if expected[0] == "ifname" else container_id)
    # Nothing was created, not even the directory.
    assert not store.root.exists()
    assert AttachmentKey(container_id, ifname) not in store


INVALID_NETWORKS = [
    ("", ("missing network name", "", 7)),
    ("../etc", ("invalid characters found in network name", "../etc", 7)),
    ("a/b", ("invalid characters found in network name", "a/b", 7)),
    (".hidden", ("invalid characters found in network name", ".hidden", 7)),
    ("..", ("invalid characters found in network name", "..", 7)),
    ("net\n", ("invalid characters found in network name", "net\n", 7)),
    (
        "n" * 256,
        ("network name is too long for the state store", "network name should be at most 255 characters", 7),
    ),
]


@pytest.mark.parametrize(("network", "expected"), INVALID_NETWORKS, ids=[n[:20] for n, _ in INVALID_NETWORKS])
def test_invalid_network_names_are_refused(tmp_path: Path, network: str, expected: tuple[str, str, int]) -> None:
    with pytest.raises(InvalidKeyError) as info:
        AttachmentStore(network, root=tmp_path)
    assert (info.value.field, info.value.msg, info.value.details, info.value.cni_code) == ("network name", *expected)
    # Printed like every CNIError, as Go prints its error: "msg; details".
    assert str(info.value) == (f"{expected[0]}; {expected[1]}" if expected[1] else expected[0])


def test_store_directory_is_root_slash_network(tmp_path: Path) -> None:
    assert AttachmentStore("n" * 255, root=tmp_path).directory == tmp_path / ("n" * 255)
    assert AttachmentStore("my-net.v1", root=tmp_path).directory == tmp_path / "my-net.v1"
    assert AttachmentStore("mynet").directory == Path("/var/lib/cni/rscni-py/mynet")


# ---------------------------------------------------------------------------------------------------------------
# File names

FILE_NAMES = [
    ("abc", "eth0", "abc:eth0.json"),
    ("abc", "net1.100", "abc:net1.100.json"),
    ("abc", "...", "abc:....json"),
    ("abc", "a%b", "abc:a%25b.json"),
    ("abc", "é", "abc:%C3%A9.json"),
    ("abc", "\x00", "abc:%00.json"),
    ("abc", "\udcff", "abc:%FF.json"),
    ("a.b-c_d", "A_b-9", "a.b-c_d:A_b-9.json"),
]


@pytest.mark.parametrize(("container_id", "ifname", "name"), FILE_NAMES, ids=[n for _, _, n in FILE_NAMES])
def test_file_names(container_id: str, ifname: str, name: str) -> None:
    assert state._encode_filename(container_id, ifname) == name
    assert state._decode_filename(name) == AttachmentKey(container_id, ifname)


FOREIGN_NAMES = [
    ".lock",
    ".tmp-abc:eth0.json",
    "abc.json",  # no separator
    "abc:eth0",  # no suffix
    "abc:%41.json",  # non-canonical escape of "A"
    "abc:%c3%a9.json",  # lower-case escape
    "abc:%zz.json",
    "abc:%4.json",
    "abc:é.json",  # unescaped non-ASCII
    "abc:a b.json",
    "-abc:eth0.json",  # invalid container ID
    "abc:.json",  # empty ifname
    "abc:..json",  # ifname "."
    "abc:%2F.json",  # ifname "/"
    "abc:%3A.json",  # ifname ":"
    "README",
]


@pytest.mark.parametrize("name", FOREIGN_NAMES)
def test_names_this_module_never_writes_are_not_attachments(name: str) -> None:
    assert state._decode_filename(name) is None


container_ids = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,80}\Z")
# Any code point, plus the lone surrogates os.environ produces for non-UTF-8 bytes.
ifnames = st.text(
    st.one_of(st.characters(), st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)), min_size=1, max_size=15
)


# Small alphabets, so that pairs of equal or look-alike keys (escape sequences, raw bytes vs. the character they
# would decode to) come up often.
near_container_ids = st.sampled_from(["a", "A", "a.b", "a-b", "a_b"])
near_ifnames = st.text(
    st.sampled_from(["a", "A", "%", "4", "1", "C", "3", "é", "Ã", "©", "\udcc3", "\udca9", "\x00", ".", "-"]),
    min_size=1,
    max_size=6,
)


def _valid(container_id: str, ifname: str) -> bool:
    try:
        state._encode_filename(container_id, ifname)
    except InvalidKeyError:
        return False
    return True


@given(st.one_of(container_ids, near_container_ids), st.one_of(ifnames, near_ifnames))
@settings(max_examples=400, deadline=None)
def test_file_name_round_trips_and_stays_inside_the_store(container_id: str, ifname: str) -> None:
    assume(_valid(container_id, ifname))
    name = state._encode_filename(container_id, ifname)
    # Round trip: decoding gives the key back, so no two keys can share a name.
    assert state._decode_filename(name) == AttachmentKey(container_id, ifname)
    # One directory entry, never hidden, short enough for the file system.
    assert "/" not in name and "\x00" not in name
    assert not name.startswith(".") and name not in (".", "..")
    assert len(os.fsencode(name)) <= 255
    # path() needs no directory on disk; realpath resolves what exists and keeps the rest.
    store = AttachmentStore("n", root="/nonexistent/rscni-py-test")
    path = store.path(container_id, ifname)
    assert path.parent == store.directory
    assert os.path.dirname(os.path.realpath(path)) == os.path.realpath(store.directory)


@given(near_container_ids, near_ifnames, near_container_ids, near_ifnames)
@settings(max_examples=300, deadline=None)
def test_file_names_are_injective(cid1: str, if1: str, cid2: str, if2: str) -> None:
    assume(_valid(cid1, if1) and _valid(cid2, if2))
    same_name = state._encode_filename(cid1, if1) == state._encode_filename(cid2, if2)
    assert same_name == ((cid1, if1) == (cid2, if2))


@given(st.lists(st.tuples(st.sampled_from(["c1", "c1.x", "c1-x", "C1"]), ifnames), max_size=20))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_distinct_keys_get_distinct_files_on_disk(keys: list[tuple[str, str]]) -> None:
    keys = [k for k in keys if _valid(*k)]
    # Durability is not what this test is about; skipping fsync keeps it fast.
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(os, "fsync"):
        store = AttachmentStore("n", root=tmp)
        for i, (container_id, ifname) in enumerate(keys):
            store.put(container_id, ifname, {"i": i})
        expected = {AttachmentKey(c, i): n for n, (c, i) in enumerate(keys)}  # the last put of a key wins
        assert store.list() == sorted(expected)
        assert {key: doc["i"] for key, doc in store.items()} == expected


# ---------------------------------------------------------------------------------------------------------------
# Documents


def test_put_get_delete_list(store: AttachmentStore) -> None:
    assert store.list() == []
    assert store.get("c1", "eth0") is None
    store.put("c1", "eth0", {"ips": ["10.0.0.2/24"], "mac": "aa:bb:cc:dd:ee:ff"})
    store.put("c2", "eth0", {"n": 1})
    store.put("c1", "net1", {"nested": {"a": [1, 2.5, None, True]}})
    assert store.list() == [AttachmentKey("c1", "eth0"), AttachmentKey("c1", "net1"), AttachmentKey("c2", "eth0")]
    assert store.get("c1", "eth0") == {"ips": ["10.0.0.2/24"], "mac": "aa:bb:cc:dd:ee:ff"}
    assert dict(store.items()) == {
        AttachmentKey("c1", "eth0"): {"ips": ["10.0.0.2/24"], "mac": "aa:bb:cc:dd:ee:ff"},
        AttachmentKey("c1", "net1"): {"nested": {"a": [1, 2.5, None, True]}},
        AttachmentKey("c2", "eth0"): {"n": 1},
    }
    store.put("c2", "eth0", {"n": 2})
    assert store.get("c2", "eth0") == {"n": 2}
    assert AttachmentKey("c2", "eth0") in store
    assert store.delete("c2", "eth0") is True
    # Deleting what is not there is a success (DEL may be called more than once).
    assert store.delete("c2", "eth0") is False
    assert store.delete("never", "eth0") is False
    assert AttachmentKey("c2", "eth0") not in store
    assert store.list() == [AttachmentKey("c1", "eth0"), AttachmentKey("c1", "net1")]


def test_missing_directory_is_an_empty_store(store: AttachmentStore) -> None:
    assert store.list() == []
    assert list(store.items()) == []
    assert store.get("c1", "eth0") is None
    assert store.delete("c1", "eth0") is False
    assert not store.root.exists()


def test_stores_of_different_networks_are_separate(tmp_path: Path) -> None:
    a = AttachmentStore("a", root=tmp_path)
    b = AttachmentStore("b", root=tmp_path)
    a.put("c1", "eth0", {"net": "a"})
    assert b.get("c1", "eth0") is None
    assert b.list() == []


def test_file_content_names_its_key(store: AttachmentStore) -> None:
    store.put("c1", "eth0", {"a": 1})
    assert json.loads(store.path("c1", "eth0").read_bytes()) == {
        "rscniPyState": 1,
        "containerID": "c1",
        "ifname": "eth0",
        "data": {"a": 1},
    }


def test_list_ignores_foreign_files(store: AttachmentStore) -> None:
    store.put("c1", "eth0", {})
    for name in FOREIGN_NAMES:
        (store.directory / name).write_text("x")
    (store.directory / "c2:eth1.json.d").mkdir()
    assert store.list() == [AttachmentKey("c1", "eth0")]


def _json_refusal(value: float) -> str:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"json accepted {value!r}")


BAD_DOCUMENTS: list[tuple[str, Any, tuple[str, str]]] = [
    ("list", [1, 2], ("state document must be a JSON object", "got list for c1/eth0")),
    ("string", "x", ("state document must be a JSON object", "got str for c1/eth0")),
    (
        "nan",
        {"x": float("nan")},
        # The reason is the json module's own words, which Python 3.12 extended with the value (": nan").
        ("state document is not JSON-serialisable", f"c1/eth0: {_json_refusal(float('nan'))}"),
    ),
    (
        "set",
        {"x": {1}},
        ("state document is not JSON-serialisable", "c1/eth0: Object of type set is not JSON serializable"),
    ),
    (
        "tuple key",
        {(1, 2): 1},
        (
            "state document is not JSON-serialisable",
            "c1/eth0: keys must be str, int, float, bool or None, not tuple",
        ),
    ),
]


@pytest.mark.parametrize(("document", "expected"), [b[1:] for b in BAD_DOCUMENTS], ids=[b[0] for b in BAD_DOCUMENTS])
def test_bad_documents_are_refused(store: AttachmentStore, document: Any, expected: tuple[str, str]) -> None:
    store.put("c1", "eth0", {"old": True})
    with pytest.raises(InvalidDocumentError) as info:
        store.put("c1", "eth0", document)
    assert _error_fields(info.value) == ("InvalidDocumentError", *expected, 999)
    assert store.get("c1", "eth0") == {"old": True}
    assert sorted(os.listdir(store.directory)) == ["c1:eth0.json"]


def test_corrupt_files_are_reported(store: AttachmentStore) -> None:
    path = store.path("c1", "eth0")
    store.put("c2", "eth0", {})
    not_ours = ("CorruptStateError", "state file is not an rscni-py state document", str(path), 999)
    cases = [
        (
            b"{trunc",
            (
                "CorruptStateError",
                "state file is not valid JSON",
                f"{path}: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
                999,
            ),
        ),
        (b"[]", not_ours),
        (b'{"rscniPyState": 2, "data": {}}', not_ours),  # a future format
        (b'{"rscniPyState": 1, "data": []}', not_ours),
        (
            store.path("c2", "eth0").read_bytes(),
            ("CorruptStateError", "state file belongs to another attachment", f"{path} holds 'c2'/'eth0'", 999),
        ),
    ]
    for content, expected in cases:
        path.write_bytes(content)
        with pytest.raises(CorruptStateError) as info:
            store.get("c1", "eth0")
        assert _error_fields(info.value) == expected


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_entries_that_are_not_regular_files_are_refused(store: AttachmentStore, kind: str) -> None:
    store.put("c2", "eth0", {})
    path = store.path("c1", "eth0")
    if kind == "fifo":
        os.mkfifo(path)  # reading it must not block
    else:
        path.mkdir()
    with pytest.raises(CorruptStateError) as info:
        store.get("c1", "eth0")
    assert _error_fields(info.value) == ("CorruptStateError", "state file is not a regular file", str(path), 999)


def test_symlinked_entries_are_refused(store: AttachmentStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    store.put("c1", "eth0", {})
    path = store.path("c1", "eth0")
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(UnsafePathError) as info:
        store.get("c1", "eth0")
    assert _error_fields(info.value) == (
        "UnsafePathError",
        "state path resolves outside the store directory",
        str(path),
        999,
    )
    with pytest.raises(UnsafePathError):
        store.put("c1", "eth0", {"x": 1})
    assert outside.read_text() == "{}"
    # A symlink that stays inside the directory still is not followed on read.
    path.unlink()
    store.put("c2", "eth0", {})
    path.symlink_to(store.path("c2", "eth0"))
    with pytest.raises(UnsafePathError) as info:
        store.get("c1", "eth0")
    assert _error_fields(info.value) == ("UnsafePathError", "state file is a symlink", str(path), 999)


# ---------------------------------------------------------------------------------------------------------------
# Atomic writes


def test_reader_never_sees_a_partial_document(store: AttachmentStore) -> None:
    # A writer process rewrites a 256 KiB document as fast as it can; every read here must be one whole version.
    store.put("c1", "eth0", {"n": -1, "blob": ""})
    writer = _spawn(
        """
        import sys
        from rscni_py.state import AttachmentStore
        store = AttachmentStore("net1", root=sys.argv[1])
        for n in range(200):
            store.put("c1", "eth0", {"n": n, "blob": str(n % 10) * (1 << 18)})
        """,
        str(store.root),
    )
    reads = set()
    while writer.poll() is None:
        document = store.get("c1", "eth0")
        assert document is not None
        if document["n"] >= 0:
            assert document["blob"] == str(document["n"] % 10) * (1 << 18)
        reads.add(document["n"])
    _, err = writer.communicate()
    assert writer.returncode == 0, err
    assert store.get("c1", "eth0") == {"n": 199, "blob": "9" * (1 << 18)}
    # The reader really raced the writer: it saw documents from the middle of the run.
    assert len(reads - {-1, 199}) > 0
    assert os.listdir(store.directory) == ["c1:eth0.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_the_old_document(
    store: AttachmentStore, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store.put("c1", "eth0", {"version": "old"})

    def boom(*args: object) -> None:
        raise OSError(errno.EIO, "simulated I/O error")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="simulated I/O error"):
        store.put("c1", "eth0", {"version": "new"})
    monkeypatch.undo()
    assert store.get("c1", "eth0") == {"version": "old"}
    # No temporary file is left behind.
    assert os.listdir(store.directory) == ["c1:eth0.json"]


# ---------------------------------------------------------------------------------------------------------------
# Permissions


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o777])
def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: int) -> None:
    store = AttachmentStore("net1", root=tmp_path / "a" / "b")
    old = os.umask(umask)
    try:
        store.put("c1", "eth0", {})
        with store.lock():
            pass
    finally:
        os.umask(old)
    modes = {
        str(path.relative_to(tmp_path)): stat.S_IMODE(path.lstat().st_mode)
        for path in [tmp_path / "a" / "b", store.directory, store.path("c1", "eth0"), store.directory / ".lock"]
    }
    assert modes == {"a/b": 0o700, "a/b/net1": 0o700, "a/b/net1/c1:eth0.json": 0o600, "a/b/net1/.lock": 0o600}


def test_parents_of_the_root_get_ordinary_modes(tmp_path: Path) -> None:
    # /var/lib/cni may be shared with other tools, only our own directories are private; 0755 whatever the umask.
    old = os.umask(0o000)
    try:
        AttachmentStore("net1", root=tmp_path / "var" / "lib" / "cni" / "rscni-py").put("c1", "eth0", {})
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "var", tmp_path / "var" / "lib" / "cni")]
    assert modes == [0o755, 0o755]
    assert stat.S_IMODE((tmp_path / "var" / "lib" / "cni" / "rscni-py").stat().st_mode) == 0o700


def test_existing_root_keeps_its_mode(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    AttachmentStore("net1", root=root).put("c1", "eth0", {})
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "net1").stat().st_mode) == 0o700


# ---------------------------------------------------------------------------------------------------------------
# Locking

COUNTER_WORKER = """
import logging, sys
from rscni_py.state import AttachmentStore

class Count(logging.Handler):
    waits = 0
    def emit(self, record):
        message = record.getMessage()
        if message.endswith("waiting"):
            print("waiting", flush=True)  # the test holds the lock until every worker says this once
        elif message.startswith("acquired state lock"):
            Count.waits += 1

logging.getLogger("rscni_py.state").addHandler(Count())
logging.getLogger("rscni_py.state").setLevel(logging.INFO)
store = AttachmentStore("net1", root=sys.argv[1])
for _ in range(int(sys.argv[2])):
    with store.lock():
        document = store.get("c1", "eth0") or {"n": 0}
        store.put("c1", "eth0", {"n": document["n"] + 1})
print(Count.waits)
"""


def test_parallel_processes_increment_without_losing_updates(store: AttachmentStore) -> None:
    # The test holds the lock while the workers start, so every one of them waits for it at least once; they are
    # let go together when it is released, and then compete for it 50 times each.
    with store.lock():
        workers = [_spawn(COUNTER_WORKER, str(store.root), "50") for _ in range(8)]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "waiting\n"
    waits = 0
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        waits += int(out.split()[-1])
    assert store.get("c1", "eth0") == {"n": 400}
    assert waits >= 8


HOLDER = """
import sys
from rscni_py.state import AttachmentStore
store = AttachmentStore("net1", root=sys.argv[1])
with store.lock():
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin
"""


@pytest.fixture
def held_lock(store: AttachmentStore) -> Iterator[subprocess.Popen[str]]:
    holder = _spawn(HOLDER, str(store.root), stdin=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    yield holder
    if holder.poll() is None:
        holder.kill()
    _finish(holder)


def test_lock_timeout(
    store: AttachmentStore,
    held_lock: subprocess.Popen[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="rscni_py.state")
    start = time.monotonic()
    with pytest.raises(LockTimeoutError) as info, store.lock(timeout=0.3):
        pytest.fail("lock acquired while another process holds it")
    elapsed = time.monotonic() - start
    # The timeout is the behaviour: it is waited out in full, and not many times over (a wide margin for load).
    assert 0.3 <= elapsed < 10
    lock_path = store.directory / ".lock"
    assert _error_fields(info.value) == (
        "LockTimeoutError",
        "timed out waiting for the state lock",
        f"{lock_path} still locked by another invocation after 0.3 s",
        11,
    )
    assert (info.value.path, info.value.timeout) == (lock_path, 0.3)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"state lock {lock_path} is held by another invocation; waiting"),
        ("WARNING", f"gave up waiting for state lock {lock_path} after 0.300 s"),
    ]

    # timeout=0 tries exactly once: it never sleeps between tries.
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s with timeout=0")

    monkeypatch.setattr(state, "time", SimpleNamespace(monotonic=time.monotonic, sleep=no_sleep))
    with pytest.raises(LockTimeoutError), store.lock(timeout=0):
        pass


class QuickWarnStore(AttachmentStore):
    warn_after = 0.1


class PatientStore(AttachmentStore):
    warn_after = 3600.0


class OnWaiting(logging.Handler):
    """Sets ``event`` when the store logs that it is waiting for the lock."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().endswith("; waiting"):
            self.event.set()


@pytest.mark.parametrize(("store_class", "level"), [(PatientStore, "INFO"), (QuickWarnStore, "WARNING")])
def test_contention_is_logged_with_the_wait(
    tmp_path: Path, store_class: type[AttachmentStore], level: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_class("net1", root=tmp_path)
    holder = _spawn(HOLDER, str(store.root), stdin=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "locked\n"
    caplog.set_level(logging.INFO, logger="rscni_py.state")
    # Release the lock from a thread once this thread is waiting for it, 0.3 s after it said so: the wait's length is
    # what is logged, so it is the one sleep here.
    is_waiting = threading.Event()
    handler = OnWaiting(is_waiting)
    logging.getLogger("rscni_py.state").addHandler(handler)

    def release() -> None:
        if is_waiting.wait(60):
            time.sleep(0.3)
        assert holder.stdin is not None
        holder.stdin.close()

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        with store.lock(timeout=60):
            pass
    finally:
        releaser.join()
        logging.getLogger("rscni_py.state").removeHandler(handler)
    _finish(holder)
    lock_path = store.directory / ".lock"
    (waiting, acquired) = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert waiting == ("INFO", f"state lock {lock_path} is held by another invocation; waiting")
    prefix = f"acquired state lock {lock_path} after waiting "
    assert acquired[0] == level and acquired[1].startswith(prefix) and acquired[1].endswith(" s")
    assert 0.3 <= float(acquired[1][len(prefix) : -2]) < 60


def test_default_warn_after() -> None:
    assert AttachmentStore.warn_after == 1.0


def test_uncontended_lock_logs_nothing(store: AttachmentStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rscni_py.state")
    with store.lock(timeout=1):
        pass
    assert caplog.records == []


def test_lock_is_released_when_the_holder_dies(store: AttachmentStore, held_lock: subprocess.Popen[str]) -> None:
    with pytest.raises(LockTimeoutError), store.lock(timeout=0):
        pass
    held_lock.kill()
    held_lock.wait()
    with store.lock(timeout=5):
        pass


def test_lock_is_reentrant_and_excludes_other_store_objects(tmp_path: Path) -> None:
    first = AttachmentStore("net1", root=tmp_path)
    second = AttachmentStore("net1", root=tmp_path)
    other_network = AttachmentStore("net2", root=tmp_path)
    with first.lock():
        with first.lock(timeout=0):
            pass
        # Still held after the inner block ends.
        with pytest.raises(LockTimeoutError), second.lock(timeout=0.05):
            pass
        with other_network.lock(timeout=0):
            pass
    with second.lock(timeout=0):
        pass


def test_lock_excludes_threads_of_one_store(store: AttachmentStore) -> None:
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    with pytest.raises(LockTimeoutError), store.lock(timeout=0.05):
        pass
    release.set()
    thread.join()
    with store.lock(timeout=0):
        pass


def test_lock_is_released_when_the_block_raises(store: AttachmentStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside"), store.lock():
        raise RuntimeError("inside")
    with AttachmentStore("net1", root=store.root).lock(timeout=0):
        pass


@pytest.mark.parametrize("timeout", [-1.0, float("nan")], ids=["negative", "nan"])
def test_bad_lock_timeout(store: AttachmentStore, timeout: float) -> None:
    with pytest.raises(ValueError) as info, store.lock(timeout=timeout):
        pass
    assert str(info.value) == f"lock timeout must be None or >= 0, got {timeout!r}"


# ---------------------------------------------------------------------------------------------------------------
# GC


@dataclass
class ValidAttachment:
    """Stands in for the parsed entries of cni.dev/valid-attachments."""

    container_id: str
    ifname: str


STALE_CASES = [
    ("nothing stored", [], [("c1", "eth0")], []),
    ("all valid", [("c1", "eth0"), ("c2", "eth0")], [("c2", "eth0"), ("c1", "eth0")], []),
    ("empty valid list", [("c1", "eth0"), ("c2", "eth0")], [], [("c1", "eth0"), ("c2", "eth0")]),
    ("no valid list (null or absent)", [("c1", "eth0"), ("c2", "eth0")], None, [("c1", "eth0"), ("c2", "eth0")]),
    ("same container other ifname", [("c1", "eth0"), ("c1", "net1")], [("c1", "eth0")], [("c1", "net1")]),
    ("same ifname other container", [("c1", "eth0"), ("c2", "eth0")], [("c2", "eth0")], [("c1", "eth0")]),
    ("case matters", [("c1", "eth0")], [("C1", "eth0")], [("c1", "eth0")]),
    ("invalid entries match nothing", [("c1", "eth0")], [("bad id!", "eth0"), ("c1", "a/b")], [("c1", "eth0")]),
]


@pytest.mark.parametrize(("stored", "valid", "stale"), [c[1:] for c in STALE_CASES], ids=[c[0] for c in STALE_CASES])
def test_stale_attachments(
    store: AttachmentStore,
    stored: list[tuple[str, str]],
    valid: list[tuple[str, str]] | None,
    stale: list[tuple[str, str]],
) -> None:
    for container_id, ifname in stored:
        store.put(container_id, ifname, {})
    expected = [AttachmentKey(*k) for k in stale]
    assert stale_attachments(store, valid) == expected
    if valid is not None:
        assert stale_attachments(store, [ValidAttachment(*k) for k in valid]) == expected
        assert stale_attachments(store, [AttachmentKey(*k) for k in valid]) == expected
    assert remove_stale_attachments(store, valid) == GCReport(removed=expected)
    assert store.list() == sorted(AttachmentKey(*k) for k in set(stored) - set(stale))


def test_remove_stale_attachments_continues_past_failures(store: AttachmentStore) -> None:
    for container_id in ("c1", "c2", "c3", "c4"):
        store.put(container_id, "eth0", {"veth": f"veth-{container_id}"})
    seen: list[tuple[AttachmentKey, dict[str, Any] | None]] = []
    failure = RuntimeError("device busy")

    def cleanup(key: AttachmentKey, document: dict[str, Any] | None) -> None:
        seen.append((key, document))
        if key.container_id == "c2":
            raise failure

    report = remove_stale_attachments(store, [ValidAttachment("c4", "eth0")], cleanup)
    assert seen == [
        (AttachmentKey("c1", "eth0"), {"veth": "veth-c1"}),
        (AttachmentKey("c2", "eth0"), {"veth": "veth-c2"}),
        (AttachmentKey("c3", "eth0"), {"veth": "veth-c3"}),
    ]
    assert report == GCReport(
        removed=[AttachmentKey("c1", "eth0"), AttachmentKey("c3", "eth0")],
        failed=[GCFailure(AttachmentKey("c2", "eth0"), failure)],
    )
    assert not report.ok
    # The failed attachment keeps its document so the next GC tries again.
    assert store.list() == [AttachmentKey("c2", "eth0"), AttachmentKey("c4", "eth0")]
    with pytest.raises(GCError) as info:
        report.raise_for_errors()
    assert _error_fields(info.value) == (
        "GCError",
        "garbage collection failed for 1 attachment(s)",
        "c2/eth0: device busy",
        999,
    )
    assert info.value.failures == (GCFailure(AttachmentKey("c2", "eth0"), failure),)
    # Next GC: cleanup succeeds now.
    report = remove_stale_attachments(store, [("c4", "eth0")], lambda key, document: None)
    assert report == GCReport(removed=[AttachmentKey("c2", "eth0")], failed=[])
    assert report.ok
    report.raise_for_errors()
    assert store.list() == [AttachmentKey("c4", "eth0")]


def test_remove_stale_attachments_without_cleanup_and_with_corrupt_documents(store: AttachmentStore) -> None:
    store.put("c1", "eth0", {})
    store.put("c2", "eth0", {})
    store.path("c2", "eth0").write_text("garbage")
    assert remove_stale_attachments(store, []) == GCReport(
        removed=[AttachmentKey("c1", "eth0"), AttachmentKey("c2", "eth0")]
    )
    store.put("c3", "eth0", {})
    store.path("c3", "eth0").write_text("garbage")
    seen = []
    report = remove_stale_attachments(store, [], lambda key, document: seen.append((key, document)))
    assert seen == [(AttachmentKey("c3", "eth0"), None)]
    assert report == GCReport(removed=[AttachmentKey("c3", "eth0")])


def test_gc_failures_are_reported_all_together(store: AttachmentStore) -> None:
    for container_id in ("c1", "c2"):
        store.put(container_id, "eth0", {})

    def cleanup(key: AttachmentKey, document: dict[str, Any] | None) -> None:
        raise OSError(errno.EBUSY, "busy", key.container_id)

    report = remove_stale_attachments(store, [], cleanup)
    with pytest.raises(GCError) as info:
        report.raise_for_errors()
    assert _error_fields(info.value) == (
        "GCError",
        "garbage collection failed for 2 attachment(s)",
        "c1/eth0: [Errno 16] busy: 'c1'; c2/eth0: [Errno 16] busy: 'c2'",
        999,
    )


def test_leftover_temporary_files_are_removed_when_old(store: AttachmentStore) -> None:
    store.put("c1", "eth0", {})
    with store.lock():
        pass
    old, young = store.directory / ".tmp-crashed", store.directory / ".tmp-running"
    old.write_text("{")
    young.write_text("{")
    an_hour_ago = time.time() - 3601
    os.utime(old, (an_hour_ago, an_hour_ago))
    # Not temporary files, however old: left alone.
    for name in (".lock", "c1:eth0.json"):
        os.utime(store.directory / name, (an_hour_ago, an_hour_ago))
    report = remove_stale_attachments(store, [("c1", "eth0")])
    assert report == GCReport()
    assert sorted(os.listdir(store.directory)) == [".lock", ".tmp-running", "c1:eth0.json"]
    assert store.remove_leftover_temp_files(older_than=0) == [".tmp-running"]
    assert sorted(os.listdir(store.directory)) == [".lock", "c1:eth0.json"]
    assert AttachmentStore("other", root=store.root).remove_leftover_temp_files() == []


def test_gc_takes_the_lock(store: AttachmentStore, held_lock: subprocess.Popen[str]) -> None:
    with pytest.raises(LockTimeoutError):
        remove_stale_attachments(store, [], lock_timeout=0.05)


def test_gc_does_not_swallow_interrupts(store: AttachmentStore) -> None:
    store.put("c1", "eth0", {})

    def cleanup(key: AttachmentKey, document: dict[str, Any] | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        remove_stale_attachments(store, [], cleanup)
    assert store.list() == [AttachmentKey("c1", "eth0")]


# ---------------------------------------------------------------------------------------------------------------
# DEL helpers


def _netlink_error(code: int) -> BaseException:
    # Imported by name: pyroute2 ships no type information, and the code under test finds the class the same way.
    netlink_error = importlib.import_module("pyroute2.netlink.exceptions").NetlinkError
    error = netlink_error(code)
    assert isinstance(error, Exception)
    return error


GONE_CASES = [
    ("FileNotFoundError", FileNotFoundError(errno.ENOENT, "No such file"), True),
    ("ProcessLookupError", ProcessLookupError(errno.ESRCH, "No such process"), True),
    ("ENODEV", OSError(errno.ENODEV, "No such device"), True),
    ("EADDRNOTAVAIL", OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), True),
    ("EPERM", PermissionError(errno.EPERM, "Operation not permitted"), False),
    ("EBUSY", OSError(errno.EBUSY, "Device or resource busy"), False),
    ("OSError without errno", OSError("odd"), False),
    ("ValueError", ValueError("x"), False),
    ("netlink ENODEV", _netlink_error(errno.ENODEV), True),
    ("netlink ESRCH", _netlink_error(errno.ESRCH), True),
    ("netlink EEXIST", _netlink_error(errno.EEXIST), False),
]


@pytest.mark.parametrize(("exc", "gone"), [c[1:] for c in GONE_CASES], ids=[c[0] for c in GONE_CASES])
def test_is_already_gone(exc: BaseException, gone: bool) -> None:
    assert is_already_gone(exc) is gone


def test_is_already_gone_with_own_errnos() -> None:
    assert is_already_gone(OSError(errno.EBUSY, "busy"), {errno.EBUSY}) is True
    assert is_already_gone(FileNotFoundError(errno.ENOENT, "x"), {errno.EBUSY}) is False
    assert is_already_gone(_netlink_error(errno.EBUSY), {errno.EBUSY}) is True
    assert {errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL} == ALREADY_GONE_ERRNOS


def test_tolerate_missing_swallows_only_already_gone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rscni_py.state")
    reached = []
    with tolerate_missing("pid file") as gone:
        os.unlink(tmp_path / "nope.pid")
        reached.append("after")
    assert reached == []
    assert gone.suppressed
    assert isinstance(gone.error, FileNotFoundError)
    assert [r.getMessage() for r in caplog.records] == [
        f"pid file already gone: [Errno 2] No such file or directory: '{tmp_path / 'nope.pid'}'"
    ]
    with tolerate_missing() as gone:
        pass
    assert not gone.suppressed and gone.error is None
    with pytest.raises(PermissionError), tolerate_missing():
        raise PermissionError(errno.EPERM, "Operation not permitted")
    with pytest.raises(ValueError), tolerate_missing():
        raise ValueError("not an OS error")
    with tolerate_missing("link", errnos={errno.EBUSY}) as gone:
        raise OSError(errno.EBUSY, "busy")
    assert gone.suppressed
    with pytest.raises(FileNotFoundError), tolerate_missing("link", errnos={errno.EBUSY}):
        raise FileNotFoundError(errno.ENOENT, "gone")


def test_tolerate_missing_with_a_real_process() -> None:
    # The usual DEL step "stop the helper process": it may have exited already.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with tolerate_missing("helper process") as gone:
        os.kill(child.pid, 0)
    assert isinstance(gone.error, ProcessLookupError)


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace")
def test_tolerate_missing_covers_what_the_kernel_answers_in_del() -> None:
    # The errnos in ALREADY_GONE_ERRNOS are the kernel's real answers when DEL removes something already gone.
    # Done in a private, empty network namespace so that nothing on the host can be touched.
    pyroute2 = importlib.import_module("pyroute2")
    name = f"rscni-state-test-{os.getpid()}"
    ns = pyroute2.NetNS(name, flags=os.O_CREAT)
    try:
        lo = ns.link_lookup(ifname="lo")[0]
        steps: dict[str, Callable[[], object]] = {
            "link": lambda: ns.link("del", ifname="gone0"),
            "address": lambda: ns.addr("del", index=lo, address="192.0.2.7", prefixlen=32),
            "route": lambda: ns.route("del", dst="192.0.2.0/24"),
            "netns file": lambda: os.stat(f"/run/netns/{name}-gone"),
        }
        codes: dict[str, object] = {}
        for step, action in steps.items():
            with tolerate_missing(step) as gone:
                action()
            assert gone.error is not None, step
            codes[step] = getattr(gone.error, "code", None) or getattr(gone.error, "errno", None)
        assert codes == {
            "link": errno.ENODEV,
            "address": errno.EADDRNOTAVAIL,
            "route": errno.ESRCH,
            "netns file": errno.ENOENT,
        }
    finally:
        ns.close()
        pyroute2.netns.remove(name)


def test_public_names() -> None:
    assert state.__all__ == sorted(state.__all__)
    assert [name for name in state.__all__ if not hasattr(state, name)] == []
    # Every error the module raises on purpose shares one root the dispatcher can catch.
    errors = [getattr(state, name) for name in state.__all__ if name.endswith("Error")]
    assert all(issubclass(error, StateError) for error in errors)
    assert sorted(error.__name__ for error in errors) == [
        "CorruptStateError",
        "GCError",
        "InvalidDocumentError",
        "InvalidKeyError",
        "LockTimeoutError",
        "StateError",
        "UnsafePathError",
    ]


# --- releasing what delegates hold -----------------------------------------------------------------------------------


def test_release_delegations_uses_the_attachments_own_ids(tmp_path: Path) -> None:
    pool = {"cniVersion": "1.0.0", "name": "n", "ipam": {"type": "pool"}}
    document = with_delegation({"hostIfname": "veth1"}, "pool", json.dumps(pool).encode())
    document = with_delegation(document, "extra", {"cniVersion": "1.0.0", "name": "n"})
    document = with_delegation(document, "pool", pool)  # recorded again: replaces, keeps one entry
    assert document == {
        "hostIfname": "veth1",
        DELEGATIONS_KEY: [
            {"type": "extra", "config": {"cniVersion": "1.0.0", "name": "n"}},
            {"type": "pool", "config": pool},
        ],
    }
    store = AttachmentStore("n", root=tmp_path)
    store.put("c1", "eth1", document)
    fake = FakeExecutor({"pool": None, "extra": None})
    gc_env = {"CNI_COMMAND": "GC", "CNI_PATH": "/opt/cni/bin"}

    release_delegations(AttachmentKey("c1", "eth1"), store.get("c1", "eth1"), gc_env, executor=fake)
    release_delegations(AttachmentKey("c2", "eth0"), None, gc_env, executor=fake)  # no record: nothing to do

    assert [(call.path, call.env, json.loads(call.stdin), call.timeout) for call in fake.calls] == [
        (
            f"/opt/cni/bin/{name}",
            {
                "CNI_COMMAND": "DEL",
                "CNI_PATH": "/opt/cni/bin",
                "CNI_CONTAINERID": "c1",
                "CNI_IFNAME": "eth1",
                "CNI_NETNS": "",
            },
            config,
            60.0,
        )
        for name, config in [("pool", pool), ("extra", {"cniVersion": "1.0.0", "name": "n"})]
    ]


@pytest.mark.parametrize("netconf", [b"[1]", b"{", {"a": 1}], ids=["array", "not-json", "ok"])
def test_with_delegation_wants_a_json_object(netconf: bytes | dict[str, int]) -> None:
    if isinstance(netconf, dict):
        assert with_delegation({}, "p", netconf) == {"rscniPyDelegations": [{"type": "p", "config": {"a": 1}}]}
        return
    with pytest.raises(InvalidDocumentError):
        with_delegation({}, "p", netconf)
