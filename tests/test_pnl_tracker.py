"""The in-memory tracker agrees with PnL from the journal, merges sightings like it, and never raises on bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_journal_support import COND, NO, YES, maker_order, rest_trade, ws_trade

from controller.journal import (
    MarketRecord,
    PnlTracker,
    Source,
    TradeRecord,
    fills_from_rest,
    fills_from_trade,
    open_journal,
)
from controller.journal.query import journal_pnl

D = Decimal
MARKET = MarketRecord("btc", COND, YES, NO)
T0 = 1_700_000_000


def sightings() -> list[TradeRecord]:
    buy = rest_trade("a", match_time=T0, makers=[maker_order("0xa", side="BUY", price="0.40", size="10")])
    sell = rest_trade("b", match_time=T0 + 10, makers=[maker_order("0xb", side="SELL", price="0.50", size="4")])
    no = rest_trade(
        "c", match_time=T0 + 20, makers=[maker_order("0xc", side="BUY", price="0.45", size="5", token=NO, outcome="No")]
    )
    failed = ws_trade(
        "d", status="MATCHED", match_time=T0 + 30, makers=[maker_order("0xd", side="BUY", price="0.1", size="50")]
    )
    records = [f for row in (buy, sell, no) for f in fills_from_rest(row, seen_at=T0 + 40)]
    records += fills_from_trade(failed, source=Source.WEBSOCKET, seen_at=T0 + 31)
    records += fills_from_trade({**failed, "status": "FAILED"}, source=Source.WEBSOCKET, seen_at=T0 + 32)
    return records + records[:2]  # seen twice


def test_the_tracker_agrees_with_the_journal(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    journal.record_market("btc", COND, YES, NO)
    tracker = PnlTracker([MARKET])
    for record in sightings():
        journal.record_trade(record)
        tracker.add(record)
    journal.record_mid(COND, YES, D("0.47"), at=T0 + 50)
    assert journal.flush(10)
    from_journal = journal_pnl(journal, now=T0 + 60)
    from_memory = tracker.report({COND: D("0.47")}, now=T0 + 60)
    (a,), (b,) = from_journal.markets, from_memory.markets
    assert (a.position, a.average_cost, a.realized, a.unrealized, a.volume, a.fills) == (
        b.position,
        b.average_cost,
        b.realized,
        b.unrealized,
        b.volume,
        b.fills,
    )
    assert b.position == D("1") and b.fills == 3  # 10 − 4 − 5; the FAILED fill is gone
    assert from_memory.total.realized == from_journal.total.realized
    journal.close(10)


def test_a_seeded_tracker_ignores_repeats_and_sees_a_late_failure(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    pending = rest_trade(
        "e",
        match_time=T0 + 35,
        status="TRADE_STATUS_MATCHED",
        makers=[maker_order("0xe", side="BUY", price="0.40", size="10")],
    )
    records = sightings() + fills_from_rest(pending, seen_at=T0 + 36)
    journal.write_trades(records)
    tracker = PnlTracker([MARKET])
    tracker.seed(journal.fills())
    assert tracker.add_all(records) == 0  # nothing new
    assert tracker.market(COND, mid=D("0.5"), now=T0 + 100).position == D("11")
    late = fills_from_rest({**pending, "status": "TRADE_STATUS_FAILED"}, seen_at=T0 + 99)
    assert tracker.add_all(late) == 1
    assert tracker.market(COND, mid=D("0.5"), now=T0 + 100).position == D("1")  # the pending buy reversed
    journal.close(10)


def test_window_pnl_marks_the_opening_position_at_the_mid_then() -> None:
    tracker = PnlTracker([MARKET])
    tracker.add_all(
        fills_from_rest(
            rest_trade("a", match_time=T0, makers=[maker_order("0xa", side="BUY", price="0.40", size="10")]), seen_at=T0
        )
    )
    tracker.observe_mid(COND, YES, D("0.45"), T0 + 100)
    tracker.observe_mid(COND, NO, D("0.70"), T0 + 3_600)  # the NO mid: YES at 0.30
    m = tracker.market(COND, mid=D("0.30"), now=T0 + 7_200, since=T0 + 200)
    assert m.fills == 0 and m.realized == 0
    assert m.opening_unrealized == D("0.50") and m.unrealized == D("-1.00")
    assert m.window_pnl == D("-1.50")  # what a loss limit over the window sees


def test_malformed_exchange_trades_are_counted_not_raised(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    assert journal.record_exchange_trade({"id": "x"}, Source.WEBSOCKET) == []
    assert journal.record_exchange_trade("nope", Source.REST) == []  # type: ignore[arg-type]
    assert len(journal.record_exchange_trade(rest_trade("ok"), Source.REST)) == 1
    assert journal.malformed == 2
    assert journal.flush(10) and len(journal.fills()) == 1
    journal.close(10)


def test_add_unseen_counts_new_fills_only_not_repeats_or_status_changes() -> None:
    tracker = PnlTracker([MARKET])
    pending = rest_trade(
        "p",
        match_time=T0,
        status="TRADE_STATUS_MATCHED",
        makers=[maker_order("0xp", side="BUY", price="0.4", size="5")],
    )
    first = fills_from_rest(pending, seen_at=T0 + 1)
    assert tracker.add_unseen(first) == 1
    assert tracker.add_unseen(first) == 0  # the trade history repeats what the user channel said
    confirmed = fills_from_rest({**pending, "status": "TRADE_STATUS_CONFIRMED"}, seen_at=T0 + 2)
    assert tracker.add_unseen(confirmed) == 0  # news for PnL, but not a missed fill
    assert tracker.add_all(confirmed) == 0, "the confirmation was taken in"
