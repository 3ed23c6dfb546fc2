"""Market and user WebSocket channels over real sockets, every frame schema-validated."""

from __future__ import annotations

import pytest
import websocket
from py_clob_client_v2.clob_types import OrderArgsV2
from sim_helpers import (
    ADDR0,
    ADDR4,
    BTC,
    BTC_NO,
    BTC_YES,
    KEY0,
    KEY4,
    MARKET_VALIDATOR,
    RAIN,
    RAIN_YES,
    USER_VALIDATOR,
    WsReader,
    client,
    market_ws,
    quiet_config,
    user_ws,
    wait_for,
)

from controller.sim import start_sim


@pytest.fixture
def sim():
    with start_sim(quiet_config(), clock="manual", flow=False, record_messages=10_000) as handle:
        yield handle
        # Every message the emulator built during the test, delivered or not, matches the schemas.
        for msg in handle.recorded_messages():
            validator = USER_VALIDATOR if msg.get("event_type") in ("order", "trade") else MARKET_VALIDATOR
            errors = [e.message for e in validator.iter_errors(msg)]
            assert not errors, (errors, msg)


def buy(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="BUY")


def sell(token: str, price: float, size: float) -> OrderArgsV2:
    return OrderArgsV2(token_id=token, price=price, size=size, side="SELL")


def test_book_snapshot_and_price_change(sim):
    c0 = client(sim.url, KEY0)
    c0.create_and_post_order(buy(BTC_YES, 0.40, 10))
    ws = market_ws(sim.ws_url, [BTC_YES, BTC_NO])
    first = ws.frames[0]
    assert isinstance(first, list) and [b["asset_id"] for b in first] == [BTC_YES, BTC_NO]
    assert first[0]["bids"] == [{"price": "0.4", "size": "10"}] and first[1]["asks"] == [{"price": "0.6", "size": "10"}]
    c0.create_and_post_order(sell(BTC_YES, 0.55, 20))
    pc = ws.wait(lambda ev: [e for e in ev if e["event_type"] == "price_change"])[0]
    assert pc["market"] == BTC
    by_asset = {c["asset_id"]: c for c in pc["price_changes"]}
    assert by_asset[BTC_YES] == {
        **by_asset[BTC_YES],
        "price": "0.55",
        "size": "20",
        "side": "SELL",
        "best_bid": "0.4",
        "best_ask": "0.55",
    }
    assert by_asset[BTC_NO] == {
        **by_asset[BTC_NO],
        "price": "0.45",
        "size": "20",
        "side": "BUY",
        "best_bid": "0.45",
        "best_ask": "0.6",
    }
    # Manual clock: same timestamp, so the hash equals the REST book's.
    assert by_asset[BTC_YES]["hash"] == c0.get_order_book(BTC_YES)["hash"]
    assert by_asset[BTC_NO]["hash"] == c0.get_order_book(BTC_NO)["hash"]
    ws.close()


def test_unknown_assets_get_empty_dump(sim):
    ws = market_ws(sim.ws_url, ["12345"])
    assert ws.frames[0] == []
    ws.close()


