"""The journal as the running controller sees it: non-blocking records, one writer thread.

Callers (the reconcile path, stream threads) only put items on a bounded queue; one
thread owns the writing connection and commits what it finds in batches. A full queue
never blocks a caller: the item is dropped, counted (``dropped``) and reported in a
rate-limited error log; a dropped *trade* also lowers ``gap_since`` so the next
``backfill`` reaches back for it. Reads go through a second connection under a lock.
This module decides nothing about PnL and never talks to the exchange.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from controller.journal.convert import fills_from_trade
from controller.journal.records import (
    Action,
    ActionRecord,
    Fill,
    MarketRecord,
    MidPrune,
    MidSample,
    Source,
    TradeRecord,
)
from controller.journal.store import Item, JournalError, Store
from controller.venue.wire import WireError

log = logging.getLogger("bandctl.journal")

DEFAULT_CAPACITY = 10_000
_BATCH = 500
_DROP_LOG_EVERY = 10.0  # seconds between "journal queue full" errors


@dataclass
class _Flush:
    done: threading.Event


class Journal:
    def __init__(
        self,
        opener: Callable[[], Store],
        *,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._opener = opener
        writer = opener()
        writer.migrate(clock())
        self.where = writer.where
        self.dialect = writer.dialect
        self._reader = opener()
        self._read_lock = threading.Lock()
        self._queue: queue.Queue[Item | _Flush | None] = queue.Queue(maxsize=capacity)
        self._last_match_time = writer.last_match_time()
        self._state_lock = threading.Lock()
        self.dropped = 0
        self.malformed = 0
        self._last_malformed_log = float("-inf")
        self.write_errors = 0
        self.written = 0
        self.gap_since: float | None = None
        self._last_drop_log = float("-inf")
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(writer,), name="journal-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ recording (never blocks)

    def record_trade(self, trade: TradeRecord) -> bool:
        if trade.match_time is not None:
            with self._state_lock:
                if self._last_match_time is None or trade.match_time > self._last_match_time:
                    self._last_match_time = trade.match_time
        return self._offer(trade)

    def record_trades(self, trades: Iterable[TradeRecord]) -> int:
        return sum(self.record_trade(t) for t in trades)

    def record_exchange_trade(
        self, raw: Mapping[str, Any], source: Source, seen_at: float | None = None
    ) -> list[TradeRecord]:
        """Parse one exchange trade object (a user-channel ``trade`` event or a REST row) and
        journal our fills in it. Never raises: a malformed trade is counted (``malformed``)
        and logged, rate-limited. Returns the fills, for a ``PnlTracker``."""
        try:
            fills = fills_from_trade(raw, source=source, seen_at=self._clock() if seen_at is None else seen_at)
        except WireError as exc:
            now = time.monotonic()
            with self._state_lock:
                self.malformed += 1
                quiet = now - self._last_malformed_log < _DROP_LOG_EVERY
                if not quiet:
                    self._last_malformed_log = now
            if not quiet:
                log.warning("journal skipped a malformed trade (%d so far): %s", self.malformed, exc)
            return []
        self.record_trades(fills)
        return fills

    def record_action(
        self,
        name: str,
        condition_id: str,
        action: Action | str,
        order_id: str,
        token_id: str,
        side: str,
        price: Decimal | None,
        size: Decimal | None,
        reason_code: str,
        message: str,
        at: float | None = None,
    ) -> bool:
        return self._offer(
            ActionRecord(
                name=name,
                condition_id=condition_id,
                action=Action(action),
                order_id=order_id,
                token_id=token_id,
                side=side,
                price=price,
                size=size,
                reason_code=str(reason_code),
                message=message[:500],
                at=self._clock() if at is None else at,
            )
        )

    def record_mid(self, condition_id: str, token_id: str, mid: Decimal, at: float | None = None) -> bool:
        return self._offer(MidSample(condition_id, token_id, mid, self._clock() if at is None else at))

    def record_market(self, name: str, condition_id: str, quoted_token: str, other_token: str) -> bool:
        return self._offer(MarketRecord(name, condition_id, quoted_token, other_token))

    def prune_mids(self, before: float) -> bool:
        """Forget mids older than ``before`` except near fills (markouts keep working); call it daily or so."""
        return self._offer(MidPrune(before))

    def _offer(self, item: Item) -> bool:
        if self._closed:
            return False
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self._note_drop(item)
            return False

    def _note_drop(self, item: Item) -> None:
        now = time.monotonic()
        with self._state_lock:
            self.dropped += 1
            if isinstance(item, TradeRecord):
                when = item.match_time if item.match_time is not None else item.seen_at
                self.gap_since = when if self.gap_since is None else min(self.gap_since, when)
            if now - self._last_drop_log < _DROP_LOG_EVERY:
                return
            self._last_drop_log = now
            dropped = self.dropped
        log.error("journal queue full: %d records dropped so far (a backfill recovers dropped trades)", dropped)

    # ------------------------------------------------------------------ blocking helpers (startup, shutdown)

    def write_trades(self, trades: Iterable[TradeRecord], timeout: float = 30.0) -> bool:
        """Journal ``trades`` and wait until they are committed (backfill uses this, not the hot path)."""
        deadline = time.monotonic() + timeout
        for trade in trades:
            if trade.match_time is not None:
                with self._state_lock:
                    if self._last_match_time is None or trade.match_time > self._last_match_time:
                        self._last_match_time = trade.match_time
            try:
                self._queue.put(trade, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                return False
        return self.flush(max(0.0, deadline - time.monotonic()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        if self._closed or not self._thread.is_alive():
            return False
        marker = _Flush(threading.Event())
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, stop and join the writer within ``timeout`` in all; True when everything queued was written.

        Whatever is still queued at the deadline is lost to this process (not to the account:
        the next start's backfill reads those trades again)."""
        if self._closed:
            return True
        deadline = time.monotonic() + timeout
        flushed = self.flush(timeout)
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
        self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._read_lock:
            self._reader.close()
        return flushed and not self._thread.is_alive()

    # ------------------------------------------------------------------ reading

    def last_trade_time(self) -> float | None:
        """The exchange match time of the newest trade journaled (or queued): where a backfill starts."""
        with self._state_lock:
            return self._last_match_time

    def oldest_unsettled_time(self, not_before: float) -> float | None:
        with self._read_lock:
            return self._reader.oldest_unsettled_match_time(not_before)

    def fills(self, since: float | None = None) -> list[Fill]:
        with self._read_lock:
            return self._reader.fills(since)

    def actions(self, since: float | None = None) -> list[ActionRecord]:
        with self._read_lock:
            return self._reader.actions(since)

    def mids(self, since: float | None = None) -> list[MidSample]:
        with self._read_lock:
            return self._reader.mids(since)

    def markets(self) -> list[MarketRecord]:
        with self._read_lock:
            return self._reader.markets()

    def action_names(self) -> dict[str, str]:
        with self._read_lock:
            return self._reader.action_names()

    def action_counts(self, since: float | None = None) -> list[tuple[str, str, str, int]]:
        with self._read_lock:
            return self._reader.action_counts(since)

    def clear_gap(self, expected: float) -> None:
        """Forget the dropped-trade mark if it is still ``expected`` (a backfill covered it)."""
        with self._state_lock:
            if self.gap_since == expected:
                self.gap_since = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------------ the writer thread

    def _run(self, store: Store) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch: list[Item | _Flush] = [first]
                while len(batch) < _BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        store = self._commit(store, batch)
                        return
                    batch.append(item)
                store = self._commit(store, batch)
        finally:
            store.close()

    def _commit(self, store: Store, batch: list[Item | _Flush]) -> Store:
        items = [b for b in batch if not isinstance(b, _Flush)]
        for attempt in range(3):
            try:
                store.write(items, self._clock())
                self.written += len(items)
                break
            except JournalError as exc:
                self.write_errors += 1
                log.error("journal write failed (attempt %d of 3): %s", attempt + 1, exc)
                if attempt == 2:
                    self._lost(items)
                    break
                time.sleep(0.2 * (attempt + 1))  # a locked or restarting database: brief, bounded retry
                store = self._reconnect(store)
        for b in batch:
            if isinstance(b, _Flush):
                b.done.set()
        return store

    def _reconnect(self, store: Store) -> Store:
        """A fresh connection after a failed write (a PostgreSQL restart drops the old one)."""
        if store.dialect == "sqlite":
            return store
        try:
            fresh = self._opener()
        except JournalError as exc:
            log.error("journal reconnect failed: %s", exc)
            return store
        store.close()
        return fresh

    def _lost(self, items: list[Item]) -> None:
        trades = [i for i in items if isinstance(i, TradeRecord)]
        with self._state_lock:
            self.dropped += len(items)
            for t in trades:
                when = t.match_time if t.match_time is not None else t.seen_at
                self.gap_since = when if self.gap_since is None else min(self.gap_since, when)
