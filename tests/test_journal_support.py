"""Shared pieces for the journal tests: both backends as one fixture, trade objects as the exchange writes them.

Imported by the other ``test_journal*`` / ``test_pnl*`` modules (it holds no tests).
PostgreSQL: ``BANDCTL_TEST_POSTGRES_DSN`` when set, else ``.ci/postgres.sh`` starts a
throw-away server from the distribution's binaries (without installing anything); the
PostgreSQL cases skip, saying why, only when neither gives a server.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DSN_ENV = "BANDCTL_TEST_POSTGRES_DSN"

COND = "0x" + "ab" * 32
YES = "1001"
NO = "1002"
OWNER = "11111111-2222-3333-4444-555555555555"  # our API key (an id, not a secret)
OTHER = "99999999-8888-7777-6666-555555555555"
OUR_ADDRESS = "0x00000000000000000000000000000000000000a1"

_server: dict[str, Any] = {}


def postgres_dsn() -> str:
    """The test server's DSN, starting one on first use; pytest.skip with the reason when impossible."""
    if "dsn" in _server:
        return str(_server["dsn"])
    if "skip" in _server:
        pytest.skip(_server["skip"])
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        try:
            done = subprocess.run(
                ["bash", str(ROOT / ".ci" / "postgres.sh")],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "BANDCTL_PG_NO_INSTALL": "1"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _server["skip"] = f"no PostgreSQL server: .ci/postgres.sh failed ({exc})"
            pytest.skip(_server["skip"])
        if done.returncode != 0 or not done.stdout.strip():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            _server["skip"] = f"no PostgreSQL server: set {DSN_ENV} or install postgresql ({last})"
            pytest.skip(_server["skip"])
        dsn = done.stdout.strip().splitlines()[-1]
    _server["dsn"] = dsn
    return dsn


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty journal location on each backend: a file, or a schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite")
        return
    import psycopg

    dsn = postgres_dsn()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def maker_order(
    order_id: str,
    *,
    owner: str = OWNER,
    side: str = "SELL",
    price: str = "0.5",
    size: str = "10",
    token: str = YES,
    outcome: str = "Yes",
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "owner": owner,
        "maker_address": OUR_ADDRESS if owner == OWNER else "0x00000000000000000000000000000000000000b2",
        "matched_amount": size,
        "price": price,
        "fee_rate_bps": "0",
        "asset_id": token,
        "outcome": outcome,
        "side": side,
    }


def rest_trade(
    trade_id: str,
    *,
    trader_side: str = "MAKER",
    status: str = "TRADE_STATUS_CONFIRMED",
    match_time: int = 1_700_000_000,
    taker_order: str = "0x" + "0" * 63 + "t",
    side: str = "BUY",
    price: str = "0.5",
    size: str = "10",
    token: str = YES,
    outcome: str = "Yes",
    makers: list[dict[str, Any]] | None = None,
    fee_rate_bps: str = "0",
    owner: str = OWNER,
) -> dict[str, Any]:
    """A ``GET /data/trades`` row as production (and the emulator) writes it."""
    return {
        "id": trade_id,
        "taker_order_id": taker_order,
        "market": COND,
        "asset_id": token,
        "side": side,
        "size": size,
        "fee_rate_bps": fee_rate_bps,
        "price": price,
        "status": status,
        "match_time": str(match_time),
        "last_update": str(match_time),
        "outcome": outcome,
        "bucket_index": 0,
        "owner": owner,
        "maker_address": OUR_ADDRESS,
        "transaction_hash": "0x" + "e" * 64,
        "trader_side": trader_side,
        "err_msg": None,
        "maker_orders": makers if makers is not None else [maker_order("0x" + "0" * 63 + "m")],
    }


def ws_trade(
    trade_id: str, *, status: str = "MATCHED", timestamp_ms: int = 1_700_000_000_250, **kwargs: Any
) -> dict[str, Any]:
    """The same trade as a user-channel event."""
    item = rest_trade(trade_id, status=status, **kwargs)
    item.pop("err_msg")
    item.update({"event_type": "trade", "type": "TRADE", "trade_owner": item["owner"], "timestamp": str(timestamp_ms)})
    return item
