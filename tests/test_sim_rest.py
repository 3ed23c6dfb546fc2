"""The emulator's REST surface driven by the unmodified py-clob-client-v2 over real sockets."""

from __future__ import annotations

import dataclasses
import json
import time

import httpx
import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    CreateOrderOptions,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderScoringParams,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.utilities import generate_orderbook_summary_hash, parse_raw_orderbook_summary
from sim_helpers import (
    ADDR0,
    ADDR1,
    ADDR2,
    ADDR3,
    ADDR4,
    BTC,
    BTC_NO,
    BTC_YES,
    DEPOSIT3,
    KEY0,
    KEY1,
    KEY2,
    KEY3,
    KEY4,
    NEGR_YES,
    PROXY1,
    RAIN_YES,
    SAFE2,
    client,
    quiet_config,
)

from controller.sim import start_sim


@pytest.fixture(scope="module")
def sim():
    with start_sim(quiet_config(), clock="manual", flow=False) as handle:
        yield handle


@pytest.fixture
def c0(sim):
    c = client(sim.url, KEY0)
    c.cancel_all()
    sim.fund(ADDR0, 10000, {BTC_YES: 1000, BTC_NO: 1000})
    return c


def buy(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="BUY")


def sell(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="SELL")


def rejected(fn, status: int = 400) -> str:
    with pytest.raises(PolyApiException) as info:
        fn()
    assert info.value.status_code == status, info.value.error_msg
    msg = info.value.error_msg
    assert isinstance(msg, dict) and isinstance(msg.get("error"), str), msg
    return msg["error"]


# ------------------------------------------------------------------ public data


def test_public_market_data(sim, c0):
    assert c0.get_ok() == "OK"
    assert isinstance(c0.get_server_time(), int)
    assert c0.get_version() == 2
    assert c0.get_tick_size(BTC_YES) == "0.01"
    assert c0.get_tick_size(RAIN_YES) == "0.001"
    assert c0.get_neg_risk(NEGR_YES) is True
    assert c0.get_neg_risk(BTC_YES) is False
    info = c0.get_clob_market_info(BTC)
    assert [t["t"] for t in info["t"]] == [BTC_YES, BTC_NO]
    assert c0.get_market(BTC)["condition_id"] == BTC
    c0.create_and_post_order(buy(BTC_YES, 0.40, 10))
    c0.create_and_post_order(sell(BTC_YES, 0.60, 10))
    book = c0.get_order_book(BTC_YES)
    assert book["bids"] == [{"price": "0.4", "size": "10"}]
    assert book["asks"] == [{"price": "0.6", "size": "10"}]
    summary = parse_raw_orderbook_summary(book)
    assert generate_orderbook_summary_hash(summary) == book["hash"]
    no_book = c0.get_order_book(BTC_NO)  # mirror view
    assert no_book["bids"] == [{"price": "0.4", "size": "10"}]
    assert no_book["asks"] == [{"price": "0.6", "size": "10"}]
    assert c0.get_midpoint(BTC_YES)["mid"] == "0.5"
    assert c0.get_price(BTC_YES, "BUY") == {"price": "0.4"}  # live semantics: BUY -> best bid
    assert c0.get_spread(BTC_YES) == {"spread": "0.2"}
    books = c0.get_order_books([BookParams(token_id=BTC_YES), BookParams(token_id=BTC_NO)])
    assert [b["asset_id"] for b in books] == [BTC_YES, BTC_NO]
    assert c0.get_midpoints([BookParams(token_id=BTC_YES)]) == {BTC_YES: "0.5"}
    assert c0.get_last_trade_price(BTC_YES)["side"] == ""


def test_book_best_level_last(sim, c0):
    for p in (0.30, 0.35, 0.32):
        c0.create_and_post_order(buy(BTC_YES, p, 5))
    for p in (0.70, 0.65, 0.68):
        c0.create_and_post_order(sell(BTC_YES, p, 5))
    book = c0.get_order_book(BTC_YES)
    assert [b["price"] for b in book["bids"]] == ["0.3", "0.32", "0.35"]
    assert [a["price"] for a in book["asks"]] == ["0.7", "0.68", "0.65"]


