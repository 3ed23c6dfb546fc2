"""SQL access to one journal database: SQLite (stdlib ``sqlite3``, WAL) or PostgreSQL (psycopg 3).

Both dialects run the same statements (``?`` placeholders, rewritten for psycopg) over
the tables in ``schema``. Writing merges a sighting of a fill into the row already there
(a trade counts once; its status only moves forward; FAILED and CONFIRMED stick), in
one transaction per batch. A store is used by one thread at a time; the journal's
writer thread owns the writing one. Errors leave as :class:`JournalError`, one line,
with any password in a DSN removed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from controller.journal.dsn import is_postgres, redact_dsn, register_dsn_secrets
from controller.journal.records import (
    Action,
    ActionRecord,
    Fill,
    MarketRecord,
    MidPrune,
    MidSample,
    Role,
    Side,
    Source,
    TradeRecord,
    TradeStatus,
    merge_status,
)
from controller.journal.schema import MIGRATIONS, Dialect, latest_version, version_table
from controller.ops.redact import scrub

T = TypeVar("T")
Item = TradeRecord | ActionRecord | MidSample | MarketRecord | MidPrune

# Mids this close to a fill are kept by pruning: the markouts look 60 s ahead (and at the mid before).
KEEP_BEFORE_FILL = 60.0
KEEP_AFTER_FILL = 120.0

_FILL_COLUMNS = (
    "trade_id, order_id, role, condition_id, token_id, outcome, side, price, size, fee, status,"
    " match_time, event_time, fill_time, source, transaction_hash, first_seen_at, updated_at"
)


class JournalError(Exception):
    """The journal database cannot be opened, read or written. The message is one line."""


class Store:
    def __init__(self, connection: Any, dialect: Dialect, where: str) -> None:
        self._db = connection
        self.dialect = dialect
        self.where = where

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, target: str, *, create: bool = True) -> Store:
        if is_postgres(target):
            return cls._postgres(target)
        return cls._sqlite(target, create=create)

    @classmethod
    def _sqlite(cls, path: str, *, create: bool) -> Store:
        if not create and not os.path.exists(path):
            raise JournalError(f"no journal at {path}")
        try:
            if create:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=10000")
            _wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {path}: {_one_line(exc)}") from None
        return cls(db, "sqlite", path)

    @classmethod
    def _postgres(cls, dsn: str) -> Store:
        where = redact_dsn(dsn)
        register_dsn_secrets(dsn)
        try:
            import psycopg
        except ImportError:
            raise JournalError("a PostgreSQL journal needs psycopg 3: pip install 'psycopg[binary]'") from None
        try:
            db = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except Exception as exc:
            detail = _one_line(exc).replace(dsn, where)
            raise JournalError(f"cannot connect to the journal {where}: {detail}") from None
        return cls(db, "postgresql", where)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection must not raise on shutdown
            self._db.close()

    # ------------------------------------------------------------------ plumbing

    def _sql(self, statement: str) -> str:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._db.execute(self._sql(statement), tuple(params))
            return list(cursor.fetchall())
        except Exception as exc:
            raise JournalError(f"journal {self.where}: {_one_line(exc)}") from None

    def _transaction(self, work: Any) -> None:
        try:
            if self.dialect == "sqlite":
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    work()
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            else:
                with self._db.transaction():
                    work()
        except JournalError:
            raise
        except Exception as exc:
            raise JournalError(f"journal {self.where}: {_one_line(exc)}") from None

    def _run(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.execute(self._sql(statement), tuple(params))
        return list(cursor.fetchall()) if cursor.description else []

    # ------------------------------------------------------------------ schema

    def version(self) -> int:
        """The schema version in place; 0 when the database holds no journal (nothing is created)."""
        if self.dialect == "sqlite":
            exists = self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal_schema'")
        else:
            exists = self._rows("SELECT 1 WHERE to_regclass('journal_schema') IS NOT NULL")
        if not exists:
            return 0
        rows = self._rows("SELECT MAX(version) FROM journal_schema")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def migrate(self, now: float) -> int:
        """Bring the tables to the latest version; returns the version now in place."""

        def create_version_table() -> None:
            if self.dialect == "postgresql":
                self._run("SELECT pg_advisory_xact_lock(7243021)")
            self._run(version_table(self.dialect))

        self._transaction(create_version_table)
        have = self.version()
        latest = latest_version(self.dialect)
        if have > latest:
            raise JournalError(
                f"journal {self.where} has schema version {have}, newer than this bandctl understands ({latest})"
            )
        for version in range(have + 1, latest + 1):
            steps = MIGRATIONS[self.dialect][version - 1]

            def apply(steps: list[str] = steps, version: int = version) -> None:
                # Two controllers may start on one journal at once: the transaction holds the
                # database (SQLite) or an advisory lock (PostgreSQL), and the version is re-read in it.
                if self.dialect == "postgresql":
                    self._run("SELECT pg_advisory_xact_lock(7243021)")
                current = self._run("SELECT MAX(version) FROM journal_schema")[0][0]
                if current is not None and int(current) >= version:
                    return
                for statement in steps:
                    self._run(statement)
                self._run("INSERT INTO journal_schema (version, applied_at) VALUES (?, ?)", (version, now))

            self._transaction(apply)
        return latest

    def check_readable(self) -> None:
        have, latest = self.version(), latest_version(self.dialect)
        if have == 0:
            raise JournalError(f"{self.where} is not a bandctl journal (no journal tables)")
        if have > latest:
            raise JournalError(f"journal {self.where} has schema version {have}, newer than this bandctl ({latest})")

    # ------------------------------------------------------------------ writing

    def write(self, items: Iterable[Item], now: float) -> None:
        batch = list(items)
        if batch:
            self._transaction(lambda: self._write_all(batch, now))

    def _write_all(self, batch: list[Item], now: float) -> None:
        for item in batch:
            if isinstance(item, TradeRecord):
                self._merge_fill(item, now)
            elif isinstance(item, ActionRecord):
                self._run(
                    "INSERT INTO actions (at, name, condition_id, action, order_id, token_id, side, price, size,"
                    " reason_code, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.at,
                        item.name,
                        item.condition_id,
                        item.action.value,
                        item.order_id,
                        item.token_id,
                        item.side,
                        self._decimal(item.price),
                        self._decimal(item.size),
                        item.reason_code,
                        item.message,
                    ),
                )
            elif isinstance(item, MidPrune):
                self._run(
                    "DELETE FROM mids WHERE at < ? AND NOT EXISTS (SELECT 1 FROM fills f WHERE"
                    " f.condition_id = mids.condition_id AND f.fill_time BETWEEN mids.at - ? AND mids.at + ?)",
                    (item.before, KEEP_AFTER_FILL, KEEP_BEFORE_FILL),
                )
            elif isinstance(item, MidSample):
                self._run(
                    "INSERT INTO mids (condition_id, token_id, at, mid) VALUES (?, ?, ?, ?)",
                    (item.condition_id, item.token_id, item.at, self._decimal(item.mid)),
                )
            else:
                self._run("DELETE FROM markets WHERE condition_id = ?", (item.condition_id,))
                self._run(
                    "INSERT INTO markets (condition_id, name, quoted_token, other_token, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (item.condition_id, item.name, item.quoted_token, item.other_token, now),
                )

    def _merge_fill(self, r: TradeRecord, now: float) -> None:
        old = self._run(
            "SELECT status, source, fill_time, transaction_hash FROM fills WHERE trade_id = ? AND order_id = ?",
            r.key,
        )
        if not old:
            self._run(
                f"INSERT INTO fills ({_FILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.trade_id,
                    r.order_id,
                    r.role.value,
                    r.condition_id,
                    r.token_id,
                    r.outcome,
                    r.side,
                    self._decimal(r.price),
                    self._decimal(r.size),
                    self._decimal(r.fee),
                    r.status.value,
                    r.match_time,
                    r.event_time,
                    r.fill_time,
                    r.source.value,
                    r.transaction_hash,
                    now,
                    now,
                ),
            )
            return
        status, source, fill_time, tx_hash = old[0]
        merged = merge_status(TradeStatus(status), r.status)
        # The WebSocket's millisecond timestamp beats REST's whole second for markouts.
        if source == Source.REST.value and r.source is Source.WEBSOCKET:
            fill_time = r.fill_time
        self._run(
            "UPDATE fills SET status = ?, fill_time = ?, transaction_hash = ?, updated_at = ?,"
            " event_time = ? WHERE trade_id = ? AND order_id = ?",
            (merged.value, fill_time, r.transaction_hash or tx_hash, now, r.event_time, *r.key),
        )

    def _decimal(self, value: Decimal | None) -> Any:
        if value is None:
            return None
        return str(value) if self.dialect == "sqlite" else value

    # ------------------------------------------------------------------ reading

    def fills(self, since: float | None = None) -> list[Fill]:
        where, params = ("WHERE fill_time >= ?", (since,)) if since is not None else ("", ())
        rows = self._rows(f"SELECT {_FILL_COLUMNS} FROM fills {where} ORDER BY fill_time, trade_id, order_id", params)
        return self._parsed("fills", lambda: [_fill(row) for row in rows])

    def actions(self, since: float | None = None) -> list[ActionRecord]:
        where, params = ("WHERE at >= ?", (since,)) if since is not None else ("", ())
        rows = self._rows(
            "SELECT name, condition_id, action, order_id, token_id, side, price, size, reason_code, message, at"
            f" FROM actions {where} ORDER BY at, id",
            params,
        )
        return self._parsed(
            "actions",
            lambda: [
                ActionRecord(
                    name=r[0],
                    condition_id=r[1],
                    action=Action(r[2]),
                    order_id=r[3],
                    token_id=r[4],
                    side=r[5],
                    price=None if r[6] is None else Decimal(str(r[6])),
                    size=None if r[7] is None else Decimal(str(r[7])),
                    reason_code=r[8],
                    message=r[9],
                    at=float(r[10]),
                )
                for r in rows
            ],
        )

    def mids(self, since: float | None = None) -> list[MidSample]:
        where, params = ("WHERE at >= ?", (since,)) if since is not None else ("", ())
        rows = self._rows(f"SELECT condition_id, token_id, at, mid FROM mids {where} ORDER BY at", params)
        return self._parsed("mids", lambda: [MidSample(r[0], r[1], Decimal(str(r[3])), float(r[2])) for r in rows])

    def _parsed(self, table: str, parse: Callable[[], list[T]]) -> list[T]:
        """Rows to values; a row no bandctl wrote (a bad decimal, an unknown status) is a one-line error."""
        try:
            return parse()
        except (ArithmeticError, ValueError, TypeError, IndexError) as exc:
            raise JournalError(f"journal {self.where}: a malformed row in {table} ({_one_line(exc)[:100]})") from None

    def markets(self) -> list[MarketRecord]:
        rows = self._rows("SELECT name, condition_id, quoted_token, other_token FROM markets ORDER BY name")
        return [MarketRecord(*r) for r in rows]

    def action_counts(self, since: float | None = None) -> list[tuple[str, str, str, int]]:
        """(condition id, action, reason code, count) of the order actions since ``since``."""
        where, params = ("WHERE at >= ?", (since,)) if since is not None else ("", ())
        rows = self._rows(
            f"SELECT condition_id, action, reason_code, COUNT(*) FROM actions {where}"
            " GROUP BY condition_id, action, reason_code ORDER BY condition_id, action, COUNT(*) DESC",
            params,
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]

    def action_names(self) -> dict[str, str]:
        """The manifest name the controller last used per market in its order actions."""
        rows = self._rows("SELECT condition_id, MAX(name) FROM actions GROUP BY condition_id")
        return {r[0]: r[1] for r in rows}

    def last_match_time(self) -> float | None:
        rows = self._rows("SELECT MAX(match_time) FROM fills")
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def oldest_unsettled_match_time(self, not_before: float) -> float | None:
        """The match time of the oldest fill still waiting for CONFIRMED or FAILED (since ``not_before``)."""
        rows = self._rows(
            "SELECT MIN(match_time) FROM fills WHERE status NOT IN (?, ?) AND match_time >= ?",
            (TradeStatus.CONFIRMED.value, TradeStatus.FAILED.value, not_before),
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])


def _wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch to WAL. Changing the journal mode skips the busy handler, so a journal another
    process is creating at this moment answers "locked": wait for it, briefly and boundedly."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _fill(row: tuple[Any, ...]) -> Fill:
    side: Side = "BUY" if row[6] == "BUY" else "SELL"
    record = TradeRecord(
        trade_id=row[0],
        order_id=row[1],
        role=Role(row[2]),
        condition_id=row[3],
        token_id=row[4],
        outcome=row[5],
        side=side,
        price=Decimal(str(row[7])),
        size=Decimal(str(row[8])),
        fee=Decimal(str(row[9])),
        status=TradeStatus(row[10]),
        match_time=None if row[11] is None else float(row[11]),
        event_time=None if row[12] is None else float(row[12]),
        seen_at=float(row[16]),
        source=Source(row[14]),
        transaction_hash=row[15],
    )
    # The stored fill time is the merged one (the WebSocket's when it was seen there).
    return Fill(record=record, first_seen_at=float(row[16]), updated_at=float(row[17]), fill_time=float(row[13]))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(text)[:300]
