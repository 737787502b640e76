"""rscni_py.testing: the in-process PluginRunner, its Invocation, the ADD/CHECK/DEL cycle and the pytest fixtures."""

from __future__ import annotations

import configparser
import os
from ipaddress import ip_interface
from pathlib import Path
from typing import Any

import pytest

import rscni_py.testing
from rscni_py import (
    CmdArgs,
    CNIError,
    DecodingFailureError,
    IncompatibleCNIVersionError,
    InternalError,
    InvalidEnvironmentVariablesError,
    InvalidNetNSError,
    UnknownContainerError,
)
from rscni_py.testing import Invocation, PluginRunner, fake_exec
from rscni_py.types import GCAttachment, IPConfig, Result, v0_4
from tests.recorder import ONE_IP, Recorder

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


class OldRecorder(Recorder):
    supported_versions = ("0.3.1", "0.4.0")


@pytest.fixture(autouse=True)
def _fresh() -> None:
    Recorder.reset()


def only_call() -> CmdArgs[Any, Any]:
    assert len(Recorder.calls) == 1, Recorder.calls
    return Recorder.calls[0][1]


# --- defaults a runtime would send -------------------------------------------------------------------------------

# (command, expected container ID, netns, ifname): attachment commands get the runner's defaults, GC and STATUS
# get empty values as libcni sends them.
DEFAULT_ENV_CASES = [
    ("ADD", "test-container", os.devnull, "eth0"),
    ("CHECK", "test-container", os.devnull, "eth0"),
    ("DEL", "test-container", os.devnull, "eth0"),
    ("GC", "", "", ""),
    ("STATUS", "", "", ""),
]


@pytest.mark.parametrize(("command", "container_id", "netns", "ifname"), DEFAULT_ENV_CASES, ids=str)
def test_defaults_satisfy_every_command(command: str, container_id: str, netns: str, ifname: str) -> None:
    out = PluginRunner().invoke(Recorder, command)
    assert (out.exit_code, out.stdout != "", out.exception) == (0, command == "ADD", None), out.stdout
    args = only_call()
    assert (args.container_id, args.netns, args.ifname, args.args, args.path) == (
        container_id,
        netns,
        ifname,
        "",
        ["/opt/cni/bin"],
    )
    assert args.raw_config == {"cniVersion": "1.1.0", "name": "test-network", "type": "recorder"}


def test_default_config_uses_the_plugins_newest_version() -> None:
    out = PluginRunner().add(OldRecorder)
    assert out.json == {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.1.2.3/24"}], "dns": {}}


def test_explicit_values_reach_the_plugin() -> None:
    runner = PluginRunner(cni_path="/a:/b")
    runner.add(Recorder, container_id="c9", netns="/var/run/netns/x", ifname="net1", args="IgnoreUnknown=1;K=V")
    args = only_call()
    assert (args.container_id, args.netns, args.ifname, args.args, args.path) == (
        "c9",
        "/var/run/netns/x",
        "net1",
        "IgnoreUnknown=1;K=V",
        ["/a", "/b"],
    )


def test_environment_layers_and_removal() -> None:
    # Runner env overrides the defaults; the call's env overrides both; None removes a variable.
    runner = PluginRunner(env={"CNI_IFNAME": "from-runner", "CNI_PATH": "/runner"})
    runner.add(Recorder, env={"CNI_PATH": "/call"})
    args = only_call()
    assert (args.ifname, args.path) == ("from-runner", ["/call"])

    out = runner.add(Recorder, env={"CNI_NETNS": None, "CNI_IFNAME": None})
    assert out.error == InvalidEnvironmentVariablesError("required env variables [CNI_NETNS,CNI_IFNAME] missing")
    assert out.json == {
        "cniVersion": "1.1.0",
        "code": 4,
        "msg": "required env variables [CNI_NETNS,CNI_IFNAME] missing",
    }


def test_no_global_state_is_touched() -> None:
    before = dict(os.environ)
    assert PluginRunner().add(Recorder).ok
    assert Recorder.seen_environ == [None]  # the plugin did not see the runner's variables in os.environ
    assert dict(os.environ) == before


def test_version() -> None:
    out = PluginRunner().version(OldRecorder)
    assert (out.exit_code, out.stdout) == (0, '{"cniVersion":"1.1.0","supportedVersions":["0.3.1","0.4.0"]}\n')
    assert repr(out) == "<Invocation VERSION ok>"


def test_own_namespace_is_refused() -> None:
    out = PluginRunner().add(Recorder, netns="/proc/self/ns/net")
    assert out.error == InvalidNetNSError(
        "plugin's netns and netns from CNI_NETNS should not be the same", '"/proc/self/ns/net"'
    )
    assert Recorder.calls == []


# --- configuration ----------------------------------------------------------------------------------------------


def test_raw_bytes_are_sent_unchanged() -> None:
    out = PluginRunner().add(Recorder, b"not json")
    assert out.error == DecodingFailureError("error decoding network config: Expecting value: line 1 column 1 (char 0)")
    assert (out.exit_code, out.cni_version, out.result) == (1, None, None)


def test_cni_version_overrides_the_config() -> None:
    out = PluginRunner().add(Recorder, {"cniVersion": "1.0.0", "name": "n", "type": "t"}, cni_version="0.4.0")
    assert out.cni_version == "0.4.0"
    assert only_call().raw_config["cniVersion"] == "0.4.0"


def test_missing_cni_version_means_0_1_0() -> None:
    out = PluginRunner().add(Recorder, {"name": "n", "type": "t"})
    assert out.cni_version == "0.1.0"
    assert out.json == {"cniVersion": "0.1.0", "ip4": {"ip": "10.1.2.3/24"}, "dns": {}}


def test_prev_result_object_is_converted_to_the_config_version() -> None:
    PluginRunner().check(Recorder, cni_version="0.4.0", prev_result=ONE_IP)
    args = only_call()
    assert args.raw_config["prevResult"] == {
        "cniVersion": "0.4.0",
        "ips": [{"version": "4", "address": "10.1.2.3/24"}],
        "dns": {},
    }
    assert args.prev_result == Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))], cni_version="1.1.0")


