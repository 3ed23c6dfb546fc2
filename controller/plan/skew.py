"""Inventory skew (``spec.risk.skew``): lean the quotes against the position.

Pure. Given the reference price and the account's position it says how far the
reference moves and how much the side that adds to the position shrinks; it never
cancels or places anything itself. Semantics: ``docs/bands.md`` ("Inventory skew").
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from controller.observe.state import ObservedState
from controller.plan import messages
from controller.plan.model import QuoteSide, ReferenceSkew
from controller.plan.ticks import ONE
from controller.spec.types import MarketMakerSpec

_RATIO_QUANTUM = Decimal("0.000001")


def inventory_skew(spec: MarketMakerSpec, state: ObservedState, p: Decimal, tick: Decimal) -> ReferenceSkew | None:
    """The skew to apply to reference ``p`` on the ``tick`` grid, or None when there is none.

    ratio = position / maxPosition, clamped to [-1, 1]; the reference moves by
    ``round(maxTicks * ratio)`` ticks (halves away from zero) against the position and
    stays within [tick, 1 - tick]; the adding side's target amounts scale by 1 - |ratio|,
    so at the limit only the reducing side is quoted.
    """
    skew, max_position = spec.risk.skew, spec.limits.max_position
    if skew is None or max_position is None or max_position <= 0:
        return None
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    position = state.balances.token(quoted) - state.balances.token(complement)
    if position == 0:
        return None
    # A finite ratio (1e-6, toward zero) keeps every derived amount reproducible.
    ratio = min(max(position / max_position, -ONE), ONE).quantize(_RATIO_QUANTUM, rounding=ROUND_DOWN)
    ticks = -int((skew.max_ticks * ratio).to_integral_value(rounding=ROUND_HALF_UP))
    skewed = min(max(p + ticks * tick, tick), ONE - tick)
    adding: QuoteSide = "bid" if position > 0 else "ask"
    factor = ONE - abs(ratio)
    return ReferenceSkew(
        price=skewed,
        unskewed=p,
        ticks=ticks,
        adding_side=adding,
        size_factor=factor,
        detail=messages.inventory_skew(ticks, position, max_position, adding, factor),
    )
