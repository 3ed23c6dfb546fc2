"""Benchmark-side hooks: timestamps from a price change to the placement ack, and their attribution.

The hooks wrap the controller's WS handler and validator, ``Reconciler.reconcile``,
``Venue.cancel_orders``/``place_orders``/``cancel_and_place``/``_sign`` (monkeypatching in the
benchmark process; no controller change); the emulator's book-change dispatch is hooked where
the emulator runs (``simproc``). ``analyse`` turns the
records of one move into a :class:`Move`. It decides nothing about the controller.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from controller.loop.controller import Controller
from controller.loop.triggers import schema_validators as _schema_validators
from controller.venue.client import OrderRequest, Venue

from .markets import MarketIds

# --------------------------------------------------------------------------- probe


def rejection_text(rejection: Any) -> str:
    """The exchange's words for a refused action: a ``Rejection`` (code and message) or a
    ``(what, why)`` pair, as reconcile outcomes have carried both."""
    if isinstance(rejection, tuple):
        return str(rejection[-1])
    return f"{getattr(rejection, 'code', '')}: {getattr(rejection, 'message', rejection)}"


@dataclass
class Call:
    start: float
    end: float
    n: int
    sign: float = 0.0


@dataclass
class Rec:
    start: float
    end: float
    changes: bool
    price: Decimal | None


@dataclass
class Timeline:
    emits: list[float] = field(default_factory=list)  # emulator enqueued a price change (latency, churn)
    recvs: list[float] = field(default_factory=list)  # controller parsed a market-channel message
    handled: list[float] = field(default_factory=list)  # ... and validated it (handler entry)
    reconciles: list[Rec] = field(default_factory=list)
    cancels: list[Call] = field(default_factory=list)
    places: list[Call] = field(default_factory=list)

    def marks(self) -> tuple[int, ...]:
        return (
            len(self.emits),
            len(self.recvs),
            len(self.handled),
            len(self.reconciles),
            len(self.cancels),
            len(self.places),
        )


class Probe:
    """Benchmark-side hooks: timestamps of the path from a price change to the placement ack."""

    def __init__(self) -> None:
        self.lines: dict[str, Timeline] = defaultdict(Timeline)  # condition id -> timeline
        self.cond_of: dict[str, str] = {}  # manifest name -> condition id
        self.cond_of_token: dict[str, str] = {}
        self.actions: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()  # rejected placements, reconcile errors, pulled quotes
        self.rate_waits = 0
        self._targets: dict[str, Decimal] = {}
        self._settled: dict[str, threading.Event] = {}
        self._settled_at: dict[str, float] = {}
        self._local = threading.local()
        self._arrival_at_handler = False  # no validator installed: see validators()

    def track(self, markets: Sequence[MarketIds]) -> None:
        for m in markets:
            self.cond_of[m.name] = m.condition_id
            self.cond_of_token[m.yes] = self.cond_of_token[m.no] = m.condition_id

    # -- settle detection ---------------------------------------------------------------

    def expect(self, name: str, price: Decimal) -> threading.Event:
        """Arm: the event is set by the first error-free empty plan at ``price`` for ``name``."""
        event = threading.Event()
        self._settled[name] = event
        self._targets[name] = price
        return event

    def settled_at(self, name: str) -> float:
        return self._settled_at.get(name, math.nan)

    # -- hooks --------------------------------------------------------------------------

    def validators(self, schema: bool = True) -> tuple[Any, Any]:
        """With ``schema``, the channels' JSON-Schema check (tests and benchmarks only) runs on every
        message and timestamps its arrival. Without, no validator at all: the streams then keep no raw
        copies of the events, as in production, and the handler's entry timestamps the arrival."""
        if not schema:
            self._arrival_at_handler = True
            return None, None
        market, user = _schema_validators()

        def timed_market(event: dict[str, Any]) -> str | None:
            cond = event.get("market")
            if isinstance(cond, str):
                self.lines[cond].recvs.append(time.perf_counter())
            return market(event)

        return timed_market, user

    def attach_controller(self, ctl: Controller) -> None:
        # The stream handlers are bound when the streams connect (Controller.start): wrap first.
        handlers = ctl.handlers
        handler = handlers.on_market_event

        def on_market_event(channel: str, event: Any) -> None:
            cond = getattr(event, "market", None)  # a parsed event (controller.venue.wire_ws)
            if isinstance(cond, str):
                line, now = self.lines[cond], time.perf_counter()
                if self._arrival_at_handler:
                    line.recvs.append(now)
                line.handled.append(now)
            handler(channel, event)

        handlers.on_market_event = on_market_event  # type: ignore[method-assign]
        reconcile = ctl.reconciler.reconcile

        def timed_reconcile(name: str) -> Any:
            cond = self.cond_of.get(name, name)
            self._local.cond = cond
            start = time.perf_counter()
            outcome = reconcile(name)
            end = time.perf_counter()
            plan = outcome.plan
            changes = plan is not None and plan.has_changes
            for rejection in outcome.rejected:
                self.problems[f"rejected: {rejection_text(rejection)[:60]}"] += 1
            if outcome.error:
                self.problems[f"error: {outcome.error[:60]}"] += 1
            if plan is not None and plan.note and plan.cancel:
                self.problems[f"pulled: {plan.note[:60]}"] += 1
            self.lines[cond].reconciles.append(Rec(start, end, changes, plan.reference_price if plan else None))
            target = self._targets.get(name)
            if (
                plan is not None
                and outcome.ok
                and not changes
                and not plan.awaiting_cancels
                and target is not None
                and plan.reference_price == target
            ):
                event = self._settled.get(name)
                if event is not None and not event.is_set():
                    self._settled_at[name] = end
                    event.set()
            return outcome

        ctl.reconciler.reconcile = timed_reconcile  # type: ignore[method-assign]
        self.attach_venue(ctl.venue)

    def attach_venue(self, venue: Venue) -> None:
        place, cancel, sign = venue.place_orders, venue.cancel_orders, venue._sign
        sleep = venue.budget._sleep

        def timed_sign(request: OrderRequest) -> Any:
            start = time.perf_counter()
            try:
                return sign(request)
            finally:
                self._local.sign = getattr(self._local, "sign", 0.0) + time.perf_counter() - start

        def timed_place(orders: Sequence[OrderRequest]) -> Any:
            self._local.sign = 0.0
            start = time.perf_counter()
            result = place(orders)
            end = time.perf_counter()
            cond = self.cond_of_token.get(orders[0].token_id, "?") if orders else "?"
            self.lines[cond].places.append(Call(start, end, len(orders), self._local.sign))
            self.actions["place"] += len(orders)
            return result

        def timed_cancel(order_ids: Sequence[str]) -> Any:
            start = time.perf_counter()
            result = cancel(order_ids)
            end = time.perf_counter()
            self.lines[getattr(self._local, "cond", "?")].cancels.append(Call(start, end, len(order_ids)))
            self.actions["cancel"] += len(order_ids)
            return result

        both = getattr(venue, "cancel_and_place", None)  # None: a controller from before it existed

        def timed_both(order_ids: Sequence[str], orders: Sequence[OrderRequest]) -> Any:
            # Cancels and places on the wire together: one call, recorded as both.
            self._local.sign = 0.0
            start = time.perf_counter()
            assert both is not None
            result = both(order_ids, orders)
            end = time.perf_counter()
            cond = getattr(self._local, "cond", "?")
            self.lines[cond].cancels.append(Call(start, end, len(order_ids)))
            self.lines[cond].places.append(Call(start, end, len(orders), self._local.sign))
            self.actions["cancel"] += len(order_ids)
            self.actions["place"] += len(orders)
            return result

        def counted_sleep(seconds: Any) -> None:
            self.rate_waits += 1
            sleep(seconds)

        venue._sign = timed_sign  # type: ignore[method-assign]
        venue.place_orders = timed_place  # type: ignore[method-assign]
        venue.cancel_orders = timed_cancel  # type: ignore[method-assign]
        if both is not None:
            venue.cancel_and_place = timed_both  # type: ignore[method-assign]
        venue.budget._sleep = counted_sleep

    def set_cond(self, cond: str) -> None:
        """For callers outside a reconcile (the naive loop): attribute cancels to ``cond``."""
        self._local.cond = cond


