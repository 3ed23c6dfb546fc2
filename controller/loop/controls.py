"""What an operator (or a risk rule) does to the loop: halt, resume, and the holds' effects.

``bandctl halt`` must mean "no orders of mine on the book, now": the hold goes in, the
held manifests are requeued (their plans pull every order), and the call waits until
the exchange confirms the orders gone. ``resume`` lifts the hold and requeues. A hold
that expires by itself (a sharp move's pause) requeues its manifests when it ends, so
quoting comes back without anyone's help.

It sends nothing to the exchange itself: the reconciler's plans do the cancelling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from controller.loop.holds import ALL, Holds
from controller.loop.reconciler import Reconciler
from controller.loop.threads import Threads
from controller.observe.state import Hold
from controller.ops.metrics import Metrics

log = logging.getLogger("bandctl")


class Controls:
    def __init__(
        self,
        holds: Holds,
        reconciler: Reconciler,
        metrics: Metrics,
        threads: Threads,
        resync: Callable[[], object],
        now: Callable[[], datetime],
    ) -> None:
        self.holds, self.reconciler, self.metrics = holds, reconciler, metrics
        self.threads, self.resync, self.now = threads, resync, now
        self._wake = threading.Event()

    def on_hold(self, name: str, hold: Hold) -> None:
        """A risk rule put a hold: requeue what it holds, and look again when it ends."""
        self.metrics.hold(name, hold.reason)
        self._requeue(name)
        if hold.until is not None:
            delay = max(0.0, (hold.until - self.now()).total_seconds()) + 0.05
            for spec_name in self._names(name):
                self.reconciler.queue.add_after(spec_name, delay)

    def halt(self, name: str | None, timeout: float = 10.0) -> tuple[list[str], int]:
        """Hold ``name`` (None: every manifest), and wait until the exchange has confirmed its
        orders gone; returns (manifests held, orders still open). KeyError: no such manifest."""
        names = self._names(name)
        if name is not None and not names:
            raise KeyError(name)
        key = name or ALL
        self.holds.put(key, Hold("Halted", "halted by an operator (bandctl halt)"))
        log.warning("%s halted by an operator", "every manifest" if key == ALL else key)
        self.metrics.hold(key, "Halted")
        self._requeue(key)
        specs = self.reconciler.specs()
        markets = {specs[n].market.condition_id for n in names}
        deadline = time.monotonic() + timeout
        left = self._open_in(markets)
        while left and time.monotonic() < deadline:
            self.threads.spawn("halt-check", self.resync)  # confirm from REST, not only from our own view
            self._wake.wait(0.2)
            left = self._open_in(markets)
        return names, left

    def resume(self, name: str | None) -> list[str]:
        """Lift the holds on ``name`` (None: every hold, loss limits included)."""
        lifted = self.holds.clear(name)
        for key in lifted:
            log.info("%s resumed by an operator", "every manifest" if key == ALL else key)
            self.metrics.hold(key, None)
        self._requeue(ALL if name is None else name)
        return lifted

    def _names(self, name: str | None) -> list[str]:
        specs = self.reconciler.specs()
        return list(specs) if name in (None, ALL) else [n for n in specs if n == name]

    def _requeue(self, name: str) -> None:
        for spec_name in self._names(name):
            self.reconciler.queue.add(spec_name)

    def _open_in(self, markets: set[str]) -> int:
        return sum(1 for o in self.reconciler.owned_orders() if o.market in markets)
