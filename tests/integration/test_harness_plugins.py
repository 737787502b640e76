"""The way our own plugins will be run: a Python executable in the test CNI_PATH, called by libcni.

``plugins/recorder.py`` is a tiny plugin that does not use rscni-py; it records its environment and stdin so these
tests can assert exactly what libcni hands a chained plugin, and that its errors come back with their codes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .harness import HERE, REFERENCE_PLUGIN_DIR, CNIRuntime, DriverError, NetNS, NetworkLease, expect_ok
from .plugins.recorder import SUPPORTED_VERSIONS
from .test_reference_plugins import REFERENCE_SUPPORTED, bridge_conflist

pytestmark = pytest.mark.integration

RECORDER = HERE / "plugins" / "recorder.py"
PORT_MAPPINGS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def chained_conflist(cni: CNIRuntime, lease: NetworkLease, version: str, **recorder: Any) -> dict[str, Any]:
    """bridge + host-local, then the recorder (with the portMappings capability)."""
    conflist = bridge_conflist(cni, lease, version)
    conflist["plugins"].append(
        {
            "type": "recorder",
            "capabilities": {"portMappings": True},
            "recordTo": str(cni.workdir / "calls.jsonl"),
            **recorder,
        }
    )
    return conflist


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"], ids=lambda v: f"v{v}")
def test_chained_python_plugin_sees_what_libcni_sends(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, version: str
) -> None:
    cni.install_plugin("recorder", RECORDER)
    conflist = chained_conflist(cni, network_lease, version)
    conf = cni.write_config(conflist)
    call = {
        "netns": netns,
        "args": {"IgnoreUnknown": "1", "K8S_POD_NAME": "web"},
        # Only capabilities a plugin declares reach it: "ips" must be filtered out for the recorder.
        "capability_args": {"portMappings": PORT_MAPPINGS, "ips": [f"{network_lease.host(9)}/24"]},
    }

    result = expect_ok(cni.add(conf, **call))
    assert cni.check(conf, **call) == {"ok": True}
    assert cni.delete(conf, **call) == {"ok": True}

    env = {
        "CNI_CONTAINERID": cni.container_id,
        "CNI_NETNS": netns.path,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": f"{cni.plugin_dir}:{REFERENCE_PLUGIN_DIR}",
        "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web",
    }
    stdin = {
        "cniVersion": version,
        "name": conflist["name"],
        **conflist["plugins"][1],
        "runtimeConfig": {"portMappings": PORT_MAPPINGS},
        # ADD: bridge's result, which the recorder passed through, so it is also the list's final result.
        # CHECK, DEL: the cached final result.
        "prevResult": result,
    }
    assert records(cni.workdir / "calls.jsonl") == [
        {"command": command, "env": {"CNI_COMMAND": command, **env}, "stdin": stdin}
        for command in ("ADD", "CHECK", "DEL")
    ]
    # bridge declares no capabilities, so libcni kept "ips" from it too: host-local gave the first free address.
    assert result["ips"][0]["address"] == f"{network_lease.host(2)}/24"


@pytest.mark.parametrize(
    ("failure", "text"),
    [
        ({"code": 7, "msg": "invalid network config", "details": "recordTo"}, "invalid network config; recordTo"),
        ({"code": 101, "msg": "plugin-specific failure"}, "plugin-specific failure"),
    ],
    ids=["well-known-code", "plugin-code"],
)
def test_python_plugin_error_reaches_libcni_with_its_code(
    cni: CNIRuntime, netns: NetNS, network_lease: NetworkLease, failure: dict[str, Any], text: str
) -> None:
    cni.install_plugin("recorder", RECORDER)
    conflist = chained_conflist(cni, network_lease, "1.0.0", failWith=failure)

    assert cni.add(conflist, netns=netns) == {
        "ok": False,
        "error": {"details": "", **failure},
        "message": f'plugin type="recorder" failed (add): {text}',
    }


def test_python_plugin_version_and_validation(cni: CNIRuntime, network_lease: NetworkLease) -> None:
    cni.install_plugin("recorder", RECORDER)

    assert cni.version(chained_conflist(cni, network_lease, "1.0.0")) == {
        "ok": True,
        "result": [
            {"type": "bridge", "cniVersion": "1.0.0", "supportedVersions": REFERENCE_SUPPORTED},
            {"type": "recorder", "cniVersion": "1.0.0", "supportedVersions": SUPPORTED_VERSIONS},
        ],
    }
    assert cni.validate(chained_conflist(cni, network_lease, "1.0.0")) == {
        "ok": True,
        "result": {"capabilities": ["portMappings"]},
    }
    msg = '[plugin recorder does not support config version "0.2.0"]'
    assert cni.validate(chained_conflist(cni, network_lease, "0.2.0")) == {
        "ok": False,
        "error": {"code": -1, "msg": msg, "details": ""},
        "message": msg,
    }


def test_plugin_dir_comes_before_the_reference_plugins(cni: CNIRuntime, netns: NetNS) -> None:
    """A plugin installed under a reference plugin's name shadows it: tests can replace any plugin."""
    cni.install_plugin("bridge", RECORDER)
    record = cni.workdir / "shadow.jsonl"

    reply = cni.add({"cniVersion": "1.0.0", "name": "shadow", "type": "bridge", "recordTo": str(record)}, netns=netns)
    assert reply == {"ok": True, "result": {"cniVersion": "1.0.0", "dns": {}}}
    assert [entry["command"] for entry in records(record)] == ["ADD"]
    assert netns.links() == ["lo"]


@pytest.mark.parametrize(
    ("config", "msg"),
    [
        (
            {"cniVersion": "1.0.0", "name": "empty", "plugins": []},
            "error parsing configuration list: no plugins in list",
        ),
        ({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, "error parsing configuration list: no name"),
        (
            {"cniVersion": "1.0.0", "name": "n", "plugins": [{"bridge": "br0"}]},
            "failed to parse plugin config 0: error parsing configuration: missing 'type'",
        ),
        (
            # libcni 1.1.2 takes only a JSON boolean here (later releases also accept "true"/"false").
            {"cniVersion": "1.0.0", "name": "n", "disableCheck": "true", "plugins": [{"type": "bridge"}]},
            "error parsing configuration list: invalid disableCheck type string",
        ),
        ({"cniVersion": "1.0.0", "name": "single"}, "error parsing configuration: missing 'type'"),
    ],
    ids=["no-plugins", "no-name", "plugin-without-type", "disable-check-string", "conf-without-type"],
)
def test_config_rejected_by_libcni_is_a_reply(cni: CNIRuntime, config: dict[str, Any], msg: str) -> None:
    assert cni.add(config) == {"ok": False, "error": {"code": -1, "msg": msg, "details": ""}, "message": msg}


def test_driver_failure_raises(cni: CNIRuntime) -> None:
    path = cni.write_config({"cniVersion": "1.0.0", "name": "n", "type": "bridge"}, name="net.yaml")
    expected = r"exited 2: cni-driver: .*/net\.yaml: expected a \.conflist, \.conf or \.json file$"
    with pytest.raises(DriverError, match=expected):
        cni.add(path)
