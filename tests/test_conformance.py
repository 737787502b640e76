"""The conformance kit: it passes conforming plugins (ours in process, Debian's Go reference plugins as executables),
and it fails broken ones on exactly the checks they break."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from ipaddress import ip_interface
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rscni_py import CmdArgs, CNIPlugin, LimitedConnectivityError, PluginNotAvailableError, UnknownContainerError
from rscni_py.testing import conformance
from rscni_py.testing.conformance import (
    CHECK_NAMES,
    CheckOutcome,
    ExecutableTarget,
    PluginTarget,
    Response,
    Target,
    failures,
    run_check,
    run_checks,
)
from rscni_py.types import IPConfig, Result

pytest_plugins = ["pytester"]

CNI_DIR = Path("/usr/lib/cni")
IS_ROOT = os.geteuid() == 0
IN_CI = os.environ.get("CI", "").lower() == "true"
ALL_CHECKS = list(CHECK_NAMES)


# --- in-process plugins --------------------------------------------------------------------------------------------


class Good(CNIPlugin):
    """A conforming plugin: ADD returns one address, DEL and CHECK always succeed."""

    def add(self, args: CmdArgs[Any, Any]) -> Result:
        return Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))])

    def delete(self, args: CmdArgs[Any, Any]) -> None:
        pass

    def check(self, args: CmdArgs[Any, Any]) -> None:
        pass


class GoodUpTo100(Good):
    """Declares what Debian's Go plugins declare: no 1.1.0, so GC and STATUS do not exist for it."""

    supported_versions = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")


class OnlyNewest(Good):
    supported_versions = ("1.1.0",)


class NoAddresses(Good):
    """ADD returns an empty result: it cannot be written at 0.1.0/0.2.0, which need an address (Go fails the same)."""

    def add(self, args: CmdArgs[Any, Any]) -> Result:
        return Result()


class FragileDelete(Good):
    """DEL fails when the attachment does not exist: breaks the repeated-DEL rule."""

    added: ClassVar[set[str]] = set()

    def add(self, args: CmdArgs[Any, Any]) -> Result:
        FragileDelete.added.add(args.container_id)
        return super().add(args)

    def delete(self, args: CmdArgs[Any, Any]) -> None:
        if args.container_id not in FragileDelete.added:
            raise UnknownContainerError("no such attachment", args.container_id)
        FragileDelete.added.discard(args.container_id)


class NotReady(Good):
    def status(self, args: CmdArgs[Any, Any]) -> None:
        raise PluginNotAvailableError("the daemon is down")


class Degraded(Good):
    def status(self, args: CmdArgs[Any, Any]) -> None:
        raise LimitedConnectivityError("one uplink is down")


class BrokenStatus(Good):
    def status(self, args: CmdArgs[Any, Any]) -> None:
        raise OSError("cannot read state")


class CrashingAdd(Good):
    def add(self, args: CmdArgs[Any, Any]) -> Result:
        raise RuntimeError("kaboom")


def outcome_table(outcomes: list[CheckOutcome]) -> list[tuple[str, str]]:
    return [(o.name, "skip" if o.skipped else ("pass" if o.passed else "fail")) for o in outcomes]


def all_pass(names: list[str] | None = None, **states: str) -> list[tuple[str, str]]:
    """The expected table: every check passes except those named (``lifecycle="skip"``)."""
    return [(name, states.get(name.replace("-", "_"), "pass")) for name in (names or ALL_CHECKS)]


@pytest.mark.parametrize("plugin", [Good, OnlyNewest, NotReady, Degraded], ids=lambda p: p.__name__)
def test_conforming_plugins_pass_every_check(plugin: type[Good]) -> None:
    outcomes = run_checks(PluginTarget(plugin))
    assert outcome_table(outcomes) == all_pass(), "\n".join(map(str, outcomes))
    assert all(o.detail == "ok" for o in outcomes)


def test_plugin_without_1_1_0_skips_status() -> None:
    outcomes = run_checks(PluginTarget(GoodUpTo100))
    assert outcome_table(outcomes) == all_pass(status="skip"), "\n".join(map(str, outcomes))
    assert [o.detail for o in outcomes if o.skipped] == [
        "the plugin does not list 1.1.0, the first version with STATUS"
    ]


