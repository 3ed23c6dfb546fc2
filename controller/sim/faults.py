"""Fault injection: configured up front, switchable at run time via POST /admin/faults.

Two kinds of switch: levels that stay until changed (latency, error fractions, stalls)
and counted ones that fire for the next N occasions and then switch themselves off
(malformed WS frames, corrupted place responses, heartbeat errors). Actions
(``tickSizeChange``, ``falseTickSizeChange``) happen once and are not stored; the
admin module applies them. Draws come from a dedicated seeded RNG so chaos runs are
reproducible and do not perturb the market flow's random sequence.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import jsonschema

from controller.schemas import load_schema

DEFAULTS: dict[str, Any] = {
    "latencyMs": 0,
    "latencyJitterMs": 0,
    "error5xxFraction": 0.0,
    "error429Fraction": 0.0,
    "burst429Seconds": 0,
    "wsDisconnectEverySeconds": 0,
    "wsDropFraction": 0.0,
    "marketFeedStalled": False,
    "tooEarly": False,
    "openOrdersMissingIdEvery": 0,
    "heartbeatLatencyMs": 0,
    "failedTradeFraction": 0.0,
}
COUNTED = ("malformedFrames", "placeResponse", "heartbeatErrors")
ACTION_KEYS = ("tickSizeChange", "falseTickSizeChange")
NOT_A_BOOL = "true"  # what a corrupted place response carries instead of the boolean


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self, initial: dict[str, Any] | None, clock: Callable[[], float], seed: int = 0) -> None:
        self.clock = clock
        self.rng = random.Random(f"faults:{seed}")
        self.state: dict[str, Any] = dict(DEFAULTS)
        self.counted: dict[str, dict[str, Any]] = {}
        self.burst_until = 0.0
        schema = load_schema("sim-config.schema.json")
        self._validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], **schema["$defs"]["faults"]})
        initial = {k: v for k, v in (initial or {}).items() if k not in ACTION_KEYS}
        self.update(initial)

    def validate(self, changes: Any) -> None:
        """Check a partial dict against the config schema's faults definition."""
        try:
            self._validator.validate(changes)
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path) or "faults"
            raise FaultError(f"{path}: {exc.message}") from None

    def update(self, changes: Any) -> dict[str, Any]:
        """Merge a partial dict (validated first); counted switches restart their count."""
        self.validate(changes)
        for name, value in changes.items():
            if name in COUNTED:
                self.counted[name] = dict(value)
            else:
                self.state[name] = value
        if "burst429Seconds" in changes:
            # A new burst starts now; 0 ends the current one.
            self.burst_until = self.clock() + float(changes["burst429Seconds"])
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        live = {k: v for k, v in self.counted.items() if v.get("count", 0) > 0}
        return {**self.state, **live, "burst429ActiveFor": max(0.0, round(self.burst_until - self.clock(), 3))}

    def _take(self, name: str) -> dict[str, Any] | None:
        spec = self.counted.get(name)
        if not spec or spec.get("count", 0) <= 0:
            return None
        spec["count"] -= 1
        return spec

    # ------------------------------------------------------------ REST

    def rest_delay(self) -> float:
        base, jitter = self.state["latencyMs"], self.state["latencyJitterMs"]
        if not base and not jitter:
            return 0.0
        return (base + (self.rng.uniform(0, jitter) if jitter else 0)) / 1000

    def rest_status(self) -> int | None:
        """An injected status for this REST request, or None."""
        s = self.state
        if s["tooEarly"]:
            return 425
        if self.burst_until > self.clock():
            return 429
        if s["error429Fraction"] and self.rng.random() < s["error429Fraction"]:
            return 429
        if s["error5xxFraction"] and self.rng.random() < s["error5xxFraction"]:
            return 503 if self.rng.random() < 0.3 else 500
        return None

    def heartbeat_delay(self) -> float:
        return float(self.state["heartbeatLatencyMs"]) / 1000

    def take_heartbeat_error(self) -> int | None:
        spec = self._take("heartbeatErrors")
        return int(spec["status"]) if spec else None

    def corrupt_place_response(self, resp: dict[str, Any]) -> dict[str, Any]:
        """A successful order's answer, possibly corrupted (the order itself stays placed)."""
        spec = self._take("placeResponse")
        if spec is None:
            return resp
        if spec["kind"] == "non-boolean-success":
            return {**resp, "success": NOT_A_BOOL}
        real = resp["orderID"]
        wrong = "0x" + ("%064x" % ((int(real[2:], 16) + 1) % (1 << 256)) if len(real) == 66 else "ab" * 32)
        return {**resp, "orderID": wrong}

    def strip_open_order_ids(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        every = int(self.state["openOrdersMissingIdEvery"] or 0)
        if not every:
            return rows
        return [{k: v for k, v in r.items() if k != "id"} if i % every == 0 else r for i, r in enumerate(rows)]

    def fail_trade(self) -> bool:
        f = self.state["failedTradeFraction"]
        return bool(f) and self.rng.random() < f

    # ------------------------------------------------------------ WebSocket

    def take_malformed(self, channel: str) -> str | None:
        """The kind of malformed frame to send before this ``channel`` message, or None."""
        spec = self.counted.get("malformedFrames")
        if not spec or spec.get("count", 0) <= 0 or spec.get("channel", "both") not in ("both", channel):
            return None
        spec["count"] -= 1
        return str(spec["kind"])

    def drop_ws(self) -> bool:
        f = self.state["wsDropFraction"]
        return bool(f) and self.rng.random() < f

    @property
    def stalled(self) -> bool:
        return bool(self.state["marketFeedStalled"])

    @property
    def disconnect_every(self) -> float:
        return float(self.state["wsDisconnectEverySeconds"] or 0)
