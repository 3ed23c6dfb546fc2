"""Placements: new orders that bring every band below minAmount back to its target.

Pure. The only module that looks at balances and limits, and they only cap or skip
placements, never cancel. Semantics: ``docs/bands.md`` ("Placement", "Balances and
limits").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from controller.observe.state import Book, MarketState, ObservedState, OpenOrder
from controller.plan.classify import Classified, band_positions
from controller.plan.model import SIDES, Placement, QuoteSide
from controller.plan.reference import quote_view, without_orders
from controller.plan.ticks import (
    ONE,
    SIZE_QUANTUM,
    ZERO,
    format_decimal,
    round_away,
    round_down,
    round_size_down,
    round_up,
)
from controller.spec.types import Band, MarketMakerSpec


@dataclass
class Ledger:
    """What earlier placements of this plan commit (local, mutable bookkeeping)."""

    collateral: Decimal = ZERO
    tokens: dict[str, Decimal] = field(default_factory=dict)

    def copy(self) -> Ledger:
        return Ledger(self.collateral, dict(self.tokens))


@dataclass(frozen=True)
class Context:
    """One market's decided inputs to placement (phase 1's result)."""

    spec: MarketMakerSpec
    state: ObservedState
    market: MarketState
    p: Decimal
    tick: Decimal
    min_size: Decimal
    orders: tuple[OpenOrder, ...]  # this market's
    kept: tuple[Classified, ...]


def new_orders(ctx: Context, ledger: Ledger, released: frozenset[str]) -> tuple[list[Placement], list[str]]:
    """New orders for every band below minAmount; orders in ``released`` count as gone."""
    spec, state = ctx.spec, ctx.state
    quoted, complement = spec.market.quoted_token, spec.market.complement_token

    def live(order: OpenOrder) -> bool:
        return order.id not in released

    # Free balances: every open order locks, unless released.
    all_live = [o for o in state.orders if live(o)]
    free_collateral = state.balances.collateral - sum((o.locked_collateral for o in all_live), ZERO)
    locked_tokens: dict[str, Decimal] = {}
    for o in all_live:
        if o.side == "SELL":
            locked_tokens[o.token_id] = locked_tokens.get(o.token_id, ZERO) + o.remaining
    market_live = [o for o in ctx.orders if live(o)]
    market_buys = sum((o.locked_collateral for o in market_live), ZERO)
    exposure = {"bid": ZERO, "ask": ZERO}
    for o in market_live:
        view = quote_view(o, quoted, complement)
        if view is not None:
            exposure[view[0]] += o.remaining
    position = state.balances.token(quoted) - state.balances.token(complement)

    # The real book (everyone's orders, ours included) for the post-only check.
    book = _crossing_book(ctx, [o for o in ctx.orders if not live(o)])
    best_bid = book.best_bid
    best_ask = book.best_ask
    # Never cross our own quotes either (a self-trade, post-only or not): kept orders and
    # what this plan places before (bids are placed first, so asks stay above them).
    own = {"bid": [c.q for c in ctx.kept if c.side == "bid"], "ask": [c.q for c in ctx.kept if c.side == "ask"]}

    amounts: dict[tuple[QuoteSide, int], Decimal] = {}
    for c in ctx.kept:
        if c.band is not None:
            amounts[(c.side, c.band)] = amounts.get((c.side, c.band), ZERO) + c.order.remaining

    placements: list[Placement] = []
    warnings: list[str] = []
    new_buys = ZERO
    floor = max(ctx.min_size, SIZE_QUANTUM)  # the smallest order worth sending
    for side in SIDES:
        for index in band_positions(spec.bands):
            band = spec.bands[index]
            amount = amounts.get((side, index), ZERO)
            if amount >= band.min_amount:
                continue
            label = f"{side} band {index}"
            price = _band_price(
                ctx, band, side, best_bid, best_ask, max(own["bid"], default=None), min(own["ask"], default=None)
            )
            if price is None:
                warnings.append(f"{label}: no tick-grid price inside the band that does not cross the book")
                continue
            need = round_size_down(band.avg_amount - amount)
            room = band.max_amount - amount  # never push the band over maxAmount
            if spec.limits.max_position is not None:
                if side == "bid":
                    position_room = spec.limits.max_position - (position + exposure["bid"])
                else:
                    position_room = spec.limits.max_position + position - exposure["ask"]
                if position_room < floor:
                    warnings.append(f"{label}: maxPosition {format_decimal(spec.limits.max_position)} reached")
                    continue
                room = min(room, position_room)
            room = round_size_down(room)
            if room < floor or need <= 0:
                warnings.append(
                    f"{label}: short by {format_decimal(band.avg_amount - amount)} but the minimum order size "
                    f"{format_decimal(ctx.min_size)} does not fit under maxAmount"
                )
                continue

            sell_token, buy_token = (complement, quoted) if side == "bid" else (quoted, complement)
            sell_price = ONE - price if side == "bid" else price
            buy_price = price if side == "bid" else ONE - price
            inventory = state.balances.token(sell_token) - locked_tokens.get(sell_token, ZERO)
            inventory -= ledger.tokens.get(sell_token, ZERO)
            collateral = free_collateral - ledger.collateral
            buy_cap = round_size_down(collateral / buy_price)
            if spec.limits.max_collateral is not None:
                collateral_room = spec.limits.max_collateral - market_buys - new_buys
                buy_cap = min(buy_cap, round_size_down(collateral_room / buy_price))
            sell, buy = _split(need, room, round_size_down(inventory), buy_cap, floor)
            if sell <= 0 and buy <= 0:
                warnings.append(
                    f"{label}: not enough free balance for {format_decimal(min(need, room))} "
                    f"(free collateral {format_decimal(max(collateral, ZERO))}, "
                    f"free {_outcome(spec, sell_token)} {format_decimal(max(inventory, ZERO))})"
                )
                continue
            why = (
                f"{label}: {format_decimal(amount)} < minAmount {format_decimal(band.min_amount)}, "
                f"target avgAmount {format_decimal(band.avg_amount)}"
            )
            if sell > 0:
                placements.append(
                    Placement(sell_token, "SELL", sell_price, sell, index, f"{why} (held inventory)", side)
                )
                ledger.tokens[sell_token] = ledger.tokens.get(sell_token, ZERO) + sell
            if buy > 0:
                placements.append(Placement(buy_token, "BUY", buy_price, buy, index, why, side))
                ledger.collateral += buy * buy_price
                new_buys += buy * buy_price
            exposure[side] += sell + buy
            own[side].append(price)
            if sell + buy < need:
                warnings.append(
                    f"{label}: placing {format_decimal(sell + buy)} of {format_decimal(need)}, "
                    "capped by balance or limits"
                )
    return placements, warnings


def _outcome(spec: MarketMakerSpec, token: str) -> str:
    return "YES" if token == spec.market.yes_token else "NO"


def _crossing_book(ctx: Context, released: list[OpenOrder]) -> Book:
    """Best levels of the real quoted book, merged with the mirrored complement book."""
    quoted, complement = ctx.spec.market.quoted_token, ctx.spec.market.complement_token
    views = []
    if quoted in ctx.market.books:
        views.append(ctx.market.books[quoted])
    if complement in ctx.market.books:
        views.append(ctx.market.books[complement].mirrored())
    bids = [lv for b in views for lv in without_orders(b, released, quoted, complement).bids[:1]]
    asks = [lv for b in views for lv in without_orders(b, released, quoted, complement).asks[:1]]
    return Book.from_levels(bids, asks)


def _band_price(
    ctx: Context,
    band: Band,
    side: QuoteSide,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
    own_bid: Decimal | None,
    own_ask: Decimal | None,
) -> Decimal | None:
    """p -/+ avgMargin rounded away from p, moved into the band / price range / non-crossing."""
    p, tick = ctx.p, ctx.tick
    post_only = ctx.spec.orders.post_only
    if side == "bid":
        wanted = round_away(p - band.avg_margin, p, tick)
        low = round_down(p - band.max_margin, tick) + tick  # smallest grid price > p - max
        high = round_down(p - band.min_margin, tick)
        for ask in (best_ask if post_only else None, own_ask):
            if ask is not None:
                high = min(high, round_up(ask, tick) - tick)  # largest grid price < the ask
    else:
        wanted = round_away(p + band.avg_margin, p, tick)
        low = round_up(p + band.min_margin, tick)
        high = round_up(p + band.max_margin, tick) - tick  # largest grid price < p + max
        for bid in (best_bid if post_only else None, own_bid):
            if bid is not None:
                low = max(low, round_down(bid, tick) + tick)  # smallest grid price > the bid
    low, high = max(low, tick), min(high, ONE - tick)
    if low > high:
        return None
    return min(max(wanted, low), high)


def _split(
    need: Decimal, room: Decimal, inventory: Decimal, buy_cap: Decimal, floor: Decimal
) -> tuple[Decimal, Decimal]:
    """(sell, buy) sizes for one band: held inventory first, collateral for the rest.

    Each part is 0 or >= ``floor`` (the minimum order size) and the total stays within
    ``room`` (band maxAmount / maxPosition headroom). A part below the minimum is first
    made valid by shortening the SELL (total unchanged), else raised to the minimum when
    the room and balance allow (a band short by less than one minimum order would
    otherwise never be refilled), else dropped.
    """

    def fit(wanted: Decimal, cap: Decimal, room_left: Decimal) -> Decimal:
        size = min(wanted, cap, room_left)
        if size >= floor:
            return size
        return floor if wanted > 0 and cap >= floor and room_left >= floor else ZERO

    need = min(need, room)
    sell = fit(need, inventory, room)
    rest = need - sell
    if sell > 0 and ZERO < rest < floor <= buy_cap and sell - (floor - rest) >= floor:
        return sell - (floor - rest), floor
    buy = fit(rest, buy_cap, room - sell) if rest > 0 else ZERO
    return sell, buy
