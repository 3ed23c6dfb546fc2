"""The exchange state machine: order validation, matching, cancelling, expiry, market lifecycle.

Pure and synchronous: no I/O, no wall clock (time comes from the injected clock), no
threads. Every mutating call appends domain events (``events``) to ``self.events``;
the server drains them after each call and turns them into WebSocket messages.

Matching on the unified book (``model``): a bid and an ask cross when bid >= ask; the
trade executes at the resting (maker) order's YES price x. Each participant then
settles on its own token at its own token price (x for YES orders, 1-x for NO orders):
a buyer pays collateral and receives tokens, a seller delivers tokens and receives
collateral. This single rule covers Polymarket's three match types: BUY YES vs SELL
YES (complementary), BUY YES vs BUY NO (MINT: together they pay exactly 1 per share
pair) and SELL YES vs SELL NO (MERGE).
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Callable, Iterable

from eth_hash.auto import keccak

from .config import MICRO, PRICE_SCALE, TICK_STRINGS, AccountConfig, SimConfig
from .events import (
    ERR_BALANCE,
    ERR_CLOSED,
    ERR_FAK,
    ERR_FOK,
    ERR_POST_ONLY_CROSS,
    NOT_FOUND,
    BookChangeEvent,
    BookSnapshotEvent,
    Event,
    LastTradeEvent,
    MarketResolvedEvent,
    OrderEvent,
    OrderRejected,
    OrderRequest,
    PlaceResult,
    TickSizeEvent,
    TradeEvent,
)
from .fees import max_taker_fee, taker_fee
from .heartbeats import Heartbeats
from .ledger import Balance, Ledger
from .model import ASK, BID, BUY, SELL, MakerFill, Market, Order, Trade, fmt_size
from .rules import check_order_rules, edge_tick
from .trades import TradeLog

MAX_CLOSED_ORDERS = 200_000  # closed orders kept for GET /data/order; oldest forgotten first


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
        self.ledger = Ledger()
        self.accounts: dict[str, AccountConfig] = {a.address: a for a in config.accounts}
        for a in config.accounts:
            bal = self.balance(a.funder)
            bal.collateral += a.collateral
            for tok, amt in a.tokens.items():
                bal.tokens[tok] = bal.tokens.get(tok, 0) + amt
        self.orders: dict[str, Order] = {}
        self.open_by_owner: dict[str, dict[str, Order]] = {}
        self.closed_order_ids: list[str] = []
        self.trades = TradeLog(config.settings.trade_history_limit)
        self.events: list[Event] = []
        self.expiries: list[tuple[float, int, str]] = []
        self.heartbeats = Heartbeats(config.settings.heartbeat_timeout, self.new_uuid)
        self.seq = 0
        self._changes: dict[str, dict[tuple[int, int], int]] = {}
        self._traded: dict[str, Market] = {}
        self.on_trade: Callable[[Trade], None] | None = None  # settlement hook (FAILED-trade fault)

    # ------------------------------------------------------------ helpers

    @property
    def balances(self) -> dict[str, Balance]:
        return self.ledger.balances

    def balance(self, address: str) -> Balance:
        return self.ledger.balance(address)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

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

    # ------------------------------------------------------------ placing

    def place(self, req: OrderRequest) -> PlaceResult:
        """Validate business rules, lock funds, match, rest the remainder. Raises OrderRejected."""
        found = self.tokens.get(req.token_id)
        if found is None:
            raise OrderRejected("Invalid token id")
        m, is_yes = found
        if m.status != "open":
            raise OrderRejected(ERR_CLOSED)
        if req.id in self.orders:
            raise OrderRejected(f"order {req.id} is invalid. Duplicated.")
        now = self.now()
        check_order_rules(req, m, now, self.config.settings.gtd_threshold)
        market_order = req.order_type in ("FOK", "FAK")
        notional = req.size * req.price // PRICE_SCALE
        o = Order(
            id=req.id,
            market=m,
            token_id=req.token_id,
            is_yes=is_yes,
            side=req.side,
            price=req.price,
            size=req.size,
            owner=req.owner.lower(),
            maker=req.maker.lower(),
            api_key=req.api_key,
            order_type=req.order_type,
            expiration=req.expiration,
            created_at=now,
            seq=self._next_seq(),
            maker_amount=req.maker_amount,
            taker_amount=req.taker_amount,
            maker_checksum=req.maker_checksum or req.maker,
        )
        need = self.ledger.lock_for(o, o.size)
        if need > self.ledger.available_for(o):
            raise OrderRejected(ERR_BALANCE)
        crossing = self._crossing_volume(m, o, stop_at=o.size)
        if crossing and o.side == BUY and need + max_taker_fee(crossing, m.cfg.fees) > self.ledger.available_for(o):
            raise OrderRejected(ERR_BALANCE)  # a taker BUY also pays the fee
        if crossing and req.post_only:
            raise OrderRejected(ERR_POST_ONLY_CROSS)
        if crossing and o.side == BUY and notional < MICRO:
            raise OrderRejected(f"invalid amount for a marketable BUY order (${fmt_size(notional)}), min size: $1")
        if req.order_type == "FOK" and crossing < o.size:
            raise OrderRejected(ERR_FOK)
        if req.order_type == "FAK" and not crossing:
            raise OrderRejected(ERR_FAK)

        # Accepted: from here on nothing raises.
        self.orders[o.id] = o
        self.ledger.set_lock(o, need)
        self.events.append(OrderEvent("PLACEMENT", o, 0, "LIVE", now))
        trades = self._match(m, o, now) if crossing else []
        shares = sum(t.size for t in trades)
        cash = sum(t.amount for t in trades)
        making, taking = (cash, shares) if o.side == BUY else (shares, cash)
        if o.remaining == 0:
            self._close(o, "MATCHED", now, event=False)
        elif market_order:
            self._close(o, "CANCELED", now, event=True)
        else:
            self._rest(m, o)
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

    def _rest(self, m: Market, o: Order) -> None:
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

    def _fill(self, m: Market, taker: Order, maker: Order, q: int, x_yes: int, now: float) -> Trade:
        yes_amount = q * x_yes // PRICE_SCALE
        no_amount = q - yes_amount  # YES + NO collateral of a share pair is exactly 1: conservation
        self.ledger.settle(taker, q, yes_amount if taker.is_yes else no_amount)
        self.ledger.settle(maker, q, yes_amount if maker.is_yes else no_amount)
        trade_id = self.new_uuid()
        taker_price = x_yes if taker.is_yes else PRICE_SCALE - x_yes
        fee = taker_fee(q, taker_price, m.cfg.fees)  # takers only (fees.py)
        self.balance(taker.maker).collateral -= fee
        maker_price = x_yes if maker.is_yes else PRICE_SCALE - x_yes
        trade = Trade(
            id=trade_id,
            market=m,
            taker=taker,
            makers=[MakerFill(maker, q, maker_price, maker.matched)],
            asset_id=taker.token_id,
            side=taker.side,
            size=q,
            price=taker_price,
            match_time=now,
            tx_hash="0x" + keccak(b"bandctl-sim-tx:" + trade_id.encode()).hex(),
            seq=self._next_seq(),
            amount=yes_amount if taker.is_yes else no_amount,
            last_update=now,
            fee=fee,
        )
        taker.trade_ids.append(trade_id)
        maker.trade_ids.append(trade_id)
        self.trades.add(trade, {taker.owner, maker.owner})
        m.last_trade_yes = x_yes
        m.last_trade_side_yes = BUY if taker.book_side == BID else SELL
        self._traded[m.condition_id] = m
        event = TradeEvent(trade)
        self.events.append(event)
        if self.on_trade is not None:
            self.on_trade(trade)  # may turn the trade FAILED (a fault): settles before the events go out
            if trade.status == "FAILED":
                event.statuses = ("MATCHED", "FAILED")
        self.events.append(LastTradeEvent(m, trade))
        self.events.append(
            OrderEvent("UPDATE", maker, maker.matched, "MATCHED" if maker.remaining == 0 else "LIVE", now)
        )
        self.events.append(
            OrderEvent("UPDATE", taker, taker.matched, "MATCHED" if taker.remaining == 0 else "LIVE", now)
        )
        return trade

    def fail_trade(self, trade: Trade) -> None:
        """Settlement reverted on chain: the trade ends FAILED and both sides' balances go back."""
        if trade.status == "FAILED":
            return
        trade.status = "FAILED"
        trade.last_update = self.now()
        taker_amount = trade.amount
        self.ledger.reverse(trade.taker, trade.size, taker_amount)
        self.balance(trade.taker.maker).collateral += trade.fee
        for f in trade.makers:
            self.ledger.reverse(
                f.order, f.size, trade.size - taker_amount if f.order.is_yes != trade.taker.is_yes else taker_amount
            )

    def _close(self, o: Order, status: str, now: float, *, event: bool) -> None:
        o.status = status
        if o.locked:
            self.ledger.set_lock(o, 0)
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
        for owner in self.heartbeats.expired(now):
            for o in self.open_orders(owner):
                self._cancel_order(o, now)
        self._flush()

    def heartbeat(self, owner: str, heartbeat_id: str) -> tuple[bool, str]:
        """(ok, id). An empty id starts (or restarts) a session; otherwise it must echo the last id."""
        return self.heartbeats.beat(owner.lower(), heartbeat_id, self.now())

    # ------------------------------------------------------------ administration

    def fund(
        self, address: str, collateral: int | None = None, tokens: dict[str, int] | None = None, *, mode: str = "set"
    ) -> Balance:
        """Set (or add to) balances. Amounts in micro-units."""
        return self.ledger.fund(address, collateral, tokens or {}, mode=mode, known_tokens=self.tokens)

    def _check_tick_size(self, m: Market, ts: float) -> None:
        finer = edge_tick(m)
        if finer is not None:
            self.set_tick_size(m, finer, ts)

    def set_tick_size(self, m: Market, new_tick: int, ts: float | None = None) -> bool:
        """Change a market's tick (resting orders keep their prices). Returns whether it changed."""
        if new_tick == m.tick or new_tick not in TICK_STRINGS:
            return False
        old, m.tick = m.tick, new_tick
        self.events.append(TickSizeEvent(m, old, new_tick, self.now() if ts is None else ts))
        return True

    def check_fair_value_tick(self, m: Market, fair: float) -> None:
        finer = edge_tick(m, fair)
        if finer is not None:
            self.set_tick_size(m, finer)

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
