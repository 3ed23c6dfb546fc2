"""Human and machine renderings of a Plan, and the CLI's planning time.

Text (terraform/kubectl-like), one block per market::

    demo-btc-150k  0xf552cc…a598  reference 0.50 (midpoint)
      - 0x5c0f…01  BUY  YES 0.45 × 10  outside every band
      + SELL NO  0.52 × 20  bid band 0: 0 < minAmount 10, target avgAmount 20 (held inventory)
      = 0x77aa…02  BUY  YES 0.48 × 15  bid band 0
      ~ 0x9d1e…03  BUY  YES 0.47 × 5  foreign (ownership: shared)
      ! ask band 2: not enough free balance for 20 (...)
      $ rewards (fit): expected score Q_min 26.67 (Q_one 26.67, Q_two 26.67), 2 order(s) scoring around 0.5
    Plan: 6 to place, 2 to cancel, 5 unchanged.

A placement that will earn liquidity rewards ends in ``[scores]``; the ``$`` line is the
market's expected score (``docs/rewards.md``), present when its programme is known.

The text shows each item's human ``detail``; the JSON document carries both the code
(``reason``) and the text (``message``). Colour (green ``+``, red ``-``, dim ``=``/``~``/``!``)
only when asked for; :func:`use_color` says whether a stream wants it (a TTY and
``NO_COLOR`` unset, per https://no-color.org). Prints; decides nothing.

:func:`plan_json` is the Plan document of ``schemas/plan.schema.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from controller.observe.state import ObservedState, OpenOrder
from controller.observe.statefile import parse_rfc3339
from controller.plan.bands import (
    Cancellation,
    ForeignOrder,
    Kept,
    MarketPlan,
    Placement,
    Plan,
    PlanWarning,
    ReferenceSkew,
)
from controller.plan.rewards import Estimate
from controller.plan.ticks import format_decimal, format_price

_GREEN, _RED, _DIM, _BOLD, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


class NowError(ValueError):
    """``--now`` is not a usable RFC 3339 timestamp; ``str()`` is a one-line message."""


def use_color(stream: IO[Any]) -> bool:
    """Colour only for a terminal, and never when ``NO_COLOR`` is set (to anything)."""
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


def resolve_now(now_arg: str | None, state: ObservedState) -> datetime:
    """The planning time for ``bandctl diff --state``.

    ``--now`` (RFC 3339 with an offset) wins; else the snapshot's ``time``, so a diff of
    a saved snapshot is reproducible; else, and only here in the CLI's helper, the wall
    clock in UTC (a snapshot without a time is "now" by construction). The planner
    itself never reads a clock. Raises :class:`NowError` for a malformed ``--now``.
    """
    if now_arg is not None:
        try:
            return parse_rfc3339(now_arg.strip())
        except ValueError as exc:
            raise NowError(f"--now: {exc}") from None
    if state.time is not None:
        return state.time if state.time.tzinfo is not None else state.time.replace(tzinfo=UTC)
    return datetime.now(UTC)


def plan_json(plan: Plan) -> str:
    """The Plan document (``schemas/plan.schema.json``), pretty-printed, keys in a fixed order."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False)


def plan_text(plan: Plan, color: bool = False) -> str:
    """Every market's block, then the summary line; ends with a newline."""
    paint = _painter(color)
    lines: list[str] = []
    for market in plan.markets:
        lines.extend(_market_lines(market, paint))
    lines.append(summary(plan))
    return "\n".join(lines) + "\n"


def summary(plan: Plan) -> str:
    to_place, to_cancel, unchanged = plan.counts
    awaiting = sum(1 for m in plan.markets if m.awaiting_cancels)
    tail = f" {awaiting} market(s) may place more once the cancels are confirmed." if awaiting else ""
    if not plan.has_changes:
        return f"No changes. {unchanged} order(s) unchanged.{tail}"
    return f"Plan: {to_place} to place, {to_cancel} to cancel, {unchanged} unchanged.{tail}"


