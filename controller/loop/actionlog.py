"""Order-action log lines (and the condition changes they cause, so that those print after
them), written by a thread of their own while the reconcilers run.

Why: ``execute`` logs a line per order action on the reconcile worker, and a log handler
may block (a full stderr pipe, a slow terminal, a JSON formatter walking the extras):
that time came straight out of the next requote. While started, lines go into a bounded
queue and one thread per reconciler (started and joined with its workers) hands them to
the logger; when the queue is full a line is dropped and counted, never waited for. Not
started (one-shot ``apply``, unit tests), a line is logged at once on the caller's thread.

A condition that turns False and back within seconds (a band short until a cancel is
confirmed, a book one-sided for a moment) is not news: such a line is *held* for
``hold_seconds`` under its key and dropped if its reversal comes first (counted for
``take_brief``; the reversal is dropped too when it is what the log last said for that
key), printed when the hold ends otherwise, and at stop. ``/status`` and the metrics
are not held; only the log line waits.

It formats nothing itself and decides nothing; warnings and errors elsewhere keep
logging directly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

CAPACITY = 10_000
HOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Line:
    logger: logging.Logger
    level: int
    msg: str
    args: tuple[Any, ...]
    extra: dict[str, Any] | None = None
    key: Hashable | None = None  # lines about the same thing (a manifest's condition)
    held: bool = False  # wait hold_seconds for a reversal before printing


class Holds:
    """The held lines by key; pure (the caller passes the time)."""

    def __init__(self, hold_seconds: float) -> None:
        self.hold_seconds = hold_seconds
        self._held: dict[Hashable, tuple[float, Line]] = {}
        self._shown: dict[Hashable, tuple[str, tuple[Any, ...]]] = {}  # the last line printed per key
        self.brief = 0  # condition lines never printed: replaced or reversed within the hold

    def offer(self, line: Line, now: float) -> list[Line]:
        """The lines to print now that ``line`` has arrived."""
        if line.key is None:
            return [line]
        pending = self._held.pop(line.key, None)
        self.brief += pending is not None
        if line.held:
            # A second change within the hold replaces the first; the hold runs from the first.
            self._held[line.key] = (pending[0] if pending else now + self.hold_seconds, line)
            return []
        if pending is not None and self._shown.get(line.key) == (line.msg, line.args):
            self.brief += 1
            return []  # back to what the log last said: nothing happened, as far as it knows
        return self._show([line])

    def due(self, now: float) -> list[Line]:
        ready = [key for key, (deadline, _line) in self._held.items() if deadline <= now]
        return self._show([self._held.pop(key)[1] for key in ready])

    def _show(self, lines: list[Line]) -> list[Line]:
        for line in lines:
            if line.key is not None:
                self._shown[line.key] = (line.msg, line.args)
        return lines

    def next_deadline(self) -> float | None:
        return min((deadline for deadline, _line in self._held.values()), default=None)

    def flush(self) -> list[Line]:
        lines = [line for _deadline, line in self._held.values()]
        self._held.clear()
        return self._show(lines)


class ActionLog:
    def __init__(
        self,
        capacity: int = CAPACITY,
        hold_seconds: float = HOLD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._queue: queue.Queue[Line | None] = queue.Queue(maxsize=capacity + 1)  # + the stop marker
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._clock = clock
        self._holds = Holds(hold_seconds)
        self.dropped = 0

    def take_brief(self) -> int:
        """Condition changes reversed within the hold (never printed) since the last call."""
        with self._lock:
            brief, self._holds.brief = self._holds.brief, 0
            return brief

    def log(
        self,
        logger: logging.Logger,
        level: int,
        msg: str,
        *args: Any,
        extra: dict[str, Any] | None = None,
        key: Hashable | None = None,
        held: bool = False,
    ) -> None:
        if not logger.isEnabledFor(level):
            return
        line = Line(logger, level, msg, args, extra, key, held)
        with self._lock:  # never queued behind the stop marker
            if self._thread is not None:
                if self._queue.qsize() < self._capacity:
                    self._queue.put_nowait(line)
                else:
                    self.dropped += 1
                return
        _write(line)

    def start(self) -> None:
        """Start the writer thread (once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="action-log", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued and held, then end and join the thread; later lines are logged at once."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)  # the queue holds at most CAPACITY lines: room is kept below
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = self._holds.next_deadline()
            wait = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                line = self._queue.get(timeout=wait)
            except queue.Empty:
                line = None if deadline is None else _NOTHING
            if line is None:
                with self._lock:
                    held = self._holds.flush()
                self._write_all(held)
                return
            with self._lock:
                now = self._clock()
                ready = self._holds.due(now) + ([] if line is _NOTHING else self._holds.offer(line, now))
            self._write_all(ready)

    def _write_all(self, lines: list[Line]) -> None:
        for line in lines:
            try:
                _write(line)
            except Exception:  # a broken handler must not end the writer
                with self._lock:
                    self.dropped += 1


_NOTHING = Line(logging.getLogger(__name__), logging.NOTSET, "", ())  # a hold ended: no new line


def _write(line: Line) -> None:
    line.logger.log(line.level, line.msg, *line.args, extra=line.extra)
