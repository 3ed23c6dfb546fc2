"""Band membership and cancellation: which of the controller's orders stay, which go.

Pure and balance-free: limits and balances never cancel anything, so this module never
sees them. Semantics: ``docs/bands.md`` ("Band membership", "Cancellation").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from controller.observe.state import OpenOrder
from controller.plan import messages
from controller.plan.model import SIDES, Cancellation, QuoteSide
from controller.plan.reasons import CancelReason
from controller.plan.reference import quote_view
from controller.plan.ticks import ZERO
from controller.spec.types import Band, MarketMakerSpec

# Cancellation reason groups, in output order.
PULLED, TOKEN_NOT_IN_MARKET, OUTSIDE, EXCESS = range(4)

CancelKey = tuple[int, int, int, Decimal, str]


@dataclass(frozen=True)
class Classified:
    order: OpenOrder
    side: QuoteSide
    q: Decimal  # bid-equivalent price in the quoted token's terms
    band: int | None  # spec index


def in_band(band: Band, p: Decimal, side: QuoteSide, q: Decimal) -> bool:
    """poly-market-maker's membership test: (p - max, p - min] for bids, mirrored for asks."""
    if side == "bid":
        return p - band.max_margin < q <= p - band.min_margin
    return p + band.min_margin <= q < p + band.max_margin


def band_positions(bands: Sequence[Band]) -> tuple[int, ...]:
    """Band indexes from closest to p to furthest (by minMargin, then maxMargin, index)."""
    return tuple(sorted(range(len(bands)), key=lambda i: (bands[i].min_margin, bands[i].max_margin, i)))


def classify(
    spec: MarketMakerSpec, p: Decimal, orders: Sequence[OpenOrder]
) -> tuple[tuple[Cancellation, ...], tuple[Classified, ...]]:
    """(cancellations in output order, kept orders sorted by id) for the controller's ``orders``."""
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    positions = band_positions(spec.bands)
    cancels: list[tuple[CancelKey, Cancellation]] = []
    classified: list[Classified] = []
    for order in orders:
        view = quote_view(order, quoted, complement)
        if view is None:
            key = (TOKEN_NOT_IN_MARKET, -1, 0, order.price, order.id)
            why = messages.token_not_in_market()
            cancels.append((key, Cancellation(order.id, CancelReason.TOKEN_NOT_IN_MARKET, why, order)))
            continue
        side, q = view
        band = next((i for i in positions if in_band(spec.bands[i], p, side, q)), None)
        classified.append(Classified(order, side, q, band))
    for c in classified:
        if c.band is None:
            key = (OUTSIDE, -1, SIDES.index(c.side), c.q, c.order.id)
            why = messages.outside_bands()
            cancels.append((key, Cancellation(c.order.id, CancelReason.OUTSIDE_BANDS, why, c.order)))
    for side in SIDES:
        members = [c for c in classified if c.side == side and c.band is not None]
        for c, why in excess(spec.bands, p, members):
            assert c.band is not None
            key = (EXCESS, c.band, SIDES.index(side), c.q, c.order.id)
            cancels.append((key, Cancellation(c.order.id, CancelReason.OVER_MAX_AMOUNT, why, c.order)))
    cancelled_ids = {c.order_id for _, c in cancels}
    kept = sorted((c for c in classified if c.order.id not in cancelled_ids), key=lambda c: c.order.id)
    return tuple(c for _, c in sorted(cancels, key=lambda item: item[0])), tuple(kept)


def excess(bands: Sequence[Band], p: Decimal, members: list[Classified]) -> list[tuple[Classified, str]]:
    """(order, detail) to cancel so that no band of one side holds more than its maxAmount."""
    positions = band_positions(bands)
    result: list[tuple[Classified, str]] = []
    for rank, index in enumerate(positions):
        band = bands[index]
        in_this = [c for c in members if c.band == index]
        total = sum((c.order.remaining for c in in_this), ZERO)
        if total <= band.max_amount:
            continue
        if rank == 0:  # first band: closest to p first
            queue = sorted(in_this, key=lambda c: (abs(c.q - p), c.order.id))
        elif rank == len(positions) - 1:  # last band: furthest first
            queue = sorted(in_this, key=lambda c: (-abs(c.q - p), c.order.id))
        else:  # middle bands: smallest first
            queue = sorted(in_this, key=lambda c: (c.order.remaining, c.order.id))
        why = messages.over_max_amount(index, in_this[0].side, total, band.max_amount)
        for c in queue:
            if total <= band.max_amount:
                break
            result.append((c, why))
            total -= c.order.remaining
    return result
