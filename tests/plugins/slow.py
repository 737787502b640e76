"""A test plugin whose ADD blocks until stopped; its cleanup leaves a marker file so tests can see it ran."""

from __future__ import annotations

import time
from pathlib import Path

from rscni_py import CmdArgs, CNIPlugin
from rscni_py.types import Result


class Slow(CNIPlugin):
    def add(self, args: CmdArgs) -> Result:
        marker = Path(args.raw_config["marker"])
        try:
            # Inside the try: a stop that arrives right after the test sees "started" must still run the cleanup.
            (marker.parent / "started").write_text("started")
            time.sleep(60)
        except Exception:  # a broad handler must not swallow the stop
            marker.write_text("swallowed")
        finally:
            marker.write_text("cleaned up")
        return Result()

    def delete(self, args: CmdArgs) -> None:
        pass

    def check(self, args: CmdArgs) -> None:
        pass


if __name__ == "__main__":
    Slow.run()