Paint = Callable[[str, str], str]


def _painter(color: bool) -> Paint:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    return paint


def short_id(value: str, keep: int = 6) -> str:
    """``0xf552cc…a598``: enough to recognise, short enough to read."""
    if len(value) <= 2 * keep + 3:
        return value
    head = keep + 2 if value.startswith("0x") else keep
    return f"{value[:head]}…{value[-4:]}"


def _market_lines(m: MarketPlan, paint: Paint) -> list[str]:
    if m.reference_price is not None:
        source = m.reference_source or "price"
        if m.skew is not None:  # the book's price, then how the bands' reference was moved from it
            source = f"{source} {format_price(m.skew.unskewed, m.tick_size)}, {_text(m.skew)}"
        status = f"reference {format_price(m.reference_price, m.tick_size)} ({source})"
    else:
        status = f"not quoting: {m.note}" if m.note else "not quoting"
    lines = [f"{paint(m.name, _BOLD)}  {short_id(m.condition_id)}  {status}"]
    for c in m.cancel:
        parts = [short_id(c.order_id), *([_order_text(m, c.order)] if c.order is not None else []), _text(c)]
        lines.append(paint("  - " + "  ".join(p for p in parts if p), _RED))
    for p in m.place:
        price = format_price(p.price, m.tick_size)
        mark = "  [scores]" if p.scores else ""
        lines.append(
            paint(
                f"  + {p.side:<4} {_outcome(m, p.token_id):<3} {price} × {format_decimal(p.size)}  {_text(p)}{mark}",
                _GREEN,
            )
        )
    kept = {k.order.id: k for k in m.kept}
    foreign = {f.order.id: f for f in m.foreign}
    for order_id in sorted({*m.keep, *foreign}):
        if order_id in foreign:
            f = foreign[order_id]
            lines.append(paint(f"  ~ {short_id(order_id)}  {_order_text(m, f.order)}  {_text(f)}", _DIM))
            continue
        k = kept.get(order_id)
        detail = f"  {_order_text(m, k.order)}  {_text(k)}" if k is not None else ""
        lines.append(paint(f"  = {short_id(order_id)}{detail}", _DIM))
    for warning in m.alerts:
        lines.append(paint(f"  ! {_text(warning)}", _DIM))
    if m.rewards is not None:
        lines.append(f"  $ {rewards_text(m.rewards)}")
    return lines


def rewards_text(r: Estimate) -> str:
    """``rewards (fit): expected score Q_min 26.67 (Q_one 26.67, Q_two 26.67), 2 order(s) scoring, ...``."""
    mode = "fit" if r.fitted else "ignore"
    if r.midpoint is None:
        return f"rewards ({mode}): no scoring midpoint (no level of the min size on a side)"
    q = r.score
    text = (
        f"rewards ({mode}): expected score Q_min {_two(q.q_min)} (Q_one {_two(q.q_one)}, Q_two {_two(q.q_two)}), "
        f"{q.scoring} order(s) scoring around {format_decimal(r.midpoint)}"
    )
    if r.share is not None:
        text += f"; expected share {_two(r.share * 100)}%"
        if r.reward_per_day is not None:
            text += f", about {_two(r.reward_per_day)} per day"
    return text


def _two(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def _text(item: Cancellation | Placement | Kept | ForeignOrder | PlanWarning | ReferenceSkew) -> str:
    """The item's human text; its code when a hand-built plan has none."""
    return item.detail or str(item.reason)


def _order_text(m: MarketPlan, order: OpenOrder) -> str:
    remaining: Decimal = order.remaining
    size = format_decimal(remaining)
    if order.size_matched:
        size = f"{size} (of {format_decimal(order.size)})"
    return f"{order.side:<4} {_outcome(m, order.token_id):<3} {format_price(order.price, m.tick_size)} × {size}"


def _outcome(m: MarketPlan, token_id: str) -> str:
    return short_id(m.outcome(token_id))
