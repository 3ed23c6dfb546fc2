"""The reconciler's paths, one at a time, against a scripted venue (no sockets).

End-to-end tests reach these paths only by luck of timing; here each is forced: an
unknown outcome and the re-read it causes, backoff and its reset, a rate-limited
venue, a deleted manifest's orders, ownership on a restart, the start-up gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fakeclock import FakeClock

from controller.loop.ownership import PlacedOrders
from controller.loop.reconciler import Reconciler
from controller.observe.state import Balances, Book, Level, OpenOrder
from controller.observe.store import ObservedStore
from controller.spec.types import Band, MarketMakerSpec, MarketRef
from controller.venue.client import OrderRequest, RateLimited

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
MARKET = "0x" + "ab" * 32
YES, NO = "111", "222"
SPEC = MarketMakerSpec(
    name="m",
    market=MarketRef(condition_id=MARKET, yes_token=YES, no_token=NO),
    bands=(Band(*(Decimal(x) for x in ("0.01", "0.02", "0.03", "10", "20", "30"))),),
)


@dataclass
class _Cancelled:
    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = field(default_factory=dict)
    ambiguous: tuple[str, ...] = ()

    @property
    def gone(self) -> tuple[str, ...]:
        return self.canceled

    @property
    def failed(self) -> dict[str, str]:
        return self.not_canceled


@dataclass
class _Placed:
    request: OrderRequest
    order_id: str | None
    status: str = "live"
    error: str = ""
    ambiguous: bool = False
    problem: Any = None

    @property
    def placed(self) -> bool:
        return bool(self.order_id) and not self.error and not self.ambiguous


class ScriptedVenue:
    """Answers like the venue; ``script`` says how the next call goes."""

    def __init__(self) -> None:
        self.placed: list[OrderRequest] = []
        self.cancelled: list[str] = []
        self.orders_reads = 0
        self.open_orders: list[OpenOrder] = []
        self.next_place: str = "ok"  # ok | ambiguous | rate-limited
        self._ids = 0

    def place_orders(self, requests: list[OrderRequest]) -> list[_Placed]:
        if self.next_place == "rate-limited":
            raise RateLimited("slow down", retry_after=7.0)
        answers = []
        for request in requests:
            self._ids += 1
            order_id = f"0x{self._ids:064x}"
            self.placed.append(request)
            if self.next_place == "ambiguous":
                answers.append(_Placed(request, order_id, status="", error="timed out", ambiguous=True))
            else:
                answers.append(_Placed(request, order_id))
        return answers

    def cancel_orders(self, ids: list[str]) -> _Cancelled:
        self.cancelled.extend(ids)
        return _Cancelled(canceled=tuple(ids))

    def cancel_and_place(self, ids: list[str], requests: list[OrderRequest]) -> Any:
        from controller.venue.trading import Sent

        return Sent(self.cancel_orders(ids), self.place_orders(requests))  # type: ignore[arg-type]

    def get_orders(self, market: str | None = None) -> list[OpenOrder]:
        self.orders_reads += 1
        return list(self.open_orders)


def make(tmp_path: Path | None = None, **kwargs: Any) -> tuple[Reconciler, ScriptedVenue, ObservedStore]:
    venue = ScriptedVenue()
    clock = FakeClock(100.0)
    store = ObservedStore(clock=clock)
    store.track_market(MARKET, (YES, NO), Decimal("0.01"), Decimal("5"), False)
    book = Book.from_levels([Level(Decimal("0.48"), Decimal("100"))], [Level(Decimal("0.52"), Decimal("100"))])
    store.adopt_book(YES, book)
    store.adopt_book(NO, book.mirrored())
    store.set_fresh(MARKET)
    store.replace_balances(Balances(collateral=Decimal("1000"), tokens={YES: Decimal(0), NO: Decimal(0)}))
    placed = PlacedOrders(None if tmp_path is None else tmp_path / "placed-orders.json", clock=clock)
    reconciler = Reconciler(venue, store, now=lambda: NOW, placed=placed, **kwargs)  # type: ignore[arg-type]
    reconciler.set_specs([SPEC])
    return reconciler, venue, store


def test_nothing_is_planned_before_the_open_orders_are_known() -> None:
    reconciler, venue, _ = make()
    outcome = reconciler.reconcile("m")
    assert outcome.waiting and outcome.plan is None and not venue.placed
    reconciler.set_orders_known()
    outcome = reconciler.reconcile("m")
    assert outcome.waiting is None and outcome.executed and venue.placed


def test_an_unknown_place_outcome_re_reads_the_market_before_placing_again() -> None:
    reconciler, venue, store = make()
    reconciler.set_orders_known()
    venue.next_place = "ambiguous"
    outcome = reconciler.reconcile("m")
    assert outcome.error and store.unsettled(MARKET)
    sent = len(venue.placed)
    venue.next_place = "ok"
    venue.open_orders = []  # the exchange says none of them rests
    reconciler.reconcile("m")
    assert venue.orders_reads == 1, "the market's open orders were re-read first"
    assert not store.unsettled(MARKET)
    assert len(venue.placed) > sent


def test_failures_back_off_exponentially_and_a_success_resets_it() -> None:
    reconciler, venue, _ = make(backoff_initial=0.5, backoff_cap=4.0)
    reconciler.set_orders_known()
    venue.next_place = "ambiguous"
    delays = []
    for _ in range(5):
        reconciler._handle("m")
        delays.append(reconciler.queue.failures("m"))
    assert delays == [1, 2, 3, 4, 5]
    venue.next_place = "ok"
    reconciler.store.set_unsettled(MARKET, None)
    reconciler._handle("m")
    assert reconciler.queue.failures("m") == 0


def test_a_rate_limited_venue_waits_at_least_what_the_exchange_asks() -> None:
    reconciler, venue, _ = make(backoff_initial=0.5)
    reconciler.set_orders_known()
    venue.next_place = "rate-limited"
    outcome = reconciler.reconcile("m")
    assert outcome.error and outcome.requeue_after == 7.0
    reconciler._handle("m")
    assert reconciler.queue.failures("m") == 1


def test_a_deleted_manifest_has_its_orders_cancelled_then_is_forgotten() -> None:
    reconciler, venue, store = make()
    reconciler.set_orders_known()
    reconciler.reconcile("m")
    ours = {o.id for o in store.open_orders(MARKET)}
    assert ours
    reconciler.set_specs([])
    reconciler.reconcile("m")
    assert set(venue.cancelled) == ours
    assert "m" not in reconciler._retired


def test_a_shared_market_after_a_restart_cancels_only_what_it_placed(tmp_path: Path) -> None:
    spec = replace(SPEC, ownership="shared")
    first, _venue, store = make(tmp_path)
    first.set_specs([spec])
    first.set_orders_known()
    first.reconcile("m")
    mine = {o.id for o in store.open_orders(MARKET)}
    assert (tmp_path / "placed-orders.json").exists()

    # A new process: the same orders on the book, plus one placed by another tool.
    foreign = OpenOrder("0x" + "ee" * 32, MARKET, YES, "BUY", Decimal("0.30"), Decimal("10"))
    second, venue2, store2 = make(tmp_path)
    second.placed.load()
    assert second.placed.ids() == mine
    second.set_specs([spec])
    store2.replace_orders(None, [*store.open_orders(MARKET), foreign])
    second.set_orders_known()
    # The market moved: all of ours are now outside every band.
    moved = Book.from_levels([Level(Decimal("0.68"), Decimal("100"))], [Level(Decimal("0.72"), Decimal("100"))])
    store2.adopt_book(YES, moved)
    store2.adopt_book(NO, moved.mirrored())
    second.reconcile("m")
    assert set(venue2.cancelled) == mine, "its own orders go, the foreign one stays"
    assert foreign.id not in venue2.cancelled
    assert {o.id for o in second.owned_orders()} <= mine | {r for r in second.placed.ids()}


def test_order_actions_log_at_info_without_logging_errors(caplog) -> None:
    """Every action's structured fields go into the log record: none may clash with LogRecord's own."""
    import logging

    caplog.set_level(logging.INFO)
    reconciler, venue, store = make()
    reconciler.set_orders_known()
    reconciler.reconcile("m")
    moved = Book.from_levels([Level(Decimal("0.68"), Decimal("100"))], [Level(Decimal("0.72"), Decimal("100"))])
    store.adopt_book(YES, moved)
    store.adopt_book(NO, moved.mirrored())
    actions: list[tuple[str, dict[str, object]]] = []
    reconciler.on_action = lambda name, cid, action, fields: actions.append((action, fields))
    outcome = reconciler.reconcile("m")
    assert outcome.error is None, outcome.error
    assert venue.cancelled, "the move left orders outside every band"
    kinds = {a for a, _ in actions}
    assert {"cancel", "place"} <= kinds, kinds
    assert any(" - " in r.getMessage() for r in caplog.records), "a cancel line was logged"
