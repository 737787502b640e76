"""Reading results from JSON: by version (Go ``create.Create``) and as ``prevResult`` (Go ``ParsePrevResult``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rscni_py._base.strict_json import json_type
from rscni_py.types import v1_0
from rscni_py.types._family import FAMILY_VERSIONS, Family, family_of
from rscni_py.types.codec import FieldError, decode, revalidate
from rscni_py.types.common import ConversionError

if TYPE_CHECKING:
    from rscni_py.types.convert import AnyResult

__all__ = ["check_interface_indexes", "parse_prev_result", "parse_result", "validate_result"]


def _result_class(family: Family) -> type[AnyResult]:
    """The model of a result shape; the 0.x shapes are imported only when a result of theirs is read."""
    if family == "1.0":
        return v1_0.Result
    if family == "0.4":
        from rscni_py.types import v0_4

        return v0_4.Result
    from rscni_py.types import v0_2

    return v0_2.Result


def _family_mismatch(family: Family, got: str) -> str:
    # Go's wording: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is "0.2.0"
    supported = " ".join(FAMILY_VERSIONS[family])
    return f"result type supports [{supported}] but unmarshalled CNIVersion is {json.dumps(got)}"


def _own_version(data: Mapping[str, Any], path: str) -> str:
    version = data.get("cniVersion", "")
    if not isinstance(version, str):
        key = f"{path}.cniVersion" if path else "cniVersion"
        raise FieldError(key, f"expected a string, got {json_type(version, with_value=True)}")
    return version


def _parse(data: object, family: Family, own_version: str, path: str) -> AnyResult:
    versions = FAMILY_VERSIONS[family]
    # The 0.1.0/0.2.0 shape also takes an empty cniVersion, which means 0.1.0.
    if own_version == "" and family == "0.2":
        own_version = "0.1.0"
    if own_version not in versions:
        raise FieldError(f"{path}.cniVersion" if path else "cniVersion", _family_mismatch(family, own_version))
    assert isinstance(data, Mapping)
    body = {**data, "cniVersion": own_version}
    if family == "0.4":
        body = _with_ip_versions(body)
    return check_interface_indexes(decode(_result_class(family), body, path=path), path)


def check_interface_indexes(result: AnyResult, path: str = "") -> AnyResult:
    """``result`` unchanged if every ``ips[].interface`` indexes its ``interfaces``, else ``FieldError`` naming it.

    The spec makes ``interface`` an index into ``interfaces``; a plugin that looks up the addresses of its
    interface by index would find none behind a wrong one (a CHECK would pass without checking anything).
    """
    count = len(getattr(result, "interfaces", ()))  # 0.1/0.2 results have neither list
    for position, ip in enumerate(getattr(result, "ips", ())):
        if ip.interface is not None and not 0 <= ip.interface < count:
            where = f"ips[{position}].interface"
            noun = "interface" if count == 1 else "interfaces"
            raise FieldError(
                f"{path}.{where}" if path else where, f"index {ip.interface} is out of range ({count} {noun})"
            )
    return result


def validate_result(result: AnyResult) -> AnyResult:
    """A result a plugin built, checked as if it had been read from its own JSON (what ADD prints goes through this).

    Every field is checked against its type and rebuilt (``codec.revalidate``: an address given as text becomes the
    address), and every ``ips[].interface`` must index ``interfaces``. The same check for every result version, so
    a bad result fails the same way whatever version it is printed at.

    :raises FieldError: naming the path of the first value that does not fit, e.g. ``ips[0].address``.
    """
    return check_interface_indexes(revalidate(result))


def _with_ip_versions(body: dict[str, Any]) -> dict[str, Any]:
    """Fill in a missing ``ips[].version`` of a 0.3/0.4 result from the address family.

    Go reads such a result without complaint, and some plugins write it (Go's own loopback omits ``version``), so a
    plugin chained after them must accept it.  Anything that is not a plain address string is left for the decoder
    to report.
    """
    ips = body.get("ips")
    if not isinstance(ips, list) or all(not isinstance(ip, Mapping) or "version" in ip for ip in ips):
        return body
    filled = []
    for ip in ips:
        address = ip.get("address") if isinstance(ip, Mapping) else None
        if isinstance(ip, Mapping) and "version" not in ip and isinstance(address, str):
            filled.append({**ip, "version": "6" if ":" in address else "4"})
        else:
            filled.append(ip)
    return {**body, "ips": filled}


def parse_result(data: object, version: str | None = None) -> AnyResult:
    """Build the result object of a decoded JSON result (what a plugin printed on ADD).

    The shape is chosen by ``version`` (default: the data's own ``cniVersion``; missing or empty
    means 0.1.0); the data's own ``cniVersion`` must then belong to that shape.

    :raises ConversionError: ``version`` is not a known CNI version.
    :raises FieldError: the data does not fit (path-named), or its ``cniVersion`` does not belong
        to the chosen shape (``cniVersion: result type supports [1.0.0 1.1.0] but unmarshalled
        CNIVersion is "0.2.0"``).
    """
    if not isinstance(data, Mapping):
        raise FieldError("", f"expected an object, got {json_type(data, with_value=True)}")
    own = _own_version(data, "")
    wanted = own if version is None else version
    family = family_of(wanted or "0.1.0")
    if family is None:
        if version is None:
            raise FieldError("cniVersion", f"unsupported CNI result version {json.dumps(wanted)}")
        raise ConversionError(f"unsupported CNI result version {json.dumps(wanted)}")
    return _parse(data, family, own, "")


def parse_prev_result(conf_data: Mapping[str, Any]) -> v1_0.Result | None:
    """The ``prevResult`` of a plugin configuration, as a 1.x :class:`~rscni_py.types.Result`.

    ``conf_data`` is the whole decoded configuration object. Without a ``prevResult`` key (or with
    ``null``) there is none. The result shape is chosen by the configuration's ``cniVersion``
    (missing means 0.1.0), a ``prevResult`` without ``cniVersion`` takes the configuration's, and
    its version must belong to that shape (Go's ``ParsePrevResult``). A 0.x result is then
    converted to 1.1.0; a 1.x result keeps its version.

    :raises FieldError: with paths under ``prevResult``, e.g. ``prevResult.ips[0].address: invalid
        CIDR "10.0.0.1/99"``, or ``prevResult.cniVersion: result type supports [...] but
        unmarshalled CNIVersion is "0.2.0"``; ``cniVersion`` when the configuration's own version is
        not a known one.
    """
    prev = conf_data.get("prevResult")
    if prev is None:
        return None
    conf_version = _own_version(conf_data, "") or "0.1.0"
    family = family_of(conf_version)
    if family is None:
        raise FieldError("cniVersion", f"unsupported CNI result version {json.dumps(conf_version)}")
    if not isinstance(prev, Mapping):
        raise FieldError("prevResult", f"expected an object, got {json_type(prev, with_value=True)}")
    own = _own_version(prev, "prevResult") or conf_version
    result = _parse(prev, family, own, "prevResult")
    if isinstance(result, v1_0.Result):
        return result
    converted = result.convert("1.1.0")
    assert isinstance(converted, v1_0.Result)
    return converted
