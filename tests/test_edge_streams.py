"""The market feed over real sockets (the emulator): a short disconnect is a reconnect, not
an outage; a stalled feed (PONGs but no data while the book moves) is repaired over REST
within ~1 s, and found stalled at its next miss."""

from __future__ import annotations

import threading
import time
from typing import Any

from live_helpers import BTC, BTC_NO, BTC_YES, wait_for

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.observe.store import ObservedStore
from controller.ops.redact import Secret
from controller.venue.client import Venue, VenueConfig
from controller.venue.streams import Backoff


def connect(sim: Any, **options: Any) -> Venue:
    venue = Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=sim.url, ws_host=sim.ws_url, **options))
    venue.connect()
    return venue


class Statuses:
    def __init__(self) -> None:
        self.seen: list[tuple[float, str, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, channel: str, connected: bool) -> None:
        with self.lock:
            self.seen.append((time.monotonic(), channel, connected))

    def of(self, channel: str) -> list[bool]:
        with self.lock:
            return [c for _, name, c in self.seen if name == channel]


def test_a_blip_shorter_than_the_grace_is_reported_as_a_reconnect(sim: Any) -> None:
    venue = connect(sim, ws_disconnect_grace=1.0)
    statuses = Statuses()
    try:
        streams = venue.connect_ws(on_status=statuses)
        streams.set_subscriptions([BTC_YES, BTC_NO], [BTC])
        wait_for(lambda: statuses.of("market") == [True], "the market channel")
        dropped_at = time.monotonic()
        streams.market.reconnect("test: a blip")  # backs off 0.25-0.5 s, then connects again
        wait_for(lambda: statuses.of("market") == [True, True], "the reconnect")
        # Past the grace deadline: a broken cancel would have reported the outage by now.
        wait_for(lambda: time.monotonic() > dropped_at + 1.2, "the grace to pass")
        assert statuses.of("market") == [True, True], "never reported as down"
    finally:
        venue.disconnect()


def test_an_outage_longer_than_the_grace_is_reported(sim: Any) -> None:
    venue = connect(sim, ws_disconnect_grace=0.3)
    statuses = Statuses()
    try:
        streams = venue.connect_ws(on_status=statuses)
        wait_for(lambda: statuses.of("market") == [True], "the market channel")
        streams.market._backoff = Backoff(initial=4.0, cap=4.0)  # back in 2-4 s: longer than the grace
        dropped_at = time.monotonic()
        streams.market.reconnect("test: an outage")
        wait_for(lambda: statuses.of("market") == [True, False], "the outage report")
        reported_at = next(t for t, name, c in statuses.seen if name == "market" and not c)
        assert 0.3 <= reported_at - dropped_at < 4.0, "after the grace (closing the socket itself may take a while)"
        wait_for(lambda: statuses.of("market") == [True, False, True], "the reconnect", timeout=10)
    finally:
        venue.disconnect()


def tracked(venue: Venue) -> ObservedStore:
    store = ObservedStore()
    info = venue.get_market(BTC)
    store.track_market(BTC, info.token_ids, info.tick_size, info.min_order_size, info.neg_risk)
    for token, snapshot in venue.get_books(list(info.token_ids)).items():
        store.resync_book(token, snapshot.book, None)
    return store


def test_a_stalled_feed_is_repaired_then_found_quickly_and_a_quiet_one_is_not(sim: Any) -> None:
    venue = connect(sim, feed_probe_after=0.5, feed_confirm_after=0.3)
    stalled: list = []
    repaired: list = []
    try:
        store = tracked(venue)
        streams = venue.connect_ws(on_market_event=lambda channel, event: store.apply_market(event))
        streams.set_subscriptions([BTC_YES, BTC_NO], [BTC])
        wait_for(lambda: streams.market.messages > 0, "the initial book dump")
        watch = venue.watch_feed(store, on_stalled=lambda tokens: stalled.append((time.monotonic(), tokens)))
        watch.on_repaired = lambda tokens: repaired.append((time.monotonic(), tokens))
        try:
            wait_for(lambda: watch.probes >= 3, "probes of a quiet market")
            assert stalled == repaired == [], "a quiet market is not a stalled one"
            sim.set_faults(marketFeedStalled=True)  # PONGs still flow; data does not
            sim.set_fair_value(BTC, "0.6")
            sim.step_flow(2)  # the house re-quotes around the new value
            first_change = time.monotonic()
            # One miss could be one lost message: REST's book is adopted, quotes stay.
            wait_for(lambda: repaired, "the first miss to be repaired", timeout=5)
            assert stalled == []
            rest_bid = venue.get_books([BTC_YES])[BTC_YES].book.best_bid
            assert store.snapshot([BTC]).markets[BTC].books[BTC_YES].best_bid == rest_bid
            sim.set_fair_value(BTC, "0.4")
            sim.step_flow(2)
            second_change = time.monotonic()
            # A second miss with nothing delivered in between: the stream has stalled.
            wait_for(lambda: stalled, "the stall to be found", timeout=5)
        finally:
            watch.stop()
        repaired_after = repaired[0][0] - first_change
        found_after = stalled[0][0] - second_change
        print(f"miss repaired {repaired_after:.3f}s after the book changed, stall found {found_after:.3f}s after")
        assert set(repaired[0][1]) <= {BTC_YES, BTC_NO} and repaired_after < 2.0, repaired_after
        assert set(stalled[0][1]) <= {BTC_YES, BTC_NO} and found_after < 2.0, found_after
    finally:
        venue.disconnect()
