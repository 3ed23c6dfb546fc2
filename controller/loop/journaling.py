"""The fill journal's place in the running controller: what is written, when, and PnL for risk.

Every order action the reconciler takes and every trade of ours the user channel
reports goes to the journal (one writer thread; nothing here blocks the reconcile
path). At start, and at every resync, the exchange's trade history fills any gap since
the last trade journaled, so a crash or ``kill -9`` loses no fill. An in-memory PnL
tracker, fed the same fills, answers what the loss limits, gauges and ``status`` ask.

It records and reports; it places and cancels nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from controller.journal import (
    Journal,
    MarketRecord,
    MidSampler,
    PnlTracker,
    Source,
    TradeRecord,
    backfill,
    open_journal,
)
from controller.ops.metrics import Metrics
from controller.plan.ticks import format_decimal
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Venue, VenueError

log = logging.getLogger("bandctl.journal")

MID_RETENTION_SECONDS = 7 * 86_400.0


class Journaling:
    def __init__(
        self,
        journal: Journal,
        venue: Venue,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal, self.venue, self.metrics, self._clock = journal, venue, metrics, clock
        self.tracker = PnlTracker()
        self.tracker.seed(journal.fills())
        self.sampler = MidSampler(journal)
        self._names: dict[str, str] = {}  # condition id -> manifest name
        self._conditions: dict[str, str] = {}  # manifest name -> its (latest) condition id
        self._marks: dict[str, Decimal] = {}  # condition id -> the quoted outcome's latest mid

    @classmethod
    def open(cls, target: str | None, state_dir: str, venue: Venue, metrics: Metrics) -> Journaling:
        """Open the journal (``JournalError``, one line, when it cannot be)."""
        return cls(open_journal(target, state_dir), venue, metrics)

    # -- what is journaled --------------------------------------------------------------

    def track(self, specs: Iterable[MarketMakerSpec]) -> None:
        for spec in specs:
            market = MarketRecord(
                spec.name, spec.market.condition_id, spec.market.quoted_token, spec.market.complement_token
            )
            if self._names.get(spec.market.condition_id) != spec.name:
                self.journal.record_market(*_fields(market))
                self.tracker.set_market(market)
                self._names[spec.market.condition_id] = spec.name
            self._conditions[spec.name] = spec.market.condition_id

    def on_user_raw(self, channel: str, raw: Mapping[str, Any]) -> None:
        """A user-channel event as received: trades of ours go to the journal and the tracker."""
        if raw.get("event_type") == "trade":
            self.tracker.add_all(self.journal.record_exchange_trade(raw, Source.WEBSOCKET))

    def on_action(self, name: str, condition_id: str, action: str, fields: Mapping[str, Any]) -> None:
        """One order action, as the reconciler logged it (its structured fields)."""
        price, size = fields.get("price"), fields.get("size")
        self.journal.record_action(
            name,
            condition_id,
            action,
            str(fields.get("order_id") or ""),
            str(fields.get("token_id") or ""),
            str(fields.get("side") or ""),
            None if price is None else Decimal(str(price)),
            None if size is None else Decimal(str(size)),
            str(fields.get("reason") or ""),
            str(fields.get("detail") or ""),
        )

    def observe_mid(self, condition_id: str, token_id: str, mid: Decimal | None) -> None:
        if mid is None:
            return
        self.sampler.observe(condition_id, token_id, mid)
        self.tracker.observe_mid(condition_id, token_id, mid, self._clock())
        self._marks[condition_id] = mid

    # -- gaps, PnL, housekeeping --------------------------------------------------------

    def backfill(self) -> None:
        """Journal every fill of ours the exchange reports since the last one journaled."""
        unseen = 0

        def take(fills: list[TradeRecord]) -> None:
            nonlocal unseen
            unseen += self.tracker.add_unseen(fills)

        try:
            backfill(self.journal, self.venue.trades_page, on_fills=take)
        except VenueError as exc:
            log.warning("trade history not read (the next resync tries again): %s", str(exc)[:200])
            return
        # The history overlaps what the user channel delivered: only fills it missed are news.
        if unseen:
            log.info("journal: %d fill(s) the user channel missed, recovered from the trade history", unseen)

    def pnl_of(self, name: str | None, window: timedelta) -> Decimal | None:
        """Realized + unrealized PnL over the trailing ``window`` (None: no market of that name)."""
        now = self._clock()
        since = now - window.total_seconds()
        if name is None:
            return self.tracker.report(dict(self._marks), now=now, since=since).total.window_pnl
        condition_id = self._conditions.get(name)
        if condition_id is None:
            return None
        mark = self._marks.get(condition_id)
        return self.tracker.market(condition_id, mid=mark, now=now, since=since).window_pnl

    def export(self) -> None:
        """PnL gauges per manifest (called on the summary schedule)."""
        now = self._clock()
        for condition_id, name in self._names.items():
            pnl = self.tracker.market(condition_id, mid=self._marks.get(condition_id), now=now)
            self.metrics.set_pnl(name, pnl.realized, pnl.unrealized)

    def document(self, name: str) -> dict[str, str] | None:
        """``{"realized", "unrealized"}`` of one manifest for ``/status`` (None: not journaled)."""
        condition_id = self._conditions.get(name)
        if condition_id is None:
            return None
        pnl = self.tracker.market(condition_id, mid=self._marks.get(condition_id), now=self._clock())
        return {"realized": format_decimal(pnl.realized), "unrealized": format_decimal(pnl.unrealized)}

    def prune(self) -> None:
        self.journal.prune_mids(self._clock() - MID_RETENTION_SECONDS)

    def close(self, timeout: float = 5.0) -> None:
        if not self.journal.close(timeout):
            log.warning(
                "journal: the writer did not finish in %.0fs; the next start backfills what is missing", timeout
            )


def _fields(market: MarketRecord) -> tuple[str, str, str, str]:
    return market.name, market.condition_id, market.quoted_token, market.other_token
