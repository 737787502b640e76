"""One test (or table of tests) per claim of SECURITY.md, in the order SECURITY.md makes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ATTACH = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


def run_plugin(source: str, env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run a plugin defined by ``source`` (a module body ending in ``X.run()``) as its own process."""
    return subprocess.run(
        [sys.executable, "-c", source], input=stdin, capture_output=True, check=False, timeout=60,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env},
    )


# --- what is logged ---------------------------------------------------------------------------------------------------

SECRET = "s3cr3t-Tok3n-9f8e7d"

LOGGING_PLUGIN = '''
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
        if os.environ.get("FAIL"):
            raise RuntimeError("plugin failure")
        return Result(ips=[IPConfig(address=ip_interface("10.0.0.2/24"))])
    def delete(self, args):
        pass
    def check(self, args):
        pass

P.run()
'''


def secret_config(log_file: Path, **extra: Any) -> bytes:
    config = {
        "cniVersion": "1.0.0", "name": "n", "type": "p", "logLevel": "DEBUG", "logFile": str(log_file),
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
    ("bad-prevResult", {"CNI_COMMAND": "ADD"}, {"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "x"}],
                                                             "note": SECRET}}, 1, 7),
    ("bad-CNI_ARGS", {"CNI_COMMAND": "ADD", "CNI_ARGS": "a;b"}, {}, 1, 4),
]


@pytest.mark.parametrize(("env", "extra", "exit_code", "error_code"), [c[1:] for c in SECRET_CASES],
                         ids=[c[0] for c in SECRET_CASES])
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
    config = {"cniVersion": "1.0.0", "name": "n", "type": "p", "logLevel": "INFO", "logFile": str(log_file),
              "capabilities": {"x": "\ud800"}}
    proc = run_plugin(LOGGING_PLUGIN, {**ATTACH, "CNI_COMMAND": "ADD"}, json.dumps(config).encode())
    msg = 'invalid network config: capabilities.x: expected a boolean, got string "\ud800"'
    assert (proc.returncode, json.loads(proc.stdout)) == (1, {"cniVersion": "1.0.0", "code": 7, "msg": msg})
    assert b"Traceback" not in proc.stderr and b"Logging error" not in proc.stderr
    assert log_file.read_text().endswith(
        "ADD failed with code 7: invalid network config: capabilities.x: expected a boolean, got string "
        '"\\ud800"\n'
    )
