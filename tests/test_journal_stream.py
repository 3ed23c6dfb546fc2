"""The integration hook the controller uses: the venue's own user channel feeding the journal and a tracker.

``Channel`` (controller.venue.streams) hands every accepted user-channel event to a raw
handler; trade events go to ``Journal.record_exchange_trade`` and the fills it returns to
a ``PnlTracker``. Against the emulator over a real socket.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from py_clob_client_v2 import OrderArgsV2, OrderType, PartialCreateOrderOptions
from sim_helpers import ADDR4, BTC, BTC_NO, BTC_YES, KEY0, KEY4, client, quiet_config, wait_for

from controller.journal import MarketRecord, PnlTracker, Source, open_journal, open_store
from controller.sim import start_sim
from controller.venue.streams import Channel

OPTIONS = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)


def test_the_user_channel_feeds_the_journal_and_the_tracker(tmp_path: Path) -> None:
    config = quiet_config()
    config["accounts"].append({"address": ADDR4, "collateral": 1000, "tokens": {BTC_YES: 100}})
    with start_sim(config, flow=False) as sim:
        us, taker = client(sim.url, KEY0), client(sim.url, KEY4)
        journal = open_journal(None, str(tmp_path))
        tracker = PnlTracker([MarketRecord("btc", BTC, BTC_YES, BTC_NO)])

        def on_user(channel: str, raw: dict[str, Any]) -> None:
            if raw.get("event_type") == "trade":
                tracker.add_all(journal.record_exchange_trade(raw, Source.WEBSOCKET))

        creds = us.creds
        auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
        channel = Channel(
            "user",
            f"{sim.ws_url}/ws/user",
            initial_message=lambda: {"auth": auth, "type": "user", "markets": [BTC]},
            on_event=on_user,
        )
        channel.start()
        try:
            wait_for(lambda: channel.connected, what="the user channel", timeout=10)
            order = us.create_order(OrderArgsV2(token_id=BTC_YES, price=0.45, size=20.0, side="BUY"), OPTIONS)
            assert us.post_order(order, OrderType.GTC)["success"]
            take = taker.create_order(OrderArgsV2(token_id=BTC_YES, price=0.45, size=8.0, side="SELL"), OPTIONS)
            assert taker.post_order(take, OrderType.FAK)["success"]
            wait_for(lambda: tracker.market(BTC, mid=Decimal("0.5"), now=2e9).fills == 1, what="the fill", timeout=10)
        finally:
            channel.stop()
        pnl = tracker.market(BTC, mid=Decimal("0.50"), now=2e9)
        assert (pnl.position, pnl.average_cost, pnl.unrealized) == (Decimal("8"), Decimal("0.45"), Decimal("0.40"))
        assert journal.close(10)
    store = open_store(None, str(tmp_path))
    try:
        assert [(f.record.side, f.record.size, f.record.source) for f in store.fills()] == [
            ("BUY", Decimal("8"), Source.WEBSOCKET)
        ]
    finally:
        store.close()
