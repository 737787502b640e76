"""A test plugin for warm-mode faults: ADD waits at a gate, so a test can kill things while a call is in flight.

ADD writes ``started`` (with its pid) into the configuration's ``dir``, then waits until ``release`` appears there
(at most 30 s). ``mode`` says what happens next: "ok" returns an address, "fail" raises a CNI error (code 7),
"stubborn" ignores SIGTERM while it waits. Cleanup, however the wait ends, writes ``cleaned up`` into ``marker``.
"""

from __future__ import annotations

import os
import signal
import time
from ipaddress import ip_interface
from pathlib import Path

from rscni_py import CmdArgs, CNIPlugin, InvalidNetworkConfigError
from rscni_py.types import IPConfig, Result


class Gate(CNIPlugin):
    supported_versions = ("1.0.0", "1.1.0")

    def add(self, args: CmdArgs) -> Result:
        directory = Path(args.raw_config["dir"])
        mode = args.raw_config.get("mode", "ok")
        if mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            (directory / "started.tmp").write_text(str(os.getpid()))
            (directory / "started.tmp").rename(directory / "started")  # whole, for the test that reads the pid
            end = time.monotonic() + 30
            while not (directory / "release").exists() and time.monotonic() < end:
                time.sleep(0.02)
        finally:
            (directory / "marker").write_text("cleaned up")
        if mode == "fail":
            raise InvalidNetworkConfigError("the gate says no", "mode=fail")
        return Result(ips=[IPConfig(address=ip_interface("192.0.2.7/24"))])

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    Gate.run()
