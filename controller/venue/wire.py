"""Exchange REST bodies parsed and validated once, into typed frozen values.

Nothing downstream of the venue sees a raw exchange dict. Every parser here is pure,
raises only :class:`~controller.venue.errors.VenueError` with a one-line message, and
may not do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from controller.observe.state import Book, Level, OpenOrder
from controller.venue.errors import Ambiguous, VenueError
from controller.venue.orders import CancelResult

_ONE_E6 = Decimal(1_000_000)


@dataclass(frozen=True)
class MarketInfo:
    condition_id: str
    tokens: dict[str, str]  # outcome label (lower case) -> token id
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool
    accepting_orders: bool

    @property
    def token_ids(self) -> tuple[str, ...]:
        return tuple(self.tokens.values())


@dataclass(frozen=True)
class BookSnapshot:
    token_id: str
    market: str
    book: Book
    hash: str
    timestamp: str
    tick_size: Decimal | None
    last_trade_price: Decimal | None


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise VenueError(f"malformed {what}: {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise VenueError(f"malformed {what}: {value!r}") from None
    if not result.is_finite():
        raise VenueError(f"malformed {what}: {value!r}")
    return result


def parse_levels(raw: Any, what: str) -> list[Level]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise VenueError(f"malformed {what}: expected a list")
    levels = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise VenueError(f"malformed {what}: expected price levels")
        levels.append(Level(_dec(item.get("price"), f"{what} price"), _dec(item.get("size"), f"{what} size")))
    return levels


def book_from_levels(bids: Iterable[Level], asks: Iterable[Level]) -> Book:
    """Best-first book from levels in any order (REST sends the best level last)."""
    return Book(
        bids=tuple(sorted((lv for lv in bids if lv.size > 0), key=lambda lv: lv.price, reverse=True)),
        asks=tuple(sorted((lv for lv in asks if lv.size > 0), key=lambda lv: lv.price)),
    )


def parse_book_summary(raw: Any) -> BookSnapshot:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("asset_id"), str):
        raise VenueError("malformed order book response")
    tick = raw.get("tick_size")
    last = raw.get("last_trade_price")
    return BookSnapshot(
        token_id=raw["asset_id"],
        market=str(raw.get("market", "")),
        book=book_from_levels(parse_levels(raw.get("bids"), "bids"), parse_levels(raw.get("asks"), "asks")),
        hash=str(raw.get("hash", "")),
        timestamp=str(raw.get("timestamp", "")),
        tick_size=_dec(tick, "tick_size") if tick not in (None, "") else None,
        last_trade_price=_dec(last, "last_trade_price") if last not in (None, "") else None,
    )


def parse_open_order(raw: Any) -> OpenOrder:
    if not isinstance(raw, Mapping):
        raise VenueError("malformed open order")
    side = raw.get("side")
    if side not in ("BUY", "SELL"):
        raise VenueError(f"malformed open order side: {side!r}")
    return OpenOrder(
        id=str(raw["id"]),
        market=str(raw.get("market", "")),
        token_id=str(raw.get("asset_id", "")),
        side=side,
        price=_dec(raw.get("price"), "order price"),
        size=_dec(raw.get("original_size"), "order size"),
        size_matched=_dec(raw.get("size_matched", "0") or "0", "order size_matched"),
    )


def parse_market_info(condition_id: str, raw: Any) -> MarketInfo:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("t"), list):
        raise VenueError(f"malformed market info for {condition_id}")
    tokens: dict[str, str] = {}
    for token in raw["t"]:
        if isinstance(token, Mapping) and token.get("t"):
            tokens[str(token.get("o", "")).lower() or str(len(tokens))] = str(token["t"])
    return MarketInfo(
        condition_id=condition_id,
        tokens=tokens,
        tick_size=_dec(raw.get("mts"), "minimum tick size"),
        min_order_size=_dec(raw.get("mos", 0), "minimum order size"),
        neg_risk=bool(raw.get("nr", False)),
        accepting_orders=bool(raw.get("ao", True)),
    )


def parse_base_units(value: Any, what: str) -> Decimal:
    return _dec(value, what) / _ONE_E6


def parse_cancel(raw: Any) -> CancelResult:
    if not isinstance(raw, Mapping):
        raise Ambiguous("malformed cancel response")
    canceled = raw.get("canceled") or []
    not_canceled = raw.get("not_canceled") or {}
    if not isinstance(canceled, list) or not isinstance(not_canceled, Mapping):
        raise Ambiguous("malformed cancel response")
    return CancelResult(tuple(str(i) for i in canceled), {str(k): str(v) for k, v in not_canceled.items()})
