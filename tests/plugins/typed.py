"""A typed plugin that does nothing else: what the SDK alone costs a plugin at start-up.

The fast-start tests check which modules its VERSION, about and early-error paths load, and the benchmarks time it.
ADD passes ``prevResult`` through (an empty result without one); DEL and CHECK do nothing. Run with ``--native``,
it is the same plugin with the native codec (``TypedNative``), which the benchmarks time beside the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from rscni_py import CmdArgs, CNIPlugin, K8sArgs, NetConf
from rscni_py.types import Result, json_field


@dataclass(kw_only=True)
class TypedConf(NetConf):
    """One plugin key, declared the usual way."""

    mtu: int = json_field("mtu", default=1500, omit="empty")


class Typed(CNIPlugin[TypedConf, K8sArgs]):
    about = "CNI typed test plugin v0"

    def add(self, args: CmdArgs[TypedConf, K8sArgs]) -> Result:
        return args.prev_result if args.prev_result is not None else Result()

    def delete(self, args: CmdArgs[TypedConf, K8sArgs]) -> None:
        pass

    def check(self, args: CmdArgs[TypedConf, K8sArgs]) -> None:
        pass


class TypedNative(Typed):
    codec = "native"


if __name__ == "__main__":
    import sys

    (TypedNative if "--native" in sys.argv[1:] else Typed).run()
