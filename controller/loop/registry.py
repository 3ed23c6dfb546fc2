"""Which manifests the controller runs, their status, and their markets as the exchange has them.

A valid manifest is *registered* once its market is found on the exchange, holds the
manifest's tokens and accepts orders; only registered manifests are reconciled. This
module keeps that bookkeeping (specs, statuses, market rules) under one lock, checks
markets against the exchange when specs change, and stops a manifest whose market
closes. It plans nothing and sends no order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from controller.loop.reconciler import Reconciler
from controller.observe.store import ObservedStore
from controller.ops import status as st
from controller.ops.manifest_status import ManifestStatus, market_problem, set_condition
from controller.ops.metrics import Metrics
from controller.spec.types import MarketMakerSpec
from controller.venue.client import MarketInfo, Venue, VenueError

log = logging.getLogger("bandctl")

# Markets read side by side while registering (the venue's rate budget still applies).
FETCH_WORKERS = 8
# A market's rules (or why they could not be read) and its end time (or why not).
_Fetched = tuple[MarketInfo | VenueError, datetime | VenueError | None]


class Registry:
    def __init__(
        self,
        venue: Venue,
        store: ObservedStore,
        reconciler: Reconciler,
        metrics: Metrics,
        now: Callable[[], datetime],
    ) -> None:
        self.venue, self.store, self.reconciler, self.metrics, self.now = venue, store, reconciler, metrics, now
        self.lock = threading.RLock()
        self.status: dict[str, ManifestStatus] = {}
        self.specs: dict[str, MarketMakerSpec] = {}
        self.markets: dict[str, MarketInfo] = {}
        self._end_unknown: set[str] = set()  # end time not read yet: retried every resync

    def registered_specs(self) -> list[MarketMakerSpec]:
        with self.lock:
            return [s for s in self.specs.values() if self.status[s.name].registered]

    def spec(self, name: str) -> MarketMakerSpec | None:
        with self.lock:
            return self.specs.get(name)

    def use_specs(self, specs: Sequence[MarketMakerSpec], rejected_edits: dict[str, str] | None = None) -> None:
        """Take these specs as the desired state: statuses, and their markets checked on the exchange.

        ``rejected_edits`` maps a manifest file to the first error of a rejected edit (its
        last good specs are among ``specs``).
        """
        now = self.now()
        rejected_edits = rejected_edits or {}
        with self.lock:
            names = {spec.name for spec in specs}
            for spec in specs:
                status = self.status.get(spec.name)
                if status is None:
                    status = ManifestStatus.new(spec.name, now, self.reconciler.actions.log, self.metrics)
                    self.status[spec.name] = status
                error = rejected_edits.get(spec.source.file) if spec.source is not None else None
                if error:
                    # Still valid to run (on the last good spec); the condition tells the user.
                    set_condition(status, st.VALID, False, "ManifestInvalid", f"last good spec kept: {error}", now)
                else:
                    status.valid, status.message = True, ""
                    set_condition(status, st.VALID, True, "ManifestValid", "manifest valid, market found", now)
            for name in list(self.status):
                if name not in names:
                    del self.status[name]
                    self.metrics.forget_manifest(name)
            self.specs = {spec.name: spec for spec in specs}
        self.register_markets()

    def register_markets(self) -> None:
        specs = list(self.specs.values())
        fetched = self._fetch_new_markets(sorted({s.market.condition_id for s in specs} - set(self.markets)))
        for spec in specs:
            status = self.status[spec.name]
            condition_id = spec.market.condition_id
            known = self.markets.get(condition_id)
            info, end_time = (known, None) if known is not None else fetched[condition_id]
            if isinstance(info, VenueError):
                status.registered = False
                status.invalid("MarketNotFound", f"market {condition_id}: {info}", self.now())
                log.error("%s: %s", spec.name, status.message)
                continue
            problem = market_problem(spec, info)
            if problem is not None:
                reason, message = problem
                status.registered = False
                status.invalid(reason, message, self.now())
                log.error("%s: %s", spec.name, message)
                continue
            if known is None:
                self.markets[condition_id] = info
                # The market's details say when it ends (and whether it trades position ids,
                # V3: the venue notes that as it reads them).
                if isinstance(end_time, VenueError):
                    log.warning("market %s: end time unknown (retried every resync): %s", condition_id[:10], end_time)
                    self._end_unknown.add(condition_id)
                else:
                    self.reconciler.set_end_time(condition_id, end_time)
            self.store.track_market(
                condition_id,
                info.token_ids,
                spec.market.tick_size or info.tick_size,
                spec.market.min_order_size or info.min_order_size,
                info.neg_risk,
            )
            status.registered = True

    def _fetch_new_markets(self, condition_ids: list[str]) -> dict[str, _Fetched]:
        """Rules and end time of the markets not known yet, several reads at a time: at the
        start of 1,000 manifests two REST reads a market one after the other took seconds.
        A known market is not read again (a manifest edit used to re-read every end time)."""

        def fetch(condition_id: str) -> _Fetched:
            try:
                info = self.venue.get_market(condition_id)
            except VenueError as exc:
                return exc, None
            try:
                return info, self.venue.get_end_time(condition_id)
            except VenueError as exc:
                return info, exc

        if len(condition_ids) <= 1:
            return {c: fetch(c) for c in condition_ids}
        with ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="register") as pool:
            return dict(zip(condition_ids, pool.map(fetch, condition_ids), strict=True))

    def retry_end_times(self) -> None:
        """Read again the end times registration could not (``risk.stopBefore`` needs them, and
        the same read tells the venue which exchange contract the market trades on)."""
        with self.lock:
            pending = sorted(self._end_unknown)
        for condition_id in pending:
            try:
                end_time = self.venue.get_end_time(condition_id)
            except VenueError as exc:
                log.debug("market %s: end time still unknown: %s", condition_id[:10], exc)
                continue
            self.reconciler.set_end_time(condition_id, end_time)
            with self.lock:
                self._end_unknown.discard(condition_id)

    def market_closed(self, condition_id: str) -> bool:
        """The exchange stopped taking orders in this market (resolved, closed): its manifests
        stop reconciling, with the reason in Valid and Quoting. The exchange cancels the
        orders itself; the resync job looks again every interval in case it reopens. True when
        a manifest stopped (the caller then narrows the reconciler's specs)."""
        now = self.now()
        with self.lock:
            names = [n for n, s in self.specs.items() if s.market.condition_id == condition_id]
            for name in names:
                status = self.status[name]
                if not status.registered:
                    continue
                status.registered = False
                message = f"market {condition_id} is not accepting orders"
                status.invalid("MarketNotAccepting", message, now)
                set_condition(status, st.QUOTING, False, "MarketNotAccepting", message, now)
            self.markets.pop(condition_id, None)
        return bool(names)
