"""The planner: desired spec + observed state + time -> a Plan (cancel, place, keep).

Pure: no I/O, no clock reads (``now`` is an argument), deterministic, stable ordering.
``bandctl diff`` prints what :func:`plan` returns, the live reconciler executes what
:func:`plan_market` returns for one market, and :func:`apply_plan` is the model of "the
exchange did exactly that" that the convergence tests use.

Semantics (``/work/shared/design.md`` is normative; this lists how it is read and every
decision taken where it is silent). Prices are in the *quoted* token's terms throughout.

Reference price p
    From the quoted token's book **with our own resting orders removed** (each open
    order's remaining size is subtracted from the level it rests on, clamped at zero).
    YES and NO are mirror views of one book, so a SELL of the complement at c rests as a
    quoted bid at 1 - c and a BUY of the complement at c as a quoted ask at 1 - c. If the
    snapshot has no book for the quoted token but has the complement's, its mirror is
    used. ``midpoint`` = (bid + ask) / 2 (exact); ``microprice`` = size-weighted
    (bid*askSize + ask*bidSize) / (bidSize + askSize) of the best levels, rounded half-even
    to 1e-6 so the result has a finite, reproducible representation; ``last_trade`` = the
    quoted book's ``last_trade_price``, else 1 - the complement book's, else the market's
    (taken as the YES price). All sources require both sides present, an uncrossed book
    and spread <= maxSpread; otherwise there is no p and every order of the market is
    cancelled, nothing placed.

Pulling a market
    ``paused``, outside ``schedule`` (now < notBefore or now >= notAfter; naive datetimes
    are taken as UTC), market missing from the state, no reference price: cancel every
    order of the market, place nothing, and say why in ``MarketPlan.note``. Two specs for
    the same condition id: the second is ignored with a note (they would fight).

Band membership (poly-market-maker's convention, exact decimals)
    Every order of the market maps to a side and a bid-equivalent price q: BUY quoted@q
    and SELL complement@(1-q) are bids at q; SELL quoted@q and BUY complement@(1-q) are
    asks at q. Bid band: p - maxMargin < q <= p - minMargin; ask band:
    p + minMargin <= q < p + maxMargin. An order of the market whose token is neither of
    the spec's tokens is cancelled ("token not in this market"). Orders of markets no
    spec manages are never touched (they still lock balance).

Cancellation (poly-market-maker ``Bands.cancellable_orders``)
    * Orders outside every band of their side: cancel ("outside every band").
    * A band whose total remaining size exceeds maxAmount: cancel until <= maxAmount. The
      band's *position* (bands sorted by minMargin; a single band is the first band)
      decides the order: first band cancels the order closest to p first, last band the
      furthest first, middle bands the smallest first. Ties break by order id.
      poly-market-maker's comment and design.md say "smallest first" for middle bands;
      its current code (``strategies/bands.py``, ``reverse=False`` then ``pop()``) actually
      cancels the *largest* first, while its older ``band.py`` cancelled the smallest. We
      follow design.md. Unlike poly-market-maker, distance to p is measured on the
      bid-equivalent price, so a SELL of the complement is sorted by where it really
      quotes (the original used the raw complement price there).
    * Limits (maxPosition, maxCollateral) and balances never cause cancellations; they
      only cap placements.

Placement (poly-market-maker ``Bands.new_orders``)
    * Amounts are remaining sizes *after* this plan's cancellations (poly-market-maker
      counts orders it is cancelling and only refills on the next loop; counting what
      stays is what makes a single plan converge).
    * A band with amount < minAmount gets up to avgAmount - amount (rounded down to 0.01)
      at p -/+ avgMargin rounded to the tick AWAY from p (bid down, ask up). If that
      grid price is not inside the band (margins finer than the tick, or the [tick,
      1 - tick] price range cuts the band) it moves to the nearest grid price that is;
      if none exists the band is skipped with a warning.
    * Sizes never push a band over maxAmount (nor a side over maxPosition). A part
      smaller than the market's minimum order size is raised to the minimum when that
      still fits (a band short by less than one minimum order would otherwise never be
      refilled); otherwise it is dropped and the band is left short with a warning.
    * A new order never crosses our own quotes (kept ones and those placed earlier in the
      plan; bids are placed first), post-only or not: that would be a self-trade.
    * Post-only (the default): a new order must not cross the real book, other people's
      orders *and* our own (a self-cross is rejected by the exchange just the same). A
      bid must stay below the best ask (of the quoted book and of the mirrored complement
      book), an ask above the best bid; the price moves to the nearest non-crossing grid
      price still in the band, or the band is skipped.
    * Sells before buys (poly-market-maker's documented rule): bid-side liquidity is first
      a SELL of free complement inventory at 1 - q, then a BUY of the quoted token at q for
      the rest; the ask side sells free quoted inventory at q, then BUYs the complement at
      1 - q. Inventory below the minimum order size is not sold. When the BUY remainder
      would be below the minimum, the SELL is shortened so that both parts are valid
      (if collateral pays for a minimum BUY); else the remainder is raised or dropped as
      above. poly-market-maker makes the same split but simply drops a remainder below
      its MIN_SIZE.
    * Sides and bands are filled in a fixed order: bid side then ask side, bands by
      position (closest to p first), so scarce balance goes to the tightest quotes.
    * The effective tick is the state's; a spec override is used only if it lies on the
      state's grid (coarser). The effective minimum size is max(spec override, state).
    * At most one SELL and one BUY per band per plan (poly-market-maker does the same).

Balances and limits
    ``balances`` are exchange totals. Free collateral = total - sum(price x remaining) of
    every open BUY (all markets) - what earlier placements of the same plan commit; free
    tokens = total - remaining of open SELLs of that token - earlier placements. In
    :func:`plan`, specs share these in the order given. Orders being cancelled in the same
    plan keep their locks (the exchange frees them only once the cancel is confirmed),
    and the same conservative view applies to maxCollateral (this market's open BUYs +
    new BUYs), maxPosition (position = tokens[quoted] - tokens[complement]; bid side keeps
    position + remaining bid-side orders <= maxPosition, ask side keeps position -
    remaining ask-side >= -maxPosition) and the post-only crossing check. Sizes are
    capped down (staying >= the minimum size) rather than skipped where possible.
    Because of that conservatism a plan can be incomplete: the planner also computes what
    it would place if every cancellation of the plan (any market's: freed collateral is
    shared) were confirmed, and if that differs it sets ``MarketPlan.awaiting_cancels``;
    the reconciler should re-plan once the cancels settle.
    Convergence therefore reads: if no market is awaiting cancels,
    ``plan(apply_plan(state, p))`` has no changes; in every case it has no cancellations,
    and the plan after that is empty.

Ordering
    Cancels by reason group (market pulled, foreign token, outside every band, over
    maxAmount), then band, then side (bids first), then bid-equivalent price, then id.
    Places by side (bid side first), then band (closest to p first), then SELL before
    BUY. ``keep`` is every
    order of the market not cancelled, sorted by id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from controller.spec.types import Band, MarketMakerSpec
from controller.observe.state import Book, BookSide, MarketState, ObservedState, OpenOrder, Side
from controller.plan.ticks import (
    ONE,
    SIZE_QUANTUM,
    ZERO,
    format_decimal,
    on_grid,
    round_away,
    round_down,
    round_size_down,
    round_up,
)

QuoteSide = Literal["bid", "ask"]
_SIDES: tuple[QuoteSide, ...] = ("bid", "ask")
_MICROPRICE_QUANTUM = Decimal("0.000001")

# Cancellation reason groups, in output order.
_PULLED, _FOREIGN, _OUTSIDE, _EXCESS = range(4)


# -- the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    band: int
    reason: str
    quote_side: QuoteSide = "bid"  # which side of the quoted book this liquidity adds to


@dataclass(frozen=True)
class Cancellation:
    order_id: str
    reason: str
    order: OpenOrder | None = None  # the order as observed, for display


@dataclass(frozen=True)
class Kept:
    """An order left in place, with the band that holds it (for display)."""

    order: OpenOrder
    quote_side: QuoteSide
    band: int


@dataclass(frozen=True)
class MarketPlan:
    name: str
    condition_id: str
    reference_price: Decimal | None
    cancel: tuple[Cancellation, ...]
    place: tuple[Placement, ...]
    keep: tuple[str, ...]
    note: str = ""  # why nothing is quoted ("paused", "no reference price: ...")
    reference_source: str = ""
    tick_size: Decimal | None = None
    yes_token: str = ""
    no_token: str = ""
    kept: tuple[Kept, ...] = ()
    warnings: tuple[str, ...] = ()  # bands left short, and why (never changes by themselves)
    awaiting_cancels: bool = False  # more would be placed once this plan's cancels settle

    @property
    def has_changes(self) -> bool:
        return bool(self.cancel or self.place)

    def outcome(self, token_id: str) -> str:
        """``"YES"``/``"NO"`` for the market's tokens, else the token id itself."""
        if token_id and token_id == self.yes_token:
            return "YES"
        if token_id and token_id == self.no_token:
            return "NO"
        return token_id

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "conditionId": self.condition_id,
            "referencePrice": None if self.reference_price is None else format_decimal(self.reference_price),
            "cancel": [{"id": c.order_id, "reason": c.reason} for c in self.cancel],
            "place": [
                {
                    "tokenId": p.token_id,
                    "side": p.side,
                    "price": format_decimal(p.price),
                    "size": format_decimal(p.size),
                    "band": p.band,
                    "reason": p.reason,
                }
                for p in self.place
            ],
            "keep": list(self.keep),
        }
        if self.note:
            doc["note"] = self.note
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        if self.awaiting_cancels:
            doc["awaitingCancels"] = True
        return doc


