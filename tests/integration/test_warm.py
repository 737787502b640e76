"""Warm mode in real namespaces and under libcni: the child enters the caller's network and mount namespaces, so
paths and the own-namespace check (code 8) behave as in a cold call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.runtime_support import install_python_plugin
from tests.warm_support import ROOT, WarmPlugins, run, warm_plugins

from .harness import NetNS

pytestmark = pytest.mark.integration

DEBUG = ROOT / "examples" / "debug" / "rscni_debug.py"


@pytest.fixture
def plugins() -> Iterator[WarmPlugins]:
    with warm_plugins() as installed:
        yield installed


@contextmanager
def private_mount_namespace() -> Iterator[str]:
    """A mount namespace of its own, held open by a sleeping process; yields its /proc path."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "300"])
    try:
        path = f"/proc/{holder.pid}/ns/mnt"
        own = os.stat("/proc/self/ns/mnt").st_ino
        for _ in range(500):  # unshare has entered the namespace once it differs from ours
            if os.stat(path).st_ino != own:
                break
            time.sleep(0.01)
        else:
            pytest.fail("unshare did not enter a new mount namespace")
        yield path
    finally:
        holder.kill()
        holder.wait()


def debug_config(records: Path) -> bytes:
    return json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "rscni-debug", "cniOutput": str(records)}).encode()


def test_own_namespace_check_as_cold(tmp_path: Path, netns: NetNS, plugins: WarmPlugins) -> None:
    cold = install_python_plugin(tmp_path / "cold", "rscni-debug")
    warm = plugins.install(tmp_path / "warm", "rscni-debug", DEBUG)
    env = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c1",
        "CNI_NETNS": netns.path,
        "CNI_IFNAME": "eth0",
        "CNI_PATH": "/",
    }
    answers: dict[str, tuple[tuple[int, str, str], tuple[int, str]]] = {}
    for name, executable in (("cold", cold), ("warm", warm)):
        # Called from inside the container's namespace, naming that same namespace: code 8 (the daemon itself is
        # in the host's namespace, so only a child that entered the caller's namespace can tell).
        inside = run(["ip", "netns", "exec", netns.name, str(executable)], env, debug_config(tmp_path / name))
        code, out, _ = run(executable, env, debug_config(tmp_path / name))
        answers[name] = (inside, (code, out))
    assert answers["warm"] == answers["cold"]
    (code, out, _), from_host = answers["warm"]
    assert (code, json.loads(out)["code"]) == (1, 8)
    assert from_host == (0, '{\n    "cniVersion": "1.0.0"\n}')


def test_paths_resolve_in_the_callers_mount_namespace(tmp_path: Path, plugins: WarmPlugins) -> None:
    warm = plugins.install(tmp_path / "bin", "rscni-debug", DEBUG)
    records = tmp_path / "records"
    records.mkdir()
    script = 'mount -t tmpfs rscni-warm-test "$1" && "$2" && echo && ls "$1"'
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0"}
    code, out, err = run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(records), str(warm)],
        {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env, "CNI_PATH": "/"},
        debug_config(records),
    )
    # The record went to the tmpfs mounted in the caller's mount namespace, which the daemon's does not see.
    assert (code, out, err) == (0, '{\n    "cniVersion": "1.0.0"\n}\nc1-Add\n', "")
    assert list(records.iterdir()) == []


def test_the_child_runs_where_the_caller_runs(tmp_path: Path, netns: NetNS, plugins: WarmPlugins) -> None:
    where = ROOT / "tests" / "plugins" / "where.py"
    warm = plugins.install(tmp_path / "warm", "where", where)
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0"}
    env |= {"CNI_PATH": "/", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ODD": "\u00e9 x=y", "PYTHONPATH": str(ROOT)}
    config = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "where"}).encode()
    seen = []
    with private_mount_namespace() as mnt:
        # Both callers run in the container's network namespace and in one mount namespace of their own (each
        # `ip netns exec` would make a new one, so their inodes could not be compared); the working directory is
        # tmp_path.
        enter = ["nsenter", f"--net={netns.path}", f"--mount={mnt}", f"--wd={tmp_path}", "--"]
        for argv in ([sys.executable, str(where)], [str(warm)]):
            code, _, err = run([*enter, *argv], env, config, cwd=tmp_path, umask=0o027)
            assert code == 0, err
            seen.append(json.loads(err))
        assert seen[0]["mnt"] == os.stat(mnt).st_ino != os.stat("/proc/self/ns/mnt").st_ino
    assert seen[1] == seen[0]
    # The environment exactly, plus what Python's locale coercion adds under the C locale, cold or warm.
    assert (seen[1]["cwd"], seen[1]["env"], seen[1]["umask"]) == (str(tmp_path), {**env, "LC_CTYPE": "C.UTF-8"}, 0o027)
