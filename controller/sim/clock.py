"""Injectable clocks: the emulator's notion of "now" (unix seconds, float)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class RealClock:
    manual = False

    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time moves only when told to: tests advance expiry, heartbeats and flow explicitly."""

    manual = True

    def __init__(self, start: float | None = None) -> None:
        self._t = float(int(time.time()) if start is None else start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._t += seconds
            return self._t

    def set(self, t: float) -> None:
        with self._lock:
            if t < self._t:
                raise ValueError("time only moves forward")
            self._t = float(t)
