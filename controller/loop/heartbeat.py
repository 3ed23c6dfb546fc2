"""The exchange heartbeat: the dead man's switch that cancels our orders if we go quiet.

Polymarket cancels every order on the credentials when no heartbeat arrives for about
10 s (plus a few seconds' grace). Two rules follow:

* One failed or slow beat must not cost the book: beats go often (every 2.5 s by
  default) and a failed one is retried at once, a few times, while there is still
  time before the exchange's deadline.
* A controller that has stopped reconciling must not keep stale orders alive: when the
  loop is stalled (due work untouched for longer than the liveness bound), the beat is
  withheld on purpose, and the exchange cancels for us.

This module decides only whether and when to beat; the venue sends it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.venue.client import Ambiguous, VenueError

log = logging.getLogger("bandctl.heartbeat")

# The exchange's documented deadline: orders go after this long without a heartbeat.
EXCHANGE_DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class HeartbeatPolicy:
    interval: float = 2.5
    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)
    # A stalled loop (due work untouched this long) withholds the beat.
    liveness_seconds: float = 20.0


class Heartbeat:
    """Sends beats through ``send``; knows the age of the last good one."""

    def __init__(
        self,
        send: Callable[[], object],
        stalled_for: Callable[[], float],
        policy: HeartbeatPolicy = HeartbeatPolicy(),
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        on_success: Callable[[], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._send = send
        self._stalled_for = stalled_for
        self.policy = policy
        self._clock = clock
        self._stop = threading.Event()
        # ``wait`` returns True when the heartbeat is being stopped (it is Event.wait).
        self._wait = wait or self._stop.wait
        self._on_success = on_success
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._last_success: float | None = None
        self._withholding = False
        self.failures = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Beat every ``interval`` until stopped. A beat whose answer came late is followed at
        once by the next: the exchange counts a beat when it arrives, so waiting for the next
        slot of a fixed grid after a slow answer could miss its deadline."""
        while not self._stop.is_set():
            started = self._clock()
            try:
                self.beat()
            except Exception:  # a bug here must not end the beating (the book would go)
                log.exception("heartbeat failed unexpectedly")
            if self._wait(max(0.0, started + self.policy.interval - self._clock())):
                return

    def age(self) -> float | None:
        """Seconds since the last beat the exchange accepted (None before the first)."""
        with self._lock:
            return None if self._last_success is None else self._clock() - self._last_success

    @property
    def withholding(self) -> bool:
        with self._lock:
            return self._withholding

    def beat(self) -> bool:
        """One scheduled beat, with retries; True when the exchange accepted it."""
        stalled = self._stalled_for()
        withhold = stalled > self.policy.liveness_seconds
        with self._lock:
            changed, self._withholding = self._withholding != withhold, withhold
        if withhold:
            if changed:
                log.error(
                    "reconcile loop stalled for %.0fs: withholding the exchange heartbeat so that "
                    "the exchange cancels our orders",
                    stalled,
                )
            return False
        if changed:
            log.info("reconcile loop making progress again: heartbeats resume")
        for attempt, delay in enumerate((0.0, *self.policy.retry_delays)):
            if delay and self._wait(delay):
                break  # stopping
            try:
                self._send()
            except (VenueError, Ambiguous) as exc:
                self.failures += 1
                if self._on_failure is not None:
                    self._on_failure(type(exc).__name__)
                log.debug("heartbeat attempt %d failed: %s", attempt + 1, f"{exc}"[:200])
                continue
            with self._lock:
                self._last_success = self._clock()
            if self._on_success is not None:
                self._on_success()
            return True
        log.warning("exchange heartbeat failed after retries (last good %s ago)", _age_text(self.age()))
        return False


def _age_text(age: float | None) -> str:
    return "never" if age is None else f"{age:.1f}s"
