"""A test plugin that delegates IPAM with rollback and then blocks, so a signal or the deadline stops it mid-ADD.

``rollbackTimeout`` in the configuration sets the rollback's bound (default: the SDK's).
"""

from __future__ import annotations

import time
from pathlib import Path

from rscni_py import CmdArgs, CNIPlugin, invoke
from rscni_py.types import Result


class IpamUser(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        assert args.config.ipam is not None
        bound = args.raw_config.get("rollbackTimeout", invoke.ROLLBACK_TIMEOUT)
        with invoke.add_with_rollback(args.config.ipam.type, args.stdin_data, rollback_timeout=bound) as ipam:
            Path(args.raw_config["marker"]).write_text("allocated")
            time.sleep(60)
            return ipam

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    IpamUser.run()
