"""JSON as CNI peers read it: Go's decoder refuses NaN, Infinity and numbers beyond a float's range, so do we."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["kind", "loads"]


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


def kind(value: object) -> str:
    """The JSON name of a decoded value's type, for messages: null, boolean, number, string, array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
