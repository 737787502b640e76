"""Making a plugin script runnable the way a runtime runs plugins: an executable named after the plugin ``type``.

A runtime executes ``<CNI_PATH entry>/<type>`` directly, so a Python plugin that lives in a checkout (not bundled,
not installed) needs a small wrapper: this writes one, running the script with a chosen interpreter and extra
``PYTHONPATH`` entries.  For shipping a plugin use ``rscni-py bundle`` and ``rscni-py install`` instead.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["install_script"]


def install_script(
    directory: Path,
    name: str,
    script: Path,
    *,
    python: str = sys.executable,
    pythonpath: Sequence[Path] = (),
) -> Path:
    """Write ``directory/name``, an executable that runs ``script`` with ``python``; return its path.

    ``pythonpath`` entries are put in front of any ``PYTHONPATH`` the runtime passes on.  Every value is
    shell-quoted, so paths with spaces or quotes are safe.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / name
    lines = ["#!/bin/sh"]
    if pythonpath:
        paths = shlex.quote(os.pathsep.join(str(p) for p in pythonpath))
        lines.append(f"PYTHONPATH={paths}${{PYTHONPATH:+:$PYTHONPATH}}; export PYTHONPATH")
    lines.append(f'exec {shlex.quote(python)} {shlex.quote(str(script))} "$@"')
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return wrapper
