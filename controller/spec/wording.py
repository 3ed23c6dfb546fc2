"""How user values and field paths are written inside one-line error messages.

Exists so that every stage quotes a hostile value the same way: short, on one line, with
control characters escaped. May not decide whether anything is valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
MAX_MESSAGE_CHARS = 300


def format_path(path: Iterable[object]) -> str:
    """``("spec", "bands", 2, "maxMargin")`` → ``"spec.bands[2].maxMargin"``."""
    out = ""
    for key in path:
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{key}]"
        elif isinstance(key, str) and _IDENT_RE.match(key):
            out += f".{key}" if out else key
        else:
            out += f"[{show(key)}]"
    return out


def show(value: Any) -> str:
    """A short, one-line rendering of a user value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan" if math.isnan(value) else repr(value))
    elif isinstance(value, int):
        text = str(value) if value.bit_length() < 300 else "a very large integer"
    elif isinstance(value, str):
        # 80 keeps a whole conditionId (66) or token id (78) visible.
        text = repr(value[:80] + "…" if len(value) > 80 else value)
    elif isinstance(value, dict):
        return "a mapping"
    elif isinstance(value, list):
        return "a list"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = type(value).__name__
    return one_line(text)


def one_line(text: str) -> str:
    """``text`` with runs of whitespace (newlines included) as one space, cut to a sane length."""
    text = " ".join(text[: MAX_MESSAGE_CHARS * 4].split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
