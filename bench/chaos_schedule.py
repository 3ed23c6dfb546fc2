"""The chaos run's seeded fault schedule: which fault, when, for how long, with what switches.

Pure: a seed and a duration give the same list of faults every time, so a finding can be
reproduced with the same command. It only describes faults; it never talks to the
emulator or the controller (``chaos_run`` applies them). Faults run one at a time with a
quiet gap after each, so the time to requote after a fault is that fault's, not a mix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Every kind of fault the run knows, in the order of the first round (later rounds shuffle).
KINDS = (
    "ws-disconnect",
    "ws-drop",
    "error-5xx",
    "burst-429",
    "fraction-429",
    "rest-latency",
    "stalled-feed",
    "malformed-frames",
    "open-orders-without-id",
    "corrupt-place-response",
    "slow-heartbeat",
    "failing-heartbeat",
    "engine-restart",
    "tick-size-change",
    "false-tick-size-change",
    "fair-value-jump",
    "kill-9-restart",
)
# Faults that happen at one instant (the run times the requote from that instant).
INSTANT = frozenset({"tick-size-change", "false-tick-size-change", "fair-value-jump"})
# Counted switches end when the emulator has used them up (or at the window's end).
COUNTED = {
    "malformed-frames": "malformedFrames",
    "corrupt-place-response": "placeResponse",
    "failing-heartbeat": "heartbeatErrors",
}
MALFORMED_KINDS = ("deep-nesting", "huge", "garbage", "wrong-types")
JUMP = 0.15


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: ``switches`` go to ``POST /admin/faults`` at ``start``, ``clear`` at the end."""

    kind: str
    start: float  # seconds after the chaos phase began
    duration: float  # 0 for an instant fault
    switches: dict[str, Any] = field(default_factory=dict)
    clear: dict[str, Any] = field(default_factory=dict)
    market: int | None = None  # index of the market a market-specific fault targets
    detail: str = ""

    @property
    def end(self) -> float:
        return self.start + self.duration


def _window(
    kind: str, rng: random.Random, markets: int
) -> tuple[float, dict[str, Any], dict[str, Any], int | None, str]:
    """(duration, switches, clear, market, detail) for one fault of ``kind``."""
    market = rng.randrange(markets)
    if kind == "ws-disconnect":
        every = rng.choice((0.5, 1.0, 2.0))
        return (
            rng.uniform(2, 6),
            {"wsDisconnectEverySeconds": every},
            {"wsDisconnectEverySeconds": 0},
            None,
            f"every {every}s",
        )
    if kind == "ws-drop":
        share = rng.choice((0.1, 0.3, 0.5))
        return rng.uniform(6, 12), {"wsDropFraction": share}, {"wsDropFraction": 0.0}, None, f"{share:.0%} dropped"
    if kind == "error-5xx":
        share = rng.choice((0.2, 0.4))
        return rng.uniform(5, 10), {"error5xxFraction": share}, {"error5xxFraction": 0.0}, None, f"{share:.0%} 5xx"
    if kind == "burst-429":
        seconds = rng.choice((1, 2, 3))
        return float(seconds), {"burst429Seconds": seconds}, {"burst429Seconds": 0}, None, f"{seconds}s of 429"
    if kind == "fraction-429":
        share = rng.choice((0.2, 0.4))
        return rng.uniform(5, 10), {"error429Fraction": share}, {"error429Fraction": 0.0}, None, f"{share:.0%} 429"
    if kind == "rest-latency":
        base, jitter = rng.choice((200, 400, 800)), rng.choice((0, 200, 400))
        switches = {"latencyMs": base, "latencyJitterMs": jitter}
        return rng.uniform(6, 12), switches, {"latencyMs": 0, "latencyJitterMs": 0}, None, f"{base}+{jitter}ms"
    if kind == "stalled-feed":
        return rng.uniform(5, 10), {"marketFeedStalled": True}, {"marketFeedStalled": False}, None, ""
    if kind == "malformed-frames":
        frame, count = rng.choice(MALFORMED_KINDS), rng.choice((5, 20, 50))
        frames: dict[str, Any] = {
            "malformedFrames": {"kind": frame, "count": count, "channel": rng.choice(("market", "both"))}
        }
        return 12.0, frames, {"malformedFrames": {"kind": frame, "count": 0}}, None, f"{count} x {frame}"
    if kind == "open-orders-without-id":
        every = rng.choice((1, 2, 3))
        detail = f"1 in {every} open orders without id"
        return rng.uniform(15, 25), {"openOrdersMissingIdEvery": every}, {"openOrdersMissingIdEvery": 0}, None, detail
    if kind == "corrupt-place-response":
        what, count = rng.choice(("non-boolean-success", "wrong-order-id")), rng.choice((1, 3, 6))
        return (
            15.0,
            {"placeResponse": {"kind": what, "count": count}},
            {"placeResponse": {"kind": what, "count": 0}},
            None,
            f"{count} x {what}",
        )
    if kind == "slow-heartbeat":
        delay = rng.choice((3000, 5000, 8000))
        return rng.uniform(10, 20), {"heartbeatLatencyMs": delay}, {"heartbeatLatencyMs": 0}, None, f"{delay}ms"
    if kind == "failing-heartbeat":
        status, count = rng.choice((429, 500, 502, 503)), rng.choice((1, 2))
        clear = {"heartbeatErrors": {"status": status, "count": 0}}
        return 12.0, {"heartbeatErrors": {"status": status, "count": count}}, clear, None, f"{count} x {status}"
    if kind == "engine-restart":
        down, post_only = rng.choice((3, 5, 8)), rng.choice((3, 6))
        restart: dict[str, Any] = {"engineRestart": {"unavailableSeconds": down, "postOnlySeconds": post_only}}
        return float(down + post_only), restart, {}, None, f"425 for {down}s, post-only for {post_only}s"
    if kind in ("tick-size-change", "false-tick-size-change"):
        return 0.0, {}, {}, market, ""
    if kind == "fair-value-jump":
        return 0.0, {}, {}, market, f"{rng.choice((-1, 1)) * JUMP:+.2f}"
    if kind == "kill-9-restart":
        return 0.0, {}, {}, market, f"{rng.choice((-1, 1)) * 0.03:+.2f} while dead"
    raise ValueError(f"unknown fault kind {kind!r}")


def build_schedule(
    seed: int, seconds: float, markets: int, kinds: tuple[str, ...] = KINDS, gap: tuple[float, float] = (8.0, 14.0)
) -> list[Fault]:
    """Faults one after another with a quiet gap after each, until ``seconds`` is used up.

    Every kind runs once (in a seeded order) before any runs twice; a fault that would not
    end with at least ``gap[0]`` seconds left is not scheduled, so each ending can be timed.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s): {', '.join(unknown)}")
    if not kinds:
        return []
    rng = random.Random(f"chaos:{seed}")
    faults: list[Fault] = []
    clock = rng.uniform(*gap) / 2
    while True:
        order = list(kinds)
        rng.shuffle(order)
        for kind in order:
            duration, switches, clear, market, detail = _window(kind, rng, markets)
            # kill -9 has no fixed length: the run waits for the new process; budget for it.
            budget = duration + (15.0 if kind == "kill-9-restart" else 0.0)
            if clock + budget + gap[0] > seconds:
                return faults
            faults.append(Fault(kind, clock, duration, switches, clear, market, detail))
            clock += budget + rng.uniform(*gap)
