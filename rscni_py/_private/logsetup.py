"""Logging for plugin processes: stderr by default, an opt-in file, every record tagged with command and container.

Settings, strongest first: the environment variables ``RSCNI_LOG_LEVEL`` / ``RSCNI_LOG_FILE``, then the
configuration keys ``logLevel`` / ``logFile``; the default is WARNING and up, on stderr only.  Logging never writes
to stdout, which belongs to the one JSON document of the CNI protocol.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from typing import Callable, Final, Protocol, TextIO

from rscni_py._private.quoting import q
from rscni_py.errors import CNIError, IOFailureError

__all__ = [
    "ENV_LOG_FILE",
    "ENV_LOG_LEVEL",
    "CONFIG_LOG_FILE",
    "CONFIG_LOG_LEVEL",
    "LOG_FORMAT",
    "LogControl",
    "ProcessLogging",
    "parse_level",
    "set_context",
]

ENV_LOG_LEVEL: Final = "RSCNI_LOG_LEVEL"
ENV_LOG_FILE: Final = "RSCNI_LOG_FILE"
CONFIG_LOG_LEVEL: Final = "logLevel"
CONFIG_LOG_FILE: Final = "logFile"
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(cni_command)s %(cni_container_id)s] %(message)s"

_LEVELS: Final = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_context: ContextVar[tuple[str, str]] = ContextVar("rscni_py_log_context", default=("-", "-"))


def set_context(command: str, container_id: str) -> None:
    """Tag the records of this invocation with its command and container ID."""
    _context.set((command or "-", container_id or "-"))


def parse_level(value: str, source: str, error: Callable[[str, str], CNIError]) -> int:
    """A level name (DEBUG, INFO, WARNING, ERROR; any case) to its number; ``error`` names ``source`` otherwise."""
    level = _LEVELS.get(value.upper())
    if level is None:
        raise error(f"{source}: unknown log level {q(value)}", f"use one of {', '.join(_LEVELS)}")
    return level


class LogControl(Protocol):
    """What the dispatcher needs to apply the log settings it finds; ``run()`` passes a ``ProcessLogging``."""

    def configure(self, level: int, file: str | None) -> None:
        """Set the level and, when given, add a log file."""


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.cni_command, record.cni_container_id = _context.get()
        return True


class ProcessLogging:
    """Root-logger handlers for one plugin process (installed by ``run()`` only)."""

    def __init__(self, stderr: TextIO) -> None:
        self._filter = _ContextFilter()
        self._formatter = logging.Formatter(LOG_FORMAT)
        self._root = logging.getLogger()
        handler = logging.StreamHandler(stderr)
        self._add(handler)
        self._root.setLevel(logging.WARNING)

    def _add(self, handler: logging.Handler) -> None:
        handler.addFilter(self._filter)
        handler.setFormatter(self._formatter)
        self._root.addHandler(handler)

    def configure(self, level: int, file: str | None) -> None:
        self._root.setLevel(level)
        if not file:
            return
        try:
            # Create it private first: logs may name containers and addresses.
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            # A message may quote input with lone surrogates (a JSON "\ud800" escape, undecodable environment
            # bytes); write them escaped instead of failing with a "--- Logging error ---" traceback.
            handler = logging.FileHandler(file, encoding="utf-8", errors="backslashreplace")
        except (OSError, ValueError) as exc:
            raise IOFailureError(f"cannot open log file {q(file)}", str(exc)) from exc
        self._add(handler)
