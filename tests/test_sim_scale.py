"""Scale features: staggered flow steps, a cheap filterable /admin/state, a bounded trade history."""

from __future__ import annotations

from collections import deque

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import OrderArgsV2, TradeParams
from sim_helpers import ADDR0, ADDR4, BTC, BTC_YES, KEY0, KEY4, RAIN, RAIN_YES, client, quiet_config

from controller.sim import ManualClock, start_sim
from controller.sim.trades import TradeLog

START = 1_700_000_000


def order(token: str, price: float, side: str, size: float = 10) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side=side)


# ------------------------------------------------------------------ staggered flow


def test_markets_step_spread_over_the_interval():
    cfg = quiet_config()
    cfg["flow"] = {"enabled": True, "stepSeconds": 1.0}
    conds = [m["conditionId"] for m in cfg["markets"]]
    with start_sim(cfg, clock=ManualClock(START), seed=4) as sim:

        def stepped() -> list[int]:
            return [sim.admin_state(0)["flow"]["marketSteps"][c] for c in conds]

        assert stepped() == [0, 0, 0, 0]
        seen = []
        for _ in range(4):
            sim.advance(0.25)  # a quarter of the interval: one more market each time
            seen.append(stepped())
        assert seen == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
        assert sim.admin_state(0)["flow"]["steps"] == 1  # one full round
        sim.advance(3)
        assert stepped() == [4, 4, 4, 4]
        sim.advance(10**6)  # a clock jump is skipped, not replayed
        assert max(stepped()) < 10_100


# ------------------------------------------------------------------ /admin/state


@pytest.fixture
def busy():
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        sim.fund(ADDR4, 1000, {BTC_YES: 100})
        a, b = client(sim.url, KEY0), client(sim.url, KEY4)
        a.create_and_post_order(order(RAIN_YES, 0.2, "BUY"))
        b.create_and_post_order(order(BTC_YES, 0.7, "SELL"))
        for _ in range(3):
            b.create_and_post_order(order(BTC_YES, 0.5, "SELL", 5))
            a.create_and_post_order(order(BTC_YES, 0.5, "BUY", 5))
        yield sim


def state(sim, **params) -> dict:
    r = httpx.get(sim.url + "/admin/state", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_admin_state_filters(busy):
    full = state(busy)
    assert full["tradeCount"] == 3 and len(full["trades"]) == 3
    assert {o["market"] for o in full["orders"]} == {BTC, RAIN}

    btc = state(busy, market=BTC)
    assert list(btc["markets"]) == [BTC] and {o["market"] for o in btc["orders"]} == {BTC}
    assert list(btc["flow"]["marketSteps"]) == [BTC]

    mine = state(busy, owner=ADDR4)
    assert list(mine["balances"]) == [ADDR4.lower()]
    assert [o["signer"] for o in mine["orders"]] == [ADDR4.lower()]
    assert len(mine["trades"]) == 3
    assert state(busy, owner=ADDR0, market=RAIN)["trades"] == []

    assert len(state(busy, trades=2)["trades"]) == 2
    assert state(busy, trades=2)["trades"] == full["trades"][-2:]  # the newest
    later = state(busy, since=full["time"] + 1)
    assert later["trades"] == [] and later["orders"] == []
    assert state(busy, since=full["time"])["tradeCount"] == 3  # totals are never filtered


def test_admin_state_can_leave_out_books_and_the_market_map(busy):
    full = state(busy)
    lean = state(busy, books=0)
    assert set(lean["markets"]) == set(full["markets"])
    assert all("books" not in m for m in lean["markets"].values())
    assert all("books" in m for m in full["markets"].values())
    bare = state(busy, owner=ADDR0, markets=0, books=0, trades=0)
    assert bare["markets"] == {} and bare["flow"]["marketSteps"] == {}
    mine = [o for o in full["orders"] if ADDR0.lower() in (o["signer"], o["owner"].lower())]
    assert bare["orders"] == mine, "the owner's orders, in the same order as unfiltered"
    assert bare["flow"]["steps"] == full["flow"]["steps"]


def test_admin_state_bad_filters(busy):
    assert httpx.get(busy.url + "/admin/state", params={"trades": "many"}).status_code == 400
    assert httpx.get(busy.url + "/admin/state", params={"owner": "bob"}).status_code == 400
    assert httpx.get(busy.url + "/admin/state", params={"since": "yesterday"}).status_code == 400
    assert httpx.get(busy.url + "/admin/state", params={"books": "no"}).status_code == 400


def test_admin_state_trades_are_capped_by_default():
    cfg = quiet_config()
    cfg["flow"] = {"enabled": True, "stepSeconds": 1.0}
    with start_sim(cfg, clock=ManualClock(START), seed=3) as sim:
        sim.step_flow(400)
        answer = state(sim)
        assert answer["tradeCount"] > 100 and len(answer["trades"]) == 100
        assert len(state(sim, trades=10**9)["trades"]) == min(answer["tradeCount"], 10_000)


# ------------------------------------------------------------------ bounded trade history


def test_trade_history_is_a_ring_buffer():
    cfg = quiet_config(settings={"tradeHistoryLimit": 2})
    with start_sim(cfg, clock="manual", flow=False) as sim:
        sim.fund(ADDR4, 1000, {BTC_YES: 100})
        a, b = client(sim.url, KEY0), client(sim.url, KEY4)
        ids = []
        for _ in range(3):
            b.create_and_post_order(order(BTC_YES, 0.5, "SELL", 5))
            ids += a.create_and_post_order(order(BTC_YES, 0.5, "BUY", 5))["tradeIDs"]
        s = sim.admin_state()
        assert (s["tradeCount"], s["tradesHeld"]) == (3, 2)
        assert [t["id"] for t in s["trades"]] == ids[1:]
        assert [t["id"] for t in a.get_trades()] == ids[:0:-1]  # newest first; the oldest is gone
        assert a.get_trades(TradeParams(id=ids[0])) == []


@settings(max_examples=60, deadline=None, derandomize=True)
@given(capacity=st.integers(1, 6), parties=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30))
def test_trade_log_indexes_follow_the_ring(capacity, parties):
    class Ord:
        def __init__(self, owner: str) -> None:
            self.owner = owner

    class F:
        def __init__(self, owner: str) -> None:
            self.order = Ord(owner)

    class T:
        def __init__(self, n: int, taker: str, maker: str) -> None:
            self.id, self.taker, self.makers = f"t{n}", Ord(taker), [F(maker)]

    log, model = TradeLog(capacity), deque(maxlen=capacity)
    for n, (x, y) in enumerate(parties):
        t = T(n, f"a{x}", f"a{y}")
        log.add(t, {t.taker.owner, t.makers[0].order.owner})  # type: ignore[arg-type]
        model.append(t)
    assert list(log) == list(model) and log.total == len(parties)
    assert set(log.by_id) == {t.id for t in model}
    for acct in {f"a{i}" for i in range(4)}:
        expected = [t for t in model if acct in (t.taker.owner, t.makers[0].order.owner)]
        assert list(log.for_account(acct)) == expected
    assert log.recent(3) == list(model)[-3:]
