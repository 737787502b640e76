"""A small plugin with a typed configuration, used to test bundles end to end.

ADD records the attachment in ``dataDir``. Chained after another plugin it passes ``prevResult`` through; alone it
returns an interface and the configured ``address``. CHECK fails unless the record exists; DEL removes it and
succeeds when it is already gone. It reads its configuration through dataclasses-json, so a bundle of it must carry
the whole model stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import ip_interface
from pathlib import Path

from rscni_py import CmdArgs, CNIError, CNIPlugin, NetConf
from rscni_py.types import Interface, IPConfig, Result, json_field


@dataclass(kw_only=True)
class LedgerConf(NetConf):
    """The plugin's keys: where records go, and the address to report."""

    data_dir: str = json_field("dataDir")
    address: str = "192.0.2.10/24"


class Ledger(CNIPlugin[LedgerConf]):
    about = "CNI ledger test plugin v1"
    supported_versions = ("0.4.0", "1.0.0", "1.1.0")

    @staticmethod
    def _record(args: CmdArgs[LedgerConf]) -> Path:
        return Path(args.config.data_dir) / f"{args.container_id}-{args.ifname}"

    def add(self, args: CmdArgs[LedgerConf]) -> Result:
        record = self._record(args)
        record.parent.mkdir(parents=True, exist_ok=True)
        previous = [str(ip.address) for ip in args.prev_result.ips] if args.prev_result else []
        record.write_text(json.dumps({"netns": args.netns, "address": args.config.address, "previous": previous}))
        if args.prev_result is not None:
            return args.prev_result
        return Result(
            interfaces=[Interface(name=args.ifname, sandbox=args.netns)],
            ips=[IPConfig(address=ip_interface(args.config.address), interface=0)],
        )

    def check(self, args: CmdArgs[LedgerConf]) -> None:
        if not self._record(args).exists():
            raise CNIError(100, "no record of this attachment", str(self._record(args)))

    def delete(self, args: CmdArgs[LedgerConf]) -> None:
        self._record(args).unlink(missing_ok=True)


if __name__ == "__main__":
    Ledger.run()