def test_taker_crossing_maker_full_sequence(sim):
    maker = client(sim.url, KEY0)
    sim.fund(ADDR4, 100)
    taker = client(sim.url, KEY4)
    mws = market_ws(sim.ws_url, [BTC_YES, BTC_NO])
    maker_ws, taker_ws = user_ws(sim.ws_url, maker), user_ws(sim.ws_url, taker)
    resting = maker.create_and_post_order(sell(BTC_YES, 0.55, 20))["orderID"]
    maker_ws.wait(lambda ev: any(e["type"] == "PLACEMENT" and e["id"] == resting for e in ev))
    before = sim.admin_state()["balances"]

    r = taker.create_and_post_order(buy(BTC_YES, 0.56, 10))
    # 1. the trade (REST response + exchange state) ...
    assert r["status"] == "matched" and len(r["tradeIDs"]) == 1 and r["transactionsHashes"]
    state = sim.admin_state()
    trade = next(t for t in state["trades"] if t["id"] == r["tradeIDs"][0])
    assert trade["price"] == "0.55" and trade["size"] == "10" and trade["makerOrderId"] == resting
    # 2. ... balances moved at the maker's price (price improvement stays with the taker) ...
    after = state["balances"]
    assert after[ADDR4.lower()]["collateral"] == "94.5"
    assert after[ADDR4.lower()]["tokens"][BTC_YES] == "10"
    assert float(after[ADDR0.lower()]["collateral"]) == float(before[ADDR0.lower()]["collateral"]) + 5.5
    assert float(after[ADDR0.lower()]["tokens"][BTC_YES]) == float(before[ADDR0.lower()]["tokens"][BTC_YES]) - 10

    # 3. ... and both channels' events.
    def both_last_trades(ev: list[dict]) -> list[dict]:
        found = [e for e in ev if e["event_type"] == "last_trade_price"]
        return found if {e["asset_id"] for e in found} == {BTC_YES, BTC_NO} else []

    ltp = mws.wait(both_last_trades)
    assert {(e["asset_id"], e["price"], e["side"]) for e in ltp} == {(BTC_YES, "0.55", "BUY"), (BTC_NO, "0.45", "SELL")}

    def both_books(ev: list[dict]) -> list[dict]:
        found = [e for e in ev[2:] if e["event_type"] == "book"]
        return found if {b["asset_id"] for b in found} == {BTC_YES, BTC_NO} else []

    books = mws.wait(both_books)
    yes_book = [b for b in books if b["asset_id"] == BTC_YES][-1]
    assert yes_book["asks"] == [{"price": "0.55", "size": "10"}] and yes_book["last_trade_price"] == "0.55"
    pcs = [e for e in mws.events() if e["event_type"] == "price_change"]
    assert any(
        c["asset_id"] == BTC_YES and c["price"] == "0.55" and c["size"] == "10" for e in pcs for c in e["price_changes"]
    )

    statuses = taker_ws.wait(
        lambda ev: (
            [e["status"] for e in ev if e["event_type"] == "trade"] == ["MATCHED", "MINED", "CONFIRMED"]
            and [e for e in ev if e["event_type"] == "trade"]
        )
    )
    assert all(t["trader_side"] == "TAKER" and t["taker_order_id"] == r["orderID"] for t in statuses)
    assert statuses[-1]["transaction_hash"] == r["transactionsHashes"][0]
    assert statuses[0]["maker_orders"][0]["order_id"] == resting
    maker_trades = maker_ws.wait(
        lambda ev: (
            len([e for e in ev if e["event_type"] == "trade"]) == 3 and [e for e in ev if e["event_type"] == "trade"]
        )
    )
    assert {t["trader_side"] for t in maker_trades} == {"MAKER"} and maker_trades[0]["owner"] == maker.creds.api_key
    upd = maker_ws.wait(lambda ev: [e for e in ev if e["event_type"] == "order" and e["type"] == "UPDATE"])
    assert upd[0]["id"] == resting and upd[0]["size_matched"] == "10" and upd[0]["status"] == "LIVE"
    taker_orders = taker_ws.wait(
        lambda ev: len(orders := [e for e in ev if e["event_type"] == "order"]) >= 2 and orders
    )
    assert [e["type"] for e in taker_orders] == ["PLACEMENT", "UPDATE"] and taker_orders[-1]["status"] == "MATCHED"
    for w in (mws, maker_ws, taker_ws):
        w.close()


def test_mint_match_between_yes_and_no_bids(sim):
    yes_buyer = client(sim.url, KEY0)
    sim.fund(ADDR4, 100)
    no_buyer = client(sim.url, KEY4)
    resting = yes_buyer.create_and_post_order(buy(BTC_YES, 0.60, 10))["orderID"]
    r = no_buyer.create_and_post_order(buy(BTC_NO, 0.40, 10))  # complementary price: crosses via minting
    assert r["status"] == "matched"
    assert yes_buyer.get_order(resting)["size_matched"] == "10"
    bal = sim.admin_state()["balances"][ADDR4.lower()]
    assert bal["collateral"] == "96" and bal["tokens"][BTC_NO] == "10"