def test_prev_result_dict_is_sent_as_given() -> None:
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5/16"}]}
    PluginRunner().delete(Recorder, cni_version="1.0.0", prev_result=prev)
    assert only_call().raw_config["prevResult"] == prev


def test_raw_bytes_with_prev_result_is_a_usage_error() -> None:
    with pytest.raises(TypeError, match="prev_result and cni_version need a dict config"):
        PluginRunner().add(Recorder, b"{}", prev_result=ONE_IP)


@pytest.mark.parametrize(
    "attachments",
    [
        [("c1", "eth0"), ("c2", "net1")],
        [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}],
        [GCAttachment(container_id="c1", ifname="eth0"), GCAttachment(container_id="c2", ifname="net1")],
    ],
    ids=["tuples", "dicts", "models"],
)
def test_gc_valid_attachments(attachments: list[Any]) -> None:
    out = PluginRunner().gc(Recorder, valid_attachments=attachments)
    assert (out.exit_code, out.stdout) == (0, "")
    args = only_call()
    listed = [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}]
    assert (args.raw_config["cni.dev/valid-attachments"], args.raw_config["cni.dev/attachments"]) == (listed, listed)
    assert args.config.valid_attachments == [
        GCAttachment(container_id="c1", ifname="eth0"),
        GCAttachment(container_id="c2", ifname="net1"),
    ]


def test_gc_below_1_1_0_is_refused() -> None:
    out = PluginRunner().gc(Recorder, cni_version="1.0.0")
    assert out.error == IncompatibleCNIVersionError("config version does not allow GC", '"1.0.0"')


# --- Invocation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1.0", Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))], cni_version="1.1.0")),
        ("1.0.0", Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))], cni_version="1.0.0")),
        (
            "0.4.0",
            v0_4.Result(ips=[v0_4.IPConfig(version="4", address=ip_interface("10.1.2.3/24"))], cni_version="0.4.0"),
        ),
    ],
    ids=["1.1.0", "1.0.0", "0.4.0"],
)
def test_result_is_typed_at_the_config_version(version: str, expected: object) -> None:
    out = PluginRunner().add(Recorder, cni_version=version)
    assert (out.result, out.error, out.ok) == (expected, None, True)


def test_result_is_none_for_other_commands_and_errors() -> None:
    runner = PluginRunner()
    assert runner.delete(Recorder).result is None
    Recorder.raises = UnknownContainerError("gone", "c1")
    out = runner.add(Recorder)
    assert (out.result, out.error, out.exception, out.ok) == (None, UnknownContainerError("gone", "c1"), None, False)
    assert isinstance(out.error, UnknownContainerError)


def test_plugin_specific_error_code_is_kept() -> None:
    Recorder.raises = CNIError(123, "custom", "why")
    out = PluginRunner().add(Recorder)
    assert (out.error, repr(out)) == (CNIError(123, "custom", "why"), "<Invocation ADD error 123>")


