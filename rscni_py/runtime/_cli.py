"""``rscni-py exec``: run a configuration's plugin chain from the command line, like libcni's ``cnitool``.

Output: ADD prints the result JSON; CHECK, DEL, GC and STATUS print nothing; ``validate`` (every plugin is in the
path and supports the list's version) prints the list's version and the capabilities its plugins declare. A failure
prints the CNI error JSON on stdout (the failing plugin's code kept) and exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, Final

from rscni_py.errors import CNIError, DecodingFailureError, InternalError, InvalidEnvironmentVariablesError

if TYPE_CHECKING:
    from rscni_py.types import GCAttachment

__all__ = ["DEFAULT_CNI_PATH", "add_exec_arguments", "exec_main", "parse_cni_args"]

#: Where plugins are looked up when neither ``--cni-path`` nor CNI_PATH says otherwise.
DEFAULT_CNI_PATH: Final = "/opt/cni/bin"
_COMMANDS: Final = ("add", "check", "del", "gc", "status", "validate")
_NEEDS_ATTACHMENT: Final = frozenset({"add", "check", "del"})


def add_exec_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``rscni-py exec``."""
    parser.add_argument("command", choices=_COMMANDS, help="the CNI command to run over the chain, or validate")
    parser.add_argument(
        "conflist",
        metavar="CONFLIST",
        help="a .conflist or .conf file, or a directory (its first configuration file in lexical order)",
    )
    parser.add_argument("--name", help="in a directory, the network to load (default: the first file's)")
    parser.add_argument("--container-id", default="", help="CNI_CONTAINERID (required for add, check and del)")
    parser.add_argument("--netns", default="", metavar="PATH", help="CNI_NETNS: the container's network namespace")
    parser.add_argument("--ifname", default="eth0", help="CNI_IFNAME (default: eth0)")
    parser.add_argument(
        "--cni-path",
        default=None,
        metavar="DIRS",
        help=f"plugin directories joined with ':' (default: $CNI_PATH, else {DEFAULT_CNI_PATH})",
    )
    parser.add_argument("--args", default="", metavar="K=V;..", help="CNI_ARGS as key=value pairs joined with ';'")
    parser.add_argument(
        "--capability-args",
        default="",
        metavar="JSON",
        help="capability arguments as a JSON object, e.g. '{\"portMappings\": [...]}'",
    )
    parser.add_argument(
        "--valid-attachments",
        default=None,
        metavar="JSON",
        help='gc: the attachments in use, [{"containerID": ..., "ifname": ...}] (default: every cached one)',
    )
    parser.add_argument("--cache-dir", default=None, metavar="DIR", help="result cache directory")
    parser.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS", help="per-plugin time limit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the runtime does on stderr")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def parse_cni_args(text: str) -> tuple[tuple[str, str], ...]:
    """``K1=V1;K2=V2`` as pairs; ``""`` is none.

    >>> parse_cni_args("IgnoreUnknown=1;K8S_POD_NAME=web")
    (('IgnoreUnknown', '1'), ('K8S_POD_NAME', 'web'))

    :raises InvalidEnvironmentVariablesError: a piece without ``=`` or with an empty key (code 4).
    """
    if not text:
        return ()
    pairs = []
    for piece in text.split(";"):
        key, sep, value = piece.partition("=")
        if not sep or not key:
            raise InvalidEnvironmentVariablesError(f"invalid CNI_ARGS pair {json.dumps(piece)}", text)
        pairs.append((key, value))
    return tuple(pairs)


def _json_option(option: str, text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DecodingFailureError(f"{option}: not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise DecodingFailureError(f"{option}: expected a JSON {'object' if kind is dict else 'array'}")
    return value


def _valid_attachments(text: str) -> list[GCAttachment]:
    from rscni_py.types import GCAttachment

    items = _json_option("--valid-attachments", text, list)
    found = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("containerID", "ifname")):
            raise DecodingFailureError(
                f'--valid-attachments[{index}]: expected {{"containerID": string, "ifname": string}}'
            )
        found.append(GCAttachment(container_id=item["containerID"], ifname=item["ifname"]))
    return found


def exec_main(ns: argparse.Namespace) -> int:
    """Run ``rscni-py exec`` with parsed arguments; return the exit code."""
    if ns.command in _NEEDS_ATTACHMENT and not ns.container_id:
        sys.stderr.write(f"rscni-py exec: error: --container-id is required for {ns.command}\n")
        return 2
    logging.basicConfig(
        level=logging.INFO if ns.verbose else logging.WARNING,
        format="rscni-py: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    version: str | None = None
    try:
        from rscni_py.runtime import Runtime, RuntimeConf, load_conflist

        netconf = load_conflist(ns.conflist, ns.name)
        version = netconf.cni_version or None
        cni_path = ns.cni_path if ns.cni_path is not None else os.environ.get("CNI_PATH") or DEFAULT_CNI_PATH
        runtime = Runtime(
            [entry for entry in cni_path.split(os.pathsep) if entry],
            cache_dir=ns.cache_dir,
            timeout=ns.timeout,
        )
        if ns.command == "gc":
            valid = _valid_attachments(ns.valid_attachments) if ns.valid_attachments is not None else None
            runtime.gc(netconf, valid)
            return 0
        if ns.command == "status":
            runtime.status(netconf)
            return 0
        if ns.command == "validate":
            sys.stdout.write(
                json.dumps({"cniVersion": netconf.cni_version, "capabilities": runtime.validate(netconf)}) + "\n"
            )
            return 0
        rt = RuntimeConf(
            container_id=ns.container_id,
            ifname=ns.ifname,
            netns=ns.netns,
            args=parse_cni_args(ns.args),
            capability_args=_json_option("--capability-args", ns.capability_args, dict) if ns.capability_args else {},
        )
        if ns.command == "add":
            result = runtime.add(netconf, rt)
            sys.stdout.write(json.dumps(result.to_dict(), indent=4) + "\n")
        elif ns.command == "check":
            runtime.check(netconf, rt)
        else:
            runtime.delete(netconf, rt)
        return 0
    except CNIError as err:
        error = err
    except Exception as exc:
        traceback.print_exception(exc, file=sys.stderr)
        error = InternalError(str(exc) or type(exc).__name__)
    sys.stdout.write(json.dumps(error.to_dict(version), indent=4) + "\n")
    return 1
