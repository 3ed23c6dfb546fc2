"""The exchange's nouns: orders, fills, trades, one unified book per market, price formatting.

Plain data plus the few queries that only read it (top of book, per-token level views).
No matching, no balances, no events: those live in ``engine``, ``ledger`` and ``events``.

Book model (how YES and NO stay consistent)
-------------------------------------------
Each market has ONE book in YES-price terms. Every order maps to a side of it:

    BUY  YES at p -> bid at p          SELL YES at p -> ask at p
    SELL NO  at p -> bid at 1-p        BUY  NO  at p -> ask at 1-p

The NO token's book is the mirror view: a YES bid at p is a NO ask at 1-p.

Units: sizes and balances in micro-units (1 share = 1 pUSD = 1_000_000), prices in
price units (1.0 = PRICE_SCALE = 10_000).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .config import MICRO, PRICE_SCALE, TICK_STRINGS, MarketConfig

BID, ASK = 0, 1
BUY, SELL = "BUY", "SELL"
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")


def fmt_units(value: int, scale: int) -> str:
    """Integer fixed-point -> shortest decimal string ("0.5", "12", "0.0025")."""
    sign = "-" if value < 0 else ""
    q, r = divmod(abs(value), scale)
    if not r:
        return f"{sign}{q}"
    digits = len(str(scale)) - 1
    return f"{sign}{q}.{str(r).zfill(digits).rstrip('0')}"


def fmt_price(units: int) -> str:
    return fmt_units(units, PRICE_SCALE)


def fmt_size(micro: int) -> str:
    return fmt_units(micro, MICRO)


@dataclass(slots=True, eq=False)
class Order:
    id: str
    market: Market
    token_id: str
    is_yes: bool
    side: str  # BUY / SELL of token_id
    price: int  # token price units (limit)
    size: int  # original shares, micro
    owner: str  # account (EOA, lower-case): whose API key placed it
    maker: str  # funder (lower-case): whose balances move
    api_key: str
    order_type: str
    expiration: int  # unix seconds, 0 = none
    created_at: float
    seq: int
    maker_amount: int = 0
    taker_amount: int = 0
    matched: int = 0
    status: str = "LIVE"  # LIVE, MATCHED, CANCELED
    locked: int = 0  # collateral (BUY) or token (SELL) micro still reserved
    trade_ids: list[str] = field(default_factory=list)
    maker_checksum: str = ""

    @property
    def remaining(self) -> int:
        return self.size - self.matched

    @property
    def book_side(self) -> int:
        return BID if (self.side == BUY) == self.is_yes else ASK

    @property
    def yes_price(self) -> int:
        return self.price if self.is_yes else PRICE_SCALE - self.price

    @property
    def outcome(self) -> str:
        return self.market.cfg.outcomes[0 if self.is_yes else 1]


@dataclass(slots=True)
class MakerFill:
    order: Order
    size: int
    price: int  # maker's token price
    matched_after: int


@dataclass(slots=True)
class Trade:
    id: str
    market: Market
    taker: Order
    makers: list[MakerFill]
    asset_id: str
    side: str  # taker side
    size: int
    price: int  # taker token price
    match_time: float
    tx_hash: str
    seq: int
    amount: int = 0  # collateral the taker paid (BUY) or received (SELL)
    status: str = "CONFIRMED"  # CONFIRMED, or FAILED when settlement was reverted
    last_update: float = 0.0
    fee: int = 0  # taker fee, micro collateral (fees.py); refunded when the trade FAILs


class Book:
    """One side of the unified book: price levels in FIFO order plus cached level totals."""

    __slots__ = ("levels", "prices", "sizes")

    def __init__(self) -> None:
        self.levels: dict[int, dict[str, Order]] = {}
        self.prices: list[int] = []  # ascending
        self.sizes: dict[int, int] = {}

    def add(self, o: Order) -> int:
        p = o.yes_price
        level = self.levels.get(p)
        if level is None:
            level = self.levels[p] = {}
            bisect.insort(self.prices, p)
            self.sizes[p] = 0
        level[o.id] = o
        self.sizes[p] += o.remaining
        return self.sizes[p]

    def remove(self, o: Order, amount: int) -> int:
        """Remove ``amount`` of resting size at o's level (and o itself if fully gone)."""
        p = o.yes_price
        self.sizes[p] -= amount
        if o.remaining == 0 or o.status != "LIVE":
            level = self.levels[p]
            level.pop(o.id, None)
            if not level:
                del self.levels[p]
                del self.sizes[p]
                self.prices.pop(bisect.bisect_left(self.prices, p))
                return 0
        return self.sizes[p]


@dataclass
class Market:
    cfg: MarketConfig
    tick: int
    status: str = "open"  # open, closed, resolved
    winner: str | None = None
    bids: Book = field(default_factory=Book)
    asks: Book = field(default_factory=Book)
    last_trade_yes: int | None = None
    last_trade_side_yes: str = ""
    version: int = 0

    @property
    def condition_id(self) -> str:
        return self.cfg.condition_id

    @property
    def accepting_orders(self) -> bool:
        return self.status == "open"

    def token_is_yes(self, token_id: str) -> bool:
        return token_id == self.cfg.yes

    def best_bid(self) -> int | None:
        return self.bids.prices[-1] if self.bids.prices else None

    def best_ask(self) -> int | None:
        return self.asks.prices[0] if self.asks.prices else None

    def levels_for(self, token_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids ascending, asks descending) for one token, as (token price, size): best LAST,
        the order production's /book uses and the client's market-order walk relies on."""
        if token_id == self.cfg.yes:
            bids = [(p, self.bids.sizes[p]) for p in self.bids.prices]
            asks = [(p, self.asks.sizes[p]) for p in reversed(self.asks.prices)]
        else:  # mirror: YES asks are NO bids at 1-p, YES bids are NO asks at 1-p
            bids = [(PRICE_SCALE - p, self.asks.sizes[p]) for p in reversed(self.asks.prices)]
            asks = [(PRICE_SCALE - p, self.bids.sizes[p]) for p in self.bids.prices]
        return bids, asks

    def top(self, token_id: str) -> tuple[int | None, int | None]:
        bb, ba = self.best_bid(), self.best_ask()
        if token_id == self.cfg.yes:
            return bb, ba
        return (None if ba is None else PRICE_SCALE - ba), (None if bb is None else PRICE_SCALE - bb)

    def last_trade(self, token_id: str) -> int | None:
        if self.last_trade_yes is None:
            return None
        return self.last_trade_yes if token_id == self.cfg.yes else PRICE_SCALE - self.last_trade_yes

    @property
    def tick_str(self) -> str:
        return TICK_STRINGS[self.tick]
