"""The local runtime (rscni_py.runtime) against real plugin processes: our debug plugin as an installed executable
and, where no root is needed, Debian's reference plugins (``static`` and ``host-local`` run as the first plugin of a
chain: they only compute addresses and never enter a namespace)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.debug.rscni_debug import COMMAND_NAMES
from rscni_py.errors import CNIError
from rscni_py.runtime import (
    CACHE_KIND,
    CachedAttachment,
    NetworkConfigList,
    PluginFailedError,
    ResultCache,
    Runtime,
    RuntimeConf,
    conflist_from_json,
    load_conflist,
)
from rscni_py.types import GCAttachment
from tests.runtime_support import (
    DEBIAN_CNI,
    ROOT,
    RecordingExecutor,
    conflist,
    debug_plugin,
    install_python_plugin,
    read_record,
)

needs_debian = pytest.mark.skipif(
    not (DEBIAN_CNI / "static").exists() or not (DEBIAN_CNI / "host-local").exists(),
    reason="Debian's containernetworking-plugins (/usr/lib/cni) is not installed",
)

NETNS = "/var/run/netns/rscni-test"
RT = RuntimeConf(container_id="c1", ifname="eth0", netns=NETNS, args=(("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")))
STATIC_IPAM = {
    "type": "static",
    "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["8.8.8.8"]},
}
STATIC_RESULT = {
    "cniVersion": "1.0.0",
    "ips": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["8.8.8.8"]},
}


class Env:
    """A plugin directory with the debug plugin, a cache directory, and a runtime that records its calls."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        install_python_plugin(self.bin, "debug")
        self.cache_dir = tmp_path / "cache"
        self.executor = RecordingExecutor()
        self.path = [str(self.bin), str(DEBIAN_CNI)]
        self.runtime = Runtime(
            self.path, cache_dir=self.cache_dir, executor=self.executor, env={"PATH": os.environ.get("PATH", "")}
        )

    def out(self, name: str) -> Path:
        return self.tmp / "records" / name

    def load(self, data: dict[str, Any]) -> NetworkConfigList:
        return conflist_from_json(data)

    def record_env(self, command: str, rt: RuntimeConf | None = RT) -> dict[str, str]:
        """The CNI_* lines of a debug record (the command written as "Add", "Del", ...)."""
        return {**self.cni_env(command, rt), "CNI_COMMAND": COMMAND_NAMES[command]}

    def cni_env(self, command: str, rt: RuntimeConf | None = RT) -> dict[str, str]:
        return {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": rt.container_id if rt else "",
            "CNI_IFNAME": rt.ifname if rt else "",
            "CNI_NETNS": rt.netns if rt else "",
            "CNI_PATH": ":".join(self.path),
            "CNI_ARGS": rt.args_string() if rt else "",
        }


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


# --- ADD -------------------------------------------------------------------------------------------------------------


