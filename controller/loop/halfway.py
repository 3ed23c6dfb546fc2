"""Does a plan look like it was made on another maker's re-quote caught halfway?

A re-quote reaches us as a burst of book messages: stale quotes cancelled first (which
can leave the book one-sided or crossed), new ones after. A plan on the first of them
either pulls every quote (no reference price) or moves every quote by the jump, and the
next plan, on the settled book, undoes much of it. The reconciler asks this after
planning and, when it says yes, lets the stream settle and plans again. Pure
bookkeeping of the last reference price per manifest, under a lock; it sends nothing.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from controller.plan.bands import MarketPlan
from controller.plan.reasons import PullReason

# A reference price this many ticks from the last plan's is a jump, not a step.
JUMP_TICKS = 3


class Halfway:
    def __init__(self, jump_ticks: int = JUMP_TICKS) -> None:
        self._jump_ticks = jump_ticks
        self._lock = threading.Lock()
        self._last: dict[str, Decimal | None] = {}  # manifest name -> last plan's reference price

    def suspect(self, name: str, plan: MarketPlan) -> bool:
        """A pull for want of a reference price, or a jump of the reference price."""
        if plan.pull_reason is PullReason.NO_REFERENCE_PRICE:
            return True
        with self._lock:
            before = self._last.get(name)
        now, tick = plan.reference_price, plan.tick_size
        return (
            before is not None and now is not None and tick is not None and abs(now - before) >= self._jump_ticks * tick
        )

    def remember(self, name: str, plan: MarketPlan) -> None:
        with self._lock:
            self._last[name] = plan.reference_price
