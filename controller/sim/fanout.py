"""Event fan-out: turn the engine's domain events into WebSocket messages for each subscriber.

Messages are only built for someone (nobody listening is the benchmark's common case),
one ``price_change`` per operation per market, filtered per connection to the assets it
subscribed. The ``malformedFrames`` fault puts a hostile frame in front of the next
messages of a channel. It reads the engine's objects and never changes them.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from . import malformed, wire
from .events import (
    BookChangeEvent,
    BookSnapshotEvent,
    Event,
    LastTradeEvent,
    MarketResolvedEvent,
    OrderEvent,
    TickSizeEvent,
    TradeEvent,
)

if TYPE_CHECKING:
    from .server import SimServer
    from .ws import Conn


class Fanout:
    def __init__(self, server: SimServer, record_messages: int = 0) -> None:
        self.s = server
        self.hub = server.hub
        self.tops: dict[str, tuple[int | None, int | None]] = {}
        self.recorded: collections.deque[dict[str, Any]] = collections.deque(maxlen=record_messages or None)
        self.record = record_messages > 0

    def _record(self, msg: Any) -> None:
        if self.record:
            self.recorded.append(msg)

    def _deliver(self, conns: list[Conn], text: str, channel: str) -> None:
        kind = self.s.faults.take_malformed(channel) if conns else None
        bad = malformed.frame(kind, channel) if kind is not None else None
        for conn in conns:
            if bad is not None:
                conn.send(bad)
            conn.send(text)

    def _send_market(self, token: str, msg: dict[str, Any], *, custom_only: bool = False) -> None:
        self._record(msg)
        subs = self.hub.market_conns.get(token)
        if not subs:
            return
        targets = [c for c in subs if not custom_only or c.custom]
        self._deliver(targets, wire.dumps(msg), "market")

    def _send_user(self, owner: str, market: str, msg: dict[str, Any]) -> None:
        self._record(msg)
        subs = self.hub.user_conns.get(owner)
        if not subs:
            return
        self._deliver([c for c in subs if not c.markets or market in c.markets], wire.dumps(msg), "user")

    def _wanted(self, owner: str) -> bool:
        return self.record or bool(self.hub.user_conns.get(owner))

    def _market_subscribers(self, tokens: tuple[str, str]) -> set[Conn]:
        return self.hub.market_subscribers(tokens)

    def dispatch(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, OrderEvent):
                if self._wanted(e.order.owner):
                    self._send_user(e.order.owner, e.order.market.condition_id, wire.user_order(e))
            elif isinstance(e, TradeEvent):
                t = e.trade
                cond = t.market.condition_id
                statuses = e.statuses or self.s.config.settings.trade_statuses
                for status in statuses:
                    if self._wanted(t.taker.owner):
                        self._send_user(t.taker.owner, cond, wire.user_trade(t, False, status, t.match_time))
                    for f in t.makers:
                        if self._wanted(f.order.owner):
                            self._send_user(f.order.owner, cond, wire.user_trade(t, True, status, t.match_time))
            elif isinstance(e, BookChangeEvent):
                self.book_change(e)
            elif isinstance(e, LastTradeEvent):
                m = e.market
                both = (m.cfg.yes, m.cfg.no)
                if self.record or self._market_subscribers(both):
                    for tok in both:
                        self._send_market(tok, wire.last_trade_price(m, e.trade, tok))
            elif isinstance(e, BookSnapshotEvent):
                m = e.market
                both = (m.cfg.yes, m.cfg.no)
                if self.record or self._market_subscribers(both):
                    for tok in both:
                        self._send_market(tok, wire.ws_book(m, tok, e.ts))
            elif isinstance(e, TickSizeEvent):
                for tok in (e.market.cfg.yes, e.market.cfg.no):
                    self._send_market(tok, wire.tick_size_change(e.market, tok, e.old, e.new, e.ts))
            elif isinstance(e, MarketResolvedEvent):
                msg = wire.market_resolved(e.market, e.winner_token, e.ts)
                self._record(msg)
                subs = self._market_subscribers((e.market.cfg.yes, e.market.cfg.no))
                self._deliver([c for c in subs if c.custom], wire.dumps(msg), "market")

    def book_change(self, e: BookChangeEvent) -> None:
        m = e.market
        both = (m.cfg.yes, m.cfg.no)
        subs = self._market_subscribers(both)
        top_changed = self.tops.get(m.condition_id) != (m.best_bid(), m.best_ask())
        self.tops[m.condition_id] = (m.best_bid(), m.best_ask())
        if not subs and not self.record:
            return  # nobody listens: skip building messages (book hashes are the expensive part)
        full = wire.price_change(m, e.changes, e.ts, both)
        self._record(full)
        cache: dict[tuple[str, ...], str] = {both: wire.dumps(full)}
        kind = self.s.faults.take_malformed("market") if subs else None
        bad = malformed.frame(kind, "market") if kind is not None else None
        for conn in subs:
            key = tuple(t for t in both if t in conn.assets)
            text = cache.get(key)
            if text is None:
                text = cache[key] = wire.dumps(
                    {**full, "price_changes": [c for c in full["price_changes"] if c["asset_id"] in key]}
                )
            if bad is not None:
                conn.send(bad)
            conn.send(text)
        if top_changed:
            for tok in both:
                self._send_market(tok, wire.best_bid_ask(m, tok, e.ts), custom_only=True)
