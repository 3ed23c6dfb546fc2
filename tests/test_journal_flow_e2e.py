"""A run with the emulator's synthetic flow: random (partly informed) takers hit our quotes, a fifth of the
matches fail settlement, the user channel feeds the journal live and REST backfills it; ``bandctl pnl``
then agrees with the exchange's own trade list and balances to the cent.

The emulator runs on a manual clock and its flow is stepped by the test (seeded), so the
run is the same every time and nothing waits for luck.
"""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
from live_helpers import quiet_config
from sim_helpers import ADDR0, BTC, BTC_NO, BTC_YES, wait_for
from test_journal_e2e import Exchange, independent_fills, journaled, our_balance

from controller.cli.pnl import main as pnl_main
from controller.journal import MarketRecord, MidSampler, PnlTracker, Source, backfill, open_journal, open_store
from controller.journal.query import journal_pnl
from controller.schemas import load_schema
from controller.sim import start_sim
from controller.venue.streams import Channel

D = Decimal


def _mid(sim: Any) -> D:
    book = sim.admin_state(0, market=BTC)["markets"][BTC]["books"][BTC_YES]
    bids = [D(level["price"]) for level in book["bids"]]
    asks = [D(level["price"]) for level in book["asks"]]
    return (max(bids) + min(asks)) / 2


def test_synthetic_flow_journaled_live_and_backfilled_matches_the_exchange(tmp_path: Path) -> None:
    config = quiet_config()
    for market in config["markets"]:
        market.pop("rewards", None)
        market["fees"] = {"rate": 0.04, "rebateRate": 0}
        market["flow"]["volatility"] = 0.01
        market["flow"]["takers"].update(rate=3.0, minSize=5, maxSize=25, informedFraction=0.3)
    config["faults"] = {"failedTradeFraction": 0.2}
    with start_sim(config, seed=11, clock="manual") as sim:
        exchange = Exchange(sim)
        us = exchange.us
        start_cash, start_yes, start_no = our_balance(sim)
        journal = open_journal(None, str(tmp_path))
        journal.record_market("btc", BTC, BTC_YES, BTC_NO)
        tracker = PnlTracker([MarketRecord("btc", BTC, BTC_YES, BTC_NO)])
        sampler = MidSampler(journal)
        creds = us.creds
        auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}

        def on_user(channel: str, raw: dict[str, Any]) -> None:
            if raw.get("event_type") == "trade":
                tracker.add_all(journal.record_exchange_trade(raw, Source.WEBSOCKET))

        channel = Channel(
            "user", f"{sim.ws_url}/ws/user", initial_message=lambda: {"auth": auth, "type": "user"}, on_event=on_user
        )
        channel.start()
        try:
            wait_for(lambda: channel.connected, what="the user channel", timeout=10)
            for token, side, price in (
                (BTC_YES, "BUY", "0.49"),
                (BTC_YES, "SELL", "0.51"),
                (BTC_NO, "BUY", "0.49"),
                (BTC_NO, "SELL", "0.51"),
            ):
                exchange.rest(us, token, side, price, "30")
            mine = set(exchange.our_orders)
            sampler.observe(BTC, BTC_YES, _mid(sim), at=sim.clock.now())  # the mid before the first fill
            for _ in range(60):
                sim.step_flow(5)
                sim.advance(1.0)
                sampler.observe(BTC, BTC_YES, _mid(sim), at=sim.clock.now())
                if not mine & {o["id"] for o in sim.admin_state(0, owner=ADDR0)["orders"]}:
                    break
            us.cancel_all()
            expected, fees = independent_fills(sim, exchange.our_orders)
            assert len(expected) >= 8, f"the flow should have hit our quotes (only {len(expected)} fills)"
            failed = [t for t in sim.admin_state(10_000, owner=ADDR0)["trades"] if t["status"] == "FAILED"]
            assert failed, "some matches fail settlement"
            # Live: everything the user channel carried is journaled (the tracker saw the same).
            wait_for(
                lambda: tracker.market(BTC, mid=None, now=sim.clock.now()).fills == len(expected),
                what="every fill over the user channel",
                timeout=15,
            )
        finally:
            channel.stop()
        assert journal.flush(10)
        live = {k for k, f in journaled(str(tmp_path / "journal.sqlite")).items() if not f.failed}
        result = backfill(journal, exchange.fetch_page)
        assert result.complete and result.fills >= len(expected)
        mark = _mid(sim)
        end = sim.clock.now()
        journal.record_mid(BTC, BTC_YES, mark, at=end)
        assert journal.close(10)
        cash, yes, no = our_balance(sim)

    rows = journaled(str(tmp_path / "journal.sqlite"))
    settled = {k for k, f in rows.items() if not f.failed}
    assert settled == set(expected) == live, "the user channel alone had them all; REST added nothing twice"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert pnl_main(["pnl", "--state-dir", str(tmp_path), "-o", "json"]) == 0
    document = json.loads(out.getvalue())
    jsonschema.validate(document, load_schema("pnl.schema.json"))
    total = D(document["total"]["realizedPnl"]) + D(document["total"]["unrealizedPnl"])
    value_change = (cash - start_cash) + (yes - start_yes) * mark + (no - start_no) * (1 - mark)
    assert abs(total - value_change) < D("0.01")
    (market,) = document["markets"]
    assert D(market["position"]) == (yes - start_yes) - (no - start_no)
    assert D(market["fees"]) == fees and market["fills"] == len(expected)
    # Markouts on the emulator's clock (it runs ahead of the wall clock the CLI reads).
    store = open_store(None, str(tmp_path))
    try:
        markouts = journal_pnl(store, now=end + 120).markets[0].markouts
    finally:
        store.close()
    assert [m.horizon for m in markouts] == [1.0, 10.0, 60.0]
    assert markouts[0].fills > 0 and markouts[0].per_share is not None, "mids were sampled around the fills"
    in_memory = tracker.market(BTC, mid=mark, now=2e9)
    assert abs(in_memory.realized + in_memory.unrealized - value_change) < D("0.01")
