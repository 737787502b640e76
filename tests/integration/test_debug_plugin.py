"""The debug plugin under a real runtime: libcni runs it chained after bridge + host-local, cold and in warm mode.

For each spec version libcni 1.1.2 knows with result chaining (0.3.0, 0.3.1, 0.4.0, 1.0.0) the test reads the
records rscni-debug wrote: the environment and the exact stdin libcni gave it, including the prevResult bridge
produced. Because the debug plugin passes prevResult through, the result libcni parsed at the end of the chain must
be the bridge's result, which the reference-plugin tests already pin down.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.veth import netops
from rscni_py import SUPPORTED_VERSIONS
from tests.warm_support import warm_plugins

from .harness import REPO_ROOT, CNIRuntime, NetNS, NetworkLease, expect_ok
from .test_reference_plugins import bridge_conflist, expected_add_result, mask_interfaces

pytestmark = pytest.mark.integration

DEBUG = REPO_ROOT / "examples" / "debug" / "rscni_debug.py"
SEPARATOR = "-" * 20


@pytest.fixture(params=["cold", "warm"])
def install_debug(request: pytest.FixtureRequest, cni: CNIRuntime) -> Iterator[Callable[[], Path]]:
    """Install rscni-debug for libcni: cold (a script running the interpreter), or warm (the shim, its daemon
    started here and stopped at teardown)."""
    if request.param == "cold":
        yield lambda: cni.install_plugin("rscni-debug", DEBUG)
        return
    with warm_plugins() as plugins:
        yield lambda: plugins.install(cni.plugin_dir, "rscni-debug", DEBUG)


def debug_conflist(cni: CNIRuntime, lease: NetworkLease, version: str, output: Path) -> dict[str, Any]:
    """bridge + host-local (the lease's bridge and subnet), then rscni-debug recording into ``output``."""
    conflist = bridge_conflist(cni, lease, version)
    conflist["plugins"].append({"type": "rscni-debug", "cniOutput": str(output)})
    return conflist


def read_record(path: Path) -> tuple[dict[str, str], Any]:
    """A record file split into its CNI_* lines and its stdin (parsed as JSON); checks the record's framing."""
    text = path.read_text()
    head, sep, stdin = text.partition("STDIN_DATA: ")
    assert sep, text
    assert stdin.endswith(f"\n{SEPARATOR}\n"), text
    variables: dict[str, str] = {}
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        variables[key] = value
    return variables, json.loads(stdin[: -len(SEPARATOR) - 2])


def expected_variables(command: str, cni: CNIRuntime, ns: NetNS) -> dict[str, str]:
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cni.container_id,
        "CNI_IFNAME": "eth0",
        "CNI_NETNS": ns.path,
        "CNI_PATH": os.pathsep.join(str(p) for p in cni.cni_path),
        "CNI_ARGS": "",
    }


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_debug_after_bridge(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, version: str, install_debug: Callable[[], Path]
) -> None:
    install_debug()
    output = cni.workdir / "records"
    conflist = debug_conflist(cni, network_lease, version, output)
    conf = cni.write_config(conflist)
    debug_entry = {"type": "rscni-debug", "cniOutput": str(output)}
    name = conflist["name"]

    # ADD: libcni parsed the bridge's result, passed through by rscni-debug at the configuration's version.
    result = expect_ok(cni.add(conf, netns=netns))
    assert mask_interfaces(result) == expected_add_result(version, network_lease, netns)
    variables, stdin = read_record(output / f"{cni.container_id}-Add")
    assert variables == expected_variables("Add", cni, netns)
    # What rscni-debug saw as prevResult is bridge's result as libcni handed it on: exactly the final result.
    assert stdin == {"cniVersion": version, "name": name, **debug_entry, "prevResult": result}

    # CHECK (from 0.4.0; libcni refuses it itself below): the cached result comes back as prevResult.
    if version in ("0.4.0", "1.0.0"):
        assert cni.check(conf, netns=netns) == {"ok": True}
        variables, stdin = read_record(output / f"{cni.container_id}-Check")
        assert variables == expected_variables("Check", cni, netns)
        assert stdin == {"cniVersion": version, "name": name, **debug_entry, "prevResult": result}
    else:
        assert not (output / f"{cni.container_id}-Check").exists()

    # DEL: from 0.4.0 libcni sends the cached result along; below that it does not.
    assert cni.delete(conf, netns=netns) == {"ok": True}
    variables, stdin = read_record(output / f"{cni.container_id}-Del")
    assert variables == expected_variables("Del", cni, netns)
    expected_stdin: dict[str, Any] = {"cniVersion": version, "name": name, **debug_entry}
    if version in ("0.4.0", "1.0.0"):
        expected_stdin["prevResult"] = result
    assert stdin == expected_stdin
    assert cni.allocated(name) == []
    assert sorted(p.name for p in output.iterdir()) == sorted(
        f"{cni.container_id}-{command}"
        for command in (["Add", "Check", "Del"] if version in ("0.4.0", "1.0.0") else ["Add", "Del"])
    )


