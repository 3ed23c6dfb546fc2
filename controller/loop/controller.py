"""The live controller: wires venue, streams, observed store, reconciler and scheduler.

``bandctl run`` keeps running; ``bandctl apply`` does one reconcile pass per manifest
and exits; ``bandctl diff`` (without ``--state``) reads the venue and sends nothing.
``--sim`` starts the built-in exchange emulator in-process and trades against it with
the public demo key.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.ops import status as st
from controller.ops.metrics import Metrics
from controller.observe.store import ObservedStore
from controller.loop.reconciler import Outcome, Reconciler
from controller.spec.reload import ManifestWatcher
from controller.spec.types import MarketMakerSpec
from controller.observe.state import ObservedState
from controller.venue.client import Ambiguous, ConfigError, MarketInfo, Venue, VenueConfig, VenueError

log = logging.getLogger("bandctl")

# The public, well-known test key the emulator's demo config funds (never fund it on a chain).
DEMO_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def demo_manifests() -> str:
    """The example manifests: packaged in a wheel, ``manifests/demo.yaml`` in a checkout."""
    from importlib import resources

    try:
        return str(resources.files("controller.examples").joinpath("demo.yaml"))
    except ModuleNotFoundError:
        # Editable installs cannot map a data-only folder as a package; use the checkout's.
        return str(Path(__file__).resolve().parents[2] / "manifests" / "demo.yaml")


@dataclass
class LiveOptions:
    manifest_paths: list[str]
    cancel_unmanaged: bool = False
    resync_interval: float = 15.0
    heartbeat_interval: float = 5.0
    reload_interval: float = 2.0
    workers: int = 2
    shutdown_timeout: float = 20.0
    # How long a stream may stay silent about a change REST already shows before it is
    # declared frozen (a live stream delivers it within milliseconds).
    freeze_confirm_seconds: float = 2.0
    # Delay between a market-stream trigger and its reconcile (see _on_market_event).
    trigger_delay: float = 0.002


@dataclass
class ManifestStatus:
    """What the controller knows about one manifest (feeds logs, metrics and ``/status``)."""

    name: str
    valid: bool = True
    message: str = ""
    registered: bool = False
    last_outcome: Outcome | None = None
    last_reconcile: datetime | None = None
    reconciled_once: bool = False
    conditions: st.Conditions = field(default_factory=st.Conditions)
    band_counts: dict[str, list[int]] = field(default_factory=dict)

    def invalid(self, reason: str, message: str, now: datetime) -> None:
        self.valid, self.message = False, message
        self.conditions.set(st.VALID, False, reason, message, now)


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
        self.venue = venue
        self.options = options
        self.now = now
        self.metrics = metrics or Metrics()
        venue.on_request = self.metrics.api_request
        self.store = ObservedStore()
        self.reconciler = Reconciler(
            venue, self.store, now=now, cancel_unmanaged=options.cancel_unmanaged, on_outcome=self._on_outcome
        )
        self.watcher = ManifestWatcher(options.manifest_paths)
        self.status: dict[str, ManifestStatus] = {}
        self._markets: dict[str, MarketInfo] = {}
        self._specs: dict[str, MarketMakerSpec] = {}
        self._triggers: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.RLock()
        self._resync_lock = threading.Lock()
        self._scheduler: Any = None
        self._streams: Any = None
        self._ws_validators = ws_validators
        self.last_tick = time.monotonic()
        self._market_stream_down = True
        self._reload_lock = threading.Lock()

    # -- start / stop ---------------------------------------------------------------

    def prepare(self) -> None:
        """Connect, load manifests, register markets, read the account: everything but running."""
        self.venue.connect()
        self.reload(force=True, enqueue=False)
        self.resync(initial=True)

    def start(self) -> None:
        """Run: streams, scheduler, workers. Returns at once."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self.prepare()
        market_validator, user_validator = self._ws_validators or _schema_validators()
        self._streams = self.venue.connect_ws(
            on_market=self._on_market_event,
            on_user=self._on_user_event,
            on_status=self._on_stream_status,
            validate_market=market_validator,
            validate_user=user_validator,
        )
        self._update_subscriptions()
        if not self._streams.market.connected:
            self.store.mark_stale(None, "waiting for the market stream")
        scheduler = BackgroundScheduler(timezone="UTC")
        options = self.options
        scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=options.heartbeat_interval,
            id="heartbeat",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(
            self._resync_job, "interval", seconds=options.resync_interval, id="resync", max_instances=1, coalesce=True
        )
        scheduler.add_job(
            self._reload_job, "interval", seconds=options.reload_interval, id="reload", max_instances=1, coalesce=True
        )
        scheduler.start()
        self._scheduler = scheduler
        self.reconciler.start(options.workers)
        self.reconciler.enqueue_all()

    def stop(self) -> int:
        """Stop reconciling, cancel every order we own, close streams. Returns orders left open."""
        deadline = time.monotonic() + self.options.shutdown_timeout
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
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
        self.venue.disconnect()
        return left

    # -- manifests ------------------------------------------------------------------

    def reload(self, force: bool = False, enqueue: bool = True) -> None:
        """Re-read the manifests if they changed; apply the valid ones (scheduler job and tests)."""
        with self._reload_lock:
            self._reload(force, enqueue)

    def _reload(self, force: bool, enqueue: bool) -> None:
        result = self.watcher.poll(force=force)
        if result is None:
            return
        for error in result.errors:
            log.error("manifest rejected: %s", error)
        for path in result.rejected_files:
            log.warning("%s: invalid edit rejected; the last good spec keeps running", path)
        self.metrics.reload("rejected" if result.errors else "applied")
        self.use_specs(result.specs, rejected_edits={e.file: str(e) for e in reversed(result.errors)})
        changed = self.reconciler.set_specs(s for s in self._specs.values() if self.status[s.name].registered)
        if changed and enqueue:
            log.info("manifests applied: %s", ", ".join(changed))
        self._update_subscriptions()

    def use_specs(self, specs: Sequence[MarketMakerSpec], rejected_edits: dict[str, str] | None = None) -> None:
        """Take these specs as the desired state: statuses, and their markets checked on the exchange.

        ``rejected_edits`` maps a manifest file to the first error of a rejected edit (its
        last good specs are among ``specs``).
        """
        now = self.now()
        rejected_edits = rejected_edits or {}
        with self._lock:
            names = {spec.name for spec in specs}
            for spec in specs:
                status = self.status.get(spec.name)
                if status is None:
                    status = self.status[spec.name] = ManifestStatus(spec.name)
                    for kind in (st.SYNCED, st.QUOTING):
                        status.conditions.set(kind, None, "NotYetReconciled", "waiting for the first reconcile", now)
                error = rejected_edits.get(spec.source.file) if spec.source is not None else None
                if error:
                    # Still valid to run (on the last good spec); the condition tells the user.
                    message = f"last good spec kept: {error}"
                    status.conditions.set(st.VALID, False, "ManifestInvalid", message, now)
                else:
                    status.valid, status.message = True, ""
                    status.conditions.set(st.VALID, True, "ManifestValid", "manifest valid, market found", now)
            for name in list(self.status):
                if name not in names:
                    del self.status[name]
                    self.metrics.forget_manifest(name)
            self._specs = {spec.name: spec for spec in specs}
        self._register_markets()

    def _register_markets(self) -> None:
        for spec in list(self._specs.values()):
            status = self.status[spec.name]
            condition_id = spec.market.condition_id
            try:
                info = self._markets.get(condition_id) or self.venue.get_market(condition_id)
            except VenueError as exc:
                status.registered = False
                status.invalid("MarketNotFound", f"market {condition_id}: {exc}", self.now())
                log.error("%s: %s", spec.name, status.message)
                continue
            problem = _market_problem(spec, info)
            if problem:
                status.registered = False
                reason = "MarketNotAccepting" if "accepting" in problem else "TokenMismatch"
                status.invalid(reason, problem, self.now())
                log.error("%s: %s", spec.name, problem)
                continue
            self._markets[condition_id] = info
            self.store.track_market(
                condition_id,
                info.token_ids,
                spec.market.tick_size or info.tick_size,
                spec.market.min_order_size or info.min_order_size,
                info.neg_risk,
            )
            status.registered = True

    def _update_subscriptions(self) -> None:
        if self._streams is None:
            return
        specs = list(self.reconciler.specs().values())
        tokens = {t for s in specs for t in (s.market.yes_token, s.market.no_token)}
        self._streams.set_subscriptions(tokens, {s.market.condition_id for s in specs})

    # -- REST resync ----------------------------------------------------------------

    def resync(self, initial: bool = False) -> None:
        """Re-read books, open orders and balances; detect frozen streams; requeue everything."""
        with self._resync_lock:
            markets = self.store.tracked_markets()
            tokens = self.store.token_ids()
            seen = {t: self.store.stream_updates(t) for t in tokens}
            as_of = self.store.now()
            try:
                books = self.venue.get_books(tokens) if tokens else {}
                orders = self.venue.get_orders()
                balances = self.venue.get_balances(tokens)
            except (VenueError, Ambiguous) as exc:
                log.warning("resync failed: %s", exc)
                return
            suspects = {}
            for token, snapshot in books.items():
                verdict = self.store.resync_book(token, snapshot.book, None if initial else seen.get(token))
                if verdict == "missed":
                    suspects[token] = seen[token]
            managed = set(markets)
            self.store.replace_orders(None, [o for o in orders if o.market in managed], as_of=as_of)
            self.store.replace_balances(balances, as_of=as_of)
            synced = {self.store.market_of_token(t) for t in books}
            for condition_id in markets:
                if condition_id in synced and not (self._streams is not None and self._market_stream_down):
                    self.store.set_fresh(condition_id)
        if suspects:
            timer = threading.Timer(self.options.freeze_confirm_seconds, self._confirm_frozen, args=(suspects,))
            timer.daemon = True
            timer.start()
        self.reconciler.enqueue_all()

    def _confirm_frozen(self, suspects: dict[str, int]) -> None:
        """A REST book showed a change the stream had not delivered. If the stream has
        stayed silent since, it is frozen (or dropping messages): adopt REST, pull the
        market's quotes and reconnect. A live stream would have delivered it by now."""
        silent = [t for t, seen in suspects.items() if self.store.stream_updates(t) == seen]
        if not silent:
            return
        try:
            books = self.venue.get_books(silent)
        except (VenueError, Ambiguous) as exc:
            log.warning("frozen-stream check failed: %s", exc)
            return
        frozen = []
        for token in silent:
            snapshot = books.get(token)
            if snapshot is not None and self.store.resync_book(token, snapshot.book, suspects[token]) == "missed":
                self.store.adopt_book(token, snapshot.book)
                condition_id = self.store.market_of_token(token)
                if condition_id:
                    frozen.append(condition_id)
                    self.store.mark_stale(condition_id, "the market stream missed a book change")
        if frozen and self._streams is not None:
            self.metrics.ws_reconnect("market")
            self._streams.market.reconnect("REST shows book changes the stream never delivered")
            self.reconciler.enqueue_all()

    # -- stream handlers ------------------------------------------------------------

    def _on_market_event(self, channel: str, event: dict[str, Any]) -> None:
        changed = self.store.apply_market_event(event)
        stamp = event.get("timestamp")
        if isinstance(stamp, str) and stamp.isdigit():
            self.metrics.ws_lag(channel, time.time() - int(stamp) / 1000)
        if event.get("event_type") == "tick_size_change":
            self.venue.refresh_tick_size([str(event.get("asset_id"))])
        for condition_id in changed:
            for name in self.reconciler.names_for_market(condition_id):
                if self._trigger_changed(name):
                    # A price move arrives as a burst of messages: a short delay lets the
                    # whole burst land, so one reconcile sees the final book.
                    self.reconciler.queue.add_after(name, self.options.trigger_delay)

    def _trigger_changed(self, name: str) -> bool:
        """Does this book change matter to the plan? (reference price or top of book moved)."""
        spec = self._specs.get(name)
        if spec is None:
            return False
        key = _trigger_key(spec, self.store)
        with self._lock:
            if self._triggers.get(name) == key:
                return False
            self._triggers[name] = key
        return True

    def _on_user_event(self, channel: str, event: dict[str, Any]) -> None:
        for condition_id in self.store.apply_user_event(event):
            self.reconciler.enqueue_market(condition_id)

    def _on_stream_status(self, channel: str, connected: bool) -> None:
        if channel == "market":
            self._market_stream_down = not connected
        if connected:
            log.info("%s channel connected", channel)
            if self._streams is not None and getattr(self._streams, channel).reconnects:
                self.metrics.ws_reconnect(channel)
            # Anything may have happened while we were away: re-read, then quote again.
            threading.Thread(target=self.resync, name="resync-after-connect", daemon=True).start()
        else:
            log.warning("%s channel disconnected: pulling quotes until resynced", channel)
            if channel == "market":
                self.store.mark_stale(None, "market stream disconnected")
            self.reconciler.enqueue_all()

    # -- jobs -----------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self.last_tick = time.monotonic()
        try:
            self.venue.heartbeat()
        except (VenueError, Ambiguous) as exc:
            log.warning("exchange heartbeat failed: %s", exc)
        else:
            self.metrics.heartbeat_ok()

    def _resync_job(self) -> None:
        self.last_tick = time.monotonic()
        with self._lock:
            unregistered = any(not s.registered for s in self.status.values())
        if unregistered:
            # A market that was missing or closed may have appeared: try again.
            self._markets.clear()
            self.reload(force=True)
        self.resync()

    def _reload_job(self) -> None:
        self.last_tick = time.monotonic()
        try:
            self.reload()
        except Exception:
            log.exception("manifest reload failed")

    def _on_outcome(self, outcome: Outcome) -> None:
        self.last_tick = time.monotonic()
        now = self.now()
        metrics = self.metrics
        result = "ok" if outcome.ok else ("error" if outcome.error else "rejected")
        metrics.observe_reconcile(outcome.name, outcome.duration, result)
        if outcome.placed:
            metrics.order_placed(outcome.name, len(outcome.placed))
        reasons = {c.order_id: c.reason for c in outcome.plan.cancel} if outcome.plan else {}
        for order_id in outcome.canceled:
            metrics.order_cancelled(outcome.name, reasons.get(order_id, "other"))
        for _what, why in outcome.rejected:
            metrics.order_rejected(outcome.name, why)
        status = self.status.get(outcome.name)
        spec = self._specs.get(outcome.name)
        if status is None or spec is None:
            return
        status.last_outcome = outcome
        status.last_reconcile = now
        status.reconciled_once = status.reconciled_once or outcome.error is None
        if outcome.error:
            status.conditions.set(st.SYNCED, False, "ReconcileFailed", outcome.error, now)
        elif outcome.rejected:
            what, why = outcome.rejected[0]
            status.conditions.set(st.SYNCED, False, "OrdersRejected", f"{what}: {why}", now)
        else:
            status.conditions.set(st.SYNCED, True, "ReconcileSucceeded", "plan executed", now)
        if outcome.plan is not None:
            self._update_quoting(spec, status, outcome, now)

    def _update_quoting(self, spec: MarketMakerSpec, status: ManifestStatus, outcome: Outcome, now: datetime) -> None:
        plan = outcome.plan
        assert plan is not None
        counts = {"bid": [0] * len(spec.bands), "ask": [0] * len(spec.bands)}
        for kept in plan.kept:
            counts[kept.quote_side][kept.band] += 1
        for placement, _order_id in outcome.placed:
            counts[placement.quote_side][placement.band] += 1
        status.band_counts = counts
        for side, per_band in counts.items():
            self.metrics.set_quotes_in_band(spec.name, side, sum(1 for n in per_band if n))
        balances = self.store.balances()
        position = balances.token(spec.market.quoted_token) - balances.token(spec.market.complement_token)
        self.metrics.set_position(spec.name, position)
        self.metrics.set_collateral(spec.name, balances.collateral)
        if plan.note:
            status.conditions.set(st.QUOTING, False, st.quoting_reason(plan.note), plan.note, now)
        elif all(n for per_band in counts.values() for n in per_band):
            status.conditions.set(st.QUOTING, True, "QuotingAllBands", "orders rest in every band", now)
        else:
            why = "; ".join(plan.warnings) or "some bands are empty"
            reason = st.quoting_reason(why) if plan.warnings else "PartiallyQuoting"
            status.conditions.set(st.QUOTING, False, reason, why, now)

    # -- probes ---------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """Alive: the loop (scheduler jobs, reconciles) ticked recently."""
        age = time.monotonic() - self.last_tick
        limit = max(30.0, 3 * self.options.heartbeat_interval)
        return age < limit, f"loop ticked {age:.0f}s ago"

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
        balances = self.store.balances()
        manifests = []
        with self._lock:
            statuses = sorted(self.status.items())
        for name, status in statuses:
            spec = self._specs.get(name)
            if spec is None:
                continue
            outcome = status.last_outcome
            position = balances.token(spec.market.quoted_token) - balances.token(spec.market.complement_token)
            manifests.append(
                st.manifest_status(
                    name,
                    spec.market.condition_id,
                    status.conditions,
                    reference_price=outcome.plan.reference_price if outcome and outcome.plan else None,
                    open_orders=status.band_counts,
                    position=position,
                    collateral=balances.collateral,
                    last_reconcile=status.last_reconcile,
                    last_error=(outcome.error if outcome else None) or (status.message or None),
                )
            )
        streams = {"market": False, "user": False}
        if self._streams is not None:
            streams = {"market": self._streams.market.connected, "user": self._streams.user.connected}
        return st.status_document(now, self.ready()[0], streams, manifests)

    # -- one-shot uses --------------------------------------------------------------

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


