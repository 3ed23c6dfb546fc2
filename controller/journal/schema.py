"""The journal's tables and their versioned migrations, for SQLite and PostgreSQL.

One list of migrations per dialect, applied in order and recorded in
``journal_schema``; the two dialects hold the same tables and columns (decimals are
exact: TEXT in SQLite, NUMERIC in PostgreSQL; times are epoch seconds). A database
written by a newer bandctl (a higher version) is refused, never guessed at. DDL text
only: running it is the store's job.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]


def _tables(text: str, decimal: str, time: str, serial: str) -> list[str]:
    return [s.strip().format(decimal=decimal, time=time, serial=serial) for s in text.split(";") if s.strip()]


_V1 = """
CREATE TABLE fills (
    trade_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    role TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    side TEXT NOT NULL,
    price {decimal} NOT NULL,
    size {decimal} NOT NULL,
    fee {decimal} NOT NULL,
    status TEXT NOT NULL,
    match_time {time},
    event_time {time},
    fill_time {time} NOT NULL,
    source TEXT NOT NULL,
    transaction_hash TEXT NOT NULL,
    first_seen_at {time} NOT NULL,
    updated_at {time} NOT NULL,
    PRIMARY KEY (trade_id, order_id)
);
CREATE INDEX fills_by_time ON fills (fill_time);
CREATE INDEX fills_by_match_time ON fills (match_time);
CREATE TABLE actions (
    id {serial},
    at {time} NOT NULL,
    name TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    action TEXT NOT NULL,
    order_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price {decimal},
    size {decimal},
    reason_code TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX actions_by_time ON actions (at);
CREATE TABLE mids (
    condition_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    at {time} NOT NULL,
    mid {decimal} NOT NULL
);
CREATE INDEX mids_by_market ON mids (condition_id, at);
CREATE TABLE markets (
    condition_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    quoted_token TEXT NOT NULL,
    other_token TEXT NOT NULL,
    updated_at {time} NOT NULL
)
"""

MIGRATIONS: dict[Dialect, list[list[str]]] = {
    "sqlite": [_tables(_V1, "TEXT", "REAL", "INTEGER PRIMARY KEY AUTOINCREMENT")],
    "postgresql": [_tables(_V1, "NUMERIC", "DOUBLE PRECISION", "BIGSERIAL PRIMARY KEY")],
}

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS journal_schema (version INTEGER NOT NULL, applied_at {time} NOT NULL)"


def version_table(dialect: Dialect) -> str:
    return VERSION_TABLE.format(time="REAL" if dialect == "sqlite" else "DOUBLE PRECISION")


def latest_version(dialect: Dialect) -> int:
    return len(MIGRATIONS[dialect])
