"""Reliability with Debian's real host-local: no live lease is released, nothing is leaked on faults, no hang.

Each test drives ``rscni_py.invoke`` (or a small plugin process built on it) against ``/usr/lib/cni/host-local``
and looks at host-local's lease files afterwards, so what is asserted is what the next container would get.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rscni_py import CNIError, invoke
from rscni_py.invoke import DefaultExecutor

HOST_LOCAL_DIR = Path("/usr/lib/cni")
NETWORK = "rela-net"


def conf(data_dir: Path, subnet: str = "10.251.7.0/30") -> dict[str, Any]:
    """host-local with a one-address range: a /30 leaves .2 once .1 is the gateway."""
    return {
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "type": "rela-test",
        "ipam": {"type": "host-local", "dataDir": str(data_dir), "ranges": [[{"subnet": subnet}]]},
    }


def env_for(container_id: str, ifname: str = "eth0") -> dict[str, str]:
    return {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": "/var/run/netns/rela-unused",
        "CNI_IFNAME": ifname,
        "CNI_PATH": str(HOST_LOCAL_DIR),
        "PATH": "/usr/bin:/bin",
    }


def leases(data_dir: Path) -> dict[str, str]:
    """host-local's allocations: address -> the container ID holding it."""
    directory = data_dir / NETWORK
    if not directory.is_dir():
        return {}
    return {p.name: p.read_text().splitlines()[0] for p in directory.iterdir() if p.name[0].isdigit() and p.is_file()}


QUIET = DefaultExecutor(stderr=io.StringIO())


def test_repeated_add_keeps_the_live_lease(integration_env: None, tmp_path: Path) -> None:
    netconf = json.dumps(conf(tmp_path)).encode()
    with invoke.add_with_rollback("host-local", netconf, env=env_for("r1"), executor=QUIET) as first:
        assert [str(ip.address) for ip in first.ips] == ["10.251.7.2/30"]
    assert leases(tmp_path) == {"10.251.7.2": "r1"}
    # The same ADD again: host-local refuses the duplicate, having allocated nothing, so nothing is undone.
    with (
        pytest.raises(CNIError) as info,
        invoke.add_with_rollback("host-local", netconf, env=env_for("r1"), executor=QUIET),
    ):
        pytest.fail("a repeated ADD must not succeed")
    assert (info.value.to_dict(), getattr(info.value, "__notes__", [])) == (
        {
            "code": 999,
            "msg": "failed to allocate for range 0: 10.251.7.2 has been allocated to r1, "
            "duplicate allocation is not allowed",
        },
        [],
    )
    assert leases(tmp_path) == {"10.251.7.2": "r1"}
    # So the next container does not get r1's address.
    with pytest.raises(CNIError) as exhausted:
        invoke.delegate_add("host-local", netconf, env=env_for("r2"), executor=QUIET)
    assert exhausted.value.msg.startswith("failed to allocate for range 0: no IP addresses available in range set")


# --- a plugin process stopped during its rollback ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
IPAM_USER = ROOT / "tests" / "plugins" / "ipam_user.py"
# host-local behind a wrapper that announces its DEL and then delays it (or never runs it).
SLOW_DEL = """#!/bin/sh
if [ "$CNI_COMMAND" = DEL ]; then
  touch "{flag}"
  {delay}
fi
exec {host_local}
"""


def start_ipam_user(tmp_path: Path, delay: str, **extra: Any) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Run ipam_user.py with the wrapped host-local; return it once the address is allocated."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "host-local"
    flag = tmp_path / "del-started"
    wrapper.write_text(SLOW_DEL.format(flag=flag, delay=delay, host_local=HOST_LOCAL_DIR / "host-local"))
    wrapper.chmod(0o755)
    marker = tmp_path / "allocated"
    config = {**conf(tmp_path / "ipam"), "marker": str(marker), **extra}
    env = {**env_for("stopped1"), "CNI_PATH": str(bindir), "PYTHONPATH": str(ROOT)}
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    with config_file.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, str(IPAM_USER)], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    wait_for(marker, proc)
    assert leases(tmp_path / "ipam") == {"10.251.7.2": "stopped1"}
    return proc, flag, wrapper


def wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.02)


def test_second_sigterm_during_rollback_waits_for_the_release(integration_env: None, tmp_path: Path) -> None:
    proc, del_started, wrapper = start_ipam_user(tmp_path, "sleep 1")
    proc.send_signal(signal.SIGTERM)
    wait_for(del_started, proc)
    proc.send_signal(signal.SIGTERM)  # the runtime insists while host-local is releasing the address
    stdout, _ = proc.communicate(timeout=30)
    assert (proc.returncode, json.loads(stdout)) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 11,
            "msg": "interrupted by SIGTERM",
            "details": f"rollback: interrupted by SIGTERM while the DEL of delegated plugin {wrapper} ran; "
            "it was finished first",
        },
    )
    assert leases(tmp_path / "ipam") == {}


def test_hanging_rollback_after_the_deadline_is_bounded_and_named(integration_env: None, tmp_path: Path) -> None:
    proc, _, wrapper = start_ipam_user(tmp_path, "exec sleep 300", deadline=1, rollbackTimeout=1)
    started = time.monotonic()
    stdout, _ = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert (proc.returncode, json.loads(stdout)) == (
        1,
        {
            "cniVersion": "1.0.0",
            "code": 11,
            "msg": "deadline of 1s exceeded",
            "details": f"rollback: DEL of delegated plugin {wrapper} failed, what its ADD allocated may still be held: "
            f"plugin {json.dumps(str(wrapper))} did not finish within 1s and was killed",
        },
    )
    # Exactly what the error says: the lease is still there, for the runtime's DEL or GC to release.
    assert leases(tmp_path / "ipam") == {"10.251.7.2": "stopped1"}
