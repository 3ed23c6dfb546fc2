"""WebSocket frames of the market and user channels, decoded once into typed events.

A frame is hostile until this module says otherwise: its size and nesting are bounded
before decoding (``boundedjson``), every event is validated field by field, and what
fails is *counted* as a :class:`Reject` with a reason code — never raised. Events of
kinds we do not use (``best_bid_ask``, ``new_market``…) are skipped quietly. Pure: no
I/O, no clocks; the stream shell calls :func:`decode_frame`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from controller.observe.state import Book, Side
from controller.venue import wire
from controller.venue.boundedjson import JsonRejected, decode
from controller.venue.wire import WireError

Channel = Literal["market", "user"]


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class BookEvent:
    token_id: str
    market: str
    book: Book
    hash: str
    timestamp: float | None
    tick_size: Decimal | None


@dataclass(frozen=True)
class LevelChange:
    token_id: str
    side: Side  # the book side of the level: BUY = bids, SELL = asks
    price: Decimal
    size: Decimal  # the level's new total; 0 removes it
    hash: str
    # The token's best bid and ask after the change, as the exchange says (None for an empty
    # side); None when the frame did not say: a local book that disagrees has missed a message.
    top: tuple[Decimal | None, Decimal | None] | None = None


@dataclass(frozen=True)
class PriceChangeEvent:
    market: str
    changes: tuple[LevelChange, ...]
    timestamp: float | None


@dataclass(frozen=True)
class TickSizeChangeEvent:
    token_id: str
    market: str
    old_tick_size: Decimal | None
    new_tick_size: Decimal
    timestamp: float | None


@dataclass(frozen=True)
class LastTradePriceEvent:
    token_id: str
    market: str
    price: Decimal
    timestamp: float | None


class OrderAction(enum.Enum):
    PLACEMENT = "PLACEMENT"
    UPDATE = "UPDATE"
    CANCELLATION = "CANCELLATION"


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    market: str
    token_id: str
    action: OrderAction
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: str  # upper case: LIVE, MATCHED, CANCELED, …
    timestamp: float | None


@dataclass(frozen=True)
class TradeEvent:
    trade_id: str
    market: str
    token_id: str
    status: str
    timestamp: float | None


MarketEvent = BookEvent | PriceChangeEvent | TickSizeChangeEvent | LastTradePriceEvent
UserEvent = OrderEvent | TradeEvent
Event = MarketEvent | UserEvent


class RejectReason(enum.Enum):
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MALFORMED = "malformed"
    INTERNAL = "internal"  # a decoder bug: counted, never raised


@dataclass(frozen=True)
class Reject:
    reason: RejectReason
    detail: str  # one line, at most ~200 characters, no secrets (frames carry none)


@dataclass(frozen=True)
class Decoded:
    events: tuple[Event, ...] = ()
    rejects: tuple[Reject, ...] = ()
    pong: bool = False
    # The raw object of each accepted event, in step with ``events`` (for callers that
    # still take dicts); never read by the store.
    sources: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class FrameLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 32


# --------------------------------------------------------------------------- decoding


def decode_frame(
    channel: Channel, data: Any, limits: FrameLimits = FrameLimits(), *, keep_sources: bool = True
) -> Decoded:
    """Decode one frame of ``channel``. Never raises. ``keep_sources=False`` skips the raw
    copies (``Decoded.sources`` stays empty) when nobody wants dicts."""
    try:
        return _decode_frame(channel, data, limits, keep_sources)
    except Exception as exc:  # belt and braces: a frame must never kill the stream thread
        return Decoded(rejects=(Reject(RejectReason.INTERNAL, type(exc).__name__),))


def _decode_frame(channel: Channel, data: Any, limits: FrameLimits, keep_sources: bool) -> Decoded:
    if data == "PONG" or data == b"PONG":
        return Decoded(pong=True)
    if not isinstance(data, str | bytes | bytearray):
        return Decoded(rejects=(Reject(RejectReason.NOT_JSON, f"a {type(data).__name__} frame"),))
    try:
        payload = decode(data, max_bytes=limits.max_bytes, max_depth=limits.max_depth)
    except JsonRejected as exc:
        return Decoded(rejects=(Reject(RejectReason(exc.problem.value), str(exc)),))
    items = payload if isinstance(payload, list) else [payload]
    events: list[Event] = []
    sources: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for item in items:
        if not isinstance(item, Mapping):
            rejects.append(Reject(RejectReason.NOT_AN_OBJECT, f"a {type(item).__name__} in the frame"))
            continue
        try:
            event = decode_event(channel, item)
        except WireError as exc:
            rejects.append(Reject(RejectReason.MALFORMED, f"{_kind(item)}: {exc}"[:200]))
            continue
        if event is not None:
            events.append(event)
            if keep_sources:
                sources.append(dict(item))
    return Decoded(tuple(events), tuple(rejects), sources=tuple(sources))


def decode_event(channel: Channel, item: Mapping[str, Any]) -> Event | None:
    """One event object; ``None`` for kinds we do not use; :class:`WireError` if malformed."""
    kind = item.get("event_type")
    decoder = (_MARKET if channel == "market" else _USER).get(kind) if isinstance(kind, str) else None
    return decoder(item) if decoder is not None else None


def decode_market_event(item: Mapping[str, Any]) -> MarketEvent | None:
    event = decode_event("market", item)
    assert event is None or isinstance(event, BookEvent | PriceChangeEvent | TickSizeChangeEvent | LastTradePriceEvent)
    return event


def decode_user_event(item: Mapping[str, Any]) -> UserEvent | None:
    event = decode_event("user", item)
    assert event is None or isinstance(event, OrderEvent | TradeEvent)
    return event


def _kind(item: Mapping[str, Any]) -> str:
    kind = item.get("event_type")
    return kind[:30] if isinstance(kind, str) else "event"


def _book(item: Mapping[str, Any]) -> BookEvent:
    tick = item.get("tick_size")
    return BookEvent(
        token_id=wire.token_id(item.get("asset_id")),
        market=wire.text(item.get("market"), "market"),
        book=wire.book_from_levels(
            wire.levels(_required(item, "bids"), "bids"),
            wire.levels(_required(item, "asks"), "asks"),
            wire.optional_price(item.get("last_trade_price"), "last_trade_price"),
        ),
        hash=wire.text(item.get("hash"), "hash"),
        timestamp=wire.exchange_time(item.get("timestamp")),
        tick_size=None if tick in (None, "") else wire.tick_size(tick),
    )


def _price_change(item: Mapping[str, Any]) -> PriceChangeEvent:
    raw = item.get("price_changes")
    if not isinstance(raw, list):
        raise WireError("malformed price_changes: expected a list")
    changes = []
    for change in raw:
        entry = wire.mapping(change, "price change")
        changes.append(
            LevelChange(
                token_id=wire.token_id(entry.get("asset_id")),
                side=wire.side(entry.get("side")),
                price=_level_price(entry.get("price")),
                size=_level_size(entry.get("size")),
                hash=wire.text(entry.get("hash"), "hash"),
                top=_top(entry.get("best_bid"), entry.get("best_ask")),
            )
        )
    return PriceChangeEvent(
        market=wire.text(item.get("market"), "market"),
        changes=tuple(changes),
        timestamp=wire.exchange_time(item.get("timestamp")),
    )


def _top(best_bid: Any, best_ask: Any) -> tuple[Decimal | None, Decimal | None] | None:
    """``best_bid`` / ``best_ask`` of a price change ("0" / "1" or "" for an empty side). Both
    are optional, and a malformed one only loses the check, never the change itself."""
    if best_bid is None or best_ask is None:
        return None
    try:
        bid = None if best_bid == "" else _level_price(best_bid)
        ask = None if best_ask == "" else _level_price(best_ask)
    except WireError:
        return None
    return (None if bid == 0 else bid), (None if ask == 1 else ask)


# A book message repeats a few price and size texts ("0.49", "50") and the next one the same
# again: each text is parsed and checked once (the same parser, the same errors, which are
# never cached), then looked up. Only exact ``str``: a subclass could hash as it likes.
@functools.lru_cache(maxsize=4096)
def _price_text(text: str) -> Decimal:
    return wire.price(text, "price")


@functools.lru_cache(maxsize=4096)
def _size_text(text: str) -> Decimal:
    return wire.non_negative(text, "size")


def _level_price(value: Any) -> Decimal:
    return _price_text(value) if type(value) is str else wire.price(value, "price")


def _level_size(value: Any) -> Decimal:
    return _size_text(value) if type(value) is str else wire.non_negative(value, "size")


def _tick_size_change(item: Mapping[str, Any]) -> TickSizeChangeEvent:
    old = item.get("old_tick_size")
    return TickSizeChangeEvent(
        token_id=wire.token_id(item.get("asset_id")),
        market=wire.text(item.get("market"), "market"),
        old_tick_size=None if old in (None, "") else wire.tick_size(old, "old_tick_size"),
        new_tick_size=wire.tick_size(item.get("new_tick_size"), "new_tick_size"),
        timestamp=wire.exchange_time(item.get("timestamp")),
    )


def _last_trade_price(item: Mapping[str, Any]) -> LastTradePriceEvent:
    return LastTradePriceEvent(
        token_id=wire.token_id(item.get("asset_id")),
        market=wire.text(item.get("market"), "market"),
        price=wire.price(item.get("price"), "price"),
        timestamp=wire.exchange_time(item.get("timestamp")),
    )


def _order(item: Mapping[str, Any]) -> OrderEvent:
    action = wire.text(item.get("type"), "order type").upper()
    try:
        kind = OrderAction(action)
    except ValueError:
        raise WireError(f"malformed order type: {action[:20]!r}") from None
    return OrderEvent(
        order_id=wire.identifier(item.get("id"), "order id"),
        market=wire.identifier(item.get("market"), "market"),
        token_id=wire.token_id(item.get("asset_id")),
        action=kind,
        side=wire.side(item.get("side")),
        price=wire.price(item.get("price"), "price"),
        original_size=wire.non_negative(item.get("original_size"), "original_size"),
        size_matched=wire.non_negative(item.get("size_matched") or "0", "size_matched"),
        status=wire.text(item.get("status"), "status").upper()[:40],
        timestamp=wire.exchange_time(item.get("timestamp")),
    )


def _trade(item: Mapping[str, Any]) -> TradeEvent:
    return TradeEvent(
        trade_id=wire.identifier(item.get("id"), "trade id"),
        market=wire.identifier(item.get("market"), "market"),
        token_id=wire.token_id(item.get("asset_id")),
        status=wire.text(item.get("status"), "status").upper()[:40],
        timestamp=wire.exchange_time(item.get("timestamp")),
    )


def _required(item: Mapping[str, Any], key: str) -> Any:
    if key not in item:
        raise WireError(f"malformed {_kind(item)}: no {key}")
    return item[key]


_MARKET: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "book": _book,
    "price_change": _price_change,
    "tick_size_change": _tick_size_change,
    "last_trade_price": _last_trade_price,
}
_USER: dict[str, Callable[[Mapping[str, Any]], Event]] = {"order": _order, "trade": _trade}
