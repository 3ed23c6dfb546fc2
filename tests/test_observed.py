"""The live observed store: stream events, REST resync verdicts, fills moving balances."""

from __future__ import annotations

import json
from decimal import Decimal as D

from fakeclock import FakeClock

from controller.observe.state import Balances, Book, Level, OpenOrder
from controller.observe.store import ObservedStore
from controller.venue.wire_ws import decode_frame

COND = "0x" + "ab" * 32
YES, NO = "111", "222"


def feed_market(s: ObservedStore, raw: dict) -> set[str]:
    """What the stream does: decode the frame once (wire_ws), hand the store typed events."""
    changed: set[str] = set()
    for event in decode_frame("market", json.dumps(raw)).events:
        changed |= s.apply_market(event)  # type: ignore[arg-type]
    return changed


def feed_user(s: ObservedStore, raw: dict) -> set[str]:
    changed: set[str] = set()
    for event in decode_frame("user", json.dumps(raw)).events:
        changed |= s.apply_user(event)  # type: ignore[arg-type]
    return changed


def store() -> ObservedStore:
    s = ObservedStore()
    s.track_market(COND, [YES, NO], D("0.01"), D("5"), False)
    return s


def book_event(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> dict:
    return {
        "event_type": "book",
        "asset_id": token,
        "market": COND,
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
    }


def test_book_then_price_changes_maintain_levels() -> None:
    s = store()
    assert feed_market(s, book_event(YES, [("0.48", "10"), ("0.49", "5")], [("0.51", "7")])) == {COND}
    feed_market(
        s,
        {
            "event_type": "price_change",
            "market": COND,
            "price_changes": [
                {"asset_id": YES, "price": "0.49", "size": "0", "side": "BUY"},
                {"asset_id": YES, "price": "0.50", "size": "3", "side": "SELL"},
                {"asset_id": "999", "price": "0.50", "size": "3", "side": "SELL"},
            ],
        },
    )
    s.set_fresh(COND)
    book = s.snapshot([COND]).markets[COND].books[YES]
    assert book.bids == (Level(D("0.48"), D("10")),)
    assert [lv.price for lv in book.asks] == [D("0.50"), D("0.51")]


def test_malformed_market_events_change_nothing() -> None:
    s = store()
    feed_market(s, book_event(YES, [("0.48", "10")], [("0.52", "10")]))
    for event in (
        {"event_type": "book", "asset_id": YES, "bids": "nope", "asks": []},
        {"event_type": "book", "asset_id": YES, "bids": [{"price": "x", "size": "1"}], "asks": []},
        {
            "event_type": "price_change",
            "price_changes": [{"asset_id": YES, "price": "0.5", "size": "-1", "side": "BUY"}],
        },
        {"event_type": "price_change", "price_changes": "garbage"},
        {"event_type": "tick_size_change", "asset_id": YES, "new_tick_size": "0"},
        {"event_type": "unknown"},
    ):
        feed_market(s, event)
    s.set_fresh(COND)
    market = s.snapshot([COND]).markets[COND]
    assert market.books[YES].best_bid == D("0.48") and market.tick_size == D("0.01")


def test_stale_market_is_snapshotted_as_stale() -> None:
    s = store()
    feed_market(s, book_event(YES, [("0.48", "10")], [("0.52", "10")]))
    assert s.snapshot([COND]).markets[COND].stale == "no market data yet", "new markets are stale until resynced"
    s.set_fresh(COND)
    assert s.snapshot([COND]).markets[COND].books and s.snapshot([COND]).markets[COND].stale is None
    s.mark_stale(None, "market stream disconnected")
    assert s.snapshot([COND]).markets[COND].stale == "market stream disconnected"
    assert s.stale_reason(COND) == "market stream disconnected"


def test_resync_tells_a_frozen_stream_from_a_race() -> None:
    s = store()
    feed_market(s, book_event(YES, [("0.48", "10")], [("0.52", "10")]))
    exchange = Book(bids=(Level(D("0.48"), D("10")),), asks=(Level(D("0.52"), D("10")),))
    assert s.resync_book(YES, exchange, None) == "same"
    changed = Book(bids=(Level(D("0.49"), D("4")),), asks=exchange.asks)
    seen = s.stream_updates(YES)
    # The stream delivered something after we looked: it is alive, merely racing REST.
    feed_market(
        s,
        {
            "event_type": "price_change",
            "market": COND,
            "price_changes": [{"asset_id": YES, "price": "0.47", "size": "1", "side": "BUY"}],
        },
    )
    assert s.resync_book(YES, changed, seen) == "raced"
    # The exchange changed and the stream said nothing since: a suspected freeze. The
    # local book stays as the stream left it until the suspicion is confirmed.
    seen = s.stream_updates(YES)
    assert s.resync_book(YES, changed, seen) == "missed"
    s.set_fresh(COND)
    assert s.snapshot([COND]).markets[COND].books[YES] != changed
    s.adopt_book(YES, changed)
    assert s.snapshot([COND]).markets[COND].books[YES] == changed


def test_quiet_market_is_not_frozen() -> None:
    s = store()
    feed_market(s, book_event(YES, [("0.48", "10")], [("0.52", "10")]))
    s.set_fresh(COND)
    book = s.snapshot([COND]).markets[COND].books[YES]
    for _ in range(3):
        assert s.resync_book(YES, book, s.stream_updates(YES)) == "same"


def order_event(kind: str, matched: str, status: str = "LIVE", side: str = "BUY") -> dict:
    return {
        "event_type": "order",
        "type": kind,
        "id": "0x1",
        "market": COND,
        "asset_id": YES,
        "side": side,
        "price": "0.40",
        "original_size": "10",
        "size_matched": matched,
        "status": status,
    }


def test_fills_move_balances_exactly_once() -> None:
    s = store()
    s.replace_balances(Balances(collateral=D("100"), tokens={YES: D("0")}))
    s.record_placed(OpenOrder("0x1", COND, YES, "BUY", D("0.40"), D("10")), "live")
    feed_user(s, order_event("UPDATE", "4"))
    feed_user(s, order_event("UPDATE", "4"))  # a duplicate delivery
    feed_user(s, order_event("UPDATE", "3"))  # an older report arriving late
    balances = s.balances()
    assert balances.collateral == D("98.40") and balances.tokens[YES] == D("4")
    assert s.open_orders(COND)[0].size_matched == D("4")
    feed_user(s, order_event("UPDATE", "10", status="MATCHED"))
    balances = s.balances()
    assert balances.collateral == D("96.00") and balances.tokens[YES] == D("10")
    assert s.open_orders(COND) == []


def test_sell_fill_and_cancellation() -> None:
    s = store()
    s.replace_balances(Balances(collateral=D("0"), tokens={YES: D("10")}))
    s.record_placed(OpenOrder("0x1", COND, YES, "SELL", D("0.40"), D("10")), "live")
    feed_user(s, order_event("UPDATE", "5", side="SELL"))
    assert s.balances() == Balances(collateral=D("2.00"), tokens={YES: D("5")})
    feed_user(s, order_event("CANCELLATION", "5", side="SELL"))
    assert s.open_orders() == []


def test_rest_order_list_replaces_one_market_only() -> None:
    s = store()
    other = "0x" + "cd" * 32
    s.track_market(other, ["333", "444"], D("0.01"), D("5"), False)
    s.record_placed(OpenOrder("0xa", COND, YES, "BUY", D("0.4"), D("5")), "live")
    s.record_placed(OpenOrder("0xb", other, "333", "BUY", D("0.4"), D("5")), "live")
    s.replace_orders(COND, [OpenOrder("0xc", COND, YES, "BUY", D("0.41"), D("5"))])
    assert [o.id for o in s.open_orders()] == ["0xb", "0xc"]


def test_matched_on_entry_is_not_recorded_as_open() -> None:
    s = store()
    s.record_placed(OpenOrder("0xa", COND, YES, "BUY", D("0.4"), D("5")), "matched")
    assert s.open_orders() == []


def test_an_older_rest_snapshot_cannot_drop_an_order_we_just_placed() -> None:
    clock = FakeClock()
    s = ObservedStore(clock=clock)
    s.track_market(COND, [YES, NO], D("0.01"), D("5"), False)
    as_of = s.now()  # the resync starts reading open orders...
    clock.t = 1.0
    s.record_placed(OpenOrder("0xnew", COND, YES, "BUY", D("0.4"), D("5")), "live")  # ...we place meanwhile
    s.replace_orders(None, [], as_of=as_of)  # ...and the (older) answer does not list it
    assert [o.id for o in s.open_orders()] == ["0xnew"], "dropping it would make the next plan place it twice"
    clock.t = 2.0
    s.replace_orders(None, [], as_of=s.now())  # a snapshot taken after the placement is the truth
    assert s.open_orders() == []


def test_an_older_rest_snapshot_cannot_resurrect_a_cancelled_order() -> None:
    clock = FakeClock()
    s = ObservedStore(clock=clock)
    s.track_market(COND, [YES, NO], D("0.01"), D("5"), False)
    order = OpenOrder("0xold", COND, YES, "BUY", D("0.4"), D("5"))
    s.replace_orders(None, [order], as_of=s.now())
    as_of = s.now()
    clock.t = 1.0
    s.record_canceled(["0xold"])
    s.replace_orders(None, [order], as_of=as_of)
    assert s.open_orders() == []


def test_balances_from_before_a_fill_are_not_adopted() -> None:
    clock = FakeClock()
    s = ObservedStore(clock=clock)
    s.track_market(COND, [YES, NO], D("0.01"), D("5"), False)
    s.replace_balances(Balances(collateral=D("100"), tokens={YES: D("0")}))
    s.record_placed(OpenOrder("0x1", COND, YES, "BUY", D("0.40"), D("10")), "live")
    as_of = s.now()
    clock.t = 1.0
    feed_user(s, order_event("UPDATE", "5"))
    s.replace_balances(Balances(collateral=D("100"), tokens={YES: D("0")}), as_of=as_of)
    assert s.balances().collateral == D("98.00")


def test_a_fill_reported_after_a_not_found_cancel_still_moves_balances() -> None:
    s = store()
    s.replace_balances(Balances(collateral=D("100"), tokens={YES: D("0")}))
    s.record_placed(OpenOrder("0x1", COND, YES, "BUY", D("0.40"), D("10")), "live")
    s.record_canceled(["0x1"])  # the exchange said "not found": it had just filled
    feed_user(s, order_event("UPDATE", "10", status="MATCHED"))
    feed_user(s, order_event("UPDATE", "10", status="MATCHED"))  # delivered twice
    assert s.balances() == Balances(collateral=D("96.00"), tokens={YES: D("10")})
    assert s.open_orders() == [], "the fill does not bring the order back"


def test_an_order_first_seen_on_the_stream_counts_all_its_fills() -> None:
    s = store()
    s.replace_balances(Balances(collateral=D("100"), tokens={YES: D("0")}))
    # Our placement's answer is still in flight; the stream already reports a fill.
    feed_user(s, order_event("UPDATE", "4"))
    assert s.balances().tokens[YES] == D("4") and s.balances().collateral == D("98.40")


def test_rules_come_from_rest_not_from_the_stream() -> None:
    from controller.venue.wire_ws import TickSizeChangeEvent

    s = store()
    assert s.apply_market(TickSizeChangeEvent(YES, COND, D("0.01"), D("0.001"), None)) == {COND}
    assert s.tick_size(COND) == D("0.01"), "a tick_size_change only wakes the market"
    assert not s.update_rules(COND, D("0.01"), D("5"), False), "a REST read showing no change changes nothing"
    assert s.update_rules(COND, D("0.001"), D("5"), False) and s.tick_size(COND) == D("0.001")
    assert s.snapshot([COND]).markets[COND].tick_size == D("0.001")
