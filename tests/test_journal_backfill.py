"""Backfill against hostile or odd trade-history pages, where it starts, and the mid sampler."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from test_journal_support import COND, YES, rest_trade, ws_trade

from controller.journal import MidSampler, Source, backfill, backfill_start, fills_from_trade, open_journal

T0 = 1_700_000_000


def pages(*chunks: list[Any]) -> tuple[Any, list[tuple[float, str]]]:
    """A fetcher over fixed pages (cursor = page index) that records what it was asked."""
    asked: list[tuple[float, str]] = []
    cursors = ["MA=="] + [f"c{i}" for i in range(1, len(chunks))]

    def fetch(after: float, cursor: str) -> tuple[list[Any], str]:
        asked.append((after, cursor))
        i = cursors.index(cursor)
        return chunks[i], cursors[i + 1] if i + 1 < len(chunks) else "LTE="

    return fetch, asked


def test_pages_are_followed_and_malformed_rows_skipped(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    fetch, asked = pages(
        [rest_trade("a", match_time=T0), "not an object", {"id": "broken"}],
        [rest_trade("b", match_time=T0 + 5), rest_trade("a", match_time=T0)],
        [],
    )
    handed: list[str] = []
    result = backfill(
        journal, fetch, clock=lambda: T0 + 100.0, on_fills=lambda fs: handed.extend(f.trade_id for f in fs)
    )
    assert handed == ["a", "b", "a"]  # every page's fills, for a tracker (which merges repeats itself)
    assert result.complete and result.pages == 3 and result.rows == 5 and result.rejected == 2
    assert [c for _, c in asked] == ["MA==", "c1", "c2"] and asked[0][0] == 0.0  # an empty journal reads it all
    assert sorted(f.record.trade_id for f in journal.fills()) == ["a", "b"]
    assert journal.close(10)


def test_a_cursor_loop_stops_instead_of_spinning(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    calls = []

    def looping(after: float, cursor: str) -> tuple[list[Any], str]:
        calls.append(cursor)
        return [rest_trade(f"t{len(calls)}", match_time=T0)], "c1"

    result = backfill(journal, looping, clock=lambda: T0 + 100.0)
    assert not result.complete and calls == ["MA==", "c1"]
    journal.close(10)


def test_start_reaches_back_to_unsettled_fills_and_drops(tmp_path: Path) -> None:
    journal = open_journal(None, str(tmp_path))
    settled = fills_from_trade(
        ws_trade("s", status="CONFIRMED", match_time=T0 + 500), source=Source.WEBSOCKET, seen_at=1
    )
    pending = fills_from_trade(ws_trade("p", status="MATCHED", match_time=T0 + 100), source=Source.WEBSOCKET, seen_at=1)
    journal.write_trades(settled + pending)
    now = T0 + 1000.0
    assert backfill_start(journal, now=now, overlap=60) == T0 + 100 - 60  # the MATCHED one may have FAILED since
    journal.gap_since = T0 + 20.0  # a trade the full queue dropped
    assert backfill_start(journal, now=now, overlap=60) == T0 + 20 - 60
    fetch, _ = pages([])
    backfill(journal, fetch, clock=lambda: now)
    assert journal.gap_since is None  # a complete read from before it covered the drop
    assert backfill_start(journal, now=now, overlap=60) == T0 + 40
    journal.close(10)


def test_the_sampler_records_at_most_once_a_second_and_a_heartbeat_when_still() -> None:
    recorded: list[tuple[str, Decimal, float]] = []

    class Recorder:
        def record_mid(self, condition_id: str, token_id: str, mid: Decimal, at: float | None = None) -> bool:
            assert at is not None
            recorded.append((condition_id, mid, at))
            return True

    sampler = MidSampler(Recorder(), min_interval=1.0, heartbeat=10.0)
    offers = [(0.0, "0.50"), (0.4, "0.51"), (1.0, "0.51"), (1.5, "0.52"), (2.0, "0.52"), (11.9, "0.52"), (12.0, "0.52")]
    for at, mid in offers:
        sampler.observe(COND, YES, Decimal(mid), at=at)
    assert not sampler.observe(COND, YES, None, at=50.0)
    assert [(m, at) for _, m, at in recorded] == [
        (Decimal("0.50"), 0.0),
        (Decimal("0.51"), 1.0),
        (Decimal("0.52"), 2.0),  # changed: a second after the last sample is enough
        (Decimal("0.52"), 12.0),  # unchanged: only the heartbeat, 10 s later
    ]
