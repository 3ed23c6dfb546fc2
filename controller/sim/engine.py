"""The exchange state machine: markets, one unified book per market, balances, matching.

Pure and synchronous: no I/O, no wall clock (time comes from the injected clock), no
threads. Every mutating call appends domain events to ``self.events``; the server
drains them after each call and turns them into WebSocket messages.

Book model (how YES and NO stay consistent)
-------------------------------------------
Each market has ONE book in YES-price terms. Every order maps to a side of it:

    BUY  YES at p -> bid at p          SELL YES at p -> ask at p
    SELL NO  at p -> bid at 1-p        BUY  NO  at p -> ask at 1-p

A bid and an ask cross when bid >= ask; the trade executes at the resting (maker)
order's YES price x. Each participant then settles on its own token at its own
token price (x for YES orders, 1-x for NO orders): a buyer pays collateral and
receives tokens, a seller delivers tokens and receives collateral. This single rule
covers Polymarket's three match types: BUY YES vs SELL YES (complementary), BUY YES vs
BUY NO (MINT: together they pay exactly 1 per share pair) and SELL YES vs SELL NO
(MERGE). The NO token's book is the mirror view: a YES bid at p is a NO ask at 1-p.

Units: sizes and balances in micro-units (1 share = 1 pUSD = 1_000_000), prices in
price units (1.0 = PRICE_SCALE = 10_000).
"""

from __future__ import annotations

import bisect
import heapq
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak

from .config import MICRO, PRICE_SCALE, TICK_STRINGS, AccountConfig, MarketConfig, SimConfig

BID, ASK = 0, 1
BUY, SELL = "BUY", "SELL"
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
MAX_CLOSED_ORDERS = 200_000  # closed orders kept for GET /data/order; oldest forgotten first

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
    status: str = "CONFIRMED"


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

    def reduce(self, p: int, amount: int) -> int:
        self.sizes[p] -= amount
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


@dataclass
class Balance:
    collateral: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    locked_collateral: int = 0
    locked_tokens: dict[str, int] = field(default_factory=dict)

    def available_collateral(self) -> int:
        return self.collateral - self.locked_collateral

    def available_tokens(self, token_id: str) -> int:
        return self.tokens.get(token_id, 0) - self.locked_tokens.get(token_id, 0)


@dataclass
class HeartbeatSession:
    expected_id: str
    deadline: float


# ---------------------------------------------------------------- events


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
    OrderEvent | TradeEvent | BookChangeEvent | LastTradeEvent | BookSnapshotEvent | TickSizeEvent
    | MarketResolvedEvent
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


