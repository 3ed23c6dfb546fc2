"""Risk rules that watch the market and the account over time, and put holds when breached.

Two rules need history, so they live here rather than in the (stateless) planner:

* ``risk.pullOnMove``: the reference price of a manifest moved more than ``move``
  within ``within`` -> a ``SharpMove`` hold for ``pauseFor`` (then quoting resumes).
* ``risk.maxLoss`` (per manifest) and the account-wide limit: realized plus unrealized
  PnL over the trailing ``window`` at or below ``-amount`` -> a ``LossLimit`` hold that
  only ``bandctl resume`` clears.

PnL comes from a callable (the fill journal), so this module does no I/O and can be
tested with a clock and numbers. It puts holds and says which manifests to requeue; it
never cancels or places anything itself.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from controller.loop.holds import ALL, Holds
from controller.observe.state import Hold
from controller.spec.types import MarketMakerSpec

log = logging.getLogger("bandctl.risk")

# (manifest name or None for the account, window) -> realized + unrealized PnL over it.
PnlOf = Callable[[str | None, timedelta], Decimal | None]


@dataclass(frozen=True)
class AccountLossLimit:
    amount: Decimal
    window: timedelta


class RiskGuard:
    def __init__(self, holds: Holds, *, on_hold: Callable[[str, Hold], None] | None = None) -> None:
        self.holds = holds
        self.on_hold = on_hold
        self._lock = threading.Lock()
        self._references: dict[str, deque[tuple[datetime, Decimal]]] = {}

    # -- sharp moves ---------------------------------------------------------------------

    def observe_reference(self, spec: MarketMakerSpec, price: Decimal | None, now: datetime) -> Hold | None:
        """Feed one reading of a manifest's reference price; returns the hold it put, if any."""
        rule = spec.risk.pull_on_move
        if rule is None or price is None:
            return None
        with self._lock:
            history = self._references.setdefault(spec.name, deque())
            history.append((now, price))
            while history and now - history[0][0] > rule.within:
                history.popleft()
            low = min(p for _, p in history)
            high = max(p for _, p in history)
        if high - low <= rule.move:
            return None
        why = f"the reference moved {high - low} (more than {rule.move}) within {rule.within}"
        hold = Hold("SharpMove", f"{why}; paused for {rule.pause_for}", until=now + rule.pause_for)
        current = self.holds.get(spec.name)
        if current is not None and current.reason != "SharpMove":
            return None  # a halt or a loss limit already holds it, and outranks a pause
        with self._lock:
            self._references[spec.name] = deque([(now, price)])  # measure afresh after the pause
        return self._put(spec.name, hold)

    # -- loss limits ---------------------------------------------------------------------

    def check_losses(
        self,
        specs: Iterable[MarketMakerSpec],
        pnl_of: PnlOf,
        now: datetime,
        account: AccountLossLimit | None = None,
    ) -> list[str]:
        """Put a LossLimit hold on every manifest (or the account) past its limit; returns the keys held."""
        held = []
        for spec in specs:
            limit = spec.risk.max_loss
            if limit is None or self._already_limited(spec.name):
                continue
            pnl = pnl_of(spec.name, limit.window)
            if pnl is not None and pnl <= -limit.amount:
                why = f"loss {-pnl} over the last {limit.window} reached risk.maxLoss {limit.amount}"
                if self._put(spec.name, Hold("LossLimit", why)) is not None:
                    held.append(spec.name)
        if account is not None and not self._already_limited(ALL):
            pnl = pnl_of(None, account.window)
            if pnl is not None and pnl <= -account.amount:
                why = f"account loss {-pnl} over the last {account.window} reached the limit {account.amount}"
                if self._put(ALL, Hold("LossLimit", why)) is not None:
                    held.append(ALL)
        return held

    def _already_limited(self, name: str) -> bool:
        hold = self.holds.get(name)
        return hold is not None and hold.reason in ("LossLimit", "Halted")

    def _put(self, name: str, hold: Hold) -> Hold | None:
        if not self.holds.put(name, hold):
            return None
        level = logging.ERROR if hold.reason == "LossLimit" else logging.WARNING
        log.log(level, "%s: %s: %s", "every market" if name == ALL else name, hold.reason, hold.message)
        if self.on_hold is not None:
            self.on_hold(name, hold)
        return hold