def test_unknown_token_and_route(sim, c0):
    assert rejected(lambda: c0.get_order_book("123"), 404) == "No orderbook exists for the requested token id"
    r = httpx.get(sim.url + "/nope")
    assert r.status_code == 404 and r.json() == {"error": "not found"}
    r = httpx.get(sim.url + "/book", params={"token_id": "abc"})
    assert r.status_code == 400 and r.json() == {"error": "Invalid token id"}


# ------------------------------------------------------------------ auth


def test_api_keys_are_deterministic(sim):
    a = client(sim.url, KEY0).creds
    b = ClobClient(sim.url, chain_id=137, key=KEY0).derive_api_key()
    assert (a.api_key, a.api_secret, a.api_passphrase) == (b.api_key, b.api_secret, b.api_passphrase)
    other = ClobClient(sim.url, chain_id=137, key=KEY0).create_api_key(nonce=7)
    assert other.api_key != a.api_key


def test_unconfigured_address_can_derive_but_has_no_money(sim):
    fresh = "0x8b3392483ba26d65e331db86d4f430e9b3814e5e6e9d6a2df2e9ab1d6f5c0f0a"
    c = client(sim.url, fresh)
    assert c.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))["balance"] == "0"
    assert rejected(lambda: c.create_and_post_order(buy(BTC_YES, 0.4, 10))) == "not enough balance / allowance"


def test_l1_with_bad_signature_is_401(sim):
    r = httpx.get(
        sim.url + "/auth/derive-api-key",
        headers={
            "POLY_ADDRESS": ADDR0,
            "POLY_SIGNATURE": "0x" + "11" * 65,
            "POLY_TIMESTAMP": str(int(time.time())),
            "POLY_NONCE": "0",
        },
    )
    assert r.status_code == 401 and r.json() == {"error": "Invalid L1 Request headers"}


def test_wrong_private_key_is_401(sim, c0):
    # A client holding someone else's creds with its own key: the HMAC/address check fails.
    wrong = ClobClient(sim.url, chain_id=137, key=KEY1, creds=c0.creds)
    assert rejected(lambda: wrong.get_open_orders(), 401) == "Unauthorized/Invalid api key"
    assert rejected(lambda: wrong.create_and_post_order(buy(BTC_YES, 0.4, 10)), 401)


def test_wrong_secret_and_stale_timestamp_are_401(sim, c0):
    bad = ApiCreds(c0.creds.api_key, "A" * 43 + "=", c0.creds.api_passphrase)
    assert rejected(lambda: ClobClient(sim.url, chain_id=137, key=KEY0, creds=bad).cancel_all(), 401)
    bad_pass = ApiCreds(c0.creds.api_key, c0.creds.api_secret, "nope")
    assert rejected(lambda: ClobClient(sim.url, chain_id=137, key=KEY0, creds=bad_pass).cancel_all(), 401)
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers

    headers = create_level_2_headers(
        c0.signer, c0.creds, RequestArgs("GET", "/data/orders"), timestamp=int(time.time()) - 3600
    )
    r = httpx.get(sim.url + "/data/orders", headers=headers)
    assert r.status_code == 401


def test_tampered_signature_and_order(sim, c0):
    order = c0.create_order(buy(BTC_YES, 0.4, 10))
    sig = order.signature
    order.signature = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    assert rejected(lambda: c0.post_order(order)) == "invalid signature"
    order = c0.create_order(buy(BTC_YES, 0.4, 10))
    order.makerAmount = str(int(order.makerAmount) - 1000000)  # cheaper than signed
    assert rejected(lambda: c0.post_order(order)) == "invalid signature"


def test_order_signed_by_other_key_is_rejected(sim, c0):
    other = ClobClient(sim.url, chain_id=137, key=KEY2)
    order = other.create_order(buy(BTC_YES, 0.4, 10), PartialCreateOrderOptions(tick_size="0.01", neg_risk=False))
    assert rejected(lambda: c0.post_order(order)) == "the order signer address has to be the address of the API KEY"


