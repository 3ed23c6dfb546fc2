"""Scalar manifest values in their exact types: decimals, timestamps.

Exists so that the rules and the spec builder read a value the same way. ``to_decimal`` is
lenient (anything not decimal-shaped is left for the schema to reject); the parsers are
for values the schema has already matched. May not report errors or know field names.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

_DECIMAL_RE = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def to_decimal(value: Any) -> Any:
    """``value`` as a ``Decimal`` when it is a finite number or a decimal string, else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        # repr is the shortest text that reads back as this float: 0.1 -> Decimal("0.1")
        return Decimal(repr(value))
    if isinstance(value, str) and _DECIMAL_RE.match(value):
        return Decimal(value)
    return value


def parse_timestamp(text: str) -> datetime | None:
    """Parse an RFC 3339 string already matched by the schema's pattern; None if impossible."""
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def mapping_at(doc: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The mapping at ``path`` inside ``doc``, or None if anything on the way is not one."""
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
