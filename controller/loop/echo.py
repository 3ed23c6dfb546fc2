"""Our cancelled orders that the stream's book may still show, taken out before planning.

Why: the exchange answers a cancel before our market stream has delivered the book
update that removes the order. A reconcile in that gap sees the order gone from our
open orders but still in the book, takes it for someone else's liquidity, and plans
around a wrong reference price (after a 2-tick move, a cancelled bid at the new mid
moved the reference by a tick and cost two extra reconciles with changes).

Until the book shows the removal (its level at that price holds less than the order's
size) or ``window`` seconds pass, the order's size is taken out of the planner's copy of
the book. Pure bookkeeping under a lock; it sends nothing and decides nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

from controller.observe.state import Book, BookSide, MarketState, OpenOrder

ECHO_WINDOW_SECONDS = 0.5
ONE = Decimal(1)


class CancelEcho:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = ECHO_WINDOW_SECONDS) -> None:
        self._clock, self._window = clock, window
        self._lock = threading.Lock()
        self._orders: dict[str, list[tuple[float, OpenOrder]]] = {}  # market -> (when, order)

    def record(self, orders: Iterable[OpenOrder]) -> None:
        now = self._clock()
        with self._lock:
            for order in orders:
                self._orders.setdefault(order.market, []).append((now, order))

    def apply(self, condition_id: str, market: MarketState, tokens: tuple[str, str]) -> MarketState:
        """``market`` with the book levels of our just-cancelled orders reduced by their size.

        ``tokens`` are the market's two outcome tokens: each book shows a BUY of the other
        token as a SELL at one minus its price (the exchange mirrors them)."""
        with self._lock:
            recent = self._orders.get(condition_id)
            if not recent:
                return market
            cutoff = self._clock() - self._window
            recent[:] = [(t, o) for t, o in recent if t >= cutoff]
            pending = [o for _, o in recent]
        books = dict(market.books)
        caught_up: set[str] = set()
        for order in pending:
            shown = False
            for token in tokens:
                book = books.get(token)
                if book is None:
                    continue
                same = token == order.token_id
                side: BookSide = "bids" if (order.side == "BUY") is same else "asks"
                price = order.price if same else ONE - order.price
                if _level(book, side, price) >= order.remaining:
                    books[token] = book.adjusted(side, price, -order.remaining)
                    shown = True
            if not shown:
                caught_up.add(order.id)  # no book holds it any more: the stream has caught up
        if caught_up:
            with self._lock:
                left = [(t, o) for t, o in self._orders.get(condition_id, []) if o.id not in caught_up]
                self._orders[condition_id] = left
        return replace(market, books=books)


def _level(book: Book, side: BookSide, price: Decimal) -> Decimal:
    for level in book.bids if side == "bids" else book.asks:
        if level.price == price:
            return level.size
    return Decimal(0)
