"""``FakeExecutor``: delegation without processes, for testing a plugin that calls other plugins.

It stands in for :class:`rscni_py.invoke.DefaultExecutor` (pass it as ``executor=``): plugins are registered by name
with a canned answer or a handler, every execution is recorded as an :class:`ExecCall`, and lookups follow the real
``CNI_PATH`` rules and messages::

    fake = FakeExecutor({"host-local": {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/24"}]}})
    result = invoke.delegate_add("host-local", conf, env=env, executor=fake)
    assert fake.commands == [("host-local", "ADD")]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from rscni_py.invoke import find_in_path, plugin_error

__all__ = ["ExecCall", "FakeExecutor", "FakeResponse"]


@dataclass(frozen=True)
class ExecCall:
    """One execution of a fake plugin: what a real plugin would have received."""

    #: The plugin's path, as returned by ``find_in_path``.
    path: str
    #: The bytes on the plugin's stdin (the network configuration).
    stdin: bytes
    #: The plugin's whole environment.
    env: dict[str, str] = field(repr=False)
    #: The timeout the caller asked for.
    timeout: float | None = None

    @property
    def name(self) -> str:
        """The plugin's name (the last part of its path)."""
        return os.path.basename(self.path)

    @property
    def command(self) -> str:
        """The CNI_COMMAND it was run with ("" when unset)."""
        return self.env.get("CNI_COMMAND", "")

    def config(self) -> Any:
        """The stdin decoded as JSON."""
        return json.loads(self.stdin)


FakeResponse: TypeAlias = bytes | str | Mapping[str, Any] | BaseException | None
"""What a fake plugin answers: raw stdout (``bytes``/``str``), a JSON object printed on stdout, nothing (``None``:
empty stdout), or an exception to raise as the executor's failure (normally a ``CNIError``, as a real failing
plugin gives)."""

FakeHandler: TypeAlias = Callable[[ExecCall], FakeResponse]


class FakeExecutor:
    """An :class:`~rscni_py.invoke.Executor` that answers from memory and records every call.

    :param plugins: name -> a :data:`FakeResponse` given to every command, or a handler called with the
        :class:`ExecCall` that returns one (or raises).  A handler can answer per command via ``call.command``.

    A registered plugin is found in the first ``CNI_PATH`` directory; any other name gets Go's "failed to find
    plugin" error, and executing a path of an unregistered plugin fails as a missing file does.
    """

    def __init__(self, plugins: Mapping[str, FakeResponse | FakeHandler] | None = None) -> None:
        self._plugins: dict[str, FakeResponse | FakeHandler] = dict(plugins or {})
        #: Every execution, in order.
        self.calls: list[ExecCall] = []

    def register(self, name: str, answer: FakeResponse | FakeHandler) -> None:
        """Add (or replace) a fake plugin."""
        self._plugins[name] = answer

    @property
    def commands(self) -> list[tuple[str, str]]:
        """``(plugin name, CNI_COMMAND)`` of every call, in order: the easiest thing to assert on."""
        return [(call.name, call.command) for call in self.calls]

    def find_in_path(self, name: str, paths: Sequence[str]) -> str:
        """Go's lookup rules and messages; registered plugins live in the first directory."""
        registered = os.path.join(paths[0], name) if paths and name in self._plugins else None
        return find_in_path(name, paths, is_file=lambda candidate: candidate == registered)

    def exec_plugin(self, path: str, stdin: bytes, env: Mapping[str, str], *, timeout: float | None = None) -> bytes:
        """Record the call, then answer with the plugin's canned response or its handler's."""
        call = ExecCall(path=path, stdin=bytes(stdin), env=dict(env), timeout=timeout)
        self.calls.append(call)
        answer = self._plugins.get(call.name, _MISSING)
        if answer is _MISSING:
            raise plugin_error(f"fork/exec {path}: no such file or directory", b"", b"")
        if callable(answer):
            answer = answer(call)
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            return b""
        if isinstance(answer, bytes):
            return answer
        if isinstance(answer, str):
            return answer.encode()
        return json.dumps(answer).encode()


_MISSING: Any = object()
