"""Our side of the exchange as the observed store keeps it: open orders, fills, balances.

Fed by REST snapshots (open orders, balances), the user stream's typed ``order`` events
and the controller's own actions the moment the exchange answers. Each fill moves the
balances exactly once, however often and in whatever order it is reported; an older
REST snapshot can neither drop an order placed after it was read nor resurrect one
cancelled after. Plain data with an injected clock: no locking (``ObservedStore`` holds
the lock), no parsing, no decisions.

Orders are indexed by market, and what they lock (collateral of BUYs, shares of SELLs) is
kept as a running ledger updated at the one place an order enters, changes or leaves
(``_put`` / ``_drop``), so that no per-event path has to walk every market's orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

from controller.observe.state import Balances, Locks, OpenOrder
from controller.venue.wire_ws import OrderAction, OrderEvent

ZERO = Decimal(0)
# How long we remember that an order went away, so an older REST snapshot that still
# lists it cannot bring it back.
GONE_MEMORY_SECONDS = 120.0


class AccountBook:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # Read-only outside this class: every write goes through _put / _drop (the ledger).
        self.orders: dict[str, OpenOrder] = {}
        self._by_market: dict[str, dict[str, OpenOrder]] = {}
        self._sorted: tuple[OpenOrder, ...] | None = None  # cache for snapshots
        self._sorted_market: dict[str, tuple[OpenOrder, ...]] = {}
        # What every open order locks, kept exact (Decimal) as orders come and go.
        self.locked_collateral = ZERO
        self.locked_tokens: dict[str, Decimal] = {}
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
        self.collateral = ZERO
        self.tokens: dict[str, Decimal] = {}
        self.balances_synced = False

    def sorted_orders(self) -> tuple[OpenOrder, ...]:
        """Every order, by id; sorted once per change."""
        if self._sorted is None:
            self._sorted = tuple(sorted(self.orders.values(), key=lambda o: o.id))
        return self._sorted

    def market_orders(self, condition_id: str) -> tuple[OpenOrder, ...]:
        """One market's orders, by id; sorted once per change of that market."""
        cached = self._sorted_market.get(condition_id)
        if cached is None:
            own = self._by_market.get(condition_id, {})
            cached = self._sorted_market[condition_id] = tuple(sorted(own.values(), key=lambda o: o.id))
        return cached

    def locks_outside(self, condition_ids: Iterable[str]) -> Locks:
        """What the orders of every market *except* these lock: the ledger minus their orders."""
        collateral = self.locked_collateral
        tokens = dict(self.locked_tokens)
        for condition_id in set(condition_ids):
            for order in self._by_market.get(condition_id, {}).values():
                collateral -= order.locked_collateral
                if order.side == "SELL":
                    left = tokens.get(order.token_id, ZERO) - order.remaining
                    if left:
                        tokens[order.token_id] = left
                    else:
                        tokens.pop(order.token_id, None)
        return Locks(collateral=collateral, tokens=tokens)

    def balances(self) -> Balances:
        return Balances(collateral=self.collateral, tokens=dict(self.tokens))

    # -- the ledger: the only writes to ``orders`` -------------------------------------

    def _put(self, order: OpenOrder) -> None:
        known = self.orders.get(order.id)
        if known is not None:
            self._unlock(known)
            if known.market != order.market:
                self._unindex(known)
        self.orders[order.id] = order
        self._by_market.setdefault(order.market, {})[order.id] = order
        self._add_locks(order, +1)
        self._sorted = None
        self._sorted_market.pop(order.market, None)

    def _drop(self, order_id: str) -> OpenOrder | None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self._unlock(order)
            self._unindex(order)
            self._sorted = None
        return order

    def _unindex(self, order: OpenOrder) -> None:
        own = self._by_market.get(order.market)
        if own is not None:
            own.pop(order.id, None)
            if not own:
                del self._by_market[order.market]
        self._sorted_market.pop(order.market, None)

    def _unlock(self, order: OpenOrder) -> None:
        self._add_locks(order, -1)

    def _add_locks(self, order: OpenOrder, sign: int) -> None:
        if order.side == "BUY":
            self.locked_collateral += sign * order.locked_collateral
            return
        left = self.locked_tokens.get(order.token_id, ZERO) + sign * order.remaining
        if left:
            self.locked_tokens[order.token_id] = left
        else:
            self.locked_tokens.pop(order.token_id, None)

    # -- orders ---------------------------------------------------------------------

    def replace_orders(self, condition_id: str | None, orders: Iterable[OpenOrder], as_of: float | None) -> None:
        """Adopt REST's list of open orders (for one market, or all when ``None``).

        ``as_of`` is when the fetch started: what changed locally after it (an order we
        just placed, one we just cancelled) is newer than the snapshot and is kept.
        """
        fresh = {o.id: o for o in orders}
        newer = self._newer_than(as_of)
        # One market's list walks that market's orders only (a resync reads many such lists).
        scope = self.orders if condition_id is None else self._by_market.get(condition_id, {})
        for order_id in [i for i in scope if i not in fresh and not newer(i)]:
            self._forget(order_id, final_matched=None)
        for order in fresh.values():
            if order.id in self._gone and newer(order.id):
                continue
            if order.id in self.orders and newer(order.id):
                continue
            self._gone.pop(order.id, None)
            self._upsert(order)
        self._expire_gone()

    def _newer_than(self, as_of: float | None) -> Callable[[str], bool]:
        if as_of is None:
            return lambda order_id: False
        return lambda order_id: max(self._touched.get(order_id, -1e18), self._gone.get(order_id, -1e18)) >= as_of

    def _expire_gone(self) -> None:
        horizon = self._clock() - GONE_MEMORY_SECONDS
        for order_id in [i for i, t in self._gone.items() if t < horizon]:
            del self._gone[order_id]
            self._tombstones.pop(order_id, None)
            self._matched_applied.pop(order_id, None)

    def record_placed(self, order: OpenOrder, status: str) -> None:
        """An order the exchange just accepted (``status`` live, matched, delayed...)."""
        if status == "matched":
            # Filled on entry: it will never rest; the fill reaches balances via resync.
            return
        if order.id in self._gone:
            return  # the stream already reported its end
        if order.id not in self.orders:
            self._put(order)
        self._matched_applied.setdefault(order.id, order.size_matched)
        self._touched[order.id] = self._clock()

    def record_canceled(self, order_ids: Iterable[str]) -> None:
        for order_id in order_ids:
            self._forget(order_id, final_matched=None)

    def apply_order_event(self, event: OrderEvent) -> None:
        """A user-channel ``order`` event (placement, fill update, cancellation)."""
        order_id = event.order_id
        if event.action is OrderAction.CANCELLATION:
            self._forget(order_id, final_matched=None)
            return
        order = OpenOrder(
            id=order_id,
            market=event.market,
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
        elif order.remaining <= 0 or event.status == "MATCHED":
            self._forget(order_id, final_matched=order.size_matched)
        elif order_id not in self._gone:
            self._upsert(order, local=True)

    def _upsert(self, order: OpenOrder, *, local: bool = False) -> None:
        """``local``: learnt from the stream (every fill of it is news to our balances);
        otherwise from REST, whose balances of the same resync already hold its fills."""
        if local:
            self._touched[order.id] = self._clock()
            self._matched_applied.setdefault(order.id, ZERO)
        known = self.orders.get(order.id)
        if known is not None and known.size_matched > order.size_matched:
            # An older report: never move fills backwards.
            order = replace(order, size_matched=known.size_matched)
        self._put(order)
        self._apply_fill(order, order.size_matched)

    def _forget(self, order_id: str, final_matched: Decimal | None) -> None:
        order = self._drop(order_id)
        if order is not None:
            if final_matched is not None:
                self._apply_fill(order, final_matched)
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
        held = self.tokens.get(order.token_id, ZERO)
        if order.side == "BUY":
            self.collateral -= notional
            self.tokens[order.token_id] = held + delta
        else:
            self.collateral += notional
            self.tokens[order.token_id] = held - delta

    # -- balances -------------------------------------------------------------------

    def replace_balances(self, balances: Balances, as_of: float | None) -> None:
        """Adopt REST balances, unless a fill moved ours after the fetch started (next time, then)."""
        if as_of is not None and self._last_fill_at >= as_of:
            return
        self.collateral = balances.collateral
        self.tokens.update(balances.tokens)
        self.balances_synced = True
