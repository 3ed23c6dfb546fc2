"""The account's own reads and keep-alive: open orders, one order, trades, balances, heartbeats, scoring.

All L2-authenticated and scoped to the API key's owner. Balances distinguish the two
position ledgers: ``CONDITIONAL`` reads CTF token balances (V2 exchange markets),
``CONDITIONAL-V2`` reads PositionManager balances (Exchange V3 markets). Heartbeat
faults (latency, error statuses) apply here only. Nothing here places or cancels orders
(the dead man's switch that cancels them runs in the engine).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import wire
from .auth import SIG_EOA, UINT256_MAX
from .config import EXCHANGE_V2, EXCHANGE_V3, NEG_RISK_ADAPTER, NEG_RISK_EXCHANGE_V2
from .httpkit import INVALID_PAYLOAD, ApiError, json_response, page, parse_json
from .scoring import is_scoring

if TYPE_CHECKING:
    from .server import SimServer

MAX_UINT_ALLOWANCE = str(UINT256_MAX)
HEARTBEAT_ERROR_TEXT = {429: "Too Many Requests", 503: "Service Unavailable"}


class AccountRoutes:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/data/orders", self.h_open_orders),
            ("GET", "/data/order/{order_id}", self.h_get_order),
            ("GET", "/data/trades", self.h_trades),
            ("GET", "/balance-allowance", self.h_balance),
            ("GET", "/balance-allowance/update", self.h_balance),
            ("POST", "/v1/heartbeats", self.h_heartbeat),
            ("GET", "/order-scoring", self.h_order_scoring),
            ("POST", "/orders-scoring", self.h_orders_scoring),
        ]

    async def h_open_orders(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        q = request.query
        market, asset, oid = q.get("market", "").lower(), q.get("asset_id", ""), q.get("id", "")
        orders = [
            o
            for o in self.s.engine.open_orders(key.address)
            if (not market or o.market.condition_id == market)
            and (not asset or o.token_id == asset)
            and (not oid or o.id == oid)
        ]
        orders.sort(key=lambda o: o.seq)
        result = page(orders, q.get("next_cursor"), self.s.config.settings.page_size)
        rows = [wire.open_order(o) for o in result["data"]]
        result["data"] = self.s.faults.strip_open_order_ids(rows)
        return json_response(result)

    async def h_get_order(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        oid = request.match_info["order_id"]
        if not oid.startswith("0x"):
            raise ApiError(400, "Invalid orderID")
        o = self.s.engine.orders.get(oid)
        if o is None or o.owner != key.address:
            raise ApiError(404, "Order not found")
        return json_response(wire.open_order(o))

    async def h_trades(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        q = request.query
        tid, market, asset = q.get("id", ""), q.get("market", "").lower(), q.get("asset_id", "")
        maker_addr = q.get("maker_address", "").lower()
        try:
            before = int(q["before"]) if q.get("before") else None
            after = int(q["after"]) if q.get("after") else None
        except ValueError:
            raise ApiError(400, "invalid before/after") from None
        me = key.address
        rows = []
        for t in reversed(self.s.engine.trades.for_account(me)):
            if tid and t.id != tid:
                continue
            if market and t.market.condition_id != market:
                continue
            if before is not None and t.match_time >= before:
                continue
            if after is not None and t.match_time <= after:
                continue
            as_maker = t.taker.owner != me
            row_order = t.makers[0].order if as_maker else t.taker
            if asset and row_order.token_id != asset and t.asset_id != asset:
                continue
            if maker_addr and row_order.maker != maker_addr:
                continue
            rows.append((t, as_maker))
        result = page(rows, q.get("next_cursor"), self.s.config.settings.page_size)
        result["data"] = [wire.rest_trade(t, as_maker) for t, as_maker in result["data"]]
        return json_response(result)

    async def h_balance(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        q = request.query
        asset_type = q.get("asset_type", "COLLATERAL").upper()
        try:
            sig_type = int(q.get("signature_type", "0"))
        except ValueError:
            raise ApiError(400, "Invalid signature_type") from None
        if sig_type not in (0, 1, 2, 3):
            raise ApiError(400, "Invalid signature_type")
        funder, acct_type = self.s.auth.account(key.address)
        holder = key.address if sig_type == SIG_EOA else (funder if sig_type == acct_type else None)
        bal = self.s.engine.balances.get(holder) if holder else None
        allowances = {
            EXCHANGE_V2: MAX_UINT_ALLOWANCE,
            NEG_RISK_EXCHANGE_V2: MAX_UINT_ALLOWANCE,
            NEG_RISK_ADAPTER: MAX_UINT_ALLOWANCE,
            EXCHANGE_V3[self.s.config.chain_id]: MAX_UINT_ALLOWANCE,
        }
        if asset_type == "COLLATERAL":
            amount = bal.collateral if bal else 0
        elif asset_type in ("CONDITIONAL", "CONDITIONAL-V2"):
            token = q.get("token_id", "")
            if not token.isdigit():
                raise ApiError(400, "Invalid token id")
            found = self.s.engine.market_for_token(token)
            v3 = found is not None and found[0].cfg.exchange == "v3"
            # The two ledgers are separate: a position id holds nothing in the CTF ledger and
            # a CTF token id nothing in the PositionManager.
            same_ledger = found is None or v3 == (asset_type == "CONDITIONAL-V2")
            amount = bal.tokens.get(token, 0) if bal and same_ledger else 0
            allowances = (
                {EXCHANGE_V3[self.s.config.chain_id]: MAX_UINT_ALLOWANCE}
                if asset_type == "CONDITIONAL-V2"
                else {k: v for k, v in allowances.items() if k != EXCHANGE_V3[self.s.config.chain_id]}
            )
        else:
            raise ApiError(400, "Invalid asset type")
        return json_response({"balance": str(amount), "allowances": allowances})

    async def h_heartbeat(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        delay = self.s.faults.heartbeat_delay()
        status = self.s.faults.take_heartbeat_error()
        if status is not None:
            if delay:
                await asyncio.sleep(delay)
            extra = {"Retry-After": "1"} if status == 429 else {}
            raise ApiError(status, HEARTBEAT_ERROR_TEXT.get(status, "Internal Server Error"), headers=extra)
        data = parse_json(body) if body else {}
        hb = data.get("heartbeat_id", "") if isinstance(data, dict) else None
        if not isinstance(hb, str):
            raise ApiError(400, "Invalid Heartbeat ID", {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": ""})
        ok, value = self.s.engine.heartbeat(key.address, hb)
        if delay:  # the beat counts at once; only its answer is late
            await asyncio.sleep(delay)
        if not ok:
            raise ApiError(400, "Invalid Heartbeat ID", {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": value})
        return json_response({"heartbeat_id": value})

    def _scoring(self, oid: str) -> bool:
        o = self.s.engine.orders.get(oid)
        return o is not None and is_scoring(o, self.s.clock.now())

    async def h_order_scoring(self, request: web.Request) -> web.Response:
        await self.s.auth.l2(request)
        return json_response({"scoring": self._scoring(request.query.get("order_id", ""))})

    async def h_orders_scoring(self, request: web.Request) -> web.Response:
        _, body = await self.s.auth.l2(request)
        ids = parse_json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, INVALID_PAYLOAD)
        return json_response({i: self._scoring(i) for i in ids})
