"""controller.venue.rewards: production shapes parsed exactly; hostile answers are one-line errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bands_support import CID, NOW, spec, state
from test_rewards_plan import PARAMS, fit, with_rewards

from controller.plan.bands import plan
from controller.plan.rewards_fit import observed_estimate
from controller.schemas import load_schema
from controller.venue.errors import VenueError
from controller.venue.rewards import (
    PublicRewardsReader,
    RewardsWireError,
    fetch_rewards,
    orders_scoring,
    parse_programme,
    reward_percentages,
    user_earnings,
)

COND = "0x" + "ab" * 32
ROW = {
    "condition_id": COND,
    "question": "Will it?",
    "market_slug": "will-it",
    "rewards_max_spread": 3.5,
    "rewards_min_size": 50,
    "market_competitiveness": 12.25,
    "tokens": [{"token_id": "1", "outcome": "Yes", "price": 0.62}, {"token_id": "2", "outcome": "No", "price": 0.38}],
    "rewards_config": [
        {"asset_address": "0x1", "start_date": "2026-01-01", "end_date": "2500-12-31", "rate_per_day": 40},
        {"asset_address": "0x1", "start_date": "2026-01-01", "end_date": "2026-06-30", "rate_per_day": 60},
    ],
}


def reader(routes: dict[str, object]) -> PublicRewardsReader:
    def handler(request: httpx.Request) -> httpx.Response:
        body = routes.get(request.url.path)
        if body is None:
            return httpx.Response(404, json={"error": "not found"})
        text = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(200, text=text)

    return PublicRewardsReader("http://venue.test", http=httpx.Client(transport=httpx.MockTransport(handler)))


def page(rows: list) -> dict:
    return {"limit": 500, "count": len(rows), "next_cursor": "LTE=", "data": rows}


def test_programme_parsed_exactly_and_only_active_configs_counted():
    m = parse_programme(json.loads(json.dumps(ROW)), "row", today=date(2026, 12, 1))
    assert m.params.max_spread == Decimal("3.5") and m.params.min_size == 50
    assert m.params.daily_rate == 40 and m.params.competing_score == Decimal("12.25")
    assert m.midpoint == Decimal("0.62") and m.tokens[1] == ("2", "No", Decimal("0.38"))
    assert parse_programme(ROW, "row").params.daily_rate == 100  # no date: every config


def test_fetch_rewards_reads_the_managed_markets():
    r = reader({f"/rewards/markets/{COND}": page([ROW]), f"/rewards/markets/{'0x' + 'cd' * 32}": page([])})
    got = fetch_rewards(r, [COND, "0x" + "cd" * 32])
    assert list(got) == [COND] and got[COND].max_spread == Decimal("3.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rewards_max_spread": "wide"}, "rewards_max_spread: not a number"),
        ({"rewards_max_spread": 0}, "rewards_max_spread: out of range"),
        ({"rewards_min_size": -1}, "rewards_min_size: out of range"),
        ({"rewards_min_size": True}, "rewards_min_size: expected a number"),
        ({"condition_id": "0x12"}, "condition_id: not a condition id"),
        ({"rewards_config": {"rate_per_day": 1}}, "rewards_config: expected a list"),
        ({"tokens": ["x"]}, "tokens[0]: expected an object"),
    ],
)
def test_hostile_rows_are_one_line_errors(change, message):
    with pytest.raises(RewardsWireError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        parse_programme({**ROW, **change}, "row")
    assert "\n" not in str(err.value)


def test_hostile_bodies_are_venue_errors():
    with pytest.raises(RewardsWireError, match="not JSON"):
        reader({"/rewards/markets/current": "<html>"}).current()
    with pytest.raises(RewardsWireError, match="nested deeper"):
        reader({"/rewards/markets/current": "[" * 100 + "]" * 100}).current()
    with pytest.raises(RewardsWireError, match="data: expected a list"):
        reader({"/rewards/markets/current": {"next_cursor": "LTE=", "data": {}}}).current()
    with pytest.raises(VenueError, match="HTTP 404"):
        reader({}).current()


def test_pagination_follows_cursors_and_stops_on_a_repeat():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params["next_cursor"]
        calls.append(cursor)
        nxt = {"MA==": "NTAw", "NTAw": "NTAw"}[cursor]  # the second page repeats its own cursor
        return httpx.Response(200, json={"next_cursor": nxt, "data": [ROW]})

    r = PublicRewardsReader("http://venue.test", http=httpx.Client(transport=httpx.MockTransport(handler)))
    assert len(r.current()) == 2 and calls == ["MA==", "NTAw"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(JSON)
def test_any_json_is_parsed_or_refused_in_one_line(value):
    for body in (value, {**ROW, "tokens": value}, {**ROW, "rewards_config": value}):
        try:
            parse_programme(body, "row")
        except RewardsWireError as exc:
            assert "\n" not in str(exc)


class StubClient:
    def __init__(self, earnings=None, percentages=None, scoring=None):
        self.earnings, self.percentages, self.scoring = earnings, percentages, scoring

    def get_earnings_for_user_for_day(self, date: str) -> list:
        return self.earnings

    def get_reward_percentages(self):
        return self.percentages

    def are_orders_scoring(self, params=None):
        return self.scoring


def test_account_reads_through_the_official_client():
    rows = [{"condition_id": COND.upper().replace("0X", "0x"), "earnings": 1.5, "asset_rate": 1}]
    assert user_earnings(StubClient(earnings=rows), date(2026, 12, 1)) == {COND: Decimal("1.5")}
    assert reward_percentages(StubClient(percentages={COND: 20})) == {COND: 20}
    assert orders_scoring(StubClient(scoring={"a": True, "b": "yes"}), ["a", "b", "c"]) == {
        "a": True,
        "b": False,
        "c": False,
    }
    with pytest.raises(RewardsWireError, match="expected a list"):
        user_earnings(StubClient(earnings={"oops": 1}), date(2026, 12, 1))
    with pytest.raises(RewardsWireError, match="percentages"):
        reward_percentages(StubClient(percentages={COND: "lots"}))


def test_plan_json_with_rewards_validates_and_observed_estimate_scores_resting_orders():
    s = with_rewards(state(bids=(("0.45", "100"),), asks=(("0.55", "100"),)))
    doc = plan([fit(spec())], s, NOW).to_json()
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    market = doc["markets"][0]
    assert market["rewards"]["mode"] == "fit" and all("scores" in p for p in market["place"])
    from test_bands_support import order

    resting = [order("b", "BUY", "0.49", "30"), order("a", "SELL", "0.51", "30")]
    s = with_rewards(state(orders=resting))
    est = observed_estimate(spec(), s.markets[CID], s.orders)
    assert est is not None and est.score.scoring == 2 and est.midpoint == Decimal("0.50")
    assert observed_estimate(spec(), state().markets[CID], ()) is None
    assert PARAMS.competing_score == 60 and est.share == est.score.q_min / (est.score.q_min + 60)
