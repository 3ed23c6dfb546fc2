"""A de-duplicating, coalescing work queue of keys (controller-runtime's workqueue)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class WorkQueue:
    """A de-duplicating queue of keys, as in controller-runtime.

    * A key is handed to at most one worker at a time.
    * Adding a key that is queued is a no-op; adding one that is being processed
      marks it dirty, and it is queued again when the worker calls :meth:`done`.
      So a burst of N events for one key costs at most one reconcile in flight plus
      one queued.
    * :meth:`add_after` schedules a key later (backoff, periodic work).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: list[str] = []
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._delayed: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._shutdown = False
        self.adds = 0

    def add(self, key: str) -> None:
        with self._cond:
            self.adds += 1
            if self._shutdown:
                return
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        """The next key to process, or None on shutdown / timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due()
                if self._shutdown:
                    return None
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                wait = self._next_wait(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def idle(self) -> bool:
        with self._cond:
            self._promote_due()
            return not self._queue and not self._processing

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)

    def _next_wait(self, deadline: float | None) -> float | None:
        now = self._clock()
        candidates = []
        if self._delayed:
            candidates.append(self._delayed[0][0] - now)
        if deadline is not None:
            candidates.append(deadline - now)
        return max(0.0, min(candidates)) if candidates else None
