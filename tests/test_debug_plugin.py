"""The reference debug plugin (examples/debug): exact record files, prevResult pass-through, every error.

Most tests serve the plugin in process through the SDK's dispatcher (same code path as ``run()``, no globals);
the last ones run the script as a real process, as a runtime does.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from examples.debug.rscni_debug import DebugPlugin, write_record
from rscni_py.errors import CNIError
from rscni_py.protocol.dispatch import dispatch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "debug" / "rscni_debug.py"
ATTACHMENT = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/test", "CNI_IFNAME": "eth0"}
CNI_PATH = "/opt/cni/bin:/usr/lib/cni"


def serve(command: str, stdin: bytes, *, cni_args: str = "", attachment: bool | None = None) -> tuple[int, Any]:
    """Serve one command; return the exit code and the decoded stdout (None when empty)."""
    env = {"CNI_COMMAND": command, "CNI_PATH": CNI_PATH, "CNI_ARGS": cni_args}
    if attachment if attachment is not None else command in ("ADD", "DEL", "CHECK"):
        env.update(ATTACHMENT)
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(DebugPlugin, env, io.BytesIO(stdin), out, err)
    return code, json.loads(out.getvalue()) if out.getvalue() else None


def config(out_dir: object, version: str = "1.1.0", **extra: Any) -> bytes:
    conf: dict[str, Any] = {"cniVersion": version, "name": "net1", "type": "rscni-debug", **extra}
    if out_dir is not None:
        conf["cniOutput"] = out_dir if not isinstance(out_dir, Path) else str(out_dir)
    # Compact JSON with an unusual key order: the record must hold these exact bytes.
    return json.dumps(conf, separators=(",", ":")).encode()


def expected_record(
    command: str,
    stdin: bytes,
    *,
    container_id: str = "c1",
    ifname: str = "eth0",
    netns: str = "/var/run/netns/test",
    cni_args: str = "",
) -> bytes:
    return (
        (
            f"CNI_COMMAND: {command}\n"
            f"CNI_CONTAINERID: {container_id}\n"
            f"CNI_IFNAME: {ifname}\n"
            f"CNI_NETNS: {netns}\n"
            f"CNI_PATH: {CNI_PATH}\n"
            f"CNI_ARGS: {cni_args}\n"
            "STDIN_DATA: "
        ).encode()
        + stdin
        + b"\n--------------------\n"
    )


# --- records ---------------------------------------------------------------------------------------------------------

# (CNI_COMMAND, file name, record's command word, attachment variables set)
RECORD_CASES = [
    ("ADD", "c1-Add", "Add", True),
    ("DEL", "c1-Del", "Del", True),
    ("CHECK", "c1-Check", "Check", True),
    # GC and STATUS have no container: the file is named after the network, the ID line is empty.
    ("GC", "net1-GC", "GC", False),
    ("STATUS", "net1-Status", "Status", False),
]


@pytest.mark.parametrize(("command", "file_name", "word", "attached"), RECORD_CASES, ids=[c[0] for c in RECORD_CASES])
def test_one_exact_record_file_per_command(
    tmp_path: Path, command: str, file_name: str, word: str, attached: bool
) -> None:
    stdin = config(tmp_path)
    code, _ = serve(command, stdin, cni_args="IgnoreUnknown=1;K8S_POD_NAME=web-0")
    assert code == 0
    # Exactly one file: the record; no temporary file left behind.
    assert sorted(os.listdir(tmp_path)) == [file_name]
    cni_args = "IgnoreUnknown=1;K8S_POD_NAME=web-0"
    if attached:
        want = expected_record(word, stdin, cni_args=cni_args)
    else:
        want = expected_record(word, stdin, container_id="", ifname="", netns="", cni_args=cni_args)
    assert (tmp_path / file_name).read_bytes() == want
    assert (tmp_path / file_name).stat().st_mode & 0o777 == 0o644


def test_a_repeated_command_replaces_its_record(tmp_path: Path) -> None:
    first, second = config(tmp_path, dns={"nameservers": ["10.0.0.1"]}), config(tmp_path)
    assert serve("ADD", first)[0] == 0
    assert serve("ADD", second, cni_args="A=1")[0] == 0
    assert sorted(os.listdir(tmp_path)) == ["c1-Add"]
    assert (tmp_path / "c1-Add").read_bytes() == expected_record("Add", second, cni_args="A=1")


def test_raw_stdin_is_recorded_byte_for_byte(tmp_path: Path) -> None:
    # Indentation, a trailing newline and non-ASCII text all stay as the runtime sent them.
    stdin = (
        json.dumps(
            {"cniVersion": "1.0.0", "name": "net1", "type": "d", "cniOutput": str(tmp_path), "note": "caf\u00e9"},
            indent=2,
            ensure_ascii=False,
        ).encode()
        + b"\n"
    )
    assert serve("ADD", stdin)[0] == 0
    assert (tmp_path / "c1-Add").read_bytes() == expected_record("Add", stdin)


def test_missing_output_directory_is_created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    stdin = config(out)
    assert serve("DEL", stdin)[0] == 0
    assert (out / "c1-Del").read_bytes() == expected_record("Del", stdin)


# --- ADD output ------------------------------------------------------------------------------------------------------

PREV_0_4 = {
    "interfaces": [
        {"name": "veth1", "mac": "aa:bb:cc:dd:ee:01"},
        {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/var/run/netns/test"},
    ],
    "ips": [
        {"version": "4", "interface": 1, "address": "10.244.0.3/24", "gateway": "10.244.0.1"},
        {"version": "6", "interface": 1, "address": "fd00::3/64"},
    ],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1"}],
    "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]},
}
PREV_1_0 = {
    "interfaces": [
        {"name": "veth1", "mac": "aa:bb:cc:dd:ee:01", "mtu": 1400},
        {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/var/run/netns/test"},
    ],
    "ips": [
        {"interface": 1, "address": "10.244.0.3/24", "gateway": "10.244.0.1"},
        {"interface": 1, "address": "fd00::3/64"},
    ],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1"}],
    "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]},
}
PASS_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


@pytest.mark.parametrize("version", PASS_VERSIONS)
def test_add_passes_prev_result_through_at_the_config_version(tmp_path: Path, version: str) -> None:
    prev = {"cniVersion": version, **(PREV_1_0 if version.startswith("1.") else PREV_0_4)}
    code, out = serve("ADD", config(tmp_path, version, prevResult=prev))
    assert (code, out) == (0, prev)


@pytest.mark.parametrize(
    ("version", "want"),
    [
        ("0.3.0", {"cniVersion": "0.3.0", "dns": {}}),
        ("0.3.1", {"cniVersion": "0.3.1", "dns": {}}),
        ("0.4.0", {"cniVersion": "0.4.0", "dns": {}}),
        ("1.0.0", {"cniVersion": "1.0.0"}),
        ("1.1.0", {"cniVersion": "1.1.0"}),
        # An empty result has no address to express in the 0.1.0/0.2.0 shape; Go's debug plugin fails the same way.
        ("0.2.0", {"cniVersion": "0.2.0", "code": 999, "msg": "cannot convert: no valid IP addresses"}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_add_without_prev_result_prints_an_empty_result(tmp_path: Path, version: str, want: dict[str, Any]) -> None:
    code, out = serve("ADD", config(tmp_path, version))
    assert (code, out) == (0 if "code" not in want else 1, want)
    assert (tmp_path / "c1-Add").exists()


def test_add_converts_an_older_prev_result_to_the_config_version(tmp_path: Path) -> None:
    # A 1.0.0 prevResult under a 1.1.0 configuration is printed as 1.1.0 (same shape).
    prev = {"cniVersion": "1.0.0", **PREV_1_0}
    code, out = serve("ADD", config(tmp_path, "1.1.0", prevResult=prev))
    assert (code, out) == (0, {**prev, "cniVersion": "1.1.0"})


# --- errors ----------------------------------------------------------------------------------------------------------


def _error(code: int, msg: str, details: str = "", version: str = "1.1.0") -> dict[str, Any]:
    out: dict[str, Any] = {"cniVersion": version, "code": code, "msg": msg}
    if details:
        out["details"] = details
    return out


_SURROGATE_MSG = "cniOutput: the path contains a lone surrogate (a JSON escape that is no character)"
_LONG_NAME_MSG = "cniOutput: the path has a component longer than 255 bytes"

# Each case builds cniOutput from the test's tmp directory "T"; "<T>" in the expected error is replaced by it.
ERROR_CASES: list[tuple[str, object, dict[str, Any]]] = [
    ("missing", None, _error(7, "cniOutput: required field missing")),
    ("null", "null", _error(7, "cniOutput: required field missing")),
    ("number", 42, _error(7, "invalid network config: cniOutput: expected a string, got integer 42")),
    ("list", ["<T>"], _error(7, "invalid network config: cniOutput: expected a string, got array")),
    ("empty", "", _error(7, "cniOutput: expected a directory path, got an empty string")),
    ("relative", "records/out", _error(7, "cniOutput: expected an absolute directory path", "records/out")),
    ("nul", "<T>/a\u0000b", _error(7, "cniOutput: the path contains a NUL character", '"<T>/a\\u0000b"')),
    ("a-file", "<T>/afile", _error(7, "cniOutput: not a directory", "<T>/afile")),
    # Under a regular file no directory can be created, not even by root: a real I/O failure.
    ("under-a-file", "<T>/afile/sub", _error(5, "cniOutput: cannot use directory <T>/afile/sub", "Not a directory")),
    # A JSON "\ud800" escape is no character, so the path has no bytes: a configuration error, not a traceback.
    (
        "lone-surrogate",
        "<T>/a\ud800",
        _error(7, _SURROGATE_MSG, '"<T>/a\\ud800"'),
    ),
    ("escaped-byte", "<T>/a\udcff", _error(7, _SURROGATE_MSG, '"<T>/a\\udcff"')),
    ("long-component", "<T>/" + "x" * 256, _error(7, _LONG_NAME_MSG, '"<T>/' + "x" * 256 + '"')),
    (
        "long-path",
        "<T>/" + "x/" * 2100,
        _error(7, "cniOutput: the path is longer than 4095 bytes", '"<T>/' + "x/" * 2100 + '"'),
    ),
]


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS"])
@pytest.mark.parametrize(("case", "out_dir", "want"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_cni_output(tmp_path: Path, command: str, case: str, out_dir: object, want: dict[str, Any]) -> None:
    (tmp_path / "afile").write_text("not a directory\n")
    base = str(tmp_path)

    def fill(value: object) -> object:
        if isinstance(value, str):
            return value.replace("<T>", base)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    if out_dir == "null":
        stdin = json.dumps({"cniVersion": "1.1.0", "name": "net1", "type": "d", "cniOutput": None}).encode()
    else:
        stdin = config(fill(out_dir))
    code, out = serve(command, stdin)
    assert (code, out) == (1, {k: fill(v) for k, v in want.items()})
    # Nothing was written anywhere.
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["afile"]
    assert (tmp_path / "afile").read_text() == "not a directory\n"


def test_invalid_container_id_writes_nothing(tmp_path: Path) -> None:
    env = {"CNI_COMMAND": "ADD", "CNI_PATH": CNI_PATH, **ATTACHMENT, "CNI_CONTAINERID": "../escape"}
    out = io.StringIO()
    code = dispatch(DebugPlugin, env, io.BytesIO(config(tmp_path / "out")), out, io.StringIO())
    assert (code, json.loads(out.getvalue())) == (
        1,
        _error(4, "invalid characters in containerID", "../escape", version="1.1.0"),
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "sub/file", "..", "."])
def test_write_record_refuses_names_that_leave_the_directory(tmp_path: Path, name: str) -> None:
    # The SDK's validation already keeps such names out; this is the plugin's own second line of defence.
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CNIError) as caught:
        write_record(out, name, b"record")
    assert caught.value == CNIError(4, "record name is not a safe file name", name)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["out"]


def test_unwritable_record_replaces_nothing(tmp_path: Path) -> None:
    # A directory where the record file should be: the rename fails, the temporary file is removed.
    (tmp_path / "c1-Add").mkdir()
    code, out = serve("ADD", config(tmp_path))
    assert code == 1
    assert out == _error(5, f"cniOutput: cannot write {tmp_path}/c1-Add", "Is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1-Add"]


# --- as a real process -----------------------------------------------------------------------------------------------


def _run_script(env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], input=stdin, env={**base, **env}, capture_output=True, check=False, timeout=120
    )


def test_script_add_as_a_process(tmp_path: Path) -> None:
    prev = {"cniVersion": "0.4.0", **PREV_0_4}
    stdin = config(tmp_path, "0.4.0", prevResult=prev)
    proc = _run_script({"CNI_COMMAND": "ADD", "CNI_PATH": CNI_PATH, **ATTACHMENT}, stdin)
    assert (proc.returncode, json.loads(proc.stdout)) == (0, prev), proc.stderr
    assert (tmp_path / "c1-Add").read_bytes() == expected_record("Add", stdin)


def test_script_version_and_about() -> None:
    proc = _run_script({"CNI_COMMAND": "VERSION"})
    assert json.loads(proc.stdout) == {
        "cniVersion": "1.1.0",
        "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    }
    about = _run_script({})
    assert (about.returncode, about.stdout) == (0, b"")
    assert about.stderr.decode() == (
        "CNI rscni-debug plugin v0.1.0\n"
        "CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n"
    )
