"""Cheap mid sampling for markouts: at most one journaled mid per market a second.

The loop calls :meth:`MidSampler.observe` whenever it knows a market's mid (every
reconcile is fine): a dictionary lookup decides whether the journal gets a sample — when
``min_interval`` has passed and the mid changed, or when ``heartbeat`` has passed anyway
(so a quiet market still proves its mid was known; markouts treat older samples as
unknown). Decides nothing else and never blocks (the journal's record calls do not).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol


class MidRecorder(Protocol):
    def record_mid(self, condition_id: str, token_id: str, mid: Decimal, at: float | None = None) -> bool: ...


class MidSampler:
    def __init__(
        self,
        journal: MidRecorder,
        *,
        min_interval: float = 1.0,
        heartbeat: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._journal = journal
        self._min_interval = min_interval
        self._heartbeat = heartbeat
        self._clock = clock
        self._last: dict[str, tuple[float, Decimal]] = {}

    def observe(self, condition_id: str, token_id: str, mid: Decimal | None, at: float | None = None) -> bool:
        """Offer the current mid of ``token_id``; True when a sample was journaled."""
        if mid is None:
            return False
        now = self._clock() if at is None else at
        last = self._last.get(condition_id)
        if last is not None:
            elapsed = now - last[0]
            if elapsed < self._min_interval or (mid == last[1] and elapsed < self._heartbeat):
                return False
        self._last[condition_id] = (now, mid)
        return self._journal.record_mid(condition_id, token_id, mid, now)
