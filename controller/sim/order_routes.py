"""Order endpoints: POST /order(s) (verify, place) and the cancel family (DELETE ...).

Signature checks use the market's exchange domain (V2, V2 neg-risk or V3); business
rules live in the engine. Engine-restart windows gate these endpoints: 425 while the
engine is down, then post-only mode (cancels and post-only orders only). The
place-response faults corrupt the answer of an order that was really placed.
No matching or balance logic here: every decision about the book is the engine's.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import wire
from .auth import SIG_POLY_1271, ApiKey, Exchange, OrderFields, SignatureError
from .events import Event, OrderRejected, OrderRequest
from .httpkit import INVALID_PAYLOAD, ApiError, json_response, parse_json
from .model import BUY, SELL, Market, fmt_size
from .order_parse import order_fields, order_price, parse_order
from .ratelimit import Decision
from .request_auth import rate_headers
from .restart import ERR_POST_ONLY_MODE, Phase

if TYPE_CHECKING:
    from .server import SimServer

MAX_BATCH = 15
MAX_CANCEL_BATCH = 1000


def exchange_of(m: Market) -> Exchange:
    if m.cfg.exchange == "v3":
        return Exchange.V3
    return Exchange.V2_NEG_RISK if m.cfg.neg_risk else Exchange.V2


class OrderRoutes:
    def __init__(self, server: SimServer) -> None:
        self.s = server

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", "/order", self.h_post_order),
            ("POST", "/orders", self.h_post_orders),
            ("DELETE", "/order", self.h_cancel),
            ("DELETE", "/orders", self.h_cancel_orders),
            ("DELETE", "/cancel-all", self.h_cancel_all),
            ("DELETE", "/cancel-market-orders", self.h_cancel_market),
        ]

    # ------------------------------------------------------------ engine restarts

    def _phase(self) -> tuple[Phase, float]:
        phase, left = self.s.restarts.phase(self.s.clock.now())
        if phase is Phase.UNAVAILABLE:
            raise ApiError(425, "Too Early", headers={"Retry-After": str(max(1, int(left + 0.999)))})
        return phase, left

    @staticmethod
    def _post_only_error(left: float) -> ApiError:
        retry = max(1, int(left + 0.999))
        return ApiError(
            503,
            ERR_POST_ONLY_MODE,
            {"code": "post_only_mode", "retry_after_seconds": retry},
            headers={"Retry-After": str(retry)},
        )

    # ------------------------------------------------------------ placing

    def _verify(self, key: ApiKey, f: OrderFields, exchange: Exchange) -> str:
        """Check maker/signer against the API key's account, then the signature. Returns the order id."""
        funder, sig_type = self.s.auth.account(key.address)
        struct_hash, digest = self.s.verifier.order_digest(f, exchange)
        order_id = "0x" + digest.hex()
        if f.signature_type == SIG_POLY_1271:
            if f.signer != f.maker:
                raise OrderRejected("invalid signature")
        elif f.signer != key.address:
            raise OrderRejected("the order signer address has to be the address of the API KEY")
        if f.signature_type != sig_type or f.maker != funder:
            raise OrderRejected("invalid signature")
        try:
            recovered = self.s.verifier.recover_order_signer(f, exchange, struct_hash, digest)
        except SignatureError:
            raise OrderRejected("invalid signature") from None
        if recovered != key.address:
            raise OrderRejected("invalid signature")
        return order_id

    def _submit(self, key: ApiKey, item: Any, phase: tuple[Phase, float]) -> tuple[dict[str, Any], list[Event]]:
        """Verify and place one order. Raises ApiError / OrderRejected."""
        parsed = parse_order(item, key.key)
        f = parsed.fields
        found = self.s.engine.market_for_token(str(f.token_id))
        if found is None:
            raise ApiError(400, "Invalid token id")
        m = found[0]
        order_id = self._verify(key, f, exchange_of(m))
        if m.status != "open":
            raise OrderRejected("market is closed: new orders are not accepted")
        if phase[0] is Phase.POST_ONLY and not parsed.post_only:
            raise self._post_only_error(phase[1])
        price, size = order_price(f, parsed.order_type, m, order_id)
        req = OrderRequest(
            id=order_id,
            token_id=str(f.token_id),
            side=BUY if f.side == 0 else SELL,
            price=price,
            size=size,
            owner=key.address,
            maker=f.maker,
            api_key=key.key,
            order_type=parsed.order_type,
            post_only=parsed.post_only,
            expiration=parsed.expiration,
            maker_amount=f.maker_amount,
            taker_amount=f.taker_amount,
            maker_checksum=parsed.raw["maker"],
        )
        try:
            result = self.s.engine.place(req)
        finally:
            events = self.s.engine.drain_events()
        trade_ids = [t.id for t in result.trades]
        hashes = [t.tx_hash for t in result.trades]
        status = "live" if result.order.status == "LIVE" else "matched"
        resp = wire.order_response(
            order_id,
            status,
            fmt_size(result.making) if result.trades else "",
            fmt_size(result.taking) if result.trades else "",
            trade_ids,
            hashes,
        )
        return self.s.faults.corrupt_place_response(resp), events

    async def h_post_order(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        phase = self._phase()
        decision = self.s.auth.rate("orders", key, 1)
        item = parse_json(body)
        try:
            resp, events = self._submit(key, item, phase)
        except OrderRejected as exc:
            self.s.dispatch()
            raise ApiError(exc.status, exc.message) from None
        self.s.dispatch(events, after_answer=True)
        return json_response(resp, headers=rate_headers(decision))

    async def h_post_orders(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        phase = self._phase()
        items = parse_json(body)
        if not isinstance(items, list) or not items:
            raise ApiError(400, INVALID_PAYLOAD)
        if len(items) > MAX_BATCH:
            raise ApiError(400, f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH}")
        decision = self.s.auth.rate("orders", key, len(items))
        out: list[dict[str, Any]] = []
        for item in items:
            try:
                resp, events = self._submit(key, item, phase)
            except (ApiError, OrderRejected) as exc:
                self.s.dispatch()
                oid = ""
                with contextlib.suppress(Exception):
                    oid = self._order_id_of(item)
                out.append(wire.order_error(exc.message, oid))
                continue
            self.s.dispatch(events, after_answer=True)
            out.append(resp)
        return json_response(out, headers=rate_headers(decision))

    def _order_id_of(self, item: Any) -> str:
        f = order_fields(item["order"], signature=False)
        found = self.s.engine.market_for_token(str(f.token_id))
        exchange = exchange_of(found[0]) if found else Exchange.V2
        return "0x" + self.s.verifier.order_digest(f, exchange)[1].hex()

    # ------------------------------------------------------------ cancelling

    def _cancel_response(self, canceled: list[str], not_canceled: dict[str, str], d: Decision) -> web.Response:
        self.s.dispatch(after_answer=True)
        return json_response({"canceled": canceled, "not_canceled": not_canceled}, headers=rate_headers(d))

    async def h_cancel(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        self._phase()
        data = parse_json(body)
        oid = data.get("orderID") if isinstance(data, dict) else None
        if not isinstance(oid, str) or not oid:
            raise ApiError(400, "Invalid orderID")
        d = self.s.auth.rate("cancels", key, 1)
        canceled, not_canceled = self.s.engine.cancel(key.address, [oid])
        return self._cancel_response(canceled, not_canceled, d)

    async def h_cancel_orders(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        self._phase()
        ids = parse_json(body)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, INVALID_PAYLOAD)
        if len(ids) > MAX_CANCEL_BATCH:
            raise ApiError(400, f"Too many orders in payload, max allowed: {MAX_CANCEL_BATCH}")
        d = self.s.auth.rate("cancels", key, max(1, len(set(ids))))
        canceled, not_canceled = self.s.engine.cancel(key.address, ids)
        return self._cancel_response(canceled, not_canceled, d)

    async def h_cancel_all(self, request: web.Request) -> web.Response:
        key, _ = await self.s.auth.l2(request)
        self._phase()
        d = self.s.auth.rate("cancels", key, 1)
        canceled = self.s.engine.cancel_where(key.address)
        self.s.ratelimiter.charge("cancels", key.address, len(canceled))
        return self._cancel_response(canceled, {}, d)

    async def h_cancel_market(self, request: web.Request) -> web.Response:
        key, body = await self.s.auth.l2(request)
        self._phase()
        data = parse_json(body) if body else {}
        if not isinstance(data, dict):
            raise ApiError(400, INVALID_PAYLOAD)
        market, asset = data.get("market"), data.get("asset_id")
        if (market is not None and not isinstance(market, str)) or (asset is not None and not isinstance(asset, str)):
            raise ApiError(400, INVALID_PAYLOAD)
        d = self.s.auth.rate("cancels", key, 1)
        cond = market.lower() if market else None
        canceled = self.s.engine.cancel_where(
            key.address,
            lambda o: (cond is None or o.market.condition_id == cond) and (not asset or o.token_id == asset),
        )
        self.s.ratelimiter.charge("cancels", key.address, len(canceled))
        return self._cancel_response(canceled, {}, d)
