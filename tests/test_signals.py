"""Stopping a command: SIGTERM/SIGINT and the deadline unwind the plugin (cleanup runs) and report code 11."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rscni_py.protocol.dispatch import dispatch
from tests.recorder import Recorder
from tests.test_dispatch import env_for

ROOT = Path(__file__).resolve().parent.parent
SLOW = ROOT / "tests" / "plugins" / "slow.py"
ATTACH = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/var/run/netns/x",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}


def start(tmp_path: Path, extra: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Path]:
    marker = tmp_path / "marker"
    config = {"cniVersion": "1.0.0", "name": "n", "type": "slow", "marker": str(marker), **extra}
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    with config_file.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, str(SLOW)],
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **ATTACH},
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, "plugin did not start"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.02)
    return proc, marker


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_unwinds_and_reports_try_again_later(tmp_path: Path, signum: int, name: str) -> None:
    proc, marker = start(tmp_path, {})
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert json.loads(stdout) == {"cniVersion": "1.0.0", "code": 11, "msg": f"interrupted by {name}"}
    assert marker.read_text() == "cleaned up"
    assert b"Traceback" not in stderr


def test_deadline_from_config(tmp_path: Path) -> None:
    proc, marker = start(tmp_path, {"deadline": 3})
    stdout, _ = proc.communicate(timeout=30)
    assert (proc.returncode, json.loads(stdout)) == (
        1,
        {"cniVersion": "1.0.0", "code": 11, "msg": "deadline of 3s exceeded"},
    )
    assert marker.read_text() == "cleaned up"


@pytest.mark.parametrize(
    "value", ["1", True, 0, -1, 100000, None], ids=["string", "bool", "zero", "negative", "too-long", "null"]
)
def test_bad_deadline_is_code_7(value: object) -> None:
    config = {"cniVersion": "1.0.0", "name": "n", "type": "x", "deadline": value}
    out = io.StringIO()
    code = dispatch(Recorder, env_for("DEL"), io.BytesIO(json.dumps(config).encode()), out, io.StringIO())
    if value is None:  # null means "no deadline", like a missing key
        assert code == 0
        return
    assert (code, json.loads(out.getvalue())) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 7,
            "msg": f"deadline: expected a number of seconds between 0 and 86400, got {json.dumps(value)}",
        },
    )


FORKER = ROOT / "tests" / "plugins" / "forker.py"


def test_forked_child_that_unwinds_never_answers(tmp_path: Path) -> None:
    config = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "forker", "mode": "child-raises"}).encode()
    proc = subprocess.run(
        [sys.executable, str(FORKER)],
        input=config,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **ATTACH},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, json.loads(proc.stdout)) == (0, {"cniVersion": "1.0.0"})


def test_signal_to_the_group_gives_one_answer(tmp_path: Path) -> None:
    marker = tmp_path / "child"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"cniVersion": "1.0.0", "name": "n", "type": "forker", "mode": "child-sleeps", "marker": str(marker)}
        )
    )
    with config.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, str(FORKER)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **ATTACH},
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    # json.loads fails on two documents: exactly one answer reached stdout.
    assert (proc.returncode, json.loads(stdout)) == (
        1,
        {"cniVersion": "1.0.0", "code": 11, "msg": "interrupted by SIGTERM"},
    )


IPAM_USER = ROOT / "tests" / "plugins" / "ipam_user.py"
# A stand-in IPAM plugin: records each command it gets and hands out one address.
FAKE_IPAM = """#!/bin/sh
echo "$CNI_COMMAND" >> "{log}"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{{"cniVersion": "1.0.0", "ips": [{{"address": "10.245.0.2/24"}}]}}'
fi
"""


@pytest.mark.parametrize("how", ["SIGTERM", "deadline"])
def test_stop_rolls_back_the_ipam_allocation(tmp_path: Path, how: str) -> None:
    log = tmp_path / "ipam.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ipam = bindir / "fake-ipam"
    ipam.write_text(FAKE_IPAM.format(log=log))
    ipam.chmod(0o755)
    marker = tmp_path / "started"
    config: dict[str, object] = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "ipam-user",
        "ipam": {"type": "fake-ipam"},
        "marker": str(marker),
    }
    if how == "deadline":
        config["deadline"] = 3
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **ATTACH, "CNI_PATH": str(bindir)}
    with config_file.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, str(IPAM_USER)], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.02)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    expected = "interrupted by SIGTERM" if how == "SIGTERM" else "deadline of 3s exceeded"
    assert (proc.returncode, json.loads(stdout)) == (1, {"cniVersion": "1.0.0", "code": 11, "msg": expected})
    # The address IPAM handed out was given back before the plugin answered.
    assert log.read_text().split() == ["ADD", "DEL"]
