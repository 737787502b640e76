"""Reliability with Debian's real host-local: no live lease is released, nothing is leaked on faults, no hang.

Each test drives ``rscni_py.invoke`` (or a small plugin process built on it) against ``/usr/lib/cni/host-local``
and looks at host-local's lease files afterwards, so what is asserted is what the next container would get.
"""

from __future__ import annotations

import io
import json
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
