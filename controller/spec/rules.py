"""Semantic rules a JSON Schema cannot express, checked on the values that passed the schema.

Rules worth knowing (also in the schema's description):

* ``minMargin <= avgMargin < maxMargin``. ``avgMargin == minMargin`` is allowed because
  Polymarket's own ``config/bands.json`` uses it and the bid band ``(p-max, p-min]`` includes
  ``p-min``; ``avgMargin == maxMargin`` is rejected because an order placed at ``p-avg`` would
  fall outside its own band, so the controller would never converge.
* ``minAmount <= avgAmount <= maxAmount`` and ``maxAmount > 0``.
* Bands are the intervals ``(minMargin, maxMargin]``; they may touch but not overlap.
* ``risk.skew`` needs ``limits.maxPosition`` (the skew is full there); every ``risk``
  duration is greater than 0 and at most 365d; ``risk.reduceOnlyBefore >= risk.stopBefore``.

Exists so that these checks are pure functions of one normalised document. May not repeat
schema checks (a field with a schema problem is skipped, so each mistake is reported once)
and may not build specs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from controller.spec.results import FieldPath, Problem
from controller.spec.values import duration_seconds, mapping_at, parse_timestamp
from controller.spec.wording import show

TICK_SIZES = tuple(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))
_UINT256_LIMIT = 2**256
MAX_DURATION_SECONDS = 365 * 86_400


def semantic_problems(doc: dict[str, Any], dirty: Iterable[FieldPath]) -> list[Problem]:
    """Rules the schema cannot express; ``dirty`` are the paths the schema already flagged."""
    spec = mapping_at(doc, ("spec",))
    if spec is None:
        return []
    flagged = _Flagged(dirty)
    market = _Valid(mapping_at(doc, ("spec", "market")), ("spec", "market"), flagged)
    tokens = _Valid(market.mapping.get("tokens"), ("spec", "market", "tokens"), flagged)
    orders = _Valid(mapping_at(doc, ("spec", "orders")), ("spec", "orders"), flagged)
    schedule = _Valid(mapping_at(doc, ("spec", "schedule")), ("spec", "schedule"), flagged)
    limits = _Valid(mapping_at(doc, ("spec", "limits")), ("spec", "limits"), flagged)
    risk = _Valid(mapping_at(doc, ("spec", "risk")), ("spec", "risk"), flagged)
    bands = spec.get("bands")
    band_views = (
        [_Valid(band, ("spec", "bands", i), flagged) for i, band in enumerate(bands)] if isinstance(bands, list) else []
    )
    return (
        _band_problems(band_views)
        + _token_problems(tokens)
        + _tick_problems(market)
        + _order_problems(orders)
        + _schedule_problems(schedule)
        + _risk_problems(risk, limits, flagged)
    )


class _Flagged:
    """The schema-flagged paths and every prefix of them, for constant-time "is it clean?"."""

    def __init__(self, paths: Iterable[FieldPath]) -> None:
        self._covered: set[FieldPath] = set()
        for path in paths:
            for end in range(len(path) + 1):
                self._covered.add(path[:end])

    def covers_below(self, path: FieldPath) -> bool:
        """True when a problem was found at ``path`` or anywhere inside it."""
        return path in self._covered


class _Valid:
    """The values of one mapping that passed the schema: ``get`` is None for the others."""

    def __init__(self, mapping: Any, path: FieldPath, flagged: _Flagged) -> None:
        self.mapping: dict[str, Any] = mapping if isinstance(mapping, dict) else {}
        self.path = path
        self._flagged = flagged

    def get(self, key: str) -> Any:
        if key not in self.mapping or self._flagged.covers_below((*self.path, key)):
            return None
        return self.mapping[key]

    def at(self, key: str) -> FieldPath:
        return (*self.path, key)


def _band_problems(bands: list[_Valid]) -> list[Problem]:
    problems: list[Problem] = []
    for band in bands:
        problems += _need_order(band, "avgMargin", "minMargin", strict=False)
        problems += _need_order(band, "maxMargin", "avgMargin", strict=True)
        problems += _need_order(band, "avgAmount", "minAmount", strict=False)
        problems += _need_order(band, "maxAmount", "avgAmount", strict=False)
    return problems + _overlap_problems(bands)


def _need_order(band: _Valid, later: str, earlier: str, *, strict: bool) -> list[Problem]:
    low, high = band.get(earlier), band.get(later)
    if low is None or high is None or high > low or (high == low and not strict):
        return []
    relation, sign = ("greater than", "<=") if strict else ("greater than or equal to", "<")
    return [(band.at(later), f"must be {relation} {earlier} ({high} {sign} {low})")]


def _overlap_problems(bands: list[_Valid]) -> list[Problem]:
    """Report each band whose (minMargin, maxMargin] meets a band starting at or before it."""
    intervals = []
    for band in bands:
        low, high = band.get("minMargin"), band.get("maxMargin")
        if low is not None and high is not None and low < high:
            intervals.append((low, high, band.path[-1]))
    problems: list[Problem] = []
    reach: tuple[Decimal, Decimal, Any] | None = None  # the interval reaching furthest so far
    for low, high, i in sorted(intervals):
        if reach is not None and low < reach[1]:
            first, second = sorted(((reach[0], reach[1], reach[2]), (low, high, i)), key=lambda x: x[2])
            problems.append(
                (
                    ("spec", "bands", second[2]),
                    f"overlaps bands[{first[2]}] (margins ({second[0]}, {second[1]}] "
                    f"and ({first[0]}, {first[1]}] intersect)",
                )
            )
        if reach is None or high > reach[1]:
            reach = (low, high, i)
    return problems


def _token_problems(tokens: _Valid) -> list[Problem]:
    problems: list[Problem] = []
    for side in ("yes", "no"):
        token = tokens.get(side)
        if token is not None and int(token) >= _UINT256_LIMIT:
            problems.append((tokens.at(side), "must be at most 2^256-1 (a uint256)"))
    yes, no = tokens.get("yes"), tokens.get("no")
    if yes is not None and yes == no:
        problems.append((tokens.at("no"), "must differ from tokens.yes (got the same token id)"))
    return problems


def _tick_problems(market: _Valid) -> list[Problem]:
    tick = market.get("tickSize")
    if tick is None or tick in TICK_SIZES:
        return []
    allowed = ", ".join(str(t) for t in TICK_SIZES)
    return [(market.at("tickSize"), f"must be one of {allowed} (got {tick})")]


def _order_problems(orders: _Valid) -> list[Problem]:
    order_type = orders.get("type") if "type" in orders.mapping else "GTC"
    if order_type is None:
        return []
    if order_type == "GTD" and "ttlSeconds" not in orders.mapping:
        return [(orders.at("ttlSeconds"), "is required when type is GTD")]
    if order_type != "GTD" and orders.get("ttlSeconds") is not None:
        return [(orders.at("ttlSeconds"), f"is only allowed when type is GTD (type is {order_type})")]
    return []


def _schedule_problems(schedule: _Valid) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, datetime] = {}
    for key in ("notBefore", "notAfter"):
        text = schedule.get(key)
        if text is None:
            continue
        moment = parse_timestamp(text)
        if moment is None:
            problems.append((schedule.at(key), f"is not a valid date and time (got {show(text)})"))
        else:
            parsed[key] = moment
    if len(parsed) == 2 and parsed["notAfter"] <= parsed["notBefore"]:
        problems.append(
            (
                schedule.at("notAfter"),
                f"must be later than notBefore ({schedule.get('notAfter')} <= {schedule.get('notBefore')})",
            )
        )
    return problems


def _risk_problems(risk: _Valid, limits: _Valid, flagged: _Flagged) -> list[Problem]:
    problems: list[Problem] = []
    if "skew" in risk.mapping and "maxPosition" not in limits.mapping:
        problems.append((risk.at("skew"), "requires limits.maxPosition (the skew is full at maxPosition)"))
    durations = [(risk, "stopBefore"), (risk, "reduceOnlyBefore")]
    for section, keys in (("maxLoss", ("window",)), ("pullOnMove", ("within", "pauseFor"))):
        inner = _Valid(risk.mapping.get(section), risk.at(section), flagged)
        durations += [(inner, key) for key in keys]
    seconds: dict[FieldPath, int] = {}
    for view, key in durations:
        text = view.get(key)
        value = None if text is None else duration_seconds(text)
        if value is None:
            continue
        if value == 0:
            problems.append((view.at(key), f"must be greater than 0 (got {show(text)})"))
        elif value > MAX_DURATION_SECONDS:
            problems.append((view.at(key), f"must be at most 365d (got {show(text)})"))
        else:
            seconds[view.at(key)] = value
    stop, reduce_only = seconds.get(risk.at("stopBefore")), seconds.get(risk.at("reduceOnlyBefore"))
    if stop is not None and reduce_only is not None and reduce_only < stop:
        problems.append(
            (
                risk.at("reduceOnlyBefore"),
                f"must be at least stopBefore ({risk.get('reduceOnlyBefore')} < {risk.get('stopBefore')})",
            )
        )
    return problems
