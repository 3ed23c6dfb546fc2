"""Percentiles and summaries of the recorded samples (milliseconds, rounded for reports). Pure."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence

from .probe import Move

# --------------------------------------------------------------------------- stats


def pct(samples: Sequence[float], q: float) -> float:
    s = sorted(samples)
    if not s:
        return math.nan
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ms = [x * 1000 for x in samples]
    return {
        "n": len(ms),
        "p50": round(pct(ms, 0.50), 2),
        "p90": round(pct(ms, 0.90), 2),
        "p99": round(pct(ms, 0.99), 2),
        "max": round(max(ms), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 3) if values else math.nan


def breakdown(results: Sequence[Move]) -> dict[str, dict[str, float]]:
    steps = {
        "ws_delivery": "ws",
        "ws_validation": "validate",
        "trigger_to_reconcile": "to_first_reconcile",
        "earlier_reconciles": "earlier_reconciles",
        "plan": "plan",
        "cancel_call": "cancel",
        "place_call": "place",
        "place_signing": "sign",
        "emulator_burst": "burst",
    }
    return {name: summary_ms([getattr(r, attr) for r in results]) for name, attr in steps.items()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
