"""What one snapshot of the exchange says about our quotes, judged from the exchange's side.

Pure: takes the emulator's ``/admin/state`` document (filtered to our account) and the
bands the run configured, and says per market: the reference price (midpoint of the book
without our orders, as docs/bands.md defines it), which of our orders sit outside every
band, how far each band is over its ``maxAmount``, whether every band is quoted, and the
position and collateral the limits bound. It deliberately shares no code with
``controller.plan``: the run measures the controller, so it must not borrow its judgement.
It never reads a clock or talks to a process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class BandSpec:
    min_margin: Decimal
    avg_margin: Decimal
    max_margin: Decimal
    min_amount: Decimal
    avg_amount: Decimal
    max_amount: Decimal


@dataclass(frozen=True)
class MarketSpec:
    name: str
    condition_id: str
    yes: str
    no: str
    bands: tuple[BandSpec, ...]
    max_spread: Decimal
    max_position: Decimal
    max_collateral: Decimal


@dataclass(frozen=True)
class OrderView:
    id: str
    side: str  # bid | ask, in YES terms
    q: Decimal  # YES-equivalent price
    remaining: Decimal
    text: str  # how a person reads it: "BUY NO 0.47 x 40"


@dataclass
class MarketView:
    reference: Decimal | None
    orders: list[OrderView] = field(default_factory=list)
    out_of_band: list[OrderView] = field(default_factory=list)
    # (side, band index) -> (amount held in the band, largest single order in it)
    held: dict[tuple[str, int], tuple[Decimal, Decimal]] = field(default_factory=dict)
    short: list[tuple[str, int]] = field(default_factory=list)  # bands under minAmount that should not be
    position: Decimal = ZERO  # YES tokens - NO tokens
    committed: Decimal = ZERO  # collateral locked by this market's open buys

    @property
    def quoted(self) -> bool:
        return not self.short


def _levels(book: dict[str, Any], side: str) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book.get(side, [])]


def order_view(row: dict[str, Any], spec: MarketSpec) -> OrderView | None:
    price, size, matched = Decimal(row["price"]), Decimal(row["size"]), Decimal(row.get("sizeMatched", "0"))
    if row["tokenId"] == spec.yes:
        side, q, token = ("bid" if row["side"] == "BUY" else "ask"), price, "YES"
    elif row["tokenId"] == spec.no:
        side, q, token = ("ask" if row["side"] == "BUY" else "bid"), ONE - price, "NO"
    else:
        return None
    text = f"{row['side']} {token} {row['price']} x {size - matched} ({row['id'][:10]}…)"
    return OrderView(row["id"], side, q, size - matched, text)


def reference_price(book: dict[str, Any], ours: list[OrderView], max_spread: Decimal) -> Decimal | None:
    """Midpoint of the YES book with our remaining sizes taken out; None when a side is empty or too wide."""
    sizes: dict[tuple[str, Decimal], Decimal] = {}
    for side in ("bids", "asks"):
        for price, size in _levels(book, side):
            sizes[(side, price)] = sizes.get((side, price), ZERO) + size
    for order in ours:
        key = ("bids" if order.side == "bid" else "asks", order.q)
        if key in sizes:
            sizes[key] -= order.remaining
    bids = [p for (s, p), size in sizes.items() if s == "bids" and size > 0]
    asks = [p for (s, p), size in sizes.items() if s == "asks" and size > 0]
    if not bids or not asks:
        return None
    bid, ask = max(bids), min(asks)
    if bid >= ask or ask - bid > max_spread:
        return None
    return (bid + ask) / 2


def band_of(spec: MarketSpec, p: Decimal, order: OrderView) -> int | None:
    for index, band in enumerate(spec.bands):
        if order.side == "bid" and p - band.max_margin < order.q <= p - band.min_margin:
            return index
        if order.side == "ask" and p + band.min_margin <= order.q < p + band.max_margin:
            return index
    return None


def _limited(spec: MarketSpec, view: MarketView, side: str) -> bool:
    """Whether the limits excuse a short ``side``: a full side would pass maxPosition or maxCollateral."""
    target = sum((b.avg_amount for b in spec.bands), ZERO)
    position = view.position if side == "bid" else -view.position
    if position + target > spec.max_position:
        return True
    price = ONE if view.reference is None else (view.reference if side == "bid" else ONE - view.reference)
    return view.committed + target * price > spec.max_collateral


def market_view(
    spec: MarketSpec, state: dict[str, Any], rows: list[dict[str, Any]], balance: dict[str, Any]
) -> MarketView:
    ours = [v for v in (order_view(r, spec) for r in rows) if v is not None and v.remaining > 0]
    book = state["books"].get(spec.yes, {})
    view = MarketView(reference_price(book, ours, spec.max_spread), orders=ours)
    tokens = balance.get("tokens", {})
    view.position = Decimal(tokens.get(spec.yes, "0")) - Decimal(tokens.get(spec.no, "0"))
    view.committed = sum(
        (
            Decimal(r["price"]) * (Decimal(r["size"]) - Decimal(r.get("sizeMatched", "0")))
            for r in rows
            if r["side"] == "BUY"
        ),
        ZERO,
    )
    p = view.reference
    if p is None:
        view.out_of_band = list(ours)  # no reference price: every quote should have been pulled
        return view
    for order in ours:
        index = band_of(spec, p, order)
        if index is None:
            view.out_of_band.append(order)
            continue
        amount, largest = view.held.get((order.side, index), (ZERO, ZERO))
        view.held[(order.side, index)] = (amount + order.remaining, max(largest, order.remaining))
    for side in ("bid", "ask"):
        short = [i for i, b in enumerate(spec.bands) if view.held.get((side, i), (ZERO, ZERO))[0] < b.min_amount]
        if short and not _limited(spec, view, side):
            view.short.extend((side, i) for i in short)
    return view


def snapshot_views(specs: list[MarketSpec], snapshot: dict[str, Any], owner: str) -> dict[str, MarketView]:
    """Every configured market's view from one ``/admin/state?owner=…`` document."""
    balance = snapshot.get("balances", {}).get(owner.lower(), {})
    by_market: dict[str, list[dict[str, Any]]] = {}
    for row in snapshot.get("orders", []):
        if row["owner"].lower() == owner.lower():
            by_market.setdefault(row.get("market", ""), []).append(row)
    views = {}
    for spec in specs:
        state = snapshot["markets"].get(spec.condition_id)
        if state is not None:
            views[spec.name] = market_view(spec, state, by_market.get(spec.condition_id, []), balance)
    return views


def excused(snapshot: dict[str, Any]) -> str:
    """Why the exchange itself refused every cancel at this moment ("" when it did not)."""
    if snapshot.get("engineRestart", {}).get("phase") == "unavailable":
        return "engine restart (425)"
    faults = snapshot.get("faults", {})
    if faults.get("burst429ActiveFor", 0) > 0:
        return "429 burst"
    if faults.get("tooEarly"):
        return "tooEarly"
    return ""
