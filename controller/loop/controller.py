"""The live controller: wires venue, streams, observed store, reconciler and scheduler.

``bandctl run`` keeps one running; ``bandctl apply`` does one reconcile pass per
manifest with it; ``bandctl diff`` (without ``--state``) reads the venue through its
start-up path and sends nothing. Every thread it starts (workers, scheduler, helper
threads, streams) is joined on :meth:`Controller.stop`.

It holds no business logic of its own: quotes come from the planner, orders go out
through the reconciler, and what it reports is computed in :mod:`controller.ops`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from controller.loop.controls import Controls
from controller.loop.execute import Outcome
from controller.loop.heartbeat import Heartbeat, HeartbeatPolicy
from controller.loop.holds import Holds
from controller.loop.journaling import Journaling
from controller.loop.lease import StateDirLock, claim_account, recording
from controller.loop.ownership import PlacedOrders
from controller.loop.reconciler import Reconciler
from controller.loop.registry import Registry
from controller.loop.resync import Resync
from controller.loop.rewards import RewardsWatch
from controller.loop.risk import AccountLossLimit, RiskGuard
from controller.loop.threads import Threads
from controller.loop.triggers import StreamHandlers
from controller.observe.state import Balances, ObservedState
from controller.observe.store import ObservedStore
from controller.ops import status as st
from controller.ops.manifest_status import (
    ManifestStatus,
    ObservedMarket,
    manifest_document,
    record_outcome,
    summary_lines,
)
from controller.ops.metrics import Metrics
from controller.spec.reload import ManifestWatcher
from controller.spec.selector import Selector
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Venue, VenueError

log = logging.getLogger("bandctl")

# The public, well-known test key the emulator's demo config funds (never fund it on a chain).
DEMO_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@dataclass
class LiveOptions:
    manifest_paths: list[str]
    cancel_unmanaged: bool = False
    # Where the controller keeps what must outlive a restart (placed order ids, …).
    state_dir: str | None = None
    # The fill journal: None for <state_dir>/journal.sqlite, or a path or postgresql://… DSN.
    journal: str | None = None
    # An account-wide loss limit (realized + unrealized over a window), beside risk.maxLoss.
    max_account_loss: AccountLossLimit | None = None
    # Only manifests whose labels match (``-l``; a fleet shards its manifests so).
    selector: Selector | None = None
    resync_interval: float = 15.0
    reload_interval: float = 2.0
    workers: int = 2
    shutdown_timeout: float = 20.0
    heartbeat: HeartbeatPolicy = field(default_factory=HeartbeatPolicy)
    # How long a stream may stay silent about a change REST already shows: then it is frozen.
    freeze_confirm_seconds: float = 2.0
    # At start, watch the account's heartbeat chain this long for another holder (0: skip).
    lease_wait_seconds: float = 3.0
    # How often to re-read liquidity-rewards programmes, our scores and earnings (0: never).
    rewards_interval: float = 120.0
    # The summary (an account line, then one per market) this often (0: never).
    summary_interval: float = 60.0
    # If the market stream has not connected this long after start, markets go stale.
    stream_connect_grace_seconds: float = 10.0


class Controller:
    """One process's controller: every manifest of ``options.manifest_paths`` on one account.

    ``prepare()`` connects and reads the account; ``start()`` also opens the streams and
    runs the scheduler and reconcile workers; ``stop()`` cancels what it owns. Probes for
    the health server: ``health()``, ``ready()``, ``status_document()``.
    """

    def __init__(
        self,
        venue: Venue,
        options: LiveOptions,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        ws_validators: tuple[Any, Any] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.venue, self.options, self.now = venue, options, now
        self.metrics = metrics or Metrics()
        venue.on_request = self.metrics.api_request
        self.metrics.watch_rate_budget({"orders": venue.budget.orders, "cancels": venue.budget.cancels})
        self.store = ObservedStore()
        self.placed = PlacedOrders.in_state_dir(options.state_dir)
        self.holds = Holds.in_state_dir(options.state_dir)
        self.threads = Threads()
        self.reconciler = Reconciler(
            venue,
            self.store,
            now=now,
            cancel_unmanaged=options.cancel_unmanaged,
            placed=self.placed,
            holds=self.holds,
            on_outcome=self._on_outcome,
            on_worker_restart=lambda _why: self.metrics.worker_restart(),
        )
        self.resyncer = Resync(
            venue,
            self.store,
            self.reconciler,
            self.placed,
            self.threads,
            market_feed_trusted=lambda: self.handlers.market_feed_trusted(),
            on_frozen=self._on_frozen,
            market_silent_for=lambda: self._streams.market.silent_for() if self._streams else float("inf"),
            freeze_confirm_seconds=options.freeze_confirm_seconds,
        )
        self.state_lock = StateDirLock(options.state_dir) if options.state_dir is not None else None
        self.heartbeat = Heartbeat(
            recording(venue.heartbeat, self.state_lock),
            self.reconciler.stalled_for,
            options.heartbeat,
            on_success=self.metrics.heartbeat_ok,
            on_failure=lambda _kind: self.metrics.heartbeat_failed(),
        )
        self.controls = Controls(self.holds, self.reconciler, self.metrics, self.threads, self.resync, now)
        self.risk = RiskGuard(self.holds, on_hold=self.controls.on_hold)
        self.handlers = StreamHandlers(self, ws_validators)
        self.rewards = (
            RewardsWatch(venue, self.store, self.reconciler, self.metrics) if options.rewards_interval else None
        )
        venue.on_rules = self.handlers.on_rules
        self.watcher = ManifestWatcher(options.manifest_paths)
        self.registry = Registry(venue, self.store, self.reconciler, self.metrics, now)
        self.status = self.registry.status  # name -> ManifestStatus (the registry keeps it current)
        self._lock = self.registry.lock
        self._reload_lock = threading.Lock()
        self._scheduler: Any = None
        self._streams: Any = None
        self._started_at: float | None = None
        self.stopping = False
        self.journaling: Journaling | None = None

    # -- start / stop ---------------------------------------------------------------

    def prepare(self, keep_alive: bool = False) -> None:
        """Connect, load manifests, register markets, read the account: everything but running.
        ``keep_alive``: beat once the account is claimed (the rest may outlast the 10 s deadline)."""
        self.venue.connect()
        claim_account(self.venue, self.state_lock, self.options.lease_wait_seconds)
        if keep_alive:
            self.threads.spawn("heartbeat", self.heartbeat.run)
        self.placed.load()
        self.holds.load()
        if self.options.state_dir is not None and self.journaling is None:
            self._open_journal(self.options.state_dir)
        self.reload(force=True, enqueue=False)
        if self.rewards is not None:
            self.rewards.refresh()  # before the first plan: plans depend on it (fitted bands)
        self.resync(initial=True)
        if self.journaling is not None:
            self.journaling.track(self.reconciler.specs().values())
            self.journaling.backfill()  # fills made while no controller ran (a crash, a restart)

    def _open_journal(self, state_dir: str) -> None:
        journaling = Journaling.open(self.options.journal, state_dir, self.venue, self.metrics)
        self.journaling = journaling
        self.reconciler.on_action = journaling.on_action
        self.reconciler.on_mid = journaling.observe_mid

    def start(self) -> None:
        """Run: streams, scheduler, workers. Returns at once."""
        from apscheduler.schedulers.background import BackgroundScheduler

        try:
            self.prepare(keep_alive=True)
        except BaseException:
            self.heartbeat.stop()
            raise
        self._started_at = time.monotonic()
        self._streams = self.handlers.connect()
        self._update_subscriptions()
        scheduler = BackgroundScheduler(timezone="UTC")
        options = self.options
        jobs: list[tuple[Callable[[], Any], str, float]] = [
            (self._resync_job, "resync", options.resync_interval),
            (self._reload_job, "reload", options.reload_interval),
        ]
        if options.summary_interval > 0:
            jobs.append((self._summary_job, "summary", options.summary_interval))
        if self.rewards is not None:
            jobs.append((self.rewards.refresh, "rewards", options.rewards_interval))
        for function, name, seconds in jobs:
            scheduler.add_job(
                function,
                "interval",
                seconds=seconds,
                id=name,
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        self._scheduler = scheduler
        self.reconciler.start(options.workers)
        self.reconciler.enqueue_all()

    def stop(self) -> int:
        """Stop reconciling, cancel every order we own, close streams. Returns orders left open."""
        deadline = time.monotonic() + self.options.shutdown_timeout
        self.stopping = True
        self.heartbeat.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        self.reconciler.stop(timeout=max(1.0, deadline - time.monotonic() - 5))
        left = 0
        for _attempt in range(3):
            try:
                cancelled, left = self.reconciler.cancel_everything_owned()
                log.info("shutdown: cancelled %d order(s), %d left", cancelled, left)
            except VenueError as exc:
                log.warning("shutdown: cancel failed: %s", exc)
                left = len(self.reconciler.owned_orders())
            if left == 0 or time.monotonic() > deadline:
                break
        stragglers = self.threads.close(timeout=max(0.5, deadline - time.monotonic()))
        if stragglers:
            log.warning("shutdown: threads still running: %s", ", ".join(stragglers))
        self.close()
        return left

    # -- manifests ------------------------------------------------------------------

    def reload(self, force: bool = False, enqueue: bool = True) -> None:
        """Re-read the manifests if they changed; apply the valid ones (scheduler job and tests)."""
        with self._reload_lock:
            result = self.watcher.poll(force=force)
            if result is None:
                return
            for error in result.errors:
                log.error("manifest rejected: %s", error)
            for path in result.rejected_files:
                log.warning("%s: invalid edit rejected; the last good spec keeps running", path)
            self.metrics.reload("rejected" if result.errors else "applied")
            specs = result.specs
            if self.options.selector is not None:
                specs = [s for s in specs if self.options.selector.matches(dict(s.labels))]
            self.use_specs(specs, rejected_edits={e.file: str(e) for e in reversed(result.errors)})
            changed = self.reconciler.set_specs(self.registry.registered_specs())
            if changed and enqueue:
                log.info("manifests applied: %s", ", ".join(changed))
            self._update_subscriptions()

    def use_specs(self, specs: Sequence[MarketMakerSpec], rejected_edits: dict[str, str] | None = None) -> None:
        """Take these specs as the desired state (see :meth:`Registry.use_specs`)."""
        self.registry.use_specs(specs, rejected_edits)

    def market_closed(self, condition_id: str) -> None:
        if self.registry.market_closed(condition_id):
            self.reconciler.set_specs(self.registry.registered_specs())

    def spec(self, name: str) -> MarketMakerSpec | None:
        return self.registry.spec(name)

    def _update_subscriptions(self) -> None:
        if self._streams is None:
            return
        specs = list(self.reconciler.specs().values())
        tokens = {t for s in specs for t in (s.market.yes_token, s.market.no_token)}
        self._streams.set_subscriptions(tokens, {s.market.condition_id for s in specs})

    # -- REST resync and jobs -------------------------------------------------------

    def resync(self, initial: bool = False) -> bool:
        return self.resyncer.run(initial=initial)

    def _on_frozen(self, markets: list[str]) -> None:
        if self._streams is not None:
            self.metrics.ws_reconnect("market")
            self._streams.market.reconnect("REST shows book changes the stream never delivered")
        self.reconciler.enqueue_all()

    def _resync_job(self) -> None:
        with self._lock:
            unregistered = any(not s.registered for s in self.status.values())
        if unregistered:  # a market that was missing or closed may have appeared: try again
            self.registry.markets.clear()
            self.reload(force=True)
        self.handlers.check_started()
        self.registry.retry_end_times()
        self.resync()
        journaling = self.journaling
        if journaling is not None:
            journaling.track(self.reconciler.specs().values())
            journaling.backfill()
            journaling.export()
            self.risk.check_losses(
                self.reconciler.specs().values(), journaling.pnl_of, self.now(), self.options.max_account_loss
            )

    def _reload_job(self) -> None:
        try:
            self.reload()
        except Exception:
            log.exception("manifest reload failed")

    def _summary_job(self) -> None:
        pnl_of = self.journaling.document if self.journaling is not None else None
        for line in summary_lines(self._per_manifest(lambda *m: m), self.reconciler.actions.take_brief(), pnl_of):
            log.info("%s", line)

    def _per_manifest(self, render: Callable[[ManifestStatus, MarketMakerSpec, Balances], Any]) -> list[Any]:
        balances = self.store.balances()
        with self._lock:
            specs = self.registry.specs
            return [render(s, specs[n], balances) for n, s in sorted(self.status.items()) if n in specs]

    def _on_outcome(self, outcome: Outcome) -> None:
        if outcome.market_closed:
            spec = self.spec(outcome.name)
            if spec is not None:
                self.threads.spawn("rules-refresh", self.venue.refresh_rules, [spec.market.condition_id])
        with self._lock:
            status = self.status.get(outcome.name)
            spec = self.registry.specs.get(outcome.name)
            if status is None or spec is None or not status.registered:
                return  # a reconcile that finished after its market closed says nothing new
            observed = ObservedMarket(self.store.open_orders(spec.market.condition_id), self.store.balances())
            record_outcome(status, spec, outcome, observed, self.metrics, self.now())

    # -- probes ---------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Alive: reconcile workers are making progress on due work (else a restart helps)."""
        stalled = self.reconciler.stalled_for()
        limit = self.options.heartbeat.liveness_seconds
        if stalled > limit:
            return False, f"reconcile loop stalled for {stalled:.0f}s (limit {limit:.0f}s); heartbeats withheld"
        age = self.heartbeat.age()
        beat = "no heartbeat yet" if age is None else f"last heartbeat {age:.1f}s ago"
        return True, f"reconcile loop live; {beat}"

    def ready(self) -> tuple[bool, str]:
        """Ready: streams connected and every valid manifest reconciled at least once."""
        if self._streams is None or not self._streams.connected:
            return False, "streams not connected"
        with self._lock:
            waiting = [s.name for s in self.status.values() if s.registered and not s.reconciled_once]
        if waiting:
            return False, f"not reconciled yet: {', '.join(sorted(waiting))}"
        return True, "ready"

    def status_document(self) -> dict[str, Any]:
        now = self.now()
        manifests = self._per_manifest(manifest_document)
        if self.journaling is not None:
            for entry in manifests:
                pnl = self.journaling.document(entry["name"])
                if pnl is not None:
                    entry["pnl"] = pnl
        if self.rewards is not None:
            for entry in manifests:
                spec = self.spec(entry["name"])
                if spec is not None:
                    rewards = self.rewards.document(spec.market.condition_id, self._reward_estimate(spec))
                    if rewards is not None:
                        entry["rewards"] = rewards
        live = self._streams
        streams = {name: live is not None and getattr(live, name).connected for name in ("market", "user")}
        return st.status_document(now, self.ready()[0], streams, manifests)

    def _reward_estimate(self, spec: MarketMakerSpec) -> Any:
        """The score our resting orders have now, from the same observed state the planner reads."""
        from controller.plan.rewards_fit import observed_estimate

        assert self.rewards is not None
        view = self.store.market_view(spec.market.condition_id)
        params = self.rewards.views().get(spec.market.condition_id.lower())
        if view is None or params is None:
            return None
        market, own = view
        return observed_estimate(spec, replace(market, rewards=params.params), own)

    # -- one-shot uses --------------------------------------------------------------

    def close(self) -> None:
        """End a one-shot use (``apply``): disconnect, keep the state, release the state directory."""
        self.venue.disconnect()
        self.placed.save()
        if self.journaling is not None:
            self.journaling.close()
        if self.state_lock is not None:
            self.state_lock.release()

    def apply_once(self) -> list[Outcome]:
        outcomes = []
        for name in sorted(self.reconciler.specs()):
            outcome = self.reconciler.reconcile(name)
            # Cancels free balance only once answered: one more look finishes the pass.
            if outcome.ok and outcome.plan is not None and outcome.plan.cancel:
                outcome = self.reconciler.reconcile(name)
            outcomes.append(outcome)
        return outcomes

    def observed(self) -> ObservedState:
        return self.store.snapshot(now=self.now())
