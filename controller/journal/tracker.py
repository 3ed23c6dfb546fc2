"""PnL in memory for the running controller: loss limits, gauges and ``status`` without reading the database.

Fed the same fills the journal gets (and seeded from the journal at start), it merges
them by trade id + order id exactly as the journal does (statuses move forward, FAILED
sticks and drops the fill) and answers per-market PnL through the pure ``pnl`` functions,
recomputing a market only when one of its fills changed or a different mark or window is
asked for. Thread-safe; decides nothing (the risk rules compare its numbers with their
limits) and does no I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal

from controller.journal.pnl import MarketPnl, PnlReport, Totals, compute_pnl
from controller.journal.records import Fill, MarketRecord, MidSample, TradeRecord, merge_status

MID_BUCKET = 60.0  # seconds: the opening mark of a window needs no finer mid than this
MID_HISTORY = 2 * 86_400.0  # how far back opening marks can be asked for


class PnlTracker:
    def __init__(self, markets: Iterable[MarketRecord] = (), *, mid_history: float = MID_HISTORY) -> None:
        self._lock = threading.Lock()
        self._mid_history = mid_history
        self._mids: dict[str, deque[MidSample]] = {}
        self._markets: dict[str, MarketRecord] = {m.condition_id: m for m in markets}
        self._fills: dict[str, dict[tuple[str, str], Fill]] = {}
        self._cache: dict[str, tuple[tuple[Decimal | None, float | None], MarketPnl]] = {}

    def set_market(self, market: MarketRecord) -> None:
        with self._lock:
            self._markets[market.condition_id] = market
            self._cache.pop(market.condition_id, None)

    def seed(self, fills: Iterable[Fill]) -> None:
        """The journal's fills at start (``Journal.fills()``)."""
        with self._lock:
            for f in fills:
                self._fills.setdefault(f.record.condition_id, {})[f.record.key] = f
                self._cache.pop(f.record.condition_id, None)

    def add(self, record: TradeRecord) -> bool:
        """One sighting of a fill; True when it changed what the tracker knows."""
        with self._lock:
            return self._add(record) is not None

    def _add(self, record: TradeRecord) -> bool | None:
        """Under the lock: None when nothing changed, else whether the fill was new."""
        market = self._fills.setdefault(record.condition_id, {})
        old = market.get(record.key)
        if old is None:
            market[record.key] = Fill(record, record.seen_at, record.seen_at, record.fill_time)
        else:
            status = merge_status(old.record.status, record.status)
            if status is old.record.status:
                return None
            market[record.key] = Fill(old.record.with_status(status), old.first_seen_at, record.seen_at, old.fill_time)
        self._cache.pop(record.condition_id, None)
        return old is None

    def observe_mid(self, condition_id: str, token_id: str, mid: Decimal, at: float) -> None:
        """Keep the mid for windows' opening marks: one sample a minute, ``mid_history`` seconds back."""
        sample = MidSample(condition_id, token_id, mid, at)
        with self._lock:
            history = self._mids.setdefault(condition_id, deque())
            if history and history[-1].at // MID_BUCKET == at // MID_BUCKET:
                history[-1] = sample
            elif not history or at > history[-1].at:
                history.append(sample)
            while history and history[0].at < at - self._mid_history:
                history.popleft()

    def add_all(self, records: Iterable[TradeRecord]) -> int:
        return sum(self.add(r) for r in records)

    def add_unseen(self, records: Iterable[TradeRecord]) -> int:
        """Add ``records``; how many were fills the tracker had not seen at all (not a status change)."""
        unseen = 0
        for record in records:
            with self._lock:
                unseen += self._add(record) is True
        return unseen

    def market(self, condition_id: str, *, mid: Decimal | None, now: float, since: float | None = None) -> MarketPnl:
        """PnL of one market marked at ``mid`` (the quoted outcome's), over ``since`` … ``now``.

        Markouts are not computed here. ``window_pnl`` is realized since ``since`` plus
        unrealized now minus the position's unrealized at ``since`` (marked at the mid then,
        from ``observe_mid``; zero when none is known) — the loss-limit number.
        """
        with self._lock:
            key = (mid, since)
            cached = self._cache.get(condition_id)
            if cached is not None and cached[0] == key and since is None:
                return cached[1]
            fills = list(self._fills.get(condition_id, {}).values())
            market = self._markets.get(condition_id)
            mids = list(self._mids.get(condition_id, ())) if since is not None else []
        report = compute_pnl(
            fills,
            mids,
            now=now,
            since=since,
            markets=[market] if market else [],
            marks={condition_id: mid} if mid is not None else None,
            horizons=(),
        )
        result = next((m for m in report.markets if m.condition_id == condition_id), None)
        if result is None:
            result = _empty(condition_id, market)
        with self._lock:
            if since is None:
                self._cache[condition_id] = (key, result)
        return result

    def report(self, marks: Mapping[str, Decimal], *, now: float, since: float | None = None) -> PnlReport:
        """Every market the tracker knows, marked at ``marks`` (quoted mids by condition id)."""
        with self._lock:
            ids = sorted(set(self._fills) | set(self._markets))
        markets = tuple(self.market(c, mid=marks.get(c), now=now, since=since) for c in ids)
        total = Totals(
            realized=sum((m.realized for m in markets), Decimal(0)),
            unrealized=sum((m.unrealized for m in markets), Decimal(0)),
            fees=sum((m.fees for m in markets), Decimal(0)),
            volume=sum((m.volume for m in markets), Decimal(0)),
            fills=sum(m.fills for m in markets),
            opening_unrealized=sum((m.opening_unrealized for m in markets), Decimal(0)),
        )
        return PnlReport(markets=markets, total=total, as_of=now, since=since)


def _quoted(market: MarketRecord | None) -> str:
    return market.quoted_token if market else ""


def _empty(condition_id: str, market: MarketRecord | None) -> MarketPnl:
    zero = Decimal(0)
    return MarketPnl(
        name=market.name if market else "",
        condition_id=condition_id,
        token_id=_quoted(market),
        position=zero,
        average_cost=zero,
        mid=None,
        realized=zero,
        unrealized=zero,
        fees=zero,
        volume=zero,
        fills=0,
        markouts=(),
    )
