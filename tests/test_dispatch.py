"""The CNI execution protocol, rule by rule (docs/protocol.md §1-§4): whole error JSON and exit code for every case."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from ipaddress import ip_interface
from typing import Any

import pytest

from rscni_py import CmdArgs, CNIError, CNIPlugin, InvalidNetworkConfigError, NetConf, TryAgainLaterError, override
from rscni_py.protocol.dispatch import dispatch
from rscni_py.types import Interface, IPConfig, Result
from tests.recorder import Recorder

ALL = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
ATTACH_ENV = {
    "CNI_CONTAINERID": "ctr1",
    "CNI_NETNS": "/var/run/netns/test",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    calls: list[tuple[str, CmdArgs[Any, Any]]]

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


class WithAbout(Recorder):
    about = "CNI recorder plugin v9"


class OnlyNew(Recorder):
    supported_versions = ("1.0.0", "1.1.0")


class UpTo100(Recorder):
    supported_versions = ("0.4.0", "1.0.0")


@pytest.fixture(autouse=True)
def _fresh_recorder() -> None:
    Recorder.reset()


def run(
    env: dict[str, str],
    stdin: bytes | dict[str, Any] = b"",
    plugin: type[Recorder] = Recorder,
    raises: BaseException | None = None,
    returns: object = None,
) -> Outcome:
    Recorder.reset(raises=raises, returns=returns)
    data = json.dumps(stdin).encode() if isinstance(stdin, dict) else stdin
    out, err = io.StringIO(), io.StringIO()
    code = dispatch(plugin, env, io.BytesIO(data), out, err)
    return Outcome(code, out.getvalue(), err.getvalue(), list(Recorder.calls))


def conf(version: str | None = "1.1.0", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "testnet", "type": "recorder"}
    if version is not None:
        out["cniVersion"] = version
    out.update(extra)
    return out


def error(code: int, msg: str, details: str = "", version: str = "1.1.0") -> dict[str, Any]:
    out: dict[str, Any] = {"cniVersion": version, "code": code, "msg": msg}
    if details:
        out["details"] = details
    return out


def env_for(command: str, **overrides: str) -> dict[str, str]:
    env = {"CNI_COMMAND": command, **ATTACH_ENV}
    if command in ("GC", "STATUS"):
        env = {"CNI_COMMAND": command, "CNI_PATH": "/opt/cni/bin"}
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


# --- environment variables ------------------------------------------------------------------------------------------

MISSING_CASES = [
    # (command, env without the command, missing list)
    ("ADD", {}, "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
    ("CHECK", {}, "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
    ("DEL", {}, "CNI_CONTAINERID,CNI_IFNAME,CNI_PATH"),  # CNI_NETNS is optional for DEL
    ("GC", {}, "CNI_PATH"),
    ("STATUS", {}, "CNI_PATH"),
    ("ADD", {"CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0"}, "CNI_NETNS,CNI_PATH"),
    # An empty variable counts as missing, not invalid.
    ("ADD", {**ATTACH_ENV, "CNI_CONTAINERID": "", "CNI_IFNAME": ""}, "CNI_CONTAINERID,CNI_IFNAME"),
]


@pytest.mark.parametrize(("command", "env", "missing"), MISSING_CASES, ids=lambda v: str(v)[:40])
def test_missing_env_vars_reported_together(command: str, env: dict[str, str], missing: str) -> None:
    out = run({"CNI_COMMAND": command, **env}, conf())
    assert (out.code, out.json) == (1, error(4, f"required env variables [{missing}] missing"))
    assert out.calls == []


def test_missing_command_without_about_is_an_error() -> None:
    out = run({}, conf())
    assert (out.code, out.json, out.stderr) == (1, error(4, "required env variables [CNI_COMMAND] missing"), "")


def test_missing_command_with_about_prints_about_on_stderr() -> None:
    out = run({}, b"never read", plugin=WithAbout)
    assert (out.code, out.stdout) == (0, "")
    assert out.stderr == "CNI recorder plugin v9\nCNI protocol versions supported: " + ", ".join(ALL) + "\n"


@pytest.mark.parametrize(
    ("variable", "value", "msg", "details"),
    [
        ("CNI_CONTAINERID", "-leading-dash", "invalid characters in containerID", "-leading-dash"),
        ("CNI_CONTAINERID", "a/b", "invalid characters in containerID", "a/b"),
        ("CNI_CONTAINERID", "abc\n", "invalid characters in containerID", "abc\n"),
        ("CNI_CONTAINERID", "caf\u00e9", "invalid characters in containerID", "caf\u00e9"),
        ("CNI_IFNAME", "a" * 16, "interface name is too long", "interface name should be less than 16 characters"),
        ("CNI_IFNAME", "\u00e9" * 8, "interface name is too long", "interface name should be less than 16 characters"),
        ("CNI_IFNAME", ".", "interface name is . or ..", "."),
        ("CNI_IFNAME", "..", "interface name is . or ..", ".."),
        ("CNI_IFNAME", "eth/0", "interface name contains / or : or whitespace characters", "eth/0"),
        ("CNI_IFNAME", "eth:0", "interface name contains / or : or whitespace characters", "eth:0"),
        ("CNI_IFNAME", "eth 0", "interface name contains / or : or whitespace characters", "eth 0"),
        ("CNI_IFNAME", "eth\t0", "interface name contains / or : or whitespace characters", "eth\t0"),
        ("CNI_IFNAME", "eth\u3000", "interface name contains / or : or whitespace characters", "eth\u3000"),
    ],
    ids=lambda v: repr(v)[:24],
)
def test_invalid_env_values(variable: str, value: str, msg: str, details: str) -> None:
    out = run(env_for("ADD", **{variable: value}), conf())
    assert (out.code, out.json) == (1, error(4, msg, details))
    assert out.calls == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CNI_CONTAINERID", "a"),
        ("CNI_CONTAINERID", "A-b_c.9"),
        ("CNI_IFNAME", "a" * 15),
        ("CNI_IFNAME", "\u00e9" * 7),
        ("CNI_IFNAME", "eth\x1c"),  # Go's unicode.IsSpace does not include U+001C, although str.isspace() does
    ],
)
def test_valid_env_values_edge(variable: str, value: str) -> None:
    out = run(env_for("ADD", **{variable: value}), conf())
    assert out.code == 0, out.stdout


def test_validation_error_wins_over_earlier_missing_variable() -> None:
    # Go checks in table order and returns a validation failure at once, before reporting what is missing.
    out = run({"CNI_COMMAND": "ADD", "CNI_IFNAME": "x" * 20}, conf())
    assert out.json == error(4, "interface name is too long", "interface name should be less than 16 characters")


# --- stdin and the network configuration --------------------------------------------------------------------------

_NOT_UTF8 = "error decoding network config: stdin is not UTF-8 text without a byte order mark"

CONFIG_CASES = [
    (b"", 6, "error decoding network config: stdin is empty", ""),
    (b"  \n", 6, "error decoding network config: stdin is empty", ""),
    (
        b"{",
        6,
        "error decoding network config: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "",
    ),
    (b"nope", 6, "error decoding network config: Expecting value: line 1 column 1 (char 0)", ""),
    (b'{"name": "n"} {}', 6, "error decoding network config: Extra data: line 1 column 15 (char 14)", ""),
    (b"[]", 6, "error decoding network config: expected a JSON object, got array", ""),
    (b'"x"', 6, "error decoding network config: expected a JSON object, got string", ""),
    (b'{"name": NaN}', 6, "error decoding network config: invalid JSON value NaN", ""),
    (b'{"name": 5}', 6, "error decoding network config: name: expected a string, got number", ""),
    (b'{"name": "\xff"}', 6, _NOT_UTF8, "'utf-8' codec can't decode byte 0xff in position 10: invalid start byte"),
    # stdin is UTF-8 without a byte order mark, as Go's decoder reads it (docs/protocol.md, section 3).
    (b'\xef\xbb\xbf{"name": "n"}', 6, _NOT_UTF8, "it starts with a byte order mark"),
    ('{"name": "n"}'.encode("utf-16"), 6, _NOT_UTF8, "it starts with a byte order mark"),
    ('{"name": "n"}'.encode("utf-16-be"), 6, _NOT_UTF8, "it holds a NUL byte at offset 0"),
    ('{"name": "n"}'.encode("utf-32-le"), 6, _NOT_UTF8, "it holds a NUL byte at offset 1"),
    (
        b'{"name": "\xed\xa0\x80"}',
        6,
        _NOT_UTF8,
        "'utf-8' codec can't decode byte 0xed in position 10: invalid continuation byte",
    ),
    (b"null", 7, "missing network name", ""),
    (b"{}", 7, "missing network name", ""),
    (b'{"name": ""}', 7, "missing network name", ""),
    (b'{"name": "has space"}', 7, "invalid characters found in network name", "has space"),
    (b'{"name": "../etc"}', 7, "invalid characters found in network name", "../etc"),
    (
        b'{"name": "n", "cniVersion": 1}',
        6,
        "decoding version from network config: cniVersion: expected a string, got number",
        "",
    ),
]


@pytest.mark.parametrize(("stdin", "code", "msg", "details"), CONFIG_CASES, ids=lambda v: repr(v)[:30])
def test_bad_config(stdin: bytes, code: int, msg: str, details: str) -> None:
    out = run(env_for("ADD"), stdin)
    # Until the configuration's cniVersion is read, the error carries the plugin's newest version
    # (docs/decisions.md, D-1).
    assert (out.code, out.json) == (1, error(code, msg, details))
    assert out.calls == []


def test_deep_nesting_is_refused_cleanly() -> None:
    out = run(env_for("ADD"), b'{"name": "n", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert (out.code, out.json) == (1, error(6, "error decoding network config: JSON nested deeper than 128 levels"))


def test_oversized_stdin_is_refused() -> None:
    from rscni_py.protocol.dispatch import MAX_CONFIG_BYTES

    out = run(env_for("ADD"), b" " * (MAX_CONFIG_BYTES + 1))
    assert out.json == error(5, f"error reading from stdin: the network config is larger than {MAX_CONFIG_BYTES} bytes")


class Unreadable(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise OSError(5, "Input/output error")


def test_stdin_io_error_is_code_5() -> None:
    out = io.StringIO()
    code = dispatch(Recorder, env_for("ADD"), Unreadable(), out, io.StringIO())
    assert (code, json.loads(out.getvalue())) == (1, error(5, "error reading from stdin: [Errno 5] Input/output error"))


# --- commands ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["NOPE", "add", "Version"])
def test_unknown_command(command: str) -> None:
    out = run(env_for(command), conf())
    assert (out.code, out.json) == (1, error(4, f"unknown CNI_COMMAND: {command}"))


def test_unknown_command_checks_config_first() -> None:
    out = run({"CNI_COMMAND": "NOPE"}, b"not json")
    assert out.json["code"] == 6


def test_version_never_reads_stdin_and_needs_no_other_variable() -> None:
    out = io.StringIO()
    code = dispatch(OnlyNew, {"CNI_COMMAND": "VERSION"}, Unreadable(), out, io.StringIO())
    assert (code, out.getvalue()) == (0, '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}\n')


# --- version negotiation and gating -----------------------------------------------------------------------------------

VERSION_CASES = [
    # (plugin, command, config version, expected error or None). The error's cniVersion is the configuration's
    # when the plugin supports it, else the newest the plugin supports: an unsupported version is not echoed.
    (
        Recorder,
        "ADD",
        "0.9.9",
        error(
            1,
            "incompatible CNI versions",
            f'config is "0.9.9", plugin supports [{" ".join(json.dumps(v) for v in ALL)}]',
            "1.1.0",
        ),
    ),
    (
        OnlyNew,
        "ADD",
        "1.0",
        error(1, "incompatible CNI versions", 'config is "1.0", plugin supports ["1.0.0" "1.1.0"]', "1.1.0"),
    ),
    (
        OnlyNew,
        "ADD",
        None,
        error(1, "incompatible CNI versions", 'config is "0.1.0", plugin supports ["1.0.0" "1.1.0"]', "1.1.0"),
    ),
    (
        OnlyNew,
        "DEL",
        "0.4.0",
        error(1, "incompatible CNI versions", 'config is "0.4.0", plugin supports ["1.0.0" "1.1.0"]', "1.1.0"),
    ),
    (
        Recorder,
        "ADD",
        "garbage",
        error(
            1,
            "incompatible CNI versions",
            f'config is "garbage", plugin supports [{" ".join(json.dumps(v) for v in ALL)}]',
            "1.1.0",
        ),
    ),
    (Recorder, "CHECK", "0.3.1", error(1, "config version does not allow CHECK", '"0.3.1"', "0.3.1")),
    (Recorder, "CHECK", None, error(1, "config version does not allow CHECK", '"0.1.0"', "0.1.0")),
    (
        Recorder,
        "CHECK",
        "garbage",
        error(6, 'failed to convert major version part "garbage": invalid syntax', "", "1.1.0"),
    ),
    (Recorder, "CHECK", "1.2.3.4", error(6, 'invalid version "1.2.3.4": too many parts', "", "1.1.0")),
    (UpTo100, "CHECK", "1.1.0", error(1, "plugin version does not allow CHECK", '"1.1.0"', "1.0.0")),
    (
        UpTo100,
        "CHECK",
        "0.4.1",
        error(1, "incompatible CNI versions", 'config is "0.4.1", plugin supports ["0.4.0" "1.0.0"]', "1.0.0"),
    ),
    (Recorder, "GC", "1.0.0", error(1, "config version does not allow GC", '"1.0.0"', "1.0.0")),
    (Recorder, "STATUS", "0.4.0", error(1, "config version does not allow STATUS", '"0.4.0"', "0.4.0")),
    (UpTo100, "STATUS", "1.1.0", error(1, "plugin version does not allow STATUS", '"1.1.0"', "1.0.0")),
    (Recorder, "ADD", None, None),
    (Recorder, "CHECK", "0.4.0", None),
    (Recorder, "GC", "1.1.0", None),
    (Recorder, "STATUS", "1.1.0", None),
    (UpTo100, "CHECK", "0.4.0", None),
]


@pytest.mark.parametrize(
    ("plugin", "command", "version", "expected"),
    VERSION_CASES,
    ids=lambda v: str(v)[:30] if not isinstance(v, type) else v.__name__,
)
def test_version_gate(
    plugin: type[Recorder], command: str, version: str | None, expected: dict[str, Any] | None
) -> None:
    out = run(env_for(command), conf(version), plugin=plugin)
    if expected is None:
        assert out.code == 0, out.stdout
        assert [name for name, _ in out.calls] == [
            {"ADD": "add", "CHECK": "check", "GC": "gc", "STATUS": "status"}[command]
        ]
    else:
        assert (out.code, out.json, out.calls) == (1, expected, [])


# --- own-netns guard (docs/decisions.md, D-4) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "override", "refused"),
    [
        ("ADD", "<unset>", True),
        ("DEL", "<unset>", True),
        ("ADD", "1", False),
        ("ADD", "TRUE", False),
        ("DEL", "true", False),
        ("ADD", "yes", True),
        ("CHECK", "<unset>", False),  # Go guards ADD and DEL only
    ],
)
def test_own_netns_guard(command: str, override: str, refused: bool) -> None:
    out = run(env_for(command, CNI_NETNS="/proc/self/ns/net", CNI_NETNS_OVERRIDE=override), conf())
    if refused:
        expected = error(8, "plugin's netns and netns from CNI_NETNS should not be the same", '"/proc/self/ns/net"')
        assert (out.code, out.json, out.calls) == (1, expected, [])
    else:
        assert out.code == 0
        assert out.calls[0][1].netns_override is (override != "<unset>")


def test_unopenable_netns_is_left_to_the_plugin() -> None:
    out = run(env_for("ADD", CNI_NETNS="/nonexistent/netns"), conf())
    assert out.code == 0


# --- happy paths and what the plugin receives -------------------------------------------------------------------------


def test_add_receives_full_cmd_args() -> None:
    config = conf("1.0.0", extra={"k": [1, 2]})
    out = run(env_for("ADD", CNI_ARGS="IgnoreUnknown=1;K=V", CNI_PATH="/a::/b"), config)
    assert out.code == 0
    ((name, args),) = out.calls
    assert name == "add"
    assert (args.command, args.container_id, args.netns, args.ifname, args.args, args.path) == (
        "ADD",
        "ctr1",
        "/var/run/netns/test",
        "eth0",
        "IgnoreUnknown=1;K=V",
        ["/a", "", "/b"],
    )
    assert args.stdin_data == json.dumps(config).encode()
    assert (args.config.name, args.config.type, args.config.cni_version) == ("testnet", "recorder", "1.0.0")
    assert args.config.raw == config
    assert args.raw_config == config
    assert args.prev_result is None
    assert args.cni_args.ignore_unknown is True


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1.0", {"cniVersion": "1.1.0", "ips": [{"address": "10.1.2.3/24"}]}),
        ("1.0.0", {"cniVersion": "1.0.0", "ips": [{"address": "10.1.2.3/24"}]}),
        ("0.4.0", {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.1.2.3/24"}], "dns": {}}),
        ("0.3.0", {"cniVersion": "0.3.0", "ips": [{"version": "4", "address": "10.1.2.3/24"}], "dns": {}}),
        ("0.2.0", {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.2.3/24"}, "dns": {}}),
        (None, {"cniVersion": "0.1.0", "ip4": {"ip": "10.1.2.3/24"}, "dns": {}}),
    ],
)
def test_add_prints_result_at_config_version(version: str | None, expected: dict[str, Any]) -> None:
    out = run(env_for("ADD"), conf(version))
    assert (out.code, out.json, out.stderr) == (0, expected, "")


def test_add_result_that_cannot_be_converted_is_999() -> None:
    out = run(env_for("ADD"), conf("0.2.0"), returns=Result())
    assert (out.code, out.json) == (1, error(999, "cannot convert: no valid IP addresses", version="0.2.0"))


# What add() returned is checked as if it had been read from its own JSON, before it is converted: the same
# answer at every version, naming the field (issue 12, item 7).
BAD_RESULTS = [
    (
        Result(ips=[IPConfig(address="10.1.2.3")]),  # type: ignore[arg-type]
        'ips[0].address: invalid CIDR "10.1.2.3"',
    ),
    (
        Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"), gateway="gw")]),  # type: ignore[arg-type]
        'ips[0].gateway: invalid IP address "gw"',
    ),
    (
        Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"), interface=2)], interfaces=[Interface(name="a")]),
        "ips[0].interface: index 2 is out of range (1 interface)",
    ),
    (
        Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"), interface=-1)]),
        "ips[0].interface: index -1 is out of range (0 interfaces)",
    ),
    (
        Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))], interfaces=[Interface(name=5)]),  # type: ignore[arg-type]
        "interfaces[0].name: expected a string, got integer 5",
    ),
]


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize(("result", "msg"), BAD_RESULTS, ids=[m.split(":")[0] for _, m in BAD_RESULTS])
def test_add_result_is_validated_the_same_at_every_version(version: str, result: Result, msg: str) -> None:
    out = run(env_for("ADD"), conf(version), returns=result)
    assert (out.code, out.json) == (1, error(999, f"add() returned an invalid result: {msg}", version=version))


@pytest.mark.parametrize("version", ALL)
def test_add_result_with_an_address_as_text_reads_like_its_json(version: str) -> None:
    as_text = run(env_for("ADD"), conf(version), returns=Result(ips=[IPConfig(address="10.1.2.3/24")]))  # type: ignore[arg-type]
    assert (as_text.code, as_text.json) == (0, run(env_for("ADD"), conf(version)).json)


def test_add_returning_a_non_result_is_999() -> None:
    out = run(env_for("ADD"), conf(), returns="oops")
    assert out.json == error(999, "add() returned str, expected a result (rscni_py.types.Result)")


@pytest.mark.parametrize("command", ["DEL", "CHECK", "GC", "STATUS"])
def test_other_commands_print_nothing(command: str) -> None:
    out = run(env_for(command), conf())
    assert (out.code, out.stdout) == (0, "")


def test_del_without_netns_is_fine() -> None:
    out = run(env_for("DEL", CNI_NETNS="<unset>"), conf())
    assert out.code == 0
    assert out.calls[0][1].netns == ""


def test_prev_result_is_parsed_and_converted_up() -> None:
    prev = {
        "cniVersion": "0.4.0",
        "ips": [{"version": "4", "address": "10.0.0.2/24", "gateway": "10.0.0.1"}],
        "dns": {},
    }
    out = run(env_for("ADD"), conf("0.4.0", prevResult=prev))
    assert out.code == 0
    prev_result = out.calls[0][1].prev_result
    assert prev_result is not None
    assert prev_result.to_dict() == {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1"}]}


def test_bad_prev_result_is_code_7_naming_the_path() -> None:
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/99"}]}
    out = run(env_for("ADD"), conf("1.0.0", prevResult=prev))
    assert out.json["code"] == 7
    assert "prevResult.ips[0].address" in out.json["msg"]


@pytest.mark.parametrize(
    ("command", "version"),
    [("ADD", "0.3.0"), ("DEL", "0.4.0"), ("CHECK", "0.4.0"), ("CHECK", "1.0.0"), ("CHECK", "1.1.0")],
)
def test_prev_result_interface_index_out_of_range_is_code_7(command: str, version: str) -> None:
    # A CHECK that looks up the addresses of its interface by index would otherwise find none and pass.
    ips = [{"address": "10.0.0.2/24", "interface": 0}, {"address": "10.0.0.3/24", "interface": 1}]
    if version.startswith("0."):
        ips = [{"version": "4", **ip} for ip in ips]
    prev = {"cniVersion": version, "interfaces": [{"name": "eth0"}], "ips": ips}
    out = run(env_for(command), conf(version, prevResult=prev))
    msg = "invalid network config: prevResult.ips[1].interface: index 1 is out of range (1 interface)"
    assert (out.code, out.json, out.calls) == (1, error(7, msg, version=version), [])


# --- errors raised by the plugin ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (CNIError(1234, "insufficient something", "more"), error(1234, "insufficient something", "more")),
        (TryAgainLaterError("busy"), error(11, "busy")),
        (ValueError("potato"), error(999, "potato")),
        (KeyError("k"), error(999, "'k'")),
        (RuntimeError(), error(999, "RuntimeError")),
    ],
    ids=["plugin-code", "well-known", "plain-exception", "key-error", "no-message"],
)
def test_plugin_errors(raised: Exception, expected: dict[str, Any]) -> None:
    out = run(env_for("ADD"), conf(), raises=raised)
    assert (out.code, out.json) == (1, expected)
    if expected["code"] == 999:
        assert "Traceback (most recent call last)" in out.stderr
    else:
        assert out.stderr == ""


def test_error_carries_config_version() -> None:
    out = run(env_for("DEL"), conf("0.3.1"), raises=ValueError("x"))
    assert out.json == error(999, "x", version="0.3.1")


# --- logging settings ----------------------------------------------------------------------------------------------


class Logs:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None]] = []

    def configure(self, level: int, file: str | None) -> None:
        self.calls.append((level, file))


@pytest.mark.parametrize(
    ("env_extra", "config_extra", "expected"),
    [
        ({}, {}, (30, None)),
        ({}, {"logLevel": "debug", "logFile": "/tmp/x.log"}, (10, "/tmp/x.log")),
        ({"RSCNI_LOG_LEVEL": "ERROR"}, {"logLevel": "debug"}, (40, None)),
        ({"RSCNI_LOG_FILE": "/tmp/e.log"}, {"logFile": "/tmp/c.log"}, (30, "/tmp/e.log")),
    ],
)
def test_log_settings(
    env_extra: dict[str, str], config_extra: dict[str, Any], expected: tuple[int, str | None]
) -> None:
    logs = Logs()
    code = dispatch(
        Recorder,
        {**env_for("DEL"), **env_extra},
        io.BytesIO(json.dumps(conf(**config_extra)).encode()),
        io.StringIO(),
        io.StringIO(),
        logs=logs,
    )
    assert (code, logs.calls) == (0, [expected])


_LONE_SURROGATE = "logFile: the path contains a lone surrogate (a JSON escape that is no character)"


@pytest.mark.parametrize(
    ("env_extra", "config_extra", "expected"),
    [
        (
            {"RSCNI_LOG_LEVEL": "loud"},
            {},
            error(4, 'RSCNI_LOG_LEVEL: unknown log level "loud"', "use one of DEBUG, INFO, WARNING, ERROR"),
        ),
        (
            {},
            {"logLevel": "loud"},
            error(7, 'logLevel: unknown log level "loud"', "use one of DEBUG, INFO, WARNING, ERROR"),
        ),
        ({}, {"logFile": 3}, error(7, "logFile: expected a string, got number")),
        # A path that cannot name a file is the setting's error, like any other bad value (SECURITY.md, section 9).
        ({}, {"logFile": "/tmp/a\u0000b"}, error(7, "logFile: the path contains a NUL character", '"/tmp/a\\x00b"')),
        (
            {},
            {"logFile": "/tmp/\ud800"},
            error(7, _LONE_SURROGATE, '"/tmp/\\ud800"'),
        ),
        (
            {"RSCNI_LOG_FILE": "/tmp/" + "x" * 256},
            {},
            error(4, "RSCNI_LOG_FILE: the path has a component longer than 255 bytes", '"/tmp/' + "x" * 256 + '"'),
        ),
    ],
)
def test_bad_log_settings(env_extra: dict[str, str], config_extra: dict[str, Any], expected: dict[str, Any]) -> None:
    out = io.StringIO()
    code = dispatch(
        Recorder,
        {**env_for("DEL"), **env_extra},
        io.BytesIO(json.dumps(conf(**config_extra)).encode()),
        out,
        io.StringIO(),
        logs=Logs(),
    )
    assert (code, json.loads(out.getvalue())) == (1, expected)


# --- CNI_ARGS ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("K=V", error(4, 'CNI_ARGS: unknown args ["K=V"]', '"K=V"')),
        ("IgnoreUnknown=1;", error(4, 'CNI_ARGS: invalid pair ""', '"IgnoreUnknown=1;"')),
        (
            "IgnoreUnknown=maybe",
            error(
                4,
                'CNI_ARGS: error parsing value of pair "IgnoreUnknown=maybe": '
                "boolean unmarshal error: invalid input maybe",
                '"IgnoreUnknown=maybe"',
            ),
        ),
    ],
)
def test_bad_cni_args_is_code_4_naming_the_pair(raw: str, expected: dict[str, Any]) -> None:
    out = run(env_for("ADD", CNI_ARGS=raw), conf())
    assert (out.code, out.json, out.calls) == (1, expected, [])


def test_bad_config_field_is_code_7_naming_the_path() -> None:
    out = run(env_for("ADD"), conf(dns={"nameservers": "1.1.1.1"}))
    assert out.code == 1
    assert out.json["code"] == 7
    assert out.json["msg"].startswith("invalid network config: dns.nameservers: ")


def test_plugin_class_rules_fail_at_class_creation() -> None:
    with pytest.raises(TypeError, match="supported_versions is empty"):
        type("NoVersions", (Recorder,), {"supported_versions": ()})
    with pytest.raises(TypeError, match=r"unknown versions \['2.0.0'\]"):
        type("Future", (Recorder,), {"supported_versions": ("1.1.0", "2.0.0")})


def test_null_cni_version_means_unset() -> None:
    out = run(env_for("ADD"), {"name": "testnet", "type": "recorder", "cniVersion": None})
    assert (out.code, out.json) == (0, {"cniVersion": "0.1.0", "ip4": {"ip": "10.1.2.3/24"}, "dns": {}})
    assert out.calls[0][1].cni_version == "0.1.0"


@pytest.mark.parametrize(
    ("failure", "hooked"),
    [(ValueError("boom"), True), (TryAgainLaterError("busy"), False)],
    ids=["unexpected", "cni-error"],
)
def test_the_exception_hook_sees_unexpected_exceptions_only(failure: Exception, hooked: bool) -> None:
    Recorder.reset(raises=failure)
    seen: list[Exception] = []
    out = io.StringIO()
    data = json.dumps({"cniVersion": "1.0.0", "name": "testnet", "type": "recorder"}).encode()
    code = dispatch(Recorder, env_for("ADD"), io.BytesIO(data), out, io.StringIO(), on_exception=seen.append)
    assert (code, json.loads(out.getvalue())["code"], seen) == (1, 999 if hooked else 11, [failure] if hooked else [])


@dataclass(kw_only=True)
class CheckedConf(NetConf):
    size: int = 1

    @override
    def validate(self) -> None:
        Recorder.calls.append(("validate", None))  # type: ignore[arg-type]  # a marker among the calls
        if self.size < 1:
            raise InvalidNetworkConfigError(f"invalid network config: size: {self.size} is below 1")


class Checked(Recorder, CNIPlugin[CheckedConf]):
    pass


@pytest.mark.parametrize(
    ("command", "size", "args", "expected"),
    [
        ("ADD", 1, "", (0, ["validate", "add"])),
        ("DEL", 1, "", (0, ["validate", "delete"])),
        ("GC", 1, "", (0, ["validate", "gc"])),
        ("ADD", 0, "", (1, ["validate"])),
        # The configuration's own checks run after everything is decoded: a bad CNI_ARGS is reported first.
        ("ADD", 0, "NOPE=1", (1, [])),
        ("VERSION", 0, "", (0, [])),
    ],
)
def test_the_configuration_is_validated_once_before_the_method(
    command: str, size: int, args: str, expected: tuple[int, list[str]]
) -> None:
    stdin = {"cniVersion": "1.1.0", "name": "testnet", "type": "checked", "size": size}
    out = run(env_for(command, CNI_ARGS=args), stdin, plugin=Checked)
    assert (out.code, [name for name, _ in out.calls]) == expected
    if expected == (1, ["validate"]):
        assert out.json == error(7, "invalid network config: size: 0 is below 1")


# --- an ADD result that cannot be delivered is undone ----------------------------------------------------------------


class BrokenStdout(io.StringIO):
    """A stdout whose reader went away: the write of the answer fails as a broken pipe does."""

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK"])
def test_undeliverable_add_result_is_undone(command: str) -> None:
    err = io.StringIO()
    code = dispatch(Recorder, env_for(command), io.BytesIO(json.dumps(conf()).encode()), BrokenStdout(), err)
    calls = [(name, args.command) for name, args in Recorder.calls]
    if command == "ADD":
        # The runtime sees a failed ADD; what ADD created is released through the plugin's own DEL.
        assert (code, calls) == (1, [("add", "ADD"), ("delete", "DEL")])
        assert err.getvalue().splitlines()[-2:] == [
            "rscni-py: cannot write the ADD output to stdout: [Errno 32] Broken pipe",
            "rscni-py: the undelivered ADD was undone",
        ]
    else:  # nothing is written for these: nothing to undo
        assert (code, calls) == (0, [(command.lower().replace("del", "delete"), command)])


def test_failing_undo_is_reported_on_stderr() -> None:
    class FailingUndo(Recorder):
        def undo_add(self, args: CmdArgs[Any, Any]) -> None:
            raise OSError("netlink is gone")

    err = io.StringIO()
    assert dispatch(FailingUndo, env_for("ADD"), io.BytesIO(json.dumps(conf()).encode()), BrokenStdout(), err) == 1
    assert err.getvalue().splitlines()[-1] == "rscni-py: undoing the undelivered ADD failed: netlink is gone"