@needs_debian
def test_add_threads_prev_result_and_caches_the_last_result(env: Env) -> None:
    a, b = debug_plugin(env.out("a")), debug_plugin(env.out("b"), extra={"kept": [1, 2]})
    netconf = env.load(conflist("1.0.0", [{"type": "static", "ipam": STATIC_IPAM}, a, b]))
    result = env.runtime.add(netconf, RT)
    assert result.to_dict() == STATIC_RESULT
    # Each plugin got its own object with the list's name and version, and the previous plugin's result.
    first, second = read_record(env.out("a") / "c1-Add"), read_record(env.out("b") / "c1-Add")
    assert first.stdin == {**a, "name": "testnet", "cniVersion": "1.0.0", "prevResult": STATIC_RESULT}
    assert second.stdin == {**b, "name": "testnet", "cniVersion": "1.0.0", "prevResult": STATIC_RESULT}
    assert first.env == second.env == env.record_env("ADD")
    # The static plugin got no prevResult at all.
    assert env.executor.calls[0].config == {
        "type": "static",
        "ipam": STATIC_IPAM,
        "name": "testnet",
        "cniVersion": "1.0.0",
    }
    assert [c.env for c in env.executor.calls] == [env.cni_env("ADD")] * 3
    # The cache holds the attachment in libcni's format.
    cached = json.loads((env.cache_dir / "results" / "testnet-c1-eth0").read_text())
    assert cached == {
        "kind": CACHE_KIND,
        "containerId": "c1",
        "config": cached["config"],
        "ifName": "eth0",
        "networkName": "testnet",
        "netns": NETNS,
        "cniArgs": [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web"]],
        "result": STATIC_RESULT,
    }
    assert env.runtime.cache.load("testnet", "c1", "eth0") == CachedAttachment(
        network="testnet",
        container_id="c1",
        ifname="eth0",
        netns=NETNS,
        cni_args=(("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")),
        config=netconf.to_bytes(),
        result=STATIC_RESULT,
    )


def test_runtime_config_only_from_declared_capabilities(env: Env) -> None:
    plugins = [
        debug_plugin(env.out("a"), capabilities={"portMappings": True, "bandwidth": False}),
        debug_plugin(env.out("b"), capabilities={"mac": True, "ips": True}),
        # Declares nothing the runtime has: its own runtimeConfig stays as written.
        debug_plugin(env.out("c"), capabilities={"aliases": True}, runtimeConfig={"fromFile": True}),
        debug_plugin(env.out("d")),
    ]
    capability_args = {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "bandwidth": {"ingressRate": 1000},
        "mac": "c2:11:22:33:44:55",
    }
    rt = RuntimeConf(container_id="c1", netns=NETNS, capability_args=capability_args)
    env.runtime.add(env.load(conflist("1.1.0", plugins)), rt)
    got = {name: read_record(env.out(name) / "c1-Add").stdin.get("runtimeConfig") for name in "abcd"}
    assert got == {
        "a": {"portMappings": capability_args["portMappings"]},
        "b": {"mac": "c2:11:22:33:44:55"},
        "c": {"fromFile": True},
        "d": None,
    }


@pytest.mark.parametrize(
    ("version", "versions", "selected"),
    [
        ("0.4.0", ["0.3.1", "1.0.0", "1.1.0", "2.0.0"], "1.1.0"),  # newest known entry; 2.0.0 is skipped
        ("1.0.0", ["0.4.0"], "1.0.0"),  # cniVersion itself counts too
        ("0.3.1", None, "0.3.1"),
    ],
    ids=["newest-known", "cniVersion-higher", "no-cniVersions"],
)
def test_cni_versions_selection_reaches_every_plugin(
    env: Env, version: str, versions: list[str] | None, selected: str
) -> None:
    extra: dict[str, Any] = {"cniVersions": versions} if versions is not None else {}
    netconf = env.load(conflist(version, [debug_plugin(env.out("a"))], **extra))
    assert netconf.cni_version == selected
    result = env.runtime.add(netconf, RT)
    assert read_record(env.out("a") / "c1-Add").stdin["cniVersion"] == selected
    assert result.cni_version == selected


def test_add_failure_stops_the_chain_and_caches_nothing(env: Env) -> None:
    plugins = [debug_plugin(env.out("a")), {"type": "debug", "cniOutput": "relative/dir"}, debug_plugin(env.out("c"))]
    with pytest.raises(PluginFailedError) as caught:
        env.runtime.add(env.load(conflist("1.0.0", plugins)), RT)
    assert caught.value == CNIError(
        7, 'plugin type="debug" failed (add): cniOutput: expected an absolute directory path', "relative/dir"
    )
    assert (caught.value.command, caught.value.plugin_type, caught.value.cause) == (
        "ADD",
        "debug",
        CNIError(7, "cniOutput: expected an absolute directory path", "relative/dir"),
    )
    assert env.executor.sequence() == [("ADD", str(env.out("a"))), ("ADD", "relative/dir")]
    assert not env.out("c").exists()
    assert env.runtime.cache.attachments() == []


def test_missing_plugin(env: Env) -> None:
    with pytest.raises(PluginFailedError) as caught:
        env.runtime.add(env.load(conflist("1.0.0", [{"type": "no-such-plugin"}])), RT)
    assert caught.value == CNIError(
        999,
        f'plugin type="no-such-plugin" failed (add): failed to find plugin "no-such-plugin" in path '
        f"[{' '.join(env.path)}]",
    )


@pytest.mark.parametrize(
    ("rt", "error"),
    [
        (RuntimeConf(container_id=""), CNIError(3, "missing containerID")),
        (RuntimeConf(container_id="../x"), CNIError(4, "invalid characters in containerID", "../x")),
        (
            RuntimeConf(container_id="c1", ifname="a/b"),
            CNIError(4, "interface name contains / or : or whitespace characters", "a/b"),
        ),
        (
            RuntimeConf(container_id="c1", ifname="x" * 16),
            CNIError(4, "interface name is too long", "interface name should be less than 16 characters"),
        ),
    ],
    ids=["no-id", "bad-id", "slash-ifname", "long-ifname"],
)
@pytest.mark.parametrize("command", ["add", "check", "delete"])
def test_invalid_attachment_is_refused_before_any_plugin_runs(
    env: Env, rt: RuntimeConf, error: CNIError, command: str
) -> None:
    netconf = env.load(conflist("1.0.0", [debug_plugin(env.out("a"))]))
    with pytest.raises(CNIError) as caught:
        getattr(env.runtime, command)(netconf, rt)
    assert caught.value == error
    assert env.executor.calls == []


def test_a_plugin_that_hangs_is_killed_after_the_timeout(env: Env) -> None:
    sleepy = env.bin / "sleepy"
    sleepy.write_text("#!/bin/sh\nexec sleep 60\n")
    sleepy.chmod(0o755)
    runtime = Runtime(env.path, cache_dir=env.cache_dir, timeout=0.5)
    with pytest.raises(PluginFailedError) as caught:
        runtime.add(env.load(conflist("1.0.0", [{"type": "sleepy"}])), RT)
    assert caught.value == CNIError(
        11, f'plugin type="sleepy" failed (add): plugin "{sleepy}" did not finish within 0.5s and was killed'
    )


# --- CHECK and DEL ---------------------------------------------------------------------------------------------------


@needs_debian
def test_check_and_del_use_the_cached_result_del_in_reverse(env: Env) -> None:
    a, b = debug_plugin(env.out("a")), debug_plugin(env.out("b"))
    netconf = env.load(conflist("1.0.0", [{"type": "static", "ipam": STATIC_IPAM}, a, b]))
    env.runtime.add(netconf, RT)
    env.executor.calls.clear()

    env.runtime.check(netconf, RT)
    assert env.executor.sequence() == [("CHECK", "static"), ("CHECK", str(env.out("a"))), ("CHECK", str(env.out("b")))]
    for name, plugin in (("a", a), ("b", b)):
        record = read_record(env.out(name) / "c1-Check")
        assert record.stdin == {**plugin, "name": "testnet", "cniVersion": "1.0.0", "prevResult": STATIC_RESULT}
        assert record.env == env.record_env("CHECK")
    env.executor.calls.clear()

    env.runtime.delete(netconf, RT)
    assert env.executor.sequence() == [("DEL", str(env.out("b"))), ("DEL", str(env.out("a"))), ("DEL", "static")]
    assert [c.config.get("prevResult") for c in env.executor.calls] == [STATIC_RESULT] * 3
    assert read_record(env.out("a") / "c1-Del").env == env.record_env("DEL")
    assert env.runtime.cache.attachments() == []

    # A second DEL finds no cache entry: it still runs every plugin, without prevResult.
    env.executor.calls.clear()
    env.runtime.delete(netconf, RT)
    assert [(c.command, "prevResult" in c.config) for c in env.executor.calls] == [("DEL", False)] * 3


def test_cached_result_is_converted_to_the_list_version(env: Env) -> None:
    # ADD ran at 1.0.0; the configuration now says 1.1.0: CHECK's prevResult follows the configuration.
    env.runtime.cache.save(CachedAttachment(network="testnet", container_id="c1", ifname="eth0", result=STATIC_RESULT))
    netconf = env.load(conflist("1.1.0", [debug_plugin(env.out("a"))]))
    env.runtime.check(netconf, RT)
    assert read_record(env.out("a") / "c1-Check").stdin["prevResult"] == {**STATIC_RESULT, "cniVersion": "1.1.0"}


def test_del_before_0_4_0_sends_no_prev_result(env: Env) -> None:
    netconf = env.load(conflist("0.3.1", [debug_plugin(env.out("a"))]))
    env.runtime.add(netconf, RT)
    env.runtime.delete(netconf, RT)
    assert "prevResult" not in read_record(env.out("a") / "c1-Del").stdin
    assert env.runtime.cache.attachments() == []


def test_check_needs_0_4_0(env: Env) -> None:
    netconf = env.load(conflist("0.3.1", [debug_plugin(env.out("a"))]))
    with pytest.raises(CNIError) as caught:
        env.runtime.check(netconf, RT)
    assert caught.value == CNIError(1, 'configuration version "0.3.1" does not support the CHECK command')
    assert env.executor.calls == []


@pytest.mark.parametrize("flag", [True, "true", "TRUE"], ids=["bool", "string", "upper"])
def test_disable_check_runs_no_plugin(env: Env, flag: object) -> None:
    netconf = env.load(conflist("1.0.0", [debug_plugin(env.out("a"))], disableCheck=flag))
    env.runtime.check(netconf, RT)
    assert env.executor.calls == []


def test_damaged_cache_fails_check_but_not_del(env: Env) -> None:
    netconf = env.load(conflist("1.0.0", [debug_plugin(env.out("a"))]))
    path = env.runtime.cache.path_for("testnet", "c1", "eth0")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(CNIError) as caught:
        env.runtime.check(netconf, RT)
    assert (caught.value.code, caught.value.msg) == (6, 'failed to get network "testnet" cached result')
    assert env.executor.calls == []
    env.runtime.delete(netconf, RT)
    assert [(c.command, "prevResult" in c.config) for c in env.executor.calls] == [("DEL", False)]
    assert not path.exists()


def test_failed_del_keeps_the_cache_for_a_retry(env: Env) -> None:
    good = debug_plugin(env.out("a"))
    env.runtime.add(env.load(conflist("1.0.0", [good])), RT)
    broken = env.load(conflist("1.0.0", [good, {"type": "debug"}]))
    with pytest.raises(PluginFailedError) as caught:
        env.runtime.delete(broken, RT)
    assert caught.value == CNIError(7, 'plugin type="debug" failed (delete): cniOutput: required field missing')
    # The failing plugin is the last one, so it ran first and nothing ran after it.
    assert env.executor.sequence()[-1:] == [("DEL", "debug")]
    assert [a.container_id for a in env.runtime.cache.attachments()] == ["c1"]


@needs_debian
def test_host_local_allocation_lives_from_add_to_del(env: Env) -> None:
    data_dir = env.tmp / "ipam"
    ipam = {"type": "host-local", "dataDir": str(data_dir), "ranges": [[{"subnet": "10.77.0.0/24"}]]}
    netconf = env.load(conflist("1.0.0", [{"type": "host-local", "ipam": ipam}, debug_plugin(env.out("a"))]))
    result = env.runtime.add(netconf, RT)
    assert result.to_dict() == {"cniVersion": "1.0.0", "ips": [{"address": "10.77.0.2/24", "gateway": "10.77.0.1"}]}
    assert (data_dir / "testnet" / "10.77.0.2").read_text().splitlines() == ["c1", "eth0"]
    env.runtime.check(netconf, RT)
    env.runtime.delete(netconf, RT)
    assert not (data_dir / "testnet" / "10.77.0.2").exists()


# --- GC and STATUS ---------------------------------------------------------------------------------------------------


def test_gc_deletes_stale_attachments_then_sends_valid_attachments(env: Env) -> None:
    a, b = debug_plugin(env.out("a")), debug_plugin(env.out("b"))
    netconf = env.load(conflist("1.1.0", [a, b]))
    stale = RuntimeConf(
        container_id="c2",
        ifname="net1",
        netns="/var/run/netns/other",
        args=(("X", "1"),),
        capability_args={"mac": "c2:11:22:33:44:55"},
    )
    env.runtime.add(netconf, RT)
    env.runtime.add(netconf, stale)
    # An attachment of another network is not this GC's business.
    env.runtime.cache.save(CachedAttachment(network="othernet", container_id="c9", ifname="eth0"))
    env.executor.calls.clear()

    env.runtime.gc(netconf, [GCAttachment(container_id="c1", ifname="eth0")])
    assert env.executor.sequence() == [
        ("DEL", str(env.out("b"))),
        ("DEL", str(env.out("a"))),
        ("GC", str(env.out("a"))),
        ("GC", str(env.out("b"))),
    ]
    # The stale attachment was deleted with what its ADD had, and with its cached result.
    deleted = read_record(env.out("a") / "c2-Del")
    assert deleted.env == env.record_env("DEL", stale)
    assert deleted.stdin["prevResult"] == {"cniVersion": "1.1.0"}
    valid = [{"containerID": "c1", "ifname": "eth0"}]
    for name, plugin in (("a", a), ("b", b)):
        record = read_record(env.out(name) / "testnet-GC")
        assert record.stdin == {
            **plugin,
            "name": "testnet",
            "cniVersion": "1.1.0",
            "cni.dev/valid-attachments": valid,
            "cni.dev/attachments": valid,
        }
        assert record.env == env.record_env("GC", None)
    assert [(x.network, x.container_id) for x in env.runtime.cache.attachments()] == [
        ("othernet", "c9"),
        ("testnet", "c1"),
    ]


def test_gc_without_a_list_keeps_every_cached_attachment(env: Env) -> None:
    netconf = env.load(conflist("1.1.0", [debug_plugin(env.out("a"))]))
    env.runtime.add(netconf, RT)
    env.runtime.add(netconf, RuntimeConf(container_id="c2", netns=NETNS))
    env.executor.calls.clear()
    env.runtime.gc(netconf)
    assert env.executor.sequence() == [("GC", str(env.out("a")))]
    assert read_record(env.out("a") / "testnet-GC").stdin["cni.dev/valid-attachments"] == [
        {"containerID": "c1", "ifname": "eth0"},
        {"containerID": "c2", "ifname": "eth0"},
    ]


def test_gc_before_1_1_0_only_deletes_stale_attachments(env: Env) -> None:
    netconf = env.load(conflist("1.0.0", [debug_plugin(env.out("a"))]))
    env.runtime.add(netconf, RT)
    env.executor.calls.clear()
    env.runtime.gc(netconf, [])
    assert env.executor.sequence() == [("DEL", str(env.out("a")))]
    assert env.runtime.cache.attachments() == []


def test_disable_gc_runs_nothing(env: Env) -> None:
    netconf = env.load(conflist("1.1.0", [debug_plugin(env.out("a"))], disableGC=True))
    env.runtime.cache.save(CachedAttachment(network="testnet", container_id="c2", ifname="eth0"))
    env.runtime.gc(netconf, [])
    assert env.executor.calls == []
    assert len(env.runtime.cache.attachments()) == 1


def test_gc_reports_every_failure_and_goes_on(env: Env) -> None:
    netconf = env.load(conflist("1.1.0", [{"type": "debug"}, debug_plugin(env.out("b"))]))
    env.runtime.cache.save(CachedAttachment(network="testnet", container_id="c2", ifname="eth0"))
    with pytest.raises(CNIError) as caught:
        env.runtime.gc(netconf, [])
    assert caught.value == CNIError(
        7,
        'failed to delete stale attachment c2 eth0: plugin type="debug" failed (delete): cniOutput: required '
        'field missing; plugin type="debug" failed (gc): cniOutput: required field missing',
    )
    # The DEL of the stale attachment stopped at the broken plugin (DEL runs in reverse order), GC went on.
    assert env.executor.sequence() == [
        ("DEL", str(env.out("b"))),
        ("DEL", "debug"),
        ("GC", "debug"),
        ("GC", str(env.out("b"))),
    ]


def test_status_asks_every_plugin_at_1_1_0(env: Env) -> None:
    a, b = debug_plugin(env.out("a")), debug_plugin(env.out("b"))
    env.runtime.status(env.load(conflist("1.1.0", [a, b])))
    for name, plugin in (("a", a), ("b", b)):
        record = read_record(env.out(name) / "testnet-Status")
        assert record.stdin == {**plugin, "name": "testnet", "cniVersion": "1.1.0"}
        assert record.env == env.record_env("STATUS", None)
    env.executor.calls.clear()
    env.runtime.status(env.load(conflist("1.0.0", [a, b])))
    assert env.executor.calls == []


def test_status_stops_at_the_first_plugin_not_ready(env: Env) -> None:
    netconf = env.load(conflist("1.1.0", [{"type": "debug", "cniOutput": ""}, debug_plugin(env.out("b"))]))
    with pytest.raises(PluginFailedError) as caught:
        env.runtime.status(netconf)
    assert caught.value == CNIError(
        7, 'plugin type="debug" failed (status): cniOutput: expected a directory path, got an empty string'
    )
    assert len(env.executor.calls) == 1


# --- loading configurations ------------------------------------------------------------------------------------------


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_single_conf_becomes_a_one_plugin_list(tmp_path: Path) -> None:
    plugin = {"cniVersion": "0.4.0", "name": "single", "type": "debug", "cniOutput": "/tmp/x"}
    netconf = load_conflist(write(tmp_path / "10-single.conf", plugin))
    assert netconf == NetworkConfigList(name="single", cni_version="0.4.0", plugins=(plugin,))
    assert netconf.raw == {"name": "single", "cniVersion": "0.4.0", "plugins": [plugin]}
    assert netconf.source == tmp_path / "10-single.conf"


def test_directory_takes_the_first_file_in_lexical_order(tmp_path: Path) -> None:
    write(tmp_path / "20-b.conflist", conflist("1.0.0", [{"type": "x"}], name="b"))
    write(tmp_path / "10-a.conf", {"cniVersion": "1.0.0", "name": "a", "type": "y"})
    write(tmp_path / "05-ignored.txt", "not a configuration")
    write(tmp_path / "00-dir.conf" / "inner.conf", "a directory is skipped")
    assert load_conflist(tmp_path).name == "a"
    assert load_conflist(tmp_path, "b").name == "b"


def test_conflist_flags_and_plugins(tmp_path: Path) -> None:
    data = conflist(
        "1.1.0", [{"type": "x", "k": [1]}, {"type": "y"}], disableCheck="true", disableGC=False, extraKey={"kept": True}
    )
    netconf = load_conflist(write(tmp_path / "n.conflist", data))
    assert netconf == NetworkConfigList(
        name="testnet", cni_version="1.1.0", plugins=({"type": "x", "k": [1]}, {"type": "y"}), disable_check=True
    )
    assert netconf.raw == data
    assert json.loads(netconf.to_bytes()) == data


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            "{not json",
            CNIError(
                6,
                "error parsing network configuration in <F>: Expecting property name enclosed in "
                "double quotes: line 1 column 2 (char 1)",
            ),
        ),
        ("[]", CNIError(7, "invalid network configuration in <F>: expected a JSON object")),
        (
            {"cniVersion": "1.0.0", "name": "n", "plugins": []},
            CNIError(7, "invalid network configuration in <F>: plugins: no plugins in list"),
        ),
        (
            {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a"}, {"k": 1}]},
            CNIError(7, "invalid network configuration in <F>: plugins[1].type: required field missing"),
        ),
        (
            {"cniVersion": "1.0.0", "plugins": [{"type": "a"}]},
            CNIError(7, "invalid network configuration in <F>: name: required field missing"),
        ),
        (
            {"cniVersion": "1.0.0", "type": "a"},
            CNIError(7, "invalid network configuration in <F>: name: required field missing"),
        ),
        (
            {"cniVersion": "1.0.0", "name": "n"},
            CNIError(
                7,
                "invalid network configuration in <F>: type: required field "
                'missing (a plugin configuration needs "type", a '
                'configuration list needs "plugins")',
            ),
        ),
        (
            {"cniVersion": "1.0.0", "name": "bad/name", "plugins": [{"type": "a"}]},
            CNIError(7, "invalid characters found in network name", "bad/name"),
        ),
        (
            {"cniVersion": "1.0.0", "name": "n", "disableCheck": "maybe", "plugins": [{"type": "a"}]},
            CNIError(
                7,
                'invalid network configuration in <F>: disableCheck: expected a boolean or "true"/"false", '
                'got string "maybe"',
            ),
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-plugins",
        "plugin-without-type",
        "no-name",
        "conf-without-name",
        "neither",
        "bad-name",
        "bad-flag",
    ],
)
def test_invalid_configurations(tmp_path: Path, content: object, error: CNIError) -> None:
    path = write(tmp_path / "bad.conflist", content)
    with pytest.raises(CNIError) as caught:
        load_conflist(path)
    assert caught.value == CNIError(error.code, error.msg.replace("<F>", str(path)), error.details)


