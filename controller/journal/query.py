"""Read a journal (a running ``Journal`` or a read-only ``Store``) into the PnL functions' inputs.

The thin shell between the database and the pure ``pnl`` functions: it reads fills,
mids, markets and the names the controller used in its order actions, and hands them
over. It writes nothing and decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from controller.journal.pnl import MAX_MID_AGE, PnlReport, compute_pnl
from controller.journal.records import Fill, MarketRecord, MidSample


class JournalReader(Protocol):
    def fills(self, since: float | None = None) -> list[Fill]: ...
    def mids(self, since: float | None = None) -> list[MidSample]: ...
    def markets(self) -> list[MarketRecord]: ...
    def action_names(self) -> dict[str, str]: ...
    def action_counts(self, since: float | None = None) -> list[tuple[str, str, str, int]]: ...


@dataclass(frozen=True)
class JournalData:
    fills: list[Fill]
    mids: list[MidSample]
    markets: list[MarketRecord]
    names: dict[str, str]


def read_journal(reader: JournalReader, *, mids_since: float | None = None) -> JournalData:
    """Everything PnL needs. Fills are read whole (positions need their history); mids
    from ``mids_since`` (less a margin for the mid in force then) when given."""
    names = reader.action_names()
    markets = reader.markets()
    names.update({m.condition_id: m.name for m in markets})
    mids = reader.mids(None if mids_since is None else mids_since - MAX_MID_AGE)
    return JournalData(fills=reader.fills(), mids=mids, markets=markets, names=names)


def journal_pnl(
    reader: JournalReader,
    *,
    now: float,
    since: float | None = None,
    marks: Mapping[str, Decimal] | None = None,
) -> PnlReport:
    data = read_journal(reader)
    return compute_pnl(data.fills, data.mids, now=now, since=since, markets=data.markets, names=data.names, marks=marks)
