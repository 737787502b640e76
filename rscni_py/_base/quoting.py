"""Quoting of values inside error messages, in the double-quoted style of the Go library's ``%q``."""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = ["q", "q_list"]


def q(value: str) -> str:
    """``value`` in double quotes with JSON escapes, so control characters and quotes stay visible.

    >>> q('eth0')
    '"eth0"'
    """
    return json.dumps(value, ensure_ascii=False)


def q_list(values: Iterable[str]) -> str:
    """A bracketed, space-separated list of quoted values, as Go prints a ``[]string`` with ``%q``.

    >>> q_list(["1.0.0", "1.1.0"])
    '["1.0.0" "1.1.0"]'
    """
    return "[" + " ".join(q(v) for v in values) + "]"
