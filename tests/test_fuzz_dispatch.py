"""Dispatcher robustness found by fuzzing: nothing a plugin raises, and no unwritable stream, escapes ``dispatch``."""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

import pytest

from rscni_py import CmdArgs, CNIPlugin
from rscni_py._private.dispatch import dispatch
from rscni_py.types import Result


class BrokenStr(Exception):
    """An exception whose message cannot even be computed."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ failed")


class Raising(CNIPlugin):
    failure: ClassVar[Exception] = RuntimeError("unset")

    def add(self, args: CmdArgs[Any, Any]) -> Result:
        raise type(self).failure

    def delete(self, args: CmdArgs[Any, Any]) -> None:
        raise type(self).failure

    def check(self, args: CmdArgs[Any, Any]) -> None:
        raise type(self).failure


VALID_ADD = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0",
             "CNI_PATH": "/opt/cni/bin"}
VALID_CONFIG = b'{"cniVersion": "1.0.0", "name": "n", "type": "fuzz"}'


def test_exception_whose_str_fails_is_999_named_by_class() -> None:
    Raising.failure = BrokenStr()
    out = io.StringIO()
    code = dispatch(Raising, VALID_ADD, io.BytesIO(VALID_CONFIG), out, io.StringIO())
    assert (code, json.loads(out.getvalue())) == (1, {"cniVersion": "1.0.0", "code": 999, "msg": "BrokenStr"})


class Unwritable(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("broken", ["stderr", "both"])
def test_unwritable_streams_do_not_raise(broken: str) -> None:
    Raising.failure = ValueError("boom")
    out: io.StringIO = Unwritable() if broken == "both" else io.StringIO()
    code = dispatch(Raising, VALID_ADD, io.BytesIO(VALID_CONFIG), out, Unwritable())
    assert code == 1
    if broken == "stderr":
        assert json.loads(out.getvalue()) == {"cniVersion": "1.0.0", "code": 999, "msg": "boom"}
