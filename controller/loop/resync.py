"""The periodic REST resync: the truth whenever the streams disagree with it.

Level-triggered controllers repair missed events by looking again. Every resync
re-reads books and the account's open orders, and audits balances; it is also how a frozen market
stream is caught: a REST book that shows a change the stream never delivered, followed
by continued silence, means the stream is dead even though its socket is open.

Balances and books are audited on a rolling schedule: collateral on every resync, the
outcome tokens' balances and books a slice at a time (all of them on the first read and
while there are fewer than a slice; the books of stale markets always, so that a stream
back from an outage makes its markets fresh at the next resync). Between audits the user
channel's fills and the market channel keep them current, and the venue's stalled-feed
watch catches a silent market stream; a resync that re-read 2N + 1 balances and 2N books
every interval was most of its cost at 1,000 markets. Open orders are read in full.

The first successful read of the open orders opens the gate for reconciles (a fresh
process adopts what rests on the book before it acts), and each read lets the record of
orders this controller placed forget the ones that are gone.

It decides nothing about quotes; it only refreshes observed state and says which
markets to look at.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from controller.loop.ownership import PlacedOrders
from controller.loop.reconciler import Reconciler
from controller.loop.threads import Threads
from controller.observe.state import ObservedState, OpenOrder
from controller.observe.store import ObservedStore
from controller.venue.client import Ambiguous, Venue, VenueError
from controller.venue.wire import OpenOrders

log = logging.getLogger("bandctl.resync")

# Markets whose rules one resync re-reads (all of them when there are fewer).
RULES_PER_RESYNC = 25
# Token balances one resync re-reads besides collateral (all of them when there are fewer):
# at 2,000 tokens and a 15 s interval every balance is audited within 5 minutes.
BALANCES_PER_RESYNC = 100
# Books one resync compares with REST besides those of stale markets and books never read
# from REST (all of them when there are fewer): at 2,000 tokens, every book within 2.5
# minutes. Reading all 2,000 every 15 s held the exchange and this process for ~0.3 s.
BOOKS_PER_RESYNC = 200


class Resync:
    def __init__(
        self,
        venue: Venue,
        store: ObservedStore,
        reconciler: Reconciler,
        placed: PlacedOrders,
        threads: Threads,
        *,
        market_feed_trusted: Callable[[], bool],
        on_frozen: Callable[[list[str]], None],
        freeze_confirm_seconds: float = 2.0,
    ) -> None:
        self.venue = venue
        self.store = store
        self.reconciler = reconciler
        self.placed = placed
        self.threads = threads
        self.market_feed_trusted = market_feed_trusted
        self.on_frozen = on_frozen
        self.freeze_confirm_seconds = freeze_confirm_seconds
        self._lock = threading.Lock()
        self._rules_cursor = 0
        self._balance_cursor = 0
        self._book_cursor = 0
        self._books_read = False  # every book compared once (the first successful read)
        self.failures = 0

    def _whole_orders(self, answer: OpenOrders, managed: set[str]) -> list[OpenOrder]:
        """REST's orders of the managed markets; for a market whose list a malformed item left
        incomplete, our own view instead (an order missing from it is not gone), and the
        market unsettled: nothing is placed there until a complete list is read."""
        whole = [m for m in managed if answer.complete_for(m)]
        orders = [o for o in answer.orders if o.market in managed and answer.complete_for(o.market)]
        for condition_id in managed.difference(whole):
            orders.extend(self.store.open_orders(condition_id))
            self.store.set_unsettled(condition_id, "its open orders came back incomplete")
        return orders

    def run(self, initial: bool = False) -> bool:
        """Re-read books, open orders and balances; requeue. False if the read failed."""
        with self._lock:
            before = _fingerprints(self.store.snapshot())
            markets = self.store.tracked_markets()
            tokens = self.store.token_ids()
            as_of = self.store.now()
            everything = initial or not self.store.balances_synced
            audited, cursor = (tokens, 0) if everything else _rolling(tokens, self._balance_cursor, BALANCES_PER_RESYNC)
            if initial or not self._books_read:
                compared, book_cursor = tokens, self._book_cursor
            else:
                some, book_cursor = _rolling(tokens, self._book_cursor, BOOKS_PER_RESYNC)
                compared = sorted(set(some) | set(self.store.unsure_tokens()))
            seen = {t: self.store.stream_updates(t) for t in compared}
            try:
                books = self.venue.get_books(compared) if compared else {}
                answer = self.venue.open_orders()
                balances = self.venue.get_balances(audited)
            except (VenueError, Ambiguous) as exc:
                self.failures += 1
                log.warning("resync failed: %s", str(exc)[:300])
                return False
            # A failed read audits the same slices next time.
            self._balance_cursor, self._book_cursor = cursor, book_cursor
            self._books_read = True
            suspects = {}
            for token, snapshot in books.items():
                verdict = self.store.resync_book(token, snapshot.book, None if initial else seen.get(token))
                if verdict == "missed":
                    suspects[token] = seen[token]
            managed = set(markets)
            orders = self._whole_orders(answer, managed)
            self.store.replace_orders(None, orders, as_of=as_of)
            self.store.replace_balances(balances, as_of=as_of)
            first_read = self.reconciler.set_orders_known()
            shared = any(s.ownership == "shared" for s in self.reconciler.specs().values())
            self.placed.prune((o.id for o in orders), as_of, persist=shared)
            synced = {self.store.market_of_token(t) for t in books}
            trusted = self.market_feed_trusted()
            for condition_id in markets:
                if condition_id in synced and trusted:
                    self.store.set_fresh(condition_id)
            after = _fingerprints(self.store.snapshot())
        self._refresh_some_rules(markets)
        if suspects:
            self.threads.spawn("frozen-stream-check", self._confirm_frozen, suspects, delay=self.freeze_confirm_seconds)
        if initial or first_read:
            self.reconciler.enqueue_all()
        else:
            # Level-triggered, but only where looking again can change something: a market
            # whose REST view differs from what we had, or one left short of balance.
            self.reconciler.enqueue_markets(m for m, fingerprint in after.items() if before.get(m) != fingerprint)
            self.reconciler.enqueue_short()
        return True

    def _refresh_some_rules(self, markets: list[str]) -> None:
        """Re-read market rules from REST (the authority on tick sizes), a slice per resync so
        that the cost stays flat with many markets; real changes arrive through ``on_rules``."""
        if not markets:
            return
        chosen, self._rules_cursor = _rolling(markets, self._rules_cursor, RULES_PER_RESYNC)
        self.venue.refresh_rules(chosen)

    def _confirm_frozen(self, suspects: dict[str, int]) -> None:
        """A REST book showed a change the stream had not delivered. If the stream has
        stayed silent since, it is frozen (or dropping messages): adopt REST, mark the
        market stale and let the owner reconnect. A live stream would have delivered it."""
        silent = [t for t, seen in suspects.items() if self.store.stream_updates(t) == seen]
        if not silent:
            return
        try:
            books = self.venue.get_books(silent)
        except (VenueError, Ambiguous) as exc:
            log.warning("frozen-stream check failed: %s", str(exc)[:300])
            return
        frozen = []
        for token in silent:
            snapshot = books.get(token)
            if snapshot is not None and self.store.resync_book(token, snapshot.book, suspects[token]) == "missed":
                self.store.adopt_book(token, snapshot.book)
                condition_id = self.store.market_of_token(token)
                if condition_id:
                    frozen.append(condition_id)
                    self.store.mark_stale(condition_id, "the market stream missed a book change")
        if frozen:
            self.on_frozen(frozen)


def _rolling(items: list[str], cursor: int, count: int) -> tuple[list[str], int]:
    """``count`` items from ``cursor`` on, wrapping (all of them when there are fewer); the next cursor."""
    if not items:
        return [], cursor
    count = min(len(items), count)
    start = cursor % len(items)
    return [items[(start + i) % len(items)] for i in range(count)], start + count


def _fingerprints(state: ObservedState) -> dict[str, tuple[object, ...]]:
    """Per market, everything a plan reads from observed state except shared collateral."""
    orders: dict[str, list[tuple[str, object, object]]] = {}
    for order in state.orders:
        orders.setdefault(order.market, []).append((order.id, order.size_matched, order.price))
    prints: dict[str, tuple[object, ...]] = {}
    for condition_id, market in state.markets.items():
        tokens = tuple(sorted(market.books))
        prints[condition_id] = (
            market.tick_size,
            market.min_order_size,
            market.stale,
            tuple((t, market.books[t]) for t in tokens),
            tuple(state.balances.token(t) for t in tokens),
            tuple(sorted(orders.get(condition_id, ()), key=lambda o: o[0])),
        )
    return prints
