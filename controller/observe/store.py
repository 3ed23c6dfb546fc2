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
planner's immutable :class:`~controller.observe.state.ObservedState`. Nothing here decides
anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.venue.wire_ws import (
    BookEvent,
    LastTradePriceEvent,
    MarketEvent,
    OrderAction,
    OrderEvent,
    PriceChangeEvent,
    TickSizeChangeEvent,
    TradeEvent,
    UserEvent,
)

ZERO = Decimal(0)
# How long we remember that an order went away, so an older REST snapshot that still
# lists it cannot bring it back.
_GONE_MEMORY_SECONDS = 120.0


@dataclass
class _TokenBook:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    # How many stream messages changed this book: lets a REST resync tell a frozen
    # stream (exchange changed, stream said nothing) from a quiet market.
    stream_updates: int = 0
    synced: bool = False

    def freeze(self) -> Book:
        return Book(
            bids=tuple(Level(p, s) for p, s in sorted(self.bids.items(), reverse=True) if s > 0),
            asks=tuple(Level(p, s) for p, s in sorted(self.asks.items()) if s > 0),
        )

    def replace_with(self, book: Book) -> None:
        self.bids = {lv.price: lv.size for lv in book.bids}
        self.asks = {lv.price: lv.size for lv in book.asks}
        self.synced = True


@dataclass
class _Market:
    condition_id: str
    token_ids: tuple[str, ...]
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    books: dict[str, _TokenBook]
    last_trade_price: Decimal | None = None
    stale_reason: str | None = "no market data yet"
    unsettled: str | None = None  # why our orders there must be re-read before placing