@dataclass(frozen=True)
class Plan:
    markets: tuple[MarketPlan, ...]

    @property
    def has_changes(self) -> bool:
        return any(m.has_changes for m in self.markets)

    @property
    def counts(self) -> tuple[int, int, int]:
        """(to place, to cancel, unchanged)."""
        return (
            sum(len(m.place) for m in self.markets),
            sum(len(m.cancel) for m in self.markets),
            sum(len(m.keep) for m in self.markets),
        )

    def to_json(self) -> dict[str, Any]:
        return {"markets": [m.to_json() for m in self.markets]}


# -- entry points -----------------------------------------------------------------------


def plan(specs: Sequence[MarketMakerSpec], state: ObservedState, now: datetime) -> Plan:
    """Plan every spec against one snapshot; specs share balances in the order given."""
    owner: dict[str, str] = {}
    decided: list[tuple[MarketPlan, _Context | None]] = []
    for spec in specs:
        cid = spec.market.condition_id
        if cid in owner:
            note = f"market already managed by {owner[cid]}; this spec is ignored"
            decided.append((_empty(spec, note=note), None))
            continue
        owner[cid] = spec.name
        decided.append(_decide(spec, state, now))
    # Cancellations never depend on balances, so all of them are known before any
    # placement: "awaiting cancels" then covers balance freed by another market's cancel.
    released = frozenset(c.order_id for market, _ in decided for c in market.cancel)
    ledger = _Ledger()
    return Plan(tuple(_fill(market, ctx, ledger, released) for market, ctx in decided))


