"""mypy must reject a method marked @override that overrides nothing (a misspelled verb)."""

from __future__ import annotations

from rscni_py import CmdArgs, CNIPlugin, override
from rscni_py.types import Result


class Misspelled(CNIPlugin):
    @override
    def add(self, args: CmdArgs) -> Result:
        return Result()

    @override
    def delete(self, args: CmdArgs) -> None:
        pass

    @override
    def check(self, args: CmdArgs) -> None:
        pass

    @override
    def stauts(self, args: CmdArgs) -> None:  # expect-error: no base method was found
        pass
