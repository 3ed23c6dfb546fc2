"""What the engine tells the outside world: domain events, order requests/results, rejections.

The engine appends events while it works; the server drains them and turns them into
WebSocket messages (``fanout``). Nothing here formats JSON or knows about sockets.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Market, Order, Trade

# Polymarket's error texts (protocol notes §5.9).
ERR_BALANCE = "not enough balance / allowance"
ERR_POST_ONLY_CROSS = "invalid post-only order: order crosses book"
ERR_POST_ONLY_TYPE = "invalid post-only order: only GTC and GTD order types are allowed"
ERR_FOK = "order couldn't be fully filled. FOK orders are fully filled or killed."
ERR_FAK = "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
ERR_EXPIRATION = "invalid expiration"
ERR_NOT_READY = "the market is not yet ready to process new orders"
ERR_CLOSED = "market is closed: new orders are not accepted"
NOT_FOUND = "Order not found or already canceled"


class OrderRejected(Exception):
    """A business-rule rejection: HTTP 400 with Polymarket's message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(slots=True)
class OrderEvent:
    kind: str  # PLACEMENT, UPDATE, CANCELLATION
    order: Order
    matched: int
    status: str
    ts: float


@dataclass(slots=True)
class TradeEvent:
    trade: Trade
    statuses: tuple[str, ...] = ()  # user-channel statuses to emit; () = the configured sequence


@dataclass(slots=True)
class BookChangeEvent:
    market: Market
    changes: dict[tuple[int, int], int]  # (BID|ASK, yes price) -> new level size
    ts: float


@dataclass(slots=True)
class LastTradeEvent:
    market: Market
    trade: Trade


@dataclass(slots=True)
class BookSnapshotEvent:
    market: Market
    ts: float


@dataclass(slots=True)
class TickSizeEvent:
    market: Market
    old: int
    new: int
    ts: float


@dataclass(slots=True)
class MarketResolvedEvent:
    market: Market
    winner_token: str
    ts: float


Event = (
    OrderEvent | TradeEvent | BookChangeEvent | LastTradeEvent | BookSnapshotEvent | TickSizeEvent | MarketResolvedEvent
)


@dataclass(slots=True)
class OrderRequest:
    """A validated order ready for the book (signature already checked by the caller)."""

    id: str
    token_id: str
    side: str
    price: int  # token price units; for FOK/FAK the worst acceptable price
    size: int  # shares micro
    owner: str
    maker: str
    api_key: str
    order_type: str = "GTC"
    post_only: bool = False
    expiration: int = 0
    maker_amount: int = 0
    taker_amount: int = 0
    maker_checksum: str = ""


@dataclass(slots=True)
class PlaceResult:
    order: Order
    trades: list[Trade]
    making: int  # filled amount this order gave (collateral for BUY, shares for SELL)
    taking: int
