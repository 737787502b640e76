"""Delegation without processes (docs/delegation.md).

Lookup, environment, result version fixup, failure mapping, rollback.

The process layer itself (real children, timeouts, signals, "text file busy") is in ``test_invoke_subprocess.py``.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from ipaddress import ip_interface
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rscni_py import (
    CmdArgs,
    CNIError,
    CNIPlugin,
    DecodingFailureError,
    IncompatibleCNIVersionError,
    InternalError,
    InvalidNetworkConfigError,
    NetConf,
    PluginInfo,
    PluginNotAvailableError,
    TryAgainLaterError,
    UnknownContainerError,
    invoke,
)
from rscni_py.invoke import DefaultExecutor, DelegateTimeoutError, Executor, _exit_text, plugin_error
from rscni_py.protocol.dispatch import dispatch
from rscni_py.testing.fake_exec import ExecCall, FakeExecutor, FakeResponse
from rscni_py.types import IPConfig, Result, v0_2, v0_4, v1_0

CONF_100 = b'{"cniVersion":"1.0.0","name":"net1","type":"bridge","ipam":{"type":"fake-ipam","subnet":"10.1.0.0/24"}}'
TRACE = {
    "TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "TRACESTATE": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    "BAGGAGE": "userId=alice,serverNode=DF%2028,isProduction=false",
}
# What a plugin's own environment looks like while it serves ADD.
PLUGIN_ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "ctr1",
    "CNI_NETNS": "/var/run/netns/ctr1",
    "CNI_IFNAME": "eth0",
    "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
    "PATH": "/usr/bin:/bin",
    **TRACE,
}
IPAM_RESULT_100 = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}


def expected_result(version: str = "1.0.0") -> Result:
    return Result(
        ips=[IPConfig(address=ip_interface("10.1.0.5/24"), gateway=ip_interface("10.1.0.1/32").ip)],
        cni_version=version,
    )


# --- plugin_env: only CNI_COMMAND changes ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])
def test_plugin_env_changes_only_cni_command(command: str) -> None:
    base = {**PLUGIN_ENV, "CNI_COMMAND": "NOPE"}
    snapshot = dict(base)
    assert invoke.plugin_env(base, command) == {**snapshot, "CNI_COMMAND": command}
    assert base == snapshot  # the caller's mapping is left alone


def test_plugin_env_overrides_set_further_variables() -> None:
    env = invoke.plugin_env({"PATH": "/bin"}, "DEL", {"CNI_CONTAINERID": "c9", "CNI_IFNAME": "net1"})
    assert env == {"PATH": "/bin", "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c9", "CNI_IFNAME": "net1"}


def test_plugin_env_rejects_unknown_command() -> None:
    with pytest.raises(ValueError, match=r"unknown CNI command 'del'"):
        invoke.plugin_env({}, "del")


@given(st.dictionaries(st.text(min_size=1), st.text()), st.sampled_from(["ADD", "DEL", "CHECK", "GC", "STATUS"]))
def test_plugin_env_property(base: dict[str, str], command: str) -> None:
    assert invoke.plugin_env(base, command) == {**base, "CNI_COMMAND": command}


def test_trace_context_reaches_the_delegate_unchanged() -> None:
    fake = FakeExecutor({"fake-ipam": IPAM_RESULT_100})
    invoke.delegate_add("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    invoke.delegate_delete("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    for call in fake.calls:
        assert {name: call.env[name] for name in invoke.TRACE_CONTEXT_VARIABLES} == TRACE


def test_executors_satisfy_the_protocol() -> None:
    executors: list[Executor] = [DefaultExecutor(), FakeExecutor()]
    assert all(isinstance(executor, Executor) for executor in executors)


# --- lookup: Go's FindInPath rules and messages ----------------------------------------------------------------------


@pytest.fixture
def plugin_dirs(tmp_path: Path) -> tuple[str, str]:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "dir-plugin").mkdir()  # a directory is not a plugin
    (second / "dir-plugin").write_text("#!/bin/sh\n")
    (second / "only-second").write_text("#!/bin/sh\n")
    (first / "both").write_text("#!/bin/sh\n")
    (second / "both").write_text("#!/bin/sh\n")
    (first / "not-executable").write_text("")  # found: the execute bit is not checked, as in Go
    return str(first), str(second)


@pytest.mark.parametrize(
    ("name", "found_in"),
    [
        ("both", 0),
        ("only-second", 1),
        ("dir-plugin", 1),
        ("not-executable", 0),
    ],
    ids=["first-directory-wins", "second-directory", "directories-skipped", "exec-bit-not-checked"],
)
def test_find_in_path_finds_regular_files(plugin_dirs: tuple[str, str], name: str, found_in: int) -> None:
    assert invoke.find_in_path(name, list(plugin_dirs)) == os.path.join(plugin_dirs[found_in], name)
    assert DefaultExecutor().find_in_path(name, list(plugin_dirs)) == os.path.join(plugin_dirs[found_in], name)


LOOKUP_ERRORS = [
    ("", ["/a"], "no plugin name provided"),
    ("sub/host-local", ["/a"], "invalid plugin name: sub/host-local"),
    ("../host-local", ["/a"], "invalid plugin name: ../host-local"),
    ("host-local", [], "no paths provided"),
    ("x", ["/nonexistent/a", "/nonexistent/b"], 'failed to find plugin "x" in path [/nonexistent/a /nonexistent/b]'),
    ("x", ["/nonexistent\0"], 'failed to find plugin "x" in path [/nonexistent\0]'),
]
LOOKUP_IDS = ["empty-name", "separator", "parent-dir", "no-paths", "not-found", "nul-in-path"]


@pytest.mark.parametrize(("name", "paths", "message"), LOOKUP_ERRORS, ids=LOOKUP_IDS)
@pytest.mark.parametrize("executor", [DefaultExecutor(), FakeExecutor({"host-local": None})], ids=["default", "fake"])
def test_lookup_errors(executor: Executor, name: str, paths: list[str], message: str) -> None:
    with pytest.raises(CNIError) as info:
        executor.find_in_path(name, paths)
    assert info.value == InternalError(message)


def test_delegate_looks_in_cni_path_of_the_given_env(plugin_dirs: tuple[str, str]) -> None:
    fake = FakeExecutor({"fake-ipam": IPAM_RESULT_100})
    invoke.delegate_add("fake-ipam", CONF_100, env={**PLUGIN_ENV, "CNI_PATH": "/x:/y"}, executor=fake)
    assert fake.calls[0].path == "/x/fake-ipam"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CNI_COMMAND": "ADD"}, "no paths provided"),
        ({"CNI_PATH": ""}, "no paths provided"),
        ({"CNI_PATH": "/nowhere:/else"}, 'failed to find plugin "fake-ipam" in path [/nowhere /else]'),
    ],
    ids=["unset", "empty", "not-found"],
)
def test_delegate_lookup_failure_runs_nothing(env: dict[str, str], message: str) -> None:
    with pytest.raises(CNIError) as info:
        invoke.delegate_add("fake-ipam", CONF_100, env=env)
    assert info.value == InternalError(message)


def test_delegate_default_env_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNI_PATH", "/from/os/environ")
    monkeypatch.setenv("CNI_COMMAND", "ADD")
    fake = FakeExecutor({"fake-ipam": None})
    invoke.delegate_check("fake-ipam", CONF_100, executor=fake)
    assert fake.calls[0].path == "/from/os/environ/fake-ipam"
    assert fake.calls[0].env == {**os.environ, "CNI_COMMAND": "CHECK"}


# --- what the delegate receives, per command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "command"),
    [
        (invoke.delegate_add, "ADD"),
        (invoke.delegate_check, "CHECK"),
        (invoke.delegate_delete, "DEL"),
        (invoke.delegate_gc, "GC"),
        (invoke.delegate_status, "STATUS"),
    ],
    ids=["add", "check", "del", "gc", "status"],
)
def test_delegate_passes_config_and_env(function: Any, command: str) -> None:
    fake = FakeExecutor({"fake-ipam": IPAM_RESULT_100})
    function("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake, timeout=2.5)
    assert fake.calls == [
        ExecCall(path="/opt/cni/bin/fake-ipam", stdin=CONF_100, env={**PLUGIN_ENV, "CNI_COMMAND": command}, timeout=2.5)
    ]


def test_delegate_sends_a_mapping_as_json() -> None:
    fake = FakeExecutor({"fake-ipam": None})
    conf = {"cniVersion": "1.1.0", "name": "net1", "type": "fake-ipam"}
    invoke.delegate_delete("fake-ipam", conf, env=PLUGIN_ENV, executor=fake)
    assert fake.calls[0].config() == conf


@pytest.mark.parametrize(
    "stdout",
    [b"", b"garbage", b'{"code":1}'],
    ids=["empty", "garbage", "json"],
)
def test_commands_without_result_ignore_stdout(stdout: bytes) -> None:
    fake = FakeExecutor({"fake-ipam": stdout})
    invoke.delegate_delete("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)  # no error raised
    assert fake.commands == [("fake-ipam", "DEL")]


@pytest.mark.parametrize(
    "error",
    [
        InvalidNetworkConfigError("invalid range set 0: no subnet", "x"),
        CNIError(0, 'netplugin failed: "panic": exit status 2'),
        CNIError(142, "plugin-specific"),
        PluginNotAvailableError("no IPs left"),
        TryAgainLaterError('plugin "/x" did not finish within 1s and was killed'),
    ],
    ids=["code-7", "code-0", "code-142", "status-50", "timeout-11"],
)
@pytest.mark.parametrize("function", [invoke.delegate_add, invoke.delegate_status], ids=["add", "status"])
def test_delegate_errors_pass_through_unchanged(function: Any, error: CNIError) -> None:
    fake = FakeExecutor({"fake-ipam": error})
    with pytest.raises(CNIError) as info:
        function("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    assert info.value is error


# --- result version fixup (Go fixupResultVersion, cni#895) ------------------------------------------------------------

RESULT_04 = {"ips": [{"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}
RESULT_02 = {"ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1"}}
RESULT_10 = {"ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}


@pytest.mark.parametrize(
    ("config_version", "stdout", "result_class", "result_version"),
    [
        ("1.0.0", RESULT_10, v1_0.Result, "1.0.0"),
        ("1.1.0", {**RESULT_10, "cniVersion": ""}, v1_0.Result, "1.1.0"),
        ("0.4.0", RESULT_04, v0_4.Result, "0.4.0"),
        ("0.3.1", {**RESULT_04, "cniVersion": 1}, v0_4.Result, "0.3.1"),
        (None, RESULT_02, v0_2.Result, "0.1.0"),
        ("", RESULT_02, v0_2.Result, "0.1.0"),
        ("0.2.0", RESULT_02, v0_2.Result, "0.2.0"),
        ("1.0.0", {**RESULT_04, "cniVersion": "0.4.0"}, v0_4.Result, "0.4.0"),
        ("0.4.0", {**RESULT_10, "cniVersion": "1.1.0"}, v1_0.Result, "1.1.0"),
    ],
    ids=[
        "missing-takes-config",
        "empty-takes-config",
        "missing-0.4",
        "non-string-takes-config",
        "config-without-version-0.1.0",
        "config-empty-version-0.1.0",
        "0.2",
        "own-version-wins-older",
        "own-version-wins-newer",
    ],
)
def test_result_version_fixup(
    config_version: str | None, stdout: dict[str, Any], result_class: type[Any], result_version: str
) -> None:
    conf: dict[str, Any] = {"name": "net1", "type": "fake-ipam"}
    if config_version is not None:
        conf["cniVersion"] = config_version
    fake = FakeExecutor({"fake-ipam": stdout})
    result = invoke.exec_plugin_with_result(fake, "/bin/fake-ipam", json.dumps(conf).encode(), {})
    assert type(result) is result_class
    assert result.cni_version == result_version
    # delegate_add hands plugins the 1.x model: 0.x results converted to 1.1.0, 1.x results kept.
    up = invoke.delegate_add("fake-ipam", conf, env=PLUGIN_ENV, executor=fake)
    assert up == expected_result(result_version if result_class is v1_0.Result else "1.1.0")


def test_null_result_is_an_empty_result_of_the_config_version() -> None:
    fake = FakeExecutor({"fake-ipam": b"null"})
    assert invoke.delegate_add("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake) == Result(cni_version="1.0.0")


@pytest.mark.parametrize(
    ("stdout", "error"),
    [
        (
            b"",
            DecodingFailureError(
                'failed to unmarshal raw result of plugin "/opt/cni/bin/fake-ipam": '
                "Expecting value: line 1 column 1 (char 0)",
                '""',
            ),
        ),
        (
            b"hello",
            DecodingFailureError(
                'failed to unmarshal raw result of plugin "/opt/cni/bin/fake-ipam": '
                "Expecting value: line 1 column 1 (char 0)",
                '"hello"',
            ),
        ),
        (
            b'{"cniVersion":"1.0.0"}\n{"code":7,"msg":"late error"}',
            DecodingFailureError(
                'failed to unmarshal raw result of plugin "/opt/cni/bin/fake-ipam": '
                "Extra data: line 2 column 1 (char 23)",
                '"{\\"cniVersion\\":\\"1.0.0\\"}\\n{\\"code\\":7,\\"msg\\":\\"late error\\"}"',
            ),
        ),
        (
            b"[1]",
            DecodingFailureError(
                'failed to unmarshal raw result of plugin "/opt/cni/bin/fake-ipam": expected an object, got array',
                '"[1]"',
            ),
        ),
        (
            b'{"ips":[{"address":"NaN"}],"x":NaN}',
            DecodingFailureError(
                'failed to unmarshal raw result of plugin "/opt/cni/bin/fake-ipam": invalid JSON value NaN',
                '"{\\"ips\\":[{\\"address\\":\\"NaN\\"}],\\"x\\":NaN}"',
            ),
        ),
        (
            b'{"ips":[{"address":"10.1.0.500/24"}]}',
            DecodingFailureError(
                'invalid result from plugin "/opt/cni/bin/fake-ipam": ips[0].address: invalid CIDR "10.1.0.500/24"',
                '"{\\"ips\\":[{\\"address\\":\\"10.1.0.500/24\\"}]}"',
            ),
        ),
        (
            b'{"cniVersion":"9.9.9"}',
            IncompatibleCNIVersionError(
                'result of plugin "/opt/cni/bin/fake-ipam": unsupported CNI result version "9.9.9"',
            ),
        ),
    ],
    ids=["empty", "garbage", "two-documents", "array", "nan", "bad-field", "unknown-version"],
)
def test_bad_result_output(stdout: bytes, error: CNIError) -> None:
    fake = FakeExecutor({"fake-ipam": stdout})
    with pytest.raises(CNIError) as info:
        invoke.delegate_add("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    assert (type(info.value), info.value) == (type(error), error)


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            b"{",
            "decoding version from network config: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (b'{"cniVersion":1}', "decoding version from network config: cniVersion: expected a string, got number"),
    ],
    ids=["not-json", "version-not-string"],
)
def test_bad_config_version_after_success(conf: bytes, message: str) -> None:
    fake = FakeExecutor({"fake-ipam": IPAM_RESULT_100})
    with pytest.raises(CNIError) as info:
        invoke.exec_plugin_with_result(fake, "/bin/fake-ipam", conf, {})
    assert info.value == DecodingFailureError(message)


# --- VERSION (Go GetVersionInfo) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "versions"),
    [
        ({"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}, ("0.4.0", "1.0.0", "1.1.0")),
        ({"cniVersion": "0.2.0"}, ("0.1.0", "0.2.0")),
        ({"cniVersion": "0.2.0", "supportedVersions": []}, ("0.1.0", "0.2.0")),
        (CNIError(4, "unknown CNI_COMMAND: VERSION"), ("0.1.0",)),
    ],
    ids=["current", "0.2.0-without-list", "0.2.0-empty-list", "predates-version"],
)
def test_get_version_info(answer: FakeResponse, versions: tuple[str, ...]) -> None:
    fake = FakeExecutor({"p": answer})
    info = invoke.get_version_info(fake, "/opt/cni/bin/p", env={"PATH": "/bin", "CNI_COMMAND": "ADD"}, timeout=1.0)
    assert info == PluginInfo(versions)
    assert fake.calls == [
        ExecCall(
            "/opt/cni/bin/p",
            b'{"cniVersion":"1.1.0"}',
            {
                "PATH": "/bin",
                "CNI_COMMAND": "VERSION",
                "CNI_NETNS": "dummy",
                "CNI_IFNAME": "dummy",
                "CNI_PATH": "dummy",
            },
            1.0,
        )
    ]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"nope", DecodingFailureError("decoding version info: Expecting value: line 1 column 1 (char 0)", '"nope"')),
        (b"[]", DecodingFailureError("decoding version info: expected an object, got array")),
        ({}, DecodingFailureError("decoding version info: missing field cniVersion")),
        ({"cniVersion": "1.0.0"}, DecodingFailureError("decoding version info: missing field supportedVersions")),
        # Only 0.2.0 may leave out the list (Go's PluginDecoder); 0.1.0 is no exception.
        ({"cniVersion": "0.1.0"}, DecodingFailureError("decoding version info: missing field supportedVersions")),
        ({"cniVersion": 1}, DecodingFailureError("decoding version info: cniVersion: expected a string, got number")),
        (
            {"cniVersion": "1.0.0", "supportedVersions": "1.0.0"},
            DecodingFailureError("decoding version info: supportedVersions: expected an array of strings"),
        ),
        (
            CNIError(4, "required env variables [CNI_PATH] missing"),
            CNIError(4, "required env variables [CNI_PATH] missing"),
        ),
        # Only the exact "unknown CNI_COMMAND: VERSION" means "predates VERSION"; any other refusal is an error.
        (CNIError(4, "unknown command: VERSION"), CNIError(4, "unknown command: VERSION")),
        (CNIError(4, "unknown CNI_COMMAND: VERSION!"), CNIError(4, "unknown CNI_COMMAND: VERSION!")),
    ],
    ids=[
        "not-json",
        "array",
        "no-version",
        "no-list",
        "0.1.0-without-list",
        "version-number",
        "list-string",
        "plugin-error",
        "other-unknown-command",
        "longer-message",
    ],
)
def test_get_version_info_errors(answer: FakeResponse, error: CNIError) -> None:
    with pytest.raises(CNIError) as info:
        invoke.get_version_info(FakeExecutor({"p": answer}), "/p", env={})
    assert (type(info.value), info.value) == (type(error), error)


# --- plugin_error: Go's RawExec.pluginErr ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        (b"", b"", CNIError(0, "netplugin failed with no error message: exit status 1")),
        (b"", b"boom\n", CNIError(0, 'netplugin failed: "boom\\n": exit status 1')),
        (b"", b"\xff bad utf-8", CNIError(0, 'netplugin failed: "\ufffd bad utf-8": exit status 1')),
        (
            b'{"code":7,"msg":"no subnet","details":"range 0"}',
            b"ignored",
            InvalidNetworkConfigError("no subnet", "range 0"),
        ),
        (b'{"cniVersion":"1.0.0","code":11,"msg":"busy"}', b"", TryAgainLaterError("busy")),
        (b'{"code":142,"msg":"mine"}', b"", CNIError(142, "mine")),
        (b'{"msg":"no code"}', b"", CNIError(0, "no code")),
        (b'{"code":3}', b"", UnknownContainerError("")),
        (
            b"not json",
            b"",
            CNIError(
                0,
                'netplugin failed but error parsing its diagnostic message "not json": '
                "Expecting value: line 1 column 1 (char 0)",
            ),
        ),
        (
            b'{"cniVersion":"1.0.0","ips":[]}\n{"code":7,"msg":"x"}',
            b"",
            CNIError(
                0,
                "netplugin failed but error parsing its diagnostic message "
                '"{\\"cniVersion\\":\\"1.0.0\\",\\"ips\\":[]}\\n{\\"code\\":7,\\"msg\\":\\"x\\"}": '
                "Extra data: line 2 column 1 (char 32)",
            ),
        ),
        (
            b'"oops"',
            b"",
            CNIError(
                0,
                'netplugin failed but error parsing its diagnostic message "\\"oops\\"": '
                "expected an error object, got string",
            ),
        ),
        (
            b'{"cniVersion":"1.0.0"}',
            b"",
            CNIError(
                0,
                'netplugin failed but error parsing its diagnostic message "{\\"cniVersion\\":\\"1.0.0\\"}": '
                "the object has neither code nor msg",
            ),
        ),
        (
            b'{"code":"7","msg":"x"}',
            b"",
            CNIError(
                0,
                'netplugin failed but error parsing its diagnostic message "{\\"code\\":\\"7\\",\\"msg\\":\\"x\\"}": '
                "error object has no valid code: '7'",
            ),
        ),
        (
            b'{"code": true}',
            b"",
            CNIError(
                0,
                'netplugin failed but error parsing its diagnostic message "{\\"code\\": true}": '
                "error object has no valid code: True",
            ),
        ),
    ],
    ids=[
        "silent",
        "stderr-only",
        "stderr-not-utf8",
        "error-object-code-kept",
        "error-object-with-version",
        "plugin-code",
        "missing-code-is-0",
        "missing-msg",
        "garbage",
        "result-then-error",
        "json-string",
        "object-without-error-keys",
        "code-not-a-number",
        "code-a-boolean",
    ],
)
def test_plugin_error_mapping(stdout: bytes, stderr: bytes, expected: CNIError) -> None:
    error = plugin_error("exit status 1", stdout, stderr)
    assert (type(error), error) == (type(expected), expected)


@given(
    st.integers(min_value=0, max_value=2**31),
    st.text(min_size=1),
    st.text(),
)
def test_plugin_error_keeps_any_error_object(code: int, msg: str, details: str) -> None:
    stdout = json.dumps({"cniVersion": "1.1.0", "code": code, "msg": msg, "details": details}).encode()
    error = plugin_error("exit status 1", stdout, b"")
    assert (error.code, error.msg, error.details) == (code, msg, details)


@given(st.binary(min_size=1))
def test_plugin_error_never_fails_on_any_output(stdout: bytes) -> None:
    error = plugin_error("signal: killed", stdout, b"")
    # Either the output was an error object and its msg was taken, or the output is quoted in the message.
    if not error.msg.startswith("netplugin failed but error parsing its diagnostic message "):
        assert json.loads(stdout).get("msg", "") == error.msg


# --- rollback ---------------------------------------------------------------------------------------------------------


class Boom(Exception):
    pass


def ipam(result: FakeResponse = IPAM_RESULT_100, on_del: FakeResponse = None) -> FakeExecutor:
    def handler(call: ExecCall) -> FakeResponse:
        return result if call.command == "ADD" else on_del

    return FakeExecutor({"fake-ipam": handler})


def test_rollback_not_run_on_success() -> None:
    fake = ipam()
    with invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake) as result:
        assert result == expected_result()
    assert fake.commands == [("fake-ipam", "ADD")]


@pytest.mark.parametrize(
    "failure",
    [Boom("link setup failed"), InvalidNetworkConfigError("bad mtu"), KeyboardInterrupt(), SystemExit(143)],
    ids=["exception", "cni-error", "keyboard-interrupt", "system-exit"],
)
def test_rollback_runs_del_once_and_keeps_the_original(failure: BaseException) -> None:
    fake = ipam()
    with (
        pytest.raises(type(failure)) as info,
        invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake, timeout=3.0),
    ):
        raise failure
    assert info.value is failure
    assert fake.commands == [("fake-ipam", "ADD"), ("fake-ipam", "DEL")]
    add, delete = fake.calls
    assert delete == ExecCall(add.path, CONF_100, {**PLUGIN_ENV, "CNI_COMMAND": "DEL"}, 3.0)
    assert getattr(failure, "__notes__", []) == []


def test_rollback_del_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    fake = ipam(on_del=CNIError(0, "netplugin failed with no error message: exit status 1"))
    failure = Boom("veth creation failed")
    with (
        caplog.at_level(logging.WARNING, logger="rscni_py.invoke"),
        pytest.raises(Boom) as info,
        invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        raise failure
    assert info.value is failure
    assert fake.commands == [("fake-ipam", "ADD"), ("fake-ipam", "DEL")]
    message = (
        "DEL of delegated plugin /opt/cni/bin/fake-ipam failed: netplugin failed with no error message: exit status 1"
    )
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", f"rollback: {message}")]
    assert getattr(failure, "__notes__", None) == [
        "rollback: DEL of delegated plugin /opt/cni/bin/fake-ipam failed, what its ADD allocated may still be held: "
        "netplugin failed with no error message: exit status 1"
    ]


@pytest.mark.parametrize(
    ("add_answer", "commands"),
    [
        # The delegate answered with an error: it allocated nothing, and a DEL could release an earlier ADD's lease.
        (InvalidNetworkConfigError("no subnet"), ["ADD"]),
        (CNIError(999, "10.1.0.5 has been allocated to c1/eth0, duplicate allocation is not allowed"), ["ADD"]),
        (TryAgainLaterError("the store is busy"), ["ADD"]),
        # Killed by its timeout, or exited 0 with output that is not a result: it may have allocated.
        (
            DelegateTimeoutError('plugin "/opt/cni/bin/fake-ipam" did not finish within 1s and was killed'),
            ["ADD", "DEL"],
        ),
        (b"garbage", ["ADD", "DEL"]),
    ],
    ids=["delegate-error", "duplicate-allocation", "delegate-try-again", "delegate-timeout", "delegate-garbage"],
)
def test_rollback_only_undoes_what_the_delegate_may_have_done(add_answer: FakeResponse, commands: list[str]) -> None:
    fake = ipam(result=add_answer)
    body_ran = False
    with (
        pytest.raises(CNIError) as info,
        invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        body_ran = True
    assert not body_ran
    if isinstance(add_answer, CNIError):
        assert info.value is add_answer
    else:
        assert info.value.code == 6
    assert fake.commands == [("fake-ipam", command) for command in commands]


def test_interrupt_during_the_delegate_add_rolls_back() -> None:
    # The executor kills an interrupted delegate part-way (test_invoke_subprocess checks that); it may have allocated.
    fake = ipam(result=KeyboardInterrupt())
    with (
        pytest.raises(KeyboardInterrupt),
        invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        pytest.fail("the block must not run")
    assert fake.commands == [("fake-ipam", "ADD"), ("fake-ipam", "DEL")]


@pytest.mark.parametrize(
    ("timeout", "rollback_timeout", "del_timeout"),
    [
        (None, invoke.ROLLBACK_TIMEOUT, invoke.ROLLBACK_TIMEOUT),
        (invoke.DEFAULT_TIMEOUT, 10.0, 10.0),
        (3.0, 10.0, 3.0),
        (None, 0.5, 0.5),
    ],
)
def test_rollback_del_is_always_bounded(timeout: float | None, rollback_timeout: float, del_timeout: float) -> None:
    fake = ipam()
    with (
        pytest.raises(Boom),
        invoke.add_with_rollback(
            "fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake, timeout=timeout, rollback_timeout=rollback_timeout
        ),
    ):
        raise Boom("link setup failed")
    assert [(call.command, call.timeout) for call in fake.calls] == [("ADD", timeout), ("DEL", del_timeout)]


def test_delegates_have_a_default_timeout() -> None:
    fake = ipam()
    invoke.delegate_add("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    for function in (invoke.delegate_delete, invoke.delegate_check, invoke.delegate_gc, invoke.delegate_status):
        function("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
    assert invoke.DEFAULT_TIMEOUT == 60.0
    assert [call.timeout for call in fake.calls] == [60.0] * 5


def test_nested_rollbacks_unwind_in_reverse_order() -> None:
    fake = FakeExecutor({"pool": IPAM_RESULT_100, "extra": IPAM_RESULT_100})
    with (
        pytest.raises(Boom),
        invoke.add_with_rollback("pool", CONF_100, env=PLUGIN_ENV, executor=fake),
        invoke.add_with_rollback("extra", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        raise Boom
    assert fake.commands == [("pool", "ADD"), ("extra", "ADD"), ("extra", "DEL"), ("pool", "DEL")]


def test_rollback_of_the_second_delegate_when_its_add_fails() -> None:
    fake = FakeExecutor({"pool": IPAM_RESULT_100, "extra": InvalidNetworkConfigError("no static address")})
    with (
        pytest.raises(InvalidNetworkConfigError),
        invoke.add_with_rollback("pool", CONF_100, env=PLUGIN_ENV, executor=fake),
        invoke.add_with_rollback("extra", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        pass  # pragma: no cover - never entered
    # extra answered with an error, so it allocated nothing; pool's allocation is released.
    assert fake.commands == [("pool", "ADD"), ("extra", "ADD"), ("pool", "DEL")]


def test_no_rollback_when_the_delegate_is_not_found() -> None:
    fake = FakeExecutor()
    with (
        pytest.raises(CNIError) as info,
        invoke.add_with_rollback("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake),
    ):
        pass  # pragma: no cover - never entered
    assert info.value == InternalError('failed to find plugin "fake-ipam" in path [/opt/cni/bin /usr/lib/cni]')
    assert fake.calls == []


# --- a whole plugin: the rollback seen from the runtime ---------------------------------------------------------------


@dataclass
class BridgeConf(NetConf):
    pass


class IpamUser(CNIPlugin[BridgeConf]):
    """Delegates IPAM, then fails when told to: what the runtime sees, and what the delegate was asked."""

    executor: ClassVar[FakeExecutor]
    fail_with: ClassVar[BaseException | None] = None

    def add(self, args: CmdArgs[BridgeConf]) -> Result:
        assert args.config.ipam is not None
        # No env=: delegation starts from this call's environment (CNI_PATH included), not from os.environ.
        with invoke.add_with_rollback(args.config.ipam.type, args.stdin_data, executor=self.executor) as ipam_result:
            if self.fail_with is not None:
                raise self.fail_with
            return ipam_result

    def delete(self, args: CmdArgs[BridgeConf]) -> None:
        assert args.config.ipam is not None
        invoke.delegate_delete(args.config.ipam.type, args.stdin_data, executor=self.executor)

    def check(self, args: CmdArgs[BridgeConf]) -> None:
        pass


def run_plugin(env: dict[str, str], stdin: bytes) -> tuple[int, Any]:
    stdout = io.StringIO()
    code = dispatch(IpamUser, env, io.BytesIO(stdin), stdout, io.StringIO())
    return code, json.loads(stdout.getvalue())


@pytest.mark.parametrize(
    ("failure", "stdout", "commands"),
    [
        (None, {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}, ["ADD"]),
        (
            InvalidNetworkConfigError("bridge: mtu too large"),
            {"cniVersion": "1.0.0", "code": 7, "msg": "bridge: mtu too large"},
            ["ADD", "DEL"],
        ),
        (
            RuntimeError("netlink: device busy"),
            {"cniVersion": "1.0.0", "code": 999, "msg": "netlink: device busy"},
            ["ADD", "DEL"],
        ),
    ],
    ids=["success", "plugin-error", "unexpected-exception"],
)
def test_plugin_add_rollback_end_to_end(failure: BaseException | None, stdout: Any, commands: list[str]) -> None:
    IpamUser.executor = ipam()
    IpamUser.fail_with = failure
    env = {k: v for k, v in PLUGIN_ENV.items() if k.startswith("CNI_")}
    assert run_plugin(env, CONF_100) == (0 if failure is None else 1, stdout)
    assert IpamUser.executor.commands == [("fake-ipam", c) for c in commands]
    for call in IpamUser.executor.calls:
        assert call.env == {**env, "CNI_COMMAND": call.command}
        assert call.stdin == CONF_100


def test_plugin_passes_delegate_error_through_to_the_runtime() -> None:
    IpamUser.executor = ipam(result=InvalidNetworkConfigError("invalid range set 0", "subnet missing"))
    IpamUser.fail_with = None
    env = {k: v for k, v in PLUGIN_ENV.items() if k.startswith("CNI_")}
    assert run_plugin(env, CONF_100) == (
        1,
        {"cniVersion": "1.0.0", "code": 7, "msg": "invalid range set 0", "details": "subnet missing"},
    )
    # The delegate's own error: it allocated nothing, so nothing is undone.
    assert IpamUser.executor.commands == [("fake-ipam", "ADD")]


def test_cmd_args_carry_the_dispatch_environment() -> None:
    IpamUser.executor = ipam()
    IpamUser.fail_with = None
    env = {k: v for k, v in PLUGIN_ENV.items() if k.startswith("CNI_")}
    run_plugin({**env, **TRACE}, CONF_100)
    assert [call.env for call in IpamUser.executor.calls] == [{**env, **TRACE, "CNI_COMMAND": "ADD"}]


# --- FakeExecutor ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "stdout"),
    [(None, b""), (b"\x00raw", b"\x00raw"), ("text", b"text"), ({"a": [1]}, b'{"a": [1]}')],
    ids=["none", "bytes", "str", "mapping"],
)
def test_fake_answers(answer: FakeResponse, stdout: bytes) -> None:
    fake = FakeExecutor()
    fake.register("p", answer)
    assert fake.exec_plugin(fake.find_in_path("p", ["/d"]), b"in", {"CNI_COMMAND": "ADD"}) == stdout
    assert fake.calls == [ExecCall("/d/p", b"in", {"CNI_COMMAND": "ADD"})]


def test_fake_unregistered_path_fails_like_a_missing_file() -> None:
    with pytest.raises(CNIError) as info:
        FakeExecutor().exec_plugin("/opt/cni/bin/gone", b"", {})
    assert info.value == CNIError(
        0, "netplugin failed with no error message: fork/exec /opt/cni/bin/gone: no such file or directory"
    )


def test_the_delegates_without_a_result_are_made_from_the_command_table() -> None:
    # One delegate_<method> per command that prints nothing, each sending its own CNI_COMMAND.
    from rscni_py.protocol.commands import COMMAND_SPECS

    fake = FakeExecutor({"fake-ipam": b""})
    made = []
    for spec in COMMAND_SPECS.values():
        if spec.prints == "nothing":
            delegate = getattr(invoke, f"delegate_{spec.method}")
            delegate("fake-ipam", CONF_100, env=PLUGIN_ENV, executor=fake)
            made.append(delegate.__name__)
    assert made == ["delegate_delete", "delegate_check", "delegate_gc", "delegate_status"]
    assert fake.commands == [("fake-ipam", "DEL"), ("fake-ipam", "CHECK"), ("fake-ipam", "GC"), ("fake-ipam", "STATUS")]


@pytest.mark.parametrize(
    ("returncode", "text"),
    [
        (1, "exit status 1"),
        (255, "exit status 255"),
        (-1, "signal: hangup"),
        (-9, "signal: killed"),
        (-15, "signal: terminated"),
        (-11, "signal: segmentation fault"),
        (-1000, "signal: signal 1000"),  # no such signal: Go prints its number
    ],
)
def test_exit_text_reads_as_go_exit_error(returncode: int, text: str) -> None:
    # A negative return code is Python's way of saying "killed by that signal" (tests/test_invoke_subprocess.py
    # checks the same texts on real processes).
    assert _exit_text(returncode) == text
