"""Helpers for the runtime and CLI tests: the debug plugin installed as an executable, its records, and an executor
that remembers what every plugin was given."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rscni_py.invoke import DefaultExecutor
from rscni_py.testing import install_script

ROOT = Path(__file__).resolve().parent.parent
DEBUG_SCRIPT = ROOT / "examples" / "debug" / "rscni_debug.py"
DEBIAN_CNI = Path("/usr/lib/cni")
SEPARATOR = b"\n--------------------\n"
ENV_KEYS = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS", "CNI_PATH", "CNI_ARGS")


def install_python_plugin(directory: Path, name: str, script: Path = DEBUG_SCRIPT) -> Path:
    """An executable ``directory/name`` that runs ``script`` with this interpreter and this worktree on
    PYTHONPATH, as a runtime would find an installed plugin."""
    return install_script(directory, name, script, pythonpath=[ROOT])


@dataclass(frozen=True)
class Record:
    """One debug-plugin record: its CNI_* lines and the stdin it got, decoded."""

    env: dict[str, str]
    stdin: dict[str, Any]


def read_record(path: Path) -> Record:
    """Parse a record file written by examples/debug/rscni_debug.py (one record per file)."""
    data = path.read_bytes()
    assert data.endswith(SEPARATOR), data
    lines = data[: -len(SEPARATOR)].split(b"\n", 6)
    env = {}
    for line, key in zip(lines[:6], ENV_KEYS, strict=True):
        name, _, value = line.decode().partition(": ")
        assert name == key, line
        env[key] = value
    prefix = b"STDIN_DATA: "
    assert lines[6].startswith(prefix)
    return Record(env, json.loads(lines[6][len(prefix) :]))


@dataclass(frozen=True)
class Call:
    """One plugin execution as the runtime made it."""

    plugin: str
    command: str
    config: dict[str, Any]
    env: dict[str, str]


class RecordingExecutor(DefaultExecutor):
    """The real process layer, remembering each call's plugin, command, configuration and CNI_* variables."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def exec_plugin(self, path: str, stdin: bytes, env: Mapping[str, str], *, timeout: float | None = None) -> bytes:
        cni_env = {key: value for key, value in env.items() if key.startswith("CNI_")}
        self.calls.append(Call(os.path.basename(path), env["CNI_COMMAND"], json.loads(stdin), cni_env))
        return super().exec_plugin(path, stdin, env, timeout=timeout)

    def sequence(self) -> list[tuple[str, str]]:
        """(command, cniOutput or plugin name) of every call, in order."""
        return [(c.command, str(c.config.get("cniOutput", c.plugin))) for c in self.calls]


def debug_plugin(out: Path, **extra: Any) -> dict[str, Any]:
    """A debug plugin object for a configuration list."""
    return {"type": "debug", "cniOutput": str(out), **extra}


def conflist(version: str, plugins: Sequence[Mapping[str, Any]], name: str = "testnet", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": name, **extra, "plugins": [dict(p) for p in plugins]}
