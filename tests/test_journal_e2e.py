"""End to end against the emulator: fills journaled from the user channel, a kill -9, a backfill over REST,
FAILED trades reversed, and ``bandctl pnl -o json`` agreeing to the cent with the exchange's own books.

Our account (KEY0) rests maker orders and sometimes takes; another account (KEY4) takes
them, all with the official py-clob-client-v2 over real sockets. A child process journals
the user channel and is killed with SIGKILL (its writer never closed) in the middle of
fills; more trades happen while it is down; the next "start" reopens the journal and
backfills from ``GET /data/trades`` (3 trades a page, so the cursor is followed). The
independent PnL comes from ``/admin/state``: its trade list, the orders we placed, and
the balance change.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from py_clob_client_v2 import OrderArgsV2, OrderType, PartialCreateOrderOptions
from py_clob_client_v2.clob_types import TradeParams
from sim_helpers import ADDR0, ADDR4, BTC, BTC_NO, BTC_YES, KEY0, KEY4, client, quiet_config, wait_for
from test_journal_support import journal_target

from controller.cli.pnl import main as pnl_main
from controller.journal import Source, TradeStatus, backfill, open_journal, open_store
from controller.schemas import load_schema
from controller.sim import start_sim

__all__ = ["journal_target"]

D = Decimal
OPTIONS = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)
MARK = D("0.51")

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import websocket
    from py_clob_client_v2.client import ClobClient
    from controller.journal import fills_from_user_event, open_journal
    from controller.venue.wire_ws import TradeEvent, decode_frame

    url, ws_url, target, key = sys.argv[1:5]
    c = ClobClient(url, chain_id=137, key=key)
    creds = c.create_or_derive_api_key()
    journal = open_journal(target, "unused")
    ws = websocket.create_connection(ws_url + "/ws/user", timeout=30)
    auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
    ws.send(json.dumps({"auth": auth, "type": "user", "markets": []}))
    ws.send("PING")
    while ws.recv() != "PONG":
        pass
    print("ready", flush=True)
    while True:
        decoded = decode_frame("user", ws.recv())
        for event, raw in zip(decoded.events, decoded.sources):
            if isinstance(event, TradeEvent):
                journal.record_trades(fills_from_user_event(event, raw, seen_at=time.time()))
    """
)


class Exchange:
    """The emulator plus our client, the taker's client and what we placed (for the independent PnL)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.us = client(sim.url, KEY0)
        self.taker = client(sim.url, KEY4)
        self.our_orders: dict[str, tuple[str, str, D]] = {}  # order id -> (token, side, price)

    def rest(self, who: Any, token: str, side: str, price: str, size: str) -> str:
        order = who.create_order(OrderArgsV2(token_id=token, price=float(price), size=float(size), side=side), OPTIONS)
        answer = who.post_order(order, OrderType.GTC)
        assert answer["success"], answer
        if who is self.us:
            self.our_orders[answer["orderID"]] = (token, side, D(price))
        return str(answer["orderID"])

    def take(self, who: Any, token: str, side: str, price: str, size: str) -> None:
        order = who.create_order(OrderArgsV2(token_id=token, price=float(price), size=float(size), side=side), OPTIONS)
        answer = who.post_order(order, OrderType.FAK)
        assert answer["success"] and answer["tradeIDs"], answer
        if who is self.us:
            self.our_orders[answer["orderID"]] = (token, side, D(price))

    def failing(self, fn: Any, *args: Any) -> None:
        self.sim.set_faults(failedTradeFraction=1.0)
        try:
            fn(*args)
        finally:
            self.sim.set_faults(failedTradeFraction=0.0)

    def fetch_page(self, after: float, cursor: str) -> tuple[list[Any], str]:
        page = self.us.get_trades_paginated(TradeParams(after=int(after)), next_cursor=cursor)
        return page["trades"], page["next_cursor"]


def our_balance(sim: Any) -> tuple[D, D, D]:
    b = sim.admin_state(0, owner=ADDR0)["balances"][ADDR0.lower()]
    assert b["lockedCollateral"] == "0" or D(b["lockedCollateral"]) == 0, "open orders still lock collateral"
    tokens = b["tokens"]
    return D(b["collateral"]), D(tokens.get(BTC_YES, "0")), D(tokens.get(BTC_NO, "0"))


def independent_fills(
    sim: Any, ours: dict[str, tuple[str, str, D]]
) -> tuple[dict[tuple[str, str], tuple[str, str, D, D]], D]:
    """Our settled fills from the exchange's own trade list (key -> token, side, price, size) and the fees we paid."""
    me = ADDR0.lower()
    fills, fees = {}, D(0)
    for t in sim.admin_state(10_000, owner=ADDR0)["trades"]:
        if t["status"] == "FAILED":
            continue
        if t["taker"].lower() == me:
            fills[(t["id"], t["takerOrderId"])] = (t["assetId"], t["side"], D(t["price"]), D(t["size"]))
            fees += D(t["fee"])
        if t["maker"].lower() == me:
            token, side, price = ours[t["makerOrderId"]]
            fills[(t["id"], t["makerOrderId"])] = (token, side, price, D(t["size"]))
    return fills, fees


