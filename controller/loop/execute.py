"""Carry out one market's plan through the venue, and record what the exchange answered.

Cancels and the places that need nothing they free go out together (the planner says
which: ``after_cancels``); the other places follow the cancels' answer. Every answer goes
straight into the observed store, so the next reconcile sees our own orders before
the exchange's WebSocket confirms them. An answer of unknown outcome marks the market
*unsettled*: its open orders are re-read before anything else is placed there.

It logs one line per order action, in ``bandctl diff``'s vocabulary, through
``actionlog`` (never waiting on a log handler while the reconcilers run). It plans nothing:
the plan is an argument, and it never decides to send anything the plan does not hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from controller.loop.actionlog import ActionLog
from controller.observe.state import OpenOrder
from controller.observe.store import ObservedStore
from controller.ops.metrics import CANCEL_REFUSED
from controller.plan.bands import MarketPlan, Placement
from controller.plan.planner import after_cancels
from controller.plan.ticks import format_decimal, format_price
from controller.spec.types import MarketMakerSpec
from controller.venue.client import OrderRequest, Venue
from controller.venue.orders import CancelResult, PlaceProblem, PlaceResult

log = logging.getLogger("bandctl.reconciler")

# (manifest name, condition id, "place" | "cancel" | "reject", the action's fields)
ActionHook = Callable[[str, str, str, dict[str, Any]], None]

# Not started: logs each line at once (one-shot uses, unit tests).
_DIRECT = ActionLog()

# The exchange insists GTD orders live at least this long past "now" (a security threshold).
GTD_SECURITY_SECONDS = 60


@dataclass(frozen=True)
class Rejection:
    """One order action the exchange refused: what, its words, and a code to branch on."""

    what: str
    message: str
    code: str  # a PlaceProblem value, or CANCEL_REFUSED


@dataclass
class Outcome:
    """What one reconcile did (for logs, metrics and status)."""

    name: str
    plan: MarketPlan | None = None
    placed: list[tuple[Placement, str]] = field(default_factory=list)  # (what, order id)
    canceled: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    error: str | None = None
    requeue_after: float | None = None
    # Nothing was planned because the market's first book or the account's open orders
    # are not known yet: not an error, and not "reconciled".
    waiting: str | None = None
    # The exchange was not taking orders (its engine restarting): retry soon, no backoff.
    unavailable: bool = False
    # It takes only post-only orders for now (the window after an engine restart).
    post_only_mode: bool = False
    # The exchange said the market takes no more orders: re-read its rules, do not retry.
    market_closed: bool = False
    started: float = 0.0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.rejected

    @property
    def executed(self) -> bool:
        """A real plan was made and carried out without error."""
        return self.ok and self.plan is not None and self.waiting is None


def execute(
    venue: Venue,
    store: ObservedStore,
    spec: MarketMakerSpec,
    plan: MarketPlan,
    now: datetime,
    outcome: Outcome,
    *,
    on_placed: Callable[[list[str]], None] | None = None,
    force_post_only: bool = False,
    on_action: ActionHook | None = None,
    actions: ActionLog | None = None,
) -> None:
    """Send ``plan``'s cancels together with the places that need nothing they free, then
    the rest of the places once the cancels are answered; fill ``outcome`` with what happened.

    Which placements may overlap the cancels is the planner's word (``after_cancels``).
    """
    condition_id = spec.market.condition_id
    out = actions if actions is not None else _DIRECT
    tick = store.tick_size(condition_id)
    neg_risk = store.neg_risk(condition_id)
    waiting = after_cancels(spec, plan) if plan.cancel else frozenset()
    early = [p for i, p in enumerate(plan.place) if i not in waiting]
    late = [p for i, p in enumerate(plan.place) if i in waiting]
    accepted: list[str] = []
    try:
        if plan.cancel and early:
            sent = venue.cancel_and_place(
                [c.order_id for c in plan.cancel],
                [_request(spec, p, now, tick, neg_risk, force_post_only) for p in early],
            )
            _record_places(spec, plan, early, sent.places, store, outcome, accepted, on_action, out)
            if sent.cancel_error is not None:
                raise sent.cancel_error  # nothing was cancelled: the reconcile retries soon
            cancelled_ok = _record_cancels(spec, plan, sent.cancel, store, outcome, on_action, out)
        elif plan.cancel:
            cancelled_ok = _record_cancels(
                spec, plan, venue.cancel_orders([c.order_id for c in plan.cancel]), store, outcome, on_action, out
            )
        else:
            cancelled_ok, late = True, list(plan.place)
        if late and cancelled_ok:
            answers = venue.place_orders([_request(spec, p, now, tick, neg_risk, force_post_only) for p in late])
            _record_places(spec, plan, late, answers, store, outcome, accepted, on_action, out)
    finally:
        if accepted and on_placed is not None:
            on_placed(accepted)


def _record_cancels(
    spec: MarketMakerSpec,
    plan: MarketPlan,
    answer: CancelResult,
    store: ObservedStore,
    outcome: Outcome,
    on_action: ActionHook | None,
    out: ActionLog,
) -> bool:
    """Record a cancel answer; False unless every cancel is known to be done (an unknown
    outcome re-reads the market; a refused one may still rest, so nothing waits on it)."""
    condition_id = spec.market.condition_id
    store.record_canceled(answer.gone)
    outcome.canceled.extend(answer.canceled)
    for order_id, why in answer.failed.items():
        outcome.rejected.append(Rejection(f"cancel {order_id}", why, CANCEL_REFUSED))
    canceled = set(answer.canceled)
    for cancel in plan.cancel:
        if cancel.order_id in canceled:
            fields = _log_cancel(
                out, spec.name, plan, cancel.order_id, cancel.order, cancel.detail or str(cancel.reason)
            )
            if on_action is not None:
                on_action(spec.name, condition_id, "cancel", {**fields, "reason": str(cancel.reason)})
    if answer.ambiguous:
        store.set_unsettled(condition_id, "cancel outcome unknown")
        outcome.error = f"{len(answer.ambiguous)} cancel(s) with unknown outcome; re-reading orders"
        return False
    return not answer.failed


def _record_places(
    spec: MarketMakerSpec,
    plan: MarketPlan,
    placements: list[Placement],
    answers: list[PlaceResult],
    store: ObservedStore,
    outcome: Outcome,
    accepted: list[str],
    on_action: ActionHook | None,
    out: ActionLog,
) -> None:
    condition_id = spec.market.condition_id
    for placement, answer in zip(placements, answers, strict=True):
        if answer.placed and answer.order_id:
            order = OpenOrder(
                id=answer.order_id,
                market=condition_id,
                token_id=placement.token_id,
                side=placement.side,
                price=placement.price,
                size=placement.size,
            )
            store.record_placed(order, answer.status)
            accepted.append(answer.order_id)
            outcome.placed.append((placement, answer.order_id))
            fields = _log_place(out, spec.name, plan, placement, answer.order_id)
            if on_action is not None:
                on_action(spec.name, condition_id, "place", {**fields, "reason": str(placement.reason)})
        elif answer.problem in (PlaceProblem.EXCHANGE_UNAVAILABLE, PlaceProblem.POST_ONLY_MODE):
            outcome.unavailable = True
            outcome.post_only_mode = outcome.post_only_mode or answer.problem is PlaceProblem.POST_ONLY_MODE
            outcome.error = outcome.error or answer.error
        elif answer.problem is PlaceProblem.MARKET_CLOSED:
            outcome.market_closed = True
        elif answer.ambiguous:
            store.set_unsettled(condition_id, "place outcome unknown")
            if answer.order_id:
                accepted.append(answer.order_id)  # it may rest on the book: it is ours
            outcome.error = answer.error or "place outcome unknown"
        else:
            why = answer.error or "rejected"
            code = answer.problem.value if answer.problem is not None else PlaceProblem.REJECTED.value
            what = f"place {placement.side} {placement.size}@{placement.price}"
            outcome.rejected.append(Rejection(what, why, code))
            if on_action is not None:
                fields = action_fields(spec.name, "reject", answer.order_id, placement, token_id=placement.token_id)
                on_action(spec.name, condition_id, "reject", {**fields, "reason": code, "detail": why})
            log.warning(
                "%s: ! %s band %d rejected: %s",
                spec.name,
                order_text(plan, placement.side, placement.token_id, placement.price, placement.size),
                placement.band,
                why,
                extra=action_fields(
                    spec.name, "reject", None, placement, token_id=placement.token_id, band=placement.band, reason=code
                ),
            )


def _request(
    spec: MarketMakerSpec,
    placement: Placement,
    now: datetime,
    tick: Decimal | None,
    neg_risk: bool | None,
    force_post_only: bool = False,
) -> OrderRequest:
    expiration = 0
    if spec.orders.type == "GTD" and spec.orders.ttl_seconds:
        expiration = int((now + timedelta(seconds=GTD_SECURITY_SECONDS + spec.orders.ttl_seconds)).timestamp())
    return OrderRequest(
        token_id=placement.token_id,
        side=placement.side,
        price=placement.price,
        size=placement.size,
        order_type=spec.orders.type,
        post_only=spec.orders.post_only or force_post_only,
        expiration=expiration,
        tick_size=tick,
        neg_risk=neg_risk,
    )


def order_text(plan: MarketPlan, side: str, token_id: str, price: Decimal, size: Decimal) -> str:
    """``SELL NO 0.52 × 100``: the diff's way of writing an order (price on the tick grid)."""
    return f"{side} {plan.outcome(token_id)} {format_price(price, plan.tick_size)} × {format_decimal(size)}"


