"""The reference price p, read from the book with our own resting orders taken out.

Also the YES/NO binary equivalence every other planner module uses to see an order in
the quoted token's terms (:func:`quote_view`). Pure; decides nothing about orders.
Semantics: ``docs/bands.md`` ("Reference price", "Sides and binary equivalence").
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

from controller.observe.state import Book, BookSide, Level, MarketState, OpenOrder
from controller.plan.model import QuoteSide
from controller.plan.ticks import ONE, format_decimal
from controller.spec.types import MarketMakerSpec

_MICROPRICE_QUANTUM = Decimal("0.000001")
_ZERO = Decimal(0)


def reference_price(
    spec: MarketMakerSpec, market_state: MarketState, own_orders: Iterable[OpenOrder]
) -> tuple[Decimal | None, str]:
    """(p, description) or (None, why there is none), from the book without our orders."""
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    full = quoted_book(market_state, quoted, complement)
    if full is None:
        return None, "no book for the quoted token"
    book = without_orders(full, own_orders, quoted, complement)
    if not book.bids or not book.asks:
        empty = " and ".join(s for s, levels in (("bids", book.bids), ("asks", book.asks)) if not levels)
        return None, f"no {empty} besides our own orders"
    bid, ask = book.bids[0], book.asks[0]
    if bid.price >= ask.price:
        return None, f"book is crossed (bid {format_decimal(bid.price)} >= ask {format_decimal(ask.price)})"
    spread = ask.price - bid.price
    max_spread = spec.reference_price.max_spread
    if spread > max_spread:
        return None, f"spread {format_decimal(spread)} > maxSpread {format_decimal(max_spread)}"
    source = spec.reference_price.source
    if source == "microprice":
        weighted = (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)
        return weighted.quantize(_MICROPRICE_QUANTUM, rounding=ROUND_HALF_EVEN), "microprice"
    if source == "last_trade":
        last = _last_trade(spec, market_state)
        if last is None:
            return None, "no last trade price"
        return last, "last trade"
    return (bid.price + ask.price) / 2, "midpoint"


def quoted_book(market_state: MarketState, quoted: str, complement: str) -> Book | None:
    """The quoted token's book, or the mirror of the complement's if only that is known."""
    if quoted in market_state.books:
        return market_state.books[quoted]
    if complement in market_state.books:
        return market_state.books[complement].mirrored()
    return None


def quote_view(order: OpenOrder, quoted: str, complement: str) -> tuple[QuoteSide, Decimal] | None:
    """(side, bid-equivalent price) of an order in the quoted token's terms, or None."""
    if order.token_id == quoted:
        return ("bid" if order.side == "BUY" else "ask"), order.price
    if order.token_id == complement:
        return ("ask" if order.side == "BUY" else "bid"), ONE - order.price
    return None


def without_orders(book: Book, orders: Iterable[OpenOrder], quoted: str, complement: str) -> Book:
    """``book`` (the quoted token's) minus the remaining size of ``orders``, clamped at zero."""
    # One pass over the book, whatever the number of orders: this runs on every stream
    # message (the trigger check) and in every plan.
    cut: dict[BookSide, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}
    for order in orders:
        view = quote_view(order, quoted, complement)
        if view is None or order.remaining <= 0:
            continue
        side, q = view
        levels = cut[book_side(side)]
        levels[q] = levels.get(q, _ZERO) + order.remaining
    if not cut["bids"] and not cut["asks"]:
        return book
    return Book(
        bids=_cut(book.bids, cut["bids"]), asks=_cut(book.asks, cut["asks"]), last_trade_price=book.last_trade_price
    )


def _cut(levels: tuple[Level, ...], cut: dict[Decimal, Decimal]) -> tuple[Level, ...]:
    if not cut:
        return levels
    out = []
    for level in levels:
        less = cut.get(level.price)
        if less is None:
            out.append(level)
        elif level.size > less:
            out.append(Level(level.price, level.size - less))
    return tuple(out)


def book_side(side: QuoteSide) -> BookSide:
    return "bids" if side == "bid" else "asks"


def _last_trade(spec: MarketMakerSpec, market: MarketState) -> Decimal | None:
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    own = market.books.get(quoted)
    if own is not None and own.last_trade_price is not None:
        return own.last_trade_price
    other = market.books.get(complement)
    if other is not None and other.last_trade_price is not None:
        return ONE - other.last_trade_price
    if market.last_trade_price is None:
        return None
    return market.last_trade_price if spec.market.quote == "yes" else ONE - market.last_trade_price