def test_unreadable_or_empty_locations(tmp_path: Path) -> None:
    with pytest.raises(CNIError) as caught:
        load_conflist(tmp_path / "missing.conflist")
    assert caught.value == CNIError(5, f"error reading {tmp_path}/missing.conflist", "No such file or directory")
    with pytest.raises(CNIError) as caught:
        load_conflist(tmp_path)
    assert caught.value == CNIError(7, f"no network configuration found in {tmp_path}")
    write(tmp_path / "a.conf", {"name": "a", "type": "x"})
    with pytest.raises(CNIError) as caught:
        load_conflist(tmp_path, "b")
    assert caught.value == CNIError(7, f'no network configuration named "b" found in {tmp_path}')


# --- the cache -------------------------------------------------------------------------------------------------------


def test_cache_round_trip_and_listing(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    entry = CachedAttachment(
        network="n",
        container_id="c-1",
        ifname="eth0",
        netns="/x",
        cni_args=(("A", "1"),),
        capability_args={"mac": "aa"},
        config=b'{"name":"n"}',
        result={"cniVersion": "1.1.0"},
    )
    path = cache.save(entry)
    assert path == tmp_path / "results" / "n-c-1-eth0"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text())["config"] == "eyJuYW1lIjoibiJ9"
    assert cache.load("n", "c-1", "eth0") == entry
    (tmp_path / "results" / "garbage").write_text("x")  # unreadable entries are skipped when listing
    assert cache.attachments() == [entry]
    assert cache.attachments("other") == []
    cache.remove("n", "c-1", "eth0")
    cache.remove("n", "c-1", "eth0")
    assert cache.load("n", "c-1", "eth0") is None
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["garbage"]


