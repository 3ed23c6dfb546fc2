"""Tick-size authority over real sockets (the emulator): the venue signs with the tick size a
REST read of the market's rules gave, re-reads them on tick_size_change, on an off-grid
rejection and on demand (every resync), and a false tick_size_change changes nothing."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from typing import Any

from live_helpers import BTC, BTC_NO, BTC_YES, DEMO_ADDRESS, wait_for

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.observe.store import ObservedStore
from controller.ops.redact import Secret
from controller.venue.client import Venue, VenueConfig
from controller.venue.orders import OrderRequest, PlaceProblem
from controller.venue.wire import MarketInfo
from controller.venue.wire_ws import TickSizeChangeEvent

FINE, COARSE = 10, 100  # the emulator's tick units (1/10,000): 0.001 and 0.01


def connect(sim: Any) -> tuple[Venue, list[MarketInfo]]:
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url))
    venue.connect()
    heard: list[MarketInfo] = []
    venue.on_rules = heard.append
    return venue, heard


def set_tick(sim: Any, units: int) -> None:
    sim.call(lambda s: s.engine.set_tick_size(s.engine.markets[BTC], units))


def cached_tick(venue: Venue, token: str) -> str | None:
    return venue.client._ClobClient__tick_sizes.get(token)


def bid(price: str, tick: str) -> OrderRequest:
    return OrderRequest(BTC_YES, "BUY", D(price), D("10"), tick_size=D(tick), neg_risk=False)


def our_prices(sim: Any) -> set[str]:
    return {o["price"] for o in sim.admin_state()["orders"] if o["owner"].lower() == DEMO_ADDRESS.lower()}


def test_a_real_tick_size_change_is_read_from_rest_and_signed_with(sim: Any) -> None:
    venue, heard = connect(sim)
    store = ObservedStore()
    changes: list[TickSizeChangeEvent] = []

    def on_market(channel: str, event: Any) -> None:
        store.apply_market(event)
        if isinstance(event, TickSizeChangeEvent):
            changes.append(event)
            venue.refresh_tick_size([event.token_id])  # what the controller does on this event

    try:
        info = venue.get_market(BTC)
        store.track_market(BTC, info.token_ids, info.tick_size, info.min_order_size, info.neg_risk)
        assert info.tick_size == D("0.01") and cached_tick(venue, BTC_YES) == "0.01"
        streams = venue.connect_ws(on_market_event=on_market)
        streams.set_subscriptions([BTC_YES, BTC_NO], [BTC])
        wait_for(lambda: streams.market.messages > 0, "the book dump")
        sim.set_fair_value(BTC, "0.97")  # near the edge: the market goes to 0.001
        wait_for(lambda: changes, "tick_size_change on the stream")
        assert store.tick_size(BTC) == D("0.01"), "the stream's word alone changes nothing"
        wait_for(lambda: heard, "the REST re-read of the market's rules")
        assert heard[-1].tick_size == D("0.001") and cached_tick(venue, BTC_YES) == "0.001"
        # The planner still thinks 0.01; a price on the new grid is signed with the new tick.
        [placed] = venue.place_orders([bid("0.955", "0.01")])
        assert placed.placed, placed.error
        assert "0.955" in our_prices(sim)
        # A price off the (new, finer) grid of our knowledge is impossible here; off the
        # new grid after a change to a coarser tick is refused locally:
        set_tick(sim, COARSE)
        venue.refresh_rules([BTC])
        [refused] = venue.place_orders([bid("0.955", "0.001")])
        assert refused.problem is PlaceProblem.OFF_GRID and not refused.ambiguous
    finally:
        venue.disconnect()


def test_an_off_grid_rejection_re_reads_the_rules(sim: Any) -> None:
    venue, heard = connect(sim)
    try:
        set_tick(sim, FINE)
        assert venue.get_market(BTC).tick_size == D("0.001")
        set_tick(sim, COARSE)  # changed on the exchange; nobody told us
        [rejected] = venue.place_orders([bid("0.455", "0.001")])
        assert rejected.problem is PlaceProblem.OFF_GRID and not rejected.placed
        assert heard and heard[-1].tick_size == D("0.01"), "the rejection made the venue re-read the rules"
        assert cached_tick(venue, BTC_YES) == "0.01"
        [placed] = venue.place_orders([bid("0.45", "0.01")])
        assert placed.placed, placed.error
    finally:
        venue.disconnect()


def test_a_false_tick_size_change_changes_nothing(sim: Any) -> None:
    venue, heard = connect(sim)
    store = ObservedStore()
    reads = threading.Semaphore(0)
    venue.on_request = lambda endpoint, seconds, outcome: reads.release() if endpoint == "clob-markets" else None
    try:
        info = venue.get_market(BTC)
        reads.acquire(timeout=5)
        store.track_market(BTC, info.token_ids, info.tick_size, info.min_order_size, info.neg_risk)
        lie = TickSizeChangeEvent(BTC_YES, BTC, D("0.01"), D("0.001"), None)
        assert store.apply_market(lie) == {BTC}, "it wakes the market's reconcile..."
        venue.refresh_tick_size([BTC_YES])
        assert reads.acquire(timeout=5), "...and makes the venue re-read the rules"
        assert store.tick_size(BTC) == D("0.01") and cached_tick(venue, BTC_YES) == "0.01"
        assert venue.refresh_rules([BTC])[BTC].tick_size == D("0.01")
        assert heard == [], "no change reported"
        [placed] = venue.place_orders([bid("0.45", "0.01")])
        assert placed.placed
    finally:
        venue.disconnect()


def test_a_resync_book_read_showing_another_tick_re_reads_the_rules(sim: Any) -> None:
    venue, heard = connect(sim)
    try:
        venue.get_market(BTC)
        set_tick(sim, FINE)
        venue.get_books([BTC_YES, BTC_NO])  # what every resync reads
        wait_for(lambda: heard, "the rules re-read")
        assert heard[-1].tick_size == D("0.001") and cached_tick(venue, BTC_NO) == "0.001"
    finally:
        venue.disconnect()
