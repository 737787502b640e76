"""Quoting of values inside error messages, as the Go library's ``%q`` (``strconv.Quote``) does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["SHOWN", "q", "q_list"]

#: How many characters of a value the codec's error messages show.
SHOWN: Final = 64

_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _escape(ch: str) -> str:
    escaped = _ESCAPES.get(ch)
    if escaped is not None:
        return escaped
    if ch.isprintable():
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that was not UTF-8 (os.environ keeps it as a lone surrogate): Go prints the byte.
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def q(value: str, *, limit: int | None = None) -> str:
    """``value`` in double quotes with Go's escapes, so control characters, quotes and bad bytes stay visible.

    With ``limit``, a value longer than ``limit`` characters is cut to ``limit`` characters ending in ``...``.

    >>> q('eth0')
    '"eth0"'
    >>> q('a\\tb"c')
    '"a\\\\tb\\\\"c"'
    >>> q("abcdefgh", limit=6)
    '"abc..."'
    """
    if limit is not None and len(value) > limit:
        value = value[: limit - 3] + "..."
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return '"' + "".join(map(_escape, value)) + '"'


def q_list(values: Iterable[str]) -> str:
    """A bracketed, space-separated list of quoted values, as Go prints a ``[]string`` with ``%q``.

    >>> q_list(["1.0.0", "1.1.0"])
    '["1.0.0" "1.1.0"]'
    """
    return "[" + " ".join(q(v) for v in values) + "]"
