"""The rewards and rebates ledger: minute samples, daily earnings, payouts at midnight UTC.

Every minute of the emulator clock (each multiple of 60 s the clock passes) every market
with a programme is sampled: each maker's score (``scoring``, the house's own liquidity
included) and the minute's share of the daily pool, ``dailyRate / 1440``, split by
normalised score (nothing is paid for a minute in which nobody scores). Maker rebates
accrue per match (``fees``). When the clock enters a new UTC day, the finished days'
earnings and rebates are credited to the makers' collateral (rounded down to a micro).

Samples see the book as it stood since the previous tick: the server samples before
flow runs. Holds accounting only: it never places, cancels or matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from .config import MICRO
from .engine import Engine
from .fees import maker_rebate
from .model import Trade
from .scoring import MakerScore, maker_scores

MINUTES_PER_DAY = 1440
MAX_REPLAYED_MINUTES = 7 * MINUTES_PER_DAY  # a larger clock jump samples its last week only


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass
class Sample:
    """The newest sample of one market."""

    time: float
    midpoint: Decimal | None
    scores: dict[str, MakerScore] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((s.q_min for s in self.scores.values()), Decimal(0))

    def share(self, maker: str) -> Decimal:
        total = self.total
        score = self.scores.get(maker)
        return score.q_min / total if score is not None and total > 0 else Decimal(0)


class RewardsBook:
    def __init__(self, engine: Engine, now: float) -> None:
        self.engine = engine
        self.minute = math.floor(now / 60)  # the last minute sampled
        # day -> condition id -> maker -> earnings (collateral, exact)
        self.earnings: dict[str, dict[str, dict[str, Decimal]]] = {}
        # day -> condition id -> maker -> rebate (micro, exact)
        self.rebates: dict[str, dict[str, dict[str, Decimal]]] = {}
        self.latest: dict[str, Sample] = {}
        self.samples = 0
        self.paid: set[str] = set()
        self.open_day = day_of(now)

    # ------------------------------------------------------------ sampling

    def sample_due(self, now: float) -> int:
        """Sample every minute boundary passed since the last call; returns how many."""
        minute = math.floor(now / 60)
        first = max(self.minute + 1, minute - MAX_REPLAYED_MINUTES + 1)
        done = 0
        for k in range(first, minute + 1):
            self._sample(k * 60.0)
            done += 1
        self.minute = max(self.minute, minute)
        self.open_day = max(self.open_day, day_of(now))
        self._pay_finished_days(self.open_day)
        return done

    def _sample(self, t: float) -> None:
        day = day_of(t)
        if day != self.open_day:
            self._pay_finished_days(day)
            self.open_day = day
        for cond, m in self.engine.markets.items():
            programme = m.cfg.rewards
            if programme is None or m.status != "open":
                continue
            mid, scores = maker_scores(m, programme, t)
            sample = Sample(t, mid, scores)
            self.latest[cond] = sample
            total = sample.total
            if total <= 0 or programme.daily_rate <= 0:
                continue
            pool = programme.daily_rate / MINUTES_PER_DAY
            book = self.earnings.setdefault(day, {}).setdefault(cond, {})
            for maker, score in scores.items():
                if score.q_min > 0:
                    book[maker] = book.get(maker, Decimal(0)) + pool * score.q_min / total
        self.samples += 1

    # ------------------------------------------------------------ rebates

    def on_trade(self, trade: Trade) -> None:
        if trade.status == "FAILED" or not trade.fee:
            return
        rebate = maker_rebate(trade.fee, trade.market.cfg.fees)
        if rebate <= 0:
            return
        day = day_of(trade.match_time)
        maker = trade.makers[0].order.maker
        book = self.rebates.setdefault(day, {}).setdefault(trade.market.condition_id, {})
        book[maker] = book.get(maker, Decimal(0)) + rebate

    # ------------------------------------------------------------ payouts

    def _pay_finished_days(self, today: str) -> None:
        for day in sorted({*self.earnings, *self.rebates}):
            if day >= today or day in self.paid:
                continue
            self.paid.add(day)
            for per_maker in self.earnings.get(day, {}).values():
                for maker, amount in per_maker.items():
                    self.engine.balance(maker).collateral += int((amount * MICRO).to_integral_value(ROUND_FLOOR))
            for per_maker in self.rebates.get(day, {}).values():
                for maker, micro in per_maker.items():
                    self.engine.balance(maker).collateral += int(micro.to_integral_value(ROUND_FLOOR))

    # ------------------------------------------------------------ reads

    def earned(self, day: str, maker: str) -> dict[str, Decimal]:
        """Condition id -> this maker's earnings on ``day``."""
        return {c: per[maker] for c, per in self.earnings.get(day, {}).items() if maker in per}

    def rebated(self, day: str, maker: str) -> dict[str, Decimal]:
        """Condition id -> this maker's rebates on ``day``, in collateral."""
        return {c: per[maker] / MICRO for c, per in self.rebates.get(day, {}).items() if maker in per}

    def snapshot(self, day: str | None = None) -> dict[str, object]:
        """For /admin/state: the newest sample per market and the day's earnings."""
        day = day or self.open_day
        return {
            "samples": self.samples,
            "day": day,
            "markets": {
                cond: {
                    "time": s.time,
                    "midpoint": None if s.midpoint is None else format(s.midpoint.normalize(), "f"),
                    "totalScore": float(s.total),
                    "scores": {maker: float(sc.q_min) for maker, sc in s.scores.items()},
                }
                for cond, s in self.latest.items()
            },
            "earnings": {
                cond: {maker: float(v) for maker, v in per.items()} for cond, per in self.earnings.get(day, {}).items()
            },
            "paidDays": sorted(self.paid),
        }
