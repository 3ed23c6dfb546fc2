"""Fault switches for hostile-input tests, over real sockets (POST /admin/faults and the official client).

Malformed WS frames, open orders without ids, corrupted place responses, slow or failing
heartbeats, trades that end FAILED.
"""

from __future__ import annotations

import time

import httpx
import pytest
from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams, OrderArgsV2, TradeParams
from py_clob_client_v2.exceptions import PolyApiException
from sim_helpers import (
    ADDR0,
    ADDR4,
    BTC,
    BTC_YES,
    KEY0,
    KEY4,
    WsReader,
    client,
    quiet_config,
    user_ws,
    wait_for,
)

from controller.sim import start_sim
from controller.sim.malformed import HUGE_BYTES, NESTING_DEPTH


@pytest.fixture
def sim():
    with start_sim(quiet_config(), clock="manual", flow=False) as handle:
        yield handle


def faults(sim, body: dict) -> dict:
    r = httpx.post(sim.url + "/admin/faults", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def buy(price: float, size: float = 10) -> OrderArgsV2:
    return OrderArgsV2(token_id=BTC_YES, price=price, size=size, side="BUY")


def raw_market_ws(sim) -> WsReader:
    r = WsReader(sim.ws_url + "/ws/market", None)  # no schema check: the frames are meant to be wrong
    r.send({"assets_ids": [BTC_YES], "type": "market"})
    r.sync()
    return r


# ------------------------------------------------------------------ malformed frames


@pytest.mark.parametrize("kind", ["deep-nesting", "huge", "garbage", "wrong-types"])
def test_malformed_frames_on_the_market_channel(sim, kind):
    c = client(sim.url, KEY0)
    ws = raw_market_ws(sim)
    texts_before = len(ws.texts)
    snapshot = faults(sim, {"malformedFrames": {"kind": kind, "count": 1, "channel": "market"}})
    assert snapshot["malformedFrames"]["count"] == 1
    c.create_and_post_order(buy(0.30))
    ws.wait(lambda ev: any(e.get("event_type") == "price_change" for e in ev if isinstance(e, dict)))
    ws.sync()
    odd_texts = [t for t in ws.texts[texts_before:] if t != "PONG"]
    if kind == "deep-nesting":
        assert odd_texts == ["[" * NESTING_DEPTH + "]" * NESTING_DEPTH]
    elif kind == "garbage":
        assert len(odd_texts) == 1 and odd_texts[0].startswith("\x00")
    elif kind == "huge":
        big = [f for f in ws.frames if isinstance(f, dict) and len(f.get("padding", "")) >= HUGE_BYTES]
        assert len(big) == 1 and not odd_texts
    else:
        wrong = [f for f in ws.frames if isinstance(f, dict) and f.get("market") == 12345]
        assert len(wrong) == 1 and wrong[0]["event_type"] == "price_change"
    # Counted: the next message arrives clean.
    frames_before, texts_before = len(ws.frames), len(ws.texts)
    c.create_and_post_order(buy(0.31))
    ws.wait(lambda ev: len(ws.frames) > frames_before)
    ws.sync()
    assert [t for t in ws.texts[texts_before:] if t != "PONG"] == []
    assert "malformedFrames" not in faults(sim, {})
    ws.close()


def test_malformed_frames_on_the_user_channel_only(sim):
    c = client(sim.url, KEY0)
    uws = user_ws(sim.ws_url, c)
    mws = raw_market_ws(sim)
    faults(sim, {"malformedFrames": {"kind": "garbage", "count": 2, "channel": "user"}})
    c.create_and_post_order(buy(0.30))
    uws.wait(lambda ev: any(e.get("type") == "PLACEMENT" for e in ev))
    uws.sync()
    mws.sync()
    assert [t for t in uws.texts if t != "PONG"] and all(t == "PONG" for t in mws.texts)
    uws.close()
    mws.close()


def test_malformed_frame_kinds_are_validated(sim):
    r = httpx.post(sim.url + "/admin/faults", json={"malformedFrames": {"kind": "spicy", "count": 1}})
    assert r.status_code == 400 and r.json()["error"].startswith("malformedFrames.kind")


# ------------------------------------------------------------------ REST bodies


def test_open_orders_without_ids(sim):
    c = client(sim.url, KEY0)
    c.cancel_all()
    placed = [c.create_and_post_order(buy(p))["orderID"] for p in (0.30, 0.31, 0.32)]
    faults(sim, {"openOrdersMissingIdEvery": 2})
    rows = c.get_open_orders()
    assert ["id" in r for r in rows] == [False, True, False]
    assert rows[1]["id"] == placed[1]
    faults(sim, {"openOrdersMissingIdEvery": 0})
    assert [r["id"] for r in c.get_open_orders()] == placed


def test_place_response_with_a_non_boolean_success(sim):
    c = client(sim.url, KEY0)
    faults(sim, {"placeResponse": {"kind": "non-boolean-success", "count": 1}})
    odd = c.create_and_post_order(buy(0.30))
    assert odd["success"] == "true"  # a string: the order is live all the same
    assert [o["id"] for o in c.get_open_orders()] == [odd["orderID"]]
    assert c.create_and_post_order(buy(0.31))["success"] is True


def test_place_response_with_a_wrong_order_id(sim):
    c = client(sim.url, KEY0)
    faults(sim, {"placeResponse": {"kind": "wrong-order-id", "count": 1}})
    odd = c.create_and_post_order(buy(0.30))
    [real] = [o["id"] for o in c.get_open_orders()]
    assert odd["success"] is True and odd["orderID"] != real and len(odd["orderID"]) == 66


# ------------------------------------------------------------------ heartbeats


def test_heartbeat_latency_applies_to_heartbeats_only(sim):
    c = client(sim.url, KEY0)
    faults(sim, {"heartbeatLatencyMs": 1500})
    start = time.monotonic()
    beat = c.post_heartbeat("")
    slow = time.monotonic() - start
    start = time.monotonic()
    c.get_open_orders()
    fast = time.monotonic() - start
    assert slow >= 1.5 and fast < 1.0, (slow, fast)
    faults(sim, {"heartbeatLatencyMs": 0})
    assert c.post_heartbeat(beat["heartbeat_id"])["heartbeat_id"]  # the slow beat did count


@pytest.mark.parametrize("status", [503, 429])
def test_heartbeat_errors_for_n_calls(sim, status):
    c = client(sim.url, KEY0)
    beat = c.post_heartbeat("")["heartbeat_id"]
    faults(sim, {"heartbeatErrors": {"status": status, "count": 2}})
    for _ in range(2):
        with pytest.raises(PolyApiException) as info:
            c.post_heartbeat(beat)
        assert info.value.status_code == status
    assert c.post_heartbeat(beat)["heartbeat_id"] != beat  # the failed calls changed nothing


def test_failed_heartbeats_do_not_keep_orders_alive(sim):
    c = client(sim.url, KEY0)
    c.create_and_post_order(buy(0.30))
    beat = c.post_heartbeat("")["heartbeat_id"]
    faults(sim, {"heartbeatErrors": {"status": 500, "count": 100}})
    for _ in range(3):
        sim.advance(5)
        with pytest.raises(PolyApiException):
            c.post_heartbeat(beat)
    assert c.get_open_orders() == []  # the dead man's switch fired


# ------------------------------------------------------------------ FAILED trades


def test_failed_trades_are_reported_and_reversed(sim):
    maker = client(sim.url, KEY0)
    sim.fund(ADDR4, 100)
    taker = client(sim.url, KEY4)
    resting = maker.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.5, size=10, side="SELL"))
    before = sim.admin_state(0)["balances"]
    uws = user_ws(sim.ws_url, taker, [BTC])
    faults(sim, {"failedTradeFraction": 1.0})
    filled = taker.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.5, size=10, side="BUY"))
    [trade_id] = filled["tradeIDs"]
    statuses = uws.wait(lambda ev: (s := [e["status"] for e in ev if e.get("id") == trade_id]) and "FAILED" in s and s)
    assert statuses == ["MATCHED", "FAILED"]
    [rest] = taker.get_trades(TradeParams(id=trade_id))
    assert rest["status"] == "TRADE_STATUS_FAILED"
    after = sim.admin_state(0)["balances"]
    for who in (ADDR0.lower(), ADDR4.lower()):
        assert after[who]["collateral"] == before[who]["collateral"]
        assert after[who]["tokens"].get(BTC_YES) == before[who]["tokens"].get(BTC_YES)
    bal = taker.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=BTC_YES))
    assert bal["balance"] == "0"
    assert resting["orderID"] not in [o["id"] for o in maker.get_open_orders()]  # the fill consumed it
    wait_for(lambda: sim.admin_state(5)["trades"][-1]["status"] == "FAILED")
    uws.close()


def test_user_channel_auth_with_wrong_types_is_refused(sim):
    for auth in ({"apiKey": ["x"], "secret": 1, "passphrase": None}, "creds", None):
        ws = WsReader(sim.ws_url + "/ws/user", None)
        ws.send({"auth": auth, "type": "user"})
        assert ws.closed.wait(5), auth
        ws.close()
    wait_for(lambda: sim.admin_state(0)["websockets"]["user"] == 0, what="the refused connections to go")