# --- the shipped kind example, as root: ptp + host-local in a real namespace, then the debug plugin ---------------

needs_root_and_ptp = pytest.mark.skipif(
    os.geteuid() != 0 or not (DEBIAN_CNI / "ptp").exists() or shutil.which("ip") is None,
    reason="needs root, 'ip' and Debian's ptp and host-local plugins",
)


@needs_root_and_ptp
@pytest.mark.parametrize("version", ["0.3.1", "1.0.0"])
def test_kind_example_conflist_in_a_real_namespace(env: Env, version: str) -> None:
    from tests.integration.harness import acquire_lease, create_netns, delete_netns

    data = json.loads((ROOT / "examples" / "debug" / "netconf.conflist").read_text())
    assert [p["type"] for p in data["plugins"]] == ["ptp", "rscni-debug"]
    install_python_plugin(env.bin, "rscni-debug")
    lease = acquire_lease()
    ns = create_netns()
    try:
        data["cniVersion"] = version
        ipam = data["plugins"][0]["ipam"]
        ipam["dataDir"], ipam["ranges"] = str(env.tmp / "ipam"), [[{"subnet": lease.subnet}]]
        data["plugins"][1]["cniOutput"] = str(env.out("debug"))
        netconf = env.load(data)
        rt = RuntimeConf(container_id=ns.name, netns=ns.path)
        result = env.runtime.add(netconf, rt).to_dict()
        # The debug plugin saw ptp's result as prevResult and passed it through unchanged.
        record = read_record(env.out("debug") / f"{ns.name}-Add")
        assert record.stdin["prevResult"] == result
        ips = [
            {**ip, "version": "4"} if version == "0.3.1" else ip
            for ip in [{"interface": 1, "address": f"{lease.host(2)}/24", "gateway": lease.gateway}]
        ]
        assert (result["cniVersion"], result["ips"]) == (version, ips)
        assert result["interfaces"][1]["name"] == "eth0"
        assert result["interfaces"][1]["sandbox"] == ns.path
        assert ns.addresses("eth0") == [f"{lease.host(2)}/24"]
        if version != "0.3.1":
            env.runtime.check(netconf, rt)
            assert read_record(env.out("debug") / f"{ns.name}-Check").stdin["prevResult"] == result
        env.runtime.delete(netconf, rt)
        assert not ns.has_link("eth0")
        assert not (env.tmp / "ipam" / "kindnet" / lease.host(2)).exists()
    finally:
        delete_netns(ns)
        lease.release()


