"""``rscni-py shim build``: compile the static executable a runtime runs as a warm-mode plugin.

The shim (rscni_py/tools/shim.c, shipped with the package) is a few kilobytes of C with no dependencies: nodes
without Python run it, and a call costs no interpreter start. The daemon's socket path, and optionally a fallback
executable (a ``rscni-py bundle`` of the same plugin, run when the daemon cannot be reached), are fixed at build
time. It is compiled with the system C compiler (``$CC``, else ``cc``) as ``cc -static -O2``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Final

from rscni_py._base.versions import CURRENT_VERSION
from rscni_py.tools.install import atomic_write

__all__ = ["ShimError", "add_shim_arguments", "build_shim", "shim_main"]

_SUN_PATH_MAX: Final = 107  # sockaddr_un.sun_path is 108 bytes with the terminating NUL


class ShimError(Exception):
    """The shim cannot be built; the message is one line for the user."""


def _c_string(text: str) -> str:
    """A C string literal for a printable ASCII text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _checked_path(what: str, path: str) -> str:
    if not os.path.isabs(path):
        raise ShimError(f"{what} {path!r} must be an absolute path (the runtime runs the shim from anywhere)")
    if not (path.isascii() and path.isprintable()):
        raise ShimError(f"{what} {path!r} must be printable ASCII")
    return path


def build_shim(
    output: str | os.PathLike[str], socket_path: str, *, fallback: str | None = None, compiler: str | None = None
) -> Path:
    """Compile the shim for ``socket_path`` into ``output`` (replaced atomically, mode 0755).

    :param socket_path: the daemon's socket (``rscni-py serve --socket``), absolute, at most 107 bytes.
    :param fallback: an executable to run instead when the daemon cannot be reached (absolute path on the node).
    :param compiler: the C compiler; default ``$CC`` or ``cc``.
    :raises ShimError: a bad path, no compiler, or a failed compilation.
    """
    _checked_path("socket path", socket_path)
    if len(socket_path.encode()) > _SUN_PATH_MAX:
        raise ShimError(f"socket path {socket_path!r} is longer than {_SUN_PATH_MAX} bytes (sun_path)")
    defines = [f"-DRSCNI_SOCKET={_c_string(socket_path)}", f"-DRSCNI_CNI_VERSION={_c_string(CURRENT_VERSION)}"]
    if fallback is not None:
        defines.append(f"-DRSCNI_FALLBACK={_c_string(_checked_path('fallback', fallback))}")
    name = compiler or os.environ.get("CC") or "cc"
    found = shutil.which(name)
    if found is None:
        raise ShimError(f"no C compiler found ({name}); install one with the static C library (Debian: gcc libc6-dev)")
    output = Path(output)
    if output.is_dir():
        raise ShimError(f"output is a directory: {output}")
    source = files("rscni_py.tools").joinpath("shim.c").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="rscni-py-shim-") as tmp:
        src, binary = Path(tmp) / "shim.c", Path(tmp) / "shim"
        src.write_text(source, encoding="utf-8")
        proc = subprocess.run(
            [found, "-static", "-O2", "-s", "-o", str(binary), *defines, str(src)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            errors = [line for line in proc.stderr.splitlines() if "error" in line] or proc.stderr.splitlines()
            detail = " ".join(" ".join(errors).split())[:400] or f"exit status {proc.returncode}"
            raise ShimError(f"{name} could not build the shim (is the static C library installed?): {detail}")
        try:
            atomic_write(output, lambda out: out.write(binary.read_bytes()), mode=0o755)
        except OSError as exc:
            raise ShimError(f"cannot write output {output}: {exc.strerror or exc}") from None
    return output


def add_shim_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rscni-py shim`` arguments to ``parser`` (for :func:`shim_main`)."""
    actions = parser.add_subparsers(dest="shim_action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="compile the static shim executable for a daemon's socket",
        description="Compile the static executable a runtime runs as the plugin in warm mode: it hands each call "
        "to the daemon of 'rscni-py serve' on SOCKET. Needs a C compiler and the static C library.",
    )
    build.add_argument("-o", "--output", type=Path, required=True, help="executable file to write")
    build.add_argument("--socket", required=True, help="the daemon's socket path (absolute)")
    build.add_argument(
        "--fallback", default=None, metavar="FILE", help="executable run when the daemon cannot be reached"
    )


def shim_main(ns: argparse.Namespace) -> int:
    """Run ``rscni-py shim build``: print the output path, or one error line on stderr and exit code 1."""
    try:
        output = build_shim(ns.output, ns.socket, fallback=ns.fallback)
    except ShimError as exc:
        print(f"rscni-py shim: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
