"""Reconcile workers that cannot die silently.

A worker takes keys from the :class:`~controller.loop.workqueue.WorkQueue` and hands each
to a handler. The only way a worker ends on purpose is the queue's shutdown (``get()``
returns ``None``). Any other exit, an exception escaping the handler included, is a bug:
the key is given back to the queue, the worker is started again, and the restart is
counted and logged as an error, so a metric and an alert see it.

This module runs threads and nothing else: what a key means is the handler's business.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controller.loop.workqueue import WorkQueue

log = logging.getLogger("bandctl.workers")

Handler = Callable[[str], None]


class WorkerPool:
    """``size`` supervised threads feeding keys from ``queue`` to ``handler``."""

    def __init__(
        self,
        queue: WorkQueue,
        handler: Handler,
        *,
        size: int = 2,
        name: str = "reconcile",
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.size = size
        self.name = name
        self.on_restart = on_restart
        self.restarts = 0
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._stopping = threading.Event()

    def start(self) -> None:
        for slot in range(self.size):
            self._spawn(slot)

    def stop(self, timeout: float = 10.0) -> bool:
        """Shut the queue down and join every worker; True if all of them ended in time."""
        self._stopping.set()
        self.queue.shutdown()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return all(not t.is_alive() for t in threads)

    def alive(self) -> int:
        with self._lock:
            return sum(1 for t in self._threads.values() if t.is_alive())

    # -- internals ---------------------------------------------------------------------

    def _spawn(self, slot: int) -> None:
        thread = threading.Thread(target=self._run, args=(slot,), name=f"{self.name}-{slot}", daemon=True)
        with self._lock:
            self._threads[slot] = thread
        thread.start()

    def _run(self, slot: int) -> None:
        key: str | None = None
        try:
            while (key := self.queue.get()) is not None:
                try:
                    self.handler(key)
                finally:
                    self.queue.done(key)
                key = None
            return  # the queue was shut down: the one way out
        except BaseException as exc:  # a worker must never vanish unnoticed
            reason = f"{type(exc).__name__}: {exc}"
            if key is not None:
                self.queue.add_rate_limited(key)
        else:  # pragma: no cover - the loop above only ends by returning
            reason = "left its loop"
        if self._stopping.is_set():
            return
        self._spawn(slot)  # first, so the slot is never without a live worker once counted
        log.error("%s worker %d died (%s); restarted it", self.name, slot, reason[:300])
        if self.on_restart is not None:
            try:
                self.on_restart(reason)
            except Exception:
                log.exception("worker restart hook failed")
        with self._lock:  # last: a restart that is counted has already been reported (metrics)
            self.restarts += 1
