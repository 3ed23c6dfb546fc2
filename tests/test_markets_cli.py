"""``bandctl markets --rewards`` against the emulator, and fitted manifests that quote and score."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from py_clob_client_v2.clob_types import OrderArgsV2, OrdersScoringParams
from sim_helpers import KEY0, client

from controller.cli import markets
from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.plan.bands import plan_market
from controller.sim import start_sim
from controller.spec.manifest import validate_paths
from controller.spec.types import Rewards
from controller.venue.rewards import PublicRewardsReader, fetch_fee_schedules, fetch_rewards

ROOT = Path(__file__).resolve().parent.parent
BTC = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
RAIN = "0x71f2731a0ce76f67ca8980aab6ae4bc13d2a43a6ada270691286d33cd6909d45"


@pytest.fixture(scope="module")
def sim():
    with start_sim(None, clock="manual", seed=3, flow=True) as handle:  # the demo: three programmes
        handle.step_flow(2)
        handle.advance(61)  # one sample: competitiveness is known
        yield handle


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="bandctl")
    markets.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lists_programmes_as_json_and_table(sim, capsys):
    code, out, _ = run_cli(["markets", "--rewards", "--host", sim.url, "-o", "json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert {r["conditionId"] for r in rows} == {m.condition_id for m in sim.config.markets}
    btc = next(r for r in rows if r["conditionId"] == BTC)
    assert (btc["ratePerDay"], btc["maxSpreadCents"], btc["minSize"]) == ("100.00", "3", "20")
    assert Decimal(btc["competitiveness"]) > 0 and Decimal(btc["estRewardPerDayPer1000"]) > 0
    assert Decimal("0.3") < Decimal(btc["midpoint"]) < Decimal("0.7")
    code, out, _ = run_cli(["markets", "--rewards", "--host", sim.url, "--min-rate", "60", "--limit", "5"], capsys)
    assert code == 0 and out.splitlines()[0].startswith("CONDITION") and len(out.splitlines()) == 2
    assert "demo-btc-150k" in out and "3c" in out


def test_unreachable_host_is_one_line(capsys):
    code, _, err = run_cli(["markets", "--rewards", "--host", "http://127.0.0.1:9"], capsys)
    assert code == 2 and err.startswith("error: GET /rewards/markets/current") and len(err.splitlines()) == 1


def observed(sim, c, cond: str) -> ObservedState:
    """A snapshot built from the emulator's public REST and the account's own orders."""
    cfg = next(m for m in sim.config.markets if m.condition_id == cond)
    books = {}
    for token in (cfg.yes, cfg.no):
        raw = c.get_order_book(token)
        books[token] = Book.from_levels(
            [Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in raw["bids"]],
            [Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in raw["asks"]],
        )
    reader = PublicRewardsReader(sim.url)
    state = MarketState(
        tick_size=Decimal(str(c.get_tick_size(cfg.yes))),
        min_order_size=Decimal(5),
        books=books,
        rewards=fetch_rewards(reader, [cond]).get(cond),
    )
    orders = tuple(
        OpenOrder(o["id"], o["market"], o["asset_id"], o["side"], Decimal(o["price"]), Decimal(o["original_size"]))
        for o in c.get_open_orders()
    )
    bal = sim.admin_state(0)["balances"][sim.config.accounts[0].funder]
    balances = Balances(Decimal(bal["collateral"]), {t: Decimal(v) for t, v in bal["tokens"].items()})
    return ObservedState(markets={cond: state}, balances=balances, orders=orders)


def place_all(c, mp) -> list[str]:
    ids = []
    for p in mp.place:
        answer = c.create_and_post_order(
            OrderArgsV2(token_id=p.token_id, price=float(p.price), size=float(p.size), side=p.side)
        )
        ids.append(answer["orderID"])
    return ids


def test_fit_places_only_scoring_orders_where_the_default_would_not(sim):
    c = client(sim.url, KEY0)
    c.cancel_all()
    (spec,) = [s for s in validate_paths([str(ROOT / "manifests")]).specs if s.market.condition_id == RAIN]
    state = observed(sim, c, RAIN)
    now = datetime.now(UTC)
    default = plan_market(spec, state, now)
    assert any(p.scores is False for p in default.place)  # the demo's outer bands lie beyond 2 cents
    fitted = plan_market(replace(spec, rewards=Rewards(mode="fit")), state, now)
    assert fitted.place and all(p.scores for p in fitted.place)
    ids = place_all(c, fitted)
    assert c.are_orders_scoring(OrdersScoringParams(orderIds=ids)) == dict.fromkeys(ids, True)
    c.cancel_all()


def test_emitted_manifests_validate_and_once_unpaused_quote_and_score(sim, tmp_path, capsys):
    code, _, err = run_cli(["markets", "--rewards", "--host", sim.url, "--emit-manifests", str(tmp_path)], capsys)
    assert code == 0 and "wrote 3 manifest(s)" in err
    result = validate_paths([str(tmp_path)])
    assert not result.errors and len(result.specs) == 3
    assert all(s.paused and s.rewards.mode == "fit" for s in result.specs)
    c = client(sim.url, KEY0)
    c.cancel_all()
    (spec,) = [s for s in result.specs if s.market.condition_id == BTC]
    state = observed(sim, c, BTC)
    assert plan_market(spec, state, datetime.now(UTC)).place == ()  # paused: nothing trades
    mp = plan_market(replace(spec, paused=False), state, datetime.now(UTC))
    assert {p.quote_side for p in mp.place} == {"bid", "ask"} and all(p.scores for p in mp.place)
    ids = place_all(c, mp)
    assert c.are_orders_scoring(OrdersScoringParams(orderIds=ids)) == dict.fromkeys(ids, True)
    c.cancel_all()


def test_fee_schedules_are_read(sim):
    schedules = fetch_fee_schedules(PublicRewardsReader(sim.url), [BTC, RAIN])
    assert set(schedules) == {BTC} and schedules[BTC].rate == Decimal("0.07")
    assert schedules[BTC].taker_fee(Decimal("0.4"), Decimal(100)) == Decimal("1.68")