def test_wrong_exchange_domain_is_rejected(sim, c0):
    order = c0.create_order(buy(BTC_YES, 0.4, 10), PartialCreateOrderOptions(neg_risk=True))
    assert rejected(lambda: c0.post_order(order)) == "invalid signature"


# ------------------------------------------------------------------ order rules


def test_market_rule_rejections(sim, c0):
    # Off-tick: sign 0.405 with a 0.001 tick on a 0.01 market (the client alone would refuse).
    off = c0.builder.build_order(buy(BTC_YES, 0.405, 10), CreateOrderOptions(tick_size="0.001", neg_risk=False))
    msg = rejected(lambda: c0.post_order(off))
    assert "breaks minimum tick size rule: 0.01" in msg and msg.startswith("order 0x")
    msg = rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.4, 4)))
    assert "Size (4) lower than the minimum: 5" in msg
    assert rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.4, 100000))) == "not enough balance / allowance"
    assert rejected(lambda: c0.create_and_post_order(sell(RAIN_YES, 0.9, 5000))) == "not enough balance / allowance"
    c0.create_and_post_order(sell(BTC_YES, 0.55, 10))
    assert rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.56, 10), post_only=True)) == (
        "invalid post-only order: order crosses book"
    )
    assert c0.create_and_post_order(buy(BTC_YES, 0.54, 10), post_only=True)["status"] == "live"
    order = c0.create_order(buy(BTC_YES, 0.4, 10))
    c0.post_order(order)
    assert "Duplicated" in rejected(lambda: c0.post_order(order))


def test_open_orders_lock_funds(sim, c0):
    sim.fund(ADDR0, 10)
    c0.create_and_post_order(buy(BTC_YES, 0.5, 10))  # locks 5
    assert rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.5, 12))) == "not enough balance / allowance"
    c0.create_and_post_order(buy(BTC_YES, 0.5, 10))  # the other 5
    c0.cancel_all()
    c0.create_and_post_order(buy(BTC_YES, 0.5, 20))


def test_gtd_expiry_follows_emulator_clock(sim, c0):
    now = int(sim.clock.now())
    assert (
        rejected(
            lambda: c0.create_and_post_order(
                OrderArgsV2(token_id=BTC_YES, price=0.4, size=10, side="BUY", expiration=now + 30),
                order_type=OrderType.GTD,
            )
        )
        == "invalid expiration"
    )
    r = c0.create_and_post_order(
        OrderArgsV2(token_id=BTC_YES, price=0.4, size=10, side="BUY", expiration=now + 60 + 30),
        order_type=OrderType.GTD,
    )
    assert r["status"] == "live"
    sim.advance(29)
    assert len(c0.get_open_orders()) == 1
    sim.advance(2)
    assert c0.get_open_orders() == []
    assert c0.get_order(r["orderID"])["status"] == "CANCELED"


def test_fok_fak_and_market_orders(sim, c0):
    c0.create_and_post_order(sell(BTC_YES, 0.51, 10))
    c0.create_and_post_order(sell(BTC_YES, 0.52, 10))
    assert rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.52, 30), order_type=OrderType.FOK)) == (
        "order couldn't be fully filled. FOK orders are fully filled or killed."
    )
    assert rejected(lambda: c0.create_and_post_order(buy(BTC_YES, 0.50, 30), order_type=OrderType.FAK)).startswith(
        "no orders found to match with FAK order"
    )
    sim.fund(ADDR4, 1000)
    taker = client(sim.url, KEY4)
    taker.cancel_all()
    r = taker.create_and_post_market_order(MarketOrderArgsV2(token_id=BTC_YES, amount=5.1, side="BUY"))
    assert r["status"] == "matched" and r["tradeIDs"] and r["transactionsHashes"]
    # The client rounds $5.1 down to 5.09 (float) and signs 9.9803 shares at 0.51.
    assert r["takingAmount"] == "9.9803" and r["makingAmount"] == "5.089953"
    r = taker.create_and_post_order(buy(BTC_YES, 0.53, 15), order_type=OrderType.FAK)
    assert r["status"] == "matched" and r["takingAmount"] == "10.0197"
    assert taker.get_open_orders() == []  # FAK remainder cancelled, never rests


