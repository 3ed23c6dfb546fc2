"""The resync reads open orders a slice of markets at a time, with a full read every few minutes.

A stub exchange holds the account's open orders and records every ``GET /data/orders``
(``market=None``: the full read). Pinned here: small deployments read everything every
time; past a slice, a resync reads its slice plus the suspect markets and never forgets,
settles or prunes what it did not read; an order no slice reaches is found by the full
read within ``FULL_ORDER_READ_EVERY`` resyncs; an unchanged account requeues nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal as D

from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.loop import resync as resync_module
from controller.loop.ownership import PlacedOrders
from controller.loop.resync import FULL_ORDER_READ_EVERY, MARKET_READ_WEIGHT, ORDER_MARKETS_PER_RESYNC, Resync
from controller.loop.threads import Threads
from controller.observe.state import Balances, Book, Level, OpenOrder
from controller.observe.store import ObservedStore
from controller.venue.client import VenueError
from controller.venue.wire import BookSnapshot, OpenOrders

BOOK = Book(bids=(Level(D("0.48"), D("10")),), asks=(Level(D("0.52"), D("10")),))
# Enough markets that a slice and a few suspects are read one market at a time.
MANY = 2 * MARKET_READ_WEIGHT * ORDER_MARKETS_PER_RESYNC
# Too few: one paged read of every order is cheaper than a slice of per-market reads.
FEW = MARKET_READ_WEIGHT * ORDER_MARKETS_PER_RESYNC - 1


def market_ids(n: int) -> dict[str, tuple[str, str]]:
    return {f"0x{m:064x}": (f"{m}01", f"{m}02") for m in range(1, n + 1)}


def order(market: str, index: int, token: str) -> OpenOrder:
    return OpenOrder(
        id=f"0x{market[-6:]}{index:02d}", market=market, token_id=token, side="BUY", price=D("0.45"), size=D("10")
    )


class Exchange:
    """The stub venue: open orders by market, every read recorded."""

    def __init__(self, markets: dict[str, tuple[str, str]]) -> None:
        self.markets = markets
        self.orders: dict[str, OpenOrder] = {}
        for condition_id, (yes, _no) in markets.items():
            for index in range(2):
                o = order(condition_id, index, yes)
                self.orders[o.id] = o
        self.reads: list[str | None] = []  # the market of each orders read; None: all of them
        self.incomplete: set[str] = set()
        self.failing = False
        self.mark: tuple[int, bool] | None = (0, True)

    def get_books(self, token_ids):  # type: ignore[no-untyped-def]
        market = {t: c for c, pair in self.markets.items() for t in pair}
        return {t: BookSnapshot(t, market[t], BOOK, "h", None, None, None) for t in token_ids}

    def open_orders(self, market: str | None = None) -> OpenOrders:
        self.reads.append(market)
        if self.failing:
            raise VenueError("orders: HTTP 500")
        rows = tuple(o for o in self.orders.values() if market is None or o.market == market)
        if market is not None and market in self.incomplete:
            return OpenOrders(rows[1:], ("item 0: malformed",), frozenset({market}))
        return OpenOrders(rows)

    def get_balances(self, token_ids):  # type: ignore[no-untyped-def]
        return Balances(D(1000), dict.fromkeys(token_ids, D(0)))

    def refresh_rules(self, condition_ids):  # type: ignore[no-untyped-def]
        pass

    def user_feed_mark(self) -> tuple[int, bool] | None:
        return self.mark

    def sliced_reads(self) -> list[str]:
        return [m for m in self.reads if m is not None]

    def full_reads(self) -> int:
        return sum(1 for m in self.reads if m is None)


class Reconciler:
    def __init__(self) -> None:
        self.queued: list[str] = []
        self.everything = 0
        self.known = False

    def set_orders_known(self) -> bool:
        first, self.known = not self.known, True
        return first

    def specs(self):  # type: ignore[no-untyped-def]
        return {}

    def enqueue_all(self) -> None:
        self.everything += 1

    def enqueue_markets(self, condition_ids: Iterable[str]) -> None:
        self.queued.extend(condition_ids)

    def enqueue_short(self) -> None:
        pass


class Rig:
    def __init__(self, n: int) -> None:
        self.clock = FakeClock(100.0)
        self.store = ObservedStore(clock=self.clock)
        self.markets = market_ids(n)
        for condition_id, tokens in self.markets.items():
            self.store.track_market(condition_id, tokens, D("0.01"), D("5"), False)
        self.exchange = Exchange(self.markets)
        self.reconciler = Reconciler()
        self.placed = PlacedOrders(None, clock=self.clock)
        self.resync = Resync(
            self.exchange,  # type: ignore[arg-type]
            self.store,
            self.reconciler,  # type: ignore[arg-type]
            self.placed,
            Threads(),
            market_feed_trusted=lambda: True,
            on_frozen=lambda markets: None,
        )

    def run(self, initial: bool = False) -> list[str | None]:
        """One resync 15 s later; the orders reads it made."""
        self.clock.t += 15
        start = len(self.exchange.reads)
        assert self.resync.run(initial=initial)
        return self.exchange.reads[start:]

    def local(self, market: str) -> set[str]:
        return {o.id for o in self.store.open_orders(market)}

    def remote(self, market: str) -> set[str]:
        return {o.id for o in self.exchange.orders.values() if o.market == market}


def test_a_small_deployment_reads_every_order_every_time() -> None:
    rig = Rig(FEW)
    for initial in (True, False, False, False):
        assert rig.run(initial=initial) == [None], "one full read, no per-market reads"
    assert rig.store.open_orders() and all(rig.local(m) == rig.remote(m) for m in rig.markets)


def test_the_first_read_is_full_then_a_slice_is_read_per_resync() -> None:
    rig = Rig(MANY)
    assert rig.run(initial=True) == [None]
    assert rig.reconciler.everything == 1, "the adoption gate opened on the full read"
    reads = rig.run()
    assert None not in reads and len(reads) == ORDER_MARKETS_PER_RESYNC, "a slice, one request per market"
    assert len(set(reads)) == len(reads)
    seen = set(reads)
    for _ in range(MANY // ORDER_MARKETS_PER_RESYNC - 1):  # (no full read comes meanwhile)
        seen.update(rig.run())
    assert seen == set(rig.markets), "the slices go round every market"


def test_a_sliced_read_forgets_nothing_of_the_markets_it_did_not_read() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    where = {o.id: o.market for o in rig.store.open_orders()}
    everyone = set(where)
    rig.placed.add(everyone, persist=False)
    rig.clock.t += 1  # the records are older than the next read
    # Every order is gone from the exchange behind the streams' back.
    rig.exchange.orders.clear()
    reads = rig.run()
    read = set(reads)
    assert None not in reads
    for market in rig.markets:
        if market in read:
            assert rig.local(market) == set(), "what the read covered is adopted"
        else:
            assert len(rig.local(market)) == 2, "a market the read did not cover keeps its orders"
    kept = rig.placed.ids()
    for order_id, market in where.items():
        assert (order_id in kept) == (market not in read), "only orders of markets read are forgotten"


def test_an_unknown_order_on_a_market_no_slice_reaches_is_found_by_the_full_read_in_time() -> None:
    # More markets than the slices reach between two full reads.
    rig = Rig(ORDER_MARKETS_PER_RESYNC * FULL_ORDER_READ_EVERY + 100)
    rig.run(initial=True)
    # An order we never heard of (placed by another tool, its stream event lost) in the
    # market the slices come to last.
    behind = sorted(rig.markets)[-1]
    stray = order(behind, 9, rig.markets[behind][0])
    rig.exchange.orders[stray.id] = stray
    resyncs = 0
    while stray.id not in rig.local(behind):
        resyncs += 1
        assert resyncs <= FULL_ORDER_READ_EVERY, "not found within the documented bound"
        reads = rig.run()
    assert reads == [None], "found by the full read"
    assert resyncs == FULL_ORDER_READ_EVERY


def test_the_bound_follows_the_constant(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(resync_module, "FULL_ORDER_READ_EVERY", 3)
    rig = Rig(MANY)
    rig.run(initial=True)
    stray = order(sorted(rig.markets)[-1], 9, "x")  # the fourth slice's: the full read comes first
    rig.exchange.orders[stray.id] = stray
    fulls = [None in rig.run() for _ in range(6)]
    assert fulls == [False, False, True, False, False, True]
    assert stray.id in rig.local(stray.market)


def test_a_full_read_comes_every_full_order_read_every_resyncs() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    kinds = ["full" if None in rig.run() else "slice" for _ in range(2 * FULL_ORDER_READ_EVERY)]
    fulls = [i for i, k in enumerate(kinds) if k == "full"]
    assert fulls == [FULL_ORDER_READ_EVERY - 1, 2 * FULL_ORDER_READ_EVERY - 1], kinds


def test_resyncs_of_an_unchanged_account_requeue_nothing() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    for _ in range(FULL_ORDER_READ_EVERY + 2):  # slices and one full read
        rig.run()
    assert rig.exchange.full_reads() == 2 and rig.exchange.sliced_reads()
    assert rig.reconciler.queued == [], "nothing differs from the local view: nothing to look at again"
    assert rig.reconciler.everything == 1


def test_a_changed_market_in_the_slice_is_requeued_and_only_it() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    target = sorted(rig.markets)[ORDER_MARKETS_PER_RESYNC]  # the second slice's first market
    gone = next(iter(rig.remote(target)))
    del rig.exchange.orders[gone]
    rig.run()
    assert rig.reconciler.queued == [] and gone in rig.local(target), "not read yet: untouched"
    assert target in rig.run()
    assert rig.reconciler.queued == [target] and gone not in rig.local(target)


def test_suspect_markets_are_read_whatever_the_slice() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    last = sorted(rig.markets)
    unsettled, stale = last[-1], last[-2]
    rig.store.set_unsettled(unsettled, "cancel outcome unknown")
    rig.store.mark_stale(stale, "the market stream missed a book change")
    # A market registered after the start: never read yet.
    new = f"0x{10_000:064x}"
    rig.markets[new] = ("1000001", "1000002")
    rig.exchange.markets[new] = rig.markets[new]
    rig.store.track_market(new, rig.markets[new], D("0.01"), D("5"), False)
    fresh = order(new, 0, "1000001")
    rig.exchange.orders[fresh.id] = fresh
    reads = rig.run()
    assert None not in reads and {unsettled, stale, new} <= set(reads)
    assert len(reads) == ORDER_MARKETS_PER_RESYNC + 3
    assert rig.local(new) == {fresh.id}
    assert rig.store.unsettled(unsettled) == "cancel outcome unknown", "the resync never settles a market"
    assert new not in rig.run(), "read once: no longer a suspect"


def test_too_many_suspects_make_one_full_read_instead() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    rig.store.mark_stale(None, "market stream disconnected")  # every market a suspect
    assert rig.run() == [None]


def test_a_user_channel_drop_makes_the_next_read_full() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    assert None not in rig.run()
    rig.exchange.mark = (0, False)  # down: fills and cancels may be missed
    assert rig.run() == [None]
    assert rig.run() == [None], "still down: every read is full"
    rig.exchange.mark = (1, True)  # back, after a reconnect
    assert rig.run() == [None], "the first read after the reconnect is full"
    assert None not in rig.run(), "then slices again"
    rig.exchange.mark = None  # no streams at all (apply, diff)
    assert rig.run() == [None]


def test_an_incomplete_market_list_keeps_our_view_and_unsettles_only_that_market() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    target = sorted(rig.markets)[ORDER_MARKETS_PER_RESYNC]
    rig.placed.add(rig.local(target), persist=False)
    rig.clock.t += 1
    rig.exchange.incomplete.add(target)
    rig.run()
    assert target in rig.run()
    assert rig.local(target) == rig.remote(target), "an order missing from a bad list is not gone"
    assert rig.local(target) <= rig.placed.ids()
    assert rig.store.unsettled(target) is not None
    others = [m for m in rig.markets if m != target]
    assert all(rig.store.unsettled(m) is None for m in others)


def test_a_failed_sliced_read_changes_nothing_and_reads_the_same_slice_next_time() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    rig.exchange.failing = True
    start = len(rig.exchange.reads)
    rig.clock.t += 15
    assert not rig.resync.run()
    failed = set(rig.exchange.reads[start:])  # (the rest cancelled once one failed)
    rig.exchange.failing = False
    again = rig.run()
    assert failed <= set(again) == set(sorted(rig.markets)[:ORDER_MARKETS_PER_RESYNC]), "the same, first, slice"
    assert all(rig.local(m) == rig.remote(m) for m in rig.markets)


@settings(max_examples=40, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.integers(0, MANY - 1), st.sampled_from(["drop", "add"]), st.booleans()),
        max_size=30,
    )
)
def test_after_any_read_a_market_is_what_the_exchange_says_if_read_and_what_we_had_if_not(changes) -> None:  # type: ignore[no-untyped-def]
    rig = Rig(MANY)
    rig.run(initial=True)
    names = sorted(rig.markets)
    for serial, (index, what, resync_now) in enumerate(changes):
        market = names[index]
        if what == "drop" and rig.remote(market):
            del rig.exchange.orders[sorted(rig.remote(market))[0]]
        else:
            extra = order(market, 10 + serial, rig.markets[market][0])
            rig.exchange.orders[extra.id] = extra
        if resync_now:
            before = {m: rig.local(m) for m in names}
            reads = rig.run()
            read = set(names) if None in reads else set(reads)
            for m in names:
                assert rig.local(m) == (rig.remote(m) if m in read else before[m]), m


def test_a_full_read_can_be_asked_for_and_restarts_the_schedule() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    assert None not in rig.run()
    rig.clock.t += 15
    start = len(rig.exchange.reads)
    assert rig.resync.run(full_orders=True)
    assert rig.exchange.reads[start:] == [None]
    assert rig.reconciler.everything == 1, "not a start: nothing but what changed is requeued"
    assert None not in rig.run()


def test_a_market_tracked_again_is_read_as_a_new_one() -> None:
    rig = Rig(MANY)
    rig.run(initial=True)
    last = sorted(rig.markets)[-1]
    rig.store.untrack_market(last)
    assert last not in rig.run()
    rig.store.track_market(last, rig.markets[last], D("0.01"), D("5"), False)
    assert last in rig.run()
