"""mypy must reject using a field the configuration class does not have, and a config class of the wrong kind."""

from __future__ import annotations

from dataclasses import dataclass

from rscni_py import CmdArgs, CNIPlugin, NetConf
from rscni_py.types import Result


@dataclass(kw_only=True)
class MyConf(NetConf):
    bridge: str = "cni0"


class Broken(CNIPlugin[MyConf]):
    def add(self, args: CmdArgs[MyConf]) -> Result:
        args.config.brigde  # expect-error: has no attribute
        return Result()

    def delete(self, args: CmdArgs[MyConf]) -> None:
        pass

    def check(self, args: CmdArgs[MyConf]) -> None:
        pass


class NotAConfig(CNIPlugin[int]):  # expect-error: must be a subtype of "NetConf"
    """Left abstract: mypy must reject the type argument itself."""
