"""Order-action log lines, written by a thread of their own while the reconcilers run.

Why: ``execute`` logs a line per order action on the reconcile worker, and a log handler
may block (a full stderr pipe, a slow terminal, a JSON formatter walking the extras):
that time came straight out of the next requote. While started, lines go into a bounded
queue and one tracked thread hands them to the logger; when the queue is full a line is
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
        self._queue: queue.Queue[_Line | None] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._users = 0
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def log(
        self, logger: logging.Logger, level: int, msg: str, *args: Any, extra: dict[str, Any] | None = None
    ) -> None:
        if not logger.isEnabledFor(level):
            return
        if self._thread is None:
            logger.log(level, msg, *args, extra=extra)
            return
        try:
            self._queue.put_nowait((logger, level, msg, args, extra))
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def start(self) -> None:
        """One more user (a started reconciler); the first starts the writer thread."""
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="action-log", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """One user fewer; the last one flushes what is queued and joins the thread."""
        with self._lock:
            self._users = max(0, self._users - 1)
            thread = self._thread if self._users == 0 else None
            if thread is not None:
                self._thread = None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while (line := self._queue.get()) is not None:
            logger, level, msg, args, extra = line
            try:
                logger.log(level, msg, *args, extra=extra)
            except Exception:  # a broken handler must not end the writer
                with self._lock:
                    self.dropped += 1


ACTIONS = ActionLog()
