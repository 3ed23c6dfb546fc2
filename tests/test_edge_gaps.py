"""A market stream that loses single messages (the socket stays busy, so no stall shows):
each price change carries the exchange's best bid and ask, a book that disagrees is read
over REST at once, and its market's plans wait for it instead of trusting a wrong book."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from live_helpers import BTC, BTC_NO, BTC_YES, wait_for
from test_edge_streams import connect, tracked

from controller.observe.state import Book, Level
from controller.observe.store import ObservedStore
from controller.venue.feedwatch import FeedWatch
from controller.venue.wire_ws import LevelChange, PriceChangeEvent, decode_market_event

CID = "0x" + "ab" * 32
YES, NO = "1111", "2222"


def store_with_book(clock: list[float] | None = None) -> ObservedStore:
    now = clock if clock is not None else [0.0]
    store = ObservedStore(clock=lambda: now[0])
    store.track_market(CID, (YES, NO), D("0.01"), D("5"), False)
    store.resync_book(YES, Book.from_levels([Level(D("0.48"), D(10))], [Level(D("0.52"), D(10))]), None)
    store.resync_book(NO, Book.from_levels([Level(D("0.48"), D(10))], [Level(D("0.52"), D(10))]), None)
    return store


def change(price: str, size: str, top: tuple[str | None, str | None] | None) -> PriceChangeEvent:
    exchange_top = None if top is None else tuple(None if x is None else D(x) for x in top)
    level = LevelChange(YES, "BUY", D(price), D(size), "h", exchange_top)  # type: ignore[arg-type]
    return PriceChangeEvent(CID, (level,), None)


def test_the_best_bid_and_ask_of_a_price_change_are_decoded_and_the_empty_sides_are_none() -> None:
    frame = (
        '{"event_type":"price_change","market":"0xab","timestamp":"1","price_changes":['
        '{"asset_id":"1","price":"0.5","size":"200","side":"BUY","hash":"h","best_bid":"0.5","best_ask":"1"},'
        '{"asset_id":"2","price":"0.5","size":"200","side":"SELL","hash":"h","best_bid":"0","best_ask":"0.5"},'
        '{"asset_id":"1","price":"0.4","size":"1","side":"BUY","hash":"h"},'
        '{"asset_id":"1","price":"0.4","size":"1","side":"BUY","hash":"h","best_bid":"x","best_ask":"0.6"}]}'
    )
    event = decode_market_event(json.loads(frame))
    assert isinstance(event, PriceChangeEvent)
    assert [c.top for c in event.changes] == [(D("0.5"), None), (None, D("0.5")), None, None]


def test_a_top_that_keeps_disagreeing_with_ours_is_a_gap_and_plans_wait_for_rest() -> None:
    now = [0.0]
    store = store_with_book(now)
    store.apply_market(change("0.49", "5", ("0.49", "0.52")))  # consistent
    now[0] = 1.0
    assert store.gaps(lasting=0.1) == [] and store.snapshot([CID]).markets[CID].books
    store.apply_market(change("0.47", "5", ("0.50", "0.52")))  # the exchange has a bid at 0.50 we never saw
    now[0] = 1.05
    assert store.gaps(lasting=0.1) == [], "a burst's first message may carry the burst's final top"
    store.apply_market(change("0.46", "5", ("0.50", "0.52")))
    now[0] = 1.1
    assert store.gaps(lasting=0.1) == [YES]
    assert store.snapshot([CID]).markets[CID].books == {}, "no book to plan on"
    assert YES in store.unsure_tokens(), "the resync reads it whatever its slice"
    assert store.gaps(lasting=0.1) == [], "reported once"
    store.adopt_book(YES, Book.from_levels([Level(D("0.50"), D(3))], [Level(D("0.52"), D(10))]))
    assert store.snapshot([CID]).markets[CID].books[YES].best_bid == D("0.50")
    store.apply_market(change("0.45", "5", None))  # a frame without a top says nothing either way
    now[0] = 5.0
    assert store.gaps(lasting=0.1) == []


def test_a_burst_whose_messages_each_carry_its_final_top_is_no_gap() -> None:
    now = [0.0]
    store = store_with_book(now)
    store.apply_market(change("0.50", "5", ("0.50", "0.52")))  # ... the top after the next message
    store.apply_market(change("0.49", "5", ("0.50", "0.52")))  # which agrees
    now[0] = 10.0
    assert store.gaps(lasting=0.1) == [] and store.snapshot([CID]).markets[CID].books


def test_the_watch_adopts_the_rest_book_or_after_confirm_after_calls_it_a_stall() -> None:
    now = [100.0]
    store = store_with_book(now)
    store.apply_market(change("0.47", "5", ("0.50", "0.52")))
    answers: list[dict[str, Book]] = [{}, {}, {}]  # REST fails three times
    repaired: list[list[str]] = []
    stalled: list[list[str]] = []
    watch = FeedWatch(
        silent_for=lambda: 0.0,
        tokens=lambda: [YES, NO],
        read_books=lambda tokens: answers.pop(0) if answers else {YES: Book.from_levels([Level(D("0.5"), D(1))], [])},
        books=store,
        on_stalled=stalled.append,
        confirm_after=0.5,
        clock=lambda: now[0],
    )
    watch.on_repaired = repaired.append
    now[0] += 0.2
    watch.repair(store.gaps(watch.gap_after))
    assert watch.repair_now() == [] and stalled == [], "one failed read is retried"
    now[0] += 0.6
    watch.repair_now()
    assert stalled == [[YES]], "no REST answer within confirm_after: the stall path"
    store.apply_market(change("0.44", "5", ("0.50", "0.52")))
    store.adopt_book(YES, Book())  # (what a reconnect's snapshot would do) ...
    store.apply_market(change("0.44", "5", ("0.49", None)))
    now[0] += 0.2
    watch.repair(store.gaps(watch.gap_after))
    answers.clear()
    assert watch.repair_now() == [YES] and repaired == [[YES]]
    assert store.snapshot([CID]).markets[CID].books[YES].best_bid == D("0.5")


def test_a_lost_message_on_a_busy_stream_is_repaired_over_rest(sim: Any) -> None:
    venue = connect(sim, feed_probe_after=60.0)  # the stall probe stays out of it
    repaired: list[list[str]] = []
    stalled: list[list[str]] = []
    try:
        store = tracked(venue)

        streams = venue.connect_ws(on_market_event=lambda channel, event: store.apply_market(event))
        streams.set_subscriptions([BTC_YES, BTC_NO], [BTC])
        wait_for(lambda: streams.market.messages > 0, "the initial book dump")
        watch = venue.watch_feed(store, on_stalled=stalled.append)
        watch.on_repaired = repaired.append
        sim.set_faults(wsDropFraction=1.0)
        sim.set_fair_value(BTC, "0.6")
        sim.step_flow(2)  # the house re-quotes around the new value: every message lost
        sim.set_faults(wsDropFraction=0.0)
        assert not repaired, "nothing arrived: nothing to compare yet"
        sim.set_fair_value(BTC, "0.61")
        sim.step_flow(2)  # the next messages carry the exchange's top, which ours is not
        wait_for(lambda: repaired, "the gap to be repaired", timeout=10)

        def same_as_rest() -> bool:
            rest = venue.get_books([BTC_YES, BTC_NO])
            books = store.snapshot([BTC]).markets[BTC].books
            return all(books.get(t) == rest[t].book for t in (BTC_YES, BTC_NO))

        wait_for(same_as_rest, "the stream-kept book to be the exchange's", timeout=10)
        assert stalled == [], "a repaired gap is not a stall: quotes are not pulled"
    finally:
        venue.disconnect()


def probe_watch(now: list[float], silence: list[float]) -> tuple[FeedWatch, list[list[str]], list[list[str]]]:
    """A watch whose REST book for YES always differs from the stream's (a message missed)."""
    store = store_with_book(now)
    rest = iter(Book.from_levels([Level(D("0.4") + D(i) / 1000, D(1))], []) for i in range(1000))
    repaired: list[list[str]] = []
    stalled: list[list[str]] = []
    watch = FeedWatch(
        silent_for=lambda: silence[0],
        tokens=lambda: [YES],
        read_books=lambda tokens: {YES: next(rest)},
        books=store,
        on_stalled=stalled.append,
        probe_after=1.0,
        confirm_after=0.5,
        clock=lambda: now[0],
    )
    watch.on_repaired = repaired.append
    return watch, repaired, stalled


