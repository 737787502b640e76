"""``run()`` in a real process: the protocol's JSON is the only thing on stdout, logging goes where it is told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOISY = ROOT / "tests" / "plugins" / "noisy.py"
CONFIG = json.dumps({"cniVersion": "0.4.0", "name": "net1", "type": "noisy"}).encode()
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


def plugin(env: dict[str, str], stdin: bytes = CONFIG) -> subprocess.CompletedProcess[bytes]:
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(NOISY)], input=stdin, env={**base, **env}, capture_output=True, check=False, timeout=60
    )


def test_add_stdout_is_exactly_the_result() -> None:
    proc = plugin({"CNI_COMMAND": "ADD", **ATTACH})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "cniVersion": "0.4.0",
        "ips": [{"version": "4", "address": "10.9.9.9/24"}],
        "dns": {},
    }
    stderr = proc.stderr.decode()
    assert "stray print from add()" in stderr
    assert "child process output" in stderr
    # The default level is WARNING; records carry the command and the container ID.
    assert "WARNING noisy [ADD c1] message at WARNING" in stderr
    assert "ERROR noisy [ADD c1] message at ERROR" in stderr
    assert "message at INFO" not in stderr


def test_del_prints_nothing_on_stdout() -> None:
    proc = plugin({"CNI_COMMAND": "DEL", **ATTACH})
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert b"stray write from delete()" in proc.stderr


def test_unexpected_exception_is_999_with_traceback_on_stderr() -> None:
    proc = plugin({"CNI_COMMAND": "ADD", "NOISY_FAIL": "kaboom", **ATTACH})
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"cniVersion": "0.4.0", "code": 999, "msg": "kaboom"}
    assert b"Traceback (most recent call last)" in proc.stderr
    assert b"Traceback" not in proc.stdout


def test_log_file_and_level_from_environment(tmp_path: Path) -> None:
    log_file = tmp_path / "plugin.log"
    proc = plugin({"CNI_COMMAND": "ADD", "RSCNI_LOG_LEVEL": "debug", "RSCNI_LOG_FILE": str(log_file), **ATTACH})
    assert proc.returncode == 0, proc.stderr
    text = log_file.read_text()
    assert "INFO noisy [ADD c1] message at INFO" in text
    assert "DEBUG noisy [ADD c1] message at DEBUG" in text
    assert oct(log_file.stat().st_mode & 0o777) == "0o600"


def test_log_file_from_config(tmp_path: Path) -> None:
    log_file = tmp_path / "conf.log"
    config = json.dumps(
        {"cniVersion": "1.0.0", "name": "n", "type": "noisy", "logLevel": "INFO", "logFile": str(log_file)}
    )
    proc = plugin({"CNI_COMMAND": "ADD", **ATTACH}, config.encode())
    assert proc.returncode == 0, proc.stderr
    assert "INFO noisy [ADD c1] message at INFO" in log_file.read_text()


def test_unwritable_log_file_is_code_5(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.log"
    proc = plugin({"CNI_COMMAND": "ADD", "RSCNI_LOG_FILE": str(target), **ATTACH})
    assert proc.returncode == 1
    err = json.loads(proc.stdout)
    assert (err["code"], err["msg"]) == (5, f"cannot open log file {json.dumps(str(target))}")


def test_about_without_command() -> None:
    proc = subprocess.run(
        [sys.executable, str(NOISY)],
        env={"PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert proc.stderr == (
        b"CNI noisy test plugin v0\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n"
    )


def _close_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize("how", ["closed", "broken-pipe"])
def test_unusable_stdout_gives_nonzero_exit_without_traceback(how: str) -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "CNI_COMMAND": "ADD", **ATTACH}
    if how == "closed":
        proc = subprocess.run(
            [sys.executable, str(NOISY)],
            input=CONFIG,
            env=env,
            stderr=subprocess.PIPE,
            check=False,
            timeout=60,
            preexec_fn=_close_stdout,
        )
    else:
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run(
                [sys.executable, str(NOISY)],
                input=CONFIG,
                env=env,
                stdout=write_end,
                stderr=subprocess.PIPE,
                check=False,
                timeout=60,
            )
        finally:
            os.close(write_end)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    assert b"cannot write the ADD output to stdout" in proc.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"CNI_COMMAND": "VERSION"},
        {},
        {"CNI_COMMAND": "ADD"},
        {"CNI_COMMAND": "ADD", **ATTACH, "CNI_IFNAME": "bad/name"},
    ],
    ids=["version", "about", "missing-env", "invalid-env"],
)
def test_fast_paths_do_not_load_the_model_library(env: dict[str, str]) -> None:
    # dataclasses-json and marshmallow cost ~100 ms to import; only decoding a config or result may load them.
    code = (
        "import sys, runpy; sys.argv=['noisy']\n"
        f"try:\n    runpy.run_path({str(NOISY)!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dataclasses_json', 'marshmallow'))\n"
        "sys.stderr.write('LOADED:' + ','.join(bad))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT), **env},
        input=CONFIG,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.stderr.decode().endswith("LOADED:"), proc.stderr


CODEC_PROBE = """
import io, json, sys
from rscni_py import CNIPlugin
from rscni_py.protocol.dispatch import dispatch
from rscni_py.types import IPConfig, Result, parse_cidr

class P(CNIPlugin):
    codec = {codec!r}
    def add(self, args):
        return Result(ips=[IPConfig(address=parse_cidr("10.1.2.3/24"))], dns=args.prev_result.dns)
    def delete(self, args): pass
    def check(self, args): pass

env = {{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/dev/null", "CNI_IFNAME": "eth0",
        "CNI_PATH": "/opt/cni/bin"}}
conf = {{"cniVersion": "1.0.0", "name": "n", "type": "p", "prevResult": {{"cniVersion": "1.0.0", "dns": {{}}}}}}
out = io.StringIO()
code = dispatch(P, env, io.BytesIO(json.dumps(conf).encode()), out, sys.stderr)
print(json.dumps({{"code": code, "out": json.loads(out.getvalue()), "loaded": "dataclasses_json" in sys.modules}}))
"""


@pytest.mark.parametrize(("codec", "loaded"), [("dataclasses-json", True), ("native", False)])
def test_a_plugin_chooses_its_codec(codec: str, loaded: bool) -> None:
    # Same output either way; only the default engine imports dataclasses-json.
    proc = subprocess.run(
        [sys.executable, "-c", CODEC_PROBE.format(codec=codec)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert json.loads(proc.stdout) == {
        "code": 0,
        "out": {"cniVersion": "1.0.0", "ips": [{"address": "10.1.2.3/24"}]},
        "loaded": loaded,
    }


def test_an_unknown_codec_is_refused_when_the_class_is_made() -> None:
    from rscni_py import CNIPlugin

    with pytest.raises(TypeError) as info:

        class Odd(CNIPlugin):
            codec = "pickle"  # type: ignore[assignment]

    assert str(info.value) == "Odd.codec must be one of ['dataclasses-json', 'native'], not 'pickle'"
