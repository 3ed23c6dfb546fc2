"""Event fan-out: turn the engine's domain events into WebSocket messages for each subscriber.

Messages are only built for someone (nobody listening is the benchmark's common case),
one ``price_change`` per operation per market, filtered per connection to the assets it
subscribed. A ``price_change`` (two book hashes, the costly part) is queued ``Deferred``
on a copy of the books taken now, so the request that changed the book is answered first
and the message still says what the book was at the change; recorded messages are built
at once. The ``malformedFrames`` fault puts a hostile frame in front of the next
messages of a channel. It reads the engine's objects and never changes them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
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
from .ws import Deferred

if TYPE_CHECKING:
    from .model import Market
    from .server import SimServer
    from .ws import Conn


Assets = tuple[str, ...]  # the assets of a market one connection follows


class Fanout:
    def __init__(self, server: SimServer, record_messages: int = 0) -> None:
        self.s = server
        self.hub = server.hub
        self.tops: dict[str, tuple[int | None, int | None]] = {}
        self.recorded: collections.deque[dict[str, Any]] = collections.deque(maxlen=record_messages or None)
        self.record = record_messages > 0
        self._pending: list[Deferred] = []  # built on the loop's next turn (_defer)
        self._deferring = False

    def _record(self, msg: Any) -> None:
        if self.record:
            self.recorded.append(msg)

    def _deliver(self, conns: list[Conn], text: str | Deferred, channel: str) -> None:
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

    def _send_order(self, e: OrderEvent) -> None:
        owner, market = e.order.owner, e.order.market.condition_id
        if not self._deferring or self.record:
            self._send_user(owner, market, wire.user_order(e))
            return
        subs = self.hub.user_conns.get(owner)
        targets = [c for c in subs if not c.markets or market in c.markets] if subs else []
        if targets:
            # The order's trade ids are the only part of it that changes later: copied now.
            event, trade_ids = e, list(e.order.trade_ids)
            self._deliver(targets, self._defer(lambda: wire.dumps(wire.user_order(event, trade_ids))), "user")

    def _wanted(self, owner: str) -> bool:
        return self.record or bool(self.hub.user_conns.get(owner))

    def _market_subscribers(self, tokens: tuple[str, str]) -> set[Conn]:
        return self.hub.market_subscribers(tokens)

    def dispatch(self, events: list[Event], *, after_answer: bool = False) -> None:
        """``after_answer``: the caller is a REST request that answers before this loop turn
        ends, so its order and book-change messages are built after that answer (``_defer``)."""
        self._deferring = after_answer
        try:
            self._dispatch(events)
        finally:
            self._deferring = False

    def _dispatch(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, OrderEvent):
                if self._wanted(e.order.owner):
                    self._send_order(e)
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
        kind = self.s.faults.take_malformed("market") if subs else None
        bad = malformed.frame(kind, "market") if kind is not None else None
        texts = self._price_change_texts(m, e, both)
        for conn in subs:
            text = texts(tuple(t for t in both if t in conn.assets))
            if bad is not None:
                conn.send(bad)
            conn.send(text)
        if top_changed:
            for tok in both:
                self._send_market(tok, wire.best_bid_ask(m, tok, e.ts), custom_only=True)

    def _price_change_texts(self, m: Market, e: BookChangeEvent, both: Assets) -> Callable[[Assets], str | Deferred]:
        """The change's text for a connection following some of ``both``, one per subset."""
        change = _PriceChange(m, e, both)
        if self.record:
            self._record(change.full())
        cache: dict[Assets, str | Deferred] = {}

        def text(key: Assets) -> str | Deferred:
            found = cache.get(key)
            if found is None:
                eager = self.record or not self._deferring
                found = cache[key] = change.text(key) if eager else self._defer(lambda: change.text(key))
            return found

        return text

    def _defer(self, build: Callable[[], str]) -> str | Deferred:
        """A message built on the loop's next turn, all of that turn's at once: after the
        answer of the request that caused them, and before their connections' writers run,
        so a burst still leaves back to back."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the server's loop (a test driving the engine): at once
            return build()
        deferred = Deferred(build)
        if not self._pending:
            loop.call_soon(self._build_pending)
        self._pending.append(deferred)
        return deferred

    def _build_pending(self) -> None:
        pending, self._pending = self._pending, []
        for deferred in pending:
            with contextlib.suppress(Exception):  # the writer logs it when it reaches the message
                deferred.text()


class _PriceChange:
    """One book change's ``price_change`` from a copy of both books taken when it happened."""

    def __init__(self, m: Market, e: BookChangeEvent, both: Assets) -> None:
        self.cond, self.yes, self.ts, self.changes, self.both = m.condition_id, m.cfg.yes, e.ts, e.changes, both
        self.states = [wire.book_state(m, t) for t in both]
        self._full: dict[str, Any] | None = None

    def full(self) -> dict[str, Any]:
        if self._full is None:
            self._full = wire.price_change_of(self.cond, self.yes, self.states, self.changes, self.ts)
        return self._full

    def text(self, key: Assets) -> str:
        msg = self.full()
        if key != self.both:
            msg = {**msg, "price_changes": [c for c in msg["price_changes"] if c["asset_id"] in key]}
        return wire.dumps(msg)
