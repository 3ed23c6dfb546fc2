"""The planner's rewards phases: fit the bands before classification, estimate after placement.

``spec.rewards.mode: fit`` on a market with a programme (``MarketState.rewards``):

* before classification, every band is clamped so that its prices lie strictly within
  the reward spread of the scoring midpoint (:func:`controller.plan.rewards.fit_margins`);
  a band that cannot be fitted places nothing and says why (``RewardsBandUnfit``); the
  minimum order size becomes at least the programme's min size, and kept orders below it
  are cancelled (``BelowRewardsMinSize``);
* after placement, while the midpoint is outside [0.10, 0.90] (where only two-sided
  quoting scores), a plan that would leave one side empty quotes nothing instead
  (``RewardsOneSided``).

In every mode, a market with a programme gets :class:`controller.plan.rewards.Estimate`
(``MarketPlan.rewards``) and each placement a ``scores`` mark; :func:`observed_estimate`
scores the orders resting now (for status and metrics). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from controller.observe.state import Book, MarketState, OpenOrder
from controller.plan.classify import Classified
from controller.plan.model import Cancellation, MarketPlan, Placement, PlanWarning
from controller.plan.reasons import CancelReason, PullReason, WarningReason
from controller.plan.reference import quote_view, quoted_book, without_orders
from controller.plan.rewards import (
    TWO_SIDED_ABOVE,
    TWO_SIDED_BELOW,
    Estimate,
    Quote,
    RewardParams,
    adjusted_midpoint,
    estimate,
    fit_margins,
    scores,
)
from controller.plan.ticks import ONE
from controller.spec.types import MarketMakerSpec


@dataclass(frozen=True)
class Fitted:
    spec: MarketMakerSpec  # with the fitted bands
    params: RewardParams
    unfit: frozenset[int]  # band indexes that place nothing
    warnings: tuple[PlanWarning, ...]
    midpoint: Decimal | None  # the scoring midpoint without our orders, when there is one


def book_without_own(spec: MarketMakerSpec, market: MarketState, orders: Sequence[OpenOrder]) -> Book | None:
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    book = quoted_book(market, quoted, complement)
    return None if book is None else without_orders(book, orders, quoted, complement)


def fit(spec: MarketMakerSpec, market: MarketState, p: Decimal, orders: Sequence[OpenOrder]) -> Fitted | None:
    """The fitted spec for ``mode: fit`` on a rewards market; None otherwise (nothing changes)."""
    params = market.rewards
    if spec.rewards.mode != "fit" or params is None:
        return None
    book = book_without_own(spec, market, orders)
    mid = adjusted_midpoint(book, params.min_size) if book is not None else None
    offset = abs(p - mid) if mid is not None else Decimal(0)
    bands, unfit, warnings = [], set(), []
    for index, band in enumerate(spec.bands):
        result = fit_margins(band.min_margin, band.avg_margin, band.max_margin, band.max_amount, params, offset)
        if result.problem:
            unfit.add(index)
            why = f"band {index} cannot score: {result.problem}"
            warnings.append(PlanWarning(WarningReason.REWARDS_BAND_UNFIT, why, None, index))
            bands.append(band)
        else:
            bands.append(replace(band, max_margin=result.max_margin, avg_margin=result.avg_margin))
    return Fitted(replace(spec, bands=tuple(bands)), params, frozenset(unfit), tuple(warnings), mid)


def too_small(fitted: Fitted | None, kept: Sequence[Classified]) -> tuple[list[Classified], list[Cancellation]]:
    """(kept orders that can score, cancellations of those under the programme's min size)."""
    if fitted is None:
        return list(kept), []
    keep, cancel = [], []
    for k in kept:
        if k.order.remaining < fitted.params.min_size:
            why = f"{_fmt(k.order.remaining)} left < rewards min size {_fmt(fitted.params.min_size)}"
            cancel.append(Cancellation(k.order.id, CancelReason.BELOW_REWARDS_MIN_SIZE, why, k.order))
        else:
            keep.append(k)
    return keep, cancel


def finish(
    market: MarketPlan, spec: MarketMakerSpec, state: MarketState, orders: Sequence[OpenOrder], fit_mode: bool
) -> MarketPlan:
    """Fit: drop placements that would not score once resting, then both sides or none
    (outside [0.10, 0.90]). Always: the estimate and the ``scores`` marks."""
    params = state.rewards
    if params is None or market.reference_price is None:
        return market
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    kept = [Quote(k.quote_side, *_view(k.order, quoted, complement)) for k in market.kept]
    book = book_without_own(spec, state, orders) or Book()

    def quote(p: Placement) -> Quote:
        return Quote(p.quote_side, _bid_equivalent(p, quoted), p.size)

    if fit_mode:
        market = _drop_unscored(market, book, kept, params, quote)
        own = [*kept, *(quote(p) for p in market.place)]
        mid = adjusted_midpoint(book, params.min_size) or market.reference_price
        assert mid is not None
        if not TWO_SIDED_BELOW <= mid <= TWO_SIDED_ABOVE and {q.side for q in own} != {"bid", "ask"}:
            return _one_sided(market, orders, mid)
    result = estimate(book, [*kept, *(quote(p) for p in market.place)], params, fitted=fit_mode)
    marked = tuple(replace(p, scores=scores(quote(p), result.midpoint, params)) for p in market.place)
    return replace(market, place=marked, rewards=result)


def _drop_unscored(
    market: MarketPlan, book: Book, kept: list[Quote], params: RewardParams, quote: Callable[[Placement], Quote]
) -> MarketPlan:
    """Placements that would not score where the midpoint ends up (one side quoted alone can
    move it) are not sent; a drop moves the midpoint back, so look again, a few times."""
    place, alerts = list(market.place), list(market.alerts)
    for attempt in range(4):
        mid = estimate(book, [*kept, *(quote(p) for p in place)], params, fitted=True).midpoint
        unscored = place if attempt == 3 else [p for p in place if not scores(quote(p), mid, params)]
        if not unscored or (attempt == 3 and all(scores(quote(p), mid, params) for p in place)):
            break
        for p in unscored:
            where = "no scoring midpoint" if mid is None else f"midpoint {_fmt(mid)} after the plan"
            why = f"{p.quote_side} band {p.band}: {_fmt(p.price)} would not score ({where}); not placed"
            if attempt == 3 and scores(quote(p), mid, params):  # the give-up pass drops scoring ones too
                why = f"{p.quote_side} band {p.band}: {_fmt(p.price)} not placed: the midpoint did not settle"
            alerts.append(PlanWarning(WarningReason.REWARDS_NOT_SCORING, why, p.quote_side, p.band))
        place = [p for p in place if p not in unscored]
    return replace(market, place=tuple(place), alerts=tuple(alerts))


def _one_sided(market: MarketPlan, orders: Sequence[OpenOrder], mid: Decimal) -> MarketPlan:
    why = f"rewards: midpoint {_fmt(mid)} is outside [0.10, 0.90] and only one side could be quoted"
    ordered = sorted(orders, key=lambda o: (o.token_id, o.side, o.price, o.id))
    return replace(
        market,
        cancel=tuple(Cancellation(o.id, CancelReason.REWARDS_ONE_SIDED, why, o) for o in ordered),
        place=(),
        keep=(),
        kept=(),
        note=why,
        pull_reason=PullReason.REWARDS_ONE_SIDED,
        reference_price=None,
        awaiting_cancels=False,
    )


def _view(order: OpenOrder, quoted: str, complement: str) -> tuple[Decimal, Decimal]:
    view = quote_view(order, quoted, complement)
    return (view[1] if view is not None else order.price), order.remaining


def _bid_equivalent(p: Placement, quoted: str) -> Decimal:
    return p.price if p.token_id == quoted else ONE - p.price


def _fmt(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def observed_estimate(spec: MarketMakerSpec, market: MarketState, orders: Sequence[OpenOrder]) -> Estimate | None:
    """The score the controller's resting ``orders`` have now (for status and metrics); None
    without a programme. The orders are taken out of the book and scored as resting in it."""
    params = market.rewards
    if params is None:
        return None
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    own = []
    for o in orders:
        view = quote_view(o, quoted, complement)
        if view is not None and o.remaining > 0:
            own.append(Quote(view[0], view[1], o.remaining))
    book = book_without_own(spec, market, orders) or Book()
    return estimate(book, own, params, fitted=spec.rewards.mode == "fit")
