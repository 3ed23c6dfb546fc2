"""A model of "the exchange did exactly that": the observed state after a plan executes.

Pure, and only for tests, ``diff`` round trips and benchmarks: the live controller
learns the real outcome from the exchange, never from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from controller.observe.state import BookSide, MarketState, ObservedState, OpenOrder
from controller.plan.model import Placement, Plan
from controller.plan.ticks import ONE


def apply_plan(state: ObservedState, plan: Plan, *, ids: Iterable[str] | None = None) -> ObservedState:
    """The state after the exchange executed ``plan`` exactly (pure).

    Cancelled orders disappear, placed orders appear with ids from ``ids`` (or
    deterministic synthetic ``0x…`` ids), and both are reflected in the books (the
    order's own token and, mirrored, its complement if that book is present). Balance
    totals are unchanged: resting orders lock balance, they do not spend it. The new
    ids join ``placed_ids`` and the cancelled ones leave it, as the controller records
    what it placed (``ownership: shared`` markets read that back).
    """
    tokens = {m.condition_id: (m.yes_token, m.no_token) for m in plan.markets if m.yes_token}
    cancelled = {c.order_id for m in plan.markets for c in m.cancel}
    markets = dict(state.markets)
    orders: list[OpenOrder] = []
    for order in state.orders:
        if order.id in cancelled:
            _rest(markets, tokens, order, -order.remaining)
        else:
            orders.append(order)
    taken = {o.id for o in state.orders}
    placed = set(state.placed_ids - cancelled)
    supplied = iter(ids) if ids is not None else None
    for market in plan.markets:
        for index, placement in enumerate(market.place):
            if supplied is not None:
                order_id = next(supplied)
                if order_id in taken:
                    raise ValueError(f"order id {order_id!r} is already in use")
            else:
                order_id = _synthetic_id(market.condition_id, index, placement, taken)
            taken.add(order_id)
            placed.add(order_id)
            order = OpenOrder(
                id=order_id,
                market=market.condition_id,
                token_id=placement.token_id,
                side=placement.side,
                price=placement.price,
                size=placement.size,
            )
            orders.append(order)
            _rest(markets, tokens, order, order.remaining)
    return replace(state, markets=markets, orders=tuple(orders), placed_ids=frozenset(placed))


def _rest(
    markets: dict[str, MarketState], tokens: dict[str, tuple[str, str]], order: OpenOrder, delta: Decimal
) -> None:
    market = markets.get(order.market)
    if market is None or delta == 0:
        return
    books = dict(market.books)
    own_side: BookSide = "bids" if order.side == "BUY" else "asks"
    if order.token_id in books:
        books[order.token_id] = books[order.token_id].adjusted(own_side, order.price, delta)
    pair = tokens.get(order.market)
    if pair is not None and order.token_id in pair:
        other = pair[1] if order.token_id == pair[0] else pair[0]
        if other in books:
            mirror_side: BookSide = "asks" if own_side == "bids" else "bids"
            books[other] = books[other].adjusted(mirror_side, ONE - order.price, delta)
    markets[order.market] = replace(market, books=books)


def _synthetic_id(condition_id: str, index: int, p: Placement, taken: set[str]) -> str:
    salt = 0
    while True:
        text = f"{condition_id}|{index}|{p.token_id}|{p.side}|{p.price}|{p.size}|{salt}"
        candidate = "0x" + hashlib.sha256(text.encode()).hexdigest()
        if candidate not in taken:
            return candidate
        salt += 1
