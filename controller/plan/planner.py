"""The planner's entry points: spec + observed state + time -> a Plan.

Pure: no I/O, no clock reads (``now`` is an argument), deterministic, stable ordering.
``bandctl diff`` prints what :func:`plan` returns; the live reconciler executes what
:func:`draft_market` returns for one market and completes it after sending (the result
is :func:`plan_market`'s). This module only sequences the phases (pull or classify, then
place); the decisions live in ``reference``, ``classify`` and ``placements``. Semantics:
``docs/bands.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from controller.observe.state import MarketState, ObservedState, OpenOrder
from controller.plan import messages, rewards_fit
from controller.plan.classify import band_positions, classify, in_band
from controller.plan.model import (
    Cancellation,
    ForeignOrder,
    Kept,
    MarketPlan,
    Placement,
    Plan,
    PlanWarning,
    QuoteSide,
)
from controller.plan.placements import Context, Ledger, new_orders
from controller.plan.reasons import PULL_CANCEL_REASONS, CancelReason, PullReason, WarningReason
from controller.plan.reference import quote_view, reference_price
from controller.plan.skew import inventory_skew
from controller.plan.ticks import ONE, ZERO, on_grid
from controller.spec.types import MarketMakerSpec


def plan(
    specs: Sequence[MarketMakerSpec], state: ObservedState, now: datetime, *, cancel_unmanaged: bool = False
) -> Plan:
    """Plan every spec against one snapshot; specs share balances in the order given.

    ``cancel_unmanaged`` treats the orders of ``ownership: shared`` markets that the
    controller did not place (not in ``state.placed_ids``) as its own, as in an
    ``exclusive`` market; by default they are left alone (``MarketPlan.foreign``).
    """
    owner: dict[str, str] = {}
    decided: list[tuple[MarketPlan, Context | None]] = []
    for spec in specs:
        cid = spec.market.condition_id
        if cid in owner:
            ignored = _empty(spec, PullReason.ALREADY_MANAGED, messages.already_managed(owner[cid]))
            decided.append((ignored, None))
            continue
        owner[cid] = spec.name
        decided.append(_decide(spec, state, now, cancel_unmanaged))
    # Cancellations never depend on balances, so all of them are known before any
    # placement: "awaiting cancels" then covers balance freed by another market's cancel.
    released = frozenset(c.order_id for market, _ in decided for c in market.cancel)
    ledger = Ledger()
    return Plan(tuple(_fill(market, ctx, ledger, released) for market, ctx in decided))


def plan_market(
    spec: MarketMakerSpec, state: ObservedState, now: datetime, *, cancel_unmanaged: bool = False
) -> MarketPlan:
    """Plan one market on its own."""
    return draft_market(spec, state, now, cancel_unmanaged=cancel_unmanaged).complete()


@dataclass(frozen=True)
class Draft:
    """A market's plan whose cancels and placements are final, before ``awaiting_cancels``.

    Whether more would be placed once the cancels settle takes a second placement pass. It
    changes nothing that is sent, so the live reconciler sends ``plan`` first and asks
    :meth:`complete` afterwards, off the requote's path. ``complete`` returns exactly what
    :func:`plan_market` returns.
    """

    plan: MarketPlan
    _complete: Callable[[], MarketPlan] | None = None

    def complete(self) -> MarketPlan:
        return self.plan if self._complete is None else self._complete()


def draft_market(
    spec: MarketMakerSpec, state: ObservedState, now: datetime, *, cancel_unmanaged: bool = False
) -> Draft:
    """Plan one market on its own, ``awaiting_cancels`` left to :meth:`Draft.complete` (what the
    live reconciler calls per work item)."""
    market, ctx = _decide(spec, state, now, cancel_unmanaged)
    return _draft(market, ctx, Ledger(), frozenset(c.order_id for c in market.cancel))


# A cancelled order with one of these reasons counts toward no band's amount: placing
# beside it cannot take a band over maxAmount, whether or not its cancel has landed.
_COUNTS_IN_NO_BAND = frozenset({CancelReason.OUTSIDE_BANDS, CancelReason.TOKEN_NOT_IN_MARKET})


def after_cancels(spec: MarketMakerSpec, plan: MarketPlan) -> frozenset[int]:
    """Indexes of ``plan.place`` that must wait until the plan's cancels are answered.

    The others may go out together with the cancels, and the exchange may then take them
    in either order. Balance never forces a wait here: placements are sized with every
    cancelled order still locking its balance (what the cancels free is placed by the next
    reconcile, ``awaiting_cancels``). Two things do: a band's maxAmount (a cancelled order
    still counts in the same band of the same side: over maxAmount, too small to score)
    and our own quotes (a placement that would cross a cancelled order of ours would trade
    with it, or be refused as post-only). When the band cannot be told (no reference price,
    bands refitted for rewards), every placement on that side waits; a cancelled order not
    known at all holds every placement.
    """
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    p = plan.reference_price
    exact = p is not None and spec.rewards.mode != "fit"
    blocked: set[tuple[QuoteSide, int | None]] = set()
    cancelled: list[tuple[QuoteSide, Decimal]] = []
    for cancel in plan.cancel:
        view = quote_view(cancel.order, quoted, complement) if cancel.order is not None else None
        if view is None:
            if cancel.reason is CancelReason.TOKEN_NOT_IN_MARKET:
                continue  # another market's token: neither in a band nor in this book
            return frozenset(range(len(plan.place)))
        cancelled.append(view)
        if cancel.reason in _COUNTS_IN_NO_BAND:
            continue
        side, q = view
        band = None
        if exact and p is not None:
            band = next((i for i in band_positions(spec.bands) if in_band(spec.bands[i], p, side, q)), None)
        blocked.add((side, band))

    def waits(placement: Placement) -> bool:
        if (placement.quote_side, placement.band) in blocked or (placement.quote_side, None) in blocked:
            return True
        q = placement.price if placement.token_id == quoted else ONE - placement.price
        if placement.quote_side == "bid":
            return any(side == "ask" and other <= q for side, other in cancelled)
        return any(side == "bid" and other >= q for side, other in cancelled)

    return frozenset(i for i, placement in enumerate(plan.place) if waits(placement))


def _decide(
    spec: MarketMakerSpec, state: ObservedState, now: datetime, cancel_unmanaged: bool
) -> tuple[MarketPlan, Context | None]:
    """Phase 1: reference price, classification and cancellations (no balances involved)."""
    cid = spec.market.condition_id
    orders, foreign = _ownership(spec, state, cancel_unmanaged)
    inactive = _inactive(spec, now) or _held(spec, state, now)
    if inactive is not None:
        return _pull(spec, orders, foreign, *inactive, None), None
    market = state.markets.get(cid)
    if market is None:
        why = messages.market_not_in_state()
        return _pull(spec, orders, foreign, PullReason.MARKET_NOT_IN_STATE, why, None), None
    stop_before = spec.risk.stop_before
    if stop_before is not None and market.end_time is not None and _as_utc(now) >= market.end_time - stop_before:
        why = messages.end_of_market(market.end_time, stop_before)
        return _pull(spec, orders, foreign, PullReason.END_OF_MARKET, why, market.tick_size), None
    if market.stale:
        why = messages.stale_market_data(market.stale)
        return _pull(spec, orders, foreign, PullReason.STALE_MARKET_DATA, why, market.tick_size), None
    # Only the controller's own orders come out of the book: foreign ones are other liquidity.
    p, source = reference_price(spec, market, orders)
    if p is None:
        why = messages.no_reference_price(source)
        return _pull(spec, orders, foreign, PullReason.NO_REFERENCE_PRICE, why, market.tick_size), None

    tick, tick_warnings = _effective_tick(spec, market)
    skew = inventory_skew(spec, state, p, tick)
    if skew is not None:
        p = skew.price  # the bands (membership and placement) are around the skewed reference
    fitted = rewards_fit.fit(spec, market, p, orders)  # spec.rewards.mode fit: bands clamped to score
    if fitted is not None:
        spec = fitted.spec
    min_size = max(market.min_order_size, spec.market.min_order_size or ZERO)
    if fitted is not None:
        min_size = max(min_size, fitted.params.min_size)
    cancels, classified = classify(spec, p, orders)
    kept, small = rewards_fit.too_small(fitted, classified)
    cancels = (*cancels, *small)
    decided = MarketPlan(
        name=spec.name,
        condition_id=cid,
        reference_price=p,
        cancel=cancels,
        place=(),
        keep=tuple(c.order.id for c in kept),
        reference_source=source,
        tick_size=tick,
        yes_token=spec.market.yes_token,
        no_token=spec.market.no_token,
        kept=tuple(
            Kept(c.order, c.side, c.band, detail=messages.in_band(c.side, c.band)) for c in kept if c.band is not None
        ),
        foreign=_foreign(foreign),
        alerts=(*tick_warnings, *(fitted.warnings if fitted is not None else ())),
        skew=skew,
    )
    unfit = fitted.unfit if fitted is not None else frozenset()
    reduce_only = _reduce_only_sides(spec, state, market, now)
    ctx = Context(spec, state, market, p, tick, min_size, orders, tuple(kept), foreign, skew, unfit, reduce_only)
    return decided, ctx


def _ownership(
    spec: MarketMakerSpec, state: ObservedState, cancel_unmanaged: bool
) -> tuple[tuple[OpenOrder, ...], tuple[OpenOrder, ...]]:
    """(the controller's orders of the market, the foreign ones), in snapshot order."""
    orders = state.orders_of(spec.market.condition_id)
    if spec.ownership != "shared" or cancel_unmanaged:
        return orders, ()
    placed = state.placed_ids
    return tuple(o for o in orders if o.id in placed), tuple(o for o in orders if o.id not in placed)


def _foreign(orders: Sequence[OpenOrder]) -> tuple[ForeignOrder, ...]:
    return tuple(ForeignOrder(o, detail=messages.foreign()) for o in sorted(orders, key=lambda o: o.id))


def _fill(market: MarketPlan, ctx: Context | None, ledger: Ledger, released: frozenset[str]) -> MarketPlan:
    """Phase 2: placements, committing into the shared ``ledger`` (see :func:`_draft`)."""
    return _draft(market, ctx, ledger, released).complete()


def _draft(market: MarketPlan, ctx: Context | None, ledger: Ledger, released: frozenset[str]) -> Draft:
    """Phase 2: placements as planned (cancelled orders still lock), committed into ``ledger``.

    Completing it places once more as if every cancel in ``released`` were confirmed, on the
    ledger as it was before this market: if that places differently, the plan is incomplete
    until the cancels settle (``awaiting_cancels``). Nothing released: nothing to compare.
    """
    if ctx is None:
        return Draft(market)
    before = ledger.copy() if released else ledger
    placements, warnings = new_orders(ctx, ledger, frozenset())
    filled = replace(market, place=tuple(placements), alerts=(*market.alerts, *warnings))
    fit_mode = ctx.spec.rewards.mode == "fit" and ctx.market.rewards is not None
    draft = rewards_fit.finish(filled, ctx.spec, ctx.market, ctx.orders, fit_mode)
    if not released:
        return Draft(draft)

    def complete() -> MarketPlan:
        optimistic, _ = new_orders(ctx, before, released)
        if optimistic == placements:
            return draft
        return rewards_fit.finish(replace(filled, awaiting_cancels=True), ctx.spec, ctx.market, ctx.orders, fit_mode)

    return Draft(draft, complete)


def _empty(spec: MarketMakerSpec, reason: PullReason, note: str) -> MarketPlan:
    return MarketPlan(
        name=spec.name,
        condition_id=spec.market.condition_id,
        reference_price=None,
        cancel=(),
        place=(),
        keep=(),
        note=note,
        pull_reason=reason,
        yes_token=spec.market.yes_token,
        no_token=spec.market.no_token,
    )


def _pull(
    spec: MarketMakerSpec,
    orders: Sequence[OpenOrder],
    foreign: Sequence[OpenOrder],
    reason: PullReason,
    note: str,
    tick: Decimal | None,
) -> MarketPlan:
    """Cancel every order of the controller's in the market, place nothing, leave foreign ones."""
    ordered = sorted(orders, key=lambda o: (o.token_id, o.side, o.price, o.id))
    code = PULL_CANCEL_REASONS[reason]
    return replace(
        _empty(spec, reason, note),
        cancel=tuple(Cancellation(o.id, code, note, o) for o in ordered),
        foreign=_foreign(foreign),
        tick_size=tick,
    )


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _inactive(spec: MarketMakerSpec, now: datetime) -> tuple[PullReason, str] | None:
    if spec.paused:
        return PullReason.PAUSED, messages.paused()
    now = _as_utc(now)
    start, end = spec.schedule.not_before, spec.schedule.not_after
    if start is not None and now < _as_utc(start):
        return PullReason.OUTSIDE_SCHEDULE, messages.not_started(start)
    if end is not None and now >= _as_utc(end):
        return PullReason.OUTSIDE_SCHEDULE, messages.ended(end)
    return None


def _reduce_only_sides(
    spec: MarketMakerSpec, state: ObservedState, market: MarketState, now: datetime
) -> frozenset[QuoteSide]:
    """Inside ``risk.reduceOnlyBefore`` of the market's end: the sides that would add to the
    position (both when flat), which then place nothing."""
    window = spec.risk.reduce_only_before
    if window is None or market.end_time is None or _as_utc(now) < market.end_time - window:
        return frozenset()
    position = state.balances.token(spec.market.quoted_token) - state.balances.token(spec.market.complement_token)
    if position > 0:
        return frozenset({"bid"})
    if position < 0:
        return frozenset({"ask"})
    return frozenset({"bid", "ask"})


def _held(spec: MarketMakerSpec, state: ObservedState, now: datetime) -> tuple[PullReason, str] | None:
    """The controller's own hold on this manifest (or on every manifest), while it lasts."""
    for key in (spec.name, "*"):
        hold = state.holds.get(key)
        if hold is not None and (hold.until is None or _as_utc(now) < _as_utc(hold.until)):
            return PullReason(hold.reason), messages.held(hold.message)
    return None


def _effective_tick(spec: MarketMakerSpec, market: MarketState) -> tuple[Decimal, tuple[PlanWarning, ...]]:
    override = spec.market.tick_size
    if override is None or override == market.tick_size:
        return market.tick_size, ()
    if override > market.tick_size and on_grid(override, market.tick_size):
        return override, ()
    why = messages.tick_size_not_on_grid(override, market.tick_size)
    return market.tick_size, (PlanWarning(WarningReason.TICK_SIZE_NOT_ON_GRID, why),)
