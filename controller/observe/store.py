"""The live observed state: books, our open orders and balances, kept current.

Fed from two directions, both already parsed and validated at the edge into typed
values (``controller.venue.wire_ws`` events, ``controller.venue.wire`` answers); this
module never reads a raw exchange message:

* the WebSocket channels (``BookEvent``, ``PriceChangeEvent``, ``TickSizeChangeEvent``,
  ``LastTradePriceEvent``; ``OrderEvent`` and ``TradeEvent``), and
* REST resyncs (books, open orders, balances, market rules), which are the truth
  whenever they disagree with what the streams said. A ``tick_size_change`` only wakes
  the market: its rules change through :meth:`ObservedStore.update_rules` (REST).

It also records the controller's own actions the moment the exchange answers, so
a reconcile that starts before the stream confirms an order never places it twice.

:meth:`ObservedStore.snapshot` freezes what one market's reconcile needs into the
planner's immutable :class:`~controller.observe.state.ObservedState`. This module holds
the lock and the market table; each token's book is a ``streambook.StreamBook`` and our
orders, fills and balances live in an ``account.AccountBook``. Nothing here decides
anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from controller.observe.account import AccountBook
from controller.observe.state import Balances, Book, Locks, MarketState, ObservedState, OpenOrder
from controller.observe.streambook import StreamBook
from controller.venue.wire_ws import (
    BookEvent,
    LastTradePriceEvent,
    MarketEvent,
    OrderEvent,
    PriceChangeEvent,
    TickSizeChangeEvent,
    TradeEvent,
    UserEvent,
)


@dataclass
class _Market:
    condition_id: str
    token_ids: tuple[str, ...]
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    books: dict[str, StreamBook]
    last_trade_price: Decimal | None = None
    stale_reason: str | None = "no market data yet"
    unsettled: str | None = None  # why our orders there must be re-read before placing


_UNSYNCED = StreamBook()  # what a token without a book yet looks like


def _unsure(market: _Market, token_id: str) -> bool:
    book = market.books.get(token_id, _UNSYNCED)
    return market.stale_reason is not None or not book.synced or book.gapped


class ObservedStore:
    """Thread-safe; every method may be called from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._markets: dict[str, _Market] = {}
        self._token_market: dict[str, str] = {}
        self._disagreeing: set[str] = set()  # tokens whose book disagrees with the exchange's top (gaps)
        self._account = AccountBook(clock)

    @property
    def balances_synced(self) -> bool:
        return self._account.balances_synced

    def now(self) -> float:
        """The store's clock: read it *before* a REST fetch and pass it as ``as_of``."""
        return self._clock()

    # -- markets --------------------------------------------------------------------

    def track_market(
        self,
        condition_id: str,
        token_ids: Iterable[str],
        tick_size: Decimal,
        min_order_size: Decimal,
        neg_risk: bool,
    ) -> None:
        tokens = tuple(token_ids)
        with self._lock:
            market = self._markets.get(condition_id)
            if market is None:
                books = {t: StreamBook() for t in tokens}
                self._markets[condition_id] = _Market(condition_id, tokens, tick_size, min_order_size, neg_risk, books)
            else:
                market.tick_size, market.min_order_size, market.neg_risk = tick_size, min_order_size, neg_risk
            for token in tokens:
                self._token_market[token] = condition_id

    def untrack_market(self, condition_id: str) -> None:
        with self._lock:
            market = self._markets.pop(condition_id, None)
            if market is not None:
                for token in market.token_ids:
                    self._token_market.pop(token, None)

    def market_of_token(self, token_id: str) -> str | None:
        return self._token_market.get(token_id)

    def tracked_markets(self) -> list[str]:
        with self._lock:
            return sorted(self._markets)

    def token_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._token_market)

    def mark_stale(self, condition_id: str | None, reason: str) -> None:
        """Market data can't be trusted (``None``: every market); quotes must be pulled."""
        with self._lock:
            for market in self._markets.values() if condition_id is None else [self._markets.get(condition_id)]:
                if market is not None:
                    market.stale_reason = reason

    def stale_reason(self, condition_id: str) -> str | None:
        with self._lock:
            market = self._markets.get(condition_id)
            return market.stale_reason if market is not None else "market not tracked"

    def set_unsettled(self, condition_id: str, reason: str | None) -> None:
        with self._lock:
            market = self._markets.get(condition_id)
            if market is not None:
                market.unsettled = reason

    def unsettled(self, condition_id: str) -> str | None:
        with self._lock:
            market = self._markets.get(condition_id)
            return market.unsettled if market is not None else None

    def neg_risk(self, condition_id: str) -> bool | None:
        with self._lock:
            market = self._markets.get(condition_id)
            return market.neg_risk if market is not None else None

    def tick_size(self, condition_id: str) -> Decimal | None:
        with self._lock:
            market = self._markets.get(condition_id)
            return market.tick_size if market is not None else None

    def update_rules(self, condition_id: str, tick_size: Decimal, min_order_size: Decimal, neg_risk: bool) -> bool:
        """Adopt the exchange's rules for a market (a REST read); True if anything changed."""
        with self._lock:
            market = self._markets.get(condition_id)
            if market is None:
                return False
            new = (tick_size, min_order_size, neg_risk)
            if (market.tick_size, market.min_order_size, market.neg_risk) == new:
                return False
            market.tick_size, market.min_order_size, market.neg_risk = new
            return True

    # -- market channel -------------------------------------------------------------

    def apply_market(self, event: MarketEvent) -> set[str]:
        """Apply one typed market-channel event; return the condition ids whose data changed.

        A ``tick_size_change`` changes nothing here: the stream's word is only a reason
        to re-read the market's rules from REST (see :meth:`update_rules`).
        """
        with self._lock:
            if isinstance(event, BookEvent):
                return self._apply_book(event)
            if isinstance(event, PriceChangeEvent):
                return self._apply_price_change(event)
            if isinstance(event, TickSizeChangeEvent):
                condition_id = self._token_market.get(event.token_id)
                return {condition_id} if condition_id is not None else set()
            if isinstance(event, LastTradePriceEvent):
                condition_id = self._token_market.get(event.token_id)
                if condition_id is None:
                    return set()
                self._markets[condition_id].last_trade_price = event.price
                return {condition_id}
        return set()

    def _apply_book(self, event: BookEvent) -> set[str]:
        local = self._book(event.token_id)
        if local is None:
            return set()
        local.apply_snapshot(event.book)
        return {self._token_market[event.token_id]}

    def _apply_price_change(self, event: PriceChangeEvent) -> set[str]:
        changed: set[str] = set()
        tops: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        for change in event.changes:
            local = self._book(change.token_id)
            if local is not None:
                local.apply_change(change)
                changed.add(self._token_market[change.token_id])
                if change.top is not None:
                    tops[change.token_id] = change.top  # the last one: after the whole message
        now = self._clock()
        for token_id, top in tops.items():
            local = self._book(token_id)
            if local is not None:
                local.check_top(top, now)
                if local.disagrees_since is None:
                    self._disagreeing.discard(token_id)
                else:
                    self._disagreeing.add(token_id)
        return changed

    def gaps(self, lasting: float) -> list[str]:
        """Tokens whose book has disagreed with the exchange's top of book for ``lasting``
        seconds: a message was lost. From now on their markets' plans wait until a REST book
        replaces it (:meth:`adopt_book`); each is reported once."""
        now = self._clock()
        found = []
        with self._lock:
            for token_id in sorted(self._disagreeing):
                book = self._book(token_id)
                since = None if book is None else book.disagrees_since
                if book is None or since is None:
                    self._disagreeing.discard(token_id)  # a REST book or a snapshot since
                elif not book.gapped and now - since >= lasting:
                    book.gapped = True
                    found.append(token_id)
        return found

    # -- REST resync of books -------------------------------------------------------

    def _book(self, token_id: str) -> StreamBook | None:
        condition_id = self._token_market.get(token_id)
        return None if condition_id is None else self._markets[condition_id].books.setdefault(token_id, StreamBook())

    def resync_book(self, token_id: str, book: Book, stream_updates_seen: int | None) -> str:
        """Compare the exchange's book with ours: ``"same"``, ``"raced"`` or ``"missed"``
        (see :meth:`StreamBook.verdict`); confirm a miss later with :meth:`adopt_book`."""
        with self._lock:
            local = self._book(token_id)
            return "same" if local is None else local.verdict(book, stream_updates_seen)

    def adopt_book(self, token_id: str, book: Book) -> None:
        """Take the exchange's book as ours (after a confirmed miss)."""
        with self._lock:
            local = self._book(token_id)
            if local is not None:
                local.replace_with(book)

    def unsure_tokens(self) -> list[str]:
        """Tokens whose book a resync must compare with REST whatever its rolling slice: those
        of stale markets, books never confirmed by REST and books that missed a message."""
        with self._lock:
            return [t for m in self._markets.values() for t in m.token_ids if _unsure(m, t)]

    def stream_updates(self, token_id: str) -> int:
        with self._lock:
            local = self._book(token_id)
            return 0 if local is None else local.stream_updates

    def set_fresh(self, condition_id: str) -> None:
        with self._lock:
            market = self._markets.get(condition_id)
            if market is not None:
                market.stale_reason = None

    # -- orders (``AccountBook`` does the bookkeeping) ---------------------------------

    def replace_orders(self, condition_id: str | None, orders: Iterable[OpenOrder], as_of: float | None = None) -> None:
        """Adopt REST's list of open orders (for one market, or all when ``None``).

        ``as_of`` is when the fetch started: what changed locally after it (an order we
        just placed, one we just cancelled) is newer than the snapshot and is kept.
        """
        with self._lock:
            self._account.replace_orders(condition_id, orders, as_of)

    def record_placed(self, order: OpenOrder, status: str) -> None:
        """An order the exchange just accepted (``status`` live, matched, delayed...)."""
        with self._lock:
            self._account.record_placed(order, status)

    def record_canceled(self, order_ids: Iterable[str]) -> None:
        with self._lock:
            self._account.record_canceled(order_ids)

    def apply_user(self, event: UserEvent) -> set[str]:
        """Apply one typed user-channel event; return the markets touched.

        ``trade`` events are not applied: the matching ``order`` UPDATE carries the
        maker's new ``size_matched``, and taker fills of our (post-only) orders
        cannot happen. Trades still wake the market's reconcile.
        """
        with self._lock:
            if isinstance(event, TradeEvent):
                return {event.market} if event.market in self._markets else set()
            if not isinstance(event, OrderEvent):
                return set()
            self._account.apply_order_event(event)
            return {event.market}

    def market_view(self, condition_id: str) -> tuple[MarketState, list[OpenOrder]] | None:
        """One market's state and our orders in it (a list the caller may keep)."""
        view = self.quote_view(condition_id)
        return None if view is None else (view[0], list(view[1]))

    def quote_view(self, condition_id: str) -> tuple[MarketState, tuple[OpenOrder, ...], str | None] | None:
        """What a trigger check needs on every stream message, in one lock: the market's
        state, our orders there and its stale reason. The books are frozen once per change
        and the orders come from the per-market index, so the cost does not grow with the
        number of markets (nothing is copied but the one market's small book mapping)."""
        with self._lock:
            market = self._markets.get(condition_id)
            if market is None:
                return None
            return self._market_state(market), self._account.market_orders(condition_id), market.stale_reason

    def _market_state(self, market: _Market) -> MarketState:
        return MarketState(
            tick_size=market.tick_size,
            min_order_size=market.min_order_size,
            neg_risk=market.neg_risk,
            # A book known to have missed a message is no book to plan on: plans wait for REST.
            books={}
            if any(b.gapped for b in market.books.values())
            else {t: b.freeze() for t, b in market.books.items()},
            last_trade_price=market.last_trade_price,
            stale=market.stale_reason,
        )

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        with self._lock:
            if condition_id is None:
                return list(self._account.sorted_orders())
            return list(self._account.market_orders(condition_id))

    # -- balances -------------------------------------------------------------------

    def replace_balances(self, balances: Balances, as_of: float | None = None) -> None:
        """Adopt REST balances, unless a fill moved ours after the fetch started (next time, then)."""
        with self._lock:
            self._account.replace_balances(balances, as_of)

    def balances(self) -> Balances:
        with self._lock:
            return self._account.balances()

    # -- snapshots ------------------------------------------------------------------

    def snapshot(self, condition_ids: Iterable[str] | None = None, now: datetime | None = None) -> ObservedState:
        """An immutable view for the planner: the named markets (default all), their orders, balances.

        The orders of the markets left out are not copied: what they lock arrives as one
        ledger total (``ObservedState.locked_elsewhere``), so a one-market snapshot costs
        the same with 10 markets or 1,000 and plans exactly as a snapshot of all of them.
        A market whose data is stale says so (``MarketState.stale``): the planner pulls its quotes.
        """
        with self._lock:
            if condition_ids is None:
                markets = {c: self._market_state(m) for c, m in self._markets.items()}
                orders = self._account.sorted_orders()
                elsewhere = Locks()
            else:
                named = list(dict.fromkeys(condition_ids))
                markets = {c: self._market_state(self._markets[c]) for c in named if c in self._markets}
                if len(named) == 1:
                    orders = self._account.market_orders(named[0])
                else:
                    picked = (o for c in named for o in self._account.market_orders(c))
                    orders = tuple(sorted(picked, key=lambda o: o.id))
                elsewhere = self._account.locks_outside(named)
            return ObservedState(
                time=now or datetime.now(UTC),
                markets=markets,
                balances=self._account.balances(),
                orders=orders,
                locked_elsewhere=elsewhere,
            )