@pytest.mark.parametrize(
    "module", ["rscni_py.testing.conformance", "rscni_py.testing.runner", "rscni_py.testing.pytest_plugin"]
)
def test_public_names_exist_and_are_sorted(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert mod.__all__ == sorted(mod.__all__)
    assert [name for name in mod.__all__ if not hasattr(mod, name)] == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES, st.sampled_from([None, 4]), st.sampled_from(["", "\n", "  \n"]))
def test_stdout_reader_accepts_exactly_one_document(value: object, indent: int | None, trailer: str) -> None:
    text = json.dumps(value, indent=indent)
    assert conformance._document(text + trailer) == (True, value)
    # A space keeps two numbers from running together into one ("1" + "1" is the single document 11).
    assert conformance._document(text + trailer + " " + text)[0] is False
    assert conformance._document(text + trailer + "garbage")[0] is False


@pytest.mark.parametrize("text", ["", " \n", "NaN", '{"code": Infinity}', "{", "1 2"], ids=repr)
def test_stdout_reader_edge_cases(text: str) -> None:
    expected = (True, None) if not text.strip() else (False, None)
    assert conformance._document(text) == expected


def test_every_check_names_its_spec_rule() -> None:
    assert len(set(CHECK_NAMES)) == len(CHECK_NAMES)
    for check in conformance.CHECKS:
        assert check.rule.startswith("SPEC §"), check


def test_versions_option_limits_the_lifecycle() -> None:
    # Without addresses an ADD result cannot be written at 0.1.0/0.2.0; the kit reports those versions...
    lifecycle = run_checks(PluginTarget(NoAddresses), ["lifecycle"])[0]
    assert not lifecycle.passed
    assert lifecycle.detail == (
        'ADD at 0.1.0: expected success (exit 1, stdout \'{     "cniVersion": "0.1.0",     "code": 999,     '
        '"msg": "cannot convert: no valid IP addresses" }\'); ADD at 0.2.0: expected success (exit 1, stdout \'{     '
        '"cniVersion": "0.2.0",     "code": 999,     "msg": "cannot convert: no valid IP addresses" }\')'
    )
    # ...and a target that names the versions it is meant for passes.
    assert run_checks(PluginTarget(NoAddresses, versions=["0.4.0", "1.0.0", "1.1.0"]), ["lifecycle"])[0].passed


def test_lifecycle_can_be_switched_off() -> None:
    outcome = run_checks(PluginTarget(Good, lifecycle=False), ["lifecycle"])[0]
    assert outcome == CheckOutcome(
        "lifecycle", outcome.rule, False, "disabled for this target (lifecycle=False)", skipped=True
    )


def test_needs_netns_without_root_skips_what_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conformance, "can_create_netns", lambda: False)
    outcomes = run_checks(PluginTarget(Good, needs_netns=True))
    assert outcome_table(outcomes) == all_pass(repeated_del="skip", lifecycle="skip")  # status never needs one
    reason = "needs a network namespace: run as root (ip netns add) or give the target netns="
    assert [o.detail for o in outcomes if o.skipped] == [reason, reason]


def test_given_netns_is_used(tmp_path: Path) -> None:
    seen: list[str] = []

    class Spy(Good):
        def add(self, args: CmdArgs[Any, Any]) -> Result:
            seen.append(args.netns)
            return super().add(args)

    assert run_checks(PluginTarget(Spy, netns=str(tmp_path), versions=["1.0.0"]), ["lifecycle"])[0].passed
    assert seen == [str(tmp_path)]


def test_unknown_check_name() -> None:
    with pytest.raises(KeyError, match="unknown conformance check 'nope'"):
        run_checks(PluginTarget(Good), ["nope"])


def test_aggregate_check_alone_still_judges_every_probe() -> None:
    outcomes = run_checks(DoubleDocument(Good), ["stdout-framing"])
    assert outcome_table(outcomes) == [("stdout-framing", "fail")]


def test_run_check_runs_once_per_target() -> None:
    calls: list[str] = []

    class Counting(PluginTarget):
        def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
            calls.append(env.get("CNI_COMMAND", ""))
            return super().execute(env, stdin)

    target = Counting(Good)
    assert run_check(target, "version-shape").passed
    first = len(calls)
    assert run_check(target, "bad-json").passed and run_check(target, "exit-codes").passed
    assert len(calls) == first > 50