def test_ping_pong_text_and_rfc6455(sim):
    ws = market_ws(sim.ws_url, [BTC_YES])
    ws.send("PING")
    wait_for(lambda: ws.texts.count("PONG") >= 2)
    ws.close()
    raw = websocket.create_connection(sim.ws_url + "/ws/user", timeout=5)
    raw.ping("hello")
    opcode, frame = raw.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"hello"
    raw.close()


def test_dynamic_subscribe_and_unsubscribe(sim):
    c0 = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES])
    c0.create_and_post_order(buy(BTC_YES, 0.30, 5))
    pc = ws.wait(lambda ev: [e for e in ev if e["event_type"] == "price_change"])[0]
    assert {c["asset_id"] for c in pc["price_changes"]} == {BTC_YES}  # only what I subscribed to
    ws.send({"operation": "subscribe", "assets_ids": [RAIN_YES]})
    dump = ws.wait(lambda ev: [e for e in ev if e["event_type"] == "book" and e["asset_id"] == RAIN_YES])
    assert dump[0]["tick_size"] == "0.001"
    ws.send({"operation": "unsubscribe", "assets_ids": [BTC_YES]})
    ws.sync()
    n = len(ws.events())
    c0.create_and_post_order(buy(BTC_YES, 0.31, 5))
    c0.create_and_post_order(buy(RAIN_YES, 0.2, 5))
    got = ws.wait(lambda ev: [e for e in ev[n:] if e["event_type"] == "price_change"])
    assert [e["market"] for e in got] == [RAIN]
    ws.close()


def test_best_bid_ask_with_custom_features(sim):
    c0 = client(sim.url, KEY0)
    plain = market_ws(sim.ws_url, [BTC_YES])
    custom = market_ws(sim.ws_url, [BTC_YES, BTC_NO], custom_feature_enabled=True)
    c0.create_and_post_order(buy(BTC_YES, 0.44, 5))
    bba = custom.wait(lambda ev: [e for e in ev if e["event_type"] == "best_bid_ask" and e["asset_id"] == BTC_NO])
    assert bba[0]["best_ask"] == "0.56" and bba[0]["best_bid"] == ""
    plain.sync()
    assert not plain.of("best_bid_ask")
    plain.close()
    custom.close()


def test_tick_size_change_near_the_edge(sim):
    c0 = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES, BTC_NO])
    c0.create_and_post_order(sell(BTC_YES, 0.97, 10))  # asks above 0.96: the market goes to 0.001
    ev = ws.wait(lambda ev: len(ws.of("tick_size_change")) >= 2 and ws.of("tick_size_change"))
    assert {(e["asset_id"], e["old_tick_size"], e["new_tick_size"]) for e in ev} == {
        (BTC_YES, "0.01", "0.001"),
        (BTC_NO, "0.01", "0.001"),
    }
    assert client(sim.url, KEY0).get_tick_size(BTC_YES) == "0.001"
    ws.close()


def test_user_channel_auth_and_market_filter(sim):
    c0 = client(sim.url, KEY0)
    bad = WsReader(sim.ws_url + "/ws/user", USER_VALIDATOR)
    bad.send(
        {"auth": {"apiKey": c0.creds.api_key, "secret": "wrong", "passphrase": c0.creds.api_passphrase}, "type": "user"}
    )
    assert bad.closed.wait(5)
    bad.close()
    rain_only = user_ws(sim.ws_url, c0, markets=[RAIN])
    c0.create_and_post_order(buy(BTC_YES, 0.2, 5))
    c0.create_and_post_order(buy(RAIN_YES, 0.2, 5))
    got = rain_only.wait(lambda ev: ev)
    rain_only.sync()
    assert {e["market"] for e in rain_only.events()} == {RAIN}
    rain_only.send({"operation": "subscribe", "markets": [BTC]})
    rain_only.sync()
    c0.create_and_post_order(buy(BTC_YES, 0.21, 5))
    rain_only.wait(lambda ev: any(e["market"] == BTC for e in ev))
    assert got
    rain_only.close()