def test_batch_post_and_limit(sim, c0):
    args = [
        PostOrdersV2Args(order=c0.create_order(buy(BTC_YES, 0.10 + i / 100, 5)), orderType=OrderType.GTC)
        for i in range(3)
    ]
    args.append(PostOrdersV2Args(order=c0.create_order(buy(BTC_YES, 0.2, 1)), orderType=OrderType.GTC))
    res = c0.post_orders(args)
    assert [r["success"] for r in res] == [True, True, True, False]
    assert "lower than the minimum" in res[3]["errorMsg"] and res[3]["orderID"].startswith("0x")
    too_many = [
        PostOrdersV2Args(order=c0.create_order(buy(BTC_YES, 0.2, 5)), orderType=OrderType.GTC) for _ in range(16)
    ]
    assert rejected(lambda: c0.post_orders(too_many)) == "Too many orders in payload: 16, max allowed: 15"


def test_pagination_over_100_orders(sim, c0):
    sim.fund(ADDR0, 100000)
    ids = []
    for batch in range(8):
        args = [
            PostOrdersV2Args(
                order=c0.create_order(buy(BTC_YES, 0.01 + ((batch * 15 + i) % 40) / 100, 5)), orderType=OrderType.GTC
            )
            for i in range(15)
        ]
        ids += [r["orderID"] for r in c0.post_orders(args)]
    assert len(set(ids)) == 120
    orders = c0.get_open_orders()
    assert [o["id"] for o in orders] == ids  # every page, in creation order, once
    assert sim.admin_state()["requests"]["GET /data/orders"] >= 2
    first = c0.get_open_orders(only_first_page=True)
    assert len(first) == 100
    one = c0.get_open_orders(OpenOrderParams(id=ids[5]))
    assert [o["id"] for o in one] == [ids[5]]
    assert set(one[0]) >= {
        "id",
        "status",
        "owner",
        "maker_address",
        "market",
        "asset_id",
        "side",
        "original_size",
        "size_matched",
        "price",
        "outcome",
        "expiration",
        "order_type",
        "created_at",
    }


def test_cancel_variants(sim, c0):
    rs = [c0.create_and_post_order(buy(tok, 0.2, 5)) for tok in (BTC_YES, BTC_YES, BTC_NO, RAIN_YES, RAIN_YES)]
    ids = [r["orderID"] for r in rs]
    assert c0.cancel_order(OrderPayload(orderID=ids[0])) == {"canceled": [ids[0]], "not_canceled": {}}
    again = c0.cancel_order(OrderPayload(orderID=ids[0]))
    assert again == {"canceled": [], "not_canceled": {ids[0]: "Order not found or already canceled"}}
    res = c0.cancel_orders([ids[1], "0x" + "00" * 32])
    assert res["canceled"] == [ids[1]] and list(res["not_canceled"]) == ["0x" + "00" * 32]
    res = c0.cancel_market_orders(OrderMarketCancelParams(market=BTC))
    assert res["canceled"] == [ids[2]]
    res = c0.cancel_market_orders(OrderMarketCancelParams(asset_id=RAIN_YES))
    assert sorted(res["canceled"]) == sorted(ids[3:])
    c0.create_and_post_order(buy(BTC_YES, 0.2, 5))
    assert len(c0.cancel_all()["canceled"]) == 1
    assert c0.cancel_all() == {"canceled": [], "not_canceled": {}}
    # Someone else cannot cancel my orders.
    mine = c0.create_and_post_order(buy(BTC_YES, 0.2, 5))["orderID"]
    other = client(sim.url, KEY2)
    assert other.cancel_orders([mine])["canceled"] == []