def plan_market(spec: MarketMakerSpec, state: ObservedState, now: datetime) -> MarketPlan:
    """Plan one market on its own (what the live reconciler calls per work item)."""
    market, ctx = _decide(spec, state, now)
    return _fill(market, ctx, _Ledger(), frozenset(c.order_id for c in market.cancel))


def reference_price(
    spec: MarketMakerSpec, market_state: MarketState, own_orders: Iterable[OpenOrder]
) -> tuple[Decimal | None, str]:
    """(p, description) or (None, why there is none), from the book without our orders."""
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    full = quoted_book(market_state, quoted, complement)
    if full is None:
        return None, "no book for the quoted token"
    book = without_orders(full, own_orders, quoted, complement)
    if not book.bids or not book.asks:
        empty = " and ".join(s for s, levels in (("bids", book.bids), ("asks", book.asks)) if not levels)
        return None, f"no {empty} besides our own orders"
    bid, ask = book.bids[0], book.asks[0]
    if bid.price >= ask.price:
        return None, f"book is crossed (bid {format_decimal(bid.price)} >= ask {format_decimal(ask.price)})"
    spread = ask.price - bid.price
    max_spread = spec.reference_price.max_spread
    if spread > max_spread:
        return None, f"spread {format_decimal(spread)} > maxSpread {format_decimal(max_spread)}"
    source = spec.reference_price.source
    if source == "microprice":
        weighted = (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)
        return weighted.quantize(_MICROPRICE_QUANTUM, rounding=ROUND_HALF_EVEN), "microprice"
    if source == "last_trade":
        last = _last_trade(spec, market_state)
        if last is None:
            return None, "no last trade price"
        return last, "last trade"
    return (bid.price + ask.price) / 2, "midpoint"


