"""Admin endpoints (/admin/*): inspect the exchange, inject faults, fund accounts, steer markets, move time.

Never part of production's surface: tests and tools use it to see what really reached
the exchange and to set up situations. ``GET /admin/state`` is filterable
(``market``, ``owner``, ``since``; ``books=0`` leaves the books out, ``markets=0``
the market map) and returns at most
``trades`` trades, so polling it stays cheap on a busy exchange.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import wire
from .auth import is_address
from .config import MICRO, TICK_UNITS
from .events import TickSizeEvent
from .faults import ACTION_KEYS, FaultError
from .httpkit import ApiError, json_response, parse_json
from .model import Order, Trade, fmt_price, fmt_size

if TYPE_CHECKING:
    from .server import SimServer

DEFAULT_STATE_TRADES = 100
MAX_STATE_TRADES = 10_000


# An open order's fields copied on the event loop (orders change under it); formatting
# into rows and JSON may then run off the loop (``h_state``).
OrderFields = tuple[str, str, str, str, str, str, int, int, int, str, float]


def _order_fields(o: Order) -> OrderFields:
    return (
        o.id,
        o.maker_checksum,
        o.owner,
        o.token_id,
        o.market.condition_id,
        o.side,
        o.price,
        o.size,
        o.matched,
        o.order_type,
        o.created_at,
    )


def _order_row(f: OrderFields) -> dict[str, Any]:
    return {
        "id": f[0],
        "owner": f[1],
        "signer": f[2],
        "tokenId": f[3],
        "market": f[4],
        "side": f[5],
        "price": fmt_price(f[6]),
        "size": fmt_size(f[7]),
        "sizeMatched": fmt_size(f[8]),
        "orderType": f[9],
        "createdAt": f[10],
    }


def _render(doc: dict[str, Any], orders: list[OrderFields]) -> str:
    return wire.dumps(_with_rows(doc, orders))


def _with_rows(doc: dict[str, Any], orders: list[OrderFields]) -> dict[str, Any]:
    return {**doc, "orders": [_order_row(f) for f in orders]}


def _trade_row(t: Trade) -> dict[str, Any]:
    return {
        "id": t.id,
        "market": t.market.condition_id,
        "takerOrderId": t.taker.id,
        "taker": t.taker.maker,
        "maker": t.makers[0].order.maker,
        "makerOrderId": t.makers[0].order.id,
        "assetId": t.asset_id,
        "side": t.side,
        "price": fmt_price(t.price),
        "size": fmt_size(t.size),
        "matchTime": t.match_time,
        "transactionHash": t.tx_hash,
        "status": t.status,
        "fee": fmt_size(t.fee),  # paid by the taker (fees.py)
    }


class Admin:
    def __init__(self, server: SimServer) -> None:
        self.s = server
        self._render: ThreadPoolExecutor | None = None  # made on first use, shut down by close()

    def close(self) -> None:
        if self._render is not None:
            self._render.shutdown(wait=True)
            self._render = None

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/admin/state", self.h_state),
            ("POST", "/admin/faults", self.h_faults),
            ("POST", "/admin/fund", self.h_fund),
            ("POST", "/admin/fair-value", self.h_fair_value),
            ("POST", "/admin/market", self.h_market),
            ("POST", "/admin/advance", self.h_advance),
        ]

    async def _body(self, request: web.Request) -> dict[str, Any]:
        data = parse_json(await request.text())
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object")
        return data

    # ------------------------------------------------------------ state

    def state(
        self,
        trades_limit: int = 1000,
        market: str | None = None,
        owner: str | None = None,
        since: float | None = None,
        books: bool = True,
        markets_map: bool = True,
    ) -> dict[str, Any]:
        return _with_rows(*self._collect(trades_limit, market, owner, since, books, markets_map))

    def _collect(
        self,
        trades_limit: int,
        market: str | None,
        owner: str | None,
        since: float | None,
        books: bool,
        markets_map: bool,
    ) -> tuple[dict[str, Any], list[OrderFields]]:
        """The state document without its order rows, and the orders' fields (on the loop)."""
        s, engine = self.s, self.s.engine
        now = s.clock.now()
        cond = market.lower() if market else None
        who = owner.lower() if owner else None

        def order_ok(o: Order) -> bool:
            return (
                (cond is None or o.market.condition_id == cond)
                and (who is None or who in (o.owner, o.maker))
                and (since is None or o.created_at >= since)
            )

        def trade_ok(t: Trade) -> bool:
            parties = {t.taker.owner, t.taker.maker, *(x for f in t.makers for x in (f.order.owner, f.order.maker))}
            return (
                (cond is None or t.market.condition_id == cond)
                and (who is None or who in parties)
                and (since is None or t.match_time >= since)
            )

        markets: dict[str, Any] = {}
        for c, m in engine.markets.items() if markets_map else ():
            if cond is not None and c != cond:
                continue
            markets[c] = {
                "name": m.cfg.name,
                "status": m.status,
                "acceptingOrders": m.accepting_orders,
                "exchange": m.cfg.exchange,
                "tickSize": m.tick_str,
                "fairValue": round(s.flow.fair_value(c), 6),
            }
            if books:
                markets[c]["books"] = {
                    tok: {
                        k: v
                        for k, v in wire.book_summary(m, tok, now).items()
                        if k in ("bids", "asks", "last_trade_price", "hash")
                    }
                    for tok in (m.cfg.yes, m.cfg.no)
                }
        balances = {
            addr: {
                "collateral": fmt_size(b.collateral),
                "lockedCollateral": fmt_size(b.locked_collateral),
                "tokens": {t: fmt_size(v) for t, v in b.tokens.items() if v},
                "lockedTokens": {t: fmt_size(v) for t, v in b.locked_tokens.items() if v},
            }
            for addr, b in engine.balances.items()
            if who is None or addr == who
        }
        limit = max(0, min(trades_limit, MAX_STATE_TRADES))
        if cond is None and who is None and since is None:
            picked = engine.trades.recent(limit)
        else:
            picked = []
            for t in reversed(engine.trades):
                if len(picked) >= limit:
                    break
                if trade_ok(t):
                    picked.append(t)
            picked.reverse()
        orders = [_order_fields(o) for o in sorted(self._open_orders(who, order_ok), key=lambda o: o.seq)]
        return {
            "time": now,
            "markets": markets,
            "orders": [],
            "balances": balances,
            "trades": [_trade_row(t) for t in picked],
            "tradeCount": engine.trades.total,
            "tradesHeld": len(engine.trades),
            "requests": dict(s.requests),
            "errors": dict(s.errors),
            "faults": s.faults.snapshot(),
            "engineRestart": s.restarts.snapshot(now),
            "flow": {
                "enabled": s.flow.enabled,
                "steps": s.flow.steps,
                "marketSteps": {
                    c: mf.steps for c, mf in s.flow.markets.items() if markets_map and (cond is None or c == cond)
                },
            },
            "websockets": s.hub.counts(),
            "rewards": s.rewards.snapshot(),
        }, orders

    def _open_orders(self, who: str | None, order_ok: Any) -> list[Order]:
        """Open orders that pass the filter, filtered before sorting; an owner's own orders
        come from the engine's per-owner index (others only when they name it as maker)."""
        by_owner = self.s.engine.open_by_owner
        if who is None:
            return [o for owned in by_owner.values() for o in owned.values() if order_ok(o)]
        picked = [o for o in by_owner.get(who, {}).values() if order_ok(o)]
        for owner, owned in by_owner.items():
            if owner != who:
                picked.extend(o for o in owned.values() if o.maker == who and order_ok(o))
        return picked

    async def h_state(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("trades", str(DEFAULT_STATE_TRADES)))
            since = float(q["since"]) if q.get("since") else None
        except ValueError:
            raise ApiError(400, "trades must be an integer and since a number (unix seconds)") from None
        market, owner = q.get("market") or None, q.get("owner") or None
        if owner is not None and not is_address(owner):
            raise ApiError(400, "owner must be an address")
        flags = {name: q.get(name, "1") for name in ("books", "markets")}
        if any(v not in ("0", "1") for v in flags.values()):
            raise ApiError(400, "books and markets must be 0 or 1")
        doc, orders = self._collect(limit, market, owner, since, flags["books"] == "1", flags["markets"] == "1")
        # Thousands of order rows take tens of ms to format and encode: off the event loop,
        # so that a probe polling the state does not hold up matching and the streams.
        if self._render is None:
            self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-admin-render")
        text = await asyncio.get_running_loop().run_in_executor(self._render, _render, doc, orders)
        return web.Response(text=text, content_type="application/json")

    # ------------------------------------------------------------ faults

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        s = self.s
        s.faults.validate(changes)
        for name in ACTION_KEYS:
            if name in changes:
                self._fault_action(name, changes[name])
        snapshot = s.faults.update({k: v for k, v in changes.items() if k not in ACTION_KEYS})
        if "engineRestart" in changes:
            r = changes["engineRestart"]
            s.restarts.schedule(
                s.clock.now(),
                float(r.get("unavailableSeconds", 90)),
                float(r.get("postOnlySeconds", 120)),
                float(r.get("startInSeconds", 0)),
            )
        return snapshot

    def _fault_action(self, name: str, spec: dict[str, Any]) -> None:
        s = self.s
        m = s.engine.markets.get(str(spec["conditionId"]).lower())
        if m is None:
            raise ApiError(404, "market not found")
        new_tick = TICK_UNITS[str(spec["tickSize"])]
        if name == "tickSizeChange":
            s.engine.set_tick_size(m, new_tick)
            s.dispatch()
        else:  # falseTickSizeChange: the message only; the market keeps its tick
            s.dispatch([TickSizeEvent(m, m.tick, new_tick, s.clock.now())])

    async def h_faults(self, request: web.Request) -> web.Response:
        try:
            return json_response(self.set_faults(await self._body(request)))
        except FaultError as exc:
            raise ApiError(400, str(exc)) from None

    # ------------------------------------------------------------ accounts and markets

    def fund(
        self, address: str, collateral: Any = None, tokens: dict[str, Any] | None = None, mode: str = "set"
    ) -> dict[str, Any]:
        if not is_address(address):
            raise ApiError(400, "invalid address")
        if mode not in ("set", "add"):
            raise ApiError(400, "mode must be set or add")

        def micro(v: Any) -> int:
            try:
                d = Decimal(str(v)) * MICRO
            except InvalidOperation:
                raise ApiError(400, f"invalid amount {v!r}") from None
            if not d.is_finite() or d != d.to_integral_value() or (mode == "set" and d < 0):
                raise ApiError(400, f"invalid amount {v!r}")
            return int(d)

        if tokens is not None and not isinstance(tokens, dict):
            raise ApiError(400, "tokens must be an object")
        try:
            bal = self.s.engine.fund(
                address,
                None if collateral is None else micro(collateral),
                {str(k): micro(v) for k, v in (tokens or {}).items()},
                mode=mode,
            )
        except KeyError as exc:
            raise ApiError(400, f"unknown token id {exc.args[0]}") from None
        return {
            "address": address.lower(),
            "collateral": fmt_size(bal.collateral),
            "tokens": {t: fmt_size(v) for t, v in bal.tokens.items() if v},
        }

    async def h_fund(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        return json_response(
            self.fund(data.get("address", ""), data.get("collateral"), data.get("tokens"), data.get("mode", "set"))
        )

    def set_fair_value(self, cond: str, value: Any) -> dict[str, Any]:
        if not isinstance(cond, str) or cond.lower() not in self.s.engine.markets:
            raise ApiError(404, "market not found")
        try:
            v = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise ApiError(400, "value must be a probability in (0, 1)") from None
        if not 0 < v < 1:
            raise ApiError(400, "value must be a probability in (0, 1)")
        self.s.flow.set_fair_value(cond, v)
        self.s.dispatch()
        return {"conditionId": cond.lower(), "fairValue": v}

    async def h_fair_value(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        return json_response(self.set_fair_value(data.get("conditionId", ""), data.get("value")))

    def set_market_status(self, cond: str, status: str, winner: str | None = None) -> dict[str, Any]:
        """Stop a market accepting orders ("closed") or resolve it; the exchange cancels its open orders."""
        if not isinstance(cond, str) or cond.lower() not in self.s.engine.markets:
            raise ApiError(404, "market not found")
        if status not in ("closed", "resolved"):
            raise ApiError(400, "status must be closed or resolved")
        if status == "resolved" and winner not in ("yes", "no"):
            raise ApiError(400, "winner must be yes or no")
        self.s.engine.close_market(cond, winner if status == "resolved" else None)
        self.s.dispatch()
        return {"conditionId": cond.lower(), "status": status}

    async def h_market(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        return json_response(
            self.set_market_status(data.get("conditionId", ""), data.get("status", ""), data.get("winner"))
        )

    # ------------------------------------------------------------ time

    def advance(self, seconds: float) -> float:
        clock = self.s.clock
        if not getattr(clock, "manual", False):
            raise ApiError(400, "the emulator runs on the real clock; start it with a manual clock")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 10**7:
            raise ApiError(400, "seconds must be a non-negative number")
        clock.advance(seconds)  # type: ignore[attr-defined]
        self.s.tick()
        return clock.now()

    def step_flow(self, n: int) -> int:
        self.s.flow.step(n)
        self.s.dispatch()
        return self.s.flow.steps

    async def h_advance(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        if "steps" in data:
            steps = data["steps"]
            if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= 100_000:
                raise ApiError(400, "steps must be a non-negative integer")
            return json_response({"flowSteps": self.step_flow(steps)})
        return json_response({"time": self.advance(data.get("seconds", 0))})
