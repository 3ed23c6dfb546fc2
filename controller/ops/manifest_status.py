"""What the controller knows about each manifest, turned into conditions, metrics and ``/status``.

A reconcile's :class:`~controller.loop.execute.Outcome` comes in; the manifest's
``Synced`` and ``Quoting`` conditions, its per-band order counts and its metrics go out.
"Reconciled once" (and so readiness) means a real plan was made and carried out, not
that a reconcile ran while the market's data was still missing.

Reports only: nothing here sends an order or changes a plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.observe.state import Balances, OpenOrder
from controller.ops import status as st
from controller.ops.metrics import Metrics
from controller.plan.classify import classify
from controller.plan.ticks import ZERO
from controller.spec.types import MarketMakerSpec
from controller.venue.wire import MarketInfo

if TYPE_CHECKING:
    from controller.loop.execute import Outcome

log = logging.getLogger("bandctl")

# (logger, level, message, *arguments, key=, held=): how a condition line is logged (``ActionLog.log``).
Say = Callable[..., None]


@dataclass
class ManifestStatus:
    """One manifest's state as the controller reports it."""

    name: str
    valid: bool = True
    message: str = ""
    registered: bool = False
    last_outcome: Outcome | None = None
    last_reconcile: datetime | None = None
    reconciled_once: bool = False
    conditions: st.Conditions = field(default_factory=st.Conditions)
    band_counts: dict[str, list[int]] = field(default_factory=dict)
    # Where its condition lines go: the reconciler's order-action log, so that a condition
    # is printed after the order actions that caused it (None: logged at once).
    say: Say | None = field(default=None, repr=False, compare=False)
    # Where its conditions are exported (bandctl_manifest_condition); None: nowhere.
    metrics: Metrics | None = field(default=None, repr=False, compare=False)

    @classmethod
    def new(cls, name: str, now: datetime, say: Say | None = None, metrics: Metrics | None = None) -> ManifestStatus:
        status = cls(name, say=say, metrics=metrics)
        for kind in (st.SYNCED, st.QUOTING):
            status.conditions.set(kind, None, "NotYetReconciled", "waiting for the first reconcile", now)
        return status

    def invalid(self, reason: str, message: str, now: datetime) -> None:
        self.valid, self.message = False, message
        set_condition(self, st.VALID, False, reason, message, now)


def record_outcome(
    status: ManifestStatus,
    spec: MarketMakerSpec,
    outcome: Outcome,
    observed: ObservedMarket,
    metrics: Metrics,
    now: datetime,
) -> None:
    """Fold one reconcile's outcome into the manifest's status and metrics.

    ``Quoting`` is judged on ``observed`` (the store's orders and balances just after the
    plan was carried out, as the next plan will see them), not on what the plan meant to
    leave: an order filled or cancelled meanwhile, or placed and matched at once, does not
    count."""
    result = "ok" if outcome.ok else ("error" if outcome.error else "rejected")
    if outcome.waiting is not None or outcome.unavailable:
        result = "waiting"
    metrics.observe_reconcile(outcome.name, outcome.duration, result)
    if outcome.placed:
        metrics.order_placed(outcome.name, len(outcome.placed))
    reasons = {c.order_id: c.reason for c in outcome.plan.cancel} if outcome.plan else {}
    for order_id in outcome.canceled:
        if order_id in reasons:
            metrics.order_cancelled(outcome.name, reasons[order_id])
    for rejection in outcome.rejected:
        metrics.order_rejected(outcome.name, rejection.code)
    status.last_outcome = outcome
    status.last_reconcile = now
    if outcome.waiting is not None:
        if not status.reconciled_once:
            set_condition(status, st.SYNCED, None, "WaitingForMarketData", outcome.waiting, now)
        return
    status.reconciled_once = status.reconciled_once or outcome.executed
    if outcome.unavailable:
        set_condition(status, st.SYNCED, False, "ExchangeUnavailable", outcome.error or "", now)
    elif outcome.error:
        set_condition(status, st.SYNCED, False, "ReconcileFailed", outcome.error, now)
    elif outcome.rejected:
        first = outcome.rejected[0]
        set_condition(status, st.SYNCED, False, "OrdersRejected", f"{first.what}: {first.message}", now)
    else:
        set_condition(status, st.SYNCED, True, "ReconcileSucceeded", "plan executed", now)
    if outcome.plan is not None:
        _update_quoting(spec, status, outcome, observed, metrics, now)


def _update_quoting(
    spec: MarketMakerSpec,
    status: ManifestStatus,
    outcome: Outcome,
    observed: ObservedMarket,
    metrics: Metrics,
    now: datetime,
) -> None:
    plan = outcome.plan
    assert plan is not None
    ours = set(plan.keep) | {order_id for _placement, order_id in outcome.placed}
    resting = [o for o in observed.orders if o.id in ours]
    counts = {"bid": [0] * len(spec.bands), "ask": [0] * len(spec.bands)}
    amounts = {"bid": [ZERO] * len(spec.bands), "ask": [ZERO] * len(spec.bands)}
    if plan.reference_price is not None:
        _cancels, kept = classify(spec, plan.reference_price, resting)
        for c in kept:
            if c.band is not None:
                counts[c.side][c.band] += 1
                amounts[c.side][c.band] += c.order.remaining
    status.band_counts = counts
    metrics.set_band_orders(spec.name, counts)
    for side, per_band in counts.items():
        metrics.set_quotes_in_band(spec.name, side, sum(1 for n in per_band if n))
    balances = observed.balances
    metrics.set_position(spec.name, position(spec, balances))
    metrics.set_collateral(spec.name, balances.collateral)
    full = all(amounts[side][i] >= band.min_amount for side in amounts for i, band in enumerate(spec.bands))
    if plan.pull_reason is not None:
        set_condition(status, st.QUOTING, False, str(plan.pull_reason), plan.note, now)
    elif full:
        set_condition(status, st.QUOTING, True, "QuotingAllBands", "orders rest in every band", now)
    elif plan.alerts:
        why = "; ".join(a.detail for a in plan.alerts)
        set_condition(status, st.QUOTING, False, str(plan.alerts[0].reason), why, now)
    else:
        set_condition(status, st.QUOTING, False, "PartiallyQuoting", "some bands are short", now)