def _market_problem(spec: MarketMakerSpec, info: MarketInfo) -> str | None:
    known = set(info.token_ids)
    wrong = [t for t in (spec.market.yes_token, spec.market.no_token) if t not in known]
    if wrong:
        return f"token id(s) {', '.join(wrong)} are not outcomes of market {spec.market.condition_id}"
    if not info.accepting_orders:
        return f"market {spec.market.condition_id} is not accepting orders"
    return None


def _trigger_key(spec: MarketMakerSpec, store: ObservedStore) -> tuple[Any, ...]:
    from controller.plan.bands import reference_price

    condition_id = spec.market.condition_id
    view = store.market_view(condition_id)
    if view is None:
        return ("untracked",)
    market, own = view
    book = market.books.get(spec.market.quoted_token)
    price = reference_price(spec, market, own)
    top = (book.best_bid, book.best_ask) if book is not None else (None, None)
    return (price, *top, market.tick_size, store.stale_reason(condition_id))


def _schema_validators() -> tuple[Any, Any]:
    """Validate every incoming WS message against the channel schemas (compiled once)."""
    import fastjsonschema

    from controller.schemas import load_schema

    def make(name: str) -> Any:
        check = fastjsonschema.compile(load_schema(name))

        def validate(event: dict[str, Any]) -> str | None:
            try:
                check(event)
            except fastjsonschema.JsonSchemaException as exc:
                return str(exc.message)[:200]
            return None

        return validate

    return make("ws-market.schema.json"), make("ws-user.schema.json")


