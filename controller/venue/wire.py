"""Exchange REST bodies parsed and validated once, into typed frozen values.

The one place that knows the exchange's field names for REST answers, with the one
decimal parser (``plan.ticks.parse_decimal``: exact, finite, bounded), the one parser
of exchange timestamps (epoch seconds or milliseconds) and the one tick-size
definition (``plan.ticks.TICK_SIZES``). Nothing downstream of the venue sees a raw
exchange dict. Every parser is pure and raises only :class:`WireError` (a one-line
``VenueError``); it may not do I/O. WebSocket events are in ``wire_ws``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from controller.observe.state import Book, Level, OpenOrder
from controller.plan.ticks import TICK_SIZES, DecimalParseError, parse_decimal
from controller.venue.errors import VenueError
from controller.venue.orders import CancelResult, PlaceProblem

_ONE = Decimal(1)
_ONE_E6 = Decimal(1_000_000)
_MAX_ID = 128
_MAX_TOKEN_DIGITS = 78  # a uint256 in decimal
TICK_TEXTS: frozenset[str] = frozenset(format(t, "f") for t in TICK_SIZES)


class WireError(VenueError):
    """An exchange answer (or one item of it) is malformed. The message is one line."""


# --------------------------------------------------------------------------- primitives


def decimal(value: Any, what: str) -> Decimal:
    """The one decimal parser for exchange numbers (JSON numbers or decimal strings)."""
    try:
        return parse_decimal(value)
    except DecimalParseError as exc:
        raise WireError(f"malformed {what}: {exc} (got {_show(value)})") from None


def non_negative(value: Any, what: str) -> Decimal:
    result = decimal(value, what)
    if result < 0:
        raise WireError(f"malformed {what}: must not be negative (got {_show(value)})")
    return result


def price(value: Any, what: str) -> Decimal:
    result = decimal(value, what)
    if not 0 <= result <= _ONE:
        raise WireError(f"malformed {what}: must be between 0 and 1 (got {_show(value)})")
    return result


def optional_price(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else price(value, what)


def tick_size(value: Any, what: str = "tick size") -> Decimal:
    """One of the exchange's tick sizes (0.1 … 0.0001), whatever form it came in."""
    result = decimal(value, what)
    for tick in TICK_SIZES:
        if result == tick:
            return tick
    raise WireError(f"malformed {what}: not one of {', '.join(sorted(TICK_TEXTS))} (got {_show(value)})")


def tick_text(tick: Decimal) -> str:
    """The exact text the official client indexes its rounding table by ("0.01", never "0.010")."""
    text = format(tick.normalize(), "f")
    if text not in TICK_TEXTS:
        raise WireError(f"unsupported tick size {text}")
    return text


