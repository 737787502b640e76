"""Stopping a command cleanly: SIGTERM, SIGINT and the optional deadline all unwind the plugin's stack.

The runtime may kill a slow plugin, and kubelet retries a pod start that took too long.  Rather than dying
mid-operation and leaking what ADD had already set up, the plugin gets an ``Interrupted`` exception at the point it
was running: ``with`` blocks and ``finally`` clauses run (delegated IPAM is rolled back), and the dispatcher then
reports code 11, "try again later".  ``Interrupted`` derives from ``BaseException`` so that a plugin's broad
``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import os
from types import FrameType
from typing import TYPE_CHECKING, ClassVar, Final

if TYPE_CHECKING:
    import signal
else:
    try:
        # The C module behind ``signal``, with the same functions and numbers: ``signal`` itself builds three enums
        # at import, a cost every plugin start would pay for handlers that rarely fire.
        import _signal as signal
    except ImportError:  # an interpreter without it
        import signal

__all__ = ["DEADLINE_CONFIG_KEY", "Interrupted", "ProcessSignals", "StopsDeferred"]

#: Configuration key for a per-network deadline in seconds (the class attribute ``deadline`` is the default).
DEADLINE_CONFIG_KEY: Final = "deadline"


class Interrupted(BaseException):
    """The command was stopped by a signal or its deadline; carries the reason for the error message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StopsDeferred:
    """While active, a stop (signal or deadline) is recorded in ``reasons`` instead of raising ``Interrupted``.

    For work that must finish once begun, such as the rollback of a delegated ADD (docs/delegation.md,
    "Rollback"): a second SIGTERM there would otherwise kill the delegate's DEL and leave its allocation held.
    The work must bound itself (the rollback has its own timeout).  Blocks nest; a plain class, not contextlib,
    so that importing this module stays cheap.
    """

    _active: ClassVar[list[StopsDeferred]] = []

    def __init__(self) -> None:
        #: The stops that arrived during the block, e.g. ``["interrupted by SIGTERM"]``.
        self.reasons: list[str] = []

    def __enter__(self) -> StopsDeferred:
        StopsDeferred._active.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        StopsDeferred._active.remove(self)

    @classmethod
    def take(cls, reason: str) -> bool:
        """Record ``reason`` in the innermost active block; False when none is active (then the stop raises)."""
        if not cls._active:
            return False
        cls._active[-1].reasons.append(reason)
        return True


class ProcessSignals:
    """Signal handlers and the deadline timer of one plugin process (installed by ``run()`` only)."""

    def __init__(self) -> None:
        self._deadline = 0.0
        # A child forked without exec (pyroute2 forks to enter namespaces) inherits these handlers and a copy of the
        # plugin's stack: it must not unwind that stack and answer the runtime a second time.
        self._pid = os.getpid()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

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

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if os.getpid() != self._pid:
            os._exit(128 + signum)
        from signal import Signals

        reason = f"interrupted by {Signals(signum).name}"
        if not StopsDeferred.take(reason):
            raise Interrupted(reason)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        if os.getpid() != self._pid:
            os._exit(128 + signal.SIGALRM)
        reason = f"deadline of {self._deadline:g}s exceeded"
        if not StopsDeferred.take(reason):
            raise Interrupted(reason)