# --------------------------------------------------------------------------- CLI entry


def _venue_config(args: argparse.Namespace, sim: Any) -> VenueConfig:
    if sim is not None:
        from controller.ops.redact import Secret

        return VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url)
    return VenueConfig.from_env()


def run_command(args: argparse.Namespace) -> int:
    import os

    from controller.ops.telemetry import init_sentry_from_env, setup_logging

    setup_logging(args.log_format, os.environ.get("LOG_LEVEL", "INFO"))
    init_sentry_from_env(os.environ)
    paths = list(args.file or [])
    sim = None
    if args.sim:
        from controller.sim import start_sim

        sim = start_sim()
        log.info("emulator listening on %s", sim.url)
        if not paths:
            paths = [demo_manifests()]
    if not paths:
        print("error: no manifests: pass -f PATH (or --sim for the demo)", file=sys.stderr)
        return 2
    try:
        venue = Venue(_venue_config(args, sim))
        controller = Controller(venue, LiveOptions(manifest_paths=paths, cancel_unmanaged=args.cancel_unmanaged))
        if args.live_mode == "apply":
            return _apply(controller)
        return _run(controller, args.http)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (VenueError, Ambiguous) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if sim is not None:
            sim.stop()


def _apply(controller: Controller) -> int:
    controller.prepare()
    outcomes = controller.apply_once()
    failed = [o for o in outcomes if not o.ok]
    for outcome in outcomes:
        placed, canceled = len(outcome.placed), len(outcome.canceled)
        suffix = f": {outcome.error}" if outcome.error else ""
        print(f"{outcome.name}: {placed} placed, {canceled} cancelled{suffix}")
    controller.venue.disconnect()
    invalid = [s for s in controller.status.values() if not s.valid]
    return 2 if failed or invalid else 0


