"""mypy must reject a delete() whose signature does not match the base class."""

from __future__ import annotations

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import Result


class Broken(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        return Result()

    def delete(self, args: CmdArgs, force: bool) -> None:  # expect-error: incompatible with supertype
        pass

    def check(self, args: CmdArgs) -> None:
        pass
