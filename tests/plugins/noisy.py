"""A test plugin that misbehaves on purpose: it prints, logs at every level and runs a child that writes to stdout."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from ipaddress import ip_interface

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import IPConfig, Result

log = logging.getLogger("noisy")


class Noisy(CNIPlugin):
    about = "CNI noisy test plugin v0"

    def add(self, args: CmdArgs) -> Result:
        print("stray print from add()")
        subprocess.run(["echo", "child process output"], check=True)
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
            log.log(level, "message at %s", logging.getLevelName(level))
        if os.environ.get("NOISY_FAIL"):
            raise RuntimeError(os.environ["NOISY_FAIL"])
        return Result(ips=[IPConfig(address=ip_interface("10.9.9.9/24"))])

    def delete(self, args: CmdArgs) -> None:
        sys.stdout.write("stray write from delete()\n")

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    Noisy.run()
