"""Observed state: the world as the exchange reports it (books, open orders, balances).

Pure data. The live controller keeps one of these current from WebSocket and REST;
``bandctl diff --state`` reads one from JSON (``schemas/state.schema.json``). Nothing
here decides anything.

Books are normalised on the way in: bids best-first (descending), asks best-first
(ascending), whatever order the source used (the REST API sends the best level last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Side = Literal["BUY", "SELL"]


@dataclass(frozen=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True)
class Book:
    bids: tuple[Level, ...] = ()  # best (highest) first
    asks: tuple[Level, ...] = ()  # best (lowest) first

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None


@dataclass(frozen=True)
class MarketState:
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool = False
    books: dict[str, Book] = field(default_factory=dict)  # token id -> book
    last_trade_price: Decimal | None = None


@dataclass(frozen=True)
class OpenOrder:
    id: str
    market: str  # condition id
    token_id: str
    side: Side
    price: Decimal
    size: Decimal  # original size
    size_matched: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return max(self.size - self.size_matched, Decimal(0))


@dataclass(frozen=True)
class Balances:
    """Totals, as the exchange reports them; open orders' locks are not subtracted."""

    collateral: Decimal = Decimal(0)
    tokens: dict[str, Decimal] = field(default_factory=dict)

    def token(self, token_id: str) -> Decimal:
        return self.tokens.get(token_id, Decimal(0))


@dataclass(frozen=True)
class ObservedState:
    time: datetime | None = None
    markets: dict[str, MarketState] = field(default_factory=dict)  # condition id -> market
    balances: Balances = field(default_factory=Balances)
    orders: tuple[OpenOrder, ...] = ()
