"""Matching-engine restarts: a window of HTTP 425, then a post-only window (protocol notes §5.8, §8).

Production restarts weekly (about 90 s of 425 on the order endpoints, then about two
minutes in which only post-only orders and cancels are accepted). Windows come from the
optional weekly schedule in the config (UTC) and from ``POST /admin/faults``
``{"engineRestart": {...}}``. Pure over the engine clock: ``phase(now)`` decides.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

WEEK = 7 * 24 * 3600
# 1970-01-01 was a Thursday: weekday w (Monday = 0) starts (w - 3) days after the epoch, mod 7.
_EPOCH_WEEKDAY = 3

ERR_POST_ONLY_MODE = "post-only mode: only post-only orders and cancels are allowed"


class Phase(enum.Enum):
    NORMAL = "normal"
    UNAVAILABLE = "unavailable"  # HTTP 425 on the order endpoints
    POST_ONLY = "post-only"  # only post-only orders (and cancels) are accepted


@dataclass(frozen=True)
class Window:
    start: float
    unavailable: float
    post_only: float

    def phase(self, now: float) -> tuple[Phase, float]:
        """(phase, seconds until it ends) at ``now``."""
        t = now - self.start
        if 0 <= t < self.unavailable:
            return Phase.UNAVAILABLE, self.unavailable - t
        if self.unavailable <= t < self.unavailable + self.post_only:
            return Phase.POST_ONLY, self.unavailable + self.post_only - t
        return Phase.NORMAL, 0.0


@dataclass(frozen=True)
class WeeklySchedule:
    weekday: int  # Monday = 0 ... Sunday = 6
    second_of_day: int  # UTC
    unavailable: float
    post_only: float

    def window_at(self, now: float) -> Window:
        """The most recent scheduled window starting at or before ``now``."""
        offset = ((self.weekday - _EPOCH_WEEKDAY) % 7) * 86400 + self.second_of_day
        start = math.floor((now - offset) / WEEK) * WEEK + offset
        return Window(start, self.unavailable, self.post_only)


class EngineRestarts:
    def __init__(self, weekly: WeeklySchedule | None = None) -> None:
        self.weekly = weekly
        self.manual: Window | None = None

    def schedule(self, now: float, unavailable: float, post_only: float, start_in: float = 0.0) -> Window:
        self.manual = Window(now + start_in, unavailable, post_only)
        return self.manual

    def phase(self, now: float) -> tuple[Phase, float]:
        for window in (self.manual, self.weekly.window_at(now) if self.weekly else None):
            if window is not None:
                phase, left = window.phase(now)
                if phase is not Phase.NORMAL:
                    return phase, left
        return Phase.NORMAL, 0.0

    def snapshot(self, now: float) -> dict[str, object]:
        phase, left = self.phase(now)
        return {"phase": phase.value, "secondsLeft": round(left, 3)}
