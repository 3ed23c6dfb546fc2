"""JSON decoding for hostile input: bounded size, bounded nesting, never a crash.

Exchange frames and bodies are decoded here and nowhere else. The nesting check runs
*before* the C decoder sees the text, so a frame like ``[[[[…]]]]`` 100,000 deep is
rejected in linear time instead of recursing (which, with a raised recursion limit,
overflows the C stack and kills the process). Pure; raises only :class:`JsonRejected`.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from decimal import Decimal
from typing import Any


class JsonProblem(enum.Enum):
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"


class JsonRejected(ValueError):
    """The text is not acceptable JSON; ``problem`` says why (for counters)."""

    def __init__(self, problem: JsonProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


# Escapes are deleted first, whole (a backslash and the character after it: deleting the
# "u001f" of a "\u001f" alone would leave its backslash escaping the closing quote), then
# everything but brackets and quotes (bytes.translate runs at memory speed; UTF-8 never
# hides these ASCII bytes inside a multi-byte character), then strings (now a quote,
# anything but a quote, a quote) and finally bracket pairs, level by level.
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_ESCAPES = re.compile(rb"\\.", re.DOTALL)
_STRINGS = re.compile(rb'"[^"]*"')
_EMPTY_PAIRS = re.compile(rb"\[\]|\{\}")


@functools.lru_cache(maxsize=8)
def _opener_run(max_depth: int) -> re.Pattern[bytes]:
    return re.compile(rb"[\[{]{%d}" % (max_depth + 1))


def nesting_within(text: str | bytes, max_depth: int) -> bool:
    """True if no array/object in ``text`` nests deeper than ``max_depth``.

    Strings are removed first (their brackets do not count), then innermost ``[]``/``{}``
    pairs are erased once per level: well-formed JSON of depth d vanishes in d passes.
    Each pass is one C-speed scan, so the cost is O(len · max_depth) at worst (about a
    tenth of decoding for a 780 KB book frame). A text with no more openers than
    ``max_depth`` cannot nest deeper and skips the scans (a typical ``price_change``:
    the scans were about half of its decode). Unbalanced text passes only if its
    unclosed openers stay within the bound (the decoder then refuses it as not JSON).
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    openers = data.count(b"[") + data.count(b"{")
    if openers <= max_depth:
        return True  # nesting never exceeds the number of openers (a string's brackets only add)
    return _scan_within(data, max_depth)


def _scan_within(data: bytes, max_depth: int) -> bool:
    if b"\\" in data:
        data = _ESCAPES.sub(b"", data)
    structure = _STRINGS.sub(b"", data.translate(None, _NOT_STRUCTURE))
    if _opener_run(max_depth).search(structure):  # the plain "[[[[..." attack, found in one scan
        return False
    for level in range(max_depth):
        if not structure:
            return True
        fewer = _EMPTY_PAIRS.sub(b"", structure)
        if fewer == structure:
            # Unbalanced: what is left can still nest through its unclosed openers (the
            # decoder recurses into "[[[[" before it finds the end missing).
            return level + structure.count(b"[") + structure.count(b"{") <= max_depth
        structure = fewer
    return not structure


def decode(data: str | bytes | bytearray, *, max_bytes: int, max_depth: int, exact: bool = True) -> Any:
    """Decode one JSON document, or raise :class:`JsonRejected`.

    ``exact``: JSON numbers with a fraction become ``Decimal`` (never a float).
    """
    if len(data) > max_bytes:
        raise JsonRejected(JsonProblem.TOO_LARGE, f"{len(data)} bytes is over the {max_bytes}-byte limit")
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected(JsonProblem.NOT_UTF8, "not UTF-8") from None
        raw: str | bytes = bytes(data)
    else:
        text = raw = data
    if not nesting_within(raw, max_depth):
        raise JsonRejected(JsonProblem.TOO_DEEP, f"nested deeper than {max_depth} (or unbalanced)")
    try:
        return json.loads(text, parse_float=Decimal) if exact else json.loads(text)
    except RecursionError:  # unreachable after the nesting check; kept as a last guard
        raise JsonRejected(JsonProblem.TOO_DEEP, "nested too deep") from None
    except ValueError as exc:
        raise JsonRejected(JsonProblem.NOT_JSON, f"not JSON ({type(exc).__name__} at char {_pos(exc)})") from None


def _pos(exc: ValueError) -> object:
    return getattr(exc, "pos", "?")
