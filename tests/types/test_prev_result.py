"""prevResult leniency that Go readers have and real plugins rely on."""

from __future__ import annotations

import pytest

from rscni_py.types import FieldError, parse_prev_result


@pytest.mark.parametrize(
    ("ips", "expected"),
    [
        ([{"address": "10.0.0.2/24"}], [{"address": "10.0.0.2/24"}]),
        ([{"address": "fd00::2/64", "interface": 0}], [{"address": "fd00::2/64", "interface": 0}]),
        (
            [{"version": "4", "address": "10.0.0.2/24"}, {"address": "fd00::2/64"}],
            [{"address": "10.0.0.2/24"}, {"address": "fd00::2/64"}],
        ),
    ],
    ids=["v4-missing", "v6-missing", "mixed"],
)
def test_0_4_prev_result_without_ip_version_is_read_like_go(
    ips: list[dict[str, object]], expected: list[dict[str, object]]
) -> None:
    # Go's loopback plugin writes 0.3/0.4 results without ips[].version; Go readers accept them, so do we.
    prev = {"cniVersion": "0.4.0", "interfaces": [{"name": "lo"}], "ips": ips}
    result = parse_prev_result({"cniVersion": "0.4.0", "name": "n", "prevResult": prev})
    assert result is not None
    assert result.to_dict() == {"cniVersion": "1.1.0", "interfaces": [{"name": "lo"}], "ips": expected}


def test_0_4_ip_version_that_is_not_an_address_string_is_still_an_error() -> None:
    conf = {"cniVersion": "0.4.0", "name": "n", "prevResult": {"cniVersion": "0.4.0", "ips": [{"address": 5}]}}
    with pytest.raises(FieldError) as info:
        parse_prev_result(conf)
    assert info.value.path.startswith("prevResult.ips[0]")
