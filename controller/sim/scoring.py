"""Liquidity-rewards scoring: which resting orders score, and each maker's score in a market.

Polymarket's published rules (docs/rewards.md has them in full):

* the midpoint is *size-cutoff-adjusted*: the emulator takes the best bid and the best
  ask among price levels holding at least ``min_size`` shares in total (dust levels at
  the top of the book do not move it);
* an order scores ``((v - s) / v)^2 x size`` where v is the programme's max spread and s
  the order's distance from that midpoint (both in cents), when it rests with at least
  ``min_size`` shares, strictly within v, and has rested ``min_age`` seconds;
* a maker's YES bids and NO asks (one side of the unified book) add up to Q_one, its
  YES asks and NO bids to Q_two; its market score is
  ``max(min(Q_one, Q_two), max(Q_one, Q_two) / 3)`` while the midpoint is in
  [0.10, 0.90] and ``min(Q_one, Q_two)`` outside (two-sided quoting required there).

Pure: reads the engine's book, changes nothing, keeps no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .config import MICRO, PRICE_SCALE, RewardsProgramme
from .model import BID, Book, Market, Order

SCALING_FACTOR = Decimal(3)
TWO_SIDED_BELOW = Decimal("0.10")
TWO_SIDED_ABOVE = Decimal("0.90")
_CENT = PRICE_SCALE // 100  # price units per cent


@dataclass(frozen=True)
class MakerScore:
    q_one: Decimal
    q_two: Decimal
    q_min: Decimal
    orders: int  # orders that scored


def _qualifying_best(book: Book, min_micro: int, best_high: bool) -> int | None:
    prices = reversed(book.prices) if best_high else iter(book.prices)
    for p in prices:
        if book.sizes[p] >= min_micro:
            return p
    return None


def adjusted_midpoint(m: Market, programme: RewardsProgramme) -> Decimal | None:
    """The size-cutoff-adjusted midpoint in YES terms, or None when a side has no qualifying level."""
    min_micro = int(programme.min_size * MICRO)
    bid = _qualifying_best(m.bids, min_micro, best_high=True)
    ask = _qualifying_best(m.asks, min_micro, best_high=False)
    if bid is None or ask is None or bid >= ask:
        return None
    return Decimal(bid + ask) / (2 * PRICE_SCALE)


def order_score(o: Order, mid: Decimal, programme: RewardsProgramme, now: float) -> Decimal:
    """S(v, s) x size for one resting order (0 when it does not qualify)."""
    if o.status != "LIVE" or o.remaining <= 0:
        return Decimal(0)
    size = Decimal(o.remaining) / MICRO
    if size < programme.min_size or Decimal(str(now - o.created_at)) < programme.min_age:
        return Decimal(0)
    v = programme.max_spread
    s = abs(Decimal(o.yes_price) / PRICE_SCALE - mid) * 100
    if s >= v:
        return Decimal(0)
    return ((v - s) / v) ** 2 * size


def market_score(q_one: Decimal, q_two: Decimal, mid: Decimal) -> Decimal:
    if TWO_SIDED_BELOW <= mid <= TWO_SIDED_ABOVE:
        return max(min(q_one, q_two), max(q_one, q_two) / SCALING_FACTOR)
    return min(q_one, q_two)


def _near_levels(book: Book, mid: Decimal, programme: RewardsProgramme) -> list[Order]:
    """Orders of one book side priced strictly within v of the midpoint."""
    centre = mid * PRICE_SCALE
    reach = programme.max_spread * _CENT
    return [o for p in book.prices if abs(p - centre) < reach for o in book.levels[p].values()]


def maker_scores(m: Market, programme: RewardsProgramme, now: float) -> tuple[Decimal | None, dict[str, MakerScore]]:
    """(adjusted midpoint, per maker address: its scores) for one sample of one market."""
    mid = adjusted_midpoint(m, programme)
    if mid is None:
        return None, {}
    sides: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    for book in (m.bids, m.asks):
        for o in _near_levels(book, mid, programme):
            score = order_score(o, mid, programme, now)
            if score <= 0:
                continue
            q = sides.setdefault(o.maker, [Decimal(0), Decimal(0)])
            q[0 if o.book_side == BID else 1] += score
            counts[o.maker] = counts.get(o.maker, 0) + 1
    out = {maker: MakerScore(q1, q2, market_score(q1, q2, mid), counts[maker]) for maker, (q1, q2) in sides.items()}
    return mid, out


def is_scoring(o: Order, now: float) -> bool:
    """What ``GET /order-scoring`` answers for one order."""
    programme = o.market.cfg.rewards
    if programme is None or o.status != "LIVE" or o.market.status != "open":
        return False
    mid = adjusted_midpoint(o.market, programme)
    return mid is not None and order_score(o, mid, programme, now) > 0
