"""mypy must reject an add() that returns something other than a result."""

from __future__ import annotations

from rscni_py import CmdArgs, CNIPlugin


class Broken(CNIPlugin):
    def add(self, args: CmdArgs) -> str:  # expect-error: incompatible with return type
        return "not a result"

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass
