"""A simulated day of liquidity rewards, recomputed independently of the emulator's code.

The test reads every resting order of the market before each one-minute sample (the
house's included), recomputes each maker's score from Polymarket's published formula
with exact fractions, shares the minute's pool and compares the day's total with what
``GET /rewards/user`` reports. Nothing here imports ``controller.sim.scoring`` or
``controller.sim.rewards``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from py_clob_client_v2.clob_types import OrderArgsV2
from sim_helpers import ADDR0, BTC, BTC_NO, BTC_YES, KEY0, client, quiet_config

from controller.sim import ManualClock, start_sim

MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
DAY = "2026-11-30"
V = Fraction(3)  # max spread, cents
MIN_SIZE = Fraction(20)
PER_MINUTE = Fraction(144, 1440)
HOUSE = "0x00000000000000000000000000000000000b0b5e"


def day_config() -> dict:
    cfg = quiet_config()
    btc = cfg["markets"][0]
    btc["rewards"] = {"maxSpread": 3, "minSize": 20, "dailyRate": 144}
    btc["flow"] = {
        "volatility": 0.01,
        "house": {"levels": 3, "halfSpread": 0.02, "levelStep": 0.01, "size": 50},
        "takers": {"rate": 0.004, "minSize": 5, "maxSize": 40, "informedFraction": 0.3},
    }
    for other in cfg["markets"][1:]:
        other["flow"] = {"enabled": False}
    cfg["flow"] = {"enabled": True, "stepSeconds": 60}
    return cfg


def recompute_minute(orders: list[dict]) -> dict[str, Fraction]:
    """Each maker's Q_min for one sample, from the orders resting in the market."""
    rows = []
    levels: dict[tuple[str, Fraction], Fraction] = defaultdict(Fraction)
    for o in orders:
        price = Fraction(o["price"])
        yes = o["tokenId"] == BTC_YES
        side = "bid" if (o["side"] == "BUY") == yes else "ask"
        yes_price = price if yes else 1 - price
        left = Fraction(o["size"]) - Fraction(o["sizeMatched"])
        levels[(side, yes_price)] += left
        rows.append((o["owner"].lower(), side, yes_price, left))
    bids = [p for (s, p), size in levels.items() if s == "bid" and size >= MIN_SIZE]
    asks = [p for (s, p), size in levels.items() if s == "ask" and size >= MIN_SIZE]
    if not bids or not asks or max(bids) >= min(asks):
        return {}
    mid = (max(bids) + min(asks)) / 2
    q: dict[str, dict[str, Fraction]] = defaultdict(lambda: {"bid": Fraction(0), "ask": Fraction(0)})
    for maker, side, yes_price, left in rows:
        s = abs(yes_price - mid) * 100
        if left >= MIN_SIZE and s < V:
            q[maker][side] += ((V - s) / V) ** 2 * left
    two_sided_only = not Fraction(1, 10) <= mid <= Fraction(9, 10)
    out = {}
    for maker, sides in q.items():
        low, high = min(sides.values()), max(sides.values())
        out[maker] = low if two_sided_only else max(low, high / 3)
    return out


@pytest.mark.parametrize("seed", [11])
def test_a_days_earnings_match_the_published_formula(seed):
    with start_sim(day_config(), clock=ManualClock(MIDNIGHT + 30), seed=seed, flow=True) as sim:
        c = client(sim.url, KEY0)
        for token, price, size in ((BTC_YES, 0.49, 30), (BTC_NO, 0.49, 40), (BTC_YES, 0.48, 10), (BTC_NO, 0.48, 25)):
            c.create_and_post_order(OrderArgsV2(token_id=token, price=price, size=size, side="BUY"))
        expected: dict[str, Fraction] = defaultdict(Fraction)
        scored_minutes = 0
        for _ in range(1439):  # the samples at 00:01 ... 23:59 of DAY
            resting = sim.admin_state(0, market=BTC)["orders"]
            scores = recompute_minute(resting)
            total = sum(scores.values())
            if total > 0:
                scored_minutes += 1
                for maker, q in scores.items():
                    expected[maker] += PER_MINUTE * q / total
            sim.advance(60)
        assert sim.admin_state(0)["rewards"]["samples"] == 1439
        assert scored_minutes > 1000 and expected[HOUSE] > 0 and expected[ADDR0.lower()] > 0
        house = sim.admin_state(0)["rewards"]["earnings"][BTC][HOUSE]
        (mine,) = c.get_earnings_for_user_for_day(DAY)
        assert mine["earnings"] == pytest.approx(float(expected[ADDR0.lower()]), rel=1e-9)
        assert house == pytest.approx(float(expected[HOUSE]), rel=1e-9)
        assert sum(expected.values()) == PER_MINUTE * scored_minutes  # the pool is shared out whole
        assert len(sim.admin_state(1000, market=BTC)["trades"]) > 0  # takers really traded
