"""The reconcile loop: one level-triggered function per manifest, driven by a work queue.

Modelled on Kubernetes controller-runtime. Events (a price move, a fill, a manifest
change, the periodic resync) only say *which* manifest to look at; each reconcile
looks at the whole observed state of that market, asks the pure planner what to do,
and executes it through the venue: cancels first, then places. Results go straight
into the observed store, so the next reconcile sees our own orders even before the
exchange's WebSocket confirms them.

Failures requeue the manifest with exponential backoff; one market's failures never
stop the others. A market whose last action had an unknown outcome is *unsettled*:
its open orders are re-read from REST before anything else is placed there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from controller.plan.bands import MarketPlan, Placement, plan_market
from controller.observe.store import ObservedStore
from controller.spec.types import MarketMakerSpec
from controller.observe.state import OpenOrder
from controller.ops.telemetry import reconcile_scope
from controller.venue.client import Ambiguous, OrderRequest, RateLimited, Venue, VenueError
from controller.loop.workqueue import WorkQueue

log = logging.getLogger("bandctl.reconciler")

# The exchange insists GTD orders live at least this long past "now" (a security threshold).
GTD_SECURITY_SECONDS = 60


# --------------------------------------------------------------------------- results


@dataclass
class Outcome:
    """What one reconcile did (for logs, metrics and status)."""

    name: str
    plan: MarketPlan | None = None
    placed: list[tuple[Placement, str]] = field(default_factory=list)  # (what, order id)
    canceled: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    error: str | None = None
    requeue_after: float | None = None
    started: float = 0.0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.rejected


class Reconciler:
    """Keeps every manifest's market converged to its plan."""

    def __init__(
        self,
        venue: Venue,
        store: ObservedStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cancel_unmanaged: bool = False,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.venue = venue
        self.store = store
        self.queue = WorkQueue()
        self.now = now
        self.cancel_unmanaged = cancel_unmanaged
        self.backoff_initial, self.backoff_cap = backoff_initial, backoff_cap
        self.on_outcome = on_outcome
        self._specs: dict[str, MarketMakerSpec] = {}
        self._retired: dict[str, MarketMakerSpec] = {}  # deleted manifests whose orders must go
        self._owned: set[str] = set()
        self._reported_unmanaged: set[str] = set()
        self._failures: dict[str, int] = {}  # consecutive failed reconciles per key, for backoff
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- desired state --------------------------------------------------------------

    def set_specs(self, specs: Iterable[MarketMakerSpec]) -> list[str]:
        """Replace the desired specs; queue every changed, added or removed name."""
        fresh = {spec.name: spec for spec in specs}
        with self._lock:
            changed = [n for n, s in fresh.items() if self._specs.get(n) != s]
            removed = [n for n in self._specs if n not in fresh]
            for name in removed:
                self._retired[name] = self._specs[name]
            for name in fresh:
                self._retired.pop(name, None)
            self._specs = fresh
        for name in [*changed, *removed]:
            self.queue.add(name)
        return sorted([*changed, *removed])

    def specs(self) -> dict[str, MarketMakerSpec]:
        with self._lock:
            return dict(self._specs)

    def names_for_market(self, condition_id: str) -> list[str]:
        with self._lock:
            return [n for n, s in self._specs.items() if s.market.condition_id == condition_id]

    def enqueue_market(self, condition_id: str) -> None:
        for name in self.names_for_market(condition_id):
            self.queue.add(name)

    def enqueue_all(self) -> None:
        with self._lock:
            names = list(self._specs) + list(self._retired)
        for name in names:
            self.queue.add(name)

    # -- ownership ------------------------------------------------------------------

    def adopt(self, order_ids: Iterable[str]) -> None:
        with self._lock:
            self._owned.update(order_ids)

    def owned_orders(self) -> list[OpenOrder]:
        with self._lock:
            owned = set(self._owned)
        return [o for o in self.store.open_orders() if o.id in owned]

    # -- workers --------------------------------------------------------------------

    def start(self, workers: int = 2) -> None:
        for index in range(workers):
            thread = threading.Thread(target=self._work, name=f"reconcile-{index}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.queue.shutdown()
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while not self._stopping.is_set():
            key = self.queue.get()
            if key is None:
                return
            requeue_after: float | None
            try:
                requeue_after = self.reconcile(key).requeue_after
            except Exception:  # reconcile() catches everything; a hook around it may not
                log.exception("%s: reconcile worker error", key)
                requeue_after = self.backoff_cap
            finally:
                self.queue.done(key)
            if requeue_after is not None and not self._stopping.is_set():
                self.queue.add_after(key, requeue_after)

    # -- the reconcile --------------------------------------------------------------

    def reconcile(self, name: str) -> Outcome:
        """Converge one manifest's market one step. Never raises."""
        outcome = Outcome(name=name, started=time.monotonic())
        try:
            with reconcile_scope(name):
                self._reconcile(name, outcome)
        except RateLimited as exc:
            outcome.error = str(exc)
            outcome.requeue_after = max(exc.retry_after, self.backoff_initial)
        except (VenueError, Ambiguous) as exc:
            outcome.error = str(exc)
        except Exception as exc:  # a bug must not kill the worker or other markets
            log.exception("%s: reconcile failed", name)
            outcome.error = f"internal error: {type(exc).__name__}: {exc}"
        outcome.duration = time.monotonic() - outcome.started
        self._after(outcome)
        return outcome

    def _after(self, outcome: Outcome) -> None:
        if outcome.error is not None or outcome.rejected:
            failures = self._failures[outcome.name] = self._failures.get(outcome.name, 0) + 1
            backoff = min(self.backoff_cap, self.backoff_initial * 2 ** (failures - 1))
            outcome.requeue_after = max(outcome.requeue_after or 0.0, backoff)
            if outcome.error is not None:
                log.warning("%s: %s (retry in %.1fs)", outcome.name, outcome.error, outcome.requeue_after)
        else:
            self._failures.pop(outcome.name, None)
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("outcome handler failed")

    def _reconcile(self, name: str, outcome: Outcome) -> None:
        with self._lock:
            spec = self._specs.get(name)
            retired = self._retired.get(name)
        if spec is None:
            if retired is not None:
                self._retire(retired, outcome)
            return
        condition_id = spec.market.condition_id
        if self.store.unsettled(condition_id):
            self._settle(condition_id)
        now = self.now()
        state = self.store.snapshot([condition_id], now=now)
        result = self._only_owned_cancels(plan_market(spec, state, now))
        outcome.plan = result
        self._adopt_kept(result)
        if not result.cancel and not result.place:
            return
        self._execute(spec, result, now, outcome)
        # Level-triggered: look again once the exchange has answered (balances freed by
        # cancels are only counted then). An empty plan ends the chain.
        if outcome.requeue_after is None and outcome.error is None and not outcome.rejected:
            outcome.requeue_after = 0.0

    def _settle(self, condition_id: str) -> None:
        as_of = self.store.now()
        orders = self.venue.get_orders(market=condition_id)
        self.store.replace_orders(condition_id, orders, as_of=as_of)
        self.store.set_unsettled(condition_id, None)
        log.info("%s: re-read %d open orders after an unknown outcome", condition_id[:10], len(orders))

    def _only_owned_cancels(self, result: MarketPlan) -> MarketPlan:
        if self.cancel_unmanaged:
            return result
        with self._lock:
            owned = set(self._owned)
        keep = [c for c in result.cancel if c.order_id in owned]
        if len(keep) == len(result.cancel):
            return result
        left = {c.order_id for c in result.cancel} - owned
        with self._lock:
            news = left - self._reported_unmanaged
            self._reported_unmanaged |= news
        if news:
            log.warning(
                "%s: leaving %d order(s) that no band accounts for and this controller did not place "
                "(--cancel-unmanaged cancels them): %s",
                result.name,
                len(news),
                ", ".join(sorted(news)),
            )
        return replace(result, cancel=tuple(keep))

    def _adopt_kept(self, result: MarketPlan) -> None:
        # Ownership: orders we placed, and orders a band has counted (adopted on a
        # restart). Anything else in a managed market is someone else's (a manual
        # order, or a stale one from a previous run) and is left alone unless
        # --cancel-unmanaged is set; it still locks balance, so the planner sees it.
        if result.keep:
            with self._lock:
                self._owned.update(result.keep)

    def _execute(self, spec: MarketMakerSpec, result: MarketPlan, now: datetime, outcome: Outcome) -> None:
        condition_id = spec.market.condition_id
        if result.cancel:
            ids = [c.order_id for c in result.cancel]
            answer = self.venue.cancel_orders(ids)
            self.store.record_canceled(answer.gone)
            outcome.canceled.extend(answer.canceled)
            for order_id, why in answer.failed.items():
                outcome.rejected.append((f"cancel {order_id}", why))
            for cancel in result.cancel:
                if cancel.order_id in answer.canceled:
                    order = cancel.order
                    log.info(
                        "%s: cancel %s (%s)",
                        spec.name,
                        cancel.order_id,
                        cancel.reason,
                        extra=_action_fields(
                            spec.name,
                            "cancel",
                            cancel.order_id,
                            order.side if order else None,
                            order.price if order else None,
                            order.remaining if order else None,
                            reason=cancel.reason,
                        ),
                    )
            if answer.ambiguous:
                self.store.set_unsettled(condition_id, "cancel outcome unknown")
                outcome.error = f"{len(answer.ambiguous)} cancel(s) with unknown outcome; re-reading orders"
                return
        if not result.place:
            return
        market_tick = self.store.tick_size(condition_id)
        requests = [self._request(spec, p, now, market_tick) for p in result.place]
        answers = self.venue.place_orders(requests)
        for placement, answer in zip(result.place, answers, strict=True):
            if answer.placed and answer.order_id:
                order = OpenOrder(
                    id=answer.order_id,
                    market=condition_id,
                    token_id=placement.token_id,
                    side=placement.side,
                    price=placement.price,
                    size=placement.size,
                )
                self.store.record_placed(order, answer.status)
                with self._lock:
                    self._owned.add(answer.order_id)
                outcome.placed.append((placement, answer.order_id))
                log.info(
                    "%s: place %s %s %s @ %s band %d -> %s",
                    spec.name,
                    placement.side,
                    _short(placement.token_id),
                    placement.size,
                    placement.price,
                    placement.band,
                    answer.order_id,
                    extra=_action_fields(
                        spec.name,
                        "place",
                        answer.order_id,
                        placement.side,
                        placement.price,
                        placement.size,
                        token_id=placement.token_id,
                        band=placement.band,
                    ),
                )
            elif answer.ambiguous:
                self.store.set_unsettled(condition_id, "place outcome unknown")
                with self._lock:
                    if answer.order_id:
                        self._owned.add(answer.order_id)
                outcome.error = answer.error or "place outcome unknown"
            else:
                outcome.rejected.append((f"place {placement.side} {placement.size}@{placement.price}", answer.error))
                log.warning(
                    "%s: rejected %s %s @ %s: %s",
                    spec.name,
                    placement.side,
                    placement.size,
                    placement.price,
                    answer.error,
                    extra=_action_fields(
                        spec.name,
                        "reject",
                        None,
                        placement.side,
                        placement.price,
                        placement.size,
                        token_id=placement.token_id,
                        band=placement.band,
                        reason=answer.error,
                    ),
                )

    def _request(
        self, spec: MarketMakerSpec, placement: Placement, now: datetime, tick: Decimal | None
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
            post_only=spec.orders.post_only,
            expiration=expiration,
            tick_size=tick,
            neg_risk=self.store.neg_risk(spec.market.condition_id),
        )

    def _retire(self, spec: MarketMakerSpec, outcome: Outcome) -> None:
        """A deleted manifest: cancel the orders we own in its market, then forget it."""
        condition_id = spec.market.condition_id
        owned = [o.id for o in self.owned_orders() if o.market == condition_id]
        if owned:
            answer = self.venue.cancel_orders(owned)
            self.store.record_canceled(answer.gone)
            outcome.canceled.extend(answer.canceled)
            if answer.ambiguous or answer.failed:
                outcome.error = "some orders of a deleted manifest could not be cancelled yet"
                return
            log.info("%s: manifest deleted, cancelled %d order(s)", spec.name, len(answer.canceled))
        with self._lock:
            self._retired.pop(spec.name, None)

    # -- shutdown -------------------------------------------------------------------

    def cancel_everything_owned(self) -> tuple[int, int]:
        """Cancel every open order the controller owns; returns (cancelled, left)."""
        owned = [o.id for o in self.owned_orders()]
        if not owned:
            return 0, 0
        answer = self.venue.cancel_orders(owned)
        self.store.record_canceled(answer.gone)
        return len(answer.canceled), len(answer.ambiguous) + len(answer.failed)


def _action_fields(
    market: str,
    action: str,
    order_id: str | None,
    side: str | None,
    price: Decimal | None,
    size: Decimal | None,
    **more: Any,
) -> dict[str, Any]:
    """Structured fields of one order action (JSON log lines carry them as keys)."""
    fields: dict[str, Any] = {
        "market": market,
        "action": action,
        "order_id": order_id,
        "side": side,
        "price": None if price is None else str(price),
        "size": None if size is None else str(size),
    }
    fields.update(more)
    return fields


def _short(token_id: str) -> str:
    return token_id if len(token_id) <= 12 else f"{token_id[:6]}…{token_id[-4:]}"