# --- broken plugins: the kit fails exactly the checks they break ------------------------------------------------------


class Tweaked(PluginTarget):
    """An in-process plugin whose responses are altered the way a broken plugin would answer."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        raise NotImplementedError

    def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
        return self.tweak(env, stdin, super().execute(env, stdin))


class DoubleDocument(Tweaked):
    """Prints a second document after a successful ADD result (cni#571)."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        if env.get("CNI_COMMAND") == "ADD" and response.exit_code == 0:
            return Response(
                0, response.stdout + '\n{"cniVersion": "1.1.0", "code": 999, "msg": "late"}', response.stderr
            )
        return response


class ExitTwo(Tweaked):
    """Exits 2 on every error (like a Go panic or a hand-written plugin)."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        return Response(2, response.stdout, response.stderr) if response.exit_code == 1 else response


class ErrorWithExitZero(Tweaked):
    """Prints errors but exits 0."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        return Response(0, response.stdout, response.stderr) if response.exit_code == 1 else response


class SilentErrors(Tweaked):
    """Exits 1 without telling why (no error object on stdout)."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        return Response(1, "", response.stderr) if response.exit_code == 1 else response


class BadVersionInfo(Tweaked):
    """Answers VERSION with a string instead of a list."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        if env.get("CNI_COMMAND") == "VERSION":
            return Response(0, '{"cniVersion": "1.1.0", "supportedVersions": "1.0.0"}', "")
        return response


class AcceptsAnyVersion(PluginTarget):
    """Rewrites an unsupported cniVersion of ADD and DEL to one it supports instead of refusing it."""

    def execute(self, env: Mapping[str, str], stdin: bytes) -> Response:
        if env.get("CNI_COMMAND") in ("ADD", "DEL"):
            try:
                config = json.loads(stdin)
            except ValueError:
                config = None
            if (
                isinstance(config, dict)
                and "name" in config
                and config.get("cniVersion") not in GoodUpTo100.supported_versions
            ):
                stdin = json.dumps({**config, "cniVersion": "1.0.0"}).encode()
        return super().execute(env, stdin)


class IgnoresCommandGates(Tweaked):
    """Runs CHECK, GC and STATUS at any version (succeeds where it must refuse)."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        if env.get("CNI_COMMAND") in ("CHECK", "GC", "STATUS") and "does not allow" in response.stdout:
            return Response(0, "", "")
        return response


class LaxEnvironment(Tweaked):
    """Accepts missing and invalid CNI_* variables: reports success whenever the only problem is code 4."""

    def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
        if response.exit_code == 1 and json.loads(response.stdout)["code"] == 4:
            return Response(0, "", "")
        return response


BROKEN_CASES = [
    (PluginTarget(FragileDelete), {"repeated-del": "fail", "lifecycle": "fail"}),
    (PluginTarget(CrashingAdd), {"lifecycle": "fail"}),
    (PluginTarget(BrokenStatus), {"status": "fail"}),
    (DoubleDocument(Good), {"lifecycle": "fail", "stdout-framing": "fail"}),
    (ExitTwo(Good), {"exit-codes": "fail"}),
    (
        ErrorWithExitZero(Good),
        {
            name: "fail"
            for name in ALL_CHECKS
            if name not in ("version-shape", "status", "repeated-del", "lifecycle", "stdout-framing")
        },
    ),
    (
        SilentErrors(Good),
        {
            name: "fail"
            for name in ALL_CHECKS
            if name not in ("version-shape", "status", "repeated-del", "lifecycle", "stdout-framing")
        },
    ),
    # Without a usable VERSION answer the kit cannot know the versions: it tolerates old-style GC/STATUS refusals.
    (BadVersionInfo(Good), {"version-shape": "fail", "status": "skip"}),
    (AcceptsAnyVersion(GoodUpTo100), {"unsupported-version": "fail", "missing-version": "fail", "status": "skip"}),
    (
        IgnoresCommandGates(Good),
        {"missing-version": "fail", "check-gating": "fail", "gc-gating": "fail", "status-gating": "fail"},
    ),
    (
        LaxEnvironment(Good),
        # Exit 0 with nothing on stdout is what Go's skel does without CNI_COMMAND, so missing-command still passes.
        dict.fromkeys(
            ("missing-env-add", "missing-env-check", "missing-env-del", "invalid-env", "unknown-command"), "fail"
        ),
    ),
]


def case_id(value: object) -> str:
    return f"{type(value).__name__}-{value.plugin_cls.__name__}" if isinstance(value, PluginTarget) else ""


@pytest.mark.parametrize(("target", "broken"), BROKEN_CASES, ids=case_id)
def test_broken_plugins_fail_the_right_checks(target: Target, broken: dict[str, str]) -> None:
    outcomes = run_checks(target)
    expected = [(name, broken.get(name, "pass")) for name in ALL_CHECKS]
    assert outcome_table(outcomes) == expected, "\n".join(map(str, outcomes))


def test_failure_details_name_every_failing_case() -> None:
    outcomes = {o.name: o for o in run_checks(AcceptsAnyVersion(GoodUpTo100))}
    assert outcomes["unsupported-version"].detail == (
        'ADD cniVersion 99.0.0: expected error 1, the plugin succeeded (exit 0, stdout \'{     "cniVersion": "1.0.0",'
        '     "ips": [         {             "address": "10.1.2.3/24"         }     ] }\'); '
        "DEL cniVersion 99.0.0: expected error 1, the plugin succeeded (exit 0, stdout ''); "
        'ADD cniVersion 1.0: expected error 1, the plugin succeeded (exit 0, stdout \'{     "cniVersion": "1.0.0",     '
        '"ips": [         {             "address": "10.1.2.3/24"         }     ] }\'); '
        'ADD cniVersion 0.1.0: expected error 1, the plugin succeeded (exit 0, stdout \'{     "cniVersion": "1.0.0",'
        '     "ips": [         {             "address": "10.1.2.3/24"         }     ] }\'); '
        'ADD cniVersion 0.2.0: expected error 1, the plugin succeeded (exit 0, stdout \'{     "cniVersion": "1.0.0",'
        '     "ips": [         {             "address": "10.1.2.3/24"         }     ] }\'); '
        'ADD cniVersion 1.1.0: expected error 1, the plugin succeeded (exit 0, stdout \'{     "cniVersion": "1.0.0",'
        '     "ips": [         {             "address": "10.1.2.3/24"         }     ] }\')'
    )
    assert outcomes["missing-version"].detail.startswith(
        "ADD without cniVersion: expected error 1, the plugin succeeded"
    )


def test_old_plugin_must_still_refuse_gc() -> None:
    # A plugin that does not list 1.1.0 may refuse GC with any error, but it must refuse it.
    outcome = run_checks(IgnoresCommandGates(GoodUpTo100), ["gc-gating"])[0]
    assert outcome.detail == "; ".join(
        f"GC at {v}: expected error (any code), the plugin succeeded (exit 0, stdout '')"
        for v in ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0")
    )


def test_missing_variable_must_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    class Vague(Tweaked):
        def tweak(self, env: Mapping[str, str], stdin: bytes, response: Response) -> Response:
            if '"code": 4' in response.stdout:
                return Response(1, '{"code": 4, "msg": "something is missing"}', "")
            return response

    outcome = run_checks(Vague(Good), ["missing-env-del"])[0]
    assert outcome.detail == (
        "all removed: the error message does not name CNI_CONTAINERID, CNI_IFNAME: 'something is missing'; "
        "CNI_CONTAINERID removed: the error message does not name CNI_CONTAINERID: 'something is missing'; "
        "CNI_IFNAME removed: the error message does not name CNI_IFNAME: 'something is missing'"
    )


# --- Debian's Go reference plugins (containernetworking-plugins) ------------------------------------------------------


def go_plugin(name: str) -> Path:
    path = CNI_DIR / name
    if not os.access(path, os.X_OK):
        if IN_CI:
            pytest.fail(f"{path} is missing (install containernetworking-plugins)")
        pytest.skip(f"{path} is missing (install containernetworking-plugins)")
    return path


def lifecycle_state(needs_netns: bool) -> str:
    return "pass" if IS_ROOT or not needs_netns else "skip"


@pytest.mark.integration
def test_go_loopback_passes() -> None:
    outcomes = run_checks(ExecutableTarget(go_plugin("loopback"), needs_netns=True))
    state = lifecycle_state(True)
    assert outcome_table(outcomes) == all_pass(status="skip", repeated_del=state, lifecycle=state), "\n".join(
        map(str, outcomes)
    )
    if IS_ROOT:
        # Go's loopback labels a 1.x-shaped result with the configuration's version, so its 0.3.x/0.4.0 results lack
        # ips[].version; libcni reads them anyway, and so does the kit, saying so.
        lifecycle = next(o for o in outcomes if o.name == "lifecycle")
        assert (
            lifecycle.detail
            == "ok (tolerated: "
            + "; ".join(
                f"ADD at {v}: ips[0], ips[1] without version (the spec requires it; libcni reads it)"
                for v in ("0.3.0", "0.3.1", "0.4.0")
            )
            + ")"
        )


@pytest.mark.integration
def test_go_host_local_passes(tmp_path: Path) -> None:
    config = {"ipam": {"type": "host-local", "subnet": "10.250.0.0/24", "dataDir": str(tmp_path / "ipam")}}
    outcomes = run_checks(ExecutableTarget(go_plugin("host-local"), config=config))
    # Debian's plugins (1.1.1) list versions up to 1.0.0: no STATUS yet.
    assert outcome_table(outcomes) == all_pass(status="skip"), "\n".join(map(str, outcomes))
    # Every ADD was released by its DEL: only host-local's bookkeeping files remain.
    assert sorted(p.name for p in (tmp_path / "ipam" / "conformance").iterdir()) == ["last_reserved_ip.0", "lock"]


@pytest.fixture
def bridge_name() -> Iterator[str]:
    name = f"rscnicf{os.getpid() % 100000}"
    yield name
    # The bridge plugin leaves its host bridge behind after DEL, by design.
    subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)


@pytest.mark.integration
def test_go_bridge_passes(tmp_path: Path, bridge_name: str) -> None:
    go_plugin("host-local")
    config = {
        "bridge": bridge_name,
        "ipam": {"type": "host-local", "subnet": "10.251.0.0/24", "dataDir": str(tmp_path / "ipam")},
    }
    target = ExecutableTarget(go_plugin("bridge"), config=config, needs_netns=True, cni_path=str(CNI_DIR))
    outcomes = run_checks(target)
    state = lifecycle_state(True)
    assert outcome_table(outcomes) == all_pass(status="skip", repeated_del=state, lifecycle=state), "\n".join(
        map(str, outcomes)
    )


@pytest.mark.integration
def test_go_plugins_in_scripts_that_break_the_protocol(tmp_path: Path) -> None:
    # Shell wrappers around Go's loopback: the kit checks executables in any language, and fails the broken ones.
    loopback = go_plugin("loopback")
    if not IS_ROOT:
        if IN_CI:
            pytest.fail("this test needs root (a network namespace for ADD)")
        pytest.skip("needs root (a network namespace for ADD)")
    exit_two = tmp_path / "exit-two"
    exit_two.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        # Go's loopback, but exiting 2 on every error.
        out=$({loopback}); rc=$?
        printf '%s' "$out"
        [ "$rc" -eq 0 ] || exit 2
        """)
    )
    twice = tmp_path / "twice"
    twice.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        # Go's loopback, but ADD prints its result twice.
        out=$({loopback}); rc=$?
        printf '%s' "$out"
        [ "$CNI_COMMAND" = ADD ] && [ "$rc" -eq 0 ] && printf '\\n%s' "$out"
        exit $rc
        """)
    )
    for script in (exit_two, twice):
        script.chmod(0o755)
    assert failures(run_checks(ExecutableTarget(exit_two, needs_netns=True))) == ["exit-codes"]
    assert failures(run_checks(ExecutableTarget(twice, needs_netns=True))) == ["lifecycle", "stdout-framing"]


@pytest.mark.integration
def test_our_sdk_as_an_executable_passes(tmp_path: Path) -> None:
    # A plugin written with rscni-py, run as a real process through run(): it even prints stray text and runs a
    # child that writes to stdout, which run() keeps off the protocol's stdout.  (Slow: ~70 Python start-ups.)
    root = Path(__file__).resolve().parent.parent
    script = tmp_path / "noisy"
    script.write_text(f"#!/bin/sh\nPYTHONPATH={root} exec {sys.executable} {root / 'tests' / 'plugins' / 'noisy.py'}\n")
    script.chmod(0o755)
    outcomes = run_checks(ExecutableTarget(script, versions=["1.1.0"], timeout=60))
    assert outcome_table(outcomes) == all_pass(), "\n".join(map(str, outcomes))


def test_hanging_plugin_times_out(tmp_path: Path) -> None:
    script = tmp_path / "hangs-on-del"
    script.write_text('#!/bin/sh\n[ "$CNI_COMMAND" = DEL ] && exec sleep 30\nexec /bin/cat >/dev/null\n')
    script.chmod(0o755)
    # Every DEL hangs (12 probes in all make a DEL), so keep the timeout short.
    outcomes = run_checks(ExecutableTarget(script, timeout=0.2, lifecycle=False), ["repeated-del", "exit-codes"])
    assert outcomes[0].detail == (
        "DEL #1 of an unknown attachment: timed out; DEL #2 of an unknown attachment: timed out"
    )
    assert "DEL #1 of an unknown attachment: timed out" in outcomes[1].detail


def test_not_an_executable(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("")
    with pytest.raises(ValueError, match="is not an executable file"):
        ExecutableTarget(path)


def test_command_line_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host_local = go_plugin("host-local")
    config = {"ipam": {"type": "host-local", "subnet": "10.252.0.0/24", "dataDir": str(tmp_path)}}
    code = conformance.main([str(host_local), "--config", json.dumps(config), "--version", "1.0.0"])
    lines = [
        f"  SKIP {n}: the plugin does not list 1.1.0, the first version with STATUS\n"
        if n == "status"
        else f"  PASS {n}: ok\n"
        for n in CHECK_NAMES
    ]
    assert (code, capsys.readouterr().out) == (0, "conformance of host-local:\n" + "".join(lines))

    broken = tmp_path / "exit-two"
    broken.write_text(f"#!/bin/sh\nout=$({host_local}); rc=$?\nprintf '%s' \"$out\"\n[ $rc -eq 0 ] || exit 2\n")
    broken.chmod(0o755)
    code = conformance.main([str(broken), "--config", json.dumps(config), "--version", "1.0.0"])
    report = capsys.readouterr().out
    assert code == 1
    assert "  FAIL exit-codes: VERSION " not in report and "  FAIL exit-codes: ADD without CNI_CONTAINERID" in report


# --- pytest integration ---------------------------------------------------------------------------------------------

PYTEST_FILE = """
import pytest
from ipaddress import ip_interface

