"""aiohttp server: REST + /ws/market + /ws/user on one port, admin endpoints, `bandctl sim`.

All engine access happens on the server's event loop thread. Each handler does its
synchronous engine work in one go, then hands the engine's events to ``_dispatch``,
which queues WebSocket messages per connection (a writer task per connection sends
them), so a slow WS consumer never blocks the REST path.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import collections
import contextlib
import json
import logging
import math
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from aiohttp import WSMsgType, web

from . import wire
from .auth import (
    SIG_EOA,
    SIG_POLY_1271,
    UINT256_MAX,
    ApiKey,
    OrderFields,
    OrderVerifier,
    SignatureError,
    derive_api_key,
    is_address,
    verify_hmac,
    verify_l1,
)
from .clock import Clock, RealClock
from .config import (
    EXCHANGE_V2,
    MICRO,
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE_V2,
    PRICE_SCALE,
    SimConfig,
    SimConfigError,
    demo_yaml_text,
    load_config,
)
from .engine import (
    BUY,
    ORDER_TYPES,
    SELL,
    BookChangeEvent,
    BookSnapshotEvent,
    Engine,
    Event,
    LastTradeEvent,
    Market,
    MarketResolvedEvent,
    OrderEvent,
    OrderRejected,
    OrderRequest,
    TickSizeEvent,
    TradeEvent,
    fmt_price,
    fmt_size,
)
from .faults import FaultError, Faults
from .flow import Flow
from .ratelimit import Decision, RateLimiter

log = logging.getLogger("bandctl.sim")

MAX_BODY = 1 << 20
MAX_BATCH = 15
MAX_CANCEL_BATCH = 1000
MAX_BOOKS = 500
END_CURSOR = "LTE="
WS_QUEUE_LIMIT = 10_000
TICK_INTERVAL = 0.05
UNAUTHORIZED = "Unauthorized/Invalid api key"
INVALID_PAYLOAD = "Invalid order payload"
MAX_UINT_ALLOWANCE = str(UINT256_MAX)


class ApiError(Exception):
    """An HTTP error with production's body shape ``{"error": ...}``."""

    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=wire.dumps(obj), status=status, content_type="application/json", headers=headers)


