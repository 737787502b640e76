"""What the real-runtime tests share (containerd's and podman's): our two plugins bundled, the network they form,
what the container reports, and how to read what the debug plugin recorded.

Both runtimes run the same busybox container (image content from :func:`containerd.busybox_rootfs`) on a network
of examples/veth (veth pair, addresses from Debian's host-local) followed by the debug plugin, which records what
the runtime passed on ADD and DEL; the tests make the same assertions on what they see.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from .harness import REPO_ROOT, NetworkLease

__all__ = [
    "DEBUG",
    "ContainerRun",
    "REPORT_SCRIPT",
    "VETH",
    "allocated",
    "build_bundles",
    "conflist",
    "expected_add_record",
    "expected_report",
    "read_record",
    "rscni_py",
    "run_container",
    "wait_for",
]

#: The plugins' executable names (the network configuration's ``type``s).
VETH: Final = "rscni-veth-ctrtest"
DEBUG: Final = "rscni-debug-ctrtest"
#: What the container runs: report its network into the shared directory, then wait until the host has pinged it.
REPORT_SCRIPT: Final = (
    "{ ip -o -4 addr show dev eth0; ip route; cat /sys/class/net/eth0/mtu /sys/class/net/eth0/address; }"
    " > /shared/report.tmp && mv /shared/report.tmp /shared/report;"
    " i=0; while [ ! -e /shared/release ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
    " echo done"
)


def rscni_py(*args: str, cwd: Path) -> str:
    """Run the ``rscni-py`` command line of this checkout (``python -m rscni_py``) and return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "rscni_py", *args],
        cwd=cwd,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"rscni-py {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


def build_bundles(work: Path) -> dict[str, Path]:
    """Both plugins bundled for a venv without pip or any package, so only what the bundles carry can run."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    built = {}
    for name, script in ((VETH, "examples/veth/rscni_veth.py"), (DEBUG, "examples/debug/rscni_debug.py")):
        output = work / name
        out = rscni_py(
            "bundle", str(REPO_ROOT / script), "-o", str(output), "--python", str(venv / "bin" / "python"), cwd=work
        )
        assert out == f"wrote {output}\n"
        built[name] = output
    return built


def conflist(tmp_path: Path, lease: NetworkLease, network: str) -> dict[str, Any]:
    """rscni-veth with host-local (state in ``tmp_path``), then the debug plugin recording into ``tmp_path``."""
    return {
        "cniVersion": "1.0.0",
        "name": network,
        "plugins": [
            {
                "type": VETH,
                "mtu": 1400,
                "stateDir": str(tmp_path / "veth-state"),
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(tmp_path / "ipam"),
                    "ranges": [[{"subnet": lease.subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": DEBUG, "cniOutput": str(tmp_path / "debug")},
        ],
    }


def expected_report(report: str, lease: NetworkLease) -> tuple[str, str]:
    """The container's report as it must be (its address and routes from host-local, the MTU from the
    configuration), and the container-side MAC address it reported."""
    mac = report.splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac), report
    return (
        f"2: eth0    inet {lease.host(2)}/24 scope global noprefixroute eth0\\"
        "       valid_lft forever preferred_lft forever\n"
        f"default via {lease.gateway} dev eth0 \n"
        f"{lease.subnet} via {lease.gateway} dev eth0 \n"
        f"{lease.gateway} dev eth0 scope link \n"
        "1400\n"
        f"{mac}\n"
    ), mac


def read_record(path: Path) -> dict[str, Any]:
    """A debug plugin record as a dict, ``STDIN_DATA`` decoded from JSON."""
    lines = path.read_text().splitlines()
    assert lines[-1] == "-" * 20, lines
    record: dict[str, Any] = {}
    for line in lines[:-1]:
        key, _, value = line.partition(": ")
        record[key] = json.loads(value) if key == "STDIN_DATA" else value
    return record


def allocated(ipam_dir: Path) -> list[str]:
    """host-local's reservations (one file per address; lock and last_reserved_ip.* are bookkeeping)."""
    return sorted(p.name for p in ipam_dir.iterdir() if re.fullmatch(r"[0-9.]+", p.name)) if ipam_dir.is_dir() else []


@dataclass
class ContainerRun:
    """What a runtime's run of the reporting container gave: the ping from the host, the container's report, and
    the runtime command's exit status and output."""

    ping: subprocess.CompletedProcess[str]
    report: str
    returncode: int
    out: str
    err: str


def run_container(
    argv: list[str],
    shared: Path,
    address: str,
    while_running: Callable[[], None],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> ContainerRun:
    """Start the runtime's command ``argv`` (a container running :data:`REPORT_SCRIPT` with ``shared`` mounted on
    ``/shared``), wait for its report, call ``while_running``, ping ``address`` from the host, then let the
    container end."""
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(shared / "report", proc, timeout=timeout, what=what)
        while_running()
        ping = subprocess.run(["ping", "-c", "1", "-W", "2", address], capture_output=True, text=True, check=False)
        (shared / "release").touch()
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return ContainerRun(ping, (shared / "report").read_text(), proc.returncode, out, err)


def expected_add_record(
    record: dict[str, Any],
    *,
    tmp_path: Path,
    lease: NetworkLease,
    network: str,
    host: str,
    mac: str,
    container_id: str,
    cni_path: str,
    cni_args: str,
) -> dict[str, Any]:
    """The debug plugin's ADD record as it must be: our veth plugin's result (host end ``host``, container end
    ``mac`` in the runtime's namespace, host-local's address and routes) handed on as prevResult. The namespace
    path and the host end's MAC address are taken from ``record``; the caller checks the path's form."""
    netns = record["CNI_NETNS"]
    host_mac = record["STDIN_DATA"]["prevResult"]["interfaces"][0]["mac"]
    prev_result = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": host, "mac": host_mac}, {"name": "eth0", "mac": mac, "sandbox": netns}],
        "ips": [{"interface": 1, "address": f"{lease.host(2)}/24", "gateway": lease.gateway}],
        "routes": [{"dst": "0.0.0.0/0", "gw": lease.gateway}],
        "dns": {},
    }
    stdin = {
        "cniVersion": "1.0.0",
        "name": network,
        "type": DEBUG,
        "cniOutput": str(tmp_path / "debug"),
        "prevResult": prev_result,
    }
    return {
        "CNI_COMMAND": "Add",
        "CNI_CONTAINERID": container_id,
        "CNI_IFNAME": "eth0",
        "CNI_NETNS": netns,
        "CNI_PATH": cni_path,
        "CNI_ARGS": cni_args,
        "STDIN_DATA": stdin,
    }


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float, what: str) -> None:
    """Wait until ``path`` exists; fail early with the output of ``what`` (the runtime's command) if it exits first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"{what} exited {proc.returncode} before the container reported:\n{out}{err}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"no {path.name} from the container after {timeout:.0f} s", pytrace=False)
        time.sleep(0.1)
