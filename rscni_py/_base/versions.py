"""CNI spec versions: the known list, parsing and ordering.

Facts from the Go library's ``pkg/version``: a missing ``cniVersion`` means 0.1.0; version strings are matched
exactly when reconciling (``"1.0"`` is not ``"1.0.0"``), but compared numerically when gating commands.
"""

from __future__ import annotations

from typing import Final

from rscni_py._base.quoting import q

__all__ = [
    "ALL_VERSIONS",
    "CURRENT_VERSION",
    "VersionError",
    "at_least",
    "config_version",
    "parse_version",
]

#: Every released spec version, oldest first.
ALL_VERSIONS: Final[tuple[str, ...]] = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
#: The newest spec version; VERSION answers with it (docs/decisions.md, D-2).
CURRENT_VERSION: Final = "1.1.0"

# Go parses each part with strconv.Atoi: an optional sign and ASCII digits, nothing else (no spaces, no "_").
_DIGITS: Final = frozenset("0123456789")
_PART_NAMES: Final = ("major", "minor", "micro")


class VersionError(ValueError):
    """A version string that cannot be parsed."""


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse ``major[.minor[.micro]]`` the way Go's ``version.ParseVersion`` does.

    >>> parse_version("0.4.0")
    (0, 4, 0)
    >>> parse_version("1")
    (1, 0, 0)
    >>> parse_version("")
    (0, 1, 0)
    """
    if version == "":
        return (0, 1, 0)
    parts = version.split(".")
    if len(parts) > 3:
        raise VersionError(f"invalid version {q(version)}: too many parts")
    numbers = [0, 0, 0]
    for index, part in enumerate(parts):
        digits = part[1:] if part[:1] in ("+", "-") else part
        if not (digits and _DIGITS.issuperset(digits)):
            raise VersionError(f"failed to convert {_PART_NAMES[index]} version part {q(part)}: invalid syntax")
        numbers[index] = int(part)
    return (numbers[0], numbers[1], numbers[2])


def config_version(config: object) -> str:
    """A decoded configuration's cniVersion as Go's ``DecodeVersion`` reads it: missing, null or "" means 0.1.0.

    :raises DecodingFailureError: (code 6) when the value is not a string.
    """
    version = config.get("cniVersion") if isinstance(config, dict) else None
    if version is None or version == "":
        return "0.1.0"
    if not isinstance(version, str):
        from rscni_py._base.strict_json import json_type
        from rscni_py.errors import DecodingFailureError

        raise DecodingFailureError(
            f"decoding version from network config: cniVersion: expected a string, got {json_type(version)}"
        )
    return version


def at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is numerically at least ``minimum``; raises ``VersionError`` for bad input."""
    return parse_version(version) >= parse_version(minimum)
