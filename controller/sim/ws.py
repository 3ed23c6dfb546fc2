"""WebSocket channels /ws/market and /ws/user: connections, subscriptions, PING/PONG.

Each connection has its own outgoing queue drained by a writer task, so a slow consumer
never blocks the REST path; a consumer hopelessly behind is dropped, as production
would. A queued message may be ``Deferred``: its text is built when a writer first sends
it, so the REST request that caused it is answered before that work. This module only
manages who is subscribed to what; ``fanout`` decides what each subscriber receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import wire
from .httpkit import MAX_BODY

if TYPE_CHECKING:
    from .server import SimServer

log = logging.getLogger("bandctl.sim")

WS_QUEUE_LIMIT = 10_000


class Deferred:
    """A message's text built on first use, once for every connection it is queued on.

    ``build`` must depend only on what it captured when queued (a copy of the book), never
    on the exchange's state when it runs."""

    __slots__ = ("_build", "_text")

    def __init__(self, build: Callable[[], str]) -> None:
        self._build: Callable[[], str] | None = build
        self._text: str | None = None

    def text(self) -> str:
        if self._text is None:
            assert self._build is not None
            self._text, self._build = self._build(), None
        return self._text


class Conn:
    """One WebSocket connection with its outgoing queue and subscriptions."""

    def __init__(self, server: SimServer, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.server = server
        self.ws = ws
        self.request = request
        self.kind = kind  # "market" | "user"
        self.queue: asyncio.Queue[str | Deferred | None] = asyncio.Queue()
        self.connected_at = time.monotonic()
        self.assets: set[str] = set()
        self.custom = False
        self.owner: str | None = None  # user channel: lower-case EOA
        self.api_key: str | None = None  # user channel: the key it authenticated with
        self.markets: set[str] = set()  # user channel filter (empty = all)
        self.closed = False
        self.sent = 0
        self.dropped = 0

    def send(self, text: str | Deferred, *, control: bool = False) -> None:
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
            item = await self.queue.get()
            if item is None:
                return
            try:
                text = item if isinstance(item, str) else item.text()
            except Exception:  # a message that cannot be built is lost, not the connection
                log.exception("building a ws message failed")
                continue
            try:
                await self.ws.send_str(text)
                self.sent += 1
            except (ConnectionError, RuntimeError):
                self.closed = True
                return


class WsHub:
    def __init__(self, server: SimServer) -> None:
        self.s = server
        self.market_conns: dict[str, set[Conn]] = {}
        self.user_conns: dict[str, set[Conn]] = {}
        self.conns: set[Conn] = set()

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", "/ws/market", self.ws_market), ("GET", "/ws/user", self.ws_user)]

    def counts(self) -> dict[str, int]:
        return {
            "market": sum(1 for c in self.conns if c.kind == "market"),
            "user": sum(1 for c in self.conns if c.kind == "user"),
        }

    def drop_user(self, api_key: str) -> None:
        """A revoked key's user-channel connections are closed."""
        for conn in [c for c in self.conns if c.api_key == api_key]:
            conn.abort()

    def abort_older_than(self, seconds: float) -> None:
        now = time.monotonic()
        for conn in list(self.conns):
            if now - conn.connected_at >= seconds:
                conn.abort()

    async def close_all(self) -> None:
        for conn in list(self.conns):
            conn.closed = True
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):  # don't wait long for peers that never answer the close
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server shutdown"), 1)

    def market_subscribers(self, cond_tokens: tuple[str, str]) -> set[Conn]:
        return self.market_conns.get(cond_tokens[0], set()) | self.market_conns.get(cond_tokens[1], set())

    async def _session(
        self, request: web.Request, kind: str, on_message: Callable[[Conn, Any], None]
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_BODY)
        await ws.prepare(request)
        conn = Conn(self.s, ws, request, kind)
        self.conns.add(conn)
        writer = asyncio.get_running_loop().create_task(conn.writer())
        idle = self.s.config.settings.ws_idle_timeout
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
        return await self._session(request, "market", self._on_market_message)

    async def ws_user(self, request: web.Request) -> web.WebSocketResponse:
        return await self._session(request, "user", self._on_user_message)

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
        engine = self.s.engine
        new = [a for a in dict.fromkeys(assets) if a not in conn.assets and engine.market_for_token(a)]
        for a in new:
            conn.assets.add(a)
            self.market_conns.setdefault(a, set()).add(conn)
        if data.get("initial_dump", True) is not False:
            now = self.s.clock.now()
            books = []
            for a in new:
                m = engine.market_for_token(a)[0]  # type: ignore[index]
                books.append(wire.ws_book(m, a, now))
            conn.send(wire.dumps(books))

    def _on_user_message(self, conn: Conn, data: Any) -> None:
        if not isinstance(data, dict):
            return
        markets = data.get("markets", [])
        markets = {m.lower() for m in markets if isinstance(m, str)} if isinstance(markets, list) else set()
        if conn.owner is None:
            auth = data.get("auth")
            key_id = auth.get("apiKey") if isinstance(auth, dict) else None
            key = self.s.keys.by_key.get(key_id) if isinstance(key_id, str) else None
            if (
                key is None
                or auth.get("secret") != key.secret  # type: ignore[union-attr]
                or auth.get("passphrase") != key.passphrase  # type: ignore[union-attr]
            ):
                conn.abort()
                return
            conn.owner = key.address
            conn.api_key = key.key
            conn.markets = markets
            self.user_conns.setdefault(key.address, set()).add(conn)
            return
        op = str(data.get("operation", "")).lower()
        if op == "subscribe":
            conn.markets |= markets
        elif op == "unsubscribe":
            conn.markets -= markets
