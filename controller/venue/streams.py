"""Polymarket's market and user WebSocket channels, on ``websocket-client``.

One connection per channel for every managed market. Each connection:

* subscribes on open with everything currently wanted (so a reconnect restores the whole
  subscription), and sends ``subscribe``/``unsubscribe`` operations when the wanted set changes;
* sends the text ``PING`` every ``ping_interval`` seconds and treats a link that has answered
  nothing (no ``PONG``, no data) for ``stale_after`` seconds as dead;
* reconnects with capped exponential backoff and full jitter;
* reports a disconnect only if it lasts longer than ``disconnect_grace`` (a blip is reported as
  a plain reconnect, so the caller re-reads REST instead of pulling every quote);
* decodes every frame once, at the edge (``wire_ws``): size and nesting bounded, every event
  validated into a typed value; what fails is counted by reason and summarised in the log at
  most every few seconds — never raised.

Handlers run on the connection's thread and must be quick (update state, enqueue).
``on_market_event``/``on_user_event`` receive typed events; the older ``on_market``/``on_user``
receive the validated raw dict of each accepted event (compatibility). ``after_frame`` runs
after every frame read (control frames too): a handler may hold work until what came is read.
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
from controller.venue import ws_transport
from controller.venue.feedhealth import RejectCounter
from controller.venue.wire_ws import Channel as ChannelName
from controller.venue.wire_ws import Event, FrameLimits, Reject, RejectReason, decode_frame

log = logging.getLogger("bandctl.streams")

EventHandler = Callable[[str, dict[str, Any]], None]  # (channel, raw event) - compatibility
TypedHandler = Callable[[str, Event], None]  # (channel, typed event)
StatusHandler = Callable[[str, bool], None]  # (channel, connected)
Validator = Callable[[dict[str, Any]], str | None]


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
        name: ChannelName,
        url: str,
        *,
        initial_message: Callable[[], dict[str, Any] | None],
        on_event: EventHandler | None = None,
        on_typed: TypedHandler | None = None,
        on_status: StatusHandler | None = None,
        ping_interval: float = 10.0,
        stale_after: float = 30.0,
        disconnect_grace: float = 0.0,
        backoff: Backoff | None = None,
        validate: Validator | None = None,
        limits: FrameLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.url = name, url
        self._initial_message = initial_message
        self._on_event = on_event
        self._on_typed = on_typed
        self._on_status = on_status
        self._validate = validate
        self.ping_interval, self.stale_after = ping_interval, stale_after
        self.disconnect_grace = disconnect_grace
        self.limits = limits or FrameLimits()  # also raises websocket-client's ceiling (below)
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._rng = random.Random()
        self._stop = threading.Event()
        self._ws: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self._reported: bool | None = None  # what on_status last said
        self._status_lock = threading.Lock()
        # Held while the socket opens (initial subscription sent, then "connected") and while a
        # message is sent: a subscription changed meanwhile is in the initial message or after it.
        self._send_lock = threading.RLock()
        self._down_generation = 0
        self._last_heard = 0.0
        self.reconnects = 0
        self.messages = 0
        self.handler_errors = 0
        self.last_message_at = 0.0  # monotonic time of the last accepted event (0: none yet)
        self.after_frame: Callable[[], None] | None = None  # on this thread after every frame read
        self.rejects = RejectCounter(name, clock=clock)

    # -- public ---------------------------------------------------------------------

    @property
    def limits(self) -> FrameLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: FrameLimits) -> None:
        # Refused by the decoder (counted) up to twice its cap; beyond, the transport drops the link.
        self._limits = limits
        ws_transport.raise_ceiling(2 * limits.max_bytes)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def rejected(self) -> int:
        """Frames and events dropped as malformed since start (all reasons)."""
        return self.rejects.total

    def silent_for(self) -> float:
        """Seconds since the last accepted event (PONGs do not count); inf if none yet."""
        last = self.last_message_at
        return float("inf") if last == 0.0 else self._clock() - last

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
        with self._send_lock:
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
                if not ws_transport.close_from_reader(ws):
                    ws.close()
            except Exception:  # already closed
                log.debug("%s: close failed", self.name, exc_info=True)

    def _report(self, value: bool) -> None:
        with self._status_lock:
            if self._reported is value and not value:
                return
            self._reported = value
        if self._on_status is not None:
            try:
                self._on_status(self.name, value)
            except Exception:
                log.exception("%s: status handler failed", self.name)

    def _set_connected(self, value: bool) -> None:
        if self._connected == value:
            return
        self._connected = value
        if value:
            with self._status_lock:
                self._down_generation += 1  # cancels a pending "down" report
            self._report(True)
            return
        if self._stop.is_set() or self.disconnect_grace <= 0 or self._reported is not True:
            self._report(False)
            return
        # A short blip is reported as a reconnect (True again) if the link is back in time.
        with self._status_lock:
            self._down_generation += 1
            generation = self._down_generation
        timer = threading.Timer(self.disconnect_grace, self._report_down, args=(generation,))
        timer.daemon = True
        timer.start()

    def _report_down(self, generation: int) -> None:
        with self._status_lock:
            if generation != self._down_generation or self._connected:
                return
        self._report(False)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._ws = websocket.WebSocketApp(
                self.url,
                on_open=self._handle_open,
                on_message=self._handle_message,
                on_ping=self._handle_control,
                on_pong=self._handle_control,
                on_error=self._handle_error,
                on_close=self._handle_close,
            )
            try:
                # RFC 6455 pings too, so dead TCP is noticed even if the server ignores PING.
                # skip_utf8_validation: websocket-client's check is pure Python and slow; decode_frame
                # decodes strictly instead. websocket-client wants ping_timeout < ping_interval; its
                # read loop waits up to ping_timeout between checks for a close: short, so stop() is quick.
                interval = max(self.ping_interval, 1.0)
                timeout = min(0.8 * interval, 2.0)
                self._ws.run_forever(ping_interval=interval, ping_timeout=timeout, skip_utf8_validation=True)
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
        self._last_heard = self._clock()
        with self._send_lock:
            message = self._initial_message()
            if message is not None:
                ws.send(json.dumps(message, separators=(",", ":")))
            self._backoff.reset()
            self._set_connected(True)

    def _handle_close(self, ws: websocket.WebSocketApp, code: Any, reason: Any) -> None:
        self._set_connected(False)

    def _handle_error(self, ws: websocket.WebSocketApp, error: Any) -> None:
        log.info("%s channel error: %s", self.name, scrub(str(error))[:300])

    def _handle_message(self, ws: Any, data: Any) -> None:
        """One frame. Never raises: whatever goes wrong is counted and summarised."""
        try:
            self._last_heard = self._clock()
            wants_dicts = self._on_event is not None or self._validate is not None
            decoded = decode_frame(self.name, data, self.limits, keep_sources=wants_dicts)
            if not decoded.pong:
                self.rejects.add(decoded.rejects)
                sources = decoded.sources if wants_dicts else ({},) * len(decoded.events)
                for event, raw in zip(decoded.events, sources, strict=True):
                    self._deliver(event, raw)
        except Exception as exc:  # a bug here must not end the stream thread
            self.rejects.add((Reject(RejectReason.INTERNAL, type(exc).__name__),))
        self._handle_control(ws, b"")

    def _handle_control(self, ws: Any, data: Any) -> None:
        # After every frame, PING and PONG too: a handler may hold work until what came is read.
        hook = self.after_frame
        try:
            if hook is not None:
                hook()
        except Exception:
            self.handler_errors += 1
            log.exception("%s: after-frame hook failed", self.name)

    def _deliver(self, event: Event, raw: dict[str, Any]) -> None:
        if self._validate is not None:
            problem = self._validate(raw)
            if problem is not None:
                self.rejects.add((Reject(RejectReason.MALFORMED, f"{raw.get('event_type')}: {problem}"[:200]),))
                return
        self.messages += 1
        self.last_message_at = self._clock()
        for handler, value in ((self._on_typed, event), (self._on_event, raw)):
            if handler is None:
                continue
            try:
                handler(self.name, value)  # type: ignore[arg-type]
            except Exception:
                self.handler_errors += 1
                log.exception("%s: event handler failed", self.name)

    def _pinger(self) -> None:
        while not self._stop.wait(self.ping_interval):
            if not self._connected:
                continue
            if self._clock() - self._last_heard > self.stale_after:
                self.reconnect(f"nothing heard for {self.stale_after:.0f}s")
                continue
            self.rejects.flush()
            ws = self._ws
            try:
                if ws is not None:
                    ws.send("PING")
            except Exception:
                log.debug("%s: PING failed", self.name, exc_info=True)


class Streams:
    """The market channel (books for every managed token) and the user channel (our orders, fills)."""

    def __init__(
        self,
        ws_host: str,
        *,
        creds: Any,
        on_market: EventHandler | None = None,
        on_user: EventHandler | None = None,
        on_market_event: TypedHandler | None = None,
        on_user_event: TypedHandler | None = None,
        on_status: StatusHandler | None = None,
        ping_interval: float = 10.0,
        stale_after: float = 30.0,
        disconnect_grace: float = 0.0,
        validate_market: Validator | None = None,
        validate_user: Validator | None = None,
        limits: FrameLimits | None = None,
        frame_bytes_per_token: int = 0,
    ) -> None:
        self._creds = creds
        self._base_limits = limits or FrameLimits()
        self._frame_bytes_per_token = frame_bytes_per_token
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._markets: set[str] = set()
        base = ws_host.rstrip("/")

        def channel(name: ChannelName, initial: Any, raw: Any, typed: Any, validate: Any) -> Channel:
            return Channel(
                name,
                f"{base}/ws/{name}",
                initial_message=initial,
                on_event=raw,
                on_typed=typed,
                validate=validate,
                on_status=on_status,
                ping_interval=ping_interval,
                stale_after=stale_after,
                disconnect_grace=disconnect_grace,
                limits=limits,
            )

        self.market = channel("market", self._market_subscription, on_market, on_market_event, validate_market)
        self.user = channel("user", self._user_subscription, on_user, on_user_event, validate_user)

    def start(self) -> None:
        self.market.start()
        self.user.start()

    def stop(self) -> None:
        self.market.stop()
        self.user.stop()

    @property
    def connected(self) -> bool:
        return self.market.connected and self.user.connected

    def rejected(self) -> dict[str, dict[str, int]]:
        """Dropped frames/events by channel and reason code (for metrics)."""
        return {"market": self.market.rejects.totals(), "user": self.user.rejects.totals()}

    def set_subscriptions(self, token_ids: Iterable[str], condition_ids: Iterable[str]) -> None:
        """Follow exactly these tokens (market channel) and markets (user channel)."""
        tokens, markets = set(token_ids), set(condition_ids)
        with self._lock:
            added_tokens, removed_tokens = sorted(tokens - self._tokens), sorted(self._tokens - tokens)
            added_markets, removed_markets = sorted(markets - self._markets), sorted(self._markets - markets)
            self._tokens, self._markets = tokens, markets
        if self._frame_bytes_per_token:
            # The initial book dump is one frame with every subscribed book: let it grow.
            base = self._base_limits
            wanted = max(base.max_bytes, self._frame_bytes_per_token * len(tokens))
            self.market.limits = FrameLimits(wanted, base.max_depth)
        if added_tokens:
            self.market.send({"operation": "subscribe", "assets_ids": added_tokens})
        if removed_tokens:
            self.market.send({"operation": "unsubscribe", "assets_ids": removed_tokens})
        if added_markets:
            self.user.send({"operation": "subscribe", "markets": added_markets})
        if removed_markets:
            self.user.send({"operation": "unsubscribe", "markets": removed_markets})

    def subscribed_tokens(self) -> list[str]:
        with self._lock:
            return sorted(self._tokens)

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
