"""Liquidity rewards in the running controller: programme parameters in, scores and earnings out.

Every few minutes (and at start) it reads each managed market's rewards programme and
hands it to the reconciler, which gives it to the planner as an input (``spec.rewards:
{mode: fit}`` clamps bands to score; every plan carries its expected score). It also
asks the exchange which of our orders score now, our live share, and what we earned
today, for ``/status`` and ``/metrics``.

It reads only; it places and cancels nothing. The planner decides what to quote.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from controller.loop.reconciler import Reconciler
from controller.observe.store import ObservedStore
from controller.ops.metrics import Metrics
from controller.plan.rewards import RewardParams
from controller.plan.ticks import format_decimal
from controller.venue.client import Venue, VenueError
from controller.venue.rewards import PublicRewardsReader, fetch_rewards

log = logging.getLogger("bandctl.rewards")


@dataclass(frozen=True)
class RewardsView:
    """What the exchange says of one market's programme and our part in it."""

    params: RewardParams
    orders_scoring: int = 0
    orders_open: int = 0
    earned_today: Decimal | None = None


class RewardsWatch:
    def __init__(
        self,
        venue: Venue,
        store: ObservedStore,
        reconciler: Reconciler,
        metrics: Metrics,
        reader: PublicRewardsReader | None = None,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.venue, self.store, self.reconciler, self.metrics = venue, store, reconciler, metrics
        self.reader = reader or PublicRewardsReader(venue.config.clob_host, timeout=venue.config.request_timeout)
        self.today = today
        self._lock = threading.Lock()
        self._views: dict[str, RewardsView] = {}

    def views(self) -> dict[str, RewardsView]:
        with self._lock:
            return dict(self._views)

    def refresh(self) -> None:
        """Re-read the programmes of the managed markets; requeue those whose programme changed."""
        markets = sorted({s.market.condition_id for s in self.reconciler.specs().values()})
        try:
            programmes = fetch_rewards(self.reader, markets)
        except VenueError as exc:
            log.warning("rewards programmes not refreshed: %s", str(exc)[:200])
            return
        for condition_id in markets:
            params = programmes.get(condition_id.lower())
            if self.reconciler.set_rewards(condition_id, params):
                self.reconciler.enqueue_market(condition_id)
        self._refresh_ours(programmes)

    def _refresh_ours(self, programmes: dict[str, RewardParams]) -> None:
        ours = {o.id: o.market for o in self.store.open_orders() if o.market.lower() in programmes}
        scoring: dict[str, bool] = {}
        earned: dict[str, Decimal] = {}
        try:
            scoring = self.venue.orders_scoring(sorted(ours))  # deadline and error classes of every call
            earned = self.venue.user_earnings(self.today().date())
        except Exception as exc:  # these reads are for display: never let them break the loop
            log.debug("reward scores not read: %s", str(exc)[:200])
        views = {}
        for condition_id, params in programmes.items():
            ids = [i for i, m in ours.items() if m.lower() == condition_id]
            views[condition_id] = RewardsView(
                params,
                orders_scoring=sum(1 for i in ids if scoring.get(i)),
                orders_open=len(ids),
                earned_today=earned.get(condition_id),
            )
        with self._lock:
            self._views = views
        for spec in self.reconciler.specs().values():
            view = views.get(spec.market.condition_id.lower())
            if view is not None:
                self.metrics.set_rewards(spec.name, view.orders_scoring, view.earned_today)

    def document(self, condition_id: str, estimate: Any) -> dict[str, Any] | None:
        """The ``rewards`` part of one manifest's ``/status`` entry (None without a programme)."""
        view = self.views().get(condition_id.lower())
        if view is None:
            return None
        doc: dict[str, Any] = {
            "maxSpread": format_decimal(view.params.max_spread),
            "minSize": format_decimal(view.params.min_size),
            "dailyRate": format_decimal(view.params.daily_rate),
            "ordersScoring": view.orders_scoring,
            "ordersOpen": view.orders_open,
            "earnedToday": None if view.earned_today is None else format_decimal(view.earned_today),
        }
        if estimate is not None:
            doc["score"] = format_decimal(estimate.score.q_min)
            doc["share"] = None if estimate.share is None else format_decimal(estimate.share)
        return doc
