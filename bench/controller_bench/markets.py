"""The benchmark's world on paper: synthetic markets, their manifests, the emulator config, fair-value paths.

Everything here is pure and seeded, so every run of a benchmark quotes the same markets
along the same price path. It may not start anything or touch the network.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the demo key's address
TICK = Decimal("0.01")
MIN_SIZE = Decimal(5)
PRICE_SCALE = 10_000  # the emulator's price units per 1.0
TICK_UNITS = 100
HOUSE = {"levels": 3, "halfSpread": 0.02, "levelStep": 0.01, "size": 50}
# (minMargin, avgMargin, maxMargin); amounts are the same for every band.
BANDS = (
    (Decimal("0.01"), Decimal("0.02"), Decimal("0.03")),
    (Decimal("0.03"), Decimal("0.04"), Decimal("0.05")),
    (Decimal("0.05"), Decimal("0.06"), Decimal("0.07")),
)
MIN_AMOUNT, AVG_AMOUNT, MAX_AMOUNT = 10, 20, 30


# --------------------------------------------------------------------------- markets


@dataclass(frozen=True)
class MarketIds:
    name: str
    condition_id: str
    yes: str
    no: str


def synthetic_markets(n: int) -> list[MarketIds]:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    return [
        MarketIds(
            name=f"bench-{i:03d}",
            condition_id="0x" + digest(f"bench-condition-{i}"),
            yes=str(int(digest(f"bench-yes-{i}"), 16) >> 8),
            no=str(int(digest(f"bench-no-{i}"), 16) >> 8),
        )
        for i in range(n)
    ]


def manifest_text(m: MarketIds) -> str:
    bands = "\n".join(
        f"    - {{minMargin: {lo}, avgMargin: {avg}, maxMargin: {hi}, "
        f"minAmount: {MIN_AMOUNT}, avgAmount: {AVG_AMOUNT}, maxAmount: {MAX_AMOUNT}}}"
        for lo, avg, hi in BANDS
    )
    return (
        "apiVersion: bandctl/v1\nkind: MarketMaker\n"
        f"metadata:\n  name: {m.name}\n"
        "spec:\n  market:\n"
        f'    conditionId: "{m.condition_id}"\n'
        f'    tokens: {{yes: "{m.yes}", no: "{m.no}"}}\n'
        f"  bands:\n{bands}\n"
        "  referencePrice: {source: midpoint, maxSpread: 0.1}\n"
        "  orders: {type: GTC, postOnly: true}\n"
    )


def write_manifests(directory: Path, markets: Sequence[MarketIds]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for m in markets:
        (directory / f"{m.name}.yaml").write_text(manifest_text(m))


def sim_config(markets: Sequence[MarketIds], fair: float, *, rate_limits: bool) -> dict[str, Any]:
    """N markets with house liquidity, a still fair value, no takers, no jumps."""
    return {
        "rateLimits": {"enabled": rate_limits},
        "flow": {
            "enabled": True,
            "stepSeconds": 1.0,
            "volatility": 0.0,
            "jumpProbability": 0.0,
            "house": {"enabled": True, **HOUSE},
            "takers": {"enabled": False, "rate": 0.0},
        },
        "markets": [
            {
                "name": m.name,
                "conditionId": m.condition_id,
                "tokens": {"yes": m.yes, "no": m.no},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": fair,
            }
            for m in markets
        ],
        "accounts": [{"address": ADDRESS, "signatureType": 0, "collateral": 1_000_000}],
    }


def house_mid(fair: float) -> Decimal:
    """The reference price the house's best levels give (the emulator's float arithmetic, exactly)."""
    x = fair * PRICE_SCALE
    offset = (HOUSE["halfSpread"] + 0 * HOUSE["levelStep"]) * PRICE_SCALE
    bid = math.floor((x - offset) / TICK_UNITS) * TICK_UNITS
    ask = math.ceil((x + offset) / TICK_UNITS) * TICK_UNITS
    return (Decimal(bid) + Decimal(ask)) / 2 / PRICE_SCALE


def tick_walk(
    n: int,
    seed: int,
    start_units: int,
    unit: Decimal,
    steps: Sequence[int],
    lo: int,
    hi: int,
    jump_probability: float = 0.0,
    jumps: tuple[int, int] = (0, 0),
) -> list[str]:
    """A seeded walk on a grid of ``unit``; returns fair values as exact decimal strings."""
    rng = random.Random(seed)
    units, out = start_units, []
    for _ in range(n):
        step = rng.choice(steps) * rng.choice((-1, 1))
        if jump_probability and rng.random() < jump_probability:
            step = rng.randrange(jumps[0], jumps[1] + 1, 2) * rng.choice((-1, 1))
        if not lo <= units + step <= hi:
            step = -step  # bounce off the bounds (never a "move" to the same value)
        units += step
        out.append(str(Decimal(units) * unit))
    return out


def latency_path(n: int, seed: int) -> list[str]:
    """Fair values on half ticks (x.xx5, so the house mid equals them), steps of 1 or 2 ticks."""
    return tick_walk(n, seed, 101, Decimal("0.005"), (2, 4), 61, 139)


def churn_path(n: int, seed: int) -> list[str]:
    """Quarter-tick offsets; steps of 0.5 or 1 tick, 2% jumps of 3-8 ticks."""
    return tick_walk(n, seed, 201, Decimal("0.0025"), (2, 4), 81, 319, jump_probability=0.02, jumps=(12, 32))
