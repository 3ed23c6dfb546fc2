"""Observed-state snapshots as JSON (``schemas/state.schema.json``), for ``bandctl diff --state``.

Shape (Polymarket's own field names; every number may be a JSON number or a decimal string)::

    {"time": "2026-11-23T12:00:00Z",
     "markets": {"<conditionId>": {"tickSize": "0.01", "minOrderSize": "5", "negRisk": false,
                  "lastTradePrice": "0.50",                                  # optional
                  "books": {"<tokenId>": {"bids": [{"price": "0.49", "size": "120"}],
                                          "asks": [{"price": "0.51", "size": "80"}],
                                          "lastTradePrice": "0.50"}}}},      # optional
     "balances": {"collateral": "100", "tokens": {"<tokenId>": "0"}},
     "orders": [{"id": "0xabc", "market": "<conditionId>", "tokenId": "<tokenId>",
                 "side": "BUY", "price": "0.48", "size": "5", "sizeMatched": "0"}]}

The file is hostile input. Every problem becomes one :class:`StateFileError` whose text is
one line, ``<source>: <field path>: <what is wrong>``; nothing half-parsed escapes.

Decisions:

* ``time`` is optional (``null`` or absent); when present it must carry a UTC offset.
* Unknown keys are errors (a typo such as ``tickSzie`` must not silently drop data);
  only a top-level ``$schema`` is tolerated. Duplicate keys in one object are errors.
* Book levels may come in any order (REST sends the best level last); they are sorted
  best-first, levels at the same price are merged, zero-size levels dropped.
* Prices must be strictly inside (0, 1). Book and order prices are *not* required to be on
  the tick grid: a tick-size change can leave resting orders off the new grid.
* ``tickSize`` must be one the official client accepts (0.1 ... 0.0001).
* Sizes and balances must be >= 0; an order's ``size`` must be > 0 and
  ``sizeMatched <= size``. Duplicate order ids are errors.
* Orders for markets that are not in ``markets`` are accepted: they are ours and lock
  balance even if this snapshot carries no book for them. The planner only touches
  orders of markets it manages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.plan.ticks import ZERO, DecimalParseError, format_decimal, is_tick_size, parse_decimal
from controller.spec.textfile import UnreadableFile, json_kind, read_text

MAX_FILE_BYTES = 64 * 1024 * 1024

_ONE = Decimal(1)


class StateFileError(ValueError):
    """A snapshot could not be read; ``str()`` is a one-line message naming file and field."""


class _Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


# -- reading ----------------------------------------------------------------------------


def load_state(path: str | Path) -> ObservedState:
    """Read and validate a snapshot file. Raises :class:`StateFileError` only."""
    source = str(path)
    try:
        text = read_text(path, MAX_FILE_BYTES, expected="a state file must be UTF-8 JSON")
    except UnreadableFile as exc:
        raise StateFileError(f"{source}: {exc}") from None
    return state_from_text(text, source=source)


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
MAX_DEPTH = 32  # a snapshot nests 7 deep; json's C parser can overflow the C stack on 10**5


def _too_deep(text: str) -> bool:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in "]}":
            depth -= 1
    return False


def state_from_text(text: str, source: str = "state.json") -> ObservedState:
    """Parse JSON text (numbers are read as exact decimals, never floats)."""
    if _too_deep(text):
        raise StateFileError(f"{source}: invalid JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except _Invalid as exc:
        raise StateFileError(f"{source}: {exc}") from None
    except (RecursionError, ValueError) as exc:  # absurd nesting, 5000-digit integers
        raise StateFileError(f"{source}: invalid JSON: {_one_line(exc)}") from None
    return state_from_json(obj, source=source)


def _reject_constant(name: str) -> Any:
    raise _Invalid("", f"invalid JSON: {name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid("", f"invalid JSON: duplicate key {key!r}")
        result[key] = value
    return result


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def state_from_json(obj: Any, source: str = "state.json") -> ObservedState:
    """Validate an already-decoded JSON value. Raises :class:`StateFileError` only."""
    try:
        return _state(obj)
    except _Invalid as exc:
        raise StateFileError(f"{source}: {exc}") from None
    except (RecursionError, ArithmeticError, TypeError, ValueError) as exc:
        # Defence in depth: a gap in the checks below must still be a clean error.
        raise StateFileError(f"{source}: invalid state: {_one_line(exc)}") from None


def _state(obj: Any) -> ObservedState:
    top = _object(obj, "", required=("markets",), optional=("time", "balances", "orders", "placedIds", "$schema"))
    time = _time(top.get("time"), "time")
    markets_obj = _object(top["markets"], "markets")
    markets = {_key(cid, "markets"): _market(m, f"markets.{cid}") for cid, m in markets_obj.items()}
    balances = _balances(top.get("balances", {}), "balances")
    orders_list = top.get("orders", [])
    if not isinstance(orders_list, list):
        raise _Invalid("orders", "must be a list")
    orders = tuple(_order(o, f"orders[{i}]") for i, o in enumerate(orders_list))
    seen: dict[str, int] = {}
    for i, order in enumerate(orders):
        if order.id in seen:
            raise _Invalid(f"orders[{i}].id", f"duplicate order id {order.id!r} (also orders[{seen[order.id]}])")
        seen[order.id] = i
    placed = top.get("placedIds", [])
    if not isinstance(placed, list):
        raise _Invalid("placedIds", "must be a list of order ids")
    placed_ids = frozenset(_string(p, f"placedIds[{i}]") for i, p in enumerate(placed))
    return ObservedState(time=time, markets=markets, balances=balances, orders=orders, placed_ids=placed_ids)


def _object(
    obj: Any, path: str, required: tuple[str, ...] = (), optional: tuple[str, ...] | None = None
) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise _Invalid(path or "(top level)", f"must be an object, got {json_kind(obj)}")
    for key in required:
        if key not in obj:
            raise _Invalid(_join(path, key), "is required")
    if optional is not None:
        allowed = set(required) | set(optional)
        for key in obj:
            if key not in allowed:
                raise _Invalid(_join(path, str(key)), f"unknown field (expected one of {', '.join(sorted(allowed))})")
    return obj


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_id(text: Any) -> bool:
    # Ids end up in one-line error messages and in rendered plans: no control characters.
    return (
        isinstance(text, str) and 0 < len(text) <= 200 and text.strip() == text and all(c.isprintable() for c in text)
    )


def _key(key: Any, path: str) -> str:
    if not _is_id(key):
        raise _Invalid(path, f"key {str(key)[:60]!r} must be a non-empty printable id string")
    return key


def _string(obj: Any, path: str) -> str:
    if not _is_id(obj):
        raise _Invalid(path, "must be a non-empty printable string (at most 200 characters)")
    return obj


def _decimal(obj: Any, path: str) -> Decimal:
    try:
        return parse_decimal(obj)
    except DecimalParseError as exc:
        raise _Invalid(path, str(exc)) from None


def _non_negative(obj: Any, path: str) -> Decimal:
    value = _decimal(obj, path)
    if value < 0:
        raise _Invalid(path, f"must not be negative, got {format_decimal(value)}")
    return value


def _price(obj: Any, path: str) -> Decimal:
    value = _decimal(obj, path)
    if not ZERO < value < _ONE:
        raise _Invalid(path, f"must be strictly between 0 and 1, got {format_decimal(value)}")
    return value


def _time(obj: Any, path: str) -> datetime | None:
    if obj is None:
        return None
    if not isinstance(obj, str):
        raise _Invalid(path, "must be an RFC 3339 timestamp string")
    try:
        return parse_rfc3339(obj)
    except ValueError as exc:
        raise _Invalid(path, str(exc)) from None


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset; returns an aware UTC datetime."""
    if len(text) > 64:
        raise ValueError("must be an RFC 3339 timestamp, e.g. 2026-11-23T12:00:00Z")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be an RFC 3339 timestamp, e.g. 2026-11-23T12:00:00Z, got {text!r}") from None
    if value.tzinfo is None or "T" not in text.upper():
        raise ValueError(f"must be an RFC 3339 timestamp with a UTC offset (…Z or …+00:00), got {text!r}")
    return value.astimezone(UTC)


