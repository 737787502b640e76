"""A test plugin that shows where it runs: ADD prints its working directory, environment, umask and namespaces to stderr
(stray output goes to the log) as one JSON line, and returns an empty result."""

from __future__ import annotations

import json
import os
import sys

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import Result


class Where(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        namespaces = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in ("net", "mnt")}
        umask = os.umask(0)
        os.umask(umask)
        view = {"cwd": os.getcwd(), "env": dict(os.environ), "umask": umask, **namespaces}
        print(json.dumps(view), file=sys.stderr)
        return Result()

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    Where.run()
