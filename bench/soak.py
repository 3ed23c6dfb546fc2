"""Soak: many markets with synthetic flow for minutes; do the workers live and every market quote?

The outside review lost both reconcile workers at 30 markets with flow on. This run
starts the emulator (real clock, drifting fair values, random takers) and one controller
in this process, samples once a second what the *exchange* holds, and prints:

* reconcile workers alive (minimum over the run) and restarts,
* the share of samples in which every market had our orders on both sides,
* per market, the longest stretch without a two-sided quote,
* reconciles per second and their p50/p99 duration.

    .venv/bin/python bench/soak.py --markets 30 --seconds 300

It measures; it asserts nothing (the tests pin behaviour).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions  # noqa: E402
from controller.ops.redact import Secret  # noqa: E402
from controller.sim import start_sim  # noqa: E402
from controller.venue.client import Venue, VenueConfig  # noqa: E402

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BANDS = ((0.01, 0.02, 0.03), (0.03, 0.04, 0.05))


def _ids(i: int) -> tuple[str, str, str]:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    return (
        "0x" + digest(f"soak-{i}"),
        str(int(digest(f"soak-yes-{i}"), 16) >> 8),
        str(int(digest(f"soak-no-{i}"), 16) >> 8),
    )


def setup(n: int, directory: Path) -> dict[str, Any]:
    markets, accounts_tokens = [], {}
    for i in range(n):
        condition, yes, no = _ids(i)
        bands = "\n".join(
            f"    - {{minMargin: {lo}, avgMargin: {avg}, maxMargin: {hi}, minAmount: 10, avgAmount: 20, maxAmount: 40}}"
            for lo, avg, hi in BANDS
        )
        (directory / f"m{i:03d}.yaml").write_text(
            f"apiVersion: bandctl/v1\nkind: MarketMaker\nmetadata:\n  name: m{i:03d}\nspec:\n  market:\n"
            f'    conditionId: "{condition}"\n    tokens: {{yes: "{yes}", no: "{no}"}}\n'
            f"  bands:\n{bands}\n  referencePrice: {{source: midpoint, maxSpread: 0.1}}\n"
            "  orders: {type: GTC, postOnly: true}\n"
        )
        markets.append(
            {
                "name": f"m{i:03d}",
                "conditionId": condition,
                "tokens": {"yes": yes, "no": no},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": 0.5,
                "flow": {
                    "volatility": 0.01,
                    "house": {"levels": 3, "halfSpread": 0.02, "levelStep": 0.01, "size": 50},
                    "takers": {"rate": 0.2, "minSize": 5, "maxSize": 20, "informedFraction": 0.3},
                },
            }
        )
        accounts_tokens.update({yes: 2000, no: 2000})
    return {
        "rateLimits": {"enabled": True, "orders": {"rate": 200, "burst": 300}, "cancels": {"rate": 400, "burst": 600}},
        "flow": {"enabled": True, "stepSeconds": 1.0},
        "markets": markets,
        "accounts": [{"address": ADDRESS, "signatureType": 0, "collateral": 10_000_000, "tokens": accounts_tokens}],
    }


def two_sided(admin: dict[str, Any], yes_of: dict[str, str]) -> set[str]:
    """Markets in which the exchange holds our orders on both sides (in YES terms)."""
    sides: dict[str, set[str]] = {}
    for order in admin["orders"]:
        if order["owner"].lower() != ADDRESS.lower():
            continue
        market = order.get("market", "")
        is_yes = order["tokenId"] == yes_of.get(market)
        bid = (order["side"] == "BUY") == is_yes
        sides.setdefault(market, set()).add("bid" if bid else "ask")
    return {m for m, s in sides.items() if s == {"bid", "ask"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    work = Path(tempfile.mkdtemp(prefix="bandctl-soak-"))
    manifests = work / "manifests"
    manifests.mkdir()
    config = setup(args.markets, manifests)
    yes_of = {m["conditionId"]: m["tokens"]["yes"] for m in config["markets"]}
    sim = start_sim(config, seed=args.seed)
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
    durations: list[float] = []
    controller = Controller(venue, LiveOptions(manifest_paths=[str(manifests)], state_dir=str(work / "state")))
    original = controller._on_outcome

    def record(outcome: Any) -> None:
        durations.append(outcome.duration)
        original(outcome)

    controller.reconciler.on_outcome = record
    controller.start()
    samples = all_quoted = 0
    min_alive = controller.options.workers
    unquoted_since: dict[str, float] = {}
    longest_gap: dict[str, float] = dict.fromkeys(yes_of, 0.0)
    warmup_end = time.monotonic() + 10.0
    end = warmup_end + args.seconds
    try:
        while (now := time.monotonic()) < end:
            time.sleep(1.0)
            pool = controller.reconciler._pool
            alive = pool.alive() if pool is not None else 0
            if now < warmup_end:
                continue
            min_alive = min(min_alive, alive)
            quoted = two_sided(sim.admin_state(), yes_of)
            samples += 1
            all_quoted += quoted >= set(yes_of)
            for market in yes_of:
                if market in quoted:
                    if market in unquoted_since:
                        longest_gap[market] = max(longest_gap[market], now - unquoted_since.pop(market))
                else:
                    unquoted_since.setdefault(market, now)
        for market, since in unquoted_since.items():
            longest_gap[market] = max(longest_gap[market], time.monotonic() - since)
    finally:
        restarts = controller.reconciler.worker_restarts
        left = controller.stop()
        sim.stop()
    ordered = sorted(durations)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    print(f"markets {args.markets}, {args.seconds:.0f} s after a 10 s warm-up, seed {args.seed}")
    print(f"reconcile workers alive: min {min_alive} of {controller.options.workers}; restarts {restarts}")
    print(f"samples with every market two-sided: {all_quoted}/{samples} ({100 * all_quoted / max(samples, 1):.1f} %)")
    gaps = sorted(longest_gap.values())
    print(f"longest stretch without a two-sided quote: median {statistics.median(gaps):.1f} s, max {gaps[-1]:.1f} s")
    print(
        f"reconciles: {len(durations)} ({len(durations) / (args.seconds + 10):.1f}/s), "
        f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms"
    )
    print(f"orders left after stop: {left}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