def _market(obj: Any, path: str) -> MarketState:
    m = _object(
        obj,
        path,
        required=("tickSize", "minOrderSize", "books"),
        optional=("negRisk", "lastTradePrice"),
    )
    tick = _decimal(m["tickSize"], f"{path}.tickSize")
    if not is_tick_size(tick):
        raise _Invalid(f"{path}.tickSize", "must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001")
    min_size = _non_negative(m["minOrderSize"], f"{path}.minOrderSize")
    neg_risk = m.get("negRisk", False)
    if not isinstance(neg_risk, bool):
        raise _Invalid(f"{path}.negRisk", "must be true or false")
    books_obj = _object(m["books"], f"{path}.books")
    books = {_key(t, f"{path}.books"): _book(b, f"{path}.books.{t}") for t, b in books_obj.items()}
    return MarketState(
        tick_size=tick,
        min_order_size=min_size,
        neg_risk=neg_risk,
        books=books,
        last_trade_price=_optional_price(m.get("lastTradePrice"), f"{path}.lastTradePrice"),
    )


def _optional_price(obj: Any, path: str) -> Decimal | None:
    # Polymarket reports "" when a token never traded.
    if obj is None or obj == "":
        return None
    return _price(obj, path)


def _book(obj: Any, path: str) -> Book:
    b = _object(obj, path, optional=("bids", "asks", "lastTradePrice"))
    sides = {}
    for side in ("bids", "asks"):
        levels = b.get(side, [])
        if not isinstance(levels, list):
            raise _Invalid(f"{path}.{side}", "must be a list")
        sides[side] = [_level(lv, f"{path}.{side}[{i}]") for i, lv in enumerate(levels)]
    return Book.from_levels(
        sides["bids"], sides["asks"], _optional_price(b.get("lastTradePrice"), f"{path}.lastTradePrice")
    )