def _run(controller: Controller, bind: str) -> int:
    from controller.ops.health import HealthServer, parse_bind

    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        host, port = parse_bind(bind)
        server = HealthServer(
            host,
            port,
            health=controller.health,
            ready=controller.ready,
            status=controller.status_document,
            metrics=controller.metrics,
        )
    except (ValueError, OSError) as exc:
        print(f"error: --http {bind}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    log.info("health, status and metrics on %s", server.url)
    try:
        controller.start()
        log.info("controller running with %d manifest(s)", len(controller.reconciler.specs()))
        while not stop.wait(0.2):
            pass
        left = controller.stop()
    finally:
        server.stop()
    return 0 if left == 0 else 1


def live_diff_inputs(specs: Sequence[MarketMakerSpec]) -> tuple[ObservedState, datetime]:
    """Read the live venue for ``bandctl diff``: the controller's own start-up reads, nothing sent."""
    venue = Venue(VenueConfig.from_env())
    controller = Controller(venue, LiveOptions(manifest_paths=[]))
    try:
        venue.connect()
        controller.use_specs(specs)
        problems = [f"{s.name}: {s.message}" for s in controller.status.values() if not s.registered]
        if problems:
            raise VenueError("; ".join(sorted(problems)))
        controller.resync(initial=True)
        state = controller.observed()
        assert state.time is not None
        return state, state.time
    finally:
        venue.disconnect()
