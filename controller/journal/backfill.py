"""Gap fill from the exchange's trade history (``GET /data/trades``) after a crash or a drop.

Reads every page after a start time and journals our fills in them, synchronously
(``Journal.write_trades``), so nothing journaled can be double counted (fills merge on
trade id + order id) and nothing the exchange still holds is lost. The start reaches back
to the earliest of: the last journaled trade, the oldest fill still waiting for its final
status (it may have ended FAILED while we were down) and any trade dropped from the
journal's queue, minus an overlap for trades of the same second. The page fetcher is the
caller's (a venue call); this module never opens a connection itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.journal.convert import fills_from_rest
from controller.journal.records import TradeRecord
from controller.journal.writer import Journal
from controller.venue.wire import WireError

log = logging.getLogger("bandctl.journal")

FIRST_CURSOR = "MA=="
END_CURSOR = "LTE="
DEFAULT_OVERLAP = 60.0
UNSETTLED_LOOKBACK = 86_400.0  # a fill unsettled for longer than a day is not worth re-reading on every start
MAX_PAGES = 10_000

FetchPage = Callable[[float, str], tuple[Sequence[Any], str]]


@dataclass(frozen=True)
class BackfillResult:
    after: float
    pages: int
    rows: int
    fills: int
    rejected: int
    complete: bool  # False when the page limit, a repeated cursor or a write timeout stopped it


def backfill_start(journal: Journal, *, now: float, overlap: float = DEFAULT_OVERLAP) -> float:
    """The ``after`` time a backfill should read from (0 for an empty journal: all history)."""
    candidates = [journal.last_trade_time()]
    candidates.append(journal.oldest_unsettled_time(now - UNSETTLED_LOOKBACK))
    candidates.append(journal.gap_since)
    known = [c for c in candidates if c is not None]
    if not known:
        return 0.0
    return max(0.0, min(known) - overlap)


def backfill(
    journal: Journal,
    fetch_page: FetchPage,
    *,
    after: float | None = None,
    overlap: float = DEFAULT_OVERLAP,
    clock: Callable[[], float] = time.time,
    max_pages: int = MAX_PAGES,
    on_fills: Callable[[list[TradeRecord]], object] | None = None,
) -> BackfillResult:
    """Journal every fill of ours the exchange reports after ``after`` (default: ``backfill_start``).

    ``fetch_page(after, cursor)`` returns one page's rows and the next cursor; the first
    cursor is ``MA==`` and ``LTE=`` ends. Malformed rows are counted and skipped.
    ``on_fills`` gets each page's fills once they are committed (e.g. ``PnlTracker.add_all``).
    """
    start = backfill_start(journal, now=clock(), overlap=overlap) if after is None else after
    gap_before = journal.gap_since
    cursor, seen_cursors = FIRST_CURSOR, set()
    pages = rows = fills = rejected = 0
    complete = True
    while True:
        if pages >= max_pages or cursor in seen_cursors:
            log.error("trade backfill stopped after %d pages: %s", pages, "page limit" if pages else "cursor loop")
            complete = False
            break
        seen_cursors.add(cursor)
        items, next_cursor = fetch_page(start, cursor)
        pages += 1
        batch = []
        for item in items:
            rows += 1
            try:
                if not isinstance(item, Mapping):
                    raise WireError(f"malformed trade: expected an object, got {type(item).__name__}")
                batch.extend(fills_from_rest(item, seen_at=clock()))
            except WireError as exc:
                rejected += 1
                log.warning("trade backfill skipped a row: %s", exc)
        if batch and not journal.write_trades(batch):
            complete = False
            break
        if batch and on_fills is not None:
            on_fills(batch)
        fills += len(batch)
        if not items or not isinstance(next_cursor, str) or not next_cursor or next_cursor == END_CURSOR:
            break
        cursor = next_cursor
    if complete and gap_before is not None and gap_before >= start:
        journal.clear_gap(gap_before)  # what the queue dropped before this read is journaled now
    return BackfillResult(after=start, pages=pages, rows=rows, fills=fills, rejected=rejected, complete=complete)
