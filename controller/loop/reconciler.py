"""The reconcile loop: one level-triggered function per manifest, driven by a work queue.

Modelled on Kubernetes controller-runtime. Events (a price move, a fill, a manifest
change, the periodic resync) only say *which* manifest to look at; each reconcile
looks at the whole observed state of that market, asks the pure planner what to do,
and has :mod:`controller.loop.execute` carry it out. The queue owns backoff: a failed
reconcile is requeued rate-limited, a clean one resets it.

Ownership is a planner input, never a filter here: the planner is told which orders
this controller placed (for ``ownership: shared`` manifests) and whether unmanaged
orders may be cancelled, so ``bandctl diff`` shows exactly what a reconcile sends.

No reconcile of a market runs until its first book and the account's open orders are
known: a fresh process adopts what rests on the book before it acts.

It computes no quotes itself and talks to the exchange only through the venue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from controller.loop.actionlog import ActionLog
from controller.loop.echo import CancelEcho
from controller.loop.execute import ActionHook, Outcome, execute
from controller.loop.halfway import Halfway
from controller.loop.holds import Holds
from controller.loop.ownership import PlacedOrders
from controller.loop.workers import WorkerPool
from controller.loop.workqueue import WorkQueue
from controller.observe.state import ObservedState, OpenOrder
from controller.observe.store import ObservedStore
from controller.ops.telemetry import reconcile_scope
from controller.plan.bands import Draft, draft_market
from controller.plan.rewards import RewardParams
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Ambiguous, RateLimited, Venue, VenueError
from controller.venue.errors import ExchangeUnavailable

log = logging.getLogger("bandctl.reconciler")

# While the exchange's engine restarts (HTTP 425), look again this often.
UNAVAILABLE_RETRY_SECONDS = 1.0
# After the exchange said "post-only mode", send every order post-only for this long
# (production's window is about two minutes).
POST_ONLY_WINDOW_SECONDS = 150.0

__all__ = ["Outcome", "Reconciler"]


class Reconciler:
    """Keeps every manifest's market converged to its plan."""

    def __init__(
        self,
        venue: Venue,
        store: ObservedStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cancel_unmanaged: bool = False,
        placed: PlacedOrders | None = None,
        holds: Holds | None = None,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
        on_outcome: Callable[[Outcome], None] | None = None,
        on_worker_restart: Callable[[str], None] | None = None,
    ) -> None:
        # Set by the controller when a fill journal runs: order actions and the quoted mid.
        self.on_action: ActionHook | None = None
        self.on_mid: Callable[[str, str, Decimal | None], None] | None = None
        self.venue = venue
        self.store = store
        self.queue = WorkQueue(backoff_initial=backoff_initial, backoff_cap=backoff_cap)
        self.now = now
        self.cancel_unmanaged = cancel_unmanaged
        self.placed = placed if placed is not None else PlacedOrders(None)
        self.holds = holds if holds is not None else Holds(None)
        self.on_outcome = on_outcome
        self.on_worker_restart = on_worker_restart
        self._lock = threading.Lock()
        self._specs: dict[str, MarketMakerSpec] = {}
        self._by_market: dict[str, tuple[str, ...]] = {}
        self._retired: dict[str, MarketMakerSpec] = {}  # deleted manifests whose orders must go
        self._orders_known = False
        self._post_only_until = 0.0
        self._end_times: dict[str, datetime] = {}
        self._rewards: dict[str, RewardParams] = {}
        self._short: set[str] = set()  # manifests whose last plan left a band short
        self._pool: WorkerPool | None = None
        # Set by the stream handlers: lets the market stream apply what has already arrived
        # (a burst of book updates) before a worker reads the state to plan.
        self.before_plan: Callable[[], None] | None = None
        # Set by the stream handlers: waits until a market's book has stopped changing; True
        # when it changed meanwhile (then a pull on a one-sided book is planned again).
        self.settle: Callable[[str], bool] | None = None
        self.book_version: Callable[[str], int] | None = None  # counts a market's book changes
        self.halfway = Halfway()
        self.echo = CancelEcho()
        self.actions = ActionLog()  # its order-action log lines, written off the workers

    # -- desired state --------------------------------------------------------------

    def set_specs(self, specs: Iterable[MarketMakerSpec]) -> list[str]:
        """Replace the desired specs; queue every changed, added or removed name."""
        fresh = {spec.name: spec for spec in specs}
        by_market: dict[str, list[str]] = {}
        for name, spec in fresh.items():
            by_market.setdefault(spec.market.condition_id, []).append(name)
        with self._lock:
            changed = [n for n, s in fresh.items() if self._specs.get(n) != s]
            removed = [n for n in self._specs if n not in fresh]
            for name in removed:
                self._retired[name] = self._specs[name]
            for name in fresh:
                self._retired.pop(name, None)
            self._specs = fresh
            self._by_market = {market: tuple(names) for market, names in by_market.items()}
        for name in [*changed, *removed]:
            self.queue.add(name)
        return sorted([*changed, *removed])

    def specs(self) -> dict[str, MarketMakerSpec]:
        with self._lock:
            return dict(self._specs)

    def names_for_market(self, condition_id: str) -> tuple[str, ...]:
        with self._lock:
            return self._by_market.get(condition_id, ())

    def enqueue_market(self, condition_id: str, *, coalescible: bool = False) -> None:
        for name in self.names_for_market(condition_id):
            self.queue.add(name, coalescible=coalescible)

    def enqueue_markets(self, condition_ids: Iterable[str]) -> None:
        for condition_id in condition_ids:
            self.enqueue_market(condition_id)

    def enqueue_short(self) -> None:
        """Queue the manifests whose last plan left a band short (balance, limits): a change
        of shared collateral elsewhere may let them place now."""
        with self._lock:
            names = list(self._short)
        for name in names:
            self.queue.add(name)

    def enqueue_all(self) -> None:
        with self._lock:
            names = list(self._specs) + list(self._retired)
        for name in names:
            self.queue.add(name)

    def set_end_time(self, condition_id: str, end: datetime | None) -> None:
        """When the exchange says the market stops trading (for ``risk.stopBefore``)."""
        with self._lock:
            if end is None:
                self._end_times.pop(condition_id, None)
            else:
                self._end_times[condition_id] = end

    def set_rewards(self, condition_id: str, params: RewardParams | None) -> bool:
        """The market's liquidity-rewards programme (None: none); True when it changed."""
        with self._lock:
            before = self._rewards.get(condition_id)
            if params is None:
                self._rewards.pop(condition_id, None)
            else:
                self._rewards[condition_id] = params
            return before != params

    def set_orders_known(self) -> bool:
        """The account's open orders have been read: reconciles may start. True the first time."""
        with self._lock:
            first, self._orders_known = not self._orders_known, True
        return first

    # -- ownership ------------------------------------------------------------------

    def owned_orders(self) -> list[OpenOrder]:
        """Open orders that are this controller's under each manifest's ownership rule."""
        with self._lock:
            specs = list(self._specs.values()) + list(self._retired.values())
        exclusive = {s.market.condition_id for s in specs if s.ownership == "exclusive" or self.cancel_unmanaged}
        shared = {s.market.condition_id for s in specs} - exclusive
        placed = self.placed.ids()
        return [o for o in self.store.open_orders() if o.market in exclusive or (o.market in shared and o.id in placed)]

    def _record_placed(self, spec: MarketMakerSpec, order_ids: list[str]) -> None:
        # Only shared markets need the proof on disk; exclusive ones own everything anyway.
        self.placed.add(order_ids, persist=spec.ownership == "shared")

    # -- workers --------------------------------------------------------------------

    def start(self, workers: int = 2) -> None:
        self._pool = WorkerPool(self.queue, self._handle, size=workers, on_restart=self.on_worker_restart)
        self.actions.start()
        self._pool.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop taking work and join the workers; True when every worker has ended."""
        if self._pool is None:
            self.queue.shutdown()
            return True
        stopped = self._pool.stop(timeout)
        self.actions.stop()  # writes the queued lines and joins its thread
        return stopped

    @property
    def worker_restarts(self) -> int:
        return 0 if self._pool is None else self._pool.restarts

    def stalled_for(self) -> float:
        """Seconds that due work has gone without a worker's progress (0 when healthy)."""
        return self.queue.stalled_for()

    def _handle(self, key: str) -> None:
        outcome = self.reconcile(key)
        if outcome.market_closed:
            return  # the controller re-reads the market's rules; nothing to retry here
        if outcome.unavailable:
            # The exchange is restarting: nothing of ours failed, so no backoff growth; look
            # again soon so quoting resumes within a second or two of it coming back.
            delay = outcome.requeue_after or UNAVAILABLE_RETRY_SECONDS
            outcome.requeue_after = delay
            self.queue.add_after(key, min(delay, UNAVAILABLE_RETRY_SECONDS))
            return
        if outcome.error is not None or outcome.rejected:
            delay = self.queue.add_rate_limited(key, at_least=outcome.requeue_after or 0.0)
            outcome.requeue_after = delay
            if outcome.error is not None:
                log.warning("%s: %s (retry in %.1fs)", key, outcome.error[:300], delay)
            return
        self.queue.forget(key)
        if outcome.requeue_after is not None:
            self.queue.add_after(key, outcome.requeue_after)

    # -- the reconcile --------------------------------------------------------------

    def reconcile(self, name: str) -> Outcome:
        """Converge one manifest's market one step. Never raises."""
        outcome = Outcome(name=name, started=time.monotonic())
        try:
            with reconcile_scope(name):
                self._reconcile(name, outcome)
        except RateLimited as exc:
            outcome.error = str(exc)
            outcome.requeue_after = exc.retry_after
        except ExchangeUnavailable as exc:
            outcome.error = str(exc)
            outcome.unavailable = True
            outcome.post_only_mode = exc.post_only
            outcome.requeue_after = exc.retry_after
        except (VenueError, Ambiguous) as exc:
            outcome.error = str(exc)
        except Exception as exc:  # a bug must not kill the worker or other markets
            log.exception("%s: reconcile failed", name)
            outcome.error = f"internal error: {type(exc).__name__}: {exc}"
        outcome.duration = time.monotonic() - outcome.started
        if outcome.post_only_mode:
            with self._lock:
                self._post_only_until = time.monotonic() + POST_ONLY_WINDOW_SECONDS
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("outcome handler failed")
        return outcome

    def _reconcile(self, name: str, outcome: Outcome) -> None:
        with self._lock:
            spec = self._specs.get(name)
            retired = self._retired.get(name)
            orders_known = self._orders_known
        if spec is None:
            if retired is not None:
                self._retire(retired, outcome)
            return
        condition_id = spec.market.condition_id
        if not orders_known:
            outcome.waiting = "the account's open orders are not known yet"
            return
        if self.store.unsettled(condition_id):
            self._settle(condition_id)
        planned = self._plan_settled(spec, name)
        if planned is None:
            outcome.waiting = "the market's book has not arrived yet, or is being read again"
            return
        draft, now = planned
        result = outcome.plan = draft.plan
        with self._lock:
            if result.alerts:
                self._short.add(name)
            else:
                self._short.discard(name)
        if not result.cancel and not result.place:
            return
        try:
            execute(
                self.venue,
                self.store,
                spec,
                result,
                now,
                outcome,
                on_placed=lambda ids: self._record_placed(spec, ids),
                force_post_only=self._in_post_only_window(),
                on_action=self.on_action,
                actions=self.actions,
            )
        finally:  # whether more is placed once the cancels settle: asked after sending
            outcome.plan = draft.complete()
        done = set(outcome.canceled)
        self.echo.record(c.order for c in result.cancel if c.order is not None and c.order_id in done)
        # Level-triggered: look again once the exchange has answered (balances freed by
        # cancels are only counted then). An empty plan ends the chain.
        if outcome.requeue_after is None and outcome.ok:
            outcome.requeue_after = 0.0

    def _plan_settled(self, spec: MarketMakerSpec, name: str) -> tuple[Draft, datetime] | None:
        """Plan; once more if the book changed while planning (the rest of a burst), and once
        more after it settles if the plan looks like another maker's re-quote caught halfway."""
        cid, version = spec.market.condition_id, self.book_version
        planned = self._plan(spec, name)
        if planned is not None and version is not None and version(cid) != planned[2]:
            planned = self._plan(spec, name)
        suspect = planned is not None and self.halfway.suspect(name, planned[0].plan)
        if suspect and self.settle is not None and self.settle(cid):
            planned = self._plan(spec, name)
        if planned is None:
            return None
        self.halfway.remember(name, planned[0].plan)
        return planned[0], planned[1]

    def with_market_inputs(self, state: ObservedState) -> ObservedState:
        """``state`` with each market's end time and rewards programme, as its plans see them."""
        with self._lock:
            inputs = {cid: (self._end_times.get(cid), self._rewards.get(cid)) for cid in state.markets}
        markets = {cid: replace(m, end_time=inputs[cid][0], rewards=inputs[cid][1]) for cid, m in state.markets.items()}
        return replace(state, markets=markets)

    def _plan(self, spec: MarketMakerSpec, name: str) -> tuple[Draft, datetime, int] | None:
        """Plan on the state as it is now, with the book version read (None: no first book yet)."""
        condition_id = spec.market.condition_id
        if self.before_plan is not None:
            self.before_plan()
        seen = self.book_version(condition_id) if self.book_version is not None else 0
        # What every stream add of this key so far announced is in the state read next (they
        # change the state first): plan once for the whole burst, not once more after it.
        self.queue.clear_dirty(name)
        now = self.now()
        state = self.with_market_inputs(self.store.snapshot([condition_id], now=now))
        market = state.markets.get(condition_id)
        if market is None or spec.market.quoted_token not in market.books:
            return None
        market = self.echo.apply(condition_id, market, (spec.market.yes_token, spec.market.no_token))
        state = replace(
            state,
            markets={**state.markets, condition_id: market},
            placed_ids=self.placed.ids() if spec.ownership == "shared" else frozenset(),
            holds=self.holds.snapshot(now),
        )
        if self.on_mid is not None:
            book = market.books.get(spec.market.quoted_token)
            bid, ask = (None, None) if book is None else (book.best_bid, book.best_ask)
            self.on_mid(condition_id, spec.market.quoted_token, None if bid is None or ask is None else (bid + ask) / 2)
        return draft_market(spec, state, now, cancel_unmanaged=self.cancel_unmanaged), now, seen

    def _in_post_only_window(self) -> bool:
        with self._lock:
            return time.monotonic() < self._post_only_until

    def _settle(self, condition_id: str) -> None:
        as_of = self.store.now()
        orders = self.venue.get_orders(market=condition_id)
        self.store.replace_orders(condition_id, orders, as_of=as_of)
        self.store.set_unsettled(condition_id, None)
        log.info("%s: re-read %d open orders after an unknown outcome", condition_id[:10], len(orders))

    def _retire(self, spec: MarketMakerSpec, outcome: Outcome) -> None:
        """A deleted manifest: cancel the orders it owned in its market, then forget it."""
        condition_id = spec.market.condition_id
        with self._lock:
            still_managed = condition_id in self._by_market
        placed = self.placed.ids()
        owned = [
            o.id
            for o in self.store.open_orders(condition_id)
            if (spec.ownership == "exclusive" and not still_managed) or o.id in placed
        ]
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
