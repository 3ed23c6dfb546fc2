"""A PnL report as the documents ``bandctl pnl`` prints: JSON (``schemas/pnl.schema.json``), a table, CSV.

Decimals leave as strings in collateral units, rounded to the collateral's 6 decimals
(prices and per-share markouts too), so scripts never meet a float. Formatting only:
no PnL is computed here.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from controller.journal.pnl import Markout, PnlReport

_QUANTUM = Decimal("0.000001")


def money(value: Decimal) -> str:
    """A decimal as a plain string with at most 6 decimals ("-0" becomes "0")."""
    text = format(value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _horizon(seconds: float) -> str:
    return f"{seconds:g}s"


def _markout(m: Markout) -> dict[str, Any]:
    return {"perShare": None if m.per_share is None else money(m.per_share), "fills": m.fills}


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pnl_document(report: PnlReport) -> dict[str, Any]:
    return {
        "asOf": _iso(report.as_of),
        "since": _iso(report.since),
        "costMethod": "average",
        "markets": [
            {
                "name": m.name,
                "conditionId": m.condition_id,
                "tokenId": m.token_id,
                "position": money(m.position),
                "averageCost": money(m.average_cost),
                "mid": None if m.mid is None else money(m.mid),
                "realizedPnl": money(m.realized),
                "unrealizedPnl": money(m.unrealized),
                "windowPnl": money(m.window_pnl),
                "fees": money(m.fees),
                "volume": money(m.volume),
                "fills": m.fills,
                "markouts": {_horizon(x.horizon): _markout(x) for x in m.markouts},
            }
            for m in report.markets
        ],
        "total": {
            "realizedPnl": money(report.total.realized),
            "unrealizedPnl": money(report.total.unrealized),
            "windowPnl": money(report.total.window_pnl),
            "fees": money(report.total.fees),
            "volume": money(report.total.volume),
            "fills": report.total.fills,
        },
    }


def pnl_json(report: PnlReport) -> str:
    return json.dumps(pnl_document(report), indent=2)


_COLUMNS = ("NAME", "POSITION", "AVG COST", "MID", "REALIZED", "UNREALIZED", "WINDOW", "FEES", "VOLUME", "FILLS")


def _rows(report: PnlReport) -> tuple[list[str], list[list[str]]]:
    horizons = [_horizon(x.horizon) for x in report.markets[0].markouts] if report.markets else []
    header = [*_COLUMNS, *(f"MARKOUT {h}" for h in horizons)]
    rows = []
    for m in report.markets:
        rows.append(
            [
                m.name or m.condition_id[:12],
                money(m.position),
                money(m.average_cost),
                "-" if m.mid is None else money(m.mid),
                money(m.realized),
                money(m.unrealized),
                money(m.window_pnl),
                money(m.fees),
                money(m.volume),
                str(m.fills),
                *("-" if x.per_share is None else money(x.per_share) for x in m.markouts),
            ]
        )
    t = report.total
    rows.append(
        [
            "TOTAL",
            "",
            "",
            "",
            money(t.realized),
            money(t.unrealized),
            money(t.window_pnl),
            money(t.fees),
            money(t.volume),
            str(t.fills),
            *("" for _ in horizons),
        ]
    )
    return header, rows


def pnl_table(report: PnlReport) -> str:
    header, rows = _rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def pnl_csv(report: PnlReport) -> str:
    """One row per market plus a ``TOTAL`` row; the condition id is its own column."""
    header, rows = _rows(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [h.lower().replace(" ", "_") for h in header]
    writer.writerow([columns[0], "condition_id", *columns[1:]])
    ids = [m.condition_id for m in report.markets] + [""]
    for row, condition_id in zip(rows, ids, strict=True):
        writer.writerow([row[0], condition_id, *("" if cell == "-" else cell for cell in row[1:])])  # unknown: empty
    return out.getvalue()
