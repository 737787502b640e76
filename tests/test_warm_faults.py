"""Warm mode under faults: the runtime kills the shim, the daemon dies or restarts mid-call, a child dies of a
signal or ignores SIGTERM. The status a runtime sees never depends on the daemon surviving, and no child outlives
its call unboundedly."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.warm_support import ROOT, WarmDaemon, finish, run, shim_for, start, start_daemon, wait_until, warm_daemon

GATE = ROOT / "tests" / "plugins" / "gate.py"
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}
ADD = {"CNI_COMMAND": "ADD", **ATTACH}
GATE_RESULT = {"cniVersion": "1.0.0", "ips": [{"address": "192.0.2.7/24"}]}
GATE_REFUSAL = {"cniVersion": "1.0.0", "code": 7, "msg": "the gate says no", "details": "mode=fail"}
STOPPED = {"cniVersion": "1.0.0", "code": 11, "msg": "interrupted by SIGTERM"}


def gate_config(directory: Path, mode: str = "ok") -> bytes:
    return json.dumps(
        {"cniVersion": "1.0.0", "name": "n", "type": "gate", "dir": str(directory), "mode": mode}
    ).encode()


def cold_gate(directory: Path) -> Path:
    """The gate plugin as a cold executable (what a fallback bundle would be)."""
    script = directory / "gate-cold"
    script.write_text(f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} {GATE}\n")
    script.chmod(0o755)
    return script


def no_children(daemon: WarmDaemon) -> bool:
    return daemon.children() == []


def test_runtime_kills_the_shim_mid_add_and_the_child_rolls_back(tmp_path: Path) -> None:
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon:
        call = start(shim_for(tmp_path / "shim", daemon.socket_path), ADD, gate_config(tmp_path))
        wait_until((tmp_path / "started").exists, what="the call to start")
        call.kill()
        finish(call)
        wait_until((tmp_path / "marker").exists, what="the rollback")
        assert (tmp_path / "marker").read_text() == "cleaned up"
        wait_until(lambda: no_children(daemon), what="the child to be reaped")


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", log, "--orphan-grace", "0.5") as daemon:
        call = start(shim_for(tmp_path / "shim", daemon.socket_path), ADD, gate_config(tmp_path, "stubborn"))
        wait_until((tmp_path / "started").exists, what="the call to start")
        child = int((tmp_path / "started").read_text())
        call.kill()
        finish(call)
        wait_until(lambda: not Path(f"/proc/{child}").exists(), timeout=10, what="the stubborn child to be killed")
        assert not (tmp_path / "marker").exists()  # SIGKILL: no cleanup ran, but the child is gone


def test_sigterm_to_the_shim_stops_the_call_as_it_stops_a_cold_plugin(tmp_path: Path) -> None:
    answers = []
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon:
        for name, executable in (
            ("cold", cold_gate(tmp_path)),
            ("warm", shim_for(tmp_path / "shim", daemon.socket_path)),
        ):
            (tmp_path / "started").unlink(missing_ok=True)
            (tmp_path / "marker").unlink(missing_ok=True)
            call = start(executable, ADD, gate_config(tmp_path))
            wait_until((tmp_path / "started").exists, what=f"the {name} call to start")
            call.send_signal(signal.SIGTERM)
            code, out, _ = finish(call)
            answers.append((code, json.loads(out), (tmp_path / "marker").read_text()))
    assert answers == [(1, STOPPED, "cleaned up")] * 2


def test_a_child_killed_by_a_signal_kills_the_shim_with_it(tmp_path: Path) -> None:
    with warm_daemon(GATE, tmp_path / "s" / "d.sock", tmp_path / "log") as daemon:
        call = start(shim_for(tmp_path / "shim", daemon.socket_path), ADD, gate_config(tmp_path))
        wait_until((tmp_path / "started").exists, what="the call to start")
        os.kill(int((tmp_path / "started").read_text()), signal.SIGKILL)
        assert finish(call) == (-signal.SIGKILL, "", "")


@pytest.mark.parametrize(("mode", "code", "answer"), [("ok", 0, GATE_RESULT), ("fail", 1, GATE_REFUSAL)])
def test_daemon_killed_mid_call_the_call_completes_with_its_true_status(
    tmp_path: Path, mode: str, code: int, answer: dict[str, object]
) -> None:
    sock = tmp_path / "s" / "d.sock"
    daemon = start_daemon(GATE, sock, tmp_path / "log")
    try:
        shim = shim_for(tmp_path / "shim", sock, fallback=cold_gate(tmp_path))
        call = start(shim, ADD, gate_config(tmp_path, mode))
        wait_until((tmp_path / "started").exists, what="the call to start")
        daemon.proc.kill()
        daemon.proc.wait()
        (tmp_path / "release").write_text("")
        result = finish(call)
        assert (result[0], json.loads(result[1])) == (code, answer)
    finally:
        daemon.stop()
    # The dead daemon left its socket behind: new calls go to the fallback...
    assert sock.exists()
    assert run(shim, {"CNI_COMMAND": "VERSION"})[:2] == (
        0,
        '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}\n',
    )
    assert json.loads(run(shim, ADD, gate_config(tmp_path))[1]) == GATE_RESULT
    # ...and to a restarted daemon, which replaces the stale socket.
    with warm_daemon(GATE, sock, tmp_path / "log2") as restarted:
        (tmp_path / "started").unlink()
        assert json.loads(run(shim, ADD, gate_config(tmp_path))[1]) == GATE_RESULT
        assert int((tmp_path / "started").read_text()) != restarted.pid
        wait_until(lambda: no_children(restarted), what="the child to be reaped")
