"""Public market-data endpoints (no auth): time, version, tick size, markets, books, prices.

Read-only over the engine's markets; shapes follow production (protocol notes §2.1):
book levels best-LAST, prices and sizes as decimal strings, ``/tick-size`` and ``mts``
as numbers whose ``str()`` is a client rounding key.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import wire
from .config import PRICE_SCALE
from .fees import fee_rate_bps
from .httpkit import ApiError, decimal_string, json_response, page, parse_json
from .model import BUY, SELL, Market, fmt_price

if TYPE_CHECKING:
    from .server import SimServer

MAX_BOOKS = 500


def _mid(m: Market, token: str) -> str:
    bb, ba = m.top(token)
    lo = 0 if bb is None else bb
    hi = PRICE_SCALE if ba is None else ba
    return decimal_string(lo + hi, 2 * PRICE_SCALE)


def _spread(m: Market, token: str) -> str:
    bb, ba = m.top(token)
    return fmt_price((PRICE_SCALE if ba is None else ba) - (0 if bb is None else bb))


def _last_trade(m: Market, token: str) -> dict[str, str]:
    p = m.last_trade(token)
    if p is None:
        return {"price": "0.5", "side": ""}
    side = m.last_trade_side_yes
    if token != m.cfg.yes and side:
        side = SELL if side == BUY else BUY
    return {"price": fmt_price(p), "side": side}


class MarketDataRoutes:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def routes(self) -> list[tuple[str, str, Any]]:
        r: list[tuple[str, str, Any]] = [
            ("GET", "/", self.h_ok),
            ("GET", "/ok", self.h_ok),
            ("GET", "/time", self.h_time),
            ("GET", "/version", self.h_version),
            ("GET", "/tick-size", self.h_tick_size),
            ("GET", "/tick-size/{token_id}", self.h_tick_size),
            ("GET", "/neg-risk", self.h_neg_risk),
            ("GET", "/neg-risk/{token_id}", self.h_neg_risk),
            ("GET", "/fee-rate", self.h_fee_rate),
            ("GET", "/fee-rate/{token_id}", self.h_fee_rate),
            ("GET", "/markets/{condition_id}", self.h_market),
            ("GET", "/clob-markets/{condition_id}", self.h_clob_market),
            ("GET", "/markets-by-token/{token_id}", self.h_market_by_token),
            ("GET", "/book", self.h_book),
            ("GET", "/books", self.h_books_get),
            ("POST", "/books", self.h_books),
            ("GET", "/midpoint", self.h_midpoint),
            ("POST", "/midpoints", self.h_midpoints),
            ("GET", "/price", self.h_price),
            ("POST", "/prices", self.h_prices),
            ("GET", "/spread", self.h_spread),
            ("POST", "/spreads", self.h_spreads),
            ("GET", "/last-trade-price", self.h_last_trade_price),
            ("POST", "/last-trades-prices", self.h_last_trades_prices),
        ]
        for path in ("/markets", "/simplified-markets", "/sampling-markets", "/sampling-simplified-markets"):
            r.append(("GET", path, self.h_markets))
        return r

    # ------------------------------------------------------------ lookups

    def market_by_cond(self, cond: str) -> Market:
        m = self.s.engine.markets.get(cond.lower())
        if m is None:
            raise ApiError(404, "market not found")
        return m

    def token(self, request: web.Request, name: str = "token_id") -> tuple[Market, str]:
        token = request.match_info.get(name) or request.query.get(name, "")
        if not token or not token.isdigit():
            raise ApiError(400, "Invalid token id")
        found = self.s.engine.market_for_token(token)
        if found is None:
            raise ApiError(404, "No orderbook exists for the requested token id")
        return found[0], token

    def token_list(self, items: Any, *, need_side: bool = False) -> list[tuple[Market, str, str]]:
        if not isinstance(items, list):
            raise ApiError(400, "Invalid payload")
        if len(items) > MAX_BOOKS:
            raise ApiError(400, "Payload exceeds the limit")
        out = []
        for it in items:
            token = it.get("token_id") if isinstance(it, dict) else None
            if not isinstance(token, str) or not token.isdigit():
                raise ApiError(400, "Invalid token id")
            found = self.s.engine.market_for_token(token)
            if found is None:
                continue
            side = it.get("side", "") if need_side and isinstance(it, dict) else ""
            out.append((found[0], token, side if isinstance(side, str) else ""))
        return out

    # ------------------------------------------------------------ handlers

    async def h_ok(self, request: web.Request) -> web.Response:
        return json_response("OK")

    async def h_time(self, request: web.Request) -> web.Response:
        return json_response(int(self.s.clock.now()))

    async def h_version(self, request: web.Request) -> web.Response:
        return json_response({"version": 2})

    async def h_tick_size(self, request: web.Request) -> web.Response:
        m, _ = self.token(request)
        return json_response({"minimum_tick_size": float(m.tick_str)})

    async def h_neg_risk(self, request: web.Request) -> web.Response:
        m, _ = self.token(request)
        return json_response({"neg_risk": m.cfg.neg_risk})

    async def h_fee_rate(self, request: web.Request) -> web.Response:
        m, _ = self.token(request)
        return json_response({"base_fee": int(fee_rate_bps(m.cfg.fees))})

    async def h_markets(self, request: web.Request) -> web.Response:
        data = [wire.gamma_market(m) for m in self.s.engine.markets.values()]
        return json_response(page(data, request.query.get("next_cursor"), 1000))

    async def h_market(self, request: web.Request) -> web.Response:
        return json_response(wire.gamma_market(self.market_by_cond(request.match_info["condition_id"])))

    async def h_clob_market(self, request: web.Request) -> web.Response:
        return json_response(wire.clob_market(self.market_by_cond(request.match_info["condition_id"])))

    async def h_market_by_token(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        other = m.cfg.no if token == m.cfg.yes else m.cfg.yes
        return json_response({"condition_id": m.condition_id, "primary_token_id": token, "secondary_token_id": other})

    async def h_book(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        return json_response(wire.book_summary(m, token, self.s.clock.now()))

    async def h_books(self, request: web.Request) -> web.Response:
        now = self.s.clock.now()
        items = self.token_list(parse_json(await request.text()))
        return json_response([wire.book_summary(m, t, now) for m, t, _ in items])

    async def h_books_get(self, request: web.Request) -> web.Response:
        ids = [t for t in request.query.get("token_ids", "").split(",") if t]
        now = self.s.clock.now()
        items = self.token_list([{"token_id": t} for t in ids])
        return json_response([wire.book_summary(m, t, now) for m, t, _ in items])

    async def h_midpoint(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        mid = _mid(m, token)
        return json_response({"mid": mid, "mid_price": mid})

    async def h_midpoints(self, request: web.Request) -> web.Response:
        items = self.token_list(parse_json(await request.text()))
        return json_response({t: _mid(m, t) for m, t, _ in items})

    def _side_price(self, m: Market, token: str, side: str) -> str:
        bb, ba = m.top(token)
        want_bid = (side == BUY) == (self.s.config.settings.price_side_semantics == "live")
        p = bb if want_bid else ba
        if p is None:
            raise ApiError(404, "No orderbook exists for the requested token id")
        return fmt_price(p)

    async def h_price(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        side = request.query.get("side", "").upper()
        if side not in (BUY, SELL):
            raise ApiError(400, "Invalid side")
        return json_response({"price": self._side_price(m, token, side)})

    async def h_prices(self, request: web.Request) -> web.Response:
        out: dict[str, dict[str, str]] = {}
        for m, t, side in self.token_list(parse_json(await request.text()), need_side=True):
            side = side.upper()
            if side not in (BUY, SELL):
                raise ApiError(400, "Invalid side")
            with contextlib.suppress(ApiError):
                out.setdefault(t, {})[side] = self._side_price(m, t, side)
        return json_response(out)

    async def h_spread(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        return json_response({"spread": _spread(m, token)})

    async def h_spreads(self, request: web.Request) -> web.Response:
        items = self.token_list(parse_json(await request.text()))
        return json_response({t: _spread(m, t) for m, t, _ in items})

    async def h_last_trade_price(self, request: web.Request) -> web.Response:
        m, token = self.token(request)
        return json_response(_last_trade(m, token))

    async def h_last_trades_prices(self, request: web.Request) -> web.Response:
        items = self.token_list(parse_json(await request.text()))
        return json_response([{"token_id": t, **_last_trade(m, t)} for m, t, _ in items])
