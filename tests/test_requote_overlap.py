"""One reconcile per move, and its cancels and places on the wire together when that is safe.

Pins behaviour, not timings: a burst of book updates that arrives while a worker drains
the stream leads to one plan; a plan's cancels and the places that need nothing they
free go out in one overlapped call, the places that share a band with a cancelled order
follow its answer (and not at all when it is unknown); and, as a planner property, no
cancel removes an order that the next plan would place again.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import given
from test_bands_properties import PROPS, scenario
from test_bands_support import NOW, band, order, spec
from test_reconciler_unit import MARKET, NO, YES, _Cancelled, make

from controller.loop.execute import Outcome, execute
from controller.loop.workqueue import WorkQueue
from controller.observe.state import Balances, Book, Level, MarketState, ObservedState
from controller.observe.store import ObservedStore
from controller.plan.bands import apply_plan, plan, plan_market
from controller.plan.model import Cancellation, MarketPlan, Placement
from controller.plan.planner import after_cancels
from controller.plan.reasons import CancelReason
from controller.venue.trading import Sent

# --------------------------------------------------------------------------- one plan per burst


def test_adds_announced_before_the_worker_reads_the_state_cost_no_second_reconcile() -> None:
    queue = WorkQueue()
    queue.add("m")
    assert queue.get() == "m"
    for _ in range(3):  # the rest of the burst, applied while the worker drains
        queue.add("m", coalescible=True)
    queue.clear_dirty("m")  # ... then it reads the state: they are all in it
    queue.done("m")
    assert queue.try_get() is None and queue.idle()


def test_an_add_after_the_state_was_read_still_reconciles_again() -> None:
    queue = WorkQueue()
    queue.add("m")
    assert queue.get() == "m"
    queue.clear_dirty("m")
    queue.add("m", coalescible=True)  # a change the plan did not see
    queue.done("m")
    assert queue.try_get() == "m"


def test_a_plain_add_while_processing_always_runs_the_key_again() -> None:
    queue = WorkQueue()
    queue.add("m")
    assert queue.get() == "m"
    queue.add("m")  # no promise that the state already holds what it is about
    queue.clear_dirty("m")
    queue.done("m")
    assert queue.try_get() == "m"


def test_a_burst_drained_before_planning_leads_to_one_plan() -> None:
    reconciler, venue, store = make()
    reconciler.set_orders_known()
    prices = iter(["0.47", "0.46", "0.45"])  # the house re-quotes: three book updates

    def drain() -> None:
        for price in prices:
            bid = Book.from_levels([Level(D(price), D(100))], [Level(D(price) + D("0.04"), D(100))])
            store.adopt_book(YES, bid)
            store.adopt_book(NO, bid.mirrored())
            reconciler.queue.add("m", coalescible=True)  # what the stream handler does after each

    reconciler.before_plan = drain
    reconciler.queue.add("m")
    assert reconciler.queue.get() == "m"
    plans: list[MarketPlan] = []
    reconciler.on_outcome = lambda o: plans.append(o.plan) if o.plan is not None else None
    reconciler._handle("m")
    reconciler.queue.done("m")
    assert len(plans) == 1 and plans[0].reference_price == D("0.47"), "planned once, on the settled book"
    # The only requeue left is the look-again after executing (level-triggered), not the burst.
    assert venue.placed and all(r.price <= D("0.46") for r in venue.placed if r.token_id == YES)


# --------------------------------------------------------------------------- overlap and order


def _plan(cancels: list[Cancellation], places: list[Placement], p: str = "0.50") -> MarketPlan:
    return MarketPlan(
        name="m",
        condition_id=MARKET,
        reference_price=D(p),
        cancel=tuple(cancels),
        place=tuple(places),
        keep=(),
        tick_size=D("0.01"),
        yes_token=YES,
        no_token=NO,
    )


TWO_BANDS = spec(
    (band("0.01", "0.02", "0.03", "10", "20", "30"), band("0.03", "0.04", "0.05", "10", "20", "30")),
    cid=MARKET,
    yes=YES,
    no=NO,
)


def _bid(price: str, band_index: int) -> Placement:
    return Placement(YES, "BUY", D(price), D(20), band_index, quote_side="bid")


def test_places_beside_cancels_of_orders_outside_every_band_go_together() -> None:
    outside = order("o1", "BUY", "0.40", "20", token=YES, market=MARKET)
    result = _plan([Cancellation("o1", CancelReason.OUTSIDE_BANDS, "", outside)], [_bid("0.48", 0)])
    assert after_cancels(TWO_BANDS, result) == frozenset()


def test_a_place_into_a_band_whose_excess_is_being_cancelled_waits() -> None:
    over = order("o1", "BUY", "0.48", "40", token=YES, market=MARKET)  # band 0 at p=0.50
    result = _plan(
        [Cancellation("o1", CancelReason.OVER_MAX_AMOUNT, "", over)],
        [_bid("0.48", 0), _bid("0.46", 1), Placement(NO, "BUY", D("0.48"), D(20), 0, quote_side="ask")],
    )
    assert after_cancels(TWO_BANDS, result) == frozenset({0}), "same side and band only"


def test_a_place_that_would_cross_a_cancelled_order_of_ours_waits() -> None:
    # After a jump up: our old ask (BUY NO at 0.52 = ask 0.48 in YES terms) is below the new bid.
    stale_ask = order("o1", "BUY", "0.52", "20", token=NO, market=MARKET)
    result = _plan(
        [Cancellation("o1", CancelReason.OUTSIDE_BANDS, "", stale_ask)],
        [_bid("0.49", 0), _bid("0.47", 1)],
        p="0.50",
    )
    assert after_cancels(TWO_BANDS, result) == frozenset({0}), "the exchange may take the place first"


def test_a_cancel_of_an_unknown_order_holds_every_place() -> None:
    result = _plan([Cancellation("o1", CancelReason.OVER_MAX_AMOUNT, "", None)], [_bid("0.48", 0), _bid("0.46", 1)])
    assert after_cancels(TWO_BANDS, result) == frozenset({0, 1})


class RecordingVenue:
    def __init__(self, cancel_answer: _Cancelled) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.cancel_answer = cancel_answer

    def cancel_and_place(self, ids: list[str], requests: list[Any]) -> Sent:
        self.calls.append(("both", list(ids), [r.price for r in requests]))
        return Sent(self.cancel_answer, [_ok(r, i) for i, r in enumerate(requests)])  # type: ignore[arg-type]

    def cancel_orders(self, ids: list[str]) -> _Cancelled:
        self.calls.append(("cancel", list(ids), None))
        return self.cancel_answer

    def place_orders(self, requests: list[Any]) -> list[Any]:
        self.calls.append(("place", None, [r.price for r in requests]))
        return [_ok(r, 100 + i) for i, r in enumerate(requests)]


def _ok(request: Any, n: int) -> Any:
    from test_reconciler_unit import _Placed

    return _Placed(request, f"0x{n:064x}")


def _store() -> ObservedStore:
    store = ObservedStore()
    store.track_market(MARKET, (YES, NO), D("0.01"), D("5"), False)
    return store


def _mixed_plan() -> MarketPlan:
    over = order("o1", "BUY", "0.48", "40", token=YES, market=MARKET)
    outside = order("o2", "BUY", "0.40", "20", token=YES, market=MARKET)
    return _plan(
        [
            Cancellation("o1", CancelReason.OVER_MAX_AMOUNT, "", over),
            Cancellation("o2", CancelReason.OUTSIDE_BANDS, "", outside),
        ],
        [_bid("0.48", 0), _bid("0.46", 1)],
    )


def test_execute_overlaps_what_may_overlap_and_orders_the_rest() -> None:
    venue = RecordingVenue(_Cancelled(canceled=("o1", "o2")))
    outcome = Outcome(name="m")
    execute(venue, _store(), TWO_BANDS, _mixed_plan(), NOW, outcome)  # type: ignore[arg-type]
    assert venue.calls == [("both", ["o1", "o2"], [D("0.46")]), ("place", None, [D("0.48")])]
    assert outcome.ok and len(outcome.placed) == 2


def test_a_cancel_of_unknown_outcome_sends_no_place_that_waited_for_it() -> None:
    venue = RecordingVenue(_Cancelled(ambiguous=("o1",), canceled=("o2",)))
    store = _store()
    outcome = Outcome(name="m")
    execute(venue, store, TWO_BANDS, _mixed_plan(), NOW, outcome)  # type: ignore[arg-type]
    assert [c[0] for c in venue.calls] == ["both"], "the band-0 place never went out"
    assert store.unsettled(MARKET) and outcome.error
    assert len(outcome.placed) == 1, "the overlapped place is recorded all the same"


def test_a_plan_with_only_places_sends_them_at_once() -> None:
    venue = RecordingVenue(_Cancelled())
    execute(venue, _store(), TWO_BANDS, _plan([], [_bid("0.48", 0)]), NOW, Outcome(name="m"))  # type: ignore[arg-type]
    assert venue.calls == [("place", None, [D("0.48")])]


# --------------------------------------------------------------------------- the planner property


@PROPS
@given(scenario())
def test_no_cancel_removes_an_order_the_next_plan_places_again(case: Any) -> None:
    specs, state, cancel_unmanaged = case
    first = plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)
    after = apply_plan(state, first)
    second = plan(specs, after, NOW, cancel_unmanaged=cancel_unmanaged)
    for now, then in zip(first.markets, second.markets, strict=True):
        # The same order again: a smaller one at the same price after cancelling down an
        # order over a band's maxAmount is not a re-placement (orders cannot be resized).
        gone = {(c.order.token_id, c.order.side, c.order.price, c.order.remaining) for c in now.cancel if c.order}
        again = {(p.token_id, p.side, p.price, p.size) for p in (*now.place, *then.place)}
        assert not gone & again, f"cancelled and placed again: {sorted(gone & again)}"


def test_the_same_check_on_one_market_plan() -> None:
    s = spec((band(),), cid=MARKET, yes=YES, no=NO)
    book = Book.from_levels([Level(D("0.48"), D(100))], [Level(D("0.52"), D(100))])
    state = ObservedState(
        time=NOW,
        markets={MARKET: MarketState(tick_size=D("0.01"), min_order_size=D(5), books={YES: book})},
        balances=Balances(collateral=D(1000)),
        orders=(order("o", "BUY", "0.45", "20", token=YES, market=MARKET),),
    )
    result = plan_market(s, state, NOW)
    assert [c.order_id for c in result.cancel] == ["o"], "0.45 is outside the bid band (0.47, 0.49]"
    bids = [p for p in result.place if p.quote_side == "bid"]
    assert [p.price for p in bids] == [D("0.48")], "the cancelled price is not placed again"


# --------------------------------------------------------------------------- a re-quote caught halfway


def _book(bid: str, ask: str | None) -> Book:
    asks = [Level(D(ask), D(100))] if ask is not None else []
    return Book.from_levels([Level(D(bid), D(100))], asks)


def test_a_pull_on_a_one_sided_book_waits_for_the_book_to_settle_and_plans_again() -> None:
    reconciler, venue, store = make()
    reconciler.set_orders_known()
    reconciler.reconcile("m")  # quoting around 0.50
    quoted = len(venue.placed)
    store.adopt_book(YES, _book("0.48", None))  # the other maker's asks cancelled, new ones not in yet
    settled: list[str] = []

    def settle(condition_id: str) -> bool:
        settled.append(condition_id)
        store.adopt_book(YES, _book("0.48", "0.52"))  # ... and in now
        return True

    reconciler.settle = settle
    outcome = reconciler.reconcile("m")
    assert settled == [MARKET]
    assert outcome.plan is not None and outcome.plan.pull_reason is None and not outcome.plan.has_changes
    assert len(venue.placed) == quoted and not venue.cancelled, "no quote pulled and placed back"


def test_a_book_that_changed_while_planning_is_planned_again() -> None:
    reconciler, _, _ = make()
    reconciler.set_orders_known()
    versions = iter([0, 1, 1, 1])  # one book change lands between the read and the plan's end
    reads: list[int] = []

    def version(condition_id: str) -> int:
        value = next(versions, 1)
        reads.append(value)
        return value

    reconciler.book_version = version
    plans: list[MarketPlan] = []
    reconciler.on_outcome = lambda o: plans.append(o.plan) if o.plan is not None else None
    original = reconciler._plan
    calls: list[int] = []

    def counted(spec: Any, name: str) -> Any:
        calls.append(1)
        return original(spec, name)

    reconciler._plan = counted  # type: ignore[method-assign]
    reconciler.reconcile("m")
    assert len(calls) == 2 and len(plans) == 1, "planned twice, executed once"


@PROPS
@given(scenario())
def test_what_goes_out_with_the_cancels_never_exceeds_a_band_nor_crosses_our_own(case: Any) -> None:
    """Whatever order the exchange takes them in: each band's resting amount (cancelled
    orders still counted) plus the overlapped placements stays within maxAmount wherever
    it did not already exceed it, and no overlapped placement crosses a cancelled order."""
    from controller.plan.classify import band_positions, in_band
    from controller.plan.reference import quote_view

    specs, state, cancel_unmanaged = case
    result = plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)
    for s, mp in zip(specs, result.markets, strict=True):
        if not mp.place or mp.reference_price is None or s.rewards.mode == "fit":
            continue
        p, quoted, complement = mp.reference_price, s.market.quoted_token, s.market.complement_token
        early = [pl for i, pl in enumerate(mp.place) if i not in after_cancels(s, mp)]
        views = [quote_view(c.order, quoted, complement) for c in mp.cancel if c.order is not None]
        for placement in early:
            q = placement.price if placement.token_id == quoted else 1 - placement.price
            for view in views:
                if view is None:
                    continue
                side, other = view
                assert not (placement.quote_side == "bid" and side == "ask" and other <= q)
                assert not (placement.quote_side == "ask" and side == "bid" and other >= q)
                band = next((i for i in band_positions(s.bands) if in_band(s.bands[i], p, side, other)), None)
                assert (side, band) != (placement.quote_side, placement.band) or band is None
