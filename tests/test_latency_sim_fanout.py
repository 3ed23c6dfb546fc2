"""The emulator answers an order request before it builds the WebSocket messages the request
caused (``controller/sim/fanout.py``, ``after_answer``). Those messages must still say what
the book and the order were at each change, whatever the same request or loop turn did next."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PostOrdersV2Args
from py_clob_client_v2.utilities import generate_orderbook_summary_hash, parse_raw_orderbook_summary
from sim_helpers import ADDR0, BTC, BTC_NO, BTC_YES, KEY0, client, market_ws, quiet_config

from controller.sim import start_sim
from controller.sim.config import load_config
from controller.sim.events import OrderEvent, OrderRequest
from controller.sim.server import SimServer
from controller.sim.ws import Deferred


def test_each_price_change_of_a_batch_says_the_book_after_its_own_order() -> None:
    # Not recording messages: recorded ones are built at once, and this is about the others.
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        c0 = client(sim.url, KEY0)
        ws = market_ws(sim.ws_url, [BTC_YES, BTC_NO])
        batch = [
            PostOrdersV2Args(
                order=c0.create_order(OrderArgsV2(token_id=BTC_YES, price=p, size=10, side="BUY")),
                orderType=OrderType.GTC,
            )
            for p in (0.40, 0.42)
        ]
        assert [r["success"] for r in c0.post_orders(batch)] == [True, True]
        first, second = ws.wait(lambda ev: (pcs := [e for e in ev if e["event_type"] == "price_change"])[1:] and pcs)
        yes = [next(c for c in pc["price_changes"] if c["asset_id"] == BTC_YES) for pc in (first, second)]
        assert [(c["price"], c["best_bid"]) for c in yes] == [("0.4", "0.4"), ("0.42", "0.42")]
        # The manual clock stands still, so a book summary's hash is the message's: the second
        # is the final book's, the first the book without the second order.
        book = c0.get_order_book(BTC_YES)
        assert yes[1]["hash"] == book["hash"]
        before = {**book, "bids": [b for b in book["bids"] if b["price"] != "0.42"], "hash": ""}
        assert yes[0]["hash"] == generate_orderbook_summary_hash(parse_raw_orderbook_summary(before))
        ws.close()


class _Conn:
    def __init__(self) -> None:
        self.markets: set[str] = set()  # follows every market
        self.queued: list[str | Deferred] = []

    def send(self, text: str | Deferred, *, control: bool = False) -> None:
        self.queued.append(text)


def test_an_order_message_built_after_the_answer_keeps_the_trades_it_had() -> None:
    server = SimServer(load_config(quiet_config()), flow=False)
    conn = _Conn()
    server.hub.user_conns[ADDR0.lower()] = {conn}  # type: ignore[arg-type]

    async def place_then_trade() -> list[dict[str, Any]]:
        order = OrderRequest(
            id="0x" + "11" * 32,
            token_id=BTC_YES,
            side="BUY",
            price=4000,
            size=10_000_000,
            owner=ADDR0,
            maker=ADDR0,
            api_key="key",
        )
        result = server.engine.place(order)
        events = [e for e in server.engine.drain_events() if isinstance(e, OrderEvent)]
        server.dispatch(events, after_answer=True)
        result.order.trade_ids.append("a trade that came later")  # before the message is built
        await asyncio.sleep(0)  # the loop's next turn builds what the request deferred
        return [json.loads(t if isinstance(t, str) else t.text()) for t in conn.queued]

    messages = asyncio.run(place_then_trade())
    assert [(m["type"], m["market"], m["associate_trades"]) for m in messages] == [("PLACEMENT", BTC, None)]
    assert isinstance(conn.queued[0], Deferred), "built after the answer, not in the request"
