"""Hostile WebSocket frames for the ``malformedFrames`` fault: what a broken or malicious feed sends.

Pure builders, one text frame each:

* ``deep-nesting``: valid JSON nested far beyond any sane parser's recursion limit;
* ``huge``: a valid, plausible event padded to several megabytes;
* ``garbage``: text that is not JSON at all (control characters, a half object);
* ``wrong-types``: an event of the channel's own kind whose fields have the wrong types.
"""

from __future__ import annotations

from . import wire

NESTING_DEPTH = 100_000
HUGE_BYTES = 4 << 20
KINDS = ("deep-nesting", "huge", "garbage", "wrong-types")


def frame(kind: str, channel: str) -> str:
    if kind == "deep-nesting":
        return "[" * NESTING_DEPTH + "]" * NESTING_DEPTH
    if kind == "huge":
        event = "price_change" if channel == "market" else "order"
        return wire.dumps({"event_type": event, "market": "0x" + "0" * 64, "padding": "x" * HUGE_BYTES})
    if kind == "garbage":
        return '\x00\x01}{"event_type": "book", "bids": [ \ufffd garbage'
    if kind == "wrong-types":
        if channel == "market":
            return wire.dumps(
                {
                    "event_type": "price_change",
                    "market": 12345,
                    "timestamp": [],
                    "price_changes": [{"asset_id": None, "price": "abc", "size": -1, "side": 7, "hash": {}}],
                }
            )
        return wire.dumps(
            {
                "event_type": "order",
                "type": 3,
                "id": 42,
                "market": None,
                "asset_id": ["x"],
                "side": True,
                "price": "NaN",
                "original_size": {},
                "size_matched": "-5",
                "status": 0,
            }
        )
    raise ValueError(f"unknown malformed frame kind {kind!r}")
