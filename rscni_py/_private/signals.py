"""Stopping a command cleanly: SIGTERM, SIGINT and the optional deadline all unwind the plugin's stack.

The runtime may kill a slow plugin, and kubelet retries a pod start that took too long.  Rather than dying
mid-operation and leaking what ADD had already set up, the plugin gets an ``Interrupted`` exception at the point it
was running: ``with`` blocks and ``finally`` clauses run (delegated IPAM is rolled back), and the dispatcher then
reports code 11, "try again later".  ``Interrupted`` derives from ``BaseException`` so that a plugin's broad
``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Final

__all__ = ["DEADLINE_CONFIG_KEY", "Interrupted", "ProcessSignals"]

#: Configuration key for a per-network deadline in seconds (the class attribute ``deadline`` is the default).
DEADLINE_CONFIG_KEY: Final = "deadline"


class Interrupted(BaseException):
    """The command was stopped by a signal or its deadline; carries the reason for the error message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _on_signal(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


class ProcessSignals:
    """Signal handlers and the deadline timer of one plugin process (installed by ``run()`` only)."""

    def __init__(self) -> None:
        self._deadline = 0.0
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, _on_signal)

    def arm_deadline(self, seconds: float) -> None:
        """Raise ``Interrupted`` in the running command after ``seconds``."""
        self._deadline = seconds
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm(self) -> None:
        """Stop the timer and ignore further termination signals while the answer is written."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        raise Interrupted(f"deadline of {self._deadline:g}s exceeded")
