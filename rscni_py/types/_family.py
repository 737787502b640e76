"""Which CNI versions share a result shape (Go ``create.Create``).

Membership is exact string equality, as in Go: ``"1.0"`` is not ``"1.0.0"``. Version parsing and
comparison for the rest of the SDK live in ``rscni_py._base.versions``; the models only need this
table and the small ordering used by :class:`~rscni_py.types.NetConfList`.
"""

from __future__ import annotations

from typing import Final, Literal

from rscni_py._base.versions import ALL_VERSIONS, CURRENT_VERSION
from rscni_py._base.versions import parse_version as version_key

__all__ = [
    "CURRENT_VERSION",
    "FAMILY_VERSIONS",
    "Family",
    "IMPLEMENTED_VERSION",
    "KNOWN_VERSIONS",
    "family_of",
    "version_key",
]

Family = Literal["0.2", "0.4", "1.0"]
"""A result shape, named after the module that models it (``v0_2``, ``v0_4``, ``v1_0``)."""

KNOWN_VERSIONS: Final = ALL_VERSIONS

FAMILY_VERSIONS: Final[dict[Family, tuple[str, ...]]] = {
    "0.2": ("0.1.0", "0.2.0"),
    "0.4": ("0.3.0", "0.3.1", "0.4.0"),
    "1.0": ("1.0.0", "1.1.0"),
}

IMPLEMENTED_VERSION: Final[dict[Family, str]] = {"0.2": "0.2.0", "0.4": "0.4.0", "1.0": "1.1.0"}
"""The version a result of each shape takes when its ``cniVersion`` is empty (Go ``GetAsVersion``)."""

_BY_VERSION: Final[dict[str, Family]] = {
    version: family for family, versions in FAMILY_VERSIONS.items() for version in versions
}


def family_of(version: str) -> Family | None:
    """The result shape of an exact version string, or ``None`` if the version is unknown.

    >>> family_of("0.3.1"), family_of("1.0")
    ('0.4', None)
    """
    return _BY_VERSION.get(version)