def _level(obj: Any, path: str) -> Level:
    lv = _object(obj, path, required=("price", "size"), optional=())
    return Level(_price(lv["price"], f"{path}.price"), _non_negative(lv["size"], f"{path}.size"))


def _balances(obj: Any, path: str) -> Balances:
    b = _object(obj, path, optional=("collateral", "tokens"))
    tokens_obj = _object(b.get("tokens", {}), f"{path}.tokens")
    tokens = {_key(t, f"{path}.tokens"): _non_negative(v, f"{path}.tokens.{t}") for t, v in tokens_obj.items()}
    return Balances(collateral=_non_negative(b.get("collateral", 0), f"{path}.collateral"), tokens=tokens)


def _order(obj: Any, path: str) -> OpenOrder:
    o = _object(obj, path, required=("id", "market", "tokenId", "side", "price", "size"), optional=("sizeMatched",))
    side = o["side"]
    if side not in ("BUY", "SELL"):
        raise _Invalid(f"{path}.side", f'must be "BUY" or "SELL", got {json.dumps(side, default=str)[:40]}')
    size = _non_negative(o["size"], f"{path}.size")
    if size == 0:
        raise _Invalid(f"{path}.size", "must be greater than 0")
    matched = _non_negative(o.get("sizeMatched", 0), f"{path}.sizeMatched")
    if matched > size:
        raise _Invalid(
            f"{path}.sizeMatched", f"{format_decimal(matched)} exceeds the order size {format_decimal(size)}"
        )
    return OpenOrder(
        id=_string(o["id"], f"{path}.id"),
        market=_string(o["market"], f"{path}.market"),
        token_id=_string(o["tokenId"], f"{path}.tokenId"),
        side=side,
        price=_price(o["price"], f"{path}.price"),
        size=size,
        size_matched=matched,
    )


# -- writing ----------------------------------------------------------------------------


def state_to_json(state: ObservedState) -> dict[str, Any]:
    """The snapshot document for ``state``; ``state_from_json`` reads it back equal."""
    doc: dict[str, Any] = {}
    if state.time is not None:
        doc["time"] = format_time(state.time)
    doc["markets"] = {cid: _market_json(m) for cid, m in state.markets.items()}
    doc["balances"] = {
        "collateral": format_decimal(state.balances.collateral),
        "tokens": {t: format_decimal(v) for t, v in state.balances.tokens.items()},
    }
    if state.placed_ids:
        doc["placedIds"] = sorted(state.placed_ids)
    doc["orders"] = [
        {
            "id": o.id,
            "market": o.market,
            "tokenId": o.token_id,
            "side": o.side,
            "price": format_decimal(o.price),
            "size": format_decimal(o.size),
            "sizeMatched": format_decimal(o.size_matched),
        }
        for o in state.orders
    ]
    return doc


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _market_json(m: MarketState) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tickSize": format_decimal(m.tick_size),
        "minOrderSize": format_decimal(m.min_order_size),
        "negRisk": m.neg_risk,
    }
    if m.last_trade_price is not None:
        doc["lastTradePrice"] = format_decimal(m.last_trade_price)
    doc["books"] = {t: _book_json(b) for t, b in m.books.items()}
    return doc


def _book_json(b: Book) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bids": [{"price": format_decimal(lv.price), "size": format_decimal(lv.size)} for lv in b.bids],
        "asks": [{"price": format_decimal(lv.price), "size": format_decimal(lv.size)} for lv in b.asks],
    }
    if b.last_trade_price is not None:
        doc["lastTradePrice"] = format_decimal(b.last_trade_price)
    return doc