def test_get_order_and_trades(sim, c0):
    maker = c0.create_and_post_order(sell(BTC_YES, 0.45, 10))["orderID"]
    sim.fund(ADDR4, 1000)
    taker = client(sim.url, KEY4)
    r = taker.create_and_post_order(buy(BTC_YES, 0.45, 6))
    o = c0.get_order(maker)
    assert o["size_matched"] == "6" and o["status"] == "LIVE" and o["associate_trades"] == r["tradeIDs"]
    trades = c0.get_trades(TradeParams(id=r["tradeIDs"][0]))
    assert len(trades) == 1 and trades[0]["trader_side"] == "MAKER"
    assert trades[0]["status"] == "TRADE_STATUS_CONFIRMED" and trades[0]["transaction_hash"].startswith("0x")
    taker_view = taker.get_trades(TradeParams(id=r["tradeIDs"][0]))[0]
    assert taker_view["trader_side"] == "TAKER" and taker_view["maker_orders"][0]["order_id"] == maker
    assert rejected(lambda: c0.get_order("0x" + "12" * 32), 404) == "Order not found"


def test_balance_allowance(sim, c0):
    col = c0.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    assert col["balance"] == "10000000000" and len(col["allowances"]) >= 2
    tok = c0.update_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=BTC_YES))
    assert tok["balance"] == "1000000000"


def test_heartbeat_chain_and_dead_mans_switch(sim, c0):
    c0.create_and_post_order(buy(BTC_YES, 0.2, 5))
    hb = c0.post_heartbeat("")["heartbeat_id"]
    hb = c0.post_heartbeat(hb)["heartbeat_id"]
    with pytest.raises(PolyApiException) as info:
        c0.post_heartbeat("not-the-id")
    assert info.value.status_code == 400
    assert info.value.error_msg == {
        "error": "Invalid Heartbeat ID",
        "error_msg": "Invalid Heartbeat ID",
        "heartbeat_id": hb,
    }
    sim.advance(9)
    hb = c0.post_heartbeat(hb)["heartbeat_id"]
    sim.advance(9)
    assert len(c0.get_open_orders()) == 1
    sim.advance(1.5)
    assert c0.get_open_orders() == []
    assert c0.post_heartbeat("")["heartbeat_id"]  # a new session may start


def test_order_scoring(sim, c0):
    c0.create_and_post_order(buy(BTC_YES, 0.49, 30))
    c0.create_and_post_order(sell(BTC_YES, 0.51, 30))
    near = c0.create_and_post_order(buy(BTC_YES, 0.48, 30))["orderID"]
    far = c0.create_and_post_order(buy(BTC_YES, 0.30, 30))["orderID"]
    assert c0.is_order_scoring(OrderScoringParams(orderId=near)) == {"scoring": True}
    assert c0.is_order_scoring(OrderScoringParams(orderId=far)) == {"scoring": False}


# ------------------------------------------------------------------ wallets


def test_signature_types_1_2_3(sim):
    for key, eoa, funder, sig_type in ((KEY1, ADDR1, PROXY1, 1), (KEY2, ADDR2, SAFE2, 2), (KEY3, ADDR3, DEPOSIT3, 3)):
        c = client(sim.url, key, signature_type=sig_type, funder=funder)
        c.cancel_all()
        r = c.create_and_post_order(buy(BTC_YES, 0.2, 5))
        assert r["status"] == "live", (sig_type, r)
        o = c.get_order(r["orderID"])
        assert o["maker_address"].lower() == funder
        bal = c.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        assert bal["balance"] == "1000000000"
        owners = {o["id"]: o["owner"] for o in sim.admin_state()["orders"]}
        assert owners[r["orderID"]].lower() == funder
        # As a plain EOA the same key has no configured wallet behind it: rejected.
        eoa_client = ClobClient(sim.url, chain_id=137, key=key, creds=c.creds)
        assert rejected(lambda c=eoa_client: c.create_and_post_order(buy(BTC_YES, 0.2, 5))) == "invalid signature"
        assert eoa.lower() != funder


def test_deposit_wallet_tampered_envelope(sim):
    c = client(sim.url, KEY3, signature_type=3, funder=DEPOSIT3)
    order = c.create_order(buy(BTC_YES, 0.2, 5))
    sig = order.signature
    order.signature = sig[:140] + ("0" if sig[140] != "0" else "1") + sig[141:]  # inside the app domain
    assert rejected(lambda: c.post_order(order)) == "invalid signature"