def miss(watch: FeedWatch, now: list[float], silence: list[float], delivered_meanwhile: bool) -> None:
    """One probe that finds YES differing, then its confirmation 0.5 s later."""
    silence[0] = max(silence[0], 1.0)
    watch.check()
    now[0] += 0.5
    silence[0] = 0.2 if delivered_meanwhile else silence[0] + 0.5
    watch.check()
    now[0] += 1.0
    silence[0] += 1.0


def test_a_miss_on_a_silent_channel_is_repaired_first_and_a_second_one_is_a_stall() -> None:
    now, silence = [100.0], [0.0]
    watch, repaired, stalled = probe_watch(now, silence)
    miss(watch, now, silence, delivered_meanwhile=False)
    assert repaired == [[YES]] and stalled == [], "one lost message on a quiet market looks like this"
    miss(watch, now, silence, delivered_meanwhile=False)
    assert stalled == [[YES]] and len(repaired) == 1, "nothing delivered since the repair: a stall"


def test_misses_while_the_channel_delivers_other_events_are_repaired_never_a_stall() -> None:
    now, silence = [100.0], [0.0]
    watch, repaired, stalled = probe_watch(now, silence)
    for _ in range(3):
        miss(watch, now, silence, delivered_meanwhile=True)
    assert len(repaired) == 3 and stalled == []
    now[0] += 1.0  # an event half a second after the last repair, then silence again
    silence[0] = 1.5
    miss(watch, now, silence, delivered_meanwhile=False)
    assert len(repaired) == 4 and stalled == [], "the channel delivered since the last repair"
