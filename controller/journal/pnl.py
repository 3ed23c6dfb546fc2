"""PnL from journaled fills and mids: pure functions, exact decimals, time as an input.

Cost method: **average cost**, on the position in the market's *quoted* outcome (YES
unless the manifest quotes NO). A fill in the other outcome is its binary equivalent —
BUY NO at q is SELL YES at 1 − q, SELL NO at q is BUY YES at 1 − q — because a YES and a
NO share merge into exactly 1 collateral; so holding both nets out, as the exchange's
merge does, and the bands' view of inventory is the one PnL reports. Average cost rather
than FIFO because outcome shares are fungible (no lot identity on chain) and it is what
traders of these markets quote; it also makes unrealized PnL one product,
``position × (mid − average cost)``.

* ``realized`` is net of fees (fees are shown separately too); realized + unrealized is
  the change in the account's value marked at the mid (collateral + YES·mid + NO·(1−mid)).
* A FAILED trade is reversed: its fill counts for nothing, as the exchange puts both
  sides' balances back.
* ``since``: fills before it still build the position and its cost; realized, fees,
  volume, fill count and markouts count only fills at or after it; ``unrealized`` is as
  of ``now``; ``opening_unrealized`` is the position held at ``since`` marked at the mid
  then, so ``window_pnl`` is the value change over the window (what a loss limit wants).
* Markouts: the quoted mid's move 1 s, 10 s and 60 s after each fill, signed so that a
  positive number is good for us (the mid rose after we bought), size-weighted, per
  share. A mid older than ``MAX_MID_AGE`` at the instant looked at counts as unknown.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext

from controller.journal.records import Fill, MarketRecord, MidSample

ZERO = Decimal(0)
ONE = Decimal(1)
MARKOUT_HORIZONS: tuple[float, ...] = (1.0, 10.0, 60.0)
MAX_MID_AGE = 30.0  # seconds; the sampler's heartbeat is 10 s
_PRECISION = Context(prec=40)


@dataclass(frozen=True)
class Markout:
    horizon: float
    per_share: Decimal | None  # None when no fill had a known mid before and after
    fills: int


@dataclass(frozen=True)
class MarketPnl:
    name: str
    condition_id: str
    token_id: str  # the quoted outcome's token ("" when unknown)
    position: Decimal
    average_cost: Decimal
    mid: Decimal | None
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    volume: Decimal
    fills: int
    markouts: tuple[Markout, ...]
    opening_unrealized: Decimal = ZERO

    @property
    def window_pnl(self) -> Decimal:
        return self.realized + self.unrealized - self.opening_unrealized


@dataclass(frozen=True)
class Totals:
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    volume: Decimal
    fills: int
    opening_unrealized: Decimal = ZERO

    @property
    def window_pnl(self) -> Decimal:
        return self.realized + self.unrealized - self.opening_unrealized


@dataclass(frozen=True)
class PnlReport:
    markets: tuple[MarketPnl, ...]
    total: Totals
    as_of: float
    since: float | None


@dataclass(frozen=True)
class SeriesPoint:
    at: float
    position: Decimal
    pnl: Decimal  # realized (net of fees) + unrealized at the mid known then


@dataclass
class Position:
    """Average-cost state of one market's quoted-outcome position."""

    quantity: Decimal = ZERO
    average_cost: Decimal = ZERO
    realized: Decimal = ZERO  # gross of fees

    def apply(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Add a signed fill; returns the PnL it realized."""
        with localcontext(_PRECISION):
            held = self.quantity
            if held == 0 or (held > 0) == (quantity > 0):
                total = abs(held) + abs(quantity)
                self.average_cost = (self.average_cost * abs(held) + price * abs(quantity)) / total
                self.quantity = held + quantity
                return ZERO
            closing = min(abs(quantity), abs(held))
            realized = closing * (price - self.average_cost) * (1 if held > 0 else -1)
            self.realized += realized
            self.quantity = held + quantity
            if self.quantity == 0:
                self.average_cost = ZERO
            elif (self.quantity > 0) != (held > 0):
                self.average_cost = price  # flipped through zero: the rest opens at this price
            return realized

    def unrealized(self, mid: Decimal | None) -> Decimal:
        return ZERO if mid is None or self.quantity == 0 else self.quantity * (mid - self.average_cost)


@dataclass
class Quoting:
    """Which token of a market is the quoted one (positions and mids are in its terms)."""

    quoted: str
    other: str = ""

    def signed(self, fill: Fill) -> tuple[Decimal, Decimal]:
        """A fill as (signed quantity, price) of the quoted outcome."""
        r = fill.record
        sign = 1 if r.side == "BUY" else -1
        if r.token_id == self.quoted or not self.quoted:
            return r.size * sign, r.price
        return -r.size * sign, ONE - r.price

    def mid(self, sample: MidSample) -> Decimal:
        return sample.mid if sample.token_id == self.quoted or not self.quoted else ONE - sample.mid


@dataclass
class MidPath:
    """One market's quoted mid over time, as a step function of its samples."""

    times: list[float] = field(default_factory=list)
    values: list[Decimal] = field(default_factory=list)

    def at(self, when: float, max_age: float = MAX_MID_AGE) -> Decimal | None:
        i = bisect.bisect_right(self.times, when) - 1
        if i < 0 or when - self.times[i] > max_age:
            return None
        return self.values[i]

    def last(self) -> Decimal | None:
        return self.values[-1] if self.values else None


def quoting_for(condition_id: str, fills: Iterable[Fill], markets: Mapping[str, MarketRecord]) -> Quoting:
    record = markets.get(condition_id)
    if record is not None:
        return Quoting(record.quoted_token, record.other_token)
    seen: dict[str, str] = {}
    for f in fills:
        seen.setdefault(f.record.token_id, f.record.outcome.lower())
    yes = [t for t, outcome in seen.items() if outcome == "yes"]
    no = [t for t, outcome in seen.items() if outcome == "no"]
    if yes:
        return Quoting(yes[0], next((t for t in seen if t != yes[0]), ""))
    if no:
        return Quoting(_placeholder(no[0]), no[0])
    first = next(iter(seen), "")
    return Quoting(first, "")


def _placeholder(other: str) -> str:
    # Only the NO token was ever traded: its complement is unknown by id, but prices convert all the same.
    return f"complement-of-{other}"


def mid_paths(mids: Iterable[MidSample], quoting: Mapping[str, Quoting]) -> dict[str, MidPath]:
    paths: dict[str, MidPath] = {}
    for sample in sorted(mids, key=lambda s: s.at):
        q = quoting.get(sample.condition_id)
        if q is None:
            continue
        path = paths.setdefault(sample.condition_id, MidPath())
        path.times.append(sample.at)
        path.values.append(q.mid(sample))
    return paths


def compute_pnl(
    fills: Sequence[Fill],
    mids: Sequence[MidSample],
    *,
    now: float,
    since: float | None = None,
    markets: Sequence[MarketRecord] = (),
    names: Mapping[str, str] | None = None,
    marks: Mapping[str, Decimal] | None = None,
    horizons: Sequence[float] = MARKOUT_HORIZONS,
) -> PnlReport:
    """PnL per market and in total. ``marks``: current quoted mids by condition id (else the last journaled)."""
    by_market = {m.condition_id: m for m in markets}
    grouped: dict[str, list[Fill]] = {}
    for f in sorted(fills, key=lambda f: (f.fill_time, f.record.trade_id, f.record.order_id)):
        if not f.failed:
            grouped.setdefault(f.record.condition_id, []).append(f)
    for condition_id in by_market:
        grouped.setdefault(condition_id, [])
    quoting = {c: quoting_for(c, fs, by_market) for c, fs in grouped.items()}
    paths = mid_paths(mids, quoting)
    label = dict(names or {})
    label.update({m.condition_id: m.name for m in markets})
    results = []
    for condition_id, market_fills in grouped.items():
        path = paths.get(condition_id, MidPath())
        mark = (marks or {}).get(condition_id, path.last())
        results.append(
            _market(
                condition_id,
                label.get(condition_id, ""),
                market_fills,
                quoting[condition_id],
                path,
                mark,
                now=now,
                since=since,
                horizons=horizons,
            )
        )
    results.sort(key=lambda m: (m.name or "~", m.condition_id))
    total = Totals(
        realized=sum((m.realized for m in results), ZERO),
        unrealized=sum((m.unrealized for m in results), ZERO),
        fees=sum((m.fees for m in results), ZERO),
        volume=sum((m.volume for m in results), ZERO),
        fills=sum(m.fills for m in results),
        opening_unrealized=sum((m.opening_unrealized for m in results), ZERO),
    )
    return PnlReport(markets=tuple(results), total=total, as_of=now, since=since)


def _market(
    condition_id: str,
    name: str,
    fills: Sequence[Fill],
    quoting: Quoting,
    path: MidPath,
    mark: Decimal | None,
    *,
    now: float,
    since: float | None,
    horizons: Sequence[float],
) -> MarketPnl:
    position = Position()
    realized = fees = volume = ZERO
    count = 0
    opening: Decimal | None = None
    markout_sum = {h: ZERO for h in horizons}
    markout_size = {h: ZERO for h in horizons}
    markout_fills = dict.fromkeys(horizons, 0)
    for f in fills:
        if since is not None and opening is None and f.fill_time >= since:
            opening = position.unrealized(path.at(since, float("inf")))
        quantity, price = quoting.signed(f)
        gained = position.apply(quantity, price)
        if since is not None and f.fill_time < since:
            continue
        realized += gained - f.record.fee
        fees += f.record.fee
        volume += f.record.notional
        count += 1
        before = path.at(f.fill_time)
        if before is None:
            continue
        direction = 1 if quantity > 0 else -1
        for h in horizons:
            if f.fill_time + h > now:
                continue
            after = path.at(f.fill_time + h)
            if after is None:
                continue
            size = abs(quantity)
            markout_sum[h] += direction * (after - before) * size
            markout_size[h] += size
            markout_fills[h] += 1
    if since is not None and opening is None:
        opening = position.unrealized(path.at(since, float("inf")))
    with localcontext(_PRECISION):
        markouts = tuple(
            Markout(h, markout_sum[h] / markout_size[h] if markout_size[h] else None, markout_fills[h])
            for h in horizons
        )
    return MarketPnl(
        name=name,
        condition_id=condition_id,
        token_id="" if quoting.quoted.startswith("complement-of-") else quoting.quoted,
        position=position.quantity,
        average_cost=position.average_cost,
        mid=mark,
        realized=realized,
        unrealized=position.unrealized(mark),
        fees=fees,
        volume=volume,
        fills=count,
        markouts=markouts,
        opening_unrealized=opening or ZERO,
    )


def pnl_series(
    fills: Sequence[Fill], mids: Sequence[MidSample], *, markets: Sequence[MarketRecord] = ()
) -> dict[str, list[SeriesPoint]]:
    """Position and cumulative PnL (net of fees, marked at the mid known then) per market, at every fill and mid."""
    by_market = {m.condition_id: m for m in markets}
    grouped: dict[str, list[Fill]] = {}
    for f in sorted(fills, key=lambda f: (f.fill_time, f.record.trade_id, f.record.order_id)):
        if not f.failed:
            grouped.setdefault(f.record.condition_id, []).append(f)
    quoting = {c: quoting_for(c, fs, by_market) for c, fs in grouped.items()}
    paths = mid_paths(mids, quoting)
    series: dict[str, list[SeriesPoint]] = {}
    for condition_id, market_fills in grouped.items():
        path = paths.get(condition_id, MidPath())
        events: list[tuple[float, int, Fill | None]] = [(f.fill_time, 1, f) for f in market_fills]
        events += [(t, 0, None) for t in path.times]
        events.sort(key=lambda e: (e[0], e[1]))
        position, fees, points = Position(), ZERO, []
        for at, _, fill in events:
            if fill is not None:
                position.apply(*quoting[condition_id].signed(fill))
                fees += fill.record.fee
            mid = path.at(at, float("inf"))
            points.append(SeriesPoint(at, position.quantity, position.realized - fees + position.unrealized(mid)))
        series[condition_id] = points
    return series


def markout_curve(
    fills: Sequence[Fill],
    mids: Sequence[MidSample],
    *,
    now: float,
    horizons: Sequence[float],
    markets: Sequence[MarketRecord] = (),
) -> dict[str, tuple[Markout, ...]]:
    """Markouts at many horizons per market (the report's curves)."""
    report = compute_pnl(fills, mids, now=now, markets=markets, horizons=horizons)
    return {m.condition_id: m.markouts for m in report.markets}
