"""The resync at many markets: balances audited a slice at a time, requeues only what changed.

The venue and reconciler are stubs that record what the resync asked for and queued: the
behaviour pinned here is which balances are read on which resync, that a drifted balance
is corrected once the rolling audit reaches it, and that an unchanged market is not requeued.
"""

from __future__ import annotations

from decimal import Decimal as D

from fakeclock import FakeClock
from test_resync_slices import Reconciler as StubReconciler

from controller.loop import resync as resync_module
from controller.loop.ownership import PlacedOrders
from controller.loop.resync import BALANCES_PER_RESYNC, Resync
from controller.loop.threads import Threads
from controller.observe.state import Balances, Book, Level
from controller.observe.store import ObservedStore
from controller.venue.wire import BookSnapshot, OpenOrders

N_MARKETS = BALANCES_PER_RESYNC  # 2 tokens each: a full audit takes two resyncs plus one
MARKETS = {f"0x{m:064x}": (f"{m}01", f"{m}02") for m in range(1, N_MARKETS + 1)}
BOOK = Book(bids=(Level(D("0.48"), D("10")),), asks=(Level(D("0.52"), D("10")),))


class StubVenue:
    def __init__(self) -> None:
        self.tokens = {t: D(7) for pair in MARKETS.values() for t in pair}
        self.collateral = D(1000)
        self.balance_reads: list[list[str]] = []

    def get_books(self, token_ids):  # type: ignore[no-untyped-def]
        market = {t: c for c, pair in MARKETS.items() for t in pair}
        return {t: BookSnapshot(t, market[t], BOOK, "h", None, None, None) for t in token_ids}

    def open_orders(self, market=None):  # type: ignore[no-untyped-def]
        return OpenOrders(())

    def get_balances(self, token_ids):  # type: ignore[no-untyped-def]
        wanted = list(token_ids)
        self.balance_reads.append(wanted)
        return Balances(self.collateral, {t: self.tokens[t] for t in wanted})

    def refresh_rules(self, condition_ids):  # type: ignore[no-untyped-def]
        pass

    def user_feed_mark(self):  # type: ignore[no-untyped-def]
        return (0, True)  # the user channel up all along


def make() -> tuple[Resync, StubVenue, StubReconciler, ObservedStore, FakeClock]:
    clock = FakeClock(100.0)
    store = ObservedStore(clock=clock)
    for condition_id, tokens in MARKETS.items():
        store.track_market(condition_id, tokens, D("0.01"), D("5"), False)
    venue, reconciler = StubVenue(), StubReconciler()
    resync = Resync(
        venue,  # type: ignore[arg-type]
        store,
        reconciler,  # type: ignore[arg-type]
        PlacedOrders(None),
        Threads(),
        market_feed_trusted=lambda: True,
        on_frozen=lambda markets: None,
    )
    return resync, venue, reconciler, store, clock


def test_the_first_resync_reads_every_balance_then_a_slice_each_time() -> None:
    resync, venue, reconciler, store, clock = make()
    assert resync.run(initial=True)
    assert sorted(venue.balance_reads[0]) == store.token_ids(), "the first read is complete"
    assert reconciler.everything == 1
    for _ in range(3):
        clock.t += 15
        assert resync.run()
    slices = venue.balance_reads[1:]
    assert all(len(s) == BALANCES_PER_RESYNC for s in slices), "collateral + one slice, not 2N + 1"
    assert set(slices[0]) | set(slices[1]) == set(store.token_ids()), "two slices cover every token"


def test_the_rolling_audit_eventually_reads_every_balance_and_corrects_a_drift() -> None:
    resync, venue, reconciler, store, clock = make()
    assert resync.run(initial=True)
    # A balance moves behind the streams' back (a transfer the user channel never reports).
    drifted = store.token_ids()[-1]  # the audit goes in token order: this one comes last
    venue.tokens[drifted] = D(55)
    venue.collateral = D(990)
    reads_until_fixed = 0
    while store.balances().token(drifted) != D(55):
        reads_until_fixed += 1
        assert reads_until_fixed <= 2 * len(store.token_ids()) // BALANCES_PER_RESYNC, "audit never got there"
        clock.t += 15
        assert resync.run()
        assert store.balances().collateral == D(990), "collateral is audited on every resync"
    audited = {t for s in venue.balance_reads[1:] for t in s}
    assert audited == set(store.token_ids()), "every balance read by the time the drift is corrected"
    owner = next(c for c, pair in MARKETS.items() if drifted in pair)
    assert owner in reconciler.queued, "the market whose balance changed is requeued"


def test_a_resync_of_unchanged_markets_requeues_nothing() -> None:
    resync, _venue, reconciler, _store, clock = make()
    assert resync.run(initial=True)
    for _ in range(4):
        clock.t += 15
        assert resync.run()
    assert reconciler.queued == [], "nothing differs from the local view: nothing to look at again"
    assert reconciler.everything == 1


def test_a_failed_read_audits_the_same_slice_next_time() -> None:
    resync, venue, _reconciler, _store, clock = make()
    assert resync.run(initial=True)
    clock.t += 15
    assert resync.run()
    first = venue.balance_reads[-1]
    real = venue.get_balances

    def broken(token_ids):  # type: ignore[no-untyped-def]
        from controller.venue.client import VenueError

        real(token_ids)  # recorded, then the read fails
        raise VenueError("down")

    venue.get_balances = broken  # type: ignore[method-assign]
    clock.t += 15
    assert not resync.run()
    failed = venue.balance_reads[-1]
    venue.get_balances = real  # type: ignore[method-assign]
    clock.t += 15
    assert resync.run()
    assert venue.balance_reads[-1] == failed != first


def test_books_are_compared_a_slice_at_a_time_and_stale_markets_always(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(resync_module, "BOOKS_PER_RESYNC", 50)
    resync, venue, _reconciler, store, clock = make()
    asked: list[list[str]] = []
    real = venue.get_books

    def counted(token_ids):  # type: ignore[no-untyped-def]
        asked.append(list(token_ids))
        return real(token_ids)

    venue.get_books = counted  # type: ignore[method-assign]
    assert resync.run(initial=True)
    assert sorted(asked[0]) == store.token_ids(), "the first read compares every book"
    stale_market = next(iter(MARKETS))
    store.mark_stale(stale_market, "the market stream went down")
    clock.t += 15
    assert resync.run()
    assert len(asked[1]) <= 50 + 2 and set(MARKETS[stale_market]) <= set(asked[1]), "a slice, and the stale market"
    assert store.stale_reason(stale_market) is None, "REST made the stale market fresh at once"
    for _ in range(len(store.token_ids()) // 50):
        clock.t += 15
        assert resync.run()
    assert {t for a in asked[1:] for t in a} == set(store.token_ids()), "every book compared in turn"
