"""parse_result (Go create.Create) and parse_prev_result (Go ParsePrevResult): the version-family rule."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import pytest

from rscni_py.types import (
    ConversionError,
    FieldError,
    Interface,
    IPConfig,
    Result,
    parse_prev_result,
    parse_result,
    v0_2,
    v0_4,
)
from rscni_py.types.convert import AnyResult

IP4 = IPv4Interface("10.0.0.2/8")

PARSE_OK: list[tuple[str, object, str | None, AnyResult]] = [
    # the data's own version picks the shape
    ("own-1.1.0", {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/8"}]}, None, Result(ips=[IPConfig(IP4)])),
    ("own-1.0.0", {"cniVersion": "1.0.0"}, None, Result(cni_version="1.0.0")),
    ("own-0.3.0", {"cniVersion": "0.3.0"}, None, v0_4.Result(cni_version="0.3.0")),
    ("own-0.2.0", {"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/8"}}, None, v0_2.Result(ip4=v0_2.IPConfig(IP4))),
    # missing or empty cniVersion means 0.1.0
    ("missing-means-0.1.0", {}, None, v0_2.Result(cni_version="0.1.0")),
    ("empty-means-0.1.0", {"cniVersion": ""}, None, v0_2.Result(cni_version="0.1.0")),
    ("explicit-0.2.0-shape-takes-empty", {"cniVersion": ""}, "0.2.0", v0_2.Result(cni_version="0.1.0")),
    # an explicit version picks the shape; the data's version must be in it
    ("explicit-same-shape", {"cniVersion": "1.0.0"}, "1.1.0", Result(cni_version="1.0.0")),
    ("explicit-0.4-shape", {"cniVersion": "0.3.1"}, "0.4.0", v0_4.Result(cni_version="0.3.1")),
    # unknown keys are ignored: a 1.x result with ips[].version parses, the key is dropped
    (
        "1x-ignores-version-key",
        {"cniVersion": "1.0.0", "ips": [{"version": "4", "address": "10.0.0.2/8"}]},
        None,
        Result(ips=[IPConfig(IP4)], cni_version="1.0.0"),
    ),
]


@pytest.mark.parametrize(("data", "version", "expected"), [c[1:] for c in PARSE_OK], ids=[c[0] for c in PARSE_OK])
def test_parse_result(data: object, version: str | None, expected: AnyResult) -> None:
    assert parse_result(data, version) == expected


PARSE_BAD: list[tuple[str, object, str | None, type[Exception], str]] = [
    (
        "shape-mismatch",
        {"cniVersion": "0.2.0"},
        "1.1.0",
        FieldError,
        'cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.2.0"',
    ),
    (
        "shape-mismatch-0.4",
        {"cniVersion": "1.0.0"},
        "0.3.0",
        FieldError,
        'cniVersion: result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "1.0.0"',
    ),
    (
        "missing-version-not-1x",
        {},
        "1.0.0",
        FieldError,
        'cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is ""',
    ),
    ("own-unknown", {"cniVersion": "9.9.9"}, None, FieldError, 'cniVersion: unsupported CNI result version "9.9.9"'),
    ("explicit-unknown", {"cniVersion": "1.1.0"}, "1.0", ConversionError, 'unsupported CNI result version "1.0"'),
    ("version-not-string", {"cniVersion": 1}, None, FieldError, "cniVersion: expected a string, got integer 1"),
    ("not-an-object", [1], None, FieldError, "expected an object, got array"),
    (
        "bad-field",
        {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "x"}]},
        None,
        FieldError,
        'ips[0].address: invalid CIDR "x"',
    ),
]


@pytest.mark.parametrize(
    ("data", "version", "error", "message"), [c[1:] for c in PARSE_BAD], ids=[c[0] for c in PARSE_BAD]
)
def test_parse_result_errors(data: object, version: str | None, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        parse_result(data, version)
    assert type(info.value) is error
    assert str(info.value) == message


PREV_OK: list[tuple[str, dict[str, Any], Result | None]] = [
    ("no-prev-result", {"cniVersion": "1.1.0"}, None),
    ("null-prev-result", {"cniVersion": "1.1.0", "prevResult": None}, None),
    (
        "same-version",
        {"cniVersion": "1.1.0", "prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/8"}]}},
        Result(ips=[IPConfig(IP4)]),
    ),
    # 1.x keeps its own version
    ("1.0.0-under-1.1.0", {"cniVersion": "1.1.0", "prevResult": {"cniVersion": "1.0.0"}}, Result(cni_version="1.0.0")),
    # a prevResult without cniVersion takes the config's
    (
        "inherits-1.0.0",
        {"cniVersion": "1.0.0", "prevResult": {"interfaces": [{"name": "eth0"}]}},
        Result(interfaces=[Interface("eth0")], cni_version="1.0.0"),
    ),
    ("empty-inherits", {"cniVersion": "1.0.0", "prevResult": {"cniVersion": ""}}, Result(cni_version="1.0.0")),
    # 0.x results are converted up to 1.1.0
    (
        "0.4.0-converted-up",
        {
            "cniVersion": "0.4.0",
            "prevResult": {
                "cniVersion": "0.4.0",
                "interfaces": [{"name": "eth0"}],
                "ips": [{"version": "4", "interface": 0, "address": "10.0.0.2/8", "gateway": "10.0.0.1"}],
            },
        },
        Result(interfaces=[Interface("eth0")], ips=[IPConfig(IP4, IPv4Address("10.0.0.1"), 0)]),
    ),
    ("0.3.0-inside-0.4.0-config", {"cniVersion": "0.4.0", "prevResult": {"cniVersion": "0.3.0"}}, Result()),
    (
        "0.2.0-converted-up",
        {"cniVersion": "0.2.0", "prevResult": {"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/8"}}},
        Result(ips=[IPConfig(IP4)]),
    ),
    # no config version means 0.1.0, and the prevResult inherits it
    ("no-versions-at-all", {"prevResult": {"ip4": {"ip": "10.0.0.2/8"}}}, Result(ips=[IPConfig(IP4)])),
]


@pytest.mark.parametrize(("conf", "expected"), [c[1:] for c in PREV_OK], ids=[c[0] for c in PREV_OK])
def test_parse_prev_result(conf: dict[str, Any], expected: Result | None) -> None:
    assert parse_prev_result(conf) == expected


PREV_BAD: list[tuple[str, dict[str, Any], str]] = [
    # Go's pkg/version tests: the shape comes from the config, the prevResult's version must fit it
    (
        "0.2.0-under-1.0.0",
        {"cniVersion": "1.0.0", "prevResult": {"cniVersion": "0.2.0"}},
        'prevResult.cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.2.0"',
    ),
    (
        "1.0.0-under-0.4.0",
        {"cniVersion": "0.4.0", "prevResult": {"cniVersion": "1.0.0"}},
        'prevResult.cniVersion: result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is "1.0.0"',
    ),
    (
        "0.4.0-under-0.2.0",
        {"cniVersion": "0.2.0", "prevResult": {"cniVersion": "0.4.0"}},
        'prevResult.cniVersion: result type supports [0.1.0 0.2.0] but unmarshalled CNIVersion is "0.4.0"',
    ),
    (
        "unknown-under-1.1.0",
        {"cniVersion": "1.1.0", "prevResult": {"cniVersion": "7.0.0"}},
        'prevResult.cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "7.0.0"',
    ),
    (
        "config-version-unknown",
        {"cniVersion": "2.0.0", "prevResult": {}},
        'cniVersion: unsupported CNI result version "2.0.0"',
    ),
    ("config-version-not-string", {"cniVersion": 1, "prevResult": {}}, "cniVersion: expected a string, got integer 1"),
    (
        "prev-version-not-string",
        {"cniVersion": "1.1.0", "prevResult": {"cniVersion": 1.1}},
        "prevResult.cniVersion: expected a string, got number 1.1",
    ),
    ("prev-not-object", {"cniVersion": "1.1.0", "prevResult": [1]}, "prevResult: expected an object, got array"),
    (
        "bad-address-path",
        {"cniVersion": "1.1.0", "prevResult": {"ips": [{"address": "10.0.0.1/99"}]}},
        'prevResult.ips[0].address: invalid CIDR "10.0.0.1/99"',
    ),
    (
        "bad-route-path",
        {"cniVersion": "0.4.0", "prevResult": {"routes": [{"dst": "::/0", "mtu": "9000"}]}},
        'prevResult.routes[0].mtu: expected an integer, got string "9000"',
    ),
    (
        "bad-0.2-path",
        {"cniVersion": "0.2.0", "prevResult": {"ip6": {"ip": "fd00::1/64", "gateway": 6}}},
        "prevResult.ip6.gateway: expected an IP address string, got integer 6",
    ),
]


@pytest.mark.parametrize(("conf", "message"), [c[1:] for c in PREV_BAD], ids=[c[0] for c in PREV_BAD])
def test_parse_prev_result_errors(conf: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_prev_result(conf)
    assert str(info.value) == message


def test_prev_result_raw_form_stays_on_the_netconf() -> None:
    from rscni_py.types import NetConf, decode

    raw_prev = {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.2/8"}], "custom": True}
    data = {"cniVersion": "0.4.0", "name": "n", "type": "t", "prevResult": raw_prev}
    conf = decode(NetConf, data)
    assert conf.prev_result == raw_prev
    assert parse_prev_result(conf.raw) == Result(ips=[IPConfig(IP4)])
