"""Scalar manifest values in their exact types: decimals, timestamps, durations.

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
# The schema's duration pattern, with named groups.
_DURATION_RE = re.compile(
    r"^(?:(?P<d>[0-9]{1,9})d)?(?:(?P<h>[0-9]{1,9})h)?(?:(?P<m>[0-9]{1,9})m)?(?:(?P<s>[0-9]{1,9})s)?$"
)
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


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


def duration_seconds(text: str) -> int | None:
    """``"1h30m"`` → 5400. None if ``text`` is not a duration (the schema says why).

    Seconds rather than a ``timedelta``: a hostile "999999999d" is a valid shape but beyond
    timedelta's range; the rules bound it before anything builds one.
    """
    match = _DURATION_RE.match(text)
    if match is None or not text:
        return None
    return sum(int(value) * _UNIT_SECONDS[unit] for unit, value in match.groupdict().items() if value)


def mapping_at(doc: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The mapping at ``path`` inside ``doc``, or None if anything on the way is not one."""
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
