"""The fill journal and PnL: what the account bought and sold, and what it made.

Every order action and every fill of ours is written to an embedded SQLite database
(``<state dir>/journal.sqlite`` by default) or, for fleets, to PostgreSQL
(``postgresql://…``), by one writer thread that never blocks the reconcile path. PnL is
computed from the journal by pure functions (``pnl``). This package never talks to the
exchange: trade history pages for ``backfill`` come from the caller.

    journal = open_journal(None, state_dir)            # or "postgresql://user@host/db"
    journal.record_trades(fills_from_rest(row, seen_at=time.time()))
    backfill(journal, fetch_page)                       # after a restart
    journal.close(5.0)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from controller.journal.backfill import BackfillResult, backfill, backfill_start
from controller.journal.convert import fills_from_rest, fills_from_trade, fills_from_user_event, taker_fee
from controller.journal.dsn import is_postgres, redact_dsn
from controller.journal.records import (
    Action,
    ActionRecord,
    Fill,
    MarketRecord,
    MidSample,
    Role,
    Source,
    TradeRecord,
    TradeStatus,
)
from controller.journal.sampler import MidSampler
from controller.journal.store import JournalError, Store
from controller.journal.tracker import PnlTracker
from controller.journal.writer import DEFAULT_CAPACITY, Journal

DEFAULT_FILENAME = "journal.sqlite"

__all__ = [
    "Action",
    "ActionRecord",
    "BackfillResult",
    "Fill",
    "Journal",
    "JournalError",
    "MarketRecord",
    "MidSample",
    "MidSampler",
    "PnlTracker",
    "Role",
    "Source",
    "Store",
    "TradeRecord",
    "TradeStatus",
    "backfill",
    "backfill_start",
    "fills_from_rest",
    "fills_from_trade",
    "fills_from_user_event",
    "is_postgres",
    "journal_target",
    "open_journal",
    "open_store",
    "redact_dsn",
    "taker_fee",
]


def journal_target(target: str | None, state_dir: str) -> str:
    """Where the journal lives: ``target`` as given, or ``<state_dir>/journal.sqlite``."""
    if target:
        return target
    return os.path.join(state_dir, DEFAULT_FILENAME)


def open_journal(
    target: str | None,
    state_dir: str,
    *,
    capacity: int = DEFAULT_CAPACITY,
    clock: Callable[[], float] = time.time,
) -> Journal:
    """Open (creating and migrating as needed) the journal and start its writer thread.

    Raises :class:`JournalError` (one line, no password) when it cannot be opened.
    """
    where = journal_target(target, state_dir)
    return Journal(lambda: Store.open(where), capacity=capacity, clock=clock)


def open_store(target: str | None, state_dir: str) -> Store:
    """A read connection to an existing journal (``bandctl pnl``, ``report``); never creates one."""
    store = Store.open(journal_target(target, state_dir), create=False)
    try:
        store.check_readable()
    except JournalError:
        store.close()
        raise
    return store
