"""JSON as CNI peers read it: Go's decoder refuses NaN, Infinity and numbers beyond a float's range, so do we."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from rscni_py._base.quoting import SHOWN, q

__all__ = ["json_type", "loads"]


def _reject_constant(name: str) -> Any:
    # Python's parser accepts NaN and Infinity; they are not JSON.
    raise ValueError(f"invalid JSON value {name}")


def _parse_float(text: str) -> float:
    # Python turns 1e400 into inf, which json.dumps would later write as the non-JSON Infinity (say, when a plugin
    # passes its configuration on to a delegate).
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"number {shown} is out of range")
    return value


def loads(data: bytes | str) -> Any:
    """Decode one JSON document strictly; raises ``ValueError`` (or ``RecursionError`` for absurd nesting)."""
    return json.loads(data, parse_constant=_reject_constant, parse_float=_parse_float)


def json_type(value: object, *, with_value: bool = False) -> str:
    """How an error message names a decoded JSON value: its JSON type, as Go's decoder names it.

    Alone: ``null``, ``boolean``, ``number``, ``string``, ``array``, ``object``. ``with_value`` adds scalars' values
    and tells integers apart: ``boolean true``, ``integer 5``, ``number 0.5``, ``string "1500"``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return ("boolean true" if value else "boolean false") if with_value else "boolean"
    if isinstance(value, int):
        return f"integer {value}" if with_value else "number"
    if isinstance(value, float):
        return f"number {value!r}" if with_value else "number"
    if isinstance(value, str):
        return f"string {q(value, limit=SHOWN)}" if with_value else "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping) or not with_value:
        return "object"
    return type(value).__name__