# -- helpers the reconciler may reuse ---------------------------------------------------


def quoted_book(market_state: MarketState, quoted: str, complement: str) -> Book | None:
    """The quoted token's book, or the mirror of the complement's if only that is known."""
    if quoted in market_state.books:
        return market_state.books[quoted]
    if complement in market_state.books:
        return market_state.books[complement].mirrored()
    return None


def quote_view(order: OpenOrder, quoted: str, complement: str) -> tuple[QuoteSide, Decimal] | None:
    """(side, bid-equivalent price) of an order in the quoted token's terms, or None."""
    if order.token_id == quoted:
        return ("bid" if order.side == "BUY" else "ask"), order.price
    if order.token_id == complement:
        return ("ask" if order.side == "BUY" else "bid"), ONE - order.price
    return None


def without_orders(book: Book, orders: Iterable[OpenOrder], quoted: str, complement: str) -> Book:
    """``book`` (the quoted token's) minus the remaining size of ``orders``, clamped at zero."""
    for order in orders:
        view = quote_view(order, quoted, complement)
        if view is None or order.remaining <= 0:
            continue
        side, q = view
        book = book.adjusted(_book_side(side), q, -order.remaining)
    return book


def in_band(band: Band, p: Decimal, side: QuoteSide, q: Decimal) -> bool:
    """poly-market-maker's membership test: (p - max, p - min] for bids, mirrored for asks."""
    if side == "bid":
        return p - band.max_margin < q <= p - band.min_margin
    return p + band.min_margin <= q < p + band.max_margin


def band_positions(bands: Sequence[Band]) -> tuple[int, ...]:
    """Band indexes from closest to p to furthest (by minMargin, then maxMargin, index)."""
    return tuple(sorted(range(len(bands)), key=lambda i: (bands[i].min_margin, bands[i].max_margin, i)))


def apply_plan(state: ObservedState, plan: Plan, *, ids: Iterable[str] | None = None) -> ObservedState:
    """The state after the exchange executed ``plan`` exactly (pure).

    Cancelled orders disappear, placed orders appear with ids from ``ids`` (or
    deterministic synthetic ``0x…`` ids), and both are reflected in the books (the
    order's own token and, mirrored, its complement if that book is present). Balance
    totals are unchanged: resting orders lock balance, they do not spend it.
    """
    tokens = {m.condition_id: (m.yes_token, m.no_token) for m in plan.markets if m.yes_token}
    cancelled = {c.order_id for m in plan.markets for c in m.cancel}
    markets = dict(state.markets)
    orders: list[OpenOrder] = []
    for order in state.orders:
        if order.id in cancelled:
            _rest(markets, tokens, order, -order.remaining)
        else:
            orders.append(order)
    taken = {o.id for o in state.orders}
    supplied = iter(ids) if ids is not None else None
    for market in plan.markets:
        for index, placement in enumerate(market.place):
            if supplied is not None:
                order_id = next(supplied)
                if order_id in taken:
                    raise ValueError(f"order id {order_id!r} is already in use")
            else:
                order_id = _synthetic_id(market.condition_id, index, placement, taken)
            taken.add(order_id)
            order = OpenOrder(
                id=order_id,
                market=market.condition_id,
                token_id=placement.token_id,
                side=placement.side,
                price=placement.price,
                size=placement.size,
            )
            orders.append(order)
            _rest(markets, tokens, order, order.remaining)
    return replace(state, markets=markets, orders=tuple(orders))


def _rest(
    markets: dict[str, MarketState], tokens: dict[str, tuple[str, str]], order: OpenOrder, delta: Decimal
) -> None:
    market = markets.get(order.market)
    if market is None or delta == 0:
        return
    books = dict(market.books)
    own_side: BookSide = "bids" if order.side == "BUY" else "asks"
    if order.token_id in books:
        books[order.token_id] = books[order.token_id].adjusted(own_side, order.price, delta)
    pair = tokens.get(order.market, ())
    if order.token_id in pair:
        other = pair[1] if order.token_id == pair[0] else pair[0]
        if other in books:
            mirror_side: BookSide = "asks" if own_side == "bids" else "bids"
            books[other] = books[other].adjusted(mirror_side, ONE - order.price, delta)
    markets[order.market] = replace(market, books=books)


