"""Logging for plugin processes: stderr by default, an opt-in file, every record tagged with command and container.

Settings, strongest first: the environment variables ``RSCNI_LOG_LEVEL`` / ``RSCNI_LOG_FILE``, then the
configuration keys ``logLevel`` / ``logFile``; the default is WARNING and up, on stderr only.  Logging never writes
to stdout, which belongs to the one JSON document of the CNI protocol.

The ``logging`` module itself (with ``traceback``, ``threading`` and ``string``) is imported only when something
logs or the settings ask for more than the default: a command that logs nothing never pays for it. Whoever imports
it first (the SDK, or the plugin, even inside a method), the handlers go in right after it loads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from rscni_py._base.quoting import q
from rscni_py.errors import CNIError, IOFailureError

if TYPE_CHECKING:
    import logging
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = [
    "ENV_LOG_FILE",
    "ENV_LOG_LEVEL",
    "CONFIG_LOG_FILE",
    "CONFIG_LOG_LEVEL",
    "LOG_FORMAT",
    "LogControl",
    "ProcessLogging",
    "WARNING",
    "get_logger",
    "log",
    "parse_level",
    "set_context",
]

ENV_LOG_LEVEL: Final = "RSCNI_LOG_LEVEL"
ENV_LOG_FILE: Final = "RSCNI_LOG_FILE"
CONFIG_LOG_LEVEL: Final = "logLevel"
CONFIG_LOG_FILE: Final = "logFile"
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(cni_command)s %(cni_container_id)s] %(message)s"

# The stdlib's level numbers, spelled out so that reading the settings does not import logging.
DEBUG: Final = 10
INFO: Final = 20
WARNING: Final = 30
ERROR: Final = 40
_LEVELS: Final = {"DEBUG": DEBUG, "INFO": INFO, "WARNING": WARNING, "ERROR": ERROR}
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


def _add_context(record: logging.LogRecord) -> bool:
    # A handler filter: tags the record, never drops it.
    record.cni_command, record.cni_container_id = _context.get()
    return True


# ProcessLogging objects created before the logging module was imported; they install as soon as it is loaded.
_waiting: list[ProcessLogging] = []


class _AfterLoggingLoads:
    """A one-shot ``sys.meta_path`` entry: when ``logging`` is first imported, by anyone, the real finders load it and
    the waiting handlers are installed right after, before the importer gets to log anything.

    Kept because importing ``logging`` at every start would cost a plugin's VERSION about 10 % (20.3 M of 204 M
    instructions for tests/plugins/typed.py, by valgrind); most commands never log.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name != "logging":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(name, path, target) if find is not None else None
            if spec is not None and spec.loader is not None:
                spec.loader = _ThenInstall(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _ThenInstall:
    """The loader of ``logging``, wrapped: loads the module, then installs the waiting handlers."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        # get_source and the rest, for tracebacks and linecache. (_loader itself is missing only on a copy made
        # without __init__: fail plainly instead of recursing.)
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        while _waiting:
            _waiting.pop().install()


_HOOK: Final = _AfterLoggingLoads()


def get_logger(name: str = "rscni_py") -> logging.Logger:
    """``logging.getLogger(name)``, importing logging and installing a waiting ``ProcessLogging`` first."""
    import logging

    while _waiting:
        _waiting.pop().install()
    return logging.getLogger(name)


def log(level: int, message: str, *args: object) -> None:
    """Log to the ``rscni_py`` logger without importing logging for a record nobody can see.

    While logging is not imported, nothing has lowered the root logger's level from its default WARNING, so
    DEBUG and INFO records would be dropped anyway.
    """
    if level < WARNING and "logging" not in sys.modules:
        return
    get_logger().log(level, message, *args)


class ProcessLogging:
    """Root-logger handlers for one plugin process (installed by ``run()`` only).

    The handlers go in at once when the plugin already imported logging, else as soon as anything imports it: the
    SDK when it first logs or when the settings ask for another level or a file, or the plugin itself.
    """

    def __init__(self, stderr: TextIO) -> None:
        self._stderr = stderr
        self._root: logging.Logger | None = None
        if "logging" in sys.modules:
            self.install()
        else:
            _waiting.append(self)
            if _HOOK not in sys.meta_path:
                sys.meta_path.insert(0, _HOOK)

    def install(self) -> logging.Logger:
        """Put the stderr handler on the root logger at WARNING (once); return the root logger."""
        if self._root is not None:
            return self._root
        if self in _waiting:  # before the import, which installs whatever is still waiting
            _waiting.remove(self)
        import logging

        self._formatter = logging.Formatter(LOG_FORMAT)
        self._root = logging.getLogger()
        self._add(logging.StreamHandler(self._stderr))
        self._root.setLevel(WARNING)
        return self._root

    def _add(self, handler: logging.Handler) -> None:
        handler.addFilter(_add_context)
        handler.setFormatter(self._formatter)
        self.install().addHandler(handler)

    def configure(self, level: int, file: str | None) -> None:
        if self._root is None and level == WARNING and not file:
            return  # the defaults, which install() sets up whenever logging is first imported
        root = self.install()
        root.setLevel(level)
        if not file:
            return
        import logging

        from rscni_py.paths import open_trusted_file

        try:
            # Created private (logs may name containers and addresses), never through a link or a directory another
            # user could change, never appended to a file someone else planted (SECURITY.md, section 9).
            fd = open_trusted_file(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except (OSError, ValueError) as exc:
            raise IOFailureError(f"cannot open log file {q(file)}", str(exc)) from exc
        # A message may quote input with lone surrogates (a JSON "\ud800" escape, undecodable environment bytes);
        # write them escaped instead of failing with a "--- Logging error ---" traceback.
        # The stream lives as long as the process's logging does.
        stream = open(fd, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        self._add(logging.StreamHandler(stream))
