"""Placements: new orders that bring every band below minAmount back to its target.

Pure. The only module that looks at balances and limits, and they only cap or skip
placements, never cancel. Semantics: ``docs/bands.md`` ("Placement", "Balances and
limits").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from controller.observe.state import Book, MarketState, ObservedState, OpenOrder
from controller.plan import messages
from controller.plan.classify import Classified, band_positions
from controller.plan.model import SIDES, Placement, PlanWarning, QuoteSide, ReferenceSkew
from controller.plan.reasons import PlaceReason, WarningReason
from controller.plan.reference import quote_view, without_orders
from controller.plan.ticks import (
    ONE,
    SIZE_QUANTUM,
    ZERO,
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
    orders: tuple[OpenOrder, ...]  # the controller's orders of this market
    kept: tuple[Classified, ...]
    foreign: tuple[OpenOrder, ...] = ()  # this market's orders that are not the controller's
    skew: ReferenceSkew | None = None  # sizes the side that adds to the position down
    unfit: frozenset[int] = frozenset()  # bands that place nothing (rewards fit: they cannot score)
    reduce_only: frozenset[QuoteSide] = frozenset()  # sides that would add to the position (risk.reduceOnlyBefore)


def new_orders(ctx: Context, ledger: Ledger, released: frozenset[str]) -> tuple[list[Placement], list[PlanWarning]]:
    """New orders for every band below minAmount; orders in ``released`` count as gone."""
    spec, state = ctx.spec, ctx.state
    quoted, complement = spec.market.quoted_token, spec.market.complement_token

    def live(order: OpenOrder) -> bool:
        return order.id not in released

    # Free balances: every open order of the account locks (foreign ones too), unless released.
    # Orders outside the snapshot come as one ledger total (``locked_elsewhere``): only the
    # snapshot's own orders are walked, so a plan's cost does not grow with other markets.
    elsewhere = state.locked_elsewhere
    all_live = [o for o in state.orders if live(o)]
    free_collateral = state.balances.collateral - sum((o.locked_collateral for o in all_live), elsewhere.collateral)
    locked_tokens: dict[str, Decimal] = {}
    for o in all_live:
        if o.side == "SELL":
            locked_tokens[o.token_id] = locked_tokens.get(o.token_id, ZERO) + o.remaining
    # Limits measure what the controller commits: its own orders of this market.
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
    # Never cross the account's own quotes either (a self-trade, post-only or not): kept
    # orders, foreign ones (same account) and what this plan places before (bids first).
    own: dict[QuoteSide, list[Decimal]] = {"bid": [], "ask": []}
    for c in ctx.kept:
        own[c.side].append(c.q)
    for o in ctx.foreign:
        view = quote_view(o, quoted, complement)
        if view is not None and o.remaining > 0:
            own[view[0]].append(view[1])

    amounts: dict[tuple[QuoteSide, int], Decimal] = {}
    for c in ctx.kept:
        if c.band is not None:
            amounts[(c.side, c.band)] = amounts.get((c.side, c.band), ZERO) + c.order.remaining

    placements: list[Placement] = []
    warnings: list[PlanWarning] = []
    new_buys = ZERO
    floor = max(ctx.min_size, SIZE_QUANTUM)  # the smallest order worth sending
    for side in SIDES:
        if side in ctx.reduce_only:
            warnings.append(PlanWarning(WarningReason.REDUCE_ONLY, messages.reduce_only(side), side, None))
            continue
        for index in band_positions(spec.bands):
            band = spec.bands[index]
            if index in ctx.unfit:
                continue
            amount = amounts.get((side, index), ZERO)
            min_amount, avg_amount, sized_down = _targets(ctx.skew, side, band)

            def warn(reason: WarningReason, detail: str) -> None:
                warnings.append(PlanWarning(reason, detail, side, index))  # noqa: B023 - called at once

            if sized_down and min_amount == 0 and amount < band.min_amount and spec.limits.max_position is not None:
                # Skew at the limit: this side would only add to the position.
                warn(WarningReason.MAX_POSITION, messages.max_position_reached(side, index, spec.limits.max_position))
                continue
            if amount >= min_amount:
                continue

            price = _band_price(
                ctx, band, side, best_bid, best_ask, max(own["bid"], default=None), min(own["ask"], default=None)
            )
            if price is None:
                warn(WarningReason.NO_PRICE_IN_BAND, messages.no_price_in_band(side, index))
                continue
            need = round_size_down(avg_amount - amount)
            room = band.max_amount - amount  # never push the band over maxAmount
            if spec.limits.max_position is not None:
                if side == "bid":
                    position_room = spec.limits.max_position - (position + exposure["bid"])
                else:
                    position_room = spec.limits.max_position + position - exposure["ask"]
                if position_room < floor:
                    warn(
                        WarningReason.MAX_POSITION,
                        messages.max_position_reached(side, index, spec.limits.max_position),
                    )
                    continue
                room = min(room, position_room)
            room = round_size_down(room)
            if room < floor or need <= 0:
                warn(
                    WarningReason.BELOW_MIN_ORDER_SIZE,
                    messages.below_min_order_size(side, index, avg_amount - amount, ctx.min_size),
                )
                continue

            sell_token, buy_token = (complement, quoted) if side == "bid" else (quoted, complement)
            sell_price = ONE - price if side == "bid" else price
            buy_price = price if side == "bid" else ONE - price
            inventory = state.balances.token(sell_token) - locked_tokens.get(sell_token, ZERO)
            inventory -= elsewhere.token(sell_token)
            inventory -= ledger.tokens.get(sell_token, ZERO)
            collateral = free_collateral - ledger.collateral
            balance_cap = round_size_down(collateral / buy_price)
            buy_cap = balance_cap
            if spec.limits.max_collateral is not None:
                collateral_room = spec.limits.max_collateral - market_buys - new_buys
                buy_cap = min(buy_cap, round_size_down(collateral_room / buy_price))
            sell, buy = _split(need, room, round_size_down(inventory), buy_cap, floor)
            if sell <= 0 and buy <= 0:
                wanted = min(need, room)
                if spec.limits.max_collateral is not None and buy_cap < floor <= balance_cap:
                    warn(
                        WarningReason.MAX_COLLATERAL,
                        messages.max_collateral_reached(side, index, wanted, spec.limits.max_collateral),
                    )
                else:
                    warn(
                        WarningReason.INSUFFICIENT_BALANCE,
                        messages.insufficient_balance(
                            side,
                            index,
                            wanted,
                            max(collateral, ZERO),
                            _outcome(spec, sell_token),
                            max(inventory, ZERO),
                        ),
                    )
                continue
            why = messages.below_min_amount(side, index, amount, min_amount, avg_amount)
            if sized_down:
                why = messages.skewed_target(why)
            reason = PlaceReason.BELOW_MIN_AMOUNT
            if sell > 0:
                held = messages.held_inventory(why)
                placements.append(Placement(sell_token, "SELL", sell_price, sell, index, reason, held, side))
                ledger.tokens[sell_token] = ledger.tokens.get(sell_token, ZERO) + sell
            if buy > 0:
                placements.append(Placement(buy_token, "BUY", buy_price, buy, index, reason, why, side))
                ledger.collateral += buy * buy_price
                new_buys += buy * buy_price
            exposure[side] += sell + buy
            own[side].append(price)
            if sell + buy < need:
                warn(WarningReason.SIZE_CAPPED, messages.size_capped(side, index, sell + buy, need))
    return placements, warnings


def _targets(skew: ReferenceSkew | None, side: QuoteSide, band: Band) -> tuple[Decimal, Decimal, bool]:
    """(minAmount, avgAmount, sized down) of a band on one side: inventory skew shrinks the
    side that adds to the position (docs/bands.md, "Inventory skew")."""
    if skew is None or skew.adding_side != side:
        return band.min_amount, band.avg_amount, False
    return band.min_amount * skew.size_factor, round_size_down(band.avg_amount * skew.size_factor), True


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
    cut = [without_orders(b, released, quoted, complement) for b in views]
    return Book.from_levels([lv for b in cut for lv in b.bids[:1]], [lv for b in cut for lv in b.asks[:1]])


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