def _synthetic_id(condition_id: str, index: int, p: Placement, taken: set[str]) -> str:
    salt = 0
    while True:
        text = f"{condition_id}|{index}|{p.token_id}|{p.side}|{p.price}|{p.size}|{salt}"
        candidate = "0x" + hashlib.sha256(text.encode()).hexdigest()
        if candidate not in taken:
            return candidate
        salt += 1


# -- one market -------------------------------------------------------------------------


@dataclass
class _Ledger:
    """What earlier placements of this plan commit (local, mutable bookkeeping)."""

    collateral: Decimal = ZERO
    tokens: dict[str, Decimal] = field(default_factory=dict)

    def copy(self) -> _Ledger:
        return _Ledger(self.collateral, dict(self.tokens))


@dataclass(frozen=True)
class _Classified:
    order: OpenOrder
    side: QuoteSide
    q: Decimal
    band: int | None  # spec index


def _decide(spec: MarketMakerSpec, state: ObservedState, now: datetime) -> tuple[MarketPlan, _Context | None]:
    """Phase 1: reference price, classification and cancellations (no balances involved)."""
    cid = spec.market.condition_id
    orders = state.orders_of(cid)
    inactive = _inactive_reason(spec, now)
    if inactive:
        return _pull(spec, orders, inactive, None), None
    market = state.markets.get(cid)
    if market is None:
        return _pull(spec, orders, "market not in state", None), None
    if market.stale:
        return _pull(spec, orders, f"market data stale: {market.stale}", market.tick_size), None
    p, why = reference_price(spec, market, orders)
    if p is None:
        return _pull(spec, orders, f"no reference price: {why}", market.tick_size), None

    tick, tick_warning = _effective_tick(spec, market)
    min_size = max(market.min_order_size, spec.market.min_order_size or ZERO)
    quoted, complement = spec.market.quoted_token, spec.market.complement_token

    cancels: list[tuple[tuple[Any, ...], Cancellation]] = []
    classified: list[_Classified] = []
    for order in orders:
        view = quote_view(order, quoted, complement)
        if view is None:
            key = (_FOREIGN, -1, 0, order.price, order.id)
            cancels.append((key, Cancellation(order.id, "token not in this market", order)))
            continue
        side, q = view
        band = next((i for i in band_positions(spec.bands) if in_band(spec.bands[i], p, side, q)), None)
        classified.append(_Classified(order, side, q, band))
    for c in classified:
        if c.band is None:
            key = (_OUTSIDE, -1, _SIDES.index(c.side), c.q, c.order.id)
            cancels.append((key, Cancellation(c.order.id, "outside every band", c.order)))
    for side in _SIDES:
        for c, reason in _excess(spec.bands, p, [c for c in classified if c.side == side and c.band is not None]):
            key = (_EXCESS, c.band, _SIDES.index(side), c.q, c.order.id)
            cancels.append((key, Cancellation(c.order.id, reason, c.order)))
    cancelled_ids = {c.order_id for _, c in cancels}
    kept = [c for c in classified if c.order.id not in cancelled_ids]
    kept.sort(key=lambda c: c.order.id)

    decided = MarketPlan(
        name=spec.name,
        condition_id=cid,
        reference_price=p,
        cancel=tuple(c for _, c in sorted(cancels, key=lambda item: item[0])),
        place=(),
        keep=tuple(c.order.id for c in kept),
        reference_source=why,
        tick_size=tick,
        yes_token=spec.market.yes_token,
        no_token=spec.market.no_token,
        kept=tuple(Kept(c.order, c.side, c.band) for c in kept if c.band is not None),
        warnings=tick_warning,
    )
    return decided, _Context(spec, state, market, p, tick, min_size, orders, tuple(kept))


def _fill(market: MarketPlan, ctx: _Context | None, ledger: _Ledger, released: frozenset[str]) -> MarketPlan:
    """Phase 2: placements, committing into the shared ``ledger``.

    Run twice: as planned (cancelled orders still lock) and as if every cancel in
    ``released`` were confirmed; if the second places differently, the plan is
    incomplete until the cancels settle (``awaiting_cancels``).
    """
    if ctx is None:
        return market
    optimistic, _ = _placements(ctx, ledger.copy(), released)
    placements, warnings = _placements(ctx, ledger, frozenset())
    return replace(
        market,
        place=tuple(placements),
        warnings=(*market.warnings, *warnings),
        awaiting_cancels=optimistic != placements,
    )