def error_response(exc: ApiError) -> web.Response:
    return json_response({"error": exc.message, **exc.extra}, exc.status, exc.headers)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ApiError(400, INVALID_PAYLOAD) from None


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    if cursor == END_CURSOR:
        return -1
    try:
        value = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid next_cursor") from None
    if value < -1:
        raise ApiError(400, "invalid next_cursor")
    return value


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _page(items: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    start = _decode_cursor(cursor)
    if start < 0:
        return {"limit": limit, "count": 0, "next_cursor": END_CURSOR, "data": []}
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return {
        "limit": limit,
        "count": len(chunk),
        "next_cursor": _encode_cursor(end) if end < len(items) else END_CURSOR,
        "data": chunk,
    }


def _uint(value: Any, *, allow_int: bool = False) -> int:
    """Decimal-string uint256 (or a JSON integer where production accepts one, e.g. salt)."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 78:
        n = int(value)
    else:
        raise ApiError(400, INVALID_PAYLOAD)
    if not 0 <= n <= UINT256_MAX:
        raise ApiError(400, INVALID_PAYLOAD)
    return n


def _bytes32(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise ApiError(400, INVALID_PAYLOAD)
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ApiError(400, INVALID_PAYLOAD) from None


def _decimal_string(num: int, den: int) -> str:
    return format(Decimal(num) / Decimal(den), "f").rstrip("0").rstrip(".") if den else "0"


class Conn:
    """One WebSocket connection with its outgoing queue and subscriptions."""

    def __init__(self, server: SimServer, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.server = server
        self.ws = ws
        self.request = request
        self.kind = kind  # "market" | "user"
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.connected_at = time.monotonic()
        self.assets: set[str] = set()
        self.custom = False
        self.owner: str | None = None  # user channel: lower-case EOA
        self.markets: set[str] = set()  # user channel filter (empty = all)
        self.closed = False
        self.sent = 0
        self.dropped = 0

    def send(self, text: str, *, control: bool = False) -> None:
        if self.closed:
            return
        if not control:
            if self.kind == "market" and self.server.faults.stalled:
                return
            if self.server.faults.drop_ws():
                self.dropped += 1
                return
        if self.queue.qsize() >= WS_QUEUE_LIMIT:  # consumer hopelessly behind: drop it as production would
            self.abort()
            return
        self.queue.put_nowait(text)

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.queue.put_nowait(None)
        transport = self.request.transport
        if transport is not None:
            transport.close()

    async def writer(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None:
                return
            try:
                await self.ws.send_str(text)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                self.closed = True
                return


class SimServer:
    def __init__(self, config: SimConfig, *, clock: Clock | None = None, seed: int | None = None,
                 flow: bool = True, record_messages: int = 0) -> None:
        self.config = config
        self.clock = clock or RealClock()
        self.seed = 0 if seed is None else seed
        self.engine = Engine(config, self.clock.now, self.seed)
        self.verifier = OrderVerifier(config.chain_id)
        self.flow = Flow(self.engine, config, self.seed, enabled=flow)
        self.faults = Faults(config.faults, time.monotonic, self.seed)
        self.ratelimiter = RateLimiter(config.rate_limits)
        self.keys: dict[str, ApiKey] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()  # "METHOD /path STATUS" of non-200s
        self.market_conns: dict[str, set[Conn]] = {}
        self.user_conns: dict[str, set[Conn]] = {}
        self.conns: set[Conn] = set()
        self.tops: dict[str, tuple[int | None, int | None]] = {}
        self.recorded: collections.deque[dict[str, Any]] = collections.deque(maxlen=record_messages or None)
        self.record = record_messages > 0
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._tick_task: asyncio.Task[None] | None = None
        # Configured accounts can use their nonce-0 creds on the user channel even after a restart.
        for acct in config.accounts:
            k = derive_api_key(acct.address, 0)
            self.keys[k.key] = k
        self.flow.start()
        self._dispatch(self.engine.drain_events())

    # ------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        r = app.router
        get, post, delete = r.add_get, r.add_post, r.add_delete
        get("/", self.h_ok)
        get("/ok", self.h_ok)
        get("/time", self.h_time)
        get("/version", self.h_version)
        get("/tick-size", self.h_tick_size)
        get("/tick-size/{token_id}", self.h_tick_size)
        get("/neg-risk", self.h_neg_risk)
        get("/neg-risk/{token_id}", self.h_neg_risk)
        get("/fee-rate", self.h_fee_rate)
        get("/fee-rate/{token_id}", self.h_fee_rate)
        for path in ("/markets", "/simplified-markets", "/sampling-markets", "/sampling-simplified-markets"):
            get(path, self.h_markets)
        get("/markets/{condition_id}", self.h_market)
        get("/clob-markets/{condition_id}", self.h_clob_market)
        get("/markets-by-token/{token_id}", self.h_market_by_token)
        get("/book", self.h_book)
        get("/books", self.h_books_get)
        post("/books", self.h_books)
        get("/midpoint", self.h_midpoint)
        post("/midpoints", self.h_midpoints)
        get("/price", self.h_price)
        post("/prices", self.h_prices)
        get("/spread", self.h_spread)
        post("/spreads", self.h_spreads)
        get("/last-trade-price", self.h_last_trade_price)
        post("/last-trades-prices", self.h_last_trades_prices)
        post("/auth/api-key", self.h_create_api_key)
        get("/auth/derive-api-key", self.h_derive_api_key)
        get("/auth/api-keys", self.h_api_keys)
        delete("/auth/api-key", self.h_delete_api_key)
        get("/auth/ban-status/closed-only", self.h_closed_only)
        post("/order", self.h_post_order)
        post("/orders", self.h_post_orders)
        delete("/order", self.h_cancel)
        delete("/orders", self.h_cancel_orders)
        delete("/cancel-all", self.h_cancel_all)
        delete("/cancel-market-orders", self.h_cancel_market)
        get("/data/orders", self.h_open_orders)
        get("/data/order/{order_id}", self.h_get_order)
        get("/data/trades", self.h_trades)
        get("/balance-allowance", self.h_balance)
        get("/balance-allowance/update", self.h_balance)
        post("/v1/heartbeats", self.h_heartbeat)
        get("/order-scoring", self.h_order_scoring)
        post("/orders-scoring", self.h_orders_scoring)
        get("/rewards/markets/current", self.h_empty_page)
        get("/ws/market", self.ws_market)
        get("/ws/user", self.ws_user)
        get("/admin/state", self.h_admin_state)
        post("/admin/faults", self.h_admin_faults)
        post("/admin/fund", self.h_admin_fund)
        post("/admin/fair-value", self.h_admin_fair_value)
        post("/admin/market", self.h_admin_market)
        post("/admin/advance", self.h_admin_advance)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tick_task = asyncio.get_running_loop().create_task(self._ticker())
        return self.port

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
        for conn in list(self.conns):
            conn.closed = True
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):  # don't wait long for peers that never answer the close
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server shutdown"), 1)
        if self.runner is not None:
            await self.runner.cleanup()

    async def _ticker(self) -> None:
        """Apply time: GTD expiry, dead man's switch, due flow steps, WS disconnect faults."""
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            try:
                self.tick()
                every = self.faults.disconnect_every
                if every:
                    now = time.monotonic()
                    for conn in list(self.conns):
                        if now - conn.connected_at >= every:
                            conn.abort()
            except Exception:  # the exchange must keep running whatever a step does
                log.exception("tick failed")

    def tick(self) -> None:
        self.engine.advance()
        self.flow.step_due()
        self.engine.advance()
        self._dispatch(self.engine.drain_events())

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        info = request.match_info
        resource = info.route.resource if info.route is not None else None
        name = resource.canonical if resource is not None and info.http_exception is None else "<unmatched>"
        endpoint = f"{request.method} {name}"
        self.requests[endpoint] += 1
        response = await self._handle(request, handler, name)
        if response.status != 200 and not isinstance(response, web.WebSocketResponse):
            self.errors[f"{endpoint} {response.status}"] += 1
        return response

    async def _handle(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]],
                      name: str) -> Any:
        try:
            delay = 0.0
            if not name.startswith(("/admin", "/ws/")) and name != "<unmatched>":
                delay = self.faults.rest_delay()
                injected = self.faults.rest_status()
                if injected is not None:
                    if delay:
                        await asyncio.sleep(delay)
                    raise self._injected_error(injected)
            # Injected latency delays the answer, not the work: the request takes effect at
            # once and its response arrives late, the case that makes a client's timeout
            # ambiguous (the order may be live although the client saw no answer).
            response = await handler(request)
            if delay:
                await asyncio.sleep(delay)
            return response
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return json_response({"error": "Payload exceeds the limit"}, 400)
        except web.HTTPNotFound:
            return json_response({"error": "not found"}, 404)
        except web.HTTPMethodNotAllowed:
            return json_response({"error": "not found"}, 404)
        except web.HTTPException as exc:
            return json_response({"error": exc.reason}, exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return json_response({"error": "Internal Server Error"}, 500)

    @staticmethod
    def _injected_error(status: int) -> ApiError:
        if status == 425:
            return ApiError(425, "Too Early")
        if status == 429:
            return ApiError(429, "Too Many Requests", headers={"Retry-After": "1"})
        if status == 503:
            return ApiError(503, "Trading is currently disabled. Check polymarket.com for updates")
        return ApiError(500, "Internal Server Error")

    # ------------------------------------------------------------ auth

    def _fresh(self, ts: str) -> bool:
        try:
            t = int(ts)
        except ValueError:
            return False
        skew = self.config.settings.auth_max_skew
        return abs(t - time.time()) <= skew or abs(t - self.clock.now()) <= skew

    def _l1(self, request: web.Request) -> tuple[str, int]:
        h = request.headers
        address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
        nonce = h.get("POLY_NONCE", "0") or "0"
        if not (address and sig and ts) or not self._fresh(ts):
            raise ApiError(401, "Invalid L1 Request headers")
        try:
            addr = verify_l1(self.config.chain_id, address, sig, ts, nonce)
        except SignatureError:
            raise ApiError(401, "Invalid L1 Request headers") from None
        return addr, int(nonce)

    def _lookup_key(self, key: str, address: str) -> ApiKey | None:
        found = self.keys.get(key)
        if found is None and is_address(address):
            # Creds are deterministic: honour nonce-0 creds a client cached before a restart.
            candidate = derive_api_key(address.lower(), 0)
            if candidate.key == key:
                self.keys[key] = found = candidate
        return found

    async def _l2(self, request: web.Request) -> tuple[ApiKey, str]:
        h = request.headers
        address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
        key_id, passphrase = h.get("POLY_API_KEY", ""), h.get("POLY_PASSPHRASE", "")
        body = await request.text()
        if not (address and sig and ts and key_id and passphrase):
            raise ApiError(401, UNAUTHORIZED)
        key = self._lookup_key(key_id, address)
        if (
            key is None
            or key.address != address.lower()
            or not self._fresh(ts)
            or passphrase != key.passphrase
            or not verify_hmac(key, sig, ts, request.method, request.path, body)
        ):
            raise ApiError(401, UNAUTHORIZED)
        return key, body

    def _account(self, address: str) -> tuple[str, int]:
        """(funder, signature type) for an EOA; unconfigured addresses are plain EOAs."""
        acct = self.engine.accounts.get(address)
        return (acct.funder, acct.signature_type) if acct else (address, SIG_EOA)

    def _rate(self, kind: str, key: ApiKey, cost: int) -> Decision:
        d = self.ratelimiter.take(kind, key.address, cost)
        if not d.allowed:
            retry = max(1, math.ceil(d.retry_after))
            raise ApiError(429, "Too Many Requests", headers={
                "Retry-After": str(retry), **self._rate_headers(d),
            })
        return d

    @staticmethod
    def _rate_headers(d: Decision) -> dict[str, str]:
        return {"Poly-RateLimit-Remaining": str(d.remaining), "Poly-RateLimit-Reset": str(d.reset)}

    # ------------------------------------------------------------ public market data

    def _market_by_cond(self, cond: str) -> Market:
        m = self.engine.markets.get(cond.lower())
        if m is None:
            raise ApiError(404, "market not found")
        return m

    def _token(self, request: web.Request, name: str = "token_id") -> tuple[Market, str]:
        token = request.match_info.get(name) or request.query.get(name, "")
        if not token or not token.isdigit():
            raise ApiError(400, "Invalid token id")
        found = self.engine.market_for_token(token)
        if found is None:
            raise ApiError(404, "No orderbook exists for the requested token id")
        return found[0], token

    async def h_ok(self, request: web.Request) -> web.Response:
        return json_response("OK")

    async def h_time(self, request: web.Request) -> web.Response:
        return json_response(int(self.clock.now()))

    async def h_version(self, request: web.Request) -> web.Response:
        return json_response({"version": 2})

    async def h_tick_size(self, request: web.Request) -> web.Response:
        m, _ = self._token(request)
        return json_response({"minimum_tick_size": float(m.tick_str)})

    async def h_neg_risk(self, request: web.Request) -> web.Response:
        m, _ = self._token(request)
        return json_response({"neg_risk": m.cfg.neg_risk})

    async def h_fee_rate(self, request: web.Request) -> web.Response:
        self._token(request)
        return json_response({"base_fee": 0})

    async def h_markets(self, request: web.Request) -> web.Response:
        data = [wire.gamma_market(m) for m in self.engine.markets.values()]
        return json_response(_page(data, request.query.get("next_cursor"), 1000))

    async def h_market(self, request: web.Request) -> web.Response:
        return json_response(wire.gamma_market(self._market_by_cond(request.match_info["condition_id"])))

    async def h_clob_market(self, request: web.Request) -> web.Response:
        return json_response(wire.clob_market(self._market_by_cond(request.match_info["condition_id"])))

    async def h_market_by_token(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        other = m.cfg.no if token == m.cfg.yes else m.cfg.yes
        return json_response({"condition_id": m.condition_id, "primary_token_id": token,
                              "secondary_token_id": other})

    async def h_book(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        return json_response(wire.book_summary(m, token, self.clock.now()))

    def _token_list(self, items: Any, *, need_side: bool = False) -> list[tuple[Market, str, str]]:
        if not isinstance(items, list):
            raise ApiError(400, "Invalid payload")
        if len(items) > MAX_BOOKS:
            raise ApiError(400, "Payload exceeds the limit")
        out = []
        for it in items:
            token = it.get("token_id") if isinstance(it, dict) else None
            if not isinstance(token, str) or not token.isdigit():
                raise ApiError(400, "Invalid token id")
            found = self.engine.market_for_token(token)
            if found is None:
                continue
            side = it.get("side", "") if need_side else ""
            out.append((found[0], token, side if isinstance(side, str) else ""))
        return out

    async def h_books(self, request: web.Request) -> web.Response:
        now = self.clock.now()
        items = self._token_list(_parse_json(await request.text()))
        return json_response([wire.book_summary(m, t, now) for m, t, _ in items])

    async def h_books_get(self, request: web.Request) -> web.Response:
        ids = [t for t in request.query.get("token_ids", "").split(",") if t]
        now = self.clock.now()
        items = self._token_list([{"token_id": t} for t in ids])
        return json_response([wire.book_summary(m, t, now) for m, t, _ in items])

    @staticmethod
    def _mid(m: Market, token: str) -> str:
        bb, ba = m.top(token)
        lo = 0 if bb is None else bb
        hi = PRICE_SCALE if ba is None else ba
        return _decimal_string(lo + hi, 2 * PRICE_SCALE)

    async def h_midpoint(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        mid = self._mid(m, token)
        return json_response({"mid": mid, "mid_price": mid})

    async def h_midpoints(self, request: web.Request) -> web.Response:
        items = self._token_list(_parse_json(await request.text()))
        return json_response({t: self._mid(m, t) for m, t, _ in items})

    def _side_price(self, m: Market, token: str, side: str) -> str:
        bb, ba = m.top(token)
        want_bid = (side == BUY) == (self.config.settings.price_side_semantics == "live")
        p = bb if want_bid else ba
        if p is None:
            raise ApiError(404, "No orderbook exists for the requested token id")
        return fmt_price(p)

    async def h_price(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        side = request.query.get("side", "").upper()
        if side not in (BUY, SELL):
            raise ApiError(400, "Invalid side")
        return json_response({"price": self._side_price(m, token, side)})

    async def h_prices(self, request: web.Request) -> web.Response:
        out: dict[str, dict[str, str]] = {}
        for m, t, side in self._token_list(_parse_json(await request.text()), need_side=True):
            side = side.upper()
            if side not in (BUY, SELL):
                raise ApiError(400, "Invalid side")
            with contextlib.suppress(ApiError):
                out.setdefault(t, {})[side] = self._side_price(m, t, side)
        return json_response(out)

    @staticmethod
    def _spread(m: Market, token: str) -> str:
        bb, ba = m.top(token)
        return fmt_price((PRICE_SCALE if ba is None else ba) - (0 if bb is None else bb))

    async def h_spread(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        return json_response({"spread": self._spread(m, token)})

    async def h_spreads(self, request: web.Request) -> web.Response:
        items = self._token_list(_parse_json(await request.text()))
        return json_response({t: self._spread(m, t) for m, t, _ in items})

    @staticmethod
    def _last_trade(m: Market, token: str) -> dict[str, str]:
        p = m.last_trade(token)
        if p is None:
            return {"price": "0.5", "side": ""}
        side = m.last_trade_side_yes
        if token != m.cfg.yes and side:
            side = SELL if side == BUY else BUY
        return {"price": fmt_price(p), "side": side}

    async def h_last_trade_price(self, request: web.Request) -> web.Response:
        m, token = self._token(request)
        return json_response(self._last_trade(m, token))

    async def h_last_trades_prices(self, request: web.Request) -> web.Response:
        items = self._token_list(_parse_json(await request.text()))
        return json_response([{"token_id": t, **self._last_trade(m, t)} for m, t, _ in items])

    async def h_empty_page(self, request: web.Request) -> web.Response:
        return json_response({"limit": 500, "count": 0, "next_cursor": END_CURSOR, "data": []})

    # ------------------------------------------------------------ API keys

    def _issue_key(self, address: str, nonce: int) -> dict[str, str]:
        key = derive_api_key(address, nonce)
        self.keys[key.key] = key
        return {"apiKey": key.key, "secret": key.secret, "passphrase": key.passphrase}

    async def h_create_api_key(self, request: web.Request) -> web.Response:
        return json_response(self._issue_key(*self._l1(request)))

    async def h_derive_api_key(self, request: web.Request) -> web.Response:
        return json_response(self._issue_key(*self._l1(request)))

    async def h_api_keys(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        mine = [k.key for k in self.keys.values() if k.address == key.address]
        return json_response({"apiKeys": mine})

    async def h_delete_api_key(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        self.keys.pop(key.key, None)
        return json_response("OK")

    async def h_closed_only(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return json_response({"closed_only": False})

    # ------------------------------------------------------------ orders

    def _parse_order(self, item: Any, key: ApiKey) -> tuple[OrderFields, dict[str, Any], str, bool]:
        """Validate the JSON of one order; returns (fields, raw order, order type, post-only)."""
        if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
            raise ApiError(400, INVALID_PAYLOAD)
        o = item["order"]
        if "timestamp" not in o and ("nonce" in o or "feeRateBps" in o or "taker" in o):
            raise ApiError(400, "order_version_mismatch")  # a V1-signed order
        order_type = item.get("orderType", "GTC")
        post_only = item.get("postOnly", False)
        if order_type not in ORDER_TYPES or not isinstance(post_only, bool):
            raise ApiError(400, INVALID_PAYLOAD)
        if item.get("owner") != key.key:
            raise ApiError(400, "the order owner has to be the owner of the API KEY")
        maker, signer = o.get("maker"), o.get("signer")
        side = o.get("side")
        sig_type = o.get("signatureType")
        if not (is_address(maker) and is_address(signer)) or side not in (BUY, SELL):
            raise ApiError(400, INVALID_PAYLOAD)
        if isinstance(sig_type, bool) or sig_type not in (0, 1, 2, 3):
            raise ApiError(400, INVALID_PAYLOAD)
        sig = o.get("signature")
        try:
            if not isinstance(sig, str) or not sig.startswith("0x") or len(sig) > 4096:
                raise ValueError
            sig_bytes = bytes.fromhex(sig[2:])
        except ValueError:
            raise ApiError(400, INVALID_PAYLOAD) from None
        fields = OrderFields(
            salt=_uint(o.get("salt"), allow_int=True),
            maker=maker.lower(),
            signer=signer.lower(),
            token_id=_uint(o.get("tokenId")),
            maker_amount=_uint(o.get("makerAmount")),
            taker_amount=_uint(o.get("takerAmount")),
            side=0 if side == BUY else 1,
            signature_type=sig_type,
            timestamp=_uint(o.get("timestamp")),
            metadata=_bytes32(o.get("metadata")),
            builder=_bytes32(o.get("builder")),
            signature=sig_bytes,
        )
        _uint(o.get("expiration", "0"))
        if fields.maker_amount == 0 or fields.taker_amount == 0:
            raise ApiError(400, INVALID_PAYLOAD)
        return fields, o, order_type, post_only

    def _verify_order(self, key: ApiKey, f: OrderFields, neg_risk: bool) -> str:
        """Check maker/signer against the API key's account, then the signature. Returns the order id."""
        funder, sig_type = self._account(key.address)
        struct_hash, digest = self.verifier.order_digest(f, neg_risk)
        order_id = "0x" + digest.hex()
        if f.signature_type == SIG_POLY_1271:
            if f.signer != f.maker:
                raise OrderRejected("invalid signature")
        elif f.signer != key.address:
            raise OrderRejected("the order signer address has to be the address of the API KEY")
        if f.signature_type != sig_type or f.maker != funder:
            raise OrderRejected("invalid signature")
        try:
            recovered = self.verifier.recover_order_signer(f, neg_risk, struct_hash, digest)
        except SignatureError:
            raise OrderRejected("invalid signature") from None
        if recovered != key.address:
            raise OrderRejected("invalid signature")
        return order_id

    def _order_price(self, f: OrderFields, order_type: str, m: Market, order_id: str) -> tuple[int, int]:
        """(token price units, size micro) implied by the signed amounts."""
        cash, shares = (f.maker_amount, f.taker_amount) if f.side == 0 else (f.taker_amount, f.maker_amount)
        if order_type in ("GTC", "GTD"):
            price, rest = divmod(cash * PRICE_SCALE, shares)
            if rest:
                raise OrderRejected(
                    f"order {order_id} is invalid. Price ({_decimal_string(cash, shares)}) breaks minimum "
                    f"tick size rule: {m.tick_str}"
                )
            return price, shares
        exact = Fraction(cash * PRICE_SCALE, shares)
        # Market orders: the implied price is the worst acceptable one and need not sit on the
        # tick (the client rounds amounts, not prices). Snap within 1e-6, else round toward the
        # conservative side (down for buys, up for sells).
        ticks = exact / m.tick
        nearest = round(ticks)
        if abs(ticks - nearest) * m.tick < Fraction(1, 100):
            n = nearest
        else:
            n = math.floor(ticks) if f.side == 0 else math.ceil(ticks)
        return int(n) * m.tick, shares

    def _submit(self, key: ApiKey, item: Any) -> tuple[dict[str, Any], list[Event]]:
        """Verify and place one order. Raises ApiError / OrderRejected."""
        f, raw, order_type, post_only = self._parse_order(item, key)
        found = self.engine.market_for_token(str(f.token_id))
        if found is None:
            raise ApiError(400, "Invalid token id")
        m = found[0]
        order_id = self._verify_order(key, f, m.cfg.neg_risk)
        if m.status != "open":
            raise OrderRejected("market is closed: new orders are not accepted")
        price, size = self._order_price(f, order_type, m, order_id)
        req = OrderRequest(
            id=order_id, token_id=str(f.token_id), side=BUY if f.side == 0 else SELL, price=price, size=size,
            owner=key.address, maker=f.maker, api_key=key.key, order_type=order_type, post_only=post_only,
            expiration=int(raw.get("expiration", "0") or 0), maker_amount=f.maker_amount,
            taker_amount=f.taker_amount, maker_checksum=raw["maker"],
        )
        try:
            result = self.engine.place(req)
        finally:
            events = self.engine.drain_events()
        trade_ids = [t.id for t in result.trades]
        hashes = [t.tx_hash for t in result.trades]
        status = "live" if result.order.status == "LIVE" else "matched"
        resp = wire.order_response(
            order_id, status,
            fmt_size(result.making) if result.trades else "",
            fmt_size(result.taking) if result.trades else "",
            trade_ids, hashes,
        )
        return resp, events

    async def h_post_order(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        decision = self._rate("orders", key, 1)
        item = _parse_json(body)
        try:
            resp, events = self._submit(key, item)
        except OrderRejected as exc:
            self._dispatch(self.engine.drain_events())
            raise ApiError(exc.status, exc.message) from None
        self._dispatch(events)
        return json_response(resp, headers=self._rate_headers(decision))

    async def h_post_orders(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        items = _parse_json(body)
        if not isinstance(items, list) or not items:
            raise ApiError(400, INVALID_PAYLOAD)
        if len(items) > MAX_BATCH:
            raise ApiError(400, f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH}")
        decision = self._rate("orders", key, len(items))
        out: list[dict[str, Any]] = []
        for item in items:
            try:
                resp, events = self._submit(key, item)
            except (ApiError, OrderRejected) as exc:
                self._dispatch(self.engine.drain_events())
                oid = ""
                with contextlib.suppress(Exception):
                    oid = self._order_id_of(item)
                out.append(wire.order_error(exc.message, oid))
                continue
            self._dispatch(events)
            out.append(resp)
        return json_response(out, headers=self._rate_headers(decision))

    def _order_id_of(self, item: Any) -> str:
        o = item["order"]
        found = self.engine.market_for_token(str(o["tokenId"]))
        neg = found[0].cfg.neg_risk if found else False
        f = OrderFields(
            salt=_uint(o["salt"], allow_int=True), maker=o["maker"].lower(), signer=o["signer"].lower(),
            token_id=_uint(o["tokenId"]), maker_amount=_uint(o["makerAmount"]),
            taker_amount=_uint(o["takerAmount"]), side=0 if o["side"] == BUY else 1,
            signature_type=int(o["signatureType"]), timestamp=_uint(o["timestamp"]),
            metadata=_bytes32(o["metadata"]), builder=_bytes32(o["builder"]), signature=b"",
        )
        return "0x" + self.verifier.order_digest(f, neg)[1].hex()

    def _cancel_response(self, canceled: list[str], not_canceled: dict[str, str], d: Decision) -> web.Response:
        self._dispatch(self.engine.drain_events())
        return json_response({"canceled": canceled, "not_canceled": not_canceled}, headers=self._rate_headers(d))

    async def h_cancel(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        data = _parse_json(body)
        oid = data.get("orderID") if isinstance(data, dict) else None
        if not isinstance(oid, str) or not oid:
            raise ApiError(400, "Invalid orderID")
        d = self._rate("cancels", key, 1)
        canceled, not_canceled = self.engine.cancel(key.address, [oid])
        return self._cancel_response(canceled, not_canceled, d)

    async def h_cancel_orders(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        ids = _parse_json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, INVALID_PAYLOAD)
        if len(ids) > MAX_CANCEL_BATCH:
            raise ApiError(400, f"Too many orders in payload, max allowed: {MAX_CANCEL_BATCH}")
        d = self._rate("cancels", key, max(1, len(set(ids))))
        canceled, not_canceled = self.engine.cancel(key.address, ids)
        return self._cancel_response(canceled, not_canceled, d)

    async def h_cancel_all(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        d = self._rate("cancels", key, 1)
        canceled = self.engine.cancel_where(key.address)
        self.ratelimiter.charge("cancels", key.address, len(canceled))
        return self._cancel_response(canceled, {}, d)

    async def h_cancel_market(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        data = _parse_json(body) if body else {}
        if not isinstance(data, dict):
            raise ApiError(400, INVALID_PAYLOAD)
        market, asset = data.get("market"), data.get("asset_id")
        if (market is not None and not isinstance(market, str)) or (asset is not None and not isinstance(asset, str)):
            raise ApiError(400, INVALID_PAYLOAD)
        d = self._rate("cancels", key, 1)
        cond = market.lower() if market else None
        canceled = self.engine.cancel_where(
            key.address,
            lambda o: (cond is None or o.market.condition_id == cond) and (not asset or o.token_id == asset),
        )
        self.ratelimiter.charge("cancels", key.address, len(canceled))
        return self._cancel_response(canceled, {}, d)

    async def h_open_orders(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        q = request.query
        market, asset, oid = q.get("market", "").lower(), q.get("asset_id", ""), q.get("id", "")
        orders = [
            o for o in self.engine.open_orders(key.address)
            if (not market or o.market.condition_id == market) and (not asset or o.token_id == asset)
            and (not oid or o.id == oid)
        ]
        orders.sort(key=lambda o: o.seq)
        page = _page(orders, q.get("next_cursor"), self.config.settings.page_size)
        page["data"] = [wire.open_order(o) for o in page["data"]]
        return json_response(page)

    async def h_get_order(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        oid = request.match_info["order_id"]
        if not oid.startswith("0x"):
            raise ApiError(400, "Invalid orderID")
        o = self.engine.orders.get(oid)
        if o is None or o.owner != key.address:
            raise ApiError(404, "Order not found")
        return json_response(wire.open_order(o))

    async def h_trades(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
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
        for t in reversed(self.engine.trades_by_account.get(me, [])):
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
        page = _page(rows, q.get("next_cursor"), self.config.settings.page_size)
        page["data"] = [wire.rest_trade(t, as_maker) for t, as_maker in page["data"]]
        return json_response(page)

    async def h_balance(self, request: web.Request) -> web.Response:
        key, _ = await self._l2(request)
        q = request.query
        asset_type = q.get("asset_type", "COLLATERAL").upper()
        try:
            sig_type = int(q.get("signature_type", "0"))
        except ValueError:
            raise ApiError(400, "Invalid signature_type") from None
        if sig_type not in (0, 1, 2, 3):
            raise ApiError(400, "Invalid signature_type")
        funder, acct_type = self._account(key.address)
        holder = key.address if sig_type == SIG_EOA else (funder if sig_type == acct_type else None)
        bal = self.engine.balances.get(holder) if holder else None
        if asset_type == "COLLATERAL":
            amount = bal.collateral if bal else 0
        elif asset_type == "CONDITIONAL":
            token = q.get("token_id", "")
            if not token.isdigit():
                raise ApiError(400, "Invalid token id")
            amount = bal.tokens.get(token, 0) if bal else 0
        else:
            raise ApiError(400, "Invalid asset type")
        allowances = {EXCHANGE_V2: MAX_UINT_ALLOWANCE, NEG_RISK_EXCHANGE_V2: MAX_UINT_ALLOWANCE,
                      NEG_RISK_ADAPTER: MAX_UINT_ALLOWANCE}
        return json_response({"balance": str(amount), "allowances": allowances})

    async def h_heartbeat(self, request: web.Request) -> web.Response:
        key, body = await self._l2(request)
        data = _parse_json(body) if body else {}
        hb = data.get("heartbeat_id", "") if isinstance(data, dict) else None
        if not isinstance(hb, str):
            raise ApiError(400, "Invalid Heartbeat ID", {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": ""})
        ok, value = self.engine.heartbeat(key.address, hb)
        if not ok:
            raise ApiError(400, "Invalid Heartbeat ID", {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": value})
        return json_response({"heartbeat_id": value})

    def _scoring(self, oid: str) -> bool:
        o = self.engine.orders.get(oid)
        if o is None or o.status != "LIVE" or not o.market.cfg.rewards_max_spread:
            return False
        m = o.market
        bb, ba = m.top(o.token_id)
        if bb is None or ba is None:
            return False
        mid = (bb + ba) / 2
        within = abs(o.price - mid) <= m.cfg.rewards_max_spread / 100 * PRICE_SCALE
        return within and o.remaining >= m.cfg.rewards_min_size * MICRO

    async def h_order_scoring(self, request: web.Request) -> web.Response:
        await self._l2(request)
        return json_response({"scoring": self._scoring(request.query.get("order_id", ""))})

    async def h_orders_scoring(self, request: web.Request) -> web.Response:
        _, body = await self._l2(request)
        ids = _parse_json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, INVALID_PAYLOAD)
        return json_response({i: self._scoring(i) for i in ids})

    # ------------------------------------------------------------ admin

    def admin_state(self, trades_limit: int = 1000) -> dict[str, Any]:
        now = self.clock.now()
        markets = {}
        for cond, m in self.engine.markets.items():
            markets[cond] = {
                "name": m.cfg.name,
                "status": m.status,
                "tickSize": m.tick_str,
                "fairValue": round(self.flow.fair_value(cond), 6),
                "books": {tok: {k: v for k, v in wire.book_summary(m, tok, now).items()
                                if k in ("bids", "asks", "last_trade_price", "hash")}
                          for tok in (m.cfg.yes, m.cfg.no)},
            }
        balances = {
            addr: {
                "collateral": fmt_size(b.collateral),
                "lockedCollateral": fmt_size(b.locked_collateral),
                "tokens": {t: fmt_size(v) for t, v in b.tokens.items() if v},
                "lockedTokens": {t: fmt_size(v) for t, v in b.locked_tokens.items() if v},
            }
            for addr, b in self.engine.balances.items()
        }
        trades = [
            {
                "id": t.id, "market": t.market.condition_id, "takerOrderId": t.taker.id,
                "taker": t.taker.maker, "maker": t.makers[0].order.maker,
                "makerOrderId": t.makers[0].order.id, "assetId": t.asset_id, "side": t.side,
                "price": fmt_price(t.price), "size": fmt_size(t.size), "matchTime": t.match_time,
                "transactionHash": t.tx_hash,
            }
            for t in self.engine.trades[-trades_limit:]
        ]
        return {
            "time": now,
            "markets": markets,
            "orders": self.engine.order_snapshot(),
            "balances": balances,
            "trades": trades,
            "tradeCount": len(self.engine.trades),
            "requests": dict(self.requests),
            "errors": dict(self.errors),
            "faults": self.faults.snapshot(),
            "flow": {"enabled": self.flow.enabled, "steps": self.flow.steps},
            "websockets": {"market": sum(1 for c in self.conns if c.kind == "market"),
                           "user": sum(1 for c in self.conns if c.kind == "user")},
        }

    async def h_admin_state(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("trades", "1000"))
        except ValueError:
            raise ApiError(400, "trades must be an integer") from None
        return json_response(self.admin_state(max(0, limit)))

    async def _admin_body(self, request: web.Request) -> dict[str, Any]:
        data = _parse_json(await request.text())
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object")
        return data

    async def h_admin_faults(self, request: web.Request) -> web.Response:
        try:
            return json_response(self.set_faults(await self._admin_body(request)))
        except FaultError as exc:
            raise ApiError(400, str(exc)) from None

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        return self.faults.update(changes)

    def fund(self, address: str, collateral: Any = None, tokens: dict[str, Any] | None = None,
             mode: str = "set") -> dict[str, Any]:
        if not is_address(address):
            raise ApiError(400, "invalid address")
        if mode not in ("set", "add"):
            raise ApiError(400, "mode must be set or add")

        def micro(v: Any) -> int:
            try:
                d = Decimal(str(v)) * MICRO
            except InvalidOperation:
                raise ApiError(400, f"invalid amount {v!r}") from None
            if d != d.to_integral_value() or (mode == "set" and d < 0) or not d.is_finite():
                raise ApiError(400, f"invalid amount {v!r}")
            return int(d)

        if tokens is not None and not isinstance(tokens, dict):
            raise ApiError(400, "tokens must be an object")
        try:
            bal = self.engine.fund(
                address, None if collateral is None else micro(collateral),
                {str(k): micro(v) for k, v in (tokens or {}).items()}, mode=mode,
            )
        except KeyError as exc:
            raise ApiError(400, f"unknown token id {exc.args[0]}") from None
        return {"address": address.lower(), "collateral": fmt_size(bal.collateral),
                "tokens": {t: fmt_size(v) for t, v in bal.tokens.items() if v}}

    async def h_admin_fund(self, request: web.Request) -> web.Response:
        data = await self._admin_body(request)
        return json_response(self.fund(data.get("address", ""), data.get("collateral"), data.get("tokens"),
                                        data.get("mode", "set")))

    def set_fair_value(self, cond: str, value: Any) -> dict[str, Any]:
        if not isinstance(cond, str) or cond.lower() not in self.engine.markets:
            raise ApiError(404, "market not found")
        try:
            v = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise ApiError(400, "value must be a probability in (0, 1)") from None
        if not 0 < v < 1:
            raise ApiError(400, "value must be a probability in (0, 1)")
        self.flow.set_fair_value(cond, v)
        self._dispatch(self.engine.drain_events())
        return {"conditionId": cond.lower(), "fairValue": v}

    async def h_admin_fair_value(self, request: web.Request) -> web.Response:
        data = await self._admin_body(request)
        return json_response(self.set_fair_value(data.get("conditionId", ""), data.get("value")))

    def set_market_status(self, cond: str, status: str, winner: str | None = None) -> dict[str, Any]:
        if not isinstance(cond, str) or cond.lower() not in self.engine.markets:
            raise ApiError(404, "market not found")
        if status not in ("closed", "resolved"):
            raise ApiError(400, "status must be closed or resolved")
        if status == "resolved" and winner not in ("yes", "no"):
            raise ApiError(400, "winner must be yes or no")
        self.engine.close_market(cond, winner if status == "resolved" else None)
        self._dispatch(self.engine.drain_events())
        return {"conditionId": cond.lower(), "status": status}

    async def h_admin_market(self, request: web.Request) -> web.Response:
        data = await self._admin_body(request)
        return json_response(self.set_market_status(data.get("conditionId", ""), data.get("status", ""),
                                                    data.get("winner")))

    def advance(self, seconds: float) -> float:
        if not getattr(self.clock, "manual", False):
            raise ApiError(400, "the emulator runs on the real clock; start it with a manual clock")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 10**7:
            raise ApiError(400, "seconds must be a non-negative number")
        self.clock.advance(seconds)  # type: ignore[attr-defined]
        self.tick()
        return self.clock.now()

    def step_flow(self, n: int) -> int:
        self.flow.step(n)
        self._dispatch(self.engine.drain_events())
        return self.flow.steps

    async def h_admin_advance(self, request: web.Request) -> web.Response:
        data = await self._admin_body(request)
        if "steps" in data:
            steps = data["steps"]
            if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= 100_000:
                raise ApiError(400, "steps must be a non-negative integer")
            return json_response({"flowSteps": self.step_flow(steps)})
        return json_response({"time": self.advance(data.get("seconds", 0))})

    # ------------------------------------------------------------ WebSocket

    async def _ws_session(self, request: web.Request, kind: str,
                          on_message: Callable[[Conn, Any], None]) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_BODY)
        await ws.prepare(request)
        conn = Conn(self, ws, request, kind)
        self.conns.add(conn)
        writer = asyncio.get_running_loop().create_task(conn.writer())
        idle = self.config.settings.ws_idle_timeout
        try:
            while not conn.closed:
                try:
                    msg = await ws.receive(timeout=idle)
                except TimeoutError:
                    break  # idle: production drops connections that stop pinging
                if msg.type == WSMsgType.TEXT:
                    text = msg.data.strip()
                    if text.upper() == "PING":
                        conn.send("PONG", control=True)
                        continue
                    try:
                        data = json.loads(text)
                    except (ValueError, RecursionError):
                        continue  # production ignores garbage frames
                    try:
                        on_message(conn, data)
                    except Exception:
                        log.exception("ws message handling failed")
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            conn.closed = True
            conn.queue.put_nowait(None)
            self.conns.discard(conn)
            for subs in self.market_conns.values():
                subs.discard(conn)
            if conn.owner:
                self.user_conns.get(conn.owner, set()).discard(conn)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1)
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
        return ws

    async def ws_market(self, request: web.Request) -> web.WebSocketResponse:
        return await self._ws_session(request, "market", self._on_market_message)

    async def ws_user(self, request: web.Request) -> web.WebSocketResponse:
        return await self._ws_session(request, "user", self._on_user_message)

    def _on_market_message(self, conn: Conn, data: Any) -> None:
        if not isinstance(data, dict):
            return
        assets = data.get("assets_ids", data.get("asset_ids", []))
        if not isinstance(assets, list):
            return
        assets = [a for a in assets if isinstance(a, str)]
        op = str(data.get("operation", "subscribe")).lower()
        if isinstance(data.get("custom_feature_enabled"), bool):
            conn.custom = data["custom_feature_enabled"]
        if op == "unsubscribe":
            for a in assets:
                conn.assets.discard(a)
                self.market_conns.get(a, set()).discard(conn)
            return
        if op != "subscribe":
            return
        new = [a for a in dict.fromkeys(assets) if a not in conn.assets and self.engine.market_for_token(a)]
        for a in new:
            conn.assets.add(a)
            self.market_conns.setdefault(a, set()).add(conn)
        if data.get("initial_dump", True) is not False:
            now = self.clock.now()
            books = []
            for a in new:
                m = self.engine.market_for_token(a)[0]  # type: ignore[index]
                books.append(wire.ws_book(m, a, now))
            conn.send(wire.dumps(books))

    def _on_user_message(self, conn: Conn, data: Any) -> None:
        if not isinstance(data, dict):
            return
        markets = data.get("markets", [])
        markets = {m.lower() for m in markets if isinstance(m, str)} if isinstance(markets, list) else set()
        if conn.owner is None:
            auth = data.get("auth")
            key = self.keys.get(auth.get("apiKey", "")) if isinstance(auth, dict) else None
            if (
                key is None
                or auth.get("secret") != key.secret  # type: ignore[union-attr]
                or auth.get("passphrase") != key.passphrase  # type: ignore[union-attr]
            ):
                conn.abort()
                return
            conn.owner = key.address
            conn.markets = markets
            self.user_conns.setdefault(key.address, set()).add(conn)
            return
        op = str(data.get("operation", "")).lower()
        if op == "subscribe":
            conn.markets |= markets
        elif op == "unsubscribe":
            conn.markets -= markets

    # ------------------------------------------------------------ event fan-out

    def _record(self, msg: Any) -> None:
        if self.record:
            self.recorded.append(msg)

    def _send_market(self, token: str, msg: dict[str, Any], *, custom_only: bool = False) -> None:
        self._record(msg)
        subs = self.market_conns.get(token)
        if not subs:
            return
        text = wire.dumps(msg)
        for conn in subs:
            if not custom_only or conn.custom:
                conn.send(text)

    def _send_user(self, owner: str, market: str, msg: dict[str, Any]) -> None:
        self._record(msg)
        subs = self.user_conns.get(owner)
        if not subs:
            return
        text = wire.dumps(msg)
        for conn in subs:
            if not conn.markets or market in conn.markets:
                conn.send(text)

    def _market_subscribers(self, m: Market) -> set[Conn]:
        return self.market_conns.get(m.cfg.yes, set()) | self.market_conns.get(m.cfg.no, set())

    def _dispatch(self, events: list[Event]) -> None:
        for e in events:
            # Messages are only built for someone: nobody listening is the benchmark's common case.
            if isinstance(e, OrderEvent):
                if self.record or self.user_conns.get(e.order.owner):
                    self._send_user(e.order.owner, e.order.market.condition_id, wire.user_order(e))
            elif isinstance(e, TradeEvent):
                t = e.trade
                cond = t.market.condition_id
                for status in self.config.settings.trade_statuses:
                    if self.record or self.user_conns.get(t.taker.owner):
                        self._send_user(t.taker.owner, cond, wire.user_trade(t, False, status, t.match_time))
                    for f in t.makers:
                        if self.record or self.user_conns.get(f.order.owner):
                            self._send_user(f.order.owner, cond, wire.user_trade(t, True, status, t.match_time))
            elif isinstance(e, BookChangeEvent):
                self._book_change(e)
            elif isinstance(e, LastTradeEvent):
                m = e.market
                if self.record or self._market_subscribers(m):
                    for tok in (m.cfg.yes, m.cfg.no):
                        self._send_market(tok, wire.last_trade_price(m, e.trade, tok))
            elif isinstance(e, BookSnapshotEvent):
                m = e.market
                if self._market_subscribers(m) or self.record:
                    for tok in (m.cfg.yes, m.cfg.no):
                        self._send_market(tok, wire.ws_book(m, tok, e.ts))
            elif isinstance(e, TickSizeEvent):
                for tok in (e.market.cfg.yes, e.market.cfg.no):
                    self._send_market(tok, wire.tick_size_change(e.market, tok, e.old, e.new, e.ts))
            elif isinstance(e, MarketResolvedEvent):
                msg = wire.market_resolved(e.market, e.winner_token, e.ts)
                self._record(msg)
                text = wire.dumps(msg)
                for conn in self._market_subscribers(e.market):
                    if conn.custom:
                        conn.send(text)

    def _book_change(self, e: BookChangeEvent) -> None:
        m = e.market
        subs = self._market_subscribers(m)
        top_changed = self.tops.get(m.condition_id) != (m.best_bid(), m.best_ask())
        self.tops[m.condition_id] = (m.best_bid(), m.best_ask())
        if not subs and not self.record:
            return  # nobody listens: skip building messages (book hashes are the expensive part)
        both = (m.cfg.yes, m.cfg.no)
        full = wire.price_change(m, e.changes, e.ts, both)
        self._record(full)
        cache: dict[tuple[str, ...], str] = {both: wire.dumps(full)}
        for conn in subs:
            key = tuple(t for t in both if t in conn.assets)
            text = cache.get(key)
            if text is None:
                text = cache[key] = wire.dumps(
                    {**full, "price_changes": [c for c in full["price_changes"] if c["asset_id"] in key]}
                )
            conn.send(text)
        if top_changed:
            for tok in both:
                msg = wire.best_bid_ask(m, tok, e.ts)
                self._send_market(tok, msg, custom_only=True)


# ---------------------------------------------------------------- `bandctl sim`


def run_sim_command(args: argparse.Namespace) -> int:
    """Entry point of ``bandctl sim``: serve until SIGINT/SIGTERM."""
    if getattr(args, "print_config", False):
        sys.stdout.write(demo_yaml_text())
        return 0
    try:
        config = load_config(getattr(args, "config", None))
    except SimConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = getattr(args, "port", 0) or 0
    if not 0 <= port <= 65535:
        print(f"error: invalid port {port}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = getattr(args, "host", None) or "127.0.0.1"
    return asyncio.run(_serve(config, host, port, getattr(args, "seed", None)))


async def _serve(config: SimConfig, host: str, port: int, seed: int | None) -> int:
    server = SimServer(config, seed=seed)
    try:
        actual = await server.start(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    # Scripts parse this first line: keep its wording.
    print(f"bandctl sim listening on http://{host}:{actual}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    return 0