def _log_place(out: ActionLog, name: str, plan: MarketPlan, placement: Placement, order_id: str) -> dict[str, Any]:
    fields = action_fields(name, "place", order_id, placement, token_id=placement.token_id, band=placement.band)
    out.log(
        log,
        logging.INFO,
        "%s: + %s band %d  %s",
        name,
        order_text(plan, placement.side, placement.token_id, placement.price, placement.size),
        placement.band,
        short_id(order_id),
        extra=fields,
    )
    return fields


def _log_cancel(
    out: ActionLog, name: str, plan: MarketPlan, order_id: str, order: OpenOrder | None, reason: str
) -> dict[str, Any]:
    what = f"{order_text(plan, order.side, order.token_id, order.price, order.remaining)}  " if order else ""
    # Complete before it is queued: the action log's thread reads it later.
    # Never a key LogRecord owns ("message", "msg", "args"...): logging raises on those.
    fields = action_fields(name, "cancel", order_id, order, reason=reason, detail=reason)
    if order is not None:
        fields["token_id"] = order.token_id
    out.log(log, logging.INFO, "%s: - %s  %s%s", name, short_id(order_id), what, reason, extra=fields)
    return fields


def action_fields(
    market: str, action: str, order_id: str | None, what: Placement | OpenOrder | None, **more: Any
) -> dict[str, Any]:
    """Structured fields of one order action (JSON log lines carry them as keys)."""
    size = None
    if isinstance(what, OpenOrder):
        size = what.remaining
    elif what is not None:
        size = what.size
    fields: dict[str, Any] = {
        "market": market,
        "action": action,
        "order_id": order_id,
        "side": None if what is None else what.side,
        "price": None if what is None else str(what.price),
        "size": None if size is None else str(size),
    }
    fields.update(more)
    return fields


def short_id(order_id: str) -> str:
    return order_id if len(order_id) <= 14 else f"{order_id[:8]}…{order_id[-4:]}"