class ObservedStore:
    """Thread-safe; every method may be called from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._markets: dict[str, _Market] = {}
        self._token_market: dict[str, str] = {}
        self._orders: dict[str, OpenOrder] = {}
        self._sorted_orders: tuple[OpenOrder, ...] | None = None  # cache for snapshots
        # size_matched already reflected in balances, per order id (fills move balances once).
        self._matched_applied: dict[str, Decimal] = {}
        # When each order last changed locally (placed, filled, cancelled), so that a REST
        # snapshot taken before that change cannot undo it.
        self._touched: dict[str, float] = {}
        self._gone: dict[str, float] = {}
        # Orders we forgot (cancelled, filled, gone) whose late fill reports must still
        # move balances exactly once.
        self._tombstones: dict[str, OpenOrder] = {}
        self._last_fill_at = float("-inf")
        self._collateral = ZERO
        self._tokens: dict[str, Decimal] = {}
        self.balances_synced = False

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
                market = _Market(
                    condition_id, tokens, tick_size, min_order_size, neg_risk, {t: _TokenBook() for t in tokens}
                )
                self._markets[condition_id] = market
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
        condition_id = self._token_market.get(event.token_id)
        if condition_id is None:
            return set()
        book = self._markets[condition_id].books.setdefault(event.token_id, _TokenBook())
        book.bids = {lv.price: lv.size for lv in event.book.bids}
        book.asks = {lv.price: lv.size for lv in event.book.asks}
        book.stream_updates += 1
        return {condition_id}

    def _apply_price_change(self, event: PriceChangeEvent) -> set[str]:
        changed: set[str] = set()
        for change in event.changes:
            condition_id = self._token_market.get(change.token_id)
            if condition_id is None:
                continue
            book = self._markets[condition_id].books.setdefault(change.token_id, _TokenBook())
            levels = book.bids if change.side == "BUY" else book.asks
            if change.size == 0:
                levels.pop(change.price, None)
            else:
                levels[change.price] = change.size
            book.stream_updates += 1
            changed.add(condition_id)
        return changed

    # -- REST resync of books -------------------------------------------------------

    def resync_book(self, token_id: str, book: Book, stream_updates_seen: int | None) -> str:
        """Compare the exchange's book with ours.

        Returns ``"same"``; ``"raced"`` (it differs, but the stream delivered updates
        since ``stream_updates_seen`` was read: it is alive); or ``"missed"`` (it differs
        and the stream said nothing since). A miss is only a suspicion: a change made
        while the REST answer was in flight shows there before its WebSocket message
        arrives. Confirm it later with :meth:`adopt_book`. With ``stream_updates_seen``
        None (the first sync), the exchange's book is adopted outright.
        """
        with self._lock:
            condition_id = self._token_market.get(token_id)
            if condition_id is None:
                return "same"
            local = self._markets[condition_id].books.setdefault(token_id, _TokenBook())
            if local.freeze() == book:
                local.synced = True
                return "same"
            if stream_updates_seen is None or not local.synced:
                local.replace_with(book)
                return "same"
            if local.stream_updates != stream_updates_seen:
                return "raced"
            return "missed"

    def adopt_book(self, token_id: str, book: Book) -> None:
        """Take the exchange's book as ours (after a confirmed miss)."""
        with self._lock:
            condition_id = self._token_market.get(token_id)
            if condition_id is not None:
                self._markets[condition_id].books.setdefault(token_id, _TokenBook()).replace_with(book)

    def stream_updates(self, token_id: str) -> int:
        with self._lock:
            condition_id = self._token_market.get(token_id)
            if condition_id is None:
                return 0
            return self._markets[condition_id].books.setdefault(token_id, _TokenBook()).stream_updates

    def set_fresh(self, condition_id: str) -> None:
        with self._lock:
            market = self._markets.get(condition_id)
            if market is not None:
                market.stale_reason = None

    # -- orders ---------------------------------------------------------------------

    def replace_orders(self, condition_id: str | None, orders: Iterable[OpenOrder], as_of: float | None = None) -> None:
        """Adopt REST's list of open orders (for one market, or all when ``None``).

        ``as_of`` is when the fetch started: what changed locally after it (an order we
        just placed, one we just cancelled) is newer than the snapshot and is kept.
        """
        fresh = {o.id: o for o in orders}
        with self._lock:
            newer = self._newer_than(as_of)
            for order_id, order in list(self._orders.items()):
                in_scope = condition_id is None or order.market == condition_id
                if in_scope and order_id not in fresh and not newer(order_id):
                    self._forget_order(order_id, final_matched=None)
            for order in fresh.values():
                if order.id in self._gone and newer(order.id):
                    continue
                if order.id in self._orders and newer(order.id):
                    continue
                self._gone.pop(order.id, None)
                self._upsert_order(order)
            self._expire_gone()

    def _newer_than(self, as_of: float | None) -> Callable[[str], bool]:
        if as_of is None:
            return lambda order_id: False
        return lambda order_id: max(self._touched.get(order_id, -1e18), self._gone.get(order_id, -1e18)) >= as_of

    def _expire_gone(self) -> None:
        horizon = self._clock() - _GONE_MEMORY_SECONDS
        for order_id in [i for i, t in self._gone.items() if t < horizon]:
            del self._gone[order_id]
            self._tombstones.pop(order_id, None)
            self._matched_applied.pop(order_id, None)

    def record_placed(self, order: OpenOrder, status: str) -> None:
        """An order the exchange just accepted (``status`` live, matched, delayed...)."""
        with self._lock:
            if status == "matched":
                # Filled on entry: it will never rest; the fill reaches balances via resync.
                return
            if order.id in self._gone:
                return  # the stream already reported its end
            if order.id not in self._orders:
                self._orders[order.id] = order
                self._sorted_orders = None
            self._matched_applied.setdefault(order.id, order.size_matched)
            self._touched[order.id] = self._clock()

    def record_canceled(self, order_ids: Iterable[str]) -> None:
        with self._lock:
            for order_id in order_ids:
                self._forget_order(order_id, final_matched=None)

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
            order_id, condition_id = event.order_id, event.market
            if event.action is OrderAction.CANCELLATION:
                self._forget_order(order_id, final_matched=None)
                return {condition_id}
            order = OpenOrder(
                id=order_id,
                market=condition_id,
                token_id=event.token_id,
                side=event.side,
                price=event.price,
                size=event.original_size,
                size_matched=event.size_matched,
            )
            tombstone = self._tombstones.get(order_id)
            if tombstone is not None:
                # Forgotten already (a cancel answered "not found" because it had just
                # filled): the fill still moves balances, the order stays gone.
                self._apply_fill(tombstone, order.size_matched)
                return {condition_id}
            if order.remaining <= 0 or event.status == "MATCHED":
                self._forget_order(order_id, final_matched=order.size_matched)
            elif order_id not in self._gone:
                self._upsert_order(order, local=True)
            return {condition_id}

    def _upsert_order(self, order: OpenOrder, *, local: bool = False) -> None:
        """``local``: learnt from the stream (every fill of it is news to our balances);
        otherwise from REST, whose balances of the same resync already hold its fills."""
        if local:
            self._touched[order.id] = self._clock()
            self._matched_applied.setdefault(order.id, ZERO)
        known = self._orders.get(order.id)
        if known is not None and known.size_matched > order.size_matched:
            # An older report: never move fills backwards.
            order = replace(order, size_matched=known.size_matched)
        self._orders[order.id] = order
        self._sorted_orders = None
        self._apply_fill(order, order.size_matched)

    def _forget_order(self, order_id: str, final_matched: Decimal | None) -> None:
        order = self._orders.pop(order_id, None)
        if order is not None:
            self._sorted_orders = None
        if order is not None and final_matched is not None:
            self._apply_fill(order, final_matched)
        if order is not None:
            self._tombstones[order_id] = order
        self._touched.pop(order_id, None)
        self._gone[order_id] = self._clock()

    def _apply_fill(self, order: OpenOrder, size_matched: Decimal) -> None:
        applied = self._matched_applied.get(order.id)
        if applied is None:
            # First sighting from REST: what matched before is already in the balances.
            self._matched_applied[order.id] = size_matched
            return
        delta = size_matched - applied
        if delta <= 0:
            return
        self._matched_applied[order.id] = size_matched
        self._last_fill_at = self._clock()
        notional = delta * order.price
        held = self._tokens.get(order.token_id, ZERO)
        if order.side == "BUY":
            self._collateral -= notional
            self._tokens[order.token_id] = held + delta
        else:
            self._collateral += notional
            self._tokens[order.token_id] = held - delta

    def market_view(self, condition_id: str) -> tuple[MarketState, list[OpenOrder]] | None:
        """One market's state and our orders in it: what a trigger check needs, without
        copying every market's orders (cheap on every stream message)."""
        with self._lock:
            market = self._markets.get(condition_id)
            if market is None:
                return None
            own = [o for o in self._orders.values() if o.market == condition_id]
            return self._market_state(market), own

    def _market_state(self, market: _Market) -> MarketState:
        return MarketState(
            tick_size=market.tick_size,
            min_order_size=market.min_order_size,
            neg_risk=market.neg_risk,
            books={t: b.freeze() for t, b in market.books.items()},
            last_trade_price=market.last_trade_price,
            stale=market.stale_reason,
        )

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        with self._lock:
            return sorted(
                (o for o in self._orders.values() if condition_id is None or o.market == condition_id),
                key=lambda o: o.id,
            )

    # -- balances -------------------------------------------------------------------

    def replace_balances(self, balances: Balances, as_of: float | None = None) -> None:
        """Adopt REST balances, unless a fill moved ours after the fetch started (next time, then)."""
        with self._lock:
            if as_of is not None and self._last_fill_at >= as_of:
                return
            self._collateral = balances.collateral
            self._tokens.update(balances.tokens)
            self.balances_synced = True

    def balances(self) -> Balances:
        with self._lock:
            return Balances(collateral=self._collateral, tokens=dict(self._tokens))

    # -- snapshots ------------------------------------------------------------------

    def snapshot(self, condition_ids: Iterable[str] | None = None, now: datetime | None = None) -> ObservedState:
        """An immutable view for the planner: the named markets (default all), all orders, balances.

        A market whose data is stale says so (``MarketState.stale``): the planner pulls its quotes.
        """
        with self._lock:
            wanted = (
                self._markets
                if condition_ids is None
                else {c: self._markets[c] for c in condition_ids if c in self._markets}
            )
            markets = {condition_id: self._market_state(market) for condition_id, market in wanted.items()}
            if self._sorted_orders is None:
                # Every market's orders (they all lock balance); sorted once per change.
                self._sorted_orders = tuple(sorted(self._orders.values(), key=lambda o: o.id))
            return ObservedState(
                time=now or datetime.now(UTC),
                markets=markets,
                balances=Balances(collateral=self._collateral, tokens=dict(self._tokens)),
                orders=self._sorted_orders,
            )