def test_demo_runs_the_debug_chain() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for expected in (
        "== ADD",
        "== CHECK (prevResult comes from the runtime's cache)",
        "== DEL (plugins in reverse order, prevResult from the cache)",
        "  cache entry gone: True",
        "done; the temporary directory was removed.",
    ):
        assert expected in lines
    assert "    | CNI_COMMAND: Add" in lines


def test_unwritable_cache_fails_add_with_code_5(env: Env) -> None:
    (env.tmp / "afile").write_text("")
    runtime = Runtime(env.path, cache_dir=env.tmp / "afile" / "cache")
    with pytest.raises(CNIError) as caught:
        runtime.add(env.load(conflist("1.0.0", [debug_plugin(env.out("a"))])), RT)
    assert caught.value == CNIError(
        5,
        'failed to set network "testnet" cached result',
        f"[Errno 20] Not a directory: '{env.tmp}/afile/cache/results'",
    )


# --- validate (libcni's ValidateNetworkList) -------------------------------------------------------------------------


@needs_debian
def test_validate_returns_declared_capabilities(env: Env) -> None:
    plugins = [
        debug_plugin(env.out("a"), capabilities={"portMappings": True, "mac": False}),
        {"type": "static", "capabilities": {"ips": True}, "ipam": STATIC_IPAM},
    ]
    assert env.runtime.validate(env.load(conflist("1.0.0", plugins))) == ["ips", "portMappings"]
    assert [c.command for c in env.executor.calls] == ["VERSION", "VERSION"]


