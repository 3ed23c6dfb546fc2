"""An oversized WebSocket frame is refused by the transport before its payload is buffered:
the connection drops, the channel reconnects and carries on (a stub server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from live_helpers import wait_for

from controller.venue import ws_transport
from controller.venue.streams import Backoff, Channel
from controller.venue.wire_ws import BookEvent, FrameLimits

BOOK = json.dumps({"event_type": "book", "asset_id": "111", "bids": [{"price": "0.5", "size": "1"}], "asks": []})


class Server:
    """Sends one huge frame to the first connection, a valid book to every later one."""

    def __init__(self, huge: int) -> None:
        self.huge, self.connections = huge, 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            self.connections += 1
            try:
                await ws.send_str("x" * self.huge if self.connections == 1 else BOOK)
                async for _ in ws:
                    pass
            except (ConnectionError, RuntimeError):
                pass
            return ws

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/ws/market", handler)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        started.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def channel_and_server() -> Iterator[tuple[Channel, Server, list[Any]]]:
    got: list[Any] = []
    channel = Channel(
        "market",
        "ws://placeholder",
        initial_message=lambda: None,
        on_typed=lambda name, event: got.append(event),
        limits=FrameLimits(max_bytes=256 * 1024, max_depth=8),
        backoff=Backoff(initial=0.05, cap=0.1),
    )
    server = Server(huge=ws_transport.ceiling() + 1)  # over the process-wide ceiling, whatever it is
    channel.url = f"ws://127.0.0.1:{server.port}/ws/market"
    yield channel, server, got
    channel.stop()
    server.stop()


def test_an_oversized_frame_drops_the_connection_not_the_process(channel_and_server) -> None:
    channel, server, got = channel_and_server
    assert ws_transport.ceiling() >= 2 * 256 * 1024, "the decoder's cap is below the transport's ceiling"
    channel.start()
    wait_for(lambda: got, "a book after the reconnect")
    assert channel.reconnects >= 1 and server.connections >= 2
    assert all(isinstance(e, BookEvent) for e in got), "the huge frame never reached the handler"


def test_a_close_ends_the_read_loop_at_once_not_at_its_select_timeout() -> None:
    import websocket

    server = Server(huge=0)  # an empty first frame, then the connection stays open
    opened = threading.Event()
    app = websocket.WebSocketApp(f"ws://127.0.0.1:{server.port}/ws/market", on_open=lambda _ws: opened.set())
    # The read loop waits up to ping_timeout (30 s here) between looks at its "stop" flag.
    reader = threading.Thread(target=app.run_forever, kwargs={"ping_interval": 60, "ping_timeout": 30})
    reader.start()
    try:
        assert opened.wait(10)
        wait_for(lambda: getattr(getattr(app, "sock", None), "sock", None) is not None, "the open socket")
        assert ws_transport.close_from_reader(app)
        reader.join(10)
        assert not reader.is_alive(), "the read loop slept through the close"
    finally:
        app.close()
        reader.join(35)
        server.stop()


def test_a_close_before_the_socket_opens_says_so() -> None:
    import websocket

    assert not ws_transport.close_from_reader(websocket.WebSocketApp("ws://127.0.0.1:9/"))


def test_a_close_keeps_the_tls_layer_of_a_wss_socket() -> None:
    import socket
    import ssl
    from types import SimpleNamespace

    ours, _peer = socket.socketpair()
    tls = ssl.create_default_context().wrap_socket(ours, do_handshake_on_connect=False, server_hostname="x")
    session = object()
    tls._sslobj = session  # type: ignore[attr-defined]  # stands for an established TLS session
    app = SimpleNamespace(sock=SimpleNamespace(sock=tls), keep_running=True)
    try:
        assert ws_transport.close_from_reader(app)
        # SSLSocket.shutdown would drop it, and the close frame would go out in plaintext.
        assert tls._sslobj is session  # type: ignore[attr-defined]
        assert app.keep_running is False
    finally:
        tls._sslobj = None  # type: ignore[attr-defined]
        tls.close()
        _peer.close()
