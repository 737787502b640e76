"""The public surface of rscni_py.types: sorted, complete, and every name importable."""

from __future__ import annotations

import rscni_py.types as types_
from rscni_py.types import v0_2, v0_4, v1_0

EXPECTED = [
    "DNS",
    "KNOWN_VERSIONS",
    "AnyResult",
    "Bandwidth",
    "ConversionError",
    "FieldError",
    "GCAttachment",
    "IPAMConf",
    "IPAddress",
    "IPConfig",
    "IPInterface",
    "IPRange",
    "Interface",
    "MACAddress",
    "NetConf",
    "NetConfList",
    "PortMapping",
    "Result",
    "Route",
    "RuntimeConfig",
    "RuntimeDNS",
    "convert_result",
    "decode",
    "encode",
    "json_field",
    "parse_cidr",
    "parse_ip",
    "parse_prev_result",
    "parse_result",
    "validate_result",
]


def test_all_is_sorted_and_complete() -> None:
    assert types_.__all__ == sorted(EXPECTED)
    for name in types_.__all__:
        assert getattr(types_, name) is not None


def test_the_top_level_result_is_the_1x_model() -> None:
    assert (types_.Result, types_.Interface, types_.IPConfig) == (v1_0.Result, v1_0.Interface, v1_0.IPConfig)
    assert types_.Route is v1_0.Route is v0_4.Route is v0_2.Route
    assert types_.DNS is v1_0.DNS is v0_4.DNS is v0_2.DNS


def test_version_modules() -> None:
    assert (v0_2.IMPLEMENTED_SPEC_VERSION, v0_4.IMPLEMENTED_SPEC_VERSION, v1_0.IMPLEMENTED_SPEC_VERSION) == (
        "0.2.0",
        "0.4.0",
        "1.1.0",
    )
    assert (
        frozenset({"0.1.0", "0.2.0"}),
        frozenset({"0.3.0", "0.3.1", "0.4.0"}),
        frozenset({"1.0.0", "1.1.0"}),
    ) == (v0_2.SUPPORTED_VERSIONS, v0_4.SUPPORTED_VERSIONS, v1_0.SUPPORTED_VERSIONS)
    assert types_.KNOWN_VERSIONS == ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    for module in (v0_2, v0_4, v1_0):
        assert module.__all__ == sorted(module.__all__)
