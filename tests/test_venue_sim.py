"""The venue (py-clob-client-v2 underneath) against the emulator: wallets and unknown outcomes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from live_helpers import BTC, BTC_YES, quiet_config, wait_for

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.ops.redact import Secret
from controller.sim import start_sim
from controller.venue.client import OrderRequest, Venue, VenueConfig
from controller.venue.wire_ws import OrderAction, OrderEvent, PriceChangeEvent

# Hardhat's public test account #2 as the signing EOA; the funder is a wallet it controls.
SIGNER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
SIGNER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
FUNDER = "0x" + "5a" * 20


def bid(price: str = "0.40", size: str = "10") -> OrderRequest:
    return OrderRequest(BTC_YES, "BUY", Decimal(price), Decimal(size), tick_size=Decimal("0.01"), neg_risk=False)


@pytest.mark.parametrize("signature_type", [1, 2, 3])
def test_proxy_safe_and_deposit_wallet_accounts_trade_from_the_funder(signature_type: int) -> None:
    config = quiet_config()
    config["accounts"].append(
        {"address": SIGNER, "funder": FUNDER, "signatureType": signature_type, "collateral": 1000}
    )
    with start_sim(config, clock="manual", flow=False) as sim:
        venue = Venue(
            VenueConfig(
                private_key=Secret(SIGNER_KEY),
                funder=FUNDER,
                signature_type=signature_type,
                clob_host=sim.url,
                ws_host=sim.ws_url,
            )
        )
        venue.connect()
        try:
            market = venue.get_market(BTC)
            assert market.tick_size == Decimal("0.01") and BTC_YES in market.token_ids
            [result] = venue.place_orders([bid()])
            assert result.placed, result.error
            [resting] = [o for o in sim.admin_state()["orders"] if o["id"] == result.order_id]
            assert resting["owner"].lower() == FUNDER.lower()
            assert [o.id for o in venue.get_orders(BTC)] == [result.order_id]
            assert venue.get_balances([BTC_YES]).collateral == Decimal(1000)
            assert result.order_id is not None
            assert venue.cancel_orders([result.order_id]).canceled == (result.order_id,)
            assert venue.get_orders(BTC) == []
        finally:
            venue.disconnect()


def test_a_timed_out_submit_is_ambiguous_and_its_local_ids_are_the_exchanges() -> None:
    from py_clob_client_v2.http_helpers import helpers

    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        venue = Venue(
            VenueConfig(
                private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url, request_timeout=0.3
            )
        )
        saved = helpers._http_client.timeout
        venue.connect()
        try:
            venue.get_market(BTC)  # as the controller does first: tick size and neg-risk are known
            sim.set_faults(latencyMs=1200)  # the answer comes after our deadline, the order lands anyway
            results = venue.place_orders([bid("0.40"), bid("0.39")])
            assert all(r.ambiguous and not r.placed for r in results)
            sim.set_faults(latencyMs=0)
            landed = wait_for(lambda: {o["id"] for o in sim.admin_state()["orders"]}, "the late orders to rest")
            assert landed == {r.order_id for r in results}, "re-reading by local id finds exactly what landed"
        finally:
            venue.disconnect()
            helpers._http_client.timeout = saved


def test_cancelling_unknown_ids_reports_them_gone() -> None:
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
        venue.connect()
        try:
            result = venue.cancel_orders(["0x" + "00" * 32])
            assert result.canceled == () and result.gone == ("0x" + "00" * 32,) and result.failed == {}
        finally:
            venue.disconnect()


def test_the_rate_budget_follows_the_exchanges_headers() -> None:
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        # A budget far more generous than the exchange's standard tier (burst 60).
        venue = Venue(
            VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url, order_burst=1000)
        )
        venue.connect()
        try:
            venue.get_market(BTC)
            assert venue.budget.orders.available() > 900
            assert all(r.placed for r in venue.place_orders([bid(f"0.{30 + i}") for i in range(3)]))
            assert venue.budget.orders.available() <= 60, "Poly-RateLimit-Remaining caps what we believe"
        finally:
            venue.disconnect()


def test_market_and_user_streams_deliver_books_and_our_orders() -> None:
    with start_sim(quiet_config(), clock="manual", flow=False) as sim:
        venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
        venue.connect()
        events: list[tuple[str, dict]] = []  # raw dicts (the compatibility handlers)
        typed: list[Any] = []
        try:
            streams = venue.connect_ws(
                on_market=lambda c, e: events.append((c, e)),
                on_user=lambda c, e: events.append((c, e)),
                on_market_event=lambda c, e: typed.append(e),
                on_user_event=lambda c, e: typed.append(e),
            )
            streams.set_subscriptions([BTC_YES], [BTC])
            wait_for(lambda: streams.connected, "both channels")
            [placed] = venue.place_orders([bid()])
            wait_for(lambda: any(c == "user" and e.get("id") == placed.order_id for c, e in events), "our PLACEMENT")
            wait_for(lambda: any(c == "market" and e["event_type"] == "price_change" for c, e in events), "a change")
            assert venue.get_price(BTC_YES).bid == Decimal("0.40")
            ours = [e for e in typed if isinstance(e, OrderEvent) and e.order_id == placed.order_id]
            assert ours and ours[0].action is OrderAction.PLACEMENT and ours[0].price == Decimal("0.40")
            changes = [c for e in typed if isinstance(e, PriceChangeEvent) for c in e.changes]
            assert any(c.token_id == BTC_YES and c.price == Decimal("0.40") and c.side == "BUY" for c in changes)
            assert streams.rejected() == {"market": {}, "user": {}}, "the emulator's frames all decode"
        finally:
            venue.disconnect()


def test_many_cancels_go_in_one_batch(sim) -> None:
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
    calls: list[str] = []
    venue.connect()
    try:
        venue.get_market(BTC)
        placed = venue.place_orders([bid(f"0.{10 + i}", "5") for i in range(40)])
        assert all(r.placed for r in placed), [r.error for r in placed if not r.placed]
        venue.on_request = lambda endpoint, seconds, outcome: calls.append(endpoint)
        result = venue.cancel_orders([r.order_id for r in placed if r.order_id])
        assert len(result.canceled) == 40 and calls == ["cancel-orders"], "40 ids, one DELETE /orders"
        assert venue.get_orders(BTC) == []
    finally:
        venue.disconnect()


def test_orders_are_signed_from_exact_decimals(sim) -> None:
    # The stock client floors float(5.02) * 100 to 501: it would sign 5.01 shares.
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
    venue.connect()
    try:
        venue.get_market(BTC)
        [result] = venue.place_orders([bid("0.47", "5.02")])
        assert result.placed, result.error
        [order] = [o for o in sim.admin_state()["orders"] if o["id"] == result.order_id]
        assert Decimal(order["size"]) == Decimal("5.02") and Decimal(order["price"]) == Decimal("0.47")
        [on_book] = venue.get_orders(BTC)
        assert on_book.id == result.order_id, "the id we computed is the exchange's id"
    finally:
        venue.disconnect()