@dataclass(frozen=True)
class ObservedMarket:
    """The store's view of one market right after a reconcile: its open orders, the balances."""

    orders: Sequence[OpenOrder]
    balances: Balances


def set_condition(
    status: ManifestStatus,
    kind: str,
    value: bool | None,
    reason: str,
    message: str,
    now: datetime,
) -> None:
    """Set a condition (and its metric, on ``status.metrics``); a change of its status is one
    INFO line (WARNING when it turns False)."""
    if status.metrics is not None:
        status.metrics.set_condition(status.name, kind, {True: "True", False: "False", None: "Unknown"}[value], reason)
    if status.conditions.set(kind, value, reason, message, now):
        word = {True: "True", False: "False", None: "Unknown"}[value]
        level = logging.WARNING if value is False else logging.INFO
        say = status.say or _say_now
        text = f": {message[:200]}" if message else ""
        # A Synced or Quoting that turns False waits a moment for its reversal (ActionLog).
        key = (status.name, kind) if kind in (st.SYNCED, st.QUOTING) else None
        say(log, level, "%s: %s=%s %s%s", status.name, kind, word, reason, text, key=key, held=value is False)


def _say_now(logger: logging.Logger, level: int, msg: str, *args: Any, **_hold: Any) -> None:
    logger.log(level, msg, *args)


# The journal's {"realized", "unrealized"} of a manifest, None when it is not journaled.
PnlOf = Callable[[str], "dict[str, str] | None"]


def summary_line(
    status: ManifestStatus, spec: MarketMakerSpec, balances: Balances, pnl: dict[str, str] | None = None
) -> str:
    """One market's line of the periodic log summary."""
    outcome = status.last_outcome
    ref = outcome.plan.reference_price if outcome is not None and outcome.plan is not None else None
    bids = ",".join(str(n) for n in status.band_counts.get("bid", [])) or "-"
    asks = ",".join(str(n) for n in status.band_counts.get("ask", [])) or "-"
    quoting = status.conditions.get(st.QUOTING)
    state = "quoting" if _quoting(status) else (quoting.reason if quoting else "?")
    shown = "-" if ref is None else ref
    money = "" if pnl is None else f"  pnl {st.pnl_text(pnl)}"
    return f"{status.name}: ref {shown}  bids {bids}  asks {asks}  position {position(spec, balances)}{money}  {state}"


def summary_lines(
    manifests: Sequence[tuple[ManifestStatus, MarketMakerSpec, Balances]],
    brief_changes: int = 0,
    pnl_of: PnlOf | None = None,
) -> list[str]:
    """The periodic summary: one line for the account, then one per market (reference, orders
    per band each side, position, PnL when journaled, and whether it is quoting)."""
    quoting = sum(_quoting(status) for status, _spec, _b in manifests)
    orders = sum(n for status, _spec, _b in manifests for counts in status.band_counts.values() for n in counts)
    head = f"summary: {quoting} of {len(manifests)} manifest(s) quoting, {orders} order(s) in bands"
    if brief_changes:
        head += f", {brief_changes} brief condition change(s) not logged"
    pnl = pnl_of or (lambda _name: None)
    return [head, *(summary_line(status, spec, b, pnl(status.name)) for status, spec, b in manifests)]


def _quoting(status: ManifestStatus) -> bool:
    quoting = status.conditions.get(st.QUOTING)
    return quoting is not None and quoting.status == st.TRUE


def position(spec: MarketMakerSpec, balances: Balances) -> Any:
    """Net shares of the quoted outcome: quoted minus complement."""
    return balances.token(spec.market.quoted_token) - balances.token(spec.market.complement_token)


def manifest_document(status: ManifestStatus, spec: MarketMakerSpec, balances: Balances) -> dict[str, Any]:
    outcome = status.last_outcome
    return st.manifest_status(
        status.name,
        spec.market.condition_id,
        status.conditions,
        reference_price=outcome.plan.reference_price if outcome and outcome.plan else None,
        open_orders=status.band_counts,
        position=position(spec, balances),
        collateral=balances.collateral,
        last_reconcile=status.last_reconcile,
        last_error=(outcome.error if outcome else None) or (status.message or None),
        labels=dict(spec.labels),
    )


def market_problem(spec: MarketMakerSpec, info: MarketInfo) -> tuple[str, str] | None:
    """(condition reason, message) when the manifest cannot run on this market."""
    known = set(info.token_ids)
    wrong = [t for t in (spec.market.yes_token, spec.market.no_token) if t not in known]
    if wrong:
        return "TokenMismatch", f"token id(s) {', '.join(wrong)} are not outcomes of market {spec.market.condition_id}"
    if not info.accepting_orders:
        return "MarketNotAccepting", f"market {spec.market.condition_id} is not accepting orders"
    return None
