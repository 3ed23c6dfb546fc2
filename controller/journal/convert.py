"""Exchange trades (user-channel events and ``GET /data/trades`` rows) to our fills.

The one place that knows a trade's field names for the journal. A trade is written from
the taker's point of view (top-level ``side``/``price``/``size``) with every maker order
in ``maker_orders``; which parts are *ours* follows from ``trader_side`` and the row's
``owner`` (our API key): as taker, the top level plus any maker order we also own (a
self-trade); as maker, the maker orders we own. Parsing uses the venue's primitives
(``controller.venue.wire``), so the journal accepts exactly what the rest of the
controller accepts. Pure; raises only ``WireError`` (one line, no secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from controller.journal.records import Role, Source, TradeRecord, TradeStatus
from controller.venue import wire
from controller.venue.rewards import FeeSchedule
from controller.venue.wire import WireError
from controller.venue.wire_ws import TradeEvent

_BPS = Decimal(10_000)
# Production rounds fees to 5 decimals of collateral.
_FEE_QUANTUM = Decimal("0.00001")
_STATUS_PREFIX = "TRADE_STATUS_"


def trade_status(value: Any) -> TradeStatus:
    text = wire.text(value, "trade status").upper()
    if text.startswith(_STATUS_PREFIX):
        text = text[len(_STATUS_PREFIX) :]
    try:
        return TradeStatus(text)
    except ValueError:
        raise WireError(f"malformed trade status: {text[:40]!r}") from None


def taker_fee(size: Decimal, price: Decimal, fee_rate_bps: Decimal, exponent: int = 1) -> Decimal:
    """Polymarket's taker fee in collateral: shares · rate · (p · (1 − p))^exponent, 5 decimals.

    Makers pay none. A trade carries the rate (``fee_rate_bps``) but not the exponent; it is
    the market's ``fd.e`` (``GET /clob-markets``), 1 on every market seen so far."""
    if fee_rate_bps <= 0:
        return Decimal(0)
    fee = FeeSchedule(fee_rate_bps / _BPS, exponent).taker_fee(price, size)
    return fee.quantize(_FEE_QUANTUM, rounding=ROUND_HALF_UP)


def fills_from_trade(item: Mapping[str, Any], *, source: Source, seen_at: float) -> list[TradeRecord]:
    """Our fills in one trade object (the same shape on the user channel and over REST)."""
    trade = wire.mapping(item, "trade")
    trade_id = wire.identifier(trade.get("id"), "trade id")
    condition_id = wire.identifier(trade.get("market"), "trade market")
    status = trade_status(trade.get("status"))
    match_time = wire.exchange_time(_first(trade, "match_time", "matchtime"), "match_time")
    event_time = wire.exchange_time(_first(trade, "timestamp", "last_update"), "trade timestamp")
    owner = wire.text(_first(trade, "owner", "trade_owner"), "trade owner")
    tx_hash = wire.text(trade.get("transaction_hash"), "transaction_hash")[:80]
    makers = trade.get("maker_orders") or []
    if not isinstance(makers, list):
        raise WireError("malformed maker_orders: expected a list")
    maker_entries = [wire.mapping(m, "maker order") for m in makers]
    role = _role(trade.get("trader_side"), owner, maker_entries)

    def record(
        order_id: Any, role: Role, token_id: Any, outcome: Any, side: Any, price: Any, size: Any, bps: Any
    ) -> TradeRecord:
        parsed_price = wire.price(price, "trade price")
        parsed_size = wire.non_negative(size, "trade size")
        if parsed_size == 0:
            raise WireError("malformed trade size: must be positive")
        rate = wire.non_negative(bps if bps not in (None, "") else "0", "fee_rate_bps")
        return TradeRecord(
            trade_id=trade_id,
            order_id=wire.identifier(order_id, "order id"),
            role=role,
            condition_id=condition_id,
            token_id=wire.token_id(token_id),
            outcome=wire.text(outcome, "outcome")[:40],
            side=wire.side(side),
            price=parsed_price,
            size=parsed_size,
            fee=taker_fee(parsed_size, parsed_price, rate) if role is Role.TAKER else Decimal(0),
            status=status,
            match_time=match_time,
            event_time=event_time,
            seen_at=seen_at,
            source=source,
            transaction_hash=tx_hash,
        )

    fills: list[TradeRecord] = []
    if role is Role.TAKER:
        fills.append(
            record(
                trade.get("taker_order_id"),
                Role.TAKER,
                trade.get("asset_id"),
                trade.get("outcome"),
                trade.get("side"),
                trade.get("price"),
                trade.get("size"),
                trade.get("fee_rate_bps"),
            )
        )
    ours = _our_makers(maker_entries, owner, wire.text(trade.get("maker_address"), "maker_address"), role)
    for maker in ours:
        fills.append(
            record(
                maker.get("order_id"),
                Role.MAKER,
                maker.get("asset_id"),
                maker.get("outcome"),
                maker.get("side"),
                maker.get("price"),
                maker.get("matched_amount"),
                maker.get("fee_rate_bps"),
            )
        )
    if role is Role.MAKER and not fills:
        raise WireError(f"trade {trade_id[:40]}: no maker order of ours in maker_orders")
    return fills


def fills_from_rest(item: Mapping[str, Any], *, seen_at: float) -> list[TradeRecord]:
    """Our fills in one ``GET /data/trades`` row."""
    return fills_from_trade(item, source=Source.REST, seen_at=seen_at)


def fills_from_user_event(event: TradeEvent, raw: Mapping[str, Any], *, seen_at: float) -> list[TradeRecord]:
    """Our fills in one user-channel ``trade`` event: the typed event plus its raw object
    (``Decoded.sources`` / the stream's raw handler), which holds the maker orders."""
    if wire.text(raw.get("id"), "trade id") != event.trade_id:
        raise WireError("trade event and its raw object disagree on the trade id")
    return fills_from_trade(raw, source=Source.WEBSOCKET, seen_at=seen_at)


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = item.get(key)
        if value not in (None, ""):
            return value
    return None


def _role(value: Any, owner: str, makers: list[Mapping[str, Any]]) -> Role:
    if value in (None, ""):
        # Older payloads omit trader_side: we are a maker when one of the maker orders is ours.
        return Role.MAKER if owner and any(m.get("owner") == owner for m in makers) else Role.TAKER
    text = wire.text(value, "trader_side").upper()
    try:
        return Role(text)
    except ValueError:
        raise WireError(f"malformed trader_side: {text[:20]!r}") from None


def _our_makers(makers: list[Mapping[str, Any]], owner: str, maker_address: str, role: Role) -> list[Mapping[str, Any]]:
    by_owner = [m for m in makers if owner and m.get("owner") == owner]
    if by_owner or role is Role.TAKER:
        return by_owner
    address = maker_address.lower()
    return [m for m in makers if address and str(m.get("maker_address", "")).lower() == address]
