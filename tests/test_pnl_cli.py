"""``bandctl pnl``: JSON that validates against schemas/pnl.schema.json, a table, CSV, windows and clear errors."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from test_journal_support import COND
from test_report import START, demo_journal

from controller.cli.pnl import main as cli
from controller.cli.pnl import parse_since
from controller.journal.document import money
from controller.schemas import load_schema

SCHEMA = jsonschema.Draft202012Validator(load_schema("pnl.schema.json"))


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("state")
    demo_journal(directory / "journal.sqlite")
    return directory


def test_json_follows_the_schema_and_totals_add_up(state_dir: Path) -> None:
    code, out, _ = _run("pnl", "--state-dir", str(state_dir), "-o", "json")  # the default journal.sqlite
    assert code == 0
    document = json.loads(out)
    SCHEMA.validate(document)
    markets = document["markets"]
    assert [m["name"] for m in markets] == ["btc", "rain"]
    for key in ("realizedPnl", "unrealizedPnl", "fees", "volume"):
        assert sum(Decimal(m[key]) for m in markets) == Decimal(document["total"][key])
    assert document["total"]["fills"] == sum(m["fills"] for m in markets) > 0
    assert document["since"] is None and document["costMethod"] == "average"


def test_the_schema_refuses_floats_and_missing_fields(state_dir: Path) -> None:
    _, out, _ = _run("pnl", "--state-dir", str(state_dir), "-o", "json")
    document = json.loads(out)
    document["total"]["realizedPnl"] = 1.5
    assert not SCHEMA.is_valid(document)
    del document["markets"][0]["position"]
    assert not SCHEMA.is_valid(document)


def test_since_narrows_the_window_but_not_the_position(state_dir: Path) -> None:
    whole = json.loads(_run("pnl", "--state-dir", str(state_dir), "-o", "json")[1])
    middle = datetime.fromtimestamp(START + 900, UTC).isoformat().replace("+00:00", "Z")
    part = json.loads(_run("pnl", "--state-dir", str(state_dir), "-o", "json", "--since", middle)[1])
    SCHEMA.validate(part)
    assert 0 < part["total"]["fills"] < whole["total"]["fills"]
    assert part["markets"][0]["position"] == whole["markets"][0]["position"]
    assert part["since"] == middle


def test_table_and_csv_carry_the_same_numbers(state_dir: Path) -> None:
    document = json.loads(_run("pnl", "--state-dir", str(state_dir), "-o", "json")[1])
    code, table, _ = _run("pnl", "--state-dir", str(state_dir))
    assert code == 0
    header, *rows = table.splitlines()
    assert header.split()[:2] == ["NAME", "POSITION"] and rows[-1].startswith("TOTAL")
    assert document["total"]["realizedPnl"] in rows[-1]
    code, text, _ = _run("pnl", "--state-dir", str(state_dir), "-o", "csv")
    parsed = list(csv.DictReader(io.StringIO(text)))
    btc = next(r for r in parsed if r["name"] == "btc")
    assert btc["condition_id"] == COND and btc["realized"] == document["markets"][0]["realizedPnl"]
    assert parsed[-1]["name"] == "TOTAL" and parsed[-1]["fills"] == str(document["total"]["fills"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--journal", "/nonexistent/journal.sqlite"], "no journal at /nonexistent/journal.sqlite"),
        (["--since", "yesterday"], "expected a duration like 24h"),
        (["--since", "2026-01-01T00:00:00"], "needs a zone"),
    ],
)
def test_errors_are_one_line_and_exit_2(state_dir: Path, argv: list[str], message: str) -> None:
    code, out, err = _run("pnl", "--state-dir", str(state_dir), *argv)
    assert code == 2 and out == "" and message in err and err.strip().count("\n") == 0


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite").write_bytes(b"not a database at all, just text" * 10)
    code, _, err = _run("pnl", "--state-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0


def test_since_durations_and_money_strings() -> None:
    assert parse_since("24h", 100_000.0) == 100_000.0 - 86_400
    assert parse_since("1h30m", 10_000.0) == 10_000.0 - 5_400
    assert parse_since(None, 1.0) is None
    assert money(Decimal("-0.0000001")) == "0"
    assert money(Decimal("1.23456789")) == "1.234568"
    assert money(Decimal("100")) == "100" and money(Decimal("1E+2")) == "100"


def test_an_empty_journal_prints_zeros(tmp_path: Path) -> None:
    from controller.journal import open_journal

    open_journal(None, str(tmp_path)).close(10)
    code, out, _ = _run("pnl", "--state-dir", str(tmp_path), "-o", "json")
    document = json.loads(out)
    SCHEMA.validate(document)
    assert code == 0 and document["markets"] == [] and document["total"]["fills"] == 0
    code, out, _ = _run("pnl", "--state-dir", str(tmp_path))
    assert code == 0 and out.splitlines()[-1].split() == ["TOTAL", "0", "0", "0", "0", "0", "0"]


def test_window_pnl_is_the_value_change_over_the_window(state_dir: Path) -> None:
    from controller.journal import open_store
    from controller.journal.pnl import pnl_series
    from controller.journal.query import read_journal

    whole = json.loads(_run("pnl", "--state-dir", str(state_dir), "-o", "json")[1])
    for m in whole["markets"]:
        assert Decimal(m["windowPnl"]) == Decimal(m["realizedPnl"]) + Decimal(m["unrealizedPnl"])
    middle = START + 900
    since = datetime.fromtimestamp(middle, UTC).isoformat().replace("+00:00", "Z")
    late = json.loads(_run("pnl", "--state-dir", str(state_dir), "-o", "json", "--since", since)[1])
    # The value made up to the middle, from the PnL path, plus the window's is the whole run's.
    store = open_store(None, str(state_dir))
    try:
        data = read_journal(store)
    finally:
        store.close()
    path = pnl_series(data.fills, data.mids, markets=data.markets)[COND]
    at_middle = [p.pnl for p in path if p.at <= middle][-1]
    window = Decimal(late["total"]["windowPnl"])
    assert window != Decimal(late["total"]["realizedPnl"]) + Decimal(late["total"]["unrealizedPnl"])
    assert abs(at_middle + window - Decimal(whole["total"]["windowPnl"])) < Decimal("0.000002")