@dataclass
class Move:
    """One price move, in seconds from its t0 (the first emulator message, or the admin call)."""

    total: float  # t0 -> the last replacement order's POST /orders response received
    first_place: float  # t0 -> the first placement's response
    ws: float  # t0 -> first message of the move read and parsed by the controller's WS thread
    validate: float  # that message's JSON-schema validation
    to_first_reconcile: float  # handler entry -> start of the first reconcile after t0 (trigger + queue)
    earlier_reconciles: float  # first reconcile start -> start of the reconcile that placed last
    plan: float  # that reconcile's start -> its first venue call (snapshot + plan)
    cancel: float  # its cancel call(s)
    place: float  # its last place call (sign + POST /orders)
    sign: float  # signing inside that place call
    reconciles: int
    changed_reconciles: int
    places: int
    cancels: int
    burst: float  # first -> last emulator message of the re-quote (latency, churn)


def analyse(line: Timeline, marks: tuple[int, ...], t0: float, t_end: float, emitted: bool) -> Move | str:
    """Attribute the records of one move (taken after ``marks``) to the steps of the path."""
    emits = line.emits[marks[0] :]
    if emitted:
        if not emits:
            return "no emulator message"
        t0 = emits[0]
    recvs = [t for t in line.recvs[marks[1] :] if t >= t0]
    handled = [t for t in line.handled[marks[2] :] if t >= t0]
    recs = [r for r in line.reconciles[marks[3] :] if r.end >= t0 and r.start <= t_end]
    cancels = [c for c in line.cancels[marks[4] :] if t0 <= c.start <= t_end]
    places = [c for c in line.places[marks[5] :] if t0 <= c.start <= t_end]
    if not places and not cancels and recs and not any(r.changes for r in recs):
        return "no replacement needed"  # the orders, where they drifted to, are still inside their bands
    if not places or not recvs or not handled or not recs:
        return "incomplete records"
    last = max(places, key=lambda c: c.end)
    owner = next((r for r in recs if r.start <= last.start and r.end >= last.end), None)
    first = next((r for r in recs if r.start >= handled[0]), None)
    if owner is None or first is None:
        return "no reconcile owns the last placement"
    own_cancels = [c for c in cancels if owner.start <= c.start <= owner.end]
    first_call = min([last.start, *(c.start for c in own_cancels)])
    return Move(
        total=last.end - t0,
        first_place=min(c.end for c in places) - t0,
        ws=recvs[0] - t0,
        validate=handled[0] - recvs[0],
        to_first_reconcile=first.start - handled[0],
        earlier_reconciles=max(0.0, owner.start - first.start),
        plan=first_call - owner.start,
        cancel=sum(c.end - c.start for c in own_cancels),
        place=last.end - last.start,
        sign=last.sign,
        reconciles=len(recs),
        changed_reconciles=sum(1 for r in recs if r.changes),
        places=sum(c.n for c in places),
        cancels=sum(c.n for c in cancels),
        burst=(emits[-1] - emits[0]) if emits else 0.0,
    )