def test_debug_records_cni_args(cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease) -> None:
    cni.install_plugin("rscni-debug", DEBUG)
    output = cni.workdir / "records"
    conf = cni.write_config(debug_conflist(cni, network_lease, "1.0.0", output))
    pairs = {"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "web"}

    expect_ok(cni.add(conf, netns=netns, args=pairs))

    variables, _ = read_record(output / f"{cni.container_id}-Add")
    assert variables["CNI_ARGS"] == ";".join(f"{k}={v}" for k, v in pairs.items())


def test_debug_error_reaches_libcni_with_its_code(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, install_debug: Callable[[], Path]
) -> None:
    install_debug()
    conflist = bridge_conflist(cni, network_lease, "1.0.0")
    conflist["plugins"].append({"type": "rscni-debug", "cniOutput": "relative/dir"})

    msg = "cniOutput: expected an absolute directory path"
    assert cni.add(conflist, netns=netns) == {
        "ok": False,
        "error": {"code": 7, "msg": msg, "details": "relative/dir"},
        "message": f'plugin type="rscni-debug" failed (add): {msg}; relative/dir',
    }


def test_debug_version_and_validation(cni: CNIRuntime, network_lease: NetworkLease) -> None:
    cni.install_plugin("rscni-debug", DEBUG)
    conflist = debug_conflist(cni, network_lease, "1.0.0", cni.workdir / "records")

    reply = cni.version(conflist)
    assert reply["ok"] is True
    assert reply["result"][1] == {
        "type": "rscni-debug",
        "cniVersion": "1.1.0",
        "supportedVersions": list(SUPPORTED_VERSIONS),
    }
    assert cni.validate(conflist) == {"ok": True, "result": {"capabilities": []}}


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_debug_after_veth(cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, version: str) -> None:
    """Both of our plugins in one chain: rscni-debug sees rscni-veth's result as prevResult, in every command."""
    cni.install_plugin("rscni-veth", REPO_ROOT / "examples" / "veth" / "rscni_veth.py")
    cni.install_plugin("rscni-debug", DEBUG)
    output = cni.workdir / "records"
    veth = {"type": "rscni-veth", "stateDir": str(cni.workdir / "state"), "ipam": cni.host_local(network_lease.subnet)}
    debug = {"type": "rscni-debug", "cniOutput": str(output)}
    conf = cni.write_config({"cniVersion": version, "name": "chain", "plugins": [veth, debug]})
    host = netops.host_ifname(cni.container_id, "eth0")

    result = expect_ok(cni.add(conf, netns=netns))
    assert [entry["name"] for entry in result["interfaces"]] == [host, "eth0"]
    _, stdin = read_record(output / f"{cni.container_id}-Add")
    assert stdin == {"cniVersion": version, "name": "chain", **debug, "prevResult": result}

    assert cni.check(conf, netns=netns) == {"ok": True}
    _, stdin = read_record(output / f"{cni.container_id}-Check")
    assert stdin["prevResult"] == result

    assert cni.delete(conf, netns=netns) == {"ok": True}
    _, stdin = read_record(output / f"{cni.container_id}-Del")
    assert stdin["prevResult"] == result
    assert cni.allocated("chain") == []
    assert netns.links() == ["lo"]