@pytest.fixture
def exchange() -> Any:
    config = quiet_config(settings={"pageSize": 3})
    for market in config["markets"]:
        market.pop("rewards", None)  # no payouts at midnight in the balances
        if market["conditionId"] == BTC:
            market["fees"] = {"rate": 0.07, "rebateRate": 0}  # takers pay, as on production's crypto markets
    config["accounts"].append({"address": ADDR4, "collateral": 10000, "tokens": {BTC_YES: 1000, BTC_NO: 1000}})
    with start_sim(config, flow=False) as sim:
        yield Exchange(sim)


def journaled(target: str) -> dict[tuple[str, str], Any]:
    try:
        store = open_store(target, "unused")
    except Exception:
        return {}
    try:
        return {f.record.key: f for f in store.fills()}
    finally:
        store.close()


def test_fills_survive_kill_9_and_pnl_matches_the_exchange(exchange: Exchange, journal_target: str) -> None:
    sim, us, taker = exchange.sim, exchange.us, exchange.taker
    start_cash, start_yes, start_no = our_balance(sim)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sim.url, sim.ws_url, journal_target, KEY0],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        # Up: fills reach the journal from the user channel only.
        bid = exchange.rest(us, BTC_YES, "BUY", "0.48", "20")
        exchange.take(taker, BTC_YES, "SELL", "0.48", "10")  # we buy 10 YES as maker
        wait_for(lambda: len(journaled(journal_target)) == 1, what="the first fill journaled", timeout=15)
        exchange.rest(us, BTC_NO, "BUY", "0.45", "20")
        exchange.take(taker, BTC_YES, "BUY", "0.55", "10")  # matches our NO bid: we buy 10 NO (a mint)
        exchange.rest(taker, BTC_YES, "SELL", "0.53", "10")
        exchange.take(us, BTC_YES, "BUY", "0.53", "10")  # we take: buy 10 YES
        exchange.failing(exchange.take, taker, BTC_YES, "SELL", "0.48", "5")  # ends FAILED: reversed
        wait_for(
            lambda: any(f.failed for f in journaled(journal_target).values()) and len(journaled(journal_target)) == 4,
            what="the FAILED trade journaled from the user channel",
            timeout=15,
        )
        exchange.rest(us, BTC_YES, "SELL", "0.56", "15")
        exchange.take(taker, BTC_YES, "BUY", "0.55", "5")
        child.send_signal(signal.SIGKILL)  # in the middle of fills: the writer is never closed
        exchange.take(taker, BTC_YES, "BUY", "0.56", "10")
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    before_restart = journaled(journal_target)
    assert before_restart and all(f.record.source is Source.WEBSOCKET for f in before_restart.values())
    # Down: trades the journal never heard of, one of them FAILED.
    exchange.take(taker, BTC_YES, "BUY", "0.56", "5")  # our YES ask: we sell 5 YES
    exchange.failing(exchange.take, taker, BTC_YES, "SELL", "0.48", "5")  # the rest of our bid, FAILED
    exchange.take(taker, BTC_NO, "SELL", "0.44", "5")  # matches our YES ask as a merge: we sell 5 more YES
    assert bid not in {o["id"] for o in sim.admin_state(0, owner=ADDR0)["orders"]}, "our bid used up"

    # Next start: reopen, backfill from the REST trade history, then settle up.
    journal = open_journal(journal_target, "unused")
    result = backfill(journal, exchange.fetch_page)
    assert result.complete and result.pages > 1 and result.rejected == 0
    again = backfill(journal, exchange.fetch_page)  # a second pass (the next resync) changes nothing
    assert again.complete
    journal.record_market("btc", BTC, BTC_YES, BTC_NO)
    journal.record_mid(BTC, BTC_YES, MARK)
    us.cancel_all()
    assert journal.close(10)

    expected, fees = independent_fills(sim, exchange.our_orders)
    assert fees > 0, "we took once, and takers pay"
    rows = journaled(journal_target)
    settled = {k: f for k, f in rows.items() if not f.failed}
    assert set(settled) == set(expected), "no fill lost, none invented"
    assert sum(f.failed for f in rows.values()) == 2, "both FAILED trades journaled as FAILED"
    assert all(f.record.status is TradeStatus.FAILED for k, f in rows.items() if k not in expected)
    assert {f.record.source for f in rows.values()} == {Source.WEBSOCKET, Source.REST}
    for key, (token, side, price, size) in expected.items():
        r = settled[key].record
        assert (r.token_id, r.side, r.price, r.size) == (token, side, price, size), key

    # The balances agree with the exchange's trade list (the recomputation is itself sound) ...
    cash, yes, no = our_balance(sim)
    flow = sum((p * s * (1 if side == "SELL" else -1) for _, side, p, s in expected.values()), D(0)) - fees
    yes_net = sum((s * (1 if side == "BUY" else -1) for tok, side, _, s in expected.values() if tok == BTC_YES), D(0))
    no_net = sum((s * (1 if side == "BUY" else -1) for tok, side, _, s in expected.values() if tok == BTC_NO), D(0))
    assert (cash - start_cash, yes - start_yes, no - start_no) == (flow, yes_net, no_net)
    value_change = (cash - start_cash) + (yes - start_yes) * MARK + (no - start_no) * (1 - MARK)

    # ... and bandctl pnl -o json agrees with both, to the cent.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert pnl_main(["pnl", "--journal", journal_target, "-o", "json"]) == 0
    document = json.loads(out.getvalue())
    jsonschema.validate(document, load_schema("pnl.schema.json"))
    (market,) = document["markets"]
    assert market["name"] == "btc" and market["conditionId"] == BTC and market["tokenId"] == BTC_YES
    assert D(market["position"]) == yes_net - no_net
    assert market["fills"] == document["total"]["fills"] == len(expected)
    assert D(market["volume"]) == sum((p * s for _, _, p, s in expected.values()), D(0))
    total = D(document["total"]["realizedPnl"]) + D(document["total"]["unrealizedPnl"])
    assert abs(total - value_change) < D("0.01")
    assert D(market["mid"]) == MARK and D(market["fees"]) == D(document["total"]["fees"]) == fees


def test_backfill_with_the_full_history_reader_of_the_official_client(exchange: Exchange, tmp_path: Path) -> None:
    """``get_trades`` (all pages at once) as the fetcher: one page, then the end marker."""
    us, taker = exchange.us, exchange.taker
    exchange.rest(us, BTC_YES, "BUY", "0.40", "40")
    for _ in range(7):
        exchange.take(taker, BTC_YES, "SELL", "0.40", "5")
    journal = open_journal(None, str(tmp_path))

    def whole_history(after: float, cursor: str) -> tuple[list[Any], str]:
        return us.get_trades(TradeParams(after=int(after))), "LTE="

    result = backfill(journal, whole_history)
    assert result.fills == 7 and result.pages == 1
    assert journal.close(10)
    assert len(journaled(str(tmp_path / "journal.sqlite"))) == 7