from rscni_py import CNIPlugin, UnknownContainerError
from rscni_py.testing import conformance
from rscni_py.testing.conformance import ConformanceSuite, PluginTarget
from rscni_py.types import IPConfig, Result


class Good(CNIPlugin):
    def add(self, args):
        return Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))])

    def delete(self, args):
        pass

    def check(self, args):
        pass


class StrictDelete(Good):
    def delete(self, args):
        raise UnknownContainerError("never added", args.container_id)


class TestGood(ConformanceSuite):
    target = PluginTarget(Good)


@pytest.mark.parametrize(
    "case", conformance.pytest_cases(PluginTarget(StrictDelete), PluginTarget(Good, lifecycle=False))
)
def test_conformance(case):
    case.verify()
"""


def test_pytest_integration(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the kit needs no plugin; others only slow this down
    pytester.makepyfile(test_kit=PYTEST_FILE)
    result = pytester.runpytest("-q", "-rfs")
    n = len(CHECK_NAMES)
    # TestGood: all pass.  StrictDelete: repeated-del and lifecycle fail.  Good without lifecycle: one skip.
    result.assert_outcomes(passed=3 * n - 3, failed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_conformance?StrictDelete:repeated-del?*",
            "*repeated-del (SPEC §2 DEL:*DEL #1 of an unknown attachment: expected success*",
        ]
    )
