"""The process side of ``CNIPlugin.run()``: real environment and streams in, exit code out."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from rscni_py.protocol.dispatch import dispatch
from rscni_py.protocol.logsetup import ProcessLogging
from rscni_py.protocol.signals import ProcessSignals

if TYPE_CHECKING:
    from rscni_py.plugin import CNIPlugin

__all__ = ["main"]


def _private_stdout() -> TextIO:
    """Keep fd 1 for the protocol's one JSON document and point fd 1 itself at stderr.

    Anything else that writes to stdout - a stray ``print()``, a child process such as ``ip`` or ``iptables`` -
    then lands in the log on stderr instead of corrupting the runtime's view (cni#571).
    """
    try:
        fd: int | None = os.dup(1)
    except OSError:
        fd = None
    try:
        os.dup2(2, 1)
    except OSError:
        pass  # no stderr either: stray output still goes to the real stdout, nothing better exists
    return os.fdopen(fd, "w", encoding="utf-8") if fd is not None else _ClosedStdout()


class _ClosedStdout(io.StringIO):
    """Stands in for a stdout that was closed before we started: writing to it fails like a closed fd would."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "stdout is closed")


def main(plugin_cls: type[CNIPlugin[Any, Any]]) -> int:
    """Serve one command from the real process; return the exit code."""
    stderr: TextIO = sys.stderr if sys.stderr is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    out = _private_stdout()
    sys.stdout = stderr
    stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO(b"")
    code = dispatch(plugin_cls, os.environ, stdin, out, stderr, logs=ProcessLogging(stderr), signals=ProcessSignals())
    try:
        out.close()
    except OSError:
        # The runtime went away (broken pipe): nothing more can be told; fail quietly.
        code = code or 1
    return code
