"""The journal on both backends: a trade counts once, statuses only move forward, nothing blocks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_journal_support import COND, NO, OTHER, YES, journal_target, maker_order, rest_trade, ws_trade

from controller.journal import (
    Journal,
    JournalError,
    Role,
    Source,
    Store,
    TradeStatus,
    fills_from_rest,
    fills_from_trade,
    open_journal,
    open_store,
)
from controller.journal.dsn import redact_dsn
from controller.journal.store import Item

__all__ = ["journal_target"]  # the fixture, re-exported for pytest


def _clock() -> float:
    return 1_700_000_100.0


def test_one_trade_seen_on_both_channels_is_one_fill(journal_target: str, tmp_path: Path) -> None:
    journal = open_journal(journal_target, str(tmp_path), clock=_clock)
    ws = fills_from_trade(ws_trade("t-1"), source=Source.WEBSOCKET, seen_at=1.0)
    rest = fills_from_rest(rest_trade("t-1"), seen_at=2.0)
    journal.record_trades(ws + rest + ws)
    assert journal.flush(10)
    fills = journal.fills()
    assert len(fills) == 1
    fill = fills[0].record
    assert (fill.role, fill.side, fill.price, fill.size) == (Role.MAKER, "SELL", Decimal("0.5"), Decimal("10"))
    assert fill.status is TradeStatus.CONFIRMED  # MATCHED then CONFIRMED; the late MATCHED does not undo it
    assert fills[0].fill_time == pytest.approx(1_700_000_000.25)  # the WebSocket's millisecond time
    assert journal.close(10)


def test_status_only_moves_forward_and_failed_sticks(journal_target: str, tmp_path: Path) -> None:
    journal = open_journal(journal_target, str(tmp_path), clock=_clock)
    for status in ("MATCHED", "MINED", "MATCHED", "FAILED", "CONFIRMED", "MINED"):
        journal.record_trades(fills_from_trade(ws_trade("t-2", status=status), source=Source.WEBSOCKET, seen_at=1.0))
    assert journal.flush(10)
    (fill,) = journal.fills()
    assert fill.failed and fill.record.status is TradeStatus.FAILED
    journal.close(10)


def test_a_self_trade_is_two_fills_and_foreign_makers_are_not_ours(journal_target: str, tmp_path: Path) -> None:
    makers = [maker_order("0xours", price="0.5", size="4"), maker_order("0xtheirs", owner=OTHER, size="6")]
    row = rest_trade("t-3", trader_side="TAKER", taker_order="0xourtaker", makers=makers, fee_rate_bps="100")
    fills = fills_from_rest(row, seen_at=1.0)
    assert {(f.order_id, f.role) for f in fills} == {("0xourtaker", Role.TAKER), ("0xours", Role.MAKER)}
    taker = next(f for f in fills if f.role is Role.TAKER)
    assert taker.fee == Decimal("0.02500")  # 10 · 1 % · 0.5 · 0.5
    assert all(f.fee == 0 for f in fills if f.role is Role.MAKER)
    journal = open_journal(journal_target, str(tmp_path), clock=_clock)
    journal.record_trades(fills)
    journal.record_trades(fills)
    journal.close(10)
    reopened = open_journal(journal_target, str(tmp_path), clock=_clock)
    assert len(reopened.fills()) == 2
    assert reopened.last_trade_time() == 1_700_000_000
    reopened.close(10)


def test_actions_mids_and_markets_round_trip_exactly(journal_target: str, tmp_path: Path) -> None:
    journal = open_journal(journal_target, str(tmp_path), clock=_clock)
    journal.record_action(
        "btc",
        COND,
        "place",
        "0xabc",
        YES,
        "BUY",
        Decimal("0.4900"),
        Decimal("20.5"),
        "BelowMinAmount",
        "band 1 below its minimum",
        at=10.0,
    )
    journal.record_action("btc", COND, "reject", "", YES, "BUY", None, None, "InsufficientBalance", "no money", at=11.0)
    journal.record_mid(COND, YES, Decimal("0.505"), at=12.0)
    journal.record_market("btc", COND, YES, NO)
    journal.close(10)
    store = open_store(journal_target, str(tmp_path))
    try:
        place, reject = store.actions()
        assert place.price == Decimal("0.4900") and str(place.price) == "0.4900"
        assert place.size == Decimal("20.5") and place.reason_code == "BelowMinAmount"
        assert reject.action.value == "reject" and reject.price is None
        assert [(m.mid, m.at) for m in store.mids()] == [(Decimal("0.505"), 12.0)]
        assert [(m.name, m.quoted_token, m.other_token) for m in store.markets()] == [("btc", YES, NO)]
        assert store.action_names() == {COND: "btc"}
    finally:
        store.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    gate = threading.Event()
    path = str(tmp_path / "journal.sqlite")

    class SlowStore(Store):
        def write(self, items: Iterable[Item], now: float) -> None:
            gate.wait(30)
            super().write(items, now)

    def opener() -> Store:
        plain = Store.open(path)
        return SlowStore(plain._db, plain.dialect, plain.where)

    journal = Journal(opener, capacity=2, clock=_clock)
    trades = [
        f for i in range(10) for f in fills_from_rest(rest_trade(f"t-{i}", match_time=1_700_000_000 + i), seen_at=1)
    ]
    accepted = journal.record_trades(trades)  # returns at once although the writer is stuck
    assert accepted < len(trades)
    assert journal.dropped == len(trades) - accepted
    assert journal.gap_since is not None and journal.gap_since <= 1_700_000_009
    gate.set()
    assert journal.close(10)
    assert len(Store.open(path).fills()) == accepted


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sqlite")
    open_journal(path, str(tmp_path)).close(10)
    store = Store.open(path)
    store._db.execute("INSERT INTO journal_schema (version, applied_at) VALUES (99, 0)")
    store.close()
    with pytest.raises(JournalError, match="schema version 99, newer"):
        open_journal(path, str(tmp_path))


def test_reading_a_missing_journal_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        open_store(None, str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://bandctl:hunter2-secret@127.0.0.1:1/nothing?connect_timeout=1",
        "postgresql://bandctl:hunter2-secret@127.0.0.1:notaport/nothing",
        "postgresql://bandctl@127.0.0.1:1/nothing?password=hunter2-secret&bogus=1",
    ],
)
def test_a_bad_postgres_url_does_not_leak_its_password(dsn: str) -> None:
    with pytest.raises(JournalError) as caught:
        Store.open(dsn)
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_redacted_dsns() -> None:
    assert redact_dsn("postgresql://u:p@h:5/db?password=x") == "postgresql://u@h:5/db"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda t: t.pop("id"), "trade id"),
        (lambda t: t.update(status="TRADE_STATUS_WHATEVER"), "trade status"),
        (lambda t: t.update(maker_orders=[]), "no maker order of ours"),
        (lambda t: t["maker_orders"][0].update(price="1.5"), "between 0 and 1"),
        (lambda t: t["maker_orders"][0].update(matched_amount="0"), "positive"),
        (lambda t: t.update(trader_side="BOTH"), "trader_side"),
        (lambda t: t.update(maker_orders="nope"), "maker_orders"),
    ],
)
def test_malformed_trades_raise_one_line_wire_errors(mutate: Callable[[dict[str, Any]], object], problem: str) -> None:
    from controller.venue.wire import WireError

    row = rest_trade("t-9")
    mutate(row)
    with pytest.raises(WireError, match=problem) as caught:
        fills_from_rest(row, seen_at=1.0)
    assert "\n" not in str(caught.value)


def test_owner_field_decides_which_makers_are_ours() -> None:
    makers = [
        maker_order("0xa", owner=OTHER),
        maker_order("0xb"),
        maker_order("0xc", side="BUY", token=NO, outcome="No"),
    ]
    fills = fills_from_rest(rest_trade("t-4", makers=makers), seen_at=1.0)
    assert [(f.order_id, f.token_id, f.side) for f in fills] == [("0xb", YES, "SELL"), ("0xc", NO, "BUY")]


def test_controllers_starting_together_on_one_new_journal_both_open_it(journal_target: str, tmp_path: Path) -> None:
    barrier = threading.Barrier(4)
    opened: list[object] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait(10)
        try:
            opened.append(open_journal(journal_target, str(tmp_path)))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures and len(opened) == 4
    for journal in opened:
        assert isinstance(journal, Journal) and journal.close(10)
    store = Store.open(journal_target)
    try:
        assert store.version() == 1
        assert store._rows("SELECT COUNT(*) FROM journal_schema")[0][0] == 1
    finally:
        store.close()


def test_pruning_mids_keeps_every_markout(journal_target: str, tmp_path: Path) -> None:
    from controller.journal.query import journal_pnl

    t0 = 1_700_000_000
    journal = open_journal(journal_target, str(tmp_path), clock=_clock)
    journal.record_market("btc", COND, YES, NO)
    for second in range(1000):
        journal.record_mid(COND, YES, Decimal("0.40") + Decimal(second % 7) / 100, at=t0 + second)
    journal.record_trades(fills_from_rest(rest_trade("t-p", match_time=t0 + 500), seen_at=1.0))
    assert journal.flush(10)
    before = journal_pnl(journal, now=t0 + 2000)
    journal.prune_mids(t0 + 900)
    assert journal.flush(10)
    mids = journal.mids()
    assert 150 < len(mids) < 400  # 440..620 around the fill, and 900.. onwards
    assert journal_pnl(journal, now=t0 + 2000).markets[0].markouts == before.markets[0].markouts
    assert before.markets[0].markouts[2].fills == 1
    journal.close(10)


_STATUSES = ["MATCHED", "MINED", "RETRYING", "CONFIRMED", "FAILED"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(_STATUSES), st.booleans()), min_size=1, max_size=30))
def test_any_order_of_sightings_leaves_one_row_per_fill_with_the_merged_status(
    sightings: list[tuple[int, str, bool]],
) -> None:
    import tempfile

    from controller.journal.records import merge_status

    with tempfile.TemporaryDirectory() as directory:
        journal = open_journal(None, directory, clock=_clock)
        expected: dict[str, TradeStatus] = {}
        for trade, status, on_ws in sightings:
            trade_id = f"t-{trade}"
            if on_ws:
                records = fills_from_trade(ws_trade(trade_id, status=status), source=Source.WEBSOCKET, seen_at=1.0)
            else:
                records = fills_from_rest(rest_trade(trade_id, status="TRADE_STATUS_" + status), seen_at=1.0)
            journal.record_trades(records)
            old = expected.get(trade_id)
            expected[trade_id] = TradeStatus(status) if old is None else merge_status(old, TradeStatus(status))
        assert journal.close(10)
        store = Store.open(str(Path(directory) / "journal.sqlite"))
        try:
            assert {f.record.trade_id: f.record.status for f in store.fills()} == expected
        finally:
            store.close()


def test_taker_fees_follow_the_published_formula() -> None:
    from controller.journal import taker_fee

    assert taker_fee(Decimal("10"), Decimal("0.53"), Decimal("700")) == Decimal("0.17437")  # 10 · 0.07 · 0.53 · 0.47
    assert taker_fee(Decimal("10"), Decimal("0.5"), Decimal("700"), exponent=2) == Decimal("0.04375")
    assert taker_fee(Decimal("3"), Decimal("0.01"), Decimal("1")) == Decimal("0")  # rounds to 5 decimals
    assert taker_fee(Decimal("10"), Decimal("0.5"), Decimal("0")) == 0


def test_a_tampered_row_is_a_one_line_error(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sqlite")
    journal = open_journal(path, str(tmp_path), clock=_clock)
    journal.write_trades(fills_from_rest(rest_trade("t-x"), seen_at=1.0))
    journal.close(10)
    store = Store.open(path)
    store._db.execute("UPDATE fills SET price = 'lots'")
    with pytest.raises(JournalError, match="a malformed row in fills") as caught:
        store.fills()
    assert "\n" not in str(caught.value)
    store.close()


def test_close_on_a_stuck_database_gives_up_and_says_so(tmp_path: Path) -> None:
    gate = threading.Event()
    path = str(tmp_path / "journal.sqlite")

    class StuckStore(Store):
        def write(self, items: Iterable[Item], now: float) -> None:
            gate.wait(30)
            super().write(items, now)

    def opener() -> Store:
        plain = Store.open(path)
        return StuckStore(plain._db, plain.dialect, plain.where)

    journal = Journal(opener, clock=_clock)
    journal.record_trades(fills_from_rest(rest_trade("t-s"), seen_at=1.0))
    assert journal.close(0.2) is False  # not everything was written: the caller can log it
    gate.set()
    assert journal.record_trades(fills_from_rest(rest_trade("t-late"), seen_at=1.0)) == 0  # closed: refused
