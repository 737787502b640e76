"""One test (or table of tests) per claim of SECURITY.md, section by section."""

from __future__ import annotations

import ast
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscni_py import CNIError
from rscni_py.invoke import find_in_path
from rscni_py.protocol import env as envvars
from rscni_py.protocol.dispatch import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, dispatch
from rscni_py.state import AttachmentStore, InvalidKeyError
from tests.recorder import Recorder
from tests.test_dispatch import env_for, error

ROOT = Path(__file__).resolve().parent.parent
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


def run_plugin(source: str, env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run a plugin defined by ``source`` (a module body ending in ``X.run()``) as its own process."""
    return subprocess.run(
        [sys.executable, "-c", source],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env},
    )


# --- 1. where input comes from ----------------------------------------------------------------------------------------


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        self.data, self.read = values, set[str]()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the dispatcher must not enumerate the environment")

    def __len__(self) -> int:
        return len(self.data)


READ_BY_DISPATCHER = {
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
    "RSCNI_LOG_LEVEL",
    "RSCNI_LOG_FILE",
}


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])
def test_dispatcher_reads_only_the_cni_and_log_variables(command: str) -> None:
    env = RecordingEnv({**env_for(command), "HOME": "/root", "PYTHONPATH": "/evil", "LD_PRELOAD": "/evil.so"})
    out = io.StringIO()

    class Logs:
        def configure(self, level: int, file: str | None) -> None:
            pass

    code = dispatch(Recorder, env, io.BytesIO(b'{"cniVersion": "1.1.0", "name": "n"}'), out, io.StringIO(), logs=Logs())
    assert code == 0, out.getvalue()
    assert env.read <= READ_BY_DISPATCHER


class Unreadable(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("stdin must not be read for VERSION")


def test_version_never_reads_stdin() -> None:
    out = io.StringIO()
    assert dispatch(Recorder, {"CNI_COMMAND": "VERSION"}, Unreadable(), out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["cniVersion"] == "1.1.0"


UNTRUSTED_PARTS = [
    # (id, configuration keys from users or earlier plugins, expected error message)
    (
        "prevResult-address",
        {"prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.1/99"}]}},
        'invalid network config: prevResult.ips[0].address: invalid CIDR "10.0.0.1/99"',
    ),
    (
        "prevResult-version",
        {"prevResult": {"cniVersion": "0.2.0"}},
        "invalid network config: prevResult.cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion "
        'is "0.2.0"',
    ),
    (
        "prevResult-type",
        {"prevResult": {"cniVersion": "1.1.0", "interfaces": [{"name": 7}]}},
        "invalid network config: prevResult.interfaces[0].name: expected a string, got integer 7",
    ),
    (
        "runtimeConfig-port",
        {"runtimeConfig": {"portMappings": [{"hostPort": "80", "containerPort": 80}]}},
        'invalid network config: runtimeConfig.portMappings[0].hostPort: expected an integer, got string "80"',
    ),
    (
        "capabilities",
        {"capabilities": {"portMappings": "yes"}},
        'invalid network config: capabilities.portMappings: expected a boolean, got string "yes"',
    ),
]


@pytest.mark.parametrize(("extra", "msg"), [c[1:] for c in UNTRUSTED_PARTS], ids=[c[0] for c in UNTRUSTED_PARTS])
def test_untrusted_parts_of_the_configuration_are_checked_before_the_plugin_runs(
    extra: dict[str, Any], msg: str
) -> None:
    Recorder.calls = []
    out = io.StringIO()
    config = {"cniVersion": "1.1.0", "name": "n", "type": "t", **extra}
    code = dispatch(Recorder, env_for("ADD"), io.BytesIO(json.dumps(config).encode()), out, io.StringIO())
    assert (code, json.loads(out.getvalue()), Recorder.calls) == (1, error(7, msg), [])


# --- 2. names that never leave their directory ------------------------------------------------------------------------

HOSTILE_NAMES = [
    "..",
    ".",
    "../etc",
    "a/../../etc",
    "/etc/passwd",
    "a/b",
    ".hidden",
    "-rf",
    "a b",
    "a\n",
    "a\x00b",
    "a:b",
    "caf\u00e9",
    "a;reboot",
    "$(id)",
    "`id`",
    "a*",
    "",
]


@pytest.mark.parametrize("value", HOSTILE_NAMES, ids=repr)
def test_hostile_container_ids_never_reach_the_plugin(value: str) -> None:
    Recorder.calls = []
    out = io.StringIO()
    env = {**env_for("ADD"), "CNI_CONTAINERID": value}
    code = dispatch(Recorder, env, io.BytesIO(b'{"cniVersion":"1.1.0","name":"n"}'), out, io.StringIO())
    expected = (
        error(4, "required env variables [CNI_CONTAINERID] missing")
        if value == ""
        else error(4, "invalid characters in containerID", value)
    )
    assert (code, json.loads(out.getvalue()), Recorder.calls) == (1, expected, [])


@pytest.mark.parametrize("value", HOSTILE_NAMES, ids=repr)
def test_hostile_network_names_never_reach_the_plugin(value: str) -> None:
    Recorder.calls = []
    out = io.StringIO()
    config = json.dumps({"cniVersion": "1.1.0", "name": value}).encode()
    code = dispatch(Recorder, env_for("ADD"), io.BytesIO(config), out, io.StringIO())
    expected = (
        error(7, "missing network name") if value == "" else error(7, "invalid characters found in network name", value)
    )
    assert (code, json.loads(out.getvalue()), Recorder.calls) == (1, expected, [])


HOSTILE_IFNAMES = [
    ("..", "interface name is . or .."),
    (".", "interface name is . or .."),
    ("../etc", "interface name contains / or : or whitespace characters"),
    ("a/b", "interface name contains / or : or whitespace characters"),
    ("a:b", "interface name contains / or : or whitespace characters"),
    ("a b", "interface name contains / or : or whitespace characters"),
    ("eth0\n", "interface name contains / or : or whitespace characters"),
    ("a" * 16, "interface name is too long"),
]


@pytest.mark.parametrize(("value", "msg"), HOSTILE_IFNAMES, ids=[repr(v) for v, _ in HOSTILE_IFNAMES])
def test_hostile_interface_names_never_reach_the_plugin(value: str, msg: str) -> None:
    Recorder.calls = []
    out = io.StringIO()
    env = {**env_for("DEL"), "CNI_IFNAME": value}
    code = dispatch(Recorder, env, io.BytesIO(b'{"cniVersion":"1.1.0","name":"n"}'), out, io.StringIO())
    doc = json.loads(out.getvalue())
    assert (code, doc["code"], doc["msg"], Recorder.calls) == (1, 4, msg, [])


def _stays_inside(name: str) -> bool:
    base = "/var/lib/cni/networks"
    return os.path.dirname(os.path.normpath(os.path.join(base, name))) == base and os.path.basename(name) == name


def _accepted(validate: Any, value: str) -> bool:
    try:
        validate(value)
    except CNIError:
        return False
    return True


_name_text = st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(HOSTILE_NAMES)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(_name_text)
def test_every_accepted_name_is_exactly_one_path_component(value: str) -> None:
    for validate in (envvars.validate_container_id, envvars.validate_network_name):
        if _accepted(validate, value):
            assert _stays_inside(value) and not value.startswith(("-", ".")) and "\x00" not in value, value
    if _accepted(envvars.validate_ifname, value):
        assert _stays_inside(value) and value not in (".", ".."), value


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        ("../bin/sh", "invalid plugin name: ../bin/sh"),
        ("/bin/sh", "invalid plugin name: /bin/sh"),
        ("a/b", "invalid plugin name: a/b"),
        ("", "no plugin name provided"),
    ],
    ids=["dotdot", "absolute", "subdir", "empty"],
)
def test_delegate_names_with_a_path_are_refused(tmp_path: Path, name: str, msg: str) -> None:
    (tmp_path / "sh").write_text("")
    with pytest.raises(CNIError) as caught:
        find_in_path(name, [str(tmp_path)])
    assert (caught.value.code, caught.value.msg) == (999, msg)


@pytest.mark.parametrize("name", [".", ".."])
def test_delegate_lookup_takes_only_regular_files_inside_the_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(CNIError) as caught:
        find_in_path(name, [str(tmp_path)])
    assert (caught.value.code, caught.value.msg) == (999, f'failed to find plugin "{name}" in path [{tmp_path}]')


def test_delegate_lookup_finds_a_plugin_only_directly_inside_a_path_directory(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "host-local").write_text("")
    (tmp_path / "host-local").write_text("")  # outside CNI_PATH: never found
    assert find_in_path("host-local", [str(tmp_path / "bin")]) == str(tmp_path / "bin" / "host-local")


@pytest.mark.parametrize(
    ("container_id", "ifname"),
    [("../x", "eth0"), ("a/b", "eth0"), (".", "eth0"), ("c1", "../x"), ("c1", ".."), ("c1", "a/b")],
    ids=repr,
)
def test_state_store_refuses_keys_that_could_leave_its_directory(
    tmp_path: Path, container_id: str, ifname: str
) -> None:
    store = AttachmentStore("net1", root=tmp_path)
    with pytest.raises(InvalidKeyError):
        store.put(container_id, ifname, {"ip": "10.0.0.2"})
    assert (
        not (tmp_path / "net1").exists()
        or [p.name for p in (tmp_path / "net1").iterdir() if not p.name.startswith(".")] == []
    )


@pytest.mark.parametrize("network", ["..", "../etc", "a/b", ".x", ""], ids=repr)
def test_state_store_refuses_network_names_that_could_leave_its_root(tmp_path: Path, network: str) -> None:
    with pytest.raises(InvalidKeyError):
        AttachmentStore(network, root=tmp_path)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.sampled_from(["c1", "abc-1.2_3", "0" * 64]), st.text(st.characters(codec="utf-8"), min_size=1, max_size=15))
def test_state_files_are_always_directly_inside_the_store(container_id: str, ifname: str) -> None:
    store = AttachmentStore("net1", root="/nonexistent-root")
    try:
        path = store.path(container_id, ifname)
    except InvalidKeyError:
        return
    assert path.parent == Path("/nonexistent-root/net1") and not path.name.startswith(".")


# --- 3. no shell ---------------------------------------------------------------------------------------------------

PACKAGE = ROOT / "rscni_py"
# Calls that hand a command line to /bin/sh.
_SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput")}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules_to_check() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {"invoke.py", "state.py", "protocol/dispatch.py", "protocol/main.py"} <= names


def _subprocess_calls(module: Path) -> int:
    tree = ast.parse(module.read_text(), str(module))
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
    )


def test_the_scan_sees_the_delegate_executor() -> None:
    # invoke.DefaultExecutor starts delegates with subprocess.Popen: the scan below must be looking at it.
    assert _subprocess_calls(PACKAGE / "invoke.py") >= 1


@pytest.mark.parametrize("module", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_shell_anywhere(module: Path) -> None:
    tree = ast.parse(module.read_text(), str(module))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            assert (func.value.id, func.attr) not in _SHELL_CALLS, f"{module}:{node.lineno}"
        for keyword in node.keywords:
            assert keyword.arg != "shell", f"{module}:{node.lineno}: shell= passed"
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "subprocess"
            and func.attr in ("Popen", "run", "call", "check_call", "check_output")
        ):
            # The program and its arguments are a list, never one string a shell would split.
            assert node.args and isinstance(node.args[0], (ast.List, ast.Tuple)), f"{module}:{node.lineno}"
    assert "shell=True" not in module.read_text()


def test_a_delegate_name_with_shell_metacharacters_runs_that_file_and_nothing_else(tmp_path: Path) -> None:
    from rscni_py.invoke import delegate_delete

    name = "x;touch pwned $(touch pwned2) `touch pwned3`"
    plugin = tmp_path / name
    plugin.write_text("#!/bin/sh\necho ran > ran-marker\n")
    plugin.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "CNI_PATH": str(tmp_path),
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": "/x",
        "CNI_IFNAME": "eth0",
    }
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        delegate_delete(name, b'{"cniVersion": "1.0.0", "name": "n", "type": "x"}', env=env)
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "ran-marker"])


# --- 4. file modes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_log_file_is_created_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    log_file = tmp_path / "plugin.log"
    noisy = str(ROOT / "tests/plugins/noisy.py")
    code = f"import os; os.umask({umask}); exec(compile(open({noisy!r}).read(), 'noisy', 'exec'))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=b'{"cniVersion":"1.0.0","name":"n"}',
        capture_output=True,
        check=False,
        timeout=60,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "CNI_COMMAND": "DEL",
            "RSCNI_LOG_FILE": str(log_file),
            **ATTACH,
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_state_files_and_directories_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        store = AttachmentStore("net1", root=tmp_path / "state")
        store.put("c1", "eth0", {"ip": "10.0.0.2"})
        with store.lock():
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state" / "net1").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path("c1", "eth0").stat().st_mode) == 0o600
    for entry in (tmp_path / "state" / "net1").iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry


def test_state_reads_refuse_a_planted_symlink(tmp_path: Path) -> None:
    from rscni_py.state import UnsafePathError

    store = AttachmentStore("net1", root=tmp_path / "state")
    store.put("c1", "eth0", {"ip": "10.0.0.2"})
    secret = tmp_path / "elsewhere.json"
    secret.write_text('{"not": "ours"}')
    path = store.path("c1", "eth0")
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(UnsafePathError):
        store.get("c1", "eth0")


def test_state_lock_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    store = AttachmentStore("net1", root=tmp_path / "state")
    store.put("c1", "eth0", {"ip": "10.0.0.2"})
    target = tmp_path / "victim"
    target.write_text("untouched")
    target.chmod(0o644)
    lock = tmp_path / "state" / "net1" / ".lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(target)
    with pytest.raises(OSError), store.lock(timeout=0):
        pass
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("untouched", 0o644)


# --- 5. what is logged ------------------------------------------------------------------------------------------------

SECRET = "s3cr3t-Tok3n-9f8e7d"

LOGGING_PLUGIN = """
import logging, os
from dataclasses import dataclass
from ipaddress import ip_interface
from rscni_py import CNIPlugin, NetConf
from rscni_py.types import IPConfig, Result, json_field

@dataclass(kw_only=True)
class Conf(NetConf):
    token: str = ""
    mtu: int = 1500

class P(CNIPlugin[Conf]):
    def add(self, args):
        logging.getLogger("plugin").debug("adding %s", args.container_id)
        token = args.config.token  # a local holding the secret: tracebacks must not show it
        if os.environ.get("FAIL") and token:
            raise RuntimeError("plugin failure")
        return Result(ips=[IPConfig(address=ip_interface("10.0.0.2/24"))])
    def delete(self, args):
        pass
    def check(self, args):
        pass

P.run()
"""


def secret_config(log_file: Path, **extra: Any) -> bytes:
    config = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "p",
        "logLevel": "DEBUG",
        "logFile": str(log_file),
        "token": SECRET,
        "ipam": {"type": "host-local", "password": SECRET},
        "runtimeConfig": {"apiKey": SECRET},
        "args": {"cni": {"secret": SECRET}},
        "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": SECRET[:15]}]},
        **extra,
    }
    return json.dumps(config).encode()


SECRET_CASES = [
    # (id, env beyond ATTACH, extra config keys, expected exit code, expected error code or None)
    ("ADD-success", {"CNI_COMMAND": "ADD"}, {}, 0, None),
    ("DEL-success", {"CNI_COMMAND": "DEL"}, {}, 0, None),
    ("CHECK-success", {"CNI_COMMAND": "CHECK"}, {}, 0, None),
    ("plugin-raises", {"CNI_COMMAND": "ADD", "FAIL": "1"}, {}, 1, 999),
    ("other-field-invalid", {"CNI_COMMAND": "ADD"}, {"mtu": "1500"}, 1, 7),
    (
        "bad-prevResult",
        {"CNI_COMMAND": "ADD"},
        {"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "x"}], "note": SECRET}},
        1,
        7,
    ),
    ("bad-CNI_ARGS", {"CNI_COMMAND": "ADD", "CNI_ARGS": "a;b"}, {}, 1, 4),
]


@pytest.mark.parametrize(
    ("env", "extra", "exit_code", "error_code"), [c[1:] for c in SECRET_CASES], ids=[c[0] for c in SECRET_CASES]
)
def test_configuration_values_are_never_logged(
    tmp_path: Path, env: dict[str, str], extra: dict[str, Any], exit_code: int, error_code: int | None
) -> None:
    log_file = tmp_path / "plugin.log"
    proc = run_plugin(LOGGING_PLUGIN, {**ATTACH, "RSCNI_LOG_LEVEL": "DEBUG", **env}, secret_config(log_file, **extra))
    assert proc.returncode == exit_code, proc.stderr
    if error_code is not None:
        assert json.loads(proc.stdout)["code"] == error_code
    log = log_file.read_text()
    assert f" rscni_py [{env['CNI_COMMAND']} c1] " in log  # the SDK's own records did reach the file
    for where, text in (("stdout", proc.stdout.decode()), ("stderr", proc.stderr.decode()), ("log file", log)):
        assert SECRET not in text, where
        assert SECRET[:15] not in text, where


def test_unencodable_characters_in_a_logged_error_do_not_break_the_log(tmp_path: Path) -> None:
    # A lone surrogate (a JSON "\ud800" escape) quoted in an error message used to make the log file handler fail
    # with "--- Logging error ---" and a traceback on stderr.
    log_file = tmp_path / "plugin.log"
    config = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "p",
        "logLevel": "INFO",
        "logFile": str(log_file),
        "capabilities": {"x": "\ud800"},
    }
    proc = run_plugin(LOGGING_PLUGIN, {**ATTACH, "CNI_COMMAND": "ADD"}, json.dumps(config).encode())
    # The quoted value shows the surrogate as an escape, as Go's %q shows what it cannot print.
    msg = 'invalid network config: capabilities.x: expected a boolean, got string "\\ud800"'
    assert (proc.returncode, json.loads(proc.stdout)) == (1, {"cniVersion": "1.0.0", "code": 7, "msg": msg})
    assert b"Traceback" not in proc.stderr and b"Logging error" not in proc.stderr
    assert log_file.read_text().endswith(
        'ADD failed with code 7: invalid network config: capabilities.x: expected a boolean, got string "\\ud800"\n'
    )


# --- 6. the own-namespace guard ---------------------------------------------------------------------------------------

OWN_NETNS_CASES = [
    # (id, command, CNI_NETNS, CNI_NETNS_OVERRIDE, refused)
    ("ADD-self", "ADD", "/proc/self/ns/net", "", True),
    ("ADD-own-pid", "ADD", f"/proc/{os.getpid()}/ns/net", "", True),
    ("DEL-self", "DEL", "/proc/self/ns/net", "", True),
    ("ADD-override-1", "ADD", "/proc/self/ns/net", "1", False),
    ("ADD-override-TRUE", "ADD", "/proc/self/ns/net", "TRUE", False),
    ("ADD-override-0", "ADD", "/proc/self/ns/net", "0", True),
    ("CHECK-self", "CHECK", "/proc/self/ns/net", "", False),  # Go guards ADD and DEL only
    ("ADD-other", "ADD", "/var/run/netns/does-not-exist", "", False),
]


@pytest.mark.parametrize(
    ("command", "netns", "override", "refused"), [c[1:] for c in OWN_NETNS_CASES], ids=[c[0] for c in OWN_NETNS_CASES]
)
def test_own_network_namespace_is_refused_before_the_plugin_runs(
    command: str, netns: str, override: str, refused: bool
) -> None:
    Recorder.calls = []
    out = io.StringIO()
    env = {**env_for(command), "CNI_NETNS": netns, "CNI_NETNS_OVERRIDE": override}
    code = dispatch(Recorder, env, io.BytesIO(b'{"cniVersion":"1.1.0","name":"n"}'), out, io.StringIO())
    if refused:
        expected = error(8, "plugin's netns and netns from CNI_NETNS should not be the same", json.dumps(netns))
        assert (code, json.loads(out.getvalue()), Recorder.calls) == (1, expected, [])
    else:
        assert (code, len(Recorder.calls)) == (0, 1)


def test_own_network_namespace_through_a_bind_mount_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "netns-link"
    target.touch()
    if subprocess.run(
        ["mount", "--bind", "/proc/self/ns/net", str(target)], capture_output=True, check=False
    ).returncode:
        pytest.skip("bind mounts need root")
    try:
        test_own_network_namespace_is_refused_before_the_plugin_runs("ADD", str(target), "", True)
    finally:
        subprocess.run(["umount", str(target)], capture_output=True, check=False)


def test_own_network_namespace_through_run() -> None:
    proc = run_plugin(
        LOGGING_PLUGIN,
        {**ATTACH, "CNI_COMMAND": "ADD", "CNI_NETNS": "/proc/self/ns/net"},
        b'{"cniVersion": "1.0.0", "name": "n", "type": "p"}',
    )
    assert (proc.returncode, json.loads(proc.stdout)) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 8,
            "msg": "plugin's netns and netns from CNI_NETNS should not be the same",
            "details": '"/proc/self/ns/net"',
        },
    )


# --- 7. stdout carries one document ----------------------------------------------------------------------------------

LEAKY_PLUGIN = """
import os, subprocess, sys
from ipaddress import ip_interface
from rscni_py import CNIError, CNIPlugin
from rscni_py.types import IPConfig, Result

class Leaky(CNIPlugin):
    def _leak(self):
        print("print() to stdout")
        sys.stdout.write("sys.stdout.write\\n")
        sys.__stdout__.write("sys.__stdout__.write\\n")
        sys.__stdout__.flush()
        os.write(1, b"os.write(1)\\n")
        subprocess.run(["echo", "child process"], check=True)
        subprocess.run(["sh", "-c", "echo child to fd 1 >&1; echo child to /dev/stdout > /dev/stdout"], check=True)
    def add(self, args):
        self._leak()
        failure = os.environ.get("LEAKY_FAIL")
        if failure == "cni":
            raise CNIError(107, "plugin refused")
        if failure == "crash":
            raise RuntimeError("plugin crashed")
        return Result(ips=[IPConfig(address=ip_interface("10.0.0.2/24"))])
    def delete(self, args):
        self._leak()
    def check(self, args):
        pass

Leaky.run()
"""

LEAKS = [
    b"print() to stdout",
    b"sys.stdout.write",
    b"sys.__stdout__.write",
    b"os.write(1)",
    b"child process",
    b"child to fd 1",
    b"child to /dev/stdout",
]
STDOUT_CASES = [
    # (id, env, exact stdout document or None for nothing)
    ("ADD-result", {"CNI_COMMAND": "ADD"}, {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24"}]}),
    (
        "ADD-cni-error",
        {"CNI_COMMAND": "ADD", "LEAKY_FAIL": "cni"},
        {"cniVersion": "1.0.0", "code": 107, "msg": "plugin refused"},
    ),
    (
        "ADD-crash",
        {"CNI_COMMAND": "ADD", "LEAKY_FAIL": "crash"},
        {"cniVersion": "1.0.0", "code": 999, "msg": "plugin crashed"},
    ),
    ("DEL-nothing", {"CNI_COMMAND": "DEL"}, None),
]


@pytest.mark.parametrize(("env", "document"), [c[1:] for c in STDOUT_CASES], ids=[c[0] for c in STDOUT_CASES])
def test_stdout_is_exactly_one_document_whatever_the_plugin_writes(env: dict[str, str], document: Any) -> None:
    proc = run_plugin(LEAKY_PLUGIN, {**ATTACH, **env}, b'{"cniVersion": "1.0.0", "name": "n", "type": "leaky"}')
    if document is None:
        assert (proc.returncode, proc.stdout) == (0, b"")
    else:
        assert json.loads(proc.stdout) == document  # the whole of stdout is this one document
    for leak in LEAKS:
        assert leak in proc.stderr, leak  # the stray output went to the log instead


def test_a_forked_child_never_writes_a_second_document() -> None:
    # The child raises, unwinds through the dispatcher and would answer too; only the parent's result is printed.
    config = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "forker", "mode": "child-raises"}).encode()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "plugins" / "forker.py")],
        input=config,
        capture_output=True,
        check=False,
        timeout=60,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "CNI_COMMAND": "ADD", **ATTACH},
    )
    assert (proc.returncode, json.loads(proc.stdout)) == (0, {"cniVersion": "1.0.0"})
    assert b"raised in the forked child" in proc.stderr  # the child did fail, on stderr only


# --- 8. limits ----------------------------------------------------------------------------------------------------


def test_documented_limits_are_the_enforced_ones() -> None:
    security = (ROOT / "SECURITY.md").read_text()
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    assert MAX_CONFIG_BYTES == 16 * 1024 * 1024 and MAX_JSON_DEPTH == 128
    assert "stdin above 16 MiB is refused with code 5" in security
    assert "nested deeper than 128 levels are refused with code 6" in security
    assert "16 MiB (`MAX_CONFIG_BYTES` = 16 777 216 bytes)" in protocol
    assert f"{MAX_JSON_DEPTH} levels (`MAX_JSON_DEPTH`)" in protocol
