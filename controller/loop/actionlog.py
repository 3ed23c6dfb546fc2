"""Order-action log lines (and the condition changes they cause, so that those print after
them), written by a thread of their own while the reconcilers run.

Why: ``execute`` logs a line per order action on the reconcile worker, and a log handler
may block (a full stderr pipe, a slow terminal, a JSON formatter walking the extras):
that time came straight out of the next requote. While started, lines go into a bounded
queue and one thread per reconciler (started and joined with its workers) hands them to
the logger; when the queue is full a line is
dropped and counted, never waited for. Not started (one-shot ``apply``, unit tests), a
line is logged at once on the caller's thread. It formats nothing itself and decides
nothing; warnings and errors elsewhere keep logging directly.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

CAPACITY = 10_000

_Line = tuple[logging.Logger, int, str, tuple[Any, ...], dict[str, Any] | None]


class ActionLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._queue: queue.Queue[_Line | None] = queue.Queue(maxsize=capacity + 1)  # + the stop marker
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def log(
        self, logger: logging.Logger, level: int, msg: str, *args: Any, extra: dict[str, Any] | None = None
    ) -> None:
        if not logger.isEnabledFor(level):
            return
        with self._lock:  # never queued behind the stop marker
            if self._thread is not None:
                if self._queue.qsize() < self._capacity:
                    self._queue.put_nowait((logger, level, msg, args, extra))
                else:
                    self.dropped += 1
                return
        logger.log(level, msg, *args, extra=extra)

    def start(self) -> None:
        """Start the writer thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="action-log", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end and join the thread; later lines are logged at once."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)  # the queue holds at most CAPACITY lines: room is kept below
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            logger, level, msg, args, extra = line
            try:
                logger.log(level, msg, *args, extra=extra)
            except Exception:  # a broken handler must not end the writer
                with self._lock:
                    self.dropped += 1
