"""Health bookkeeping for the WebSocket feeds: rejected-frame counts and their log summary.

A hostile or broken peer can send thousands of bad frames a second; logging each one
would flood the logs and slow the stream thread. :class:`RejectCounter` counts every
reject by reason (metrics read :meth:`RejectCounter.totals`) and emits at most one
WARNING summary per interval. Pure bookkeeping with an injected clock and logger
call; it may not touch sockets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from controller.ops.redact import scrub
from controller.venue.wire_ws import Reject, RejectReason

log = logging.getLogger("bandctl.streams")


class RejectCounter:
    """Counts rejected frames/events of one channel; summarises them at most every ``interval`` s."""

    def __init__(
        self,
        channel: str,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.channel = channel
        self.interval = interval
        self._clock = clock
        self._emit = emit or (lambda line: log.warning("%s", line))
        self._lock = threading.Lock()
        self._totals: Counter[RejectReason] = Counter()
        self._pending: Counter[RejectReason] = Counter()
        self._last: Reject | None = None
        self._last_summary = clock() - interval  # the first reject is reported at once

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._totals.values())

    def totals(self) -> dict[str, int]:
        """Rejects since start, by reason code (for metrics)."""
        with self._lock:
            return {reason.value: count for reason, count in self._totals.items()}

    def add(self, rejects: tuple[Reject, ...]) -> None:
        if not rejects:
            return
        with self._lock:
            for reject in rejects:
                self._totals[reject.reason] += 1
                self._pending[reject.reason] += 1
            self._last = rejects[-1]
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Emit the summary line if one is due (or ``force``) and something is pending."""
        with self._lock:
            now = self._clock()
            if not self._pending or (not force and now - self._last_summary < self.interval):
                return
            counts = ", ".join(f"{reason.value}={n}" for reason, n in sorted(self._pending.items(), key=_by_name))
            count = sum(self._pending.values())
            last = self._last
            self._pending.clear()
            self._last_summary = now
        detail = f"; last: {last.detail}" if last is not None and last.detail else ""
        # A hostile peer could echo our credentials back inside a field we quote.
        self._emit(scrub(f"{self.channel} channel: dropped {count} bad message(s) ({counts}){detail}"))


def _by_name(item: tuple[RejectReason, int]) -> str:
    return item[0].value