@pytest.mark.parametrize(
    ("invocation", "text"),
    [
        (Invocation("ADD", 0, "{}", ""), "<Invocation ADD ok>"),
        (Invocation("DEL", 0, "", ""), "<Invocation DEL ok>"),
        (Invocation("ADD", 1, '{"code": 7, "msg": "bad"}', ""), "<Invocation ADD error 7>"),
        (Invocation("ADD", 1, "", ""), "<Invocation ADD exit 1>"),
        (Invocation("ADD", 1, "garbage", ""), "<Invocation ADD exit 1>"),
        (
            Invocation("CHECK", 1, '{"code": 999, "msg": "x"}', "", exception=KeyError("k")),
            "<Invocation CHECK error 999 KeyError>",
        ),
        (Invocation("", 1, '{"code": 4, "msg": "m"}', ""), "<Invocation - error 4>"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_repr(invocation: Invocation, text: str) -> None:
    assert repr(invocation) == text


def test_bad_stdout_is_reported_clearly() -> None:
    with pytest.raises(ValueError, match=r"ADD stdout is not one JSON document \(Extra data"):
        _ = Invocation("ADD", 0, "{} {}", "").json
    with pytest.raises(ValueError, match="ADD failed but stdout is not an error object: '\\[\\]'"):
        _ = Invocation("ADD", 1, "[]", "").error


# --- exceptions ------------------------------------------------------------------------------------------------------


def test_exception_is_caught_and_reported() -> None:
    boom = RuntimeError("boom")
    Recorder.raises = boom
    out = PluginRunner().add(Recorder)
    assert (out.exit_code, out.exception, out.error, out.ok) == (1, boom, InternalError("boom"), False)
    assert "Traceback (most recent call last)" in out.stderr
    assert repr(out) == "<Invocation ADD error 999 RuntimeError>"


def test_exception_is_reraised_when_not_caught() -> None:
    Recorder.raises = KeyError("missing")
    with pytest.raises(KeyError, match="missing"):
        PluginRunner(catch_exceptions=False).add(Recorder)
    # The per-call setting wins over the runner's.
    assert PluginRunner(catch_exceptions=False).add(Recorder, catch_exceptions=True).exception == Recorder.raises
    with pytest.raises(KeyError):
        PluginRunner().delete(Recorder, catch_exceptions=False)


def test_cni_error_is_not_an_exception_even_when_not_caught() -> None:
    Recorder.raises = UnknownContainerError("gone")
    out = PluginRunner(catch_exceptions=False).check(Recorder)
    assert (out.exception, out.error) == (None, UnknownContainerError("gone"))


def test_system_exit_in_plugin() -> None:
    Recorder.raises = SystemExit(3)
    out = PluginRunner().add(Recorder)
    assert (out.exit_code, out.stdout, type(out.exception)) == (3, "", SystemExit)


class BrokenInit(Recorder):
    def __init__(self) -> None:
        raise ValueError("cannot construct")


def test_exception_in_plugin_constructor() -> None:
    out = PluginRunner().add(BrokenInit)
    assert (out.error, type(out.exception)) == (InternalError("cannot construct"), ValueError)


# --- the ADD -> CHECK -> DEL cycle ---------------------------------------------------------------------------------


def test_cycle_feeds_the_add_result_as_prev_result() -> None:
    cycle = PluginRunner().cycle(Recorder, {"cniVersion": "1.0.0", "name": "n", "type": "t"})
    assert cycle.ok
    assert [name for name, _ in Recorder.calls] == ["add", "check", "delete"]
    added = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.2.3/24"}]}
    assert [args.raw_config.get("prevResult") for _, args in Recorder.calls] == [None, added, added]
    assert repr(cycle) == "<Cycle add=<Invocation ADD ok> check=<Invocation CHECK ok> delete=<Invocation DEL ok>>"


def test_cycle_skips_check_below_0_4_0() -> None:
    cycle = PluginRunner().cycle(OldRecorder, cni_version="0.3.1")
    assert (cycle.ok, cycle.check) == (True, None)
    assert [name for name, _ in Recorder.calls] == ["add", "delete"]


def test_cycle_after_failed_add_still_deletes() -> None:
    Recorder.raises = UnknownContainerError("nope")
    cycle = PluginRunner().cycle(Recorder)
    assert (cycle.ok, cycle.check, cycle.add.error, cycle.delete.error) == (
        False,
        None,
        UnknownContainerError("nope"),
        UnknownContainerError("nope"),
    )
    assert [(name, args.raw_config.get("prevResult")) for name, args in Recorder.calls] == [
        ("add", None),
        ("delete", None),
    ]


def test_cycle_of_a_chained_plugin_starts_from_the_given_prev_result() -> None:
    """ADD gets the previous plugin's result; CHECK and DEL get what this plugin's ADD returned."""
    previous = Result(ips=[IPConfig(address=ip_interface("10.9.9.9/24"))])
    cycle = PluginRunner().cycle(Recorder, {"cniVersion": "1.0.0", "name": "n", "type": "t"}, prev_result=previous)
    assert cycle.ok
    added = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.2.3/24"}]}
    assert [(name, args.raw_config.get("prevResult")) for name, args in Recorder.calls] == [
        ("add", {"cniVersion": "1.0.0", "ips": [{"address": "10.9.9.9/24"}]}),
        ("check", added),
        ("delete", added),
    ]
    assert Recorder.calls[0][1].prev_result == previous.convert("1.0.0")


# --- package surface and the pytest plugin --------------------------------------------------------------------------


def test_public_names() -> None:
    assert rscni_py.testing.__all__ == sorted(rscni_py.testing.__all__)
    assert dir(rscni_py.testing) == rscni_py.testing.__all__
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = rscni_py.testing.Nope  # type: ignore[attr-defined]


def test_fake_executor_is_reexported() -> None:
    assert rscni_py.testing.FakeExecutor is fake_exec.FakeExecutor
    assert rscni_py.testing.ExecCall is fake_exec.ExecCall


def test_entry_point_is_declared() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    assert parser["options.entry_points"]["pytest11"].split() == ["rscni_py", "=", "rscni_py.testing.pytest_plugin"]


PLUGIN_TEST_FILE = """
from rscni_py import CNIPlugin
from rscni_py.types import Result


class MyPlugin(CNIPlugin):
    def add(self, args):
        return Result()

    def delete(self, args):
        pass

    def check(self, args):
        raise RuntimeError("check is broken")


def test_add(cni_runner):
    assert cni_runner.add(MyPlugin, {"cniVersion": "1.0.0", "name": "n", "type": "x"}).ok


def test_config_factory(cni_runner, cni_config):
    config = cni_config("x", cni_version="0.4.0", ipMasq=True)
    assert config == {"cniVersion": "0.4.0", "name": "test-network", "type": "x", "ipMasq": True}
    assert cni_runner.add(MyPlugin, config).json == {"cniVersion": "0.4.0", "dns": {}}


def test_fails_on_broken_check(cni_runner):
    assert cni_runner.check(MyPlugin).ok


def test_netns(cni_netns):
    import os
    assert os.path.exists(cni_netns) and cni_netns.startswith("/run/netns/rscni-test-")
"""


def test_pytest_fixtures(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Load the plugin explicitly: the package is not necessarily installed, so the entry point may be absent.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_plugin=PLUGIN_TEST_FILE)
    result = pytester.runpytest("-p", "rscni_py.testing.pytest_plugin", "-q")
    root = os.geteuid() == 0
    result.assert_outcomes(passed=3 if root else 2, failed=1, skipped=0 if root else 1)
    result.stdout.fnmatch_lines(["*test_fails_on_broken_check*", "*<Invocation CHECK error 999 RuntimeError>*"])


# --- install_script ---------------------------------------------------------------------------------------------------


def test_install_script_runs_the_plugin_like_a_runtime(tmp_path: Path) -> None:
    import subprocess
    import sys

    from rscni_py.testing import install_script

    lib = tmp_path / "a dir with 'quotes'"
    lib.mkdir()
    (lib / "helper_mod.py").write_text("VALUE = 'from pythonpath'\n")
    script = tmp_path / "my plugin.py"
    script.write_text("import os, sys, helper_mod\nprint(helper_mod.VALUE, os.environ['CNI_COMMAND'], sys.argv[1:])\n")
    wrapper = install_script(tmp_path / "bin", "my-plugin", script, pythonpath=[lib])
    assert wrapper == tmp_path / "bin" / "my-plugin"
    assert wrapper.stat().st_mode & 0o777 == 0o755
    proc = subprocess.run(
        [str(wrapper), "x y"],
        env={"CNI_COMMAND": "VERSION", "PYTHONPATH": "/elsewhere"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == "from pythonpath VERSION ['x y']\n"
    assert wrapper.read_text().splitlines()[-1].startswith(f"exec {sys.executable} ")
