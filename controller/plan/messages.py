"""The human text of each planner decision (the ``detail`` next to a reason code).

Wording lives here alone, so it can change without touching a decision: nothing may
branch on these strings (use the codes in ``controller.plan.reasons``). Planner modules
call these through the module (``messages.outside_bands()``) so a test can swap one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from controller.plan.ticks import format_decimal as _d

# -- cancels ------------------------------------------------------------------------------


def outside_bands() -> str:
    return "outside every band"


def over_max_amount(band: int, side: str, total: Decimal, max_amount: Decimal) -> str:
    return f"band {band} {side}s hold {_d(total)} > maxAmount {_d(max_amount)}"


def token_not_in_market() -> str:
    return "token not in this market"


# -- pulled markets (also the text of their cancels) --------------------------------------


def paused() -> str:
    return "paused"


def not_started(start: datetime) -> str:
    return f"outside schedule: starts at {_iso(start)}"


def ended(end: datetime) -> str:
    return f"outside schedule: ended at {_iso(end)}"


def market_not_in_state() -> str:
    return "market not in state"


def held(why: str) -> str:
    return why


def end_of_market(end: datetime, stop_before: timedelta) -> str:
    return f"the market ends at {_iso(end)}: quoting stops {stop_before} before"


def stale_market_data(why: str) -> str:
    return f"market data stale: {why}"


def no_reference_price(why: str) -> str:
    return f"no reference price: {why}"


def already_managed(owner: str) -> str:
    return f"market already managed by {owner}; this spec is ignored"


# -- placements and keeps -----------------------------------------------------------------


def below_min_amount(side: str, band: int, amount: Decimal, min_amount: Decimal, avg_amount: Decimal) -> str:
    return f"{side} band {band}: {_d(amount)} < minAmount {_d(min_amount)}, target avgAmount {_d(avg_amount)}"


def held_inventory(text: str) -> str:
    """A placement that sells inventory the account holds rather than buying."""
    return f"{text} (held inventory)"


def in_band(side: str, band: int) -> str:
    return f"{side} band {band}"


def foreign() -> str:
    return "foreign (ownership: shared)"


def skewed_target(text: str) -> str:
    """A placement on the side that adds to the position, sized down by inventory skew."""
    return f"{text} (sized down for inventory skew)"


def inventory_skew(ticks: int, position: Decimal, max_position: Decimal, adding_side: str, factor: Decimal) -> str:
    return (
        f"skewed {ticks:+d} tick(s) for position {_d(position)} of maxPosition {_d(max_position)}, "
        f"{adding_side} side sized x{_d(factor.quantize(Decimal('0.01')))}"
    )


# -- warnings -----------------------------------------------------------------------------


def reduce_only(side: str) -> str:
    return f"{side} side: reduce-only before the market's end (risk.reduceOnlyBefore): it would add to the position"


def no_price_in_band(side: str, band: int) -> str:
    return f"{side} band {band}: no tick-grid price inside the band that does not cross the book"


def max_position_reached(side: str, band: int, max_position: Decimal) -> str:
    return f"{side} band {band}: maxPosition {_d(max_position)} reached"


def below_min_order_size(side: str, band: int, short_by: Decimal, min_size: Decimal) -> str:
    return (
        f"{side} band {band}: short by {_d(short_by)} but the minimum order size {_d(min_size)} "
        "does not fit under maxAmount"
    )


def insufficient_balance(
    side: str, band: int, wanted: Decimal, collateral: Decimal, outcome: str, inventory: Decimal
) -> str:
    return (
        f"{side} band {band}: not enough free balance for {_d(wanted)} "
        f"(free collateral {_d(collateral)}, free {outcome} {_d(inventory)})"
    )


def max_collateral_reached(side: str, band: int, wanted: Decimal, max_collateral: Decimal) -> str:
    return f"{side} band {band}: maxCollateral {_d(max_collateral)} leaves no room for {_d(wanted)}"


def size_capped(side: str, band: int, placed: Decimal, wanted: Decimal) -> str:
    return f"{side} band {band}: placing {_d(placed)} of {_d(wanted)}, capped by balance or limits"


def tick_size_not_on_grid(override: Decimal, market_tick: Decimal) -> str:
    return f"tickSize {_d(override)} is not on the market's {_d(market_tick)} grid; using the market's"


def _iso(value: datetime) -> str:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
