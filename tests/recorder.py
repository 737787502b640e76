"""The recording plugin that the dispatcher, runner and fuzz tests drive in process."""

from __future__ import annotations

import os
from ipaddress import ip_interface
from typing import Any, ClassVar

from typing_extensions import override

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import AnyResult, IPConfig, Result

ONE_IP = Result(ips=[IPConfig(address=ip_interface("10.1.2.3/24"))])


class Recorder(CNIPlugin):
    """Records each call and the process's CNI_COMMAND at that moment; ADD returns :data:`ONE_IP`.

    Class attributes, shared by every subclass and set with :meth:`reset`, steer it: ``raises`` is raised by every
    method, ``returns`` (when not None) is what ADD returns instead.
    """

    calls: ClassVar[list[tuple[str, CmdArgs[Any, Any]]]] = []
    seen_environ: ClassVar[list[str | None]] = []
    raises: ClassVar[BaseException | None] = None
    returns: ClassVar[object] = None

    @staticmethod
    def reset(*, raises: BaseException | None = None, returns: object = None) -> None:
        Recorder.calls, Recorder.seen_environ = [], []
        Recorder.raises, Recorder.returns = raises, returns

    def _record(self, name: str, args: CmdArgs[Any, Any]) -> None:
        Recorder.calls.append((name, args))
        Recorder.seen_environ.append(os.environ.get("CNI_COMMAND"))
        if Recorder.raises is not None:
            raise Recorder.raises

    @override
    def add(self, args: CmdArgs[Any, Any]) -> AnyResult:
        self._record("add", args)
        if Recorder.returns is not None:
            return Recorder.returns  # type: ignore[return-value]  # deliberately anything
        return ONE_IP

    @override
    def delete(self, args: CmdArgs[Any, Any]) -> None:
        self._record("delete", args)

    @override
    def check(self, args: CmdArgs[Any, Any]) -> None:
        self._record("check", args)

    @override
    def gc(self, args: CmdArgs[Any, Any]) -> None:
        self._record("gc", args)

    @override
    def status(self, args: CmdArgs[Any, Any]) -> None:
        self._record("status", args)
