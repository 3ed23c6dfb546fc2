"""WebSocket frames decoded once into typed events; anything else is a counted reject."""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from controller.venue.wire_ws import (
    BookEvent,
    FrameLimits,
    OrderAction,
    OrderEvent,
    PriceChangeEvent,
    RejectReason,
    TickSizeChangeEvent,
    decode_frame,
)

COND = "0x" + "ab" * 32
YES = "111"


def book(**extra: object) -> dict:
    return {
        "event_type": "book",
        "asset_id": YES,
        "market": COND,
        "bids": [{"price": "0.48", "size": "10"}, {"price": "0.49", "size": "5"}],
        "asks": [{"price": "0.52", "size": "7"}, {"price": "0.51", "size": "0"}],
        "timestamp": "1757908892351",
        "hash": "ab" * 20,
        **extra,
    }


def test_a_book_frame_becomes_a_best_first_book() -> None:
    decoded = decode_frame("market", json.dumps([book(tick_size="0.01", last_trade_price="")]))
    [event] = decoded.events
    assert isinstance(event, BookEvent) and not decoded.rejects
    assert [lv.price for lv in event.book.bids] == [D("0.49"), D("0.48")]
    assert [lv.price for lv in event.book.asks] == [D("0.52")], "empty levels are dropped"
    assert event.tick_size == D("0.01") and event.timestamp == 1757908892.351


def test_events_are_typed_and_unknown_kinds_skipped() -> None:
    frame = [
        {
            "event_type": "price_change",
            "market": COND,
            "price_changes": [{"asset_id": YES, "price": "0.5", "size": "0", "side": "SELL", "hash": "h"}],
        },
        {"event_type": "tick_size_change", "asset_id": YES, "market": COND, "new_tick_size": "0.001"},
        {"event_type": "best_bid_ask", "asset_id": YES},
    ]
    decoded = decode_frame("market", json.dumps(frame))
    assert [type(e) for e in decoded.events] == [PriceChangeEvent, TickSizeChangeEvent] and not decoded.rejects


def test_user_order_event() -> None:
    raw = {
        "event_type": "order",
        "type": "UPDATE",
        "id": "0x1",
        "market": COND,
        "asset_id": YES,
        "side": "BUY",
        "price": "0.4",
        "original_size": "10",
        "size_matched": "4",
        "status": "live",
    }
    [event] = decode_frame("user", json.dumps(raw)).events
    assert isinstance(event, OrderEvent) and event.action is OrderAction.UPDATE and event.status == "LIVE"
    assert event.size_matched == D("4")


def test_one_bad_event_does_not_take_the_good_ones_with_it() -> None:
    decoded = decode_frame("market", json.dumps([book(bids="x"), book(), 7]))
    assert len(decoded.events) == 1
    assert [r.reason for r in decoded.rejects] == [RejectReason.MALFORMED, RejectReason.NOT_AN_OBJECT]


def test_hostile_frames_are_rejected_with_a_reason() -> None:
    limits = FrameLimits(max_bytes=1000, max_depth=8)
    cases = {
        "[" * 100_000 + "]" * 100_000: RejectReason.TOO_LARGE,
        "[" * 20 + "]" * 20: RejectReason.TOO_DEEP,
        '{"a":' * 9 + "1" + "}" * 9: RejectReason.TOO_DEEP,
        b"\xff\xfe": RejectReason.NOT_UTF8,
        "{nope": RejectReason.NOT_JSON,
        "1" * 5000: RejectReason.TOO_LARGE,
    }
    for frame, reason in cases.items():
        assert [r.reason for r in decode_frame("market", frame, limits).rejects] == [reason], frame[:20]


def test_deep_nesting_is_refused_before_decoding_even_with_a_huge_recursion_limit() -> None:
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # what py_ecc does on import
    try:
        frame = "[" * 100_000 + "]" * 100_000
        decoded = decode_frame("market", frame, FrameLimits(max_bytes=10**6, max_depth=32))
    finally:
        sys.setrecursionlimit(old)
    assert [r.reason for r in decoded.rejects] == [RejectReason.TOO_DEEP]


def test_brackets_inside_strings_do_not_count() -> None:
    decoded = decode_frame("market", json.dumps(book(hash="[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")), FrameLimits())
    assert len(decoded.events) == 1 and not decoded.rejects


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(["event_type", "asset_id", "market", "bids", "asks", "price_changes", "price", "size", "side"])
event_like = st.fixed_dictionaries(
    {"event_type": st.sampled_from(["book", "price_change", "tick_size_change", "last_trade_price", "order", "trade"])},
    optional={k: json_values for k in ("asset_id", "market", "bids", "asks", "price_changes", "price", "id", "type")},
)


@seed(2026)
@settings(max_examples=200, deadline=None)
@given(st.one_of(event_like, st.lists(event_like, max_size=3), json_values), st.sampled_from(["market", "user"]))
def test_fuzzed_frames_never_raise(payload: object, channel: str) -> None:
    text = json.dumps(payload)
    decoded = decode_frame(channel, text)  # type: ignore[arg-type]
    assert len(decoded.events) == len(decoded.sources)


@seed(7)
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(alphabet='[]{}",:0123456789.a\\ ', max_size=300))
def test_fuzzed_bytes_never_raise(data: bytes | str) -> None:
    decode_frame("market", data)
