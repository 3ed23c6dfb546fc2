"""Fault injection: configured up front, switchable at run time via POST /admin/faults.

Draws come from a dedicated seeded RNG so chaos runs are reproducible and do not
perturb the market flow's random sequence.
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
}


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self, initial: dict[str, Any] | None, clock: Callable[[], float], seed: int = 0) -> None:
        self.clock = clock
        self.rng = random.Random(f"faults:{seed}")
        self.state: dict[str, Any] = dict(DEFAULTS)
        self.burst_until = 0.0
        self.update(initial or {})

    def update(self, changes: Any) -> dict[str, Any]:
        """Merge a partial dict (validated against the config schema's faults definition)."""
        schema = load_schema("sim-config.schema.json")
        sub = {"$defs": schema["$defs"], **schema["$defs"]["faults"]}
        try:
            jsonschema.validate(changes, sub)
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path) or "faults"
            raise FaultError(f"{path}: {exc.message}") from None
        self.state.update(changes)
        if "burst429Seconds" in changes:
            # A new burst starts now; 0 ends the current one.
            self.burst_until = self.clock() + float(changes["burst429Seconds"])
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {**self.state, "burst429ActiveFor": max(0.0, round(self.burst_until - self.clock(), 3))}

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

    def drop_ws(self) -> bool:
        f = self.state["wsDropFraction"]
        return bool(f) and self.rng.random() < f

    @property
    def stalled(self) -> bool:
        return bool(self.state["marketFeedStalled"])

    @property
    def disconnect_every(self) -> float:
        return float(self.state["wsDisconnectEverySeconds"] or 0)
