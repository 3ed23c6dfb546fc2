"""The periodic REST resync: the truth whenever the streams disagree with it.

Level-triggered controllers repair missed events by looking again. Every resync
re-reads books, the account's open orders and balances; it is also how a frozen market
stream is caught: a REST book that shows a change the stream never delivered, followed
by continued silence, means the stream is dead even though its socket is open.

What one resync reads stays flat in the number of markets N, a slice at a time:

* balances: collateral on every resync, the outcome tokens' a slice at a time;
* books: a slice, plus those of stale markets and books REST never confirmed (so that a
  stream back from an outage makes its markets fresh at the next resync);
* open orders: the orders of a slice of markets (``GET /data/orders?market=``, one
  request each), plus the suspect ones: markets never read since they were registered,
  unsettled ones (an unknown outcome, an incomplete list) and stale ones. Every
  ``FULL_ORDER_READ_EVERY``-th resync reads every open order of the account instead, so
  an order of a market no slice reaches, or one we never heard of, is found within 20
  resyncs (5 minutes at the default 15 s interval).

Every open order is read in one go (as before slices) on the first read, while per-market
requests would cost more than that one paged read (fewer than ``MARKET_READ_WEIGHT`` times
as many markets as the slice and its suspects: a small deployment reads everything every
time), while the user channel is down or has dropped since the last read (fills and
cancels it would have reported), and without streams at all. Between audits the user
channel's order and fill events and the market channel keep the view current, and the
venue's stalled-feed watch catches a silent market stream; a resync that re-read every
balance, book and order was most of the controller's cost at 1,000 markets.

The first successful read (always a full one) opens the gate for reconciles: a fresh
process adopts what rests on the book before it acts. A sliced read replaces only the
orders of the markets it read, lets the record of orders this controller placed forget
only orders of those markets, and compares (fingerprints) only markets something was
read for; it never forgets, settles or freshens a market it did not read.

It decides nothing about quotes; it only refreshes observed state and says which
markets to look at.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

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
# Markets whose open orders one resync reads one by one besides the suspect ones. At 1,000
# markets the slices reach 190 markets between two full reads; the full read the rest.
ORDER_MARKETS_PER_RESYNC = 10
# One ``?market=`` request costs about what this many markets' rows (6 orders each) cost in
# the full read (measured against the emulator: ~2-4 ms a request, ~0.1 ms a row). Orders
# are read one market at a time only while that is the cheaper: with fewer than 5x as many
# markets as the slice and its suspects, every resync reads every order in one go.
MARKET_READ_WEIGHT = 5
# Every this-many resyncs read every open order of the account: the bound within which an
# order no slice reaches (another market's, one we never heard of) is found.
FULL_ORDER_READ_EVERY = 20
# Per-market order reads run side by side (each still through the venue's pool and budget).
ORDER_READ_WORKERS = 4


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
        market_silent_for: Callable[[], float] = lambda: float("inf"),
        freeze_confirm_seconds: float = 2.0,
    ) -> None:
        self.venue = venue
        self.store = store
        self.reconciler = reconciler
        self.placed = placed
        self.threads = threads
        self.market_feed_trusted = market_feed_trusted
        self.on_frozen = on_frozen
        self.market_silent_for = market_silent_for  # seconds since the market channel's last event
        self.freeze_confirm_seconds = freeze_confirm_seconds
        self._lock = threading.Lock()
        self._rules_cursor = 0
        self._balance_cursor = 0
        self._book_cursor = 0
        self._books_read = False  # every book compared once (the first successful read)
        self._orders_cursor = 0
        self._sliced_since_full: int | None = None  # None: no full read of the orders yet
        self._orders_read: set[str] = set()  # markets whose orders a read covered since tracked
        self._user_mark: tuple[int, bool] | None = None  # the user channel's, at the last read
        self.failures = 0
        self.full_order_reads = 0
        self.sliced_order_reads = 0

    def _order_markets(self, markets: list[str], full: bool, mark: tuple[int, bool] | None) -> list[str] | None:
        """The markets whose orders this resync reads one by one; None: every order at once."""
        self._orders_read.intersection_update(markets)  # one untracked and tracked again is new
        steady = mark is not None and mark[1] and mark == self._user_mark
        since = self._sliced_since_full
        if full or since is None or since + 1 >= FULL_ORDER_READ_EVERY or not steady:
            return None
        most = len(markets) // MARKET_READ_WEIGHT  # per-market reads cheaper than one full read
        if most < ORDER_MARKETS_PER_RESYNC:
            return None
        some, _cursor = _rolling(markets, self._orders_cursor, ORDER_MARKETS_PER_RESYNC)
        chosen = set(some)
        for condition_id in markets:
            if (
                condition_id not in self._orders_read
                or self.store.unsettled(condition_id) is not None
                or self.store.stale_reason(condition_id) is not None
            ):
                chosen.add(condition_id)
                if len(chosen) > most:
                    return None
        return sorted(chosen)

    def _read_orders(self, chosen: list[str]) -> dict[str, OpenOrders]:
        if len(chosen) == 1:
            return {chosen[0]: self.venue.open_orders(chosen[0])}
        with ThreadPoolExecutor(max_workers=ORDER_READ_WORKERS, thread_name_prefix="resync-orders") as pool:
            return dict(zip(chosen, pool.map(self.venue.open_orders, chosen), strict=True))

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

    def _adopt_full(self, answer: OpenOrders, markets: list[str], as_of: float) -> None:
        orders = self._whole_orders(answer, set(markets))
        self.store.replace_orders(None, orders, as_of=as_of)
        shared = any(s.ownership == "shared" for s in self.reconciler.specs().values())
        self.placed.prune((o.id for o in orders), as_of, persist=shared)
        self._orders_read = set(markets)
        self._sliced_since_full = 0
        self.full_order_reads += 1

    def _adopt_slice(self, answers: dict[str, OpenOrders], as_of: float) -> None:
        """Replace the orders of exactly the markets read; the record of placed orders may
        forget only orders our view held in those markets (another market's id is kept)."""
        still_open: list[str] = []
        covered: list[str] = []
        for condition_id, answer in answers.items():
            if not answer.complete_for(condition_id):
                # An order missing from it is not gone: keep our view, re-read before placing.
                self.store.set_unsettled(condition_id, "its open orders came back incomplete")
                continue
            orders = [o for o in answer.orders if o.market == condition_id]  # a stray row is not this market's
            covered.extend(o.id for o in self.store.open_orders(condition_id))
            still_open.extend(o.id for o in orders)
            self.store.replace_orders(condition_id, orders, as_of=as_of)
        if covered:
            shared = any(s.ownership == "shared" for s in self.reconciler.specs().values())
            self.placed.prune(still_open, as_of, persist=shared, among=covered)
        self._orders_read.update(answers)
        self._orders_cursor += ORDER_MARKETS_PER_RESYNC
        self._sliced_since_full = (self._sliced_since_full or 0) + 1
        self.sliced_order_reads += 1

    def run(self, initial: bool = False, *, full_orders: bool = False) -> bool:
        """Re-read books, open orders and balances; requeue. False if the read failed.
        ``full_orders``: read every open order now, whatever the slice schedule says."""
        with self._lock:
            markets = self.store.tracked_markets()
            tokens = self.store.token_ids()
            as_of = self.store.now()
            mark = self.venue.user_feed_mark()
            everything = initial or not self.store.balances_synced
            audited, cursor = (tokens, 0) if everything else _rolling(tokens, self._balance_cursor, BALANCES_PER_RESYNC)
            if initial or not self._books_read:
                compared, book_cursor = tokens, self._book_cursor
            else:
                some, book_cursor = _rolling(tokens, self._book_cursor, BOOKS_PER_RESYNC)
                compared = sorted(set(some) | set(self.store.unsure_tokens()))
            chosen = self._order_markets(markets, initial or full_orders, mark)
            # Compared before and after: the markets something is read for (all on a full read).
            looked_at = None if chosen is None else self._touched(chosen, audited, compared)
            before = _fingerprints(self.store.snapshot(looked_at))
            seen = {t: self.store.stream_updates(t) for t in compared}
            try:
                books = self.venue.get_books(compared) if compared else {}
                answer = self.venue.open_orders() if chosen is None else None
                answers = self._read_orders(chosen) if chosen else {}
                balances = self.venue.get_balances(audited)
            except (VenueError, Ambiguous) as exc:
                self.failures += 1
                log.warning("resync failed: %s", str(exc)[:300])
                return False
            # A failed read audits the same slices next time.
            self._balance_cursor, self._book_cursor = cursor, book_cursor
            self._books_read = True
            self._user_mark = mark
            suspects = {}
            for token, snapshot in books.items():
                verdict = self.store.resync_book(token, snapshot.book, None if initial else seen.get(token))
                if verdict == "missed":
                    suspects[token] = seen[token]
            if answer is not None:
                self._adopt_full(answer, markets, as_of)
            else:
                self._adopt_slice(answers, as_of)
            self.store.replace_balances(balances, as_of=as_of)
            first_read = self.reconciler.set_orders_known() if answer is not None else False
            if self.market_feed_trusted():
                for condition_id in {self.store.market_of_token(t) for t in books}:
                    if condition_id is not None:
                        self.store.set_fresh(condition_id)
            after = _fingerprints(self.store.snapshot(looked_at))
        self._refresh_some_rules(markets)
        if suspects:
            self.threads.spawn(
                "frozen-stream-check",
                self._confirm_frozen,
                suspects,
                time.monotonic(),
                delay=self.freeze_confirm_seconds,
            )
        if initial or first_read:
            self.reconciler.enqueue_all()
        else:
            # Level-triggered, but only where looking again can change something: a market
            # whose REST view differs from what we had, or one left short of balance.
            self.reconciler.enqueue_markets(m for m, fingerprint in after.items() if before.get(m) != fingerprint)
            self.reconciler.enqueue_short()
        return True

    def _touched(self, chosen: Iterable[str], audited: Iterable[str], compared: Iterable[str]) -> list[str]:
        """The markets of a sliced resync's reads: orders read, balances audited, books compared."""
        touched = set(chosen)
        for token in (*audited, *compared):
            condition_id = self.store.market_of_token(token)
            if condition_id is not None:
                touched.add(condition_id)
        return sorted(touched)

    def _refresh_some_rules(self, markets: list[str]) -> None:
        """Re-read market rules from REST (the authority on tick sizes), a slice per resync so
        that the cost stays flat with many markets; real changes arrive through ``on_rules``."""
        if not markets:
            return
        chosen, self._rules_cursor = _rolling(markets, self._rules_cursor, RULES_PER_RESYNC)
        self.venue.refresh_rules(chosen)

    def _confirm_frozen(self, suspects: dict[str, int], suspected_at: float) -> None:
        """A REST book showed a change the stream had not delivered, and still does: adopt
        REST's book. If the channel has delivered nothing since, it is frozen: mark the
        market stale and let the owner reconnect. If it delivered other markets' events, it
        lost one message (a drop): the market is planned again on REST's book, quotes stay.
        ``suspected_at``: ``time.monotonic()`` when the resync saw the difference."""
        silent = [t for t, seen in suspects.items() if self.store.stream_updates(t) == seen]
        if not silent:
            return
        try:
            books = self.venue.get_books(silent)
        except (VenueError, Ambiguous) as exc:
            log.warning("frozen-stream check failed: %s", str(exc)[:300])
            return
        missed = []
        for token in silent:
            snapshot = books.get(token)
            if snapshot is not None and self.store.resync_book(token, snapshot.book, suspects[token]) == "missed":
                self.store.adopt_book(token, snapshot.book)
                condition_id = self.store.market_of_token(token)
                if condition_id:
                    missed.append(condition_id)
        if not missed:
            return
        if self.market_silent_for() < time.monotonic() - suspected_at:  # delivered since the suspicion
            log.info("market feed: %d book(s) missed a stream message; REST's adopted", len(missed))
            self.reconciler.enqueue_markets(missed)
            return
        for condition_id in missed:
            self.store.mark_stale(condition_id, "the market stream missed a book change")
        self.on_frozen(missed)


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
