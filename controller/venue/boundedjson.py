"""JSON decoding for hostile input: bounded size, bounded nesting, never a crash.

Exchange frames and bodies are decoded here and nowhere else. The nesting check runs
*before* the C decoder sees the text, so a frame like ``[[[[…]]]]`` 100,000 deep is
rejected in linear time instead of recursing (which, with a raised recursion limit,
overflows the C stack and kills the process). Pure; raises only :class:`JsonRejected`.
"""

from __future__ import annotations

import enum
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


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_ONLY_BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in "[]{}"))
_EMPTY_PAIRS = re.compile(r"\[\]|\{\}")


def nesting_within(text: str, max_depth: int) -> bool:
    """True if no array/object in ``text`` nests deeper than ``max_depth``.

    Strings are removed first (their brackets do not count), then innermost ``[]``/``{}``
    pairs are erased once per level: well-formed JSON of depth d vanishes in d passes.
    Each pass is one C-speed regex scan, so the cost is O(len · max_depth) at worst.
    Unbalanced text also fails (the decoder would refuse it anyway).
    """
    if len(text) <= 2 * max_depth and text.count("[") + text.count("{") <= max_depth:
        return True
    brackets = _STRINGS.sub("", text).translate(_ONLY_BRACKETS)
    for _ in range(max_depth):
        if not brackets:
            return True
        fewer = _EMPTY_PAIRS.sub("", brackets)
        if fewer == brackets:
            return False
        brackets = fewer
    return not brackets


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
    else:
        text = data
    if not nesting_within(text, max_depth):
        raise JsonRejected(JsonProblem.TOO_DEEP, f"nested deeper than {max_depth} (or unbalanced)")
    try:
        return json.loads(text, parse_float=Decimal) if exact else json.loads(text)
    except RecursionError:  # unreachable after the nesting check; kept as a last guard
        raise JsonRejected(JsonProblem.TOO_DEEP, "nested too deep") from None
    except ValueError as exc:
        raise JsonRejected(JsonProblem.NOT_JSON, f"not JSON ({type(exc).__name__} at char {_pos(exc)})") from None


def _pos(exc: ValueError) -> object:
    return getattr(exc, "pos", "?")
