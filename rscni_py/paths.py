"""Paths a plugin writes to, reached without following anything another user could plant (SECURITY.md, section 9).

The SDK uses these for its state store, log files and ``rscni-py install``; a plugin uses them for any directory or
file named in its configuration (the debug plugin's ``cniOutput``).
"""

from __future__ import annotations

from rscni_py._base.trusted_paths import (
    PathTextError,
    UntrustedPathError,
    check_path_text,
    ensure_trusted_dir,
    open_trusted_dir,
    open_trusted_file,
)

__all__ = [
    "PathTextError",
    "UntrustedPathError",
    "check_path_text",
    "ensure_trusted_dir",
    "open_trusted_dir",
    "open_trusted_file",
]