def test_neg_risk_market_orders(sim, c0):
    r = c0.create_and_post_order(sell(NEGR_YES, 0.6, 10))
    assert r["status"] == "live"


# ------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"order": 5}',
        '{"order": {}}',
        "[" * 5000 + "]" * 5000,
        '{"order": {"salt": "x", "maker": 1}}',
        json.dumps({"order": {"salt": 1}, "owner": None}),
    ],
)
def test_malformed_order_bodies_get_400(sim, c0, body):
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers

    headers = create_level_2_headers(c0.signer, c0.creds, RequestArgs("POST", "/order", serialized_body=body))
    r = httpx.post(sim.url + "/order", headers=headers, content=body.encode())
    assert r.status_code in (400, 401) and "error" in r.json()
    assert r.status_code == 400 or body == ""


def test_fuzzed_order_fields_never_500(sim, c0):
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers
    from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

    base = order_to_json_v2(c0.create_order(buy(BTC_YES, 0.3, 5)), c0.creds.api_key, "GTC")
    http = httpx.Client()  # one connection: a fresh httpx client per call costs ~30 ms of TLS setup
    weird = [None, True, -1, 2**300, "", "0x", "0xzz", [], {}, "1e5", 1.5, "9" * 100]
    for field in base["order"]:
        for value in weird:
            payload = json.loads(json.dumps(base))
            payload["order"][field] = value
            body = json.dumps(payload, separators=(",", ":"))
            headers = create_level_2_headers(c0.signer, c0.creds, RequestArgs("POST", "/order", serialized_body=body))
            r = http.post(sim.url + "/order", headers=headers, content=body.encode())
            assert r.status_code == 400, (field, value, r.text)
    r = httpx.post(sim.url + "/order", content=b"x" * (2 << 20))
    assert r.status_code == 400 and r.json() == {"error": "Payload exceeds the limit"}
    assert httpx.get(sim.url + "/ok").status_code == 200


def test_v1_order_gets_version_mismatch(sim, c0):
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers
    from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

    payload = order_to_json_v2(c0.create_order(buy(BTC_YES, 0.3, 5)), c0.creds.api_key, "GTC")
    del payload["order"]["timestamp"]
    payload["order"]["nonce"] = "0"
    body = json.dumps(payload, separators=(",", ":"))
    headers = create_level_2_headers(c0.signer, c0.creds, RequestArgs("POST", "/order", serialized_body=body))
    r = httpx.post(sim.url + "/order", headers=headers, content=body.encode())
    assert r.status_code == 400 and r.json() == {"error": "order_version_mismatch"}


# ------------------------------------------------------------------ admin, rate limits, faults


def test_admin_state_shape(sim, c0):
    r = c0.create_and_post_order(buy(BTC_YES, 0.3, 5))
    state = httpx.get(sim.url + "/admin/state").json()
    assert set(state) >= {"markets", "orders", "balances", "trades", "requests"}
    mine = next(o for o in state["orders"] if o["id"] == r["orderID"])
    assert mine == {
        **mine,
        "owner": ADDR0,
        "tokenId": BTC_YES,
        "side": "BUY",
        "price": "0.3",
        "size": "5",
        "sizeMatched": "0",
    }
    assert state["markets"][BTC]["books"][BTC_YES]["bids"]
    assert state["balances"][ADDR0.lower()]["collateral"] == "10000"
    assert state["requests"]["POST /order"] >= 1
    assert state["errors"]["POST /order 400"] >= 1  # earlier tests' rejections, by endpoint and status


def test_admin_fund_and_fair_value_endpoints(sim):
    r = httpx.post(
        sim.url + "/admin/fund",
        json={"address": ADDR2.upper().replace("0X", "0x"), "collateral": "77.5", "tokens": {BTC_YES: 3}},
    )
    assert r.status_code == 200 and r.json()["collateral"] == "77.5"
    assert sim.admin_state()["balances"][ADDR2.lower()]["tokens"][BTC_YES] == "3"
    r = httpx.post(sim.url + "/admin/fund", json={"address": "nope", "collateral": 1})
    assert r.status_code == 400
    r = httpx.post(sim.url + "/admin/fair-value", json={"conditionId": BTC, "value": "0.62"})
    assert r.status_code == 200 and sim.fair_value(BTC) == pytest.approx(0.62)
    assert httpx.post(sim.url + "/admin/fair-value", json={"conditionId": BTC, "value": 2}).status_code == 400
    assert httpx.post(sim.url + "/admin/faults", json={"error5xxFraction": 3}).status_code == 400
    assert httpx.post(sim.url + "/admin/faults", content=b"{bad").status_code == 400


