"""Production behaviour since 2026 on the emulator, driven over real sockets by the official client.

API-key lifecycle, weekly engine restarts (425 then post-only), 1,000-id cancel batches,
tick-size changes (real and false), markets that stop mid-run, Exchange V3 markets.
"""

from __future__ import annotations

import calendar

import httpx
import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    CreateOrderOptions,
    MarketOrderArgsV2,
    OrderArgsV2,
    OrderType,
    PostOrdersV2Args,
)
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.exceptions import PolyApiException
from sim_helpers import (
    ADDR0,
    ADDR4,
    BTC,
    BTC_YES,
    KEY0,
    KEY4,
    V3,
    V3_NO,
    V3_YES,
    client,
    market_ws,
    quiet_config,
    user_ws,
)

from controller.sim import ManualClock, start_sim


@pytest.fixture
def sim():
    with start_sim(quiet_config(), clock="manual", flow=False) as handle:
        yield handle


def buy(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="BUY")


def failure(fn) -> tuple[int, dict]:
    with pytest.raises(PolyApiException) as info:
        fn()
    msg = info.value.error_msg
    assert isinstance(msg, dict), msg
    return info.value.status_code, msg


def admin_faults(sim, body: dict) -> dict:
    r = httpx.post(sim.url + "/admin/faults", json=body)
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------ API keys


def test_creating_an_existing_key_is_400_and_derive_returns_it(sim):
    raw = ClobClient(sim.url, chain_id=137, key=KEY4)
    first = raw.create_api_key(nonce=2)
    assert failure(lambda: raw.create_api_key(nonce=2)) == (400, {"error": "Could not create api key"})
    again = raw.derive_api_key(nonce=2)
    assert (again.api_key, again.api_secret, again.api_passphrase) == (
        first.api_key,
        first.api_secret,
        first.api_passphrase,
    )
    assert raw.create_or_derive_api_key(nonce=2).api_key == first.api_key  # the client's fallback
    assert failure(lambda: raw.derive_api_key(nonce=9)) == (400, {"error": "Could not derive api key!"})


def test_a_deleted_key_stays_revoked(sim):
    raw = ClobClient(sim.url, chain_id=137, key=KEY4)
    creds = raw.create_api_key(nonce=3)
    c = ClobClient(sim.url, chain_id=137, key=KEY4, creds=creds)
    assert c.get_open_orders() == []
    ws = user_ws(sim.ws_url, c)
    assert c.delete_api_key() == "OK"
    assert failure(c.get_open_orders)[0] == 401
    assert ws.closed.wait(5), "the revoked key's user channel stays open"
    assert failure(lambda: raw.derive_api_key(nonce=3)) == (400, {"error": "Could not derive api key!"})
    assert failure(lambda: raw.create_api_key(nonce=3)) == (400, {"error": "Could not create api key"})
    fresh = raw.create_api_key(nonce=4)  # another nonce issues a new, working key
    assert fresh.api_key != creds.api_key
    assert ClobClient(sim.url, chain_id=137, key=KEY4, creds=fresh).get_open_orders() == []


# ------------------------------------------------------------------ engine restarts


def test_engine_restart_is_425_then_post_only(sim):
    c = client(sim.url, KEY0)
    resting = c.create_and_post_order(buy(BTC_YES, 0.30, 10))["orderID"]
    answer = admin_faults(sim, {"engineRestart": {"unavailableSeconds": 90, "postOnlySeconds": 120}})
    assert answer["engineRestart"] == {"unavailableSeconds": 90, "postOnlySeconds": 120}

    status, body = failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.31, 10)))
    assert status == 425 and body == {"error": "Too Early"}
    assert failure(lambda: c.cancel_orders([resting]))[0] == 425
    assert failure(c.cancel_all)[0] == 425
    assert [o["id"] for o in c.get_open_orders()] == [resting]  # reads keep working; orders survive

    sim.advance(90)  # post-only window
    status, body = failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.31, 10)))
    assert status == 503 and body["code"] == "post_only_mode" and 0 < body["retry_after_seconds"] <= 120
    assert body["error"] == "post-only mode: only post-only orders and cancels are allowed"
    placed = c.create_and_post_order(buy(BTC_YES, 0.32, 10), post_only=True)
    assert placed["success"] is True and placed["status"] == "live"
    batch = c.post_orders(
        [
            PostOrdersV2Args(order=c.create_order(buy(BTC_YES, 0.33, 10)), orderType=OrderType.GTC),
        ]
    )
    assert batch[0]["success"] is False and batch[0]["errorMsg"].startswith("post-only mode")
    assert c.cancel_orders([resting])["canceled"] == [resting]  # cancels are allowed

    sim.advance(120)  # back to normal
    assert c.create_and_post_order(buy(BTC_YES, 0.31, 10))["success"] is True
    assert sim.admin_state(0)["engineRestart"]["phase"] == "normal"