def exchange_time(value: Any, what: str = "timestamp") -> float | None:
    """The one parser of exchange timestamps: epoch seconds or milliseconds (as digits or
    an integer) to epoch seconds; ``None`` when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise WireError(f"malformed {what}: must be epoch seconds or milliseconds (got {_show(value)})")
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise WireError(f"malformed {what}: must be epoch seconds or milliseconds (got {_show(value)})")
    number = int(text)
    # Milliseconds since 1970 passed 10**11 in 1973; seconds will not reach it for millennia.
    return number / 1000 if number >= 10**11 else float(number)


def iso_time(value: Any, what: str) -> datetime | None:
    """The one parser of ISO 8601 exchange times (``Z`` or an offset; none means UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise WireError(f"malformed {what}: expected an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WireError(f"malformed {what}: {_show(value)}") from None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def identifier(value: Any, what: str) -> str:
    """An order id, condition id or the like: a short printable string without spaces."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID or not value.isprintable() or " " in value:
        raise WireError(f"malformed {what}: must be a non-empty id string (got {_show(value)})")
    return value


def token_id(value: Any, what: str = "asset_id") -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _MAX_TOKEN_DIGITS
        or not value.isascii()
        or not value.isdigit()
    ):
        raise WireError(f"malformed {what}: must be a decimal token id (got {_show(value)})")
    return value


def side(value: Any, what: str = "side") -> Literal["BUY", "SELL"]:
    if value == "BUY":
        return "BUY"
    if value == "SELL":
        return "SELL"
    raise WireError(f"malformed {what}: must be BUY or SELL (got {_show(value)})")


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"malformed {what}: expected an object, got {_kind(value)}")
    return value


def text(value: Any, what: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise WireError(f"malformed {what}: expected a string, got {_kind(value)}")
    return value


def levels(raw: Any, what: str) -> list[Level]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WireError(f"malformed {what}: expected a list, got {_kind(raw)}")
    out = []
    for item in raw:
        level = mapping(item, f"{what} level")
        out.append(Level(price(level.get("price"), f"{what} price"), non_negative(level.get("size"), f"{what} size")))
    return out


def book_from_levels(bids: Iterable[Level], asks: Iterable[Level], last: Decimal | None = None) -> Book:
    """Best-first book from levels in any order (the exchange sends the best level last)."""
    return Book.from_levels(bids, asks, last)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


# --------------------------------------------------------------------------- REST values


@dataclass(frozen=True)
class MarketInfo:
    """The market's rules (``GET /clob-markets/{condition_id}``)."""

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
    timestamp: float | None  # epoch seconds
    tick_size: Decimal | None
    last_trade_price: Decimal | None


@dataclass(frozen=True)
class PostAnswer:
    """One item of a ``POST /orders`` answer."""

    accepted: bool
    order_id: str
    status: str  # live, matched, delayed, unmatched (lower case)
    error: str


@dataclass(frozen=True)
class OpenOrders:
    """``GET /data/orders``: the orders that parsed, and one line per item that did not."""

    orders: tuple[OpenOrder, ...]
    problems: tuple[str, ...] = ()
    # Markets whose list is incomplete (a bad item names them); None: a bad item named no
    # market, so no market's list can be trusted to be whole.
    incomplete: frozenset[str] | None = frozenset()

    def complete_for(self, condition_id: str) -> bool:
        return self.incomplete is not None and condition_id not in self.incomplete


# --------------------------------------------------------------------------- REST parsers


def parse_market_info(condition_id: str, raw: Any) -> MarketInfo:
    body = mapping(raw, f"market info for {condition_id}")
    if not isinstance(body.get("t"), list):
        raise WireError(f"malformed market info for {condition_id}: no token list")
    tokens: dict[str, str] = {}
    for item in body["t"]:
        if not isinstance(item, Mapping) or not item.get("t"):
            continue
        label = text(item.get("o"), "outcome label").lower() or str(len(tokens))
        tokens[label] = token_id(item.get("t"), "market token id")
    accepting = body.get("ao", True)
    neg_risk = body.get("nr", False)
    if not isinstance(accepting, bool) or not isinstance(neg_risk, bool | None):
        raise WireError(f"malformed market info for {condition_id}: ao/nr must be booleans")
    return MarketInfo(
        condition_id=condition_id,
        tokens=tokens,
        tick_size=tick_size(body.get("mts"), "minimum tick size"),
        min_order_size=non_negative(body.get("mos", 0), "minimum order size"),
        neg_risk=bool(neg_risk),
        accepting_orders=accepting,
    )


def parse_end_time(raw: Any) -> datetime | None:
    """``end_date_iso`` of a market (``GET /markets/{id}``) as an aware UTC time; None if absent."""
    return iso_time(mapping(raw, "market").get("end_date_iso"), "end_date_iso")


def is_position_market(raw: Any) -> bool:
    """A Protocol V2 market (``version: "v2"`` in ``GET /markets/{id}``): its outcomes are
    position ids and its orders are signed for Exchange V3."""
    return mapping(raw, "market").get("version") == "v2"


def parse_book_summary(raw: Any) -> BookSnapshot:
    body = mapping(raw, "order book")
    tick = body.get("tick_size")
    last = optional_price(body.get("last_trade_price"), "last_trade_price")
    return BookSnapshot(
        token_id=token_id(body.get("asset_id")),
        market=text(body.get("market"), "book market"),
        book=book_from_levels(levels(body.get("bids"), "bids"), levels(body.get("asks"), "asks")),
        hash=text(body.get("hash"), "book hash"),
        timestamp=exchange_time(body.get("timestamp")),
        tick_size=None if tick in (None, "") else tick_size(tick),
        last_trade_price=last,
    )


def parse_books(raw: Any) -> list[BookSnapshot]:
    if not isinstance(raw, list):
        raise WireError(f"malformed /books answer: expected a list, got {_kind(raw)}")
    return [parse_book_summary(item) for item in raw]


def parse_open_order(raw: Any) -> OpenOrder:
    body = mapping(raw, "open order")
    if "id" not in body:
        raise WireError("malformed open order: no id")
    order_id = identifier(body.get("id"), "open order id")
    where = f"open order {order_id}"
    return OpenOrder(
        id=order_id,
        market=text(body.get("market"), f"{where} market"),
        token_id=text(body.get("asset_id"), f"{where} asset_id"),
        side=side(body.get("side"), f"{where} side"),
        price=price(body.get("price"), f"{where} price"),
        size=non_negative(body.get("original_size"), f"{where} size"),
        size_matched=non_negative(body.get("size_matched") or "0", f"{where} size_matched"),
    )


def parse_open_orders(raw: Any) -> OpenOrders:
    """Every item that parses; a bad item is a problem line, never the end of the list."""
    if not isinstance(raw, list):
        raise WireError(f"malformed open orders answer: expected a list, got {_kind(raw)}")
    orders, problems = [], []
    incomplete: set[str] | None = set()
    for index, item in enumerate(raw):
        try:
            orders.append(parse_open_order(item))
        except WireError as exc:
            problems.append(f"item {index}: {exc}")
            market = item.get("market") if isinstance(item, Mapping) else None
            if incomplete is not None and isinstance(market, str) and market:
                incomplete.add(market)
            else:
                incomplete = None
    return OpenOrders(tuple(orders), tuple(problems), None if incomplete is None else frozenset(incomplete))


def parse_balance(raw: Any, what: str) -> Decimal:
    """A ``balance-allowance`` answer: 6-decimal base units to shares / pUSD."""
    return non_negative(mapping(raw, f"{what} balance").get("balance"), f"{what} balance") / _ONE_E6


def parse_base_units(value: Any, what: str) -> Decimal:
    return non_negative(value, what) / _ONE_E6


def parse_heartbeat(raw: Any) -> str:
    return identifier(mapping(raw, "heartbeat answer").get("heartbeat_id"), "heartbeat_id")


def heartbeat_expected_id(error_body: Any) -> str | None:
    """The id a 400 ``Invalid Heartbeat ID`` answer says the chain expects, if it names one."""
    if not isinstance(error_body, Mapping):
        return None
    try:
        return identifier(error_body.get("heartbeat_id"), "heartbeat_id")
    except WireError:
        return None


def parse_post_answer(raw: Any) -> PostAnswer | None:
    """One ``POST /orders`` item; ``None`` when it is not even an object (no answer)."""
    if not isinstance(raw, Mapping):
        return None
    error = raw.get("errorMsg") or raw.get("error") or ""
    error = error if isinstance(error, str) else _show(error)
    order_id = raw.get("orderID")
    order_id = order_id if isinstance(order_id, str) else ""
    status = raw.get("status")
    status = status.lower() if isinstance(status, str) and status else "live"
    # Only the JSON literal true is an acceptance: "-1", "NaN" or 1 are not.
    return PostAnswer(raw.get("success") is True and not error, order_id, status, error)


def classify_rejection(error: str) -> PlaceProblem:
    """The exchange names a rejection only in words: read them once, here, into a code."""
    text = error.lower()
    if "tick size" in text or "tick_size" in text:  # "breaks minimum tick size rule", "invalid tick size"
        return PlaceProblem.OFF_GRID
    if "order_version_mismatch" in text:
        return PlaceProblem.VERSION_MISMATCH
    if "lower than the minimum" in text:
        return PlaceProblem.BELOW_MIN_SIZE
    if "post-only mode" in text or "post_only_mode" in text:  # the window after an engine restart
        return PlaceProblem.POST_ONLY_MODE
    if "market is closed" in text or "not accepting orders" in text or "market closed" in text:
        return PlaceProblem.MARKET_CLOSED
    return PlaceProblem.REJECTED


def parse_cancel(raw: Any) -> CancelResult:
    """A cancel answer; a malformed one raises :class:`WireError` (callers treat it as unknown)."""
    body = mapping(raw, "cancel answer")
    canceled = body.get("canceled")
    canceled = [] if canceled is None else canceled
    not_canceled = body.get("not_canceled")
    not_canceled = {} if not_canceled is None else not_canceled
    if not isinstance(canceled, list) or not isinstance(not_canceled, Mapping):
        raise WireError("malformed cancel answer: canceled must be a list, not_canceled an object")
    return CancelResult(
        tuple(identifier(i, "cancelled id") for i in canceled),
        {identifier(k, "not-cancelled id"): text(v, "cancel reason", "")[:200] for k, v in not_canceled.items()},
    )


# Old names kept for callers of the first version of this module.
parse_levels = levels
