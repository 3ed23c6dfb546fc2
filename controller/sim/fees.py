"""Taker fees and maker rebates: the amounts one match moves, by the market's fee schedule.

Polymarket charges takers only: ``fee = shares x rate x (p(1 - p))^exponent`` at the
trade price p, rounded to 5 decimals of collateral; makers pay nothing and receive
``rebateRate`` of the fees of the matches they were in (a per-market daily pool split by
each maker's fee-equivalent volume, which for one-maker fills is the fill's own fee).
Pure arithmetic on integer micro-units; the engine applies it, ``rewards`` pays rebates.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .config import PRICE_SCALE, FeeSchedule

FEE_QUANTUM = 10  # micro-units: fees are rounded to 5 decimals of collateral


def taker_fee(shares_micro: int, token_price: int, schedule: FeeSchedule | None) -> int:
    """The taker's fee for ``shares_micro`` matched at ``token_price`` (price units), in micro."""
    if schedule is None or schedule.rate <= 0 or shares_micro <= 0:
        return 0
    p = Decimal(token_price) / PRICE_SCALE
    raw = Decimal(shares_micro) * schedule.rate * (p * (1 - p)) ** schedule.exponent
    return int((raw / FEE_QUANTUM).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * FEE_QUANTUM


def max_taker_fee(shares_micro: int, schedule: FeeSchedule | None) -> int:
    """An upper bound for any price (p(1-p) <= 1/4): what a marketable BUY must also be able to pay."""
    if schedule is None or schedule.rate <= 0:
        return 0
    bound = Decimal(shares_micro) * schedule.rate * Decimal("0.25") ** schedule.exponent
    return int(-(-bound // FEE_QUANTUM)) * FEE_QUANTUM + FEE_QUANTUM


def maker_rebate(fee_micro: int, schedule: FeeSchedule | None) -> Decimal:
    """The maker's share of one match's fee (micro, exact; paid rounded down per day)."""
    if schedule is None or fee_micro <= 0:
        return Decimal(0)
    return Decimal(fee_micro) * schedule.rebate_rate


def fee_rate_bps(schedule: FeeSchedule | None) -> str:
    """The schedule's rate as the ``fee_rate_bps`` string trades carry ("700" for 0.07)."""
    if schedule is None:
        return "0"
    return str(int((schedule.rate * 10_000).to_integral_value(rounding=ROUND_HALF_UP)))