def test_weekly_restart_from_the_config():
    tuesday_noon = calendar.timegm((2026, 12, 1, 12, 0, 0))  # 2026-12-01 is a Tuesday
    cfg = quiet_config(
        settings={
            "engineRestartSchedule": {
                "weekday": "tuesday",
                "timeUtc": "12:00",
                "unavailableSeconds": 60,
                "postOnlySeconds": 60,
            }
        }
    )
    with start_sim(cfg, clock=ManualClock(tuesday_noon - 5), flow=False) as sim:
        c = client(sim.url, KEY0)
        assert c.create_and_post_order(buy(BTC_YES, 0.30, 10))["success"] is True
        sim.advance(10)
        assert failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.31, 10)))[0] == 425
        sim.advance(60)
        assert failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.31, 10)))[0] == 503
        sim.advance(60)
        assert c.create_and_post_order(buy(BTC_YES, 0.31, 10))["success"] is True
        sim.advance(7 * 86400 - 120)  # a week later, the same window again
        assert failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.32, 10)))[0] == 425


def test_restart_fault_rejects_bad_values(sim):
    r = httpx.post(sim.url + "/admin/faults", json={"engineRestart": {"unavailableSeconds": -1}})
    assert r.status_code == 400 and "engineRestart.unavailableSeconds" in r.json()["error"]


# ------------------------------------------------------------------ cancel batches


def test_cancel_batch_takes_up_to_1000_ids(sim):
    c = client(sim.url, KEY0)
    mine = c.create_and_post_order(buy(BTC_YES, 0.30, 10))["orderID"]
    ids = [mine] + [f"0x{i:064x}" for i in range(999)]
    result = c.cancel_orders(ids)
    assert result["canceled"] == [mine] and len(result["not_canceled"]) == 999
    status, body = failure(lambda: c.cancel_orders([f"0x{i:064x}" for i in range(1001)]))
    assert status == 400 and body == {"error": "Too many orders in payload, max allowed: 1000"}


# ------------------------------------------------------------------ tick sizes


def test_real_tick_size_change(sim):
    c = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES])
    admin_faults(sim, {"tickSizeChange": {"conditionId": BTC, "tickSize": "0.001"}})
    change = ws.wait(lambda ev: [e for e in ev if e.get("event_type") == "tick_size_change"])[0]
    assert (change["asset_id"], change["old_tick_size"], change["new_tick_size"]) == (BTC_YES, "0.01", "0.001")
    assert c.get_tick_size(BTC_YES) == "0.001"  # first lookup by this client: no stale cache
    assert c.get_clob_market_info(BTC)["mts"] == 0.001
    assert c.get_order_book(BTC_YES)["tick_size"] == "0.001"
    assert c.create_and_post_order(buy(BTC_YES, 0.405, 10))["success"] is True  # on the new grid

    # Coarser again: the client's cached 0.001 signs a price that is now off the grid.
    admin_faults(sim, {"tickSizeChange": {"conditionId": BTC, "tickSize": "0.01"}})
    status, body = failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.415, 10)))
    assert status == 400 and body["error"].endswith("breaks minimum tick size rule: 0.01")
    ws.close()


