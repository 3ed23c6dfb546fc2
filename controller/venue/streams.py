"""Polymarket's market and user WebSocket channels, on ``websocket-client``.

One connection per channel for every managed market. Each connection:

* subscribes on open with everything currently wanted (so a reconnect restores
  the whole subscription), and sends ``subscribe``/``unsubscribe`` operations when
  the wanted set changes;
* sends the text ``PING`` every ``ping_interval`` seconds and treats a link that
  has answered nothing (no ``PONG``, no data) for ``stale_after`` seconds as dead;
* reconnects with capped exponential backoff and full jitter;
* parses every frame defensively (a frame may be one object or an array; anything
  malformed is counted and dropped, never raised into the caller).

Handlers run on the connection's thread and must be quick (update state, enqueue).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import websocket

from controller.ops.redact import scrub

log = logging.getLogger("bandctl.streams")

EventHandler = Callable[[str, dict[str, Any]], None]  # (channel, event)
StatusHandler = Callable[[str, bool], None]  # (channel, connected)


@dataclass
class Backoff:
    initial: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self, rng: random.Random) -> float:
        ceiling = min(self.cap, self.initial * (2**self.attempt))
        self.attempt += 1
        return rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Channel:
    """One self-healing WebSocket connection."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        initial_message: Callable[[], dict[str, Any] | None],
        on_event: EventHandler,
        on_status: StatusHandler | None = None,
        ping_interval: float = 10.0,
        stale_after: float = 30.0,
        backoff: Backoff | None = None,
        validate: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.name, self.url = name, url
        self._initial_message = initial_message
        self._on_event = on_event
        self._on_status = on_status
        self._validate = validate
        self.ping_interval, self.stale_after = ping_interval, stale_after
        self._backoff = backoff or Backoff()
        self._rng = random.Random()
        self._stop = threading.Event()
        self._ws: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self._last_heard = 0.0
        self.reconnects = 0
        self.messages = 0
        self.rejected = 0
        self.last_message_at = 0.0

    # -- public ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)
        self._thread.start()
        threading.Thread(target=self._pinger, name=f"ws-{self.name}-ping", daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout)

    def send(self, message: dict[str, Any]) -> bool:
        """Send a JSON message if connected; False otherwise (the next open resubscribes)."""
        ws = self._ws
        if ws is None or not self._connected:
            return False
        try:
            ws.send(json.dumps(message, separators=(",", ":")))
        except Exception as exc:  # a closing socket; the reconnect path handles it
            log.debug("%s: send failed: %s", self.name, exc)
            return False
        return True

    def reconnect(self, reason: str) -> None:
        """Drop the connection (it comes back with a fresh subscription)."""
        log.warning("%s channel: reconnecting: %s", self.name, reason)
        self._close()

    # -- internals ------------------------------------------------------------------

    def _close(self) -> None:
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # already closed
                log.debug("%s: close failed", self.name, exc_info=True)

    def _set_connected(self, value: bool) -> None:
        if self._connected == value:
            return
        self._connected = value
        if self._on_status is not None:
            try:
                self._on_status(self.name, value)
            except Exception:
                log.exception("%s: status handler failed", self.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._ws = websocket.WebSocketApp(
                self.url,
                on_open=self._handle_open,
                on_message=self._handle_message,
                on_error=self._handle_error,
                on_close=self._handle_close,
            )
            try:
                # RFC 6455 pings too, so dead TCP is noticed even if the server ignores PING.
                # skip_utf8_validation: websocket-client's check is pure Python and slow;
                # _handle_message decodes strictly instead, rejecting bad UTF-8 all the same.
                self._ws.run_forever(
                    ping_interval=max(self.ping_interval, 1.0), ping_timeout=5.0, skip_utf8_validation=True
                )
            except Exception as exc:
                log.warning("%s channel: %s", self.name, scrub(str(exc)))
            self._set_connected(False)
            if self._stop.is_set():
                break
            delay = self._backoff.next_delay(self._rng)
            self.reconnects += 1
            log.info("%s channel: reconnect in %.2fs", self.name, delay)
            self._stop.wait(delay)

    def _handle_open(self, ws: websocket.WebSocketApp) -> None:
        self._last_heard = time.monotonic()
        message = self._initial_message()
        if message is not None:
            ws.send(json.dumps(message, separators=(",", ":")))
        self._backoff.reset()
        self._set_connected(True)

    def _handle_close(self, ws: websocket.WebSocketApp, code: Any, reason: Any) -> None:
        self._set_connected(False)

    def _handle_error(self, ws: websocket.WebSocketApp, error: Any) -> None:
        log.info("%s channel error: %s", self.name, scrub(str(error)))

    def _handle_message(self, ws: websocket.WebSocketApp, text: Any) -> None:
        self._last_heard = time.monotonic()
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                self.rejected += 1
                return
        if not isinstance(text, str):
            self.rejected += 1
            return
        if text == "PONG":
            return
        try:
            payload = json.loads(text)
        except ValueError:
            self.rejected += 1
            log.debug("%s: dropped a non-JSON frame", self.name)
            return
        events = payload if isinstance(payload, list) else [payload]
        for event in events:
            if not isinstance(event, dict):
                self.rejected += 1
                continue
            problem = self._validate(event) if self._validate is not None else None
            if problem is not None:
                self.rejected += 1
                log.warning("%s: dropped a malformed %s message: %s", self.name, event.get("event_type"), problem)
                continue
            self.messages += 1
            self.last_message_at = time.monotonic()
            try:
                self._on_event(self.name, event)
            except Exception:
                log.exception("%s: event handler failed", self.name)

    def _pinger(self) -> None:
        while not self._stop.wait(self.ping_interval):
            if not self._connected:
                continue
            if time.monotonic() - self._last_heard > self.stale_after:
                self.reconnect(f"nothing heard for {self.stale_after:.0f}s")
                continue
            ws = self._ws
            try:
                if ws is not None:
                    ws.send("PING")
            except Exception:
                log.debug("%s: PING failed", self.name, exc_info=True)


def _ignore(channel: str, event: dict[str, Any]) -> None:
    return None


class Streams:
    """The market channel (books for every managed token) and the user channel (our orders, fills)."""

    def __init__(
        self,
        ws_host: str,
        *,
        creds: Any,
        on_market: EventHandler | None = None,
        on_user: EventHandler | None = None,
        on_status: StatusHandler | None = None,
        ping_interval: float = 10.0,
        stale_after: float = 30.0,
        validate_market: Callable[[dict[str, Any]], str | None] | None = None,
        validate_user: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self._creds = creds
        self._lock = threading.Lock()
        on_market = on_market or _ignore
        on_user = on_user or _ignore
        self._tokens: set[str] = set()
        self._markets: set[str] = set()
        base = ws_host.rstrip("/")
        common = {"on_status": on_status, "ping_interval": ping_interval, "stale_after": stale_after}
        self.market = Channel(
            "market",
            f"{base}/ws/market",
            initial_message=self._market_subscription,
            on_event=on_market,
            validate=validate_market,
            **common,
        )
        self.user = Channel(
            "user",
            f"{base}/ws/user",
            initial_message=self._user_subscription,
            on_event=on_user,
            validate=validate_user,
            **common,
        )

    def start(self) -> None:
        self.market.start()
        self.user.start()

    def stop(self) -> None:
        self.market.stop()
        self.user.stop()

    @property
    def connected(self) -> bool:
        return self.market.connected and self.user.connected

    def set_subscriptions(self, token_ids: Iterable[str], condition_ids: Iterable[str]) -> None:
        """Follow exactly these tokens (market channel) and markets (user channel)."""
        tokens, markets = set(token_ids), set(condition_ids)
        with self._lock:
            added_tokens, removed_tokens = sorted(tokens - self._tokens), sorted(self._tokens - tokens)
            added_markets, removed_markets = sorted(markets - self._markets), sorted(self._markets - markets)
            self._tokens, self._markets = tokens, markets
        if added_tokens:
            self.market.send({"operation": "subscribe", "assets_ids": added_tokens})
        if removed_tokens:
            self.market.send({"operation": "unsubscribe", "assets_ids": removed_tokens})
        if added_markets:
            self.user.send({"operation": "subscribe", "markets": added_markets})
        if removed_markets:
            self.user.send({"operation": "unsubscribe", "markets": removed_markets})

    def _market_subscription(self) -> dict[str, Any] | None:
        with self._lock:
            tokens = sorted(self._tokens)
        return {"assets_ids": tokens, "type": "market", "initial_dump": True}

    def _user_subscription(self) -> dict[str, Any] | None:
        with self._lock:
            markets = sorted(self._markets)
        creds = self._creds
        return {
            "auth": {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase},
            "type": "user",
            "markets": markets,
        }
