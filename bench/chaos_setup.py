"""The chaos run's world: synthetic markets for the emulator and one manifest per market.

Writes the emulator's YAML config (markets with drifting fair values, a house market
maker and random takers; one funded account) and the controller's manifests, and returns
the bands and limits the run judges by (``chaos_figures.MarketSpec``). Pure apart from
writing those files; it starts nothing.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from chaos_figures import BandSpec, MarketSpec

# The public hardhat account #0 (the controller's demo key): never a real secret.
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BANDS = (
    ("0.01", "0.02", "0.03", "20", "40", "80"),
    ("0.03", "0.04", "0.05", "20", "40", "80"),
)
MAX_SPREAD = "0.1"
MAX_POSITION = "300"
MAX_COLLATERAL = "400"
FAIR_VALUES = (0.5, 0.35, 0.65, 0.45, 0.55)
TOKENS_EACH = 150  # of every outcome token at the start: both buys and sells are exercised


def _ids(i: int) -> tuple[str, str, str]:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    return (
        "0x" + digest(f"chaos-{i}"),
        str(int(digest(f"chaos-yes-{i}"), 16) >> 8),
        str(int(digest(f"chaos-no-{i}"), 16) >> 8),
    )


def market_specs(n: int) -> list[MarketSpec]:
    bands = tuple(BandSpec(*(Decimal(v) for v in band)) for band in BANDS)
    specs = []
    for i in range(n):
        condition, yes, no = _ids(i)
        specs.append(
            MarketSpec(
                f"chaos-{i}",
                condition,
                yes,
                no,
                bands,
                Decimal(MAX_SPREAD),
                Decimal(MAX_POSITION),
                Decimal(MAX_COLLATERAL),
            )
        )
    return specs


def manifest_text(spec: MarketSpec) -> str:
    bands = "\n".join(
        f"    - {{minMargin: {b.min_margin}, avgMargin: {b.avg_margin}, maxMargin: {b.max_margin}, "
        f"minAmount: {b.min_amount}, avgAmount: {b.avg_amount}, maxAmount: {b.max_amount}}}"
        for b in spec.bands
    )
    return (
        f"apiVersion: bandctl/v1\nkind: MarketMaker\nmetadata:\n  name: {spec.name}\nspec:\n  market:\n"
        f'    conditionId: "{spec.condition_id}"\n    tokens: {{yes: "{spec.yes}", no: "{spec.no}"}}\n'
        f"  bands:\n{bands}\n  referencePrice: {{source: midpoint, maxSpread: {spec.max_spread}}}\n"
        f"  limits: {{maxPosition: {spec.max_position}, maxCollateral: {spec.max_collateral}}}\n"
        "  orders: {type: GTC, postOnly: true}\n"
    )


def emulator_config(specs: list[MarketSpec], takers_rate: float = 0.2, volatility: float = 0.01) -> dict[str, Any]:
    markets, tokens = [], {}
    for i, spec in enumerate(specs):
        markets.append(
            {
                "name": spec.name,
                "conditionId": spec.condition_id,
                "tokens": {"yes": spec.yes, "no": spec.no},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": FAIR_VALUES[i % len(FAIR_VALUES)],
                "flow": {
                    "volatility": volatility,
                    "jumpProbability": 0.0,  # the run makes its own jumps, at known times
                    "house": {"levels": 3, "halfSpread": 0.02, "levelStep": 0.01, "size": 50},
                    "takers": {"rate": takers_rate, "minSize": 5, "maxSize": 20, "informedFraction": 0.3},
                },
            }
        )
        tokens.update({spec.yes: TOKENS_EACH, spec.no: TOKENS_EACH})
    return {
        "rateLimits": {"enabled": True, "orders": {"rate": 200, "burst": 300}, "cancels": {"rate": 400, "burst": 600}},
        "flow": {"enabled": True, "stepSeconds": 1.0},
        "markets": markets,
        "accounts": [{"address": ADDRESS, "signatureType": 0, "collateral": 10_000, "tokens": tokens}],
    }


def write_world(work: Path, n: int, takers_rate: float = 0.2) -> tuple[list[MarketSpec], Path, Path]:
    """(specs, emulator config path, manifest directory) under ``work``."""
    specs = market_specs(n)
    manifests = work / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        (manifests / f"{spec.name}.yaml").write_text(manifest_text(spec))
    config = work / "sim.yaml"
    config.write_text(json.dumps(emulator_config(specs, takers_rate), indent=1))  # JSON is YAML
    return specs, config, manifests