def test_false_tick_size_change_changes_nothing(sim):
    c = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES])
    admin_faults(sim, {"falseTickSizeChange": {"conditionId": BTC, "tickSize": "0.001"}})
    change = ws.wait(lambda ev: [e for e in ev if e.get("event_type") == "tick_size_change"])[0]
    assert change["new_tick_size"] == "0.001"
    fresh = client(sim.url, KEY0)
    assert fresh.get_tick_size(BTC_YES) == "0.01"
    assert fresh.get_clob_market_info(BTC)["mts"] == 0.01
    assert "tickSizeChange" not in sim.admin_state(0)["faults"]  # an action, not a standing switch
    # A client that believed the message and signed on the finer grid is refused.
    order = c.builder.build_order(buy(BTC_YES, 0.405, 10), CreateOrderOptions(tick_size="0.001", neg_risk=False))
    status, body = failure(lambda: c.post_order(order))
    assert status == 400 and "breaks minimum tick size rule: 0.01" in body["error"]
    ws.close()


# ------------------------------------------------------------------ markets that stop


def test_market_that_resolves_mid_run(sim):
    c = client(sim.url, KEY0)
    ids = [c.create_and_post_order(buy(BTC_YES, p, 10))["orderID"] for p in (0.30, 0.31)]
    uws = user_ws(sim.ws_url, c)
    custom = market_ws(sim.ws_url, [BTC_YES], custom_feature_enabled=True)
    plain = market_ws(sim.ws_url, [BTC_YES])
    r = httpx.post(sim.url + "/admin/market", json={"conditionId": BTC, "status": "resolved", "winner": "yes"})
    assert r.status_code == 200
    cancels = uws.wait(lambda ev: (got := [e for e in ev if e.get("type") == "CANCELLATION"]) and len(got) == 2 and got)
    assert sorted(e["id"] for e in cancels) == sorted(ids)
    resolved = custom.wait(lambda ev: [e for e in ev if e.get("event_type") == "market_resolved"])[0]
    assert resolved["winning_asset_id"] == BTC_YES
    plain.sync()
    assert not plain.of("market_resolved")  # only for custom_feature_enabled subscribers
    assert c.get_clob_market_info(BTC)["ao"] is False
    assert c.get_market(BTC)["accepting_orders"] is False
    assert c.get_open_orders() == []
    status, body = failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.30, 10)))
    assert status == 400 and body["error"] == "market is closed: new orders are not accepted"
    for w in (uws, custom, plain):
        w.close()


# ------------------------------------------------------------------ Exchange V3 markets


