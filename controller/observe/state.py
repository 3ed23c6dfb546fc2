"""Observed state: the world as the exchange reports it (books, open orders, balances).

Pure data. The live controller keeps one of these current from WebSocket and REST;
``bandctl diff --state`` reads one from JSON (``schemas/state.schema.json``). Nothing
here decides anything.

Books are normalised on the way in: bids best-first (descending), asks best-first
(ascending), whatever order the source used (the REST API sends the best level last).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from controller.plan.rewards import RewardParams

Side = Literal["BUY", "SELL"]
BookSide = Literal["bids", "asks"]

_ONE = Decimal(1)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True)
class Book:
    bids: tuple[Level, ...] = ()  # best (highest) first
    asks: tuple[Level, ...] = ()  # best (lowest) first
    # This token's last trade price (Polymarket's per-asset ``last_trade_price``).
    last_trade_price: Decimal | None = None

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @classmethod
    def from_levels(
        cls,
        bids: Iterable[Level],
        asks: Iterable[Level],
        last_trade_price: Decimal | None = None,
    ) -> Book:
        """Build a normalised book from levels in any order.

        Levels at the same price are merged (sizes summed) and empty levels dropped, so
        every consumer can rely on "one level per price, best first".
        """
        return cls(
            bids=_merge(bids, descending=True),
            asks=_merge(asks, descending=False),
            last_trade_price=last_trade_price,
        )

    def mirrored(self) -> Book:
        """The complement token's view of the same liquidity.

        On Polymarket YES and NO share one book: a YES bid at q is a NO ask at 1 - q.
        """
        return Book(
            bids=tuple(Level(_ONE - lv.price, lv.size) for lv in self.asks),
            asks=tuple(Level(_ONE - lv.price, lv.size) for lv in self.bids),
            last_trade_price=None if self.last_trade_price is None else _ONE - self.last_trade_price,
        )

    def adjusted(self, side: BookSide, price: Decimal, delta: Decimal) -> Book:
        """Add ``delta`` (may be negative) at ``price`` on one side; sizes clamp at zero."""
        levels = {lv.price: lv.size for lv in getattr(self, side)}
        levels[price] = max(levels.get(price, _ZERO) + delta, _ZERO)
        merged = _merge((Level(p, s) for p, s in levels.items()), descending=side == "bids")
        if side == "bids":
            return Book(bids=merged, asks=self.asks, last_trade_price=self.last_trade_price)
        return Book(bids=self.bids, asks=merged, last_trade_price=self.last_trade_price)


def _merge(levels: Iterable[Level], *, descending: bool) -> tuple[Level, ...]:
    sizes: dict[Decimal, Decimal] = {}
    for lv in levels:
        sizes[lv.price] = sizes.get(lv.price, _ZERO) + lv.size
    ordered = sorted(sizes.items(), key=lambda item: item[0], reverse=descending)
    return tuple(Level(price, size) for price, size in ordered if size > 0)


@dataclass(frozen=True)
class Hold:
    """The controller's own decision to keep a manifest's market unquoted: an operator's
    halt, a breached loss limit, a sharp move. ``reason`` is a planner pull code
    (``Halted``, ``LossLimit``, ``SharpMove``); ``until`` None means until resumed."""

    reason: str
    message: str
    until: datetime | None = None


@dataclass(frozen=True)
class MarketState:
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool = False
    books: dict[str, Book] = field(default_factory=dict)  # token id -> book
    # Market-wide last trade price, taken as the YES token's price (the market's headline
    # price). A book's own ``last_trade_price`` is unambiguous and wins when present.
    last_trade_price: Decimal | None = None
    # Why this market's data cannot be trusted right now (a stream down or frozen), or
    # None. The live controller sets it; a plan for a stale market pulls every quote.
    stale: str | None = None
    # When the market stops trading (the exchange's end date), if known: risk.stopBefore
    # counts back from it.
    end_time: datetime | None = None
    # The market's liquidity-rewards programme, if it has one and it is known (the venue
    # reads it on the resync schedule); the planner fits bands to it and estimates scores.
    rewards: RewardParams | None = None


@dataclass(frozen=True)
class OpenOrder:
    id: str
    market: str  # condition id
    token_id: str
    side: Side
    price: Decimal
    size: Decimal  # original size
    size_matched: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        # Computed once: a plan reads them tens of times per order (not fields: equality,
        # repr and the state file see the same order as before).
        remaining = max(self.size - self.size_matched, _ZERO)
        object.__setattr__(self, "_remaining", remaining)
        object.__setattr__(self, "_locked_collateral", self.price * remaining if self.side == "BUY" else _ZERO)

    @property
    def remaining(self) -> Decimal:
        return self._remaining  # type: ignore[attr-defined]

    @property
    def locked_collateral(self) -> Decimal:
        """Collateral the exchange holds for this order: price x remaining for a BUY."""
        return self._locked_collateral  # type: ignore[attr-defined]

    @property
    def locked_tokens(self) -> Decimal:
        """Shares of ``token_id`` the exchange holds: the remaining size of a SELL."""
        return self._remaining if self.side == "SELL" else _ZERO  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Balances:
    """Totals, as the exchange reports them; open orders' locks are not subtracted."""

    collateral: Decimal = Decimal(0)
    tokens: dict[str, Decimal] = field(default_factory=dict)

    def token(self, token_id: str) -> Decimal:
        return self.tokens.get(token_id, Decimal(0))


@dataclass(frozen=True)
class Locks:
    """Collateral and shares that open orders lock (see ``ObservedState.locked_elsewhere``)."""

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
    # Ids of the open orders this controller can prove it placed (kept in its state
    # directory across restarts). Only ``ownership: shared`` manifests read it.
    placed_ids: frozenset[str] = frozenset()
    # Holds by manifest name ("*": every manifest), kept in the state directory.
    holds: dict[str, Hold] = field(default_factory=dict)
    # What the account's open orders *not* in ``orders`` lock (other markets' orders, left
    # out of a one-market snapshot). Free balance is always the totals minus this minus
    # what ``orders`` lock, so a snapshot of one market plans exactly as one of all of
    # them, and a state derived by changing ``orders`` (``simulate``) stays right.
    locked_elsewhere: Locks = field(default_factory=Locks)

    def orders_of(self, condition_id: str) -> tuple[OpenOrder, ...]:
        """Our open orders in one market, in snapshot order."""
        return tuple(o for o in self.orders if o.market == condition_id)

    def free_collateral(self) -> Decimal:
        """Total collateral minus what every open BUY (any market) locks; never negative."""
        locked = sum((o.locked_collateral for o in self.orders), self.locked_elsewhere.collateral)
        return max(self.balances.collateral - locked, _ZERO)

    def free_tokens(self, token_id: str) -> Decimal:
        """Held shares of ``token_id`` minus what open SELLs of it lock; never negative."""
        held = self.locked_elsewhere.token(token_id)
        locked = sum((o.locked_tokens for o in self.orders if o.token_id == token_id), held)
        return max(self.balances.token(token_id) - locked, _ZERO)
