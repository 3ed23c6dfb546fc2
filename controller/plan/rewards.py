"""Liquidity rewards, the pure arithmetic: which quotes score, a market's score, fitting bands.

Polymarket's rules (``docs/rewards.md``): an order scores ``((v - s) / v)^2 x size``
when it rests with at least the programme's min size strictly within v cents of the
size-cutoff-adjusted midpoint (s is its distance from it); one side of the unified book
(bids of the quoted token plus asks of the other) adds up to Q_one, the other side to
Q_two, and the market score is ``max(min(Q_one, Q_two), max(Q_one, Q_two) / 3)`` while
the midpoint is in [0.10, 0.90], ``min(Q_one, Q_two)`` outside. The daily pool is
shared by score.

Pure and exact (Decimal): no I/O, no clock. The planner calls :func:`fit_bands` for
``spec.rewards.mode: fit`` and :func:`estimate` for what ``diff`` prints; the venue and
ops layers may call :func:`score` on observed orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from controller.observe.state import Book

Side = Literal["bid", "ask"]

SCALING_FACTOR = Decimal(3)
TWO_SIDED_BELOW = Decimal("0.10")
TWO_SIDED_ABOVE = Decimal("0.90")
_ZERO = Decimal(0)
_CENTS = Decimal(100)


@dataclass(frozen=True)
class RewardParams:
    """One market's liquidity-rewards programme, as the exchange publishes it."""

    max_spread: Decimal  # v, in cents (rewards_max_spread)
    min_size: Decimal  # shares (rewards_min_size)
    daily_rate: Decimal = _ZERO  # collateral per day for the whole market (0: unknown)
    min_age_seconds: Decimal = _ZERO  # an order scores only after resting this long
    # Every maker's score at the exchange's latest sample (market_competitiveness), if known.
    competing_score: Decimal | None = None

    @property
    def max_distance(self) -> Decimal:
        """v as a price distance (3 cents -> 0.03)."""
        return self.max_spread / _CENTS


@dataclass(frozen=True)
class Quote:
    """One resting (or planned) order in the quoted token's terms."""

    side: Side
    price: Decimal  # bid-equivalent price q
    size: Decimal  # remaining shares


@dataclass(frozen=True)
class Score:
    q_one: Decimal  # bid side (bids of the quoted token and asks of the other)
    q_two: Decimal  # ask side
    q_min: Decimal  # the market score
    scoring: int  # quotes that scored


@dataclass(frozen=True)
class Estimate:
    """What a plan's resting orders are expected to earn (``MarketPlan.rewards``)."""

    midpoint: Decimal | None  # the size-cutoff-adjusted midpoint after the plan
    score: Score
    share: Decimal | None  # of the pool, when the competing score is known
    reward_per_day: Decimal | None  # share x daily rate, when both are known
    fitted: bool  # spec.rewards.mode is fit


def adjusted_midpoint(book: Book, min_size: Decimal) -> Decimal | None:
    """Midpoint of the best bid and ask among levels holding at least ``min_size`` shares."""
    bid = next((lv.price for lv in book.bids if lv.size >= min_size), None)
    ask = next((lv.price for lv in book.asks if lv.size >= min_size), None)
    if bid is None or ask is None or bid >= ask:
        return None
    return (bid + ask) / 2


def order_score(quote: Quote, midpoint: Decimal, params: RewardParams) -> Decimal:
    """S(v, s) x size, or 0 when the quote is under the min size or not strictly within v."""
    if quote.size < params.min_size or quote.size <= 0:
        return _ZERO
    v = params.max_spread
    s = abs(quote.price - midpoint) * _CENTS
    if s >= v:
        return _ZERO
    return ((v - s) / v) ** 2 * quote.size


def market_score(q_one: Decimal, q_two: Decimal, midpoint: Decimal) -> Decimal:
    if TWO_SIDED_BELOW <= midpoint <= TWO_SIDED_ABOVE:
        return max(min(q_one, q_two), max(q_one, q_two) / SCALING_FACTOR)
    return min(q_one, q_two)


def score(quotes: Iterable[Quote], midpoint: Decimal, params: RewardParams) -> Score:
    """One maker's Q_one, Q_two and market score for one sample."""
    q = {"bid": _ZERO, "ask": _ZERO}
    scoring = 0
    for quote in quotes:
        points = order_score(quote, midpoint, params)
        if points > 0:
            q[quote.side] += points
            scoring += 1
    return Score(q["bid"], q["ask"], market_score(q["bid"], q["ask"], midpoint), scoring)


def share_of_pool(own: Decimal, competing: Decimal | None) -> Decimal | None:
    """own / (own + competing): the share of the pool a score of ``own`` is expected to get."""
    if competing is None:
        return None
    total = own + max(competing, _ZERO)
    return own / total if total > 0 else _ZERO


def estimate(book_without_own: Book, own: Sequence[Quote], params: RewardParams, *, fitted: bool) -> Estimate:
    """The expected score of ``own`` quotes resting in the book (their size moves the midpoint too)."""
    book = book_without_own
    for quote in own:
        book = book.adjusted("bids" if quote.side == "bid" else "asks", quote.price, quote.size)
    mid = adjusted_midpoint(book, params.min_size)
    if mid is None:
        return Estimate(None, Score(_ZERO, _ZERO, _ZERO, 0), None, None, fitted)
    result = score(own, mid, params)
    share = share_of_pool(result.q_min, params.competing_score)
    reward = share * params.daily_rate if share is not None and params.daily_rate > 0 else None
    return Estimate(mid, result, share, reward, fitted)


def scores(quote: Quote, midpoint: Decimal | None, params: RewardParams) -> bool:
    return midpoint is not None and order_score(quote, midpoint, params) > 0


# ---------------------------------------------------------------- fitting bands (mode: fit)


@dataclass(frozen=True)
class Fit:
    """A band as fitted to a programme: its margins clamped, or why it cannot score."""

    max_margin: Decimal
    avg_margin: Decimal
    problem: str = ""  # non-empty: the band cannot be fitted (nothing is placed in it)


def fit_margins(
    min_margin: Decimal,
    avg_margin: Decimal,
    max_margin: Decimal,
    max_amount: Decimal,
    params: RewardParams,
    offset: Decimal = _ZERO,
) -> Fit:
    """Clamp one band so that every price in it is strictly within v of the scoring midpoint.

    ``offset`` is how far the reference price is from the exchange's adjusted midpoint:
    the reach left around the reference is ``v - offset``. Orders must also hold at least
    the min size, so a band whose maxAmount is below it cannot score.
    """
    reach = params.max_distance - abs(offset)
    if max_amount < params.min_size:
        return Fit(max_margin, avg_margin, f"maxAmount {_fmt(max_amount)} < rewards min size {_fmt(params.min_size)}")
    if min_margin >= reach:
        why = f"minMargin {_fmt(min_margin)} is not inside the reward spread ({_fmt(reach)} from the midpoint)"
        return Fit(max_margin, avg_margin, why)
    fitted_max = min(max_margin, reach)
    fitted_avg = avg_margin if avg_margin < fitted_max else min_margin
    return Fit(fitted_max, fitted_avg)


def fitted_band(band: object, fit: Fit) -> object:
    """``band`` (a spec Band) with the fitted margins."""
    return replace(band, max_margin=fit.max_margin, avg_margin=fit.avg_margin)  # type: ignore[type-var]


def _fmt(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")