def test_rate_limit_buckets():
    cfg = quiet_config(
        rateLimits={"enabled": True, "orders": {"rate": 0.001, "burst": 20}, "cancels": {"rate": 0.001, "burst": 3}}
    )
    with start_sim(cfg, clock="manual", flow=False) as sim:
        c = client(sim.url, KEY0)
        orders = [c.create_order(buy(BTC_YES, 0.2, 5)) for _ in range(21)]
        res = c.post_orders([PostOrdersV2Args(order=o, orderType=OrderType.GTC) for o in orders[:15]])
        assert all(r["success"] for r in res)
        # 5 left: a batch of 6 is rejected whole, nothing placed.
        with pytest.raises(PolyApiException) as info:
            c.post_orders([PostOrdersV2Args(order=o, orderType=OrderType.GTC) for o in orders[15:21]])
        assert info.value.status_code == 429 and info.value.error_msg == {"error": "Too Many Requests"}
        assert len(sim.admin_state()["orders"]) == 15
        body = json.dumps({"orderID": "0x" + "00" * 32}, separators=(",", ":"))
        from py_clob_client_v2.clob_types import RequestArgs
        from py_clob_client_v2.headers.headers import create_level_2_headers

        headers = create_level_2_headers(c.signer, c.creds, RequestArgs("DELETE", "/order", serialized_body=body))
        r = httpx.request("DELETE", sim.url + "/order", headers=headers, content=body.encode())
        assert r.status_code == 200 and r.headers["Poly-RateLimit-Remaining"] == "2"
        assert int(r.headers["Poly-RateLimit-Reset"]) > time.time()
        c.cancel_orders(["0x" + "01" * 32])
        c.cancel_orders(["0x" + "02" * 32])
        r = httpx.request("DELETE", sim.url + "/order", headers=headers, content=body.encode())
        assert r.status_code == 429 and "Retry-After" in r.headers


def test_fault_injection_rest():
    with start_sim(quiet_config(faults={"error5xxFraction": 1.0}), clock="manual", flow=False, seed=3) as sim:
        r = httpx.get(sim.url + "/book", params={"token_id": BTC_YES})
        assert r.status_code in (500, 503) and "error" in r.json()
        assert httpx.get(sim.url + "/admin/state").status_code == 200  # admin is never faulted
        sim.set_faults(error5xxFraction=0, burst429Seconds=30)
        r = httpx.get(sim.url + "/book", params={"token_id": BTC_YES})
        assert r.status_code == 429 and r.json() == {"error": "Too Many Requests"}
        sim.set_faults(burst429Seconds=0, latencyMs=150)
        t0 = time.perf_counter()
        assert httpx.get(sim.url + "/book", params={"token_id": BTC_YES}).status_code == 200
        assert time.perf_counter() - t0 >= 0.14
        sim.set_faults(latencyMs=0, tooEarly=True)
        assert httpx.get(sim.url + "/time").status_code == 425


def test_closed_and_resolved_markets(sim, c0):
    cfg = quiet_config()
    with start_sim(cfg, clock="manual", flow=False) as s2:
        c = client(s2.url, KEY0)
        r = c.create_and_post_order(buy(RAIN_YES, 0.2, 5))
        s2.close_market(dataclasses.replace(s2.config.markets[1]).condition_id)
        assert c.get_open_orders() == [] and c.get_order(r["orderID"])["status"] == "CANCELED"
        assert "closed" in rejected(lambda: c.create_and_post_order(buy(RAIN_YES, 0.2, 5)))
        s2.resolve_market(BTC, "yes")
        assert c.get_clob_market_info(BTC)["ao"] is False