def test_dead_mans_switch_emits_cancellations(sim):
    c0 = client(sim.url, KEY0)
    ws = user_ws(sim.ws_url, c0)
    ids = {c0.create_and_post_order(buy(BTC_YES, 0.2 + i / 100, 5))["orderID"] for i in range(3)}
    c0.post_heartbeat("")
    sim.advance(10.5)
    cancels = ws.wait(lambda ev: [e for e in ev if e["event_type"] == "order" and e["type"] == "CANCELLATION"])
    wait_for(lambda: len(ws.of("order")) >= 6)
    assert {e["id"] for e in ws.of("order") if e["type"] == "CANCELLATION"} == ids
    assert all(e["status"] == "CANCELED" for e in cancels)
    ws.close()


def test_stalled_feed_and_dropped_messages(sim):
    c0 = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES])
    sim.set_faults(marketFeedStalled=True)
    c0.create_and_post_order(buy(BTC_YES, 0.2, 5))
    ws.sync()  # still answers PING
    assert not ws.of("price_change")
    sim.set_faults(marketFeedStalled=False, wsDropFraction=1.0)
    c0.create_and_post_order(buy(BTC_YES, 0.21, 5))
    ws.sync()
    assert not ws.of("price_change")
    sim.set_faults(wsDropFraction=0.0)
    c0.create_and_post_order(buy(BTC_YES, 0.22, 5))
    ws.wait(lambda ev: ws.of("price_change"))
    ws.close()


def test_periodic_disconnect_fault(sim):
    ws = market_ws(sim.ws_url, [BTC_YES])
    sim.set_faults(wsDisconnectEverySeconds=0.2)
    assert ws.closed.wait(5)
    sim.set_faults(wsDisconnectEverySeconds=0)
    ws.close()


def test_idle_connections_are_dropped():
    cfg = quiet_config(settings={"wsIdleTimeoutSeconds": 0.3})
    with start_sim(cfg, clock="manual", flow=False) as sim:
        ws = market_ws(sim.ws_url, [BTC_YES])
        assert ws.closed.wait(5)
        ws.close()


def test_market_resolved_event(sim):
    c0 = client(sim.url, KEY0)
    ws = market_ws(sim.ws_url, [BTC_YES], custom_feature_enabled=True)
    uws = user_ws(sim.ws_url, c0)
    oid = c0.create_and_post_order(buy(BTC_YES, 0.2, 5))["orderID"]
    sim.resolve_market(BTC, "no")
    ev = ws.wait(lambda ev: ws.of("market_resolved"))
    assert ev[0]["winning_asset_id"] == BTC_NO and ev[0]["winning_outcome"] == "No"
    uws.wait(lambda ev: any(e["type"] == "CANCELLATION" and e["id"] == oid for e in ev))
    ws.close()
    uws.close()


def test_schemas_reject_wrong_shapes():
    good_book = {
        "event_type": "book",
        "asset_id": "1",
        "market": BTC,
        "bids": [],
        "asks": [],
        "timestamp": "1",
        "hash": "0123456789",
    }
    assert MARKET_VALIDATOR.is_valid(good_book)
    assert not MARKET_VALIDATOR.is_valid({**good_book, "bids": [{"price": 0.5, "size": "1"}]})
    assert not MARKET_VALIDATOR.is_valid({k: v for k, v in good_book.items() if k != "hash"})
    pc = {
        "event_type": "price_change",
        "market": BTC,
        "timestamp": "1",
        "price_changes": [{"asset_id": "1", "price": "0.5", "size": "1", "side": "BUY", "hash": "abcdef0123"}],
    }
    assert MARKET_VALIDATOR.is_valid(pc)
    assert not MARKET_VALIDATOR.is_valid({**pc, "price_changes": [{**pc["price_changes"][0], "side": "buy"}]})
    assert not MARKET_VALIDATOR.is_valid({"event_type": "nonsense"})
    order = {
        "event_type": "order",
        "type": "PLACEMENT",
        "id": "0x" + "1" * 64,
        "owner": "k",
        "market": BTC,
        "asset_id": "1",
        "side": "BUY",
        "price": "0.5",
        "original_size": "5",
        "size_matched": "0",
        "outcome": "Yes",
        "timestamp": "1",
    }
    assert USER_VALIDATOR.is_valid(order)
    assert not USER_VALIDATOR.is_valid({**order, "size_matched": 0})
    assert not USER_VALIDATOR.is_valid({**order, "type": "NEW"})
