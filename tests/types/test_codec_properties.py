"""Property tests (hypothesis) for the codec: any JSON gives a model or a FieldError, never another
exception; address parsers round-trip."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscni_py._base.quoting import q
from rscni_py.types import NetConf, NetConfList, Result, encode, parse_prev_result, parse_result, v0_2, v0_4
from rscni_py.types.codec import FieldError, decode, parse_cidr, parse_ip

relaxed = settings(deadline=None, max_examples=60)

scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8)
# Values that look like CNI data, so that generated documents get past the first key now and then.
plausible = st.sampled_from(
    ["10.0.0.1/8", "10.0.0.1", "fd00::1/64", "::1", "", "4", "6", "1.1.0", "0.4.0", "0.2.0", "00:11:22:33:44:55"]
)
keys = st.sampled_from(
    [
        "cniVersion",
        "ips",
        "routes",
        "interfaces",
        "dns",
        "address",
        "gateway",
        "dst",
        "gw",
        "mtu",
        "version",
        "interface",
        "name",
        "mac",
        "ip4",
        "ip6",
        "ip",
        "prevResult",
        "ipam",
        "type",
        "runtimeConfig",
        "plugins",
        "capabilities",
        "nameservers",
        "table",
        "cni.dev/valid-attachments",
        "portMappings",
        "hostPort",
    ]
) | st.text(max_size=5)
json_values = st.recursive(
    scalars | plausible,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=25,
)
json_objects = st.dictionaries(keys, json_values, max_size=8)

MODELS: list[type[Any]] = [Result, v0_4.Result, v0_2.Result, NetConf]


@relaxed
@given(json_objects | json_values)
@pytest.mark.parametrize("model", MODELS, ids=[f"{m.__module__}.{m.__name__}" for m in MODELS])
def test_decode_gives_a_model_or_a_field_error(model: type[Any], data: object) -> None:
    try:
        decoded = decode(model, data)
    except FieldError as exc:
        assert str(exc) == (f"{exc.path}: {exc.reason}" if exc.path else exc.reason)
        assert exc.reason
        return
    assert isinstance(decoded, model)


@relaxed
@given(json_objects)
def test_parsers_give_a_result_or_a_value_error(data: dict[str, Any]) -> None:
    for parse in (parse_result, parse_prev_result, NetConfList.from_json):
        try:
            parse(data)
        except ValueError:  # FieldError and ConversionError are both ValueErrors
            pass


@relaxed
@given(json_objects)
def test_encode_of_any_decoded_config_is_json_and_decodes_again(data: dict[str, Any]) -> None:
    try:
        conf = decode(NetConf, data)
    except FieldError:
        return
    # Encoding is a fixed point through decode (an empty dns or runtimeConfig is left out, as Go does,
    # so the objects themselves may differ), and it only writes keys the input had.
    encoded = json.loads(json.dumps(encode(conf)))
    assert encode(decode(NetConf, encoded)) == encoded
    assert set(encoded) <= set(data) | {"cni.dev/valid-attachments"}


ipv4 = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(IPv6Address)


@given(st.one_of(ipv4, ipv6), st.integers(0, 128))
def test_parse_cidr_round_trips_and_keeps_host_bits(address: IPv4Address | IPv6Address, prefix: int) -> None:
    prefix = min(prefix, address.max_prefixlen)
    text = f"{address}/{prefix}"
    parsed = parse_cidr(text)
    assert parsed == (IPv4Interface if address.version == 4 else IPv6Interface)((int(address), prefix))
    assert parsed.ip == address
    assert str(parsed) == text


@given(st.one_of(ipv4, ipv6))
def test_parse_ip_round_trips(address: IPv4Address | IPv6Address) -> None:
    assert parse_ip(str(address)) == address
    with pytest.raises(ValueError, match="invalid IP address"):
        parse_ip(f"{address}/1")


@given(st.text(max_size=20))
def test_parse_cidr_never_raises_anything_but_its_value_error(text: str) -> None:
    try:
        parsed = parse_cidr(text)
    except ValueError as exc:
        assert str(exc) == f"invalid CIDR {q(text, limit=64)}"
        return
    assert "/" in text
    assert parsed.network.prefixlen == int(text.rsplit("/", 1)[1])
