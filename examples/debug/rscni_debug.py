#!/usr/bin/env python3
"""rscni-debug: the reference debug plugin, a chained plugin that records every call it gets.

For every ADD, DEL and CHECK (and GC and STATUS at spec 1.1.0) it writes one file into the directory named by the
configuration key ``cniOutput``: ``<containerID>-<Add|Del|Check>``, and for GC and STATUS, which act on a whole
network and have no CNI_CONTAINERID, ``<network name>-<GC|Status>``. The file holds the CNI_* variables and the raw
stdin it was called with. ADD passes ``prevResult`` through at the configuration's ``cniVersion`` (an empty result
when there is none), so it can sit anywhere in a chain without changing the outcome.

Run it as ``python examples/debug/rscni_debug.py`` once rscni-py is installed; see README.md next to this file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from rscni_py import (
    CmdArgs,
    CNIArgs,
    CNIPlugin,
    InvalidEnvironmentVariablesError,
    InvalidNetworkConfigError,
    IOFailureError,
    NetConf,
    __version__,
    override,
)
from rscni_py.paths import PathTextError, check_path_text, ensure_trusted_dir
from rscni_py.types import Result, json_field

__all__ = [
    "COMMAND_NAMES",
    "SEPARATOR",
    "DebugArgs",
    "DebugConf",
    "DebugPlugin",
    "format_record",
    "output_dir",
    "record_name",
    "write_record",
]

#: The command as it appears in the record and in the file name.
COMMAND_NAMES: Final = {"ADD": "Add", "DEL": "Del", "CHECK": "Check", "GC": "GC", "STATUS": "Status"}
#: The line that ends every record.
SEPARATOR: Final = "-" * 20

# Container IDs and network names are already checked against this set by the SDK before any method runs; checking
# again here keeps the "never write outside cniOutput" promise local to this file.
_SAFE_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")


@dataclass(kw_only=True)
class DebugConf(NetConf):
    """The debug plugin's configuration: the well-known keys plus ``cniOutput``."""

    #: Absolute path of the directory that receives the record files; created when missing.
    cni_output: str | None = json_field("cniOutput", default=None)


@dataclass
class DebugArgs(CNIArgs):
    """CNI_ARGS for the debug plugin: it declares no keys and accepts every key (it only records the raw string)."""

    ignore_unknown_default: ClassVar[bool] = True


def format_record(args: CmdArgs[DebugConf, DebugArgs]) -> bytes:
    """The record of one call: the CNI_* variables, then stdin exactly as received, then the separator line."""
    head = (
        f"CNI_COMMAND: {COMMAND_NAMES[args.command]}\n"
        f"CNI_CONTAINERID: {args.container_id}\n"
        f"CNI_IFNAME: {args.ifname}\n"
        f"CNI_NETNS: {args.netns}\n"
        f"CNI_PATH: {':'.join(args.path)}\n"
        f"CNI_ARGS: {args.args}\n"
        "STDIN_DATA: "
    )
    # surrogateescape: environment values that are not UTF-8 are written back as the bytes they were.
    return head.encode("utf-8", "surrogateescape") + args.stdin_data + f"\n{SEPARATOR}\n".encode()


def record_name(args: CmdArgs[DebugConf, DebugArgs]) -> str:
    """The record's file name: ``<containerID>-<Command>``, or ``<network name>-<Command>`` for GC and STATUS."""
    owner = args.config.name if args.command in ("GC", "STATUS") else args.container_id
    if not _SAFE_NAME.fullmatch(owner):
        raise InvalidEnvironmentVariablesError("record name is not a safe file name", owner)
    return f"{owner}-{COMMAND_NAMES[args.command]}"


def output_dir(conf: DebugConf) -> Path:
    """The ``cniOutput`` directory, checked (code 7) and created 0755 when missing (code 5 when that fails).

    It is reached from ``/`` through trusted directories only (``rscni_py.paths``, SECURITY.md
    section 9): a link or directory another user could have planted on the way is code 5, and nothing is written.
    """
    value = conf.cni_output
    if value is None:
        raise InvalidNetworkConfigError("cniOutput: required field missing")
    if value == "":
        raise InvalidNetworkConfigError("cniOutput: expected a directory path, got an empty string")
    try:
        check_path_text(value)
    except PathTextError as exc:
        raise InvalidNetworkConfigError(f"cniOutput: the path {exc.reason}", json.dumps(value)) from None
    path = Path(value)
    if not path.is_absolute():
        raise InvalidNetworkConfigError("cniOutput: expected an absolute directory path", value)
    if path.exists() and not path.is_dir():
        raise InvalidNetworkConfigError("cniOutput: not a directory", value)
    try:
        ensure_trusted_dir(path, create_mode=0o755)
    except OSError as exc:
        raise IOFailureError(f"cniOutput: cannot use directory {value}", exc.strerror or str(exc)) from None
    return path


def write_record(directory: Path, name: str, record: bytes) -> Path:
    """Write ``record`` as ``directory/name``, atomically: readers see the old file or the whole new one."""
    # Only a single, ordinary path component stays inside the directory.
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise InvalidEnvironmentVariablesError("record name is not a safe file name", name)
    target = directory / name
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise IOFailureError(f"cniOutput: cannot write in {directory}", exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)
            out.write(record)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise IOFailureError(f"cniOutput: cannot write {target}", exc.strerror or str(exc)) from None
    return target


class DebugPlugin(CNIPlugin[DebugConf, DebugArgs]):
    """Records each call in ``cniOutput`` and passes the previous result through unchanged."""

    about = f"CNI rscni-debug plugin v{__version__}"

    def _record(self, args: CmdArgs[DebugConf, DebugArgs]) -> None:
        # Name first: a bad name is refused before anything touches the file system.
        name = record_name(args)
        write_record(output_dir(args.config), name, format_record(args))

    @override
    def add(self, args: CmdArgs[DebugConf, DebugArgs]) -> Result:
        self._record(args)
        # run() converts this to the configuration's cniVersion.
        return args.prev_result if args.prev_result is not None else Result()

    @override
    def delete(self, args: CmdArgs[DebugConf, DebugArgs]) -> None:
        self._record(args)

    @override
    def check(self, args: CmdArgs[DebugConf, DebugArgs]) -> None:
        self._record(args)

    @override
    def gc(self, args: CmdArgs[DebugConf, DebugArgs]) -> None:
        self._record(args)

    @override
    def status(self, args: CmdArgs[DebugConf, DebugArgs]) -> None:
        self._record(args)


if __name__ == "__main__":
    DebugPlugin.run()