def v3_buy(position: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(position_id=position, price=price, size=size, side="BUY")


def test_v3_market_info(sim):
    c = client(sim.url, KEY0)
    assert c.get_tick_size(V3_YES) == "0.01"
    info = c.get_market(V3)
    assert info["version"] == "v2" and info["positionIds"] == [V3_YES, V3_NO]
    assert info["end_date_iso"] == "2027-01-28T19:00:00Z"
    assert c.get_market(BTC)["version"] == "v1" and "positionIds" not in c.get_market(BTC)
    assert sim.admin_state(0, market=V3)["markets"][V3]["exchange"] == "v3"


def test_v3_orders_are_signed_for_exchange_v3_and_match(sim):
    maker = client(sim.url, KEY0)
    resting = maker.create_and_post_order(OrderArgsV2(position_id=V3_YES, price=0.6, size=10, side="SELL"))
    assert resting["success"] is True and resting["status"] == "live"
    # The same order signed for the V2 domain is refused, as is a V3 signature on a CTF token.
    status, body = failure(lambda: maker.create_and_post_order(buy(V3_YES, 0.4, 10)))
    assert (status, body["error"]) == (400, "invalid signature")
    status, body = failure(lambda: maker.create_and_post_order(v3_buy(BTC_YES, 0.4, 10)))
    assert (status, body["error"]) == (400, "invalid signature")

    sim.fund(ADDR4, 100)
    taker = client(sim.url, KEY4)
    filled = taker.create_and_post_order(v3_buy(V3_YES, 0.6, 10))
    assert filled["status"] == "matched" and filled["tradeIDs"]

    def balance(c: ClobClient, asset_type: str, token: str) -> str:
        return c.get_balance_allowance(BalanceAllowanceParams(asset_type=asset_type, token_id=token))["balance"]

    assert balance(taker, "CONDITIONAL-V2", V3_YES) == "10000000"  # PositionManager ledger
    assert balance(taker, AssetType.CONDITIONAL, V3_YES) == "0"  # nothing in the CTF ledger
    assert balance(maker, "CONDITIONAL-V2", V3_YES) == "90000000"
    assert balance(maker, "CONDITIONAL-V2", BTC_YES) == "0"
    v3_exchange = get_contract_config(137).exchange_v3
    allowances = taker.get_balance_allowance(BalanceAllowanceParams(asset_type="CONDITIONAL-V2", token_id=V3_YES))[
        "allowances"
    ]
    assert list(allowances) == [v3_exchange]
    trade = taker.get_trades()[0]
    assert trade["asset_id"] == V3_YES and trade["maker_orders"][0]["order_id"] == resting["orderID"]
    assert ADDR0.lower() in sim.admin_state(0, market=V3)["balances"]


def test_v3_market_order_walks_the_book(sim):
    maker = client(sim.url, KEY0)
    maker.create_and_post_order(OrderArgsV2(position_id=V3_YES, price=0.55, size=20, side="SELL"))
    sim.fund(ADDR4, 100)
    taker = client(sim.url, KEY4)
    # No price given: the client reads /markets-by-token, /clob-markets and /book for the position id.
    result = taker.create_and_post_market_order(
        MarketOrderArgsV2(position_id=V3_YES, amount=5.5, side="BUY", order_type=OrderType.FOK)
    )
    assert result["status"] == "matched" and result["takingAmount"] == "10"
    bal = taker.get_balance_allowance(BalanceAllowanceParams(asset_type="CONDITIONAL-V2", token_id=V3_YES))
    assert bal["balance"] == "10000000"


# ------------------------------------------------------------------ trade history pagination


def test_trade_history_pages_with_production_cursors():
    with start_sim(quiet_config(settings={"pageSize": 2}), clock="manual", flow=False) as sim:
        sim.fund(ADDR4, 1000, {BTC_YES: 100})
        a, b = client(sim.url, KEY0), client(sim.url, KEY4)
        ids = []
        for _ in range(5):
            b.create_and_post_order(OrderArgsV2(token_id=BTC_YES, price=0.5, size=5, side="SELL"))
            ids += a.create_and_post_order(buy(BTC_YES, 0.5, 5))["tradeIDs"]
        pages, cursor = [], None
        while cursor != "LTE=":
            page = a.get_trades_paginated(next_cursor=cursor)
            pages.append(([t["id"] for t in page["trades"]], page["next_cursor"], page["count"]))
            cursor = page["next_cursor"]
        newest_first = ids[::-1]
        assert pages == [
            (newest_first[0:2], "Mg==", 2),
            (newest_first[2:4], "NA==", 2),
            (newest_first[4:], "LTE=", 1),
        ]
        assert [t["id"] for t in a.get_trades()] == newest_first  # the client's own loop ends on LTE=
        assert a.get_trades_paginated(next_cursor="LTE=")["trades"] == []


def test_handle_shortcuts_for_restarts_and_ticks(sim):
    c = client(sim.url, KEY0)
    sim.change_tick_size(BTC, "0.001")
    assert client(sim.url, KEY0).get_tick_size(BTC_YES) == "0.001"
    sim.change_tick_size(BTC, "0.0001", real=False)
    assert client(sim.url, KEY0).get_tick_size(BTC_YES) == "0.001"
    sim.restart_engine(30, 30)
    assert failure(lambda: c.create_and_post_order(buy(BTC_YES, 0.3, 10)))[0] == 425
    sim.advance(60)
    assert c.create_and_post_order(buy(BTC_YES, 0.3, 10))["success"] is True