class Engine:
    def __init__(self, config: SimConfig, clock: Callable[[], float], seed: int = 0) -> None:
        self.config = config
        self.now = clock
        self.rng = random.Random(f"engine:{seed}")
        self.markets: dict[str, Market] = {}
        self.tokens: dict[str, tuple[Market, bool]] = {}
        for mc in config.markets:
            m = Market(cfg=mc, tick=mc.tick, status=mc.status)
            self.markets[mc.condition_id] = m
            self.tokens[mc.yes] = (m, True)
            self.tokens[mc.no] = (m, False)
        self.balances: dict[str, Balance] = {}
        self.accounts: dict[str, AccountConfig] = {a.address: a for a in config.accounts}
        for a in config.accounts:
            bal = self.balance(a.funder)
            bal.collateral += a.collateral
            for tok, amt in a.tokens.items():
                bal.tokens[tok] = bal.tokens.get(tok, 0) + amt
        self.orders: dict[str, Order] = {}
        self.open_by_owner: dict[str, dict[str, Order]] = {}
        self.closed_order_ids: list[str] = []
        self.trades: list[Trade] = []
        self.trades_by_id: dict[str, Trade] = {}
        self.trades_by_account: dict[str, list[Trade]] = {}
        self.events: list[Event] = []
        self.expiries: list[tuple[float, int, str]] = []
        self.heartbeats: dict[str, HeartbeatSession] = {}
        self.seq = 0
        self._changes: dict[str, dict[tuple[int, int], int]] = {}
        self._traded: dict[str, Market] = {}

    # ------------------------------------------------------------ helpers

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def balance(self, address: str) -> Balance:
        address = address.lower()
        bal = self.balances.get(address)
        if bal is None:
            bal = self.balances[address] = Balance()
        return bal

    def market_for_token(self, token_id: str) -> tuple[Market, bool] | None:
        return self.tokens.get(token_id)

    def _note_change(self, m: Market, side: int, price: int, size: int) -> None:
        self._changes.setdefault(m.condition_id, {})[(side, price)] = size
        m.version += 1

    def _flush(self) -> None:
        """Close an operation: emit the aggregated book changes, then last trades and book snapshots."""
        ts = self.now()
        changed, self._changes = self._changes, {}
        for cond, changes in changed.items():
            if changes:
                self.events.append(BookChangeEvent(self.markets[cond], changes, ts))
        for m in self._traded.values():
            self.events.append(BookSnapshotEvent(m, ts))
        self._traded = {}
        for cond in changed:
            self._check_tick_size(self.markets[cond], ts)

    def drain_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    @staticmethod
    def _lock_for(o: Order, remaining: int) -> int:
        if o.side == BUY:
            return -(-remaining * o.price // PRICE_SCALE)  # ceil: never under-reserve
        return remaining

    def _set_lock(self, o: Order, new_lock: int) -> None:
        bal = self.balance(o.maker)
        delta = new_lock - o.locked
        o.locked = new_lock
        if o.side == BUY:
            bal.locked_collateral += delta
        else:
            bal.locked_tokens[o.token_id] = bal.locked_tokens.get(o.token_id, 0) + delta

    # ------------------------------------------------------------ placing

    def place(self, req: OrderRequest) -> PlaceResult:
        """Validate business rules, lock funds, match, rest the remainder. Raises OrderRejected."""
        found = self.tokens.get(req.token_id)
        if found is None:
            raise OrderRejected("Invalid token id")
        m, is_yes = found
        if m.status != "open":
            raise OrderRejected(ERR_CLOSED)
        if req.order_type not in ORDER_TYPES:
            raise OrderRejected("Invalid order payload")
        if req.id in self.orders:
            raise OrderRejected(f"order {req.id} is invalid. Duplicated.")
        tick = m.tick
        if req.price % tick or not tick <= req.price <= PRICE_SCALE - tick:
            raise OrderRejected(
                f"order {req.id} is invalid. Price ({fmt_price(req.price)}) breaks minimum tick size rule: "
                f"{m.tick_str}"
            )
        market_order = req.order_type in ("FOK", "FAK")
        if req.post_only and market_order:
            raise OrderRejected(ERR_POST_ONLY_TYPE)
        now = self.now()
        if req.order_type == "GTD":
            if req.expiration <= now + self.config.settings.gtd_threshold:
                raise OrderRejected(ERR_EXPIRATION)
        else:
            req.expiration = 0  # only GTD orders expire
        notional = req.size * req.price // PRICE_SCALE
        if not (market_order and req.side == BUY) and req.size < m.cfg.min_size:
            raise OrderRejected(
                f"order {req.id} is invalid. Size ({fmt_size(req.size)}) lower than the minimum: "
                f"{fmt_size(m.cfg.min_size)}"
            )
        if not market_order and req.size % (MICRO // 100):
            decimals = len(fmt_size(req.size).split(".")[1])
            raise OrderRejected(
                f"order {req.id} is invalid. Size ({fmt_size(req.size)}) has {decimals} decimal places. "
                "Maximum lot size is 2"
            )
        o = Order(
            id=req.id, market=m, token_id=req.token_id, is_yes=is_yes, side=req.side, price=req.price,
            size=req.size, owner=req.owner.lower(), maker=req.maker.lower(), api_key=req.api_key,
            order_type=req.order_type, expiration=req.expiration, created_at=now, seq=self._next_seq(),
            maker_amount=req.maker_amount, taker_amount=req.taker_amount,
            maker_checksum=req.maker_checksum or req.maker,
        )
        bal = self.balance(o.maker)
        need = self._lock_for(o, o.size)
        avail = bal.available_collateral() if o.side == BUY else bal.available_tokens(o.token_id)
        if need > avail:
            raise OrderRejected(ERR_BALANCE)
        crossing = self._crossing_volume(m, o, stop_at=o.size)
        if crossing and req.post_only:
            raise OrderRejected(ERR_POST_ONLY_CROSS)
        if crossing and o.side == BUY and notional < MICRO:
            raise OrderRejected(
                f"invalid amount for a marketable BUY order (${fmt_size(notional)}), min size: $1"
            )
        if req.order_type == "FOK" and crossing < o.size:
            raise OrderRejected(ERR_FOK)
        if req.order_type == "FAK" and not crossing:
            raise OrderRejected(ERR_FAK)

        # Accepted: from here on nothing raises.
        self.orders[o.id] = o
        self._set_lock(o, need)
        self.events.append(OrderEvent("PLACEMENT", o, 0, "LIVE", now))
        trades = self._match(m, o, now) if crossing else []
        shares = sum(t.size for t in trades)
        cash = sum(t.amount for t in trades)
        making, taking = (cash, shares) if o.side == BUY else (shares, cash)
        if o.remaining == 0:
            self._close(o, "MATCHED", now, event=False)
        else:
            if market_order:
                self._close(o, "CANCELED", now, event=True)
            else:
                self._rest(m, o, now)
        self._flush()
        return PlaceResult(o, trades, making, taking)

    def _crossing_volume(self, m: Market, o: Order, stop_at: int) -> int:
        limit = o.yes_price
        total = 0
        if o.book_side == BID:
            for p in m.asks.prices:
                if p > limit:
                    break
                total += m.asks.sizes[p]
                if total >= stop_at:
                    break
        else:
            for p in reversed(m.bids.prices):
                if p < limit:
                    break
                total += m.bids.sizes[p]
                if total >= stop_at:
                    break
        return total

    def _rest(self, m: Market, o: Order, now: float) -> None:
        book = m.bids if o.book_side == BID else m.asks
        size = book.add(o)
        self._note_change(m, o.book_side, o.yes_price, size)
        self.open_by_owner.setdefault(o.owner, {})[o.id] = o
        if o.order_type == "GTD":
            expire_at = o.expiration - self.config.settings.gtd_threshold
            heapq.heappush(self.expiries, (expire_at, o.seq, o.id))

    def _match(self, m: Market, o: Order, now: float) -> list[Trade]:
        trades: list[Trade] = []
        limit = o.yes_price
        book = m.asks if o.book_side == BID else m.bids
        while o.remaining > 0 and book.prices:
            p = book.prices[0] if o.book_side == BID else book.prices[-1]
            if (o.book_side == BID and p > limit) or (o.book_side == ASK and p < limit):
                break
            level = book.levels[p]
            while o.remaining > 0 and level:
                maker = next(iter(level.values()))
                q = min(o.remaining, maker.remaining)
                trades.append(self._fill(m, o, maker, q, p, now))
                left = book.remove(maker, q)
                self._note_change(m, maker.book_side, p, left)
                if maker.remaining == 0:
                    self._close(maker, "MATCHED", now, event=False)
                if left == 0:
                    break
        return trades

    def _settle(self, o: Order, q: int, amount: int) -> None:
        """Move balances of one side of a fill: q shares against ``amount`` collateral."""
        bal = self.balance(o.maker)
        o.matched += q
        if o.side == BUY:
            bal.collateral -= amount
            bal.tokens[o.token_id] = bal.tokens.get(o.token_id, 0) + q
        else:
            bal.tokens[o.token_id] = bal.tokens.get(o.token_id, 0) - q
            bal.collateral += amount
        self._set_lock(o, self._lock_for(o, o.remaining) if o.remaining else 0)

    def _fill(self, m: Market, taker: Order, maker: Order, q: int, x_yes: int, now: float) -> Trade:
        yes_amount = q * x_yes // PRICE_SCALE
        no_amount = q - yes_amount  # YES + NO collateral of a share pair is exactly 1: conservation
        self._settle(taker, q, yes_amount if taker.is_yes else no_amount)
        self._settle(maker, q, yes_amount if maker.is_yes else no_amount)
        trade_id = self.new_uuid()
        taker_price = x_yes if taker.is_yes else PRICE_SCALE - x_yes
        maker_price = x_yes if maker.is_yes else PRICE_SCALE - x_yes
        trade = Trade(
            id=trade_id, market=m, taker=taker,
            makers=[MakerFill(maker, q, maker_price, maker.matched)],
            asset_id=taker.token_id, side=taker.side, size=q, price=taker_price, match_time=now,
            tx_hash="0x" + keccak(b"bandctl-sim-tx:" + trade_id.encode()).hex(), seq=self._next_seq(),
            amount=yes_amount if taker.is_yes else no_amount,
        )
        taker.trade_ids.append(trade_id)
        maker.trade_ids.append(trade_id)
        self.trades.append(trade)
        self.trades_by_id[trade_id] = trade
        for acct in {taker.owner, maker.owner}:
            self.trades_by_account.setdefault(acct, []).append(trade)
        m.last_trade_yes = x_yes
        m.last_trade_side_yes = BUY if taker.book_side == BID else SELL
        self._traded[m.condition_id] = m
        self.events.append(TradeEvent(trade))
        self.events.append(LastTradeEvent(m, trade))
        self.events.append(
            OrderEvent("UPDATE", maker, maker.matched, "MATCHED" if maker.remaining == 0 else "LIVE", now)
        )
        self.events.append(
            OrderEvent("UPDATE", taker, taker.matched, "MATCHED" if taker.remaining == 0 else "LIVE", now)
        )
        return trade

    def _close(self, o: Order, status: str, now: float, *, event: bool) -> None:
        o.status = status
        if o.locked:
            self._set_lock(o, 0)
        owned = self.open_by_owner.get(o.owner)
        if owned is not None:
            owned.pop(o.id, None)
        self.closed_order_ids.append(o.id)
        if len(self.closed_order_ids) > MAX_CLOSED_ORDERS:
            drop = self.closed_order_ids[: MAX_CLOSED_ORDERS // 10]
            del self.closed_order_ids[: MAX_CLOSED_ORDERS // 10]
            for oid in drop:
                old = self.orders.get(oid)
                if old is not None and old.status != "LIVE":
                    del self.orders[oid]
        if event:
            self.events.append(OrderEvent("CANCELLATION", o, o.matched, status, now))

    # ------------------------------------------------------------ cancelling

    def _cancel_order(self, o: Order, now: float) -> None:
        m = o.market
        book = m.bids if o.book_side == BID else m.asks
        amount = o.remaining
        o.status = "CANCELED"
        left = book.remove(o, amount)
        self._note_change(m, o.book_side, o.yes_price, left)
        self._close(o, "CANCELED", now, event=True)

    def cancel(self, owner: str, order_ids: Iterable[str]) -> tuple[list[str], dict[str, str]]:
        now = self.now()
        owned = self.open_by_owner.get(owner.lower(), {})
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        for oid in dict.fromkeys(order_ids):
            o = owned.get(oid)
            if o is None:
                not_canceled[oid] = NOT_FOUND
                continue
            self._cancel_order(o, now)
            canceled.append(oid)
        self._flush()
        return canceled, not_canceled

    def cancel_where(self, owner: str, predicate: Callable[[Order], bool] | None = None) -> list[str]:
        owned = self.open_by_owner.get(owner.lower(), {})
        ids = [oid for oid, o in owned.items() if predicate is None or predicate(o)]
        return self.cancel(owner, ids)[0]

    # ------------------------------------------------------------ queries

    def open_orders(self, owner: str) -> list[Order]:
        return list(self.open_by_owner.get(owner.lower(), {}).values())

    def all_open_orders(self) -> list[Order]:
        return [o for owned in self.open_by_owner.values() for o in owned.values()]

    # ------------------------------------------------------------ time

    def advance(self) -> None:
        """Apply everything that is due at the clock's current time: GTD expiry, dead man's switch."""
        now = self.now()
        while self.expiries and self.expiries[0][0] <= now:
            _, _, oid = heapq.heappop(self.expiries)
            o = self.orders.get(oid)
            if o is not None and o.status == "LIVE":
                self._cancel_order(o, now)
        for owner, session in list(self.heartbeats.items()):
            if session.deadline <= now:
                del self.heartbeats[owner]
                for o in self.open_orders(owner):
                    self._cancel_order(o, now)
        self._flush()

    def heartbeat(self, owner: str, heartbeat_id: str) -> tuple[bool, str]:
        """(ok, id). An empty id starts (or restarts) a session; otherwise it must echo the last id."""
        owner = owner.lower()
        now = self.now()
        session = self.heartbeats.get(owner)
        if heartbeat_id and (session is None or heartbeat_id != session.expected_id):
            return False, session.expected_id if session else ""
        new_id = self.new_uuid()
        self.heartbeats[owner] = HeartbeatSession(new_id, now + self.config.settings.heartbeat_timeout)
        return True, new_id

    # ------------------------------------------------------------ administration

    def fund(self, address: str, collateral: int | None = None, tokens: dict[str, int] | None = None,
             *, mode: str = "set") -> Balance:
        """Set (or add to) balances. Amounts in micro-units."""
        bal = self.balance(address)
        if collateral is not None:
            bal.collateral = collateral if mode == "set" else bal.collateral + collateral
        for tok, amt in (tokens or {}).items():
            if tok not in self.tokens:
                raise KeyError(tok)
            bal.tokens[tok] = amt if mode == "set" else bal.tokens.get(tok, 0) + amt
        return bal

    def _check_tick_size(self, m: Market, ts: float) -> None:
        """Finer tick near the edges, as Polymarket does (> 0.96 or < 0.04); one-way, like production."""
        if m.tick < 100:
            return
        ref = m.last_trade_yes
        bb, ba = m.best_bid(), m.best_ask()
        extreme = any(
            p is not None and (p > 9600 or p < 400) for p in (ref, bb, ba)
        )
        if extreme:
            self.set_tick_size(m, m.tick // 10, ts)

    def set_tick_size(self, m: Market, new_tick: int, ts: float | None = None) -> None:
        if new_tick == m.tick or new_tick not in TICK_STRINGS:
            return
        old, m.tick = m.tick, new_tick
        self.events.append(TickSizeEvent(m, old, new_tick, self.now() if ts is None else ts))

    def check_fair_value_tick(self, m: Market, fair: float) -> None:
        if m.tick >= 100 and (fair > 0.96 or fair < 0.04):
            self.set_tick_size(m, m.tick // 10)

    def close_market(self, cond: str, winner: str | None = None) -> None:
        """Close (winner None) or resolve a market: every open order is cancelled."""
        m = self.markets[cond.lower()]
        now = self.now()
        for owned in list(self.open_by_owner.values()):
            for o in [o for o in owned.values() if o.market is m]:
                self._cancel_order(o, now)
        m.status = "closed" if winner is None else "resolved"
        if winner is not None:
            m.winner = winner
            self.events.append(MarketResolvedEvent(m, m.cfg.yes if winner == "yes" else m.cfg.no, now))
        self._flush()

    def order_snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "id": o.id, "owner": o.maker_checksum, "signer": o.owner, "tokenId": o.token_id,
                "market": o.market.condition_id, "side": o.side, "price": fmt_price(o.price),
                "size": fmt_size(o.size), "sizeMatched": fmt_size(o.matched), "orderType": o.order_type,
                "createdAt": o.created_at,
            }
            for o in sorted(self.all_open_orders(), key=lambda o: o.seq)
        ]
