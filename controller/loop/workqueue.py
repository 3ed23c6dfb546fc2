"""A de-duplicating, coalescing work queue of keys, after controller-runtime's workqueue.

It exists so that a burst of events for one market costs at most one reconcile in
flight plus one queued, so that failures back off per key without a worker sleeping,
and so that liveness ("is due work being picked up?") can be read off one place.

The contract:

* :meth:`get` blocks until a key is ready and returns ``None`` **only** after
  :meth:`shutdown`; a worker may treat ``None`` as "exit".
* A key is handed to at most one worker at a time. Adding a key that is queued is a
  no-op; adding one that is being processed marks it dirty, and it is queued again
  when the worker calls :meth:`done`.
* :meth:`add_after` schedules a key later; :meth:`add_rate_limited` schedules it after
  its own exponential backoff (bounded, so it never overflows), and :meth:`forget`
  resets that backoff after a success.

It knows nothing about markets or reconciles, and it never sleeps on the caller's
behalf except inside :meth:`get`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

# 2 ** 32 * anything sensible is far beyond any cap; the exponent stops growing here.
_MAX_BACKOFF_EXPONENT = 32


class WorkQueue:
    """Keys to reconcile, each handed to one worker at a time (see the module docstring)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self._clock = clock
        self.backoff_initial, self.backoff_cap = backoff_initial, backoff_cap
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._ready_since: dict[str, float] = {}  # queued key -> when it became ready
        self._processing: dict[str, float] = {}  # key -> when a worker took it
        self._dirty: set[str] = set()
        self._covered: set[str] = set()  # dirty only by coalescible adds
        self._delayed: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._failures: dict[str, int] = {}
        self._last_progress = clock()
        self._shutdown = False
        self.adds = 0

    # -- adding ----------------------------------------------------------------------

    def add(self, key: str, *, coalescible: bool = False) -> None:
        """Queue ``key``. ``coalescible``: the caller changed the state before adding (a stream
        event), so a worker about to read the state covers it (:meth:`clear_dirty`)."""
        with self._cond:
            self.adds += 1
            if not self._shutdown and self._make_ready(key, self._clock(), coalescible):
                self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: str, at_least: float = 0.0) -> float:
        """Queue ``key`` after its next backoff step (or ``at_least``); returns the delay."""
        with self._cond:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
        exponent = min(failures - 1, _MAX_BACKOFF_EXPONENT)
        delay = max(at_least, min(self.backoff_cap, self.backoff_initial * 2.0**exponent))
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        """A success: the key's next failure starts its backoff from the beginning."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # -- taking ----------------------------------------------------------------------

    def get(self) -> str | None:
        """The next ready key, blocking until there is one; ``None`` only after shutdown."""
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                key = self._take(self._clock())
                if key is not None:
                    return key
                self._cond.wait(self._until_next_due())

    def try_get(self) -> str | None:
        """The next ready key without waiting, or ``None`` when none is ready."""
        with self._cond:
            return None if self._shutdown else self._take(self._clock())

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.pop(key, None)
            self._last_progress = self._clock()
            if key in self._dirty or key in self._covered:
                self._dirty.discard(key)
                self._covered.discard(key)
                if not self._shutdown and self._make_ready(key, self._clock()):
                    self._cond.notify()

    def clear_dirty(self, key: str) -> None:
        """The worker holding ``key`` is about to read the whole state: the coalescible adds
        so far are covered (their callers changed the state first, so it is in what the worker
        reads next); a later add marks the key again. Plain adds always run the key again."""
        with self._cond:
            self._covered.discard(key)

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    # -- looking ---------------------------------------------------------------------

    def __len__(self) -> int:
        with self._cond:
            self._promote_due(self._clock())
            return len(self._queue)

    def idle(self) -> bool:
        with self._cond:
            self._promote_due(self._clock())
            return not self._queue and not self._processing

    def stalled_for(self) -> float:
        """How long due work has gone without progress (0 when there is none).

        Two ways to stall: ready keys that no worker has taken (measured from the later of
        the oldest one's arrival and the last take or done, so a long backlog that is being
        worked through does not count), and a key stuck in a worker (measured from when it
        was taken: one hung worker starves its market even while the others go on).
        """
        with self._cond:
            now = self._clock()
            self._promote_due(now)
            waiting = 0.0
            if self._ready_since:
                waiting = now - max(min(self._ready_since.values()), self._last_progress)
            hung = now - min(self._processing.values(), default=now)
            return max(0.0, waiting, hung)

    # -- internals (under the condition's lock) ----------------------------------------

    def _make_ready(self, key: str, now: float, coalescible: bool = False) -> bool:
        """Queue ``key`` unless it is queued or in a worker (then: dirty). True if queued."""
        if key in self._processing:
            (self._covered if coalescible else self._dirty).add(key)
            return False
        if key in self._ready_since:
            return False
        self._ready_since[key] = now
        self._queue.append(key)
        return True

    def _take(self, now: float) -> str | None:
        self._promote_due(now)
        if not self._queue:
            return None
        key = self._queue.popleft()
        del self._ready_since[key]
        self._processing[key] = self._last_progress = now
        return key

    def _promote_due(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key = heapq.heappop(self._delayed)
            self._make_ready(key, due)

    def _until_next_due(self) -> float | None:
        if not self._delayed:
            return None
        return max(0.0, self._delayed[0][0] - self._clock())
