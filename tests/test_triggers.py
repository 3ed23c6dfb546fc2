"""A book change's triggers are held while more frames are already on the market socket, and
released after the frame that leaves nothing unread (a PONG or a control frame included), or
once held too long; never without the after-frame hook that releases them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import controller.loop.triggers as triggers
from controller.loop.triggers import StreamHandlers
from controller.venue.streams import Channel

MARKET = "0x" + "ab" * 32


class Queue:
    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, key: str, *, coalescible: bool = False) -> None:
        self.added.append(key)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    reader, writer = socket.socketpair()
    yield reader, writer
    reader.close()
    writer.close()


def handlers(reader: socket.socket, *, hooked: bool = True) -> tuple[StreamHandlers, Queue]:
    queue = Queue()
    market = SimpleNamespace(_ws=SimpleNamespace(sock=SimpleNamespace(sock=reader)), after_frame=None)
    controller: Any = SimpleNamespace(
        _streams=SimpleNamespace(market=market, user=SimpleNamespace(_ws=None)),
        store=SimpleNamespace(apply_market=lambda event: {MARKET}),
        reconciler=SimpleNamespace(names_for_market=lambda cid: ("mm",), queue=queue),
        metrics=SimpleNamespace(ws_lag=lambda channel, lag: None),
        venue=None,
    )
    h = StreamHandlers(controller, None)
    h._trigger_changed = lambda name: True  # type: ignore[method-assign]
    if hooked:
        market.after_frame = h.after_market_frame
    return h, queue


def event() -> Any:
    return SimpleNamespace(market=MARKET, timestamp=None)


def unread_bytes(reader: socket.socket) -> None:
    reader.recv(4096)


def test_held_while_frames_are_unread_then_released_once(pair: tuple[socket.socket, socket.socket]) -> None:
    reader, writer = pair
    h, queue = handlers(reader)
    writer.sendall(b"next frame")
    h.on_market_event("market", event())
    h.on_market_event("market", event())
    h.after_market_frame()
    assert queue.added == []  # the rest of the burst is still on the socket
    unread_bytes(reader)
    h.after_market_frame()
    assert queue.added == ["mm"]
    h.after_market_frame()
    assert queue.added == ["mm"]


def test_nothing_unread_triggers_at_once(pair: tuple[socket.socket, socket.socket]) -> None:
    h, queue = handlers(pair[0])
    h.on_market_event("market", event())
    assert queue.added == ["mm"]


def test_without_the_hook_nothing_is_held(pair: tuple[socket.socket, socket.socket]) -> None:
    reader, writer = pair
    h, queue = handlers(reader, hooked=False)
    writer.sendall(b"next frame")
    h.on_market_event("market", event())
    assert queue.added == ["mm"]


def test_released_when_held_too_long(pair: tuple[socket.socket, socket.socket], monkeypatch: Any) -> None:
    reader, writer = pair
    h, queue = handlers(reader)
    writer.sendall(b"a flood that never stops")
    h.on_market_event("market", event())
    assert queue.added == []
    monkeypatch.setattr(triggers, "DRAIN_LIMIT_SECONDS", -1.0)
    h.after_market_frame()
    assert queue.added == ["mm"]


def test_the_channel_runs_the_hook_after_every_frame() -> None:
    channel = Channel("market", "ws://127.0.0.1:1/ws/market", initial_message=lambda: None)
    calls: list[int] = []
    channel.after_frame = lambda: calls.append(1)
    channel._handle_message(None, "PONG")
    channel._handle_message(None, "not json")
    channel._handle_message(None, '{"event_type": "price_change", "market": "x", "price_changes": []}')
    channel._handle_control(None, b"")  # websocket-client's on_ping / on_pong
    assert len(calls) == 4
    channel.after_frame = lambda: 1 / 0  # type: ignore[assignment, func-returns-value]
    channel._handle_message(None, "PONG")  # a failing hook is counted, never raised
    assert channel.handler_errors == 1
