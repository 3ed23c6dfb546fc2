"""Liquidity rewards, taker fees and maker rebates in the emulator, driven by the official client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from py_clob_client_v2.clob_types import OrderArgsV2, OrderScoringParams, OrdersScoringParams, OrderType
from py_clob_client_v2.exceptions import PolyApiException
from sim_helpers import ADDR0, ADDR4, BTC, BTC_NO, BTC_YES, KEY0, KEY4, RAIN, client, quiet_config

from controller.sim import ManualClock, SimConfigError, load_config, start_sim

MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
DAY = "2026-11-30"
NEXT_DAY = "2026-12-01"


def rewards_config() -> dict:
    cfg = quiet_config()
    btc = cfg["markets"][0]
    btc["rewards"] = {"maxSpread": 3, "minSize": 20, "dailyRate": 144}  # 0.1 per minute
    btc["fees"] = {"rate": 0.07, "rebateRate": 0.2}
    return cfg


@pytest.fixture
def sim():
    with start_sim(rewards_config(), clock=ManualClock(MIDNIGHT + 30), flow=False) as handle:
        yield handle


def buy(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="BUY")


def collateral(sim, address: str) -> Decimal:
    return Decimal(sim.admin_state(0, owner=address)["balances"][address.lower()]["collateral"])


def test_programmes_are_listed_with_production_shapes(sim):
    c = client(sim.url, KEY0)
    current = c.get_current_rewards()
    assert [r["condition_id"] for r in current] == [BTC]
    row = current[0]
    assert (row["rewards_max_spread"], row["rewards_min_size"], row["total_daily_rate"]) == (3, 20, 144)
    assert row["rewards_config"][0]["rate_per_day"] == 144
    (market,) = c.get_raw_rewards_for_market(BTC)
    assert {t["token_id"] for t in market["tokens"]} == {BTC_YES, BTC_NO}
    assert market["market_competitiveness"] == 0.0
    assert c.get_raw_rewards_for_market(RAIN) == []  # no programme
    info = c.get_clob_market_info(BTC)
    assert info["r"]["ma"] == 3.0 and info["fd"] == {"r": 0.07, "e": 1, "to": True}


def test_a_market_without_rewards_block_has_no_programme():
    cfg = load_config(quiet_config())
    rain = next(m for m in cfg.markets if m.condition_id == RAIN)
    assert rain.rewards is None and rain.fees is None


def test_bad_rewards_config_is_one_line():
    cfg = rewards_config()
    cfg["markets"][0]["rewards"]["dailyRate"] = -1
    with pytest.raises(SimConfigError, match=r"markets\[0\]\.rewards\.dailyRate"):
        load_config(cfg)


def test_scoring_earnings_percentages_and_payout(sim):
    c0, c4 = client(sim.url, KEY0), client(sim.url, KEY4)
    sim.fund(ADDR4, 1000)
    bid = c0.create_and_post_order(buy(BTC_YES, 0.49, 30))["orderID"]
    ask = c0.create_and_post_order(buy(BTC_NO, 0.49, 30))["orderID"]  # an ask at 0.51 YES
    small = c0.create_and_post_order(buy(BTC_YES, 0.48, 10))["orderID"]  # under minSize
    far = c0.create_and_post_order(buy(BTC_YES, 0.47, 30))["orderID"]  # 3c away: scores 0
    one_sided = c4.create_and_post_order(buy(BTC_YES, 0.48, 60))["orderID"]
    assert c0.is_order_scoring(OrderScoringParams(orderId=bid)) == {"scoring": True}
    got = c0.are_orders_scoring(OrdersScoringParams(orderIds=[bid, ask, small, far, one_sided]))
    assert got == {bid: True, ask: True, small: False, far: False, one_sided: True}

    before = collateral(sim, ADDR0)
    for _ in range(10):  # ten one-minute samples
        sim.advance(60)
    q0 = Decimal(4) / 9 * 30  # ((3-1)/3)^2 x 30 on each side: Q_min = Q_one = Q_two
    q4 = Decimal(1) / 9 * 60 / 3  # one-sided inside [0.10, 0.90]: max(Q_one, Q_two) / 3
    share0 = q0 / (q0 + q4)
    (earned,) = c0.get_earnings_for_user_for_day(DAY)
    assert earned["condition_id"] == BTC and earned["maker_address"] == ADDR0.lower()
    assert earned["earnings"] == pytest.approx(float(Decimal("0.1") * 10 * share0), rel=1e-9)
    total = c4.get_total_earnings_for_user_for_day(DAY)[0]["earnings"]
    assert total == pytest.approx(float(Decimal("0.1") * 10 * (1 - share0)), rel=1e-9)
    assert c0.get_reward_percentages() == {BTC: pytest.approx(float(share0 * 100))}
    (row,) = c0.get_user_earnings_and_markets_config(DAY)
    assert row["earning_percentage"] == pytest.approx(float(share0 * 100))
    assert c0.get_raw_rewards_for_market(BTC)[0]["market_competitiveness"] == pytest.approx(float(q0 + q4))
    assert collateral(sim, ADDR0) == before  # paid at midnight UTC, not before

    sim.advance(MIDNIGHT + 86400 - sim.clock.now())  # into the next day
    paid = collateral(sim, ADDR0) - before
    expected = Decimal(str(c0.get_earnings_for_user_for_day(DAY)[0]["earnings"]))
    assert abs(paid - expected) <= Decimal("0.000002")
    assert sim.admin_state(0)["rewards"]["paidDays"] == [DAY]
    assert c0.get_earnings_for_user_for_day(NEXT_DAY)[0]["earnings"] > 0  # the orders still rest


def test_bad_dates_are_refused(sim):
    c0 = client(sim.url, KEY0)
    with pytest.raises(PolyApiException) as err:
        c0.get_earnings_for_user_for_day("yesterday")
    assert err.value.status_code == 400
    answer = httpx.get(f"{sim.url}/rebates/current", params={"date": DAY, "maker_address": "nope"})
    assert answer.status_code == 400


def test_taker_fee_and_maker_rebate(sim):
    maker, taker = client(sim.url, KEY0), client(sim.url, KEY4)
    sim.fund(ADDR4, 1000)
    maker.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.40, size=100, side="SELL"))
    maker_before, taker_before = collateral(sim, ADDR0), collateral(sim, ADDR4)
    result = taker.create_and_post_order(buy(BTC_YES, 0.40, 100), order_type=OrderType.GTC)
    assert result["status"] == "matched"
    fee = Decimal(100) * Decimal("0.07") * Decimal("0.40") * Decimal("0.60")  # 1.68
    assert taker_before - collateral(sim, ADDR4) == Decimal(40) + fee
    (trade,) = taker.get_trades()
    assert trade["fee_rate_bps"] == "700"
    assert sim.admin_state(1)["trades"][-1]["fee"] == "1.68"
    rebates = httpx.get(f"{sim.url}/rebates/current", params={"date": DAY, "maker_address": ADDR0}).json()
    assert rebates == [
        {
            "date": DAY,
            "condition_id": BTC,
            "asset_address": rebates[0]["asset_address"],
            "maker_address": ADDR0,
            "rebated_fees_usdc": "0.336000",
        }
    ]
    assert collateral(sim, ADDR0) - maker_before == 40  # makers pay no fee; the rebate comes at midnight
    sim.advance(MIDNIGHT + 86400 - sim.clock.now())
    assert collateral(sim, ADDR0) - maker_before == Decimal("40.336")


def test_failed_trades_refund_the_fee_and_earn_no_rebate(sim):
    maker, taker = client(sim.url, KEY0), client(sim.url, KEY4)
    sim.fund(ADDR4, 1000)
    sim.set_faults(failedTradeFraction=1.0)
    maker.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.40, size=50, side="SELL"))
    taker.create_and_post_order(buy(BTC_YES, 0.40, 50))
    assert collateral(sim, ADDR4) == 1000
    assert httpx.get(f"{sim.url}/rebates/current", params={"date": DAY, "maker_address": ADDR0}).json() == []


def test_a_taker_buy_must_cover_its_fee(sim):
    maker, taker = client(sim.url, KEY0), client(sim.url, KEY4)
    sim.fund(ADDR4, 40)  # exactly the notional, nothing for the fee
    maker.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.40, size=100, side="SELL"))
    with pytest.raises(PolyApiException) as err:
        taker.create_and_post_order(buy(BTC_YES, 0.40, 100))
    assert "not enough balance" in str(err.value.error_msg)


@pytest.mark.parametrize(
    ("section", "value", "where"),
    [
        ("fees", {"rate": 0.07, "exponent": 5}, r"markets\[0\]\.fees\.exponent"),
        ("fees", {"rebateRate": 0.2}, r"markets\[0\]\.fees"),
        ("rewards", {"maxSpread": 3, "minSize": 20, "dailyRate": 1, "bonus": 2}, r"markets\[0\]\.rewards"),
    ],
)
def test_bad_fee_and_rewards_sections_name_the_field(section, value, where):
    cfg = rewards_config()
    cfg["markets"][0][section] = value
    with pytest.raises(SimConfigError, match=where):
        load_config(cfg)


def test_a_zero_spread_is_no_programme():
    cfg = rewards_config()
    cfg["markets"][0]["rewards"] = {"maxSpread": 0, "minSize": 20}
    assert load_config(cfg).markets[0].rewards is None


def test_orders_score_only_after_the_minimum_age():
    cfg = rewards_config()
    cfg["markets"][0]["rewards"]["minOrderAgeSeconds"] = 30
    with start_sim(cfg, clock=ManualClock(MIDNIGHT + 5), flow=False) as sim:
        c0 = client(sim.url, KEY0)
        bid = c0.create_and_post_order(buy(BTC_YES, 0.49, 30))["orderID"]
        c0.create_and_post_order(buy(BTC_NO, 0.49, 30))
        assert c0.is_order_scoring(OrderScoringParams(orderId=bid)) == {"scoring": False}
        assert c0.get_clob_market_info(BTC)["r"]["moas"] == 30
        sim.advance(30)
        assert c0.is_order_scoring(OrderScoringParams(orderId=bid)) == {"scoring": True}
        sim.advance(30)  # the 00:01 sample: the orders are 55 s old
        assert sim.rewards()["markets"][BTC]["scores"] == {ADDR0.lower(): pytest.approx(40 / 3)}