@needs_debian
def test_validate_reports_every_problem(env: Env) -> None:
    static_versions = "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0"
    netconf = env.load(conflist("1.1.0", [{"type": "static"}, debug_plugin(env.out("a"))]))
    with pytest.raises(CNIError) as caught:
        env.runtime.validate(netconf)
    assert caught.value == CNIError(
        1, 'plugin static does not support config version "1.1.0"', f"plugin supports {static_versions}"
    )
    netconf = env.load(conflist("1.1.0", [{"type": "missing"}, {"type": "static"}]))
    with pytest.raises(CNIError) as caught:
        env.runtime.validate(netconf)
    assert caught.value == CNIError(
        999,
        f'failed to find plugin "missing" in path [{" ".join(env.path)}]; '
        'plugin static does not support config version "1.1.0"',
    )


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text()
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=10)
_SAFE = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]{0,20}", fullmatch=True)


@given(
    entry=st.builds(
        CachedAttachment,
        network=_SAFE,
        container_id=_SAFE,
        ifname=_SAFE,
        netns=st.text(),
        cni_args=st.lists(st.tuples(st.text(), st.text())).map(tuple),
        capability_args=st.dictionaries(st.text(), _JSON),
        config=st.binary(),
        result=st.none() | st.dictionaries(st.text(), _JSON),
    )
)
def test_cache_entry_json_round_trip(entry: CachedAttachment) -> None:
    assert CachedAttachment.from_json(json.loads(json.dumps(entry.to_json()))) == entry
