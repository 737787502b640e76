"""A test plugin that forks without exec, as pyroute2 does to enter namespaces; the child shares our stack."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import Result


class Forker(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        mode = args.raw_config["mode"]
        pid = os.fork()
        if pid == 0:
            if mode == "child-raises":
                raise RuntimeError("raised in the forked child")
            # "child-sleeps": stopped by the signal sent to the whole group.  The child writes the marker itself:
            # CPython drops a signal that reaches a child before its after-fork setup is done, so a signal sent on
            # a marker written by the parent could be lost and leave the child holding stdout for a minute.
            Path(args.raw_config["marker"]).write_text(str(os.getpid()))
            time.sleep(60)
            os._exit(0)
        if mode == "child-sleeps":
            time.sleep(60)
        os.waitpid(pid, 0)
        return Result()

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    Forker.run()