def _empty(spec: MarketMakerSpec, note: str) -> MarketPlan:
    return MarketPlan(
        name=spec.name,
        condition_id=spec.market.condition_id,
        reference_price=None,
        cancel=(),
        place=(),
        keep=(),
        note=note,
        yes_token=spec.market.yes_token,
        no_token=spec.market.no_token,
    )


def _pull(spec: MarketMakerSpec, orders: Sequence[OpenOrder], note: str, tick: Decimal | None) -> MarketPlan:
    """Cancel every order of the market, place nothing."""
    ordered = sorted(orders, key=lambda o: (o.token_id, o.side, o.price, o.id))
    return replace(
        _empty(spec, note),
        cancel=tuple(Cancellation(o.id, note, o) for o in ordered),
        tick_size=tick,
    )


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _inactive_reason(spec: MarketMakerSpec, now: datetime) -> str:
    if spec.paused:
        return "paused"
    now = _as_utc(now)
    start, end = spec.schedule.not_before, spec.schedule.not_after
    if start is not None and now < _as_utc(start):
        return f"outside schedule: starts at {_iso(start)}"
    if end is not None and now >= _as_utc(end):
        return f"outside schedule: ended at {_iso(end)}"
    return ""


def _iso(value: datetime) -> str:
    return _as_utc(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _effective_tick(spec: MarketMakerSpec, market: MarketState) -> tuple[Decimal, tuple[str, ...]]:
    override = spec.market.tick_size
    if override is None or override == market.tick_size:
        return market.tick_size, ()
    if override > market.tick_size and on_grid(override, market.tick_size):
        return override, ()
    return market.tick_size, (
        f"tickSize {format_decimal(override)} is not on the market's {format_decimal(market.tick_size)} "
        "grid; using the market's",
    )


def _last_trade(spec: MarketMakerSpec, market: MarketState) -> Decimal | None:
    quoted, complement = spec.market.quoted_token, spec.market.complement_token
    own = market.books.get(quoted)
    if own is not None and own.last_trade_price is not None:
        return own.last_trade_price
    other = market.books.get(complement)
    if other is not None and other.last_trade_price is not None:
        return ONE - other.last_trade_price
    if market.last_trade_price is None:
        return None
    return market.last_trade_price if spec.market.quote == "yes" else ONE - market.last_trade_price


def _book_side(side: QuoteSide) -> BookSide:
    return "bids" if side == "bid" else "asks"


# -- cancellation -----------------------------------------------------------------------


def _excess(bands: Sequence[Band], p: Decimal, members: list[_Classified]) -> list[tuple[_Classified, str]]:
    """Orders to cancel so that no band of one side holds more than its maxAmount."""
    positions = band_positions(bands)
    result: list[tuple[_Classified, str]] = []
    for rank, index in enumerate(positions):
        band = bands[index]
        in_this = [c for c in members if c.band == index]
        total = sum((c.order.remaining for c in in_this), ZERO)
        if total <= band.max_amount:
            continue
        if rank == 0:  # first band: closest to p first
            queue = sorted(in_this, key=lambda c: (abs(c.q - p), c.order.id))
        elif rank == len(positions) - 1:  # last band: furthest first
            queue = sorted(in_this, key=lambda c: (-abs(c.q - p), c.order.id))
        else:  # middle bands: smallest first
            queue = sorted(in_this, key=lambda c: (c.order.remaining, c.order.id))
        reason = (
            f"band {index} {in_this[0].side}s hold {format_decimal(total)} > "
            f"maxAmount {format_decimal(band.max_amount)}"
        )
        for c in queue:
            if total <= band.max_amount:
                break
            result.append((c, reason))
            total -= c.order.remaining
    return result


# -- placement --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    spec: MarketMakerSpec
    state: ObservedState
    market: MarketState
    p: Decimal
    tick: Decimal
    min_size: Decimal
    orders: tuple[OpenOrder, ...]  # this market's
    kept: tuple[_Classified, ...]


def _placements(ctx: _Context, ledger: _Ledger, released: frozenset[str]) -> tuple[list[Placement], list[str]]:
    """New orders for every band below minAmount; orders in ``released`` count as gone."""
    spec, state = ctx.spec, ctx.state
    quoted, complement = spec.market.quoted_token, spec.market.complement_token

    def live(order: OpenOrder) -> bool:
        return order.id not in released

    # Free balances: every open order locks, unless released.
    all_live = [o for o in state.orders if live(o)]
    free_collateral = state.balances.collateral - sum((o.locked_collateral for o in all_live), ZERO)
    locked_tokens: dict[str, Decimal] = {}
    for o in all_live:
        if o.side == "SELL":
            locked_tokens[o.token_id] = locked_tokens.get(o.token_id, ZERO) + o.remaining
    market_live = [o for o in ctx.orders if live(o)]
    market_buys = sum((o.locked_collateral for o in market_live), ZERO)
    exposure = {"bid": ZERO, "ask": ZERO}
    for o in market_live:
        view = quote_view(o, quoted, complement)
        if view is not None:
            exposure[view[0]] += o.remaining
    position = state.balances.token(quoted) - state.balances.token(complement)

    # The real book (everyone's orders, ours included) for the post-only check.
    book = _crossing_book(ctx, [o for o in ctx.orders if not live(o)])
    best_bid = book.best_bid
    best_ask = book.best_ask
    # Never cross our own quotes either (a self-trade, post-only or not): kept orders and
    # what this plan places before (bids are placed first, so asks stay above them).
    own = {"bid": [c.q for c in ctx.kept if c.side == "bid"], "ask": [c.q for c in ctx.kept if c.side == "ask"]}

    amounts: dict[tuple[QuoteSide, int], Decimal] = {}
    for c in ctx.kept:
        if c.band is not None:
            amounts[(c.side, c.band)] = amounts.get((c.side, c.band), ZERO) + c.order.remaining

    placements: list[Placement] = []
    warnings: list[str] = []
    new_buys = ZERO
    floor = max(ctx.min_size, SIZE_QUANTUM)  # the smallest order worth sending
    for side in _SIDES:
        for index in band_positions(spec.bands):
            band = spec.bands[index]
            amount = amounts.get((side, index), ZERO)
            if amount >= band.min_amount:
                continue
            label = f"{side} band {index}"
            price = _band_price(
                ctx, band, side, best_bid, best_ask, max(own["bid"], default=None), min(own["ask"], default=None)
            )
            if price is None:
                warnings.append(f"{label}: no tick-grid price inside the band that does not cross the book")
                continue
            need = round_size_down(band.avg_amount - amount)
            room = band.max_amount - amount  # never push the band over maxAmount
            if spec.limits.max_position is not None:
                if side == "bid":
                    position_room = spec.limits.max_position - (position + exposure["bid"])
                else:
                    position_room = spec.limits.max_position + position - exposure["ask"]
                if position_room < floor:
                    warnings.append(f"{label}: maxPosition {format_decimal(spec.limits.max_position)} reached")
                    continue
                room = min(room, position_room)
            room = round_size_down(room)
            if room < floor or need <= 0:
                warnings.append(
                    f"{label}: short by {format_decimal(band.avg_amount - amount)} but the minimum order size "
                    f"{format_decimal(ctx.min_size)} does not fit under maxAmount"
                )
                continue

            sell_token, buy_token = (complement, quoted) if side == "bid" else (quoted, complement)
            sell_price = ONE - price if side == "bid" else price
            buy_price = price if side == "bid" else ONE - price
            inventory = state.balances.token(sell_token) - locked_tokens.get(sell_token, ZERO)
            inventory -= ledger.tokens.get(sell_token, ZERO)
            collateral = free_collateral - ledger.collateral
            buy_cap = round_size_down(collateral / buy_price)
            if spec.limits.max_collateral is not None:
                collateral_room = spec.limits.max_collateral - market_buys - new_buys
                buy_cap = min(buy_cap, round_size_down(collateral_room / buy_price))
            sell, buy = _split(need, room, round_size_down(inventory), buy_cap, floor)
            if sell <= 0 and buy <= 0:
                warnings.append(
                    f"{label}: not enough free balance for {format_decimal(min(need, room))} "
                    f"(free collateral {format_decimal(max(collateral, ZERO))}, "
                    f"free {_outcome(spec, sell_token)} {format_decimal(max(inventory, ZERO))})"
                )
                continue
            why = (
                f"{label}: {format_decimal(amount)} < minAmount {format_decimal(band.min_amount)}, "
                f"target avgAmount {format_decimal(band.avg_amount)}"
            )
            if sell > 0:
                placements.append(
                    Placement(sell_token, "SELL", sell_price, sell, index, f"{why} (held inventory)", side)
                )
                ledger.tokens[sell_token] = ledger.tokens.get(sell_token, ZERO) + sell
            if buy > 0:
                placements.append(Placement(buy_token, "BUY", buy_price, buy, index, why, side))
                ledger.collateral += buy * buy_price
                new_buys += buy * buy_price
            exposure[side] += sell + buy
            own[side].append(price)
            if sell + buy < need:
                warnings.append(
                    f"{label}: placing {format_decimal(sell + buy)} of {format_decimal(need)}, "
                    "capped by balance or limits"
                )
    return placements, warnings


def _outcome(spec: MarketMakerSpec, token: str) -> str:
    return "YES" if token == spec.market.yes_token else "NO"


def _crossing_book(ctx: _Context, released: list[OpenOrder]) -> Book:
    """Best levels of the real quoted book, merged with the mirrored complement book."""
    quoted, complement = ctx.spec.market.quoted_token, ctx.spec.market.complement_token
    views = []
    if quoted in ctx.market.books:
        views.append(ctx.market.books[quoted])
    if complement in ctx.market.books:
        views.append(ctx.market.books[complement].mirrored())
    bids = [lv for b in views for lv in without_orders(b, released, quoted, complement).bids[:1]]
    asks = [lv for b in views for lv in without_orders(b, released, quoted, complement).asks[:1]]
    return Book.from_levels(bids, asks)


def _band_price(
    ctx: _Context,
    band: Band,
    side: QuoteSide,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
    own_bid: Decimal | None,
    own_ask: Decimal | None,
) -> Decimal | None:
    """p -/+ avgMargin rounded away from p, moved into the band / price range / non-crossing."""
    p, tick = ctx.p, ctx.tick
    post_only = ctx.spec.orders.post_only
    if side == "bid":
        wanted = round_away(p - band.avg_margin, p, tick)
        low = round_down(p - band.max_margin, tick) + tick  # smallest grid price > p - max
        high = round_down(p - band.min_margin, tick)
        for ask in (best_ask if post_only else None, own_ask):
            if ask is not None:
                high = min(high, round_up(ask, tick) - tick)  # largest grid price < the ask
    else:
        wanted = round_away(p + band.avg_margin, p, tick)
        low = round_up(p + band.min_margin, tick)
        high = round_up(p + band.max_margin, tick) - tick  # largest grid price < p + max
        for bid in (best_bid if post_only else None, own_bid):
            if bid is not None:
                low = max(low, round_down(bid, tick) + tick)  # smallest grid price > the bid
    low, high = max(low, tick), min(high, ONE - tick)
    if low > high:
        return None
    return min(max(wanted, low), high)


def _split(
    need: Decimal, room: Decimal, inventory: Decimal, buy_cap: Decimal, floor: Decimal
) -> tuple[Decimal, Decimal]:
    """(sell, buy) sizes for one band: held inventory first, collateral for the rest.

    Each part is 0 or >= ``floor`` (the minimum order size) and the total stays within
    ``room`` (band maxAmount / maxPosition headroom). A part below the minimum is first
    made valid by shortening the SELL (total unchanged), else raised to the minimum when
    the room and balance allow (a band short by less than one minimum order would
    otherwise never be refilled), else dropped.
    """

    def fit(wanted: Decimal, cap: Decimal, room_left: Decimal) -> Decimal:
        size = min(wanted, cap, room_left)
        if size >= floor:
            return size
        return floor if wanted > 0 and cap >= floor and room_left >= floor else ZERO

    need = min(need, room)
    sell = fit(need, inventory, room)
    rest = need - sell
    if sell > 0 and ZERO < rest < floor <= buy_cap and sell - (floor - rest) >= floor:
        return sell - (floor - rest), floor
    buy = fit(rest, buy_cap, room - sell) if rest > 0 else ZERO
    return sell, buy
