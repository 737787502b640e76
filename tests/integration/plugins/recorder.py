"""A minimal CNI plugin, independent of rscni-py, that records how the runtime called it.

It exists to test the integration harness itself (plugin installation into the test CNI_PATH, what libcni passes
to a plugin), not the SDK. Config keys:

* ``recordTo`` (required): a file; every invocation appends one JSON line
  ``{"command": ..., "env": {CNI_* variables}, "stdin": <parsed config>}``.
* ``failWith`` (optional): ``{"code", "msg", "details"}`` printed as the CNI error for ADD, CHECK and DEL.

ADD passes ``prevResult`` through (or prints an empty result); VERSION prints the versions below.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Final

SUPPORTED_VERSIONS: Final = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    if command == "VERSION":
        json.dump({"cniVersion": "1.0.0", "supportedVersions": SUPPORTED_VERSIONS}, sys.stdout)
        return 0
    config: dict[str, Any] = json.load(sys.stdin)
    env = {key: value for key, value in os.environ.items() if key.startswith("CNI_")}
    with open(config["recordTo"], "a", encoding="utf-8") as record:
        record.write(json.dumps({"command": command, "env": env, "stdin": config}) + "\n")
    failure = config.get("failWith")
    if failure is not None:
        json.dump({"cniVersion": config["cniVersion"], **failure}, sys.stdout)
        return 1
    if command == "ADD":
        json.dump(config.get("prevResult") or {"cniVersion": config["cniVersion"]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
