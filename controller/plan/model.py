"""The plan's types: what the planner returns and what ``diff``/``apply``/the reconciler consume.

Plain frozen data plus its JSON form (``schemas/plan.schema.json``); no decisions are
taken here. Semantics of every field: ``docs/bands.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from controller.observe.state import OpenOrder, Side
from controller.plan.ticks import format_decimal

QuoteSide = Literal["bid", "ask"]
SIDES: tuple[QuoteSide, ...] = ("bid", "ask")


@dataclass(frozen=True)
class Placement:
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    band: int
    reason: str
    quote_side: QuoteSide = "bid"  # which side of the quoted book this liquidity adds to


@dataclass(frozen=True)
class Cancellation:
    order_id: str
    reason: str
    order: OpenOrder | None = None  # the order as observed, for display


@dataclass(frozen=True)
class Kept:
    """An order left in place, with the band that holds it (for display)."""

    order: OpenOrder
    quote_side: QuoteSide
    band: int


@dataclass(frozen=True)
class MarketPlan:
    name: str
    condition_id: str
    reference_price: Decimal | None
    cancel: tuple[Cancellation, ...]
    place: tuple[Placement, ...]
    keep: tuple[str, ...]
    note: str = ""  # why nothing is quoted ("paused", "no reference price: ...")
    reference_source: str = ""
    tick_size: Decimal | None = None
    yes_token: str = ""
    no_token: str = ""
    kept: tuple[Kept, ...] = ()
    warnings: tuple[str, ...] = ()  # bands left short, and why (never changes by themselves)
    awaiting_cancels: bool = False  # more would be placed once this plan's cancels settle

    @property
    def has_changes(self) -> bool:
        return bool(self.cancel or self.place)

    def outcome(self, token_id: str) -> str:
        """``"YES"``/``"NO"`` for the market's tokens, else the token id itself."""
        if token_id and token_id == self.yes_token:
            return "YES"
        if token_id and token_id == self.no_token:
            return "NO"
        return token_id

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "conditionId": self.condition_id,
            "referencePrice": None if self.reference_price is None else format_decimal(self.reference_price),
            "cancel": [{"id": c.order_id, "reason": c.reason} for c in self.cancel],
            "place": [
                {
                    "tokenId": p.token_id,
                    "side": p.side,
                    "price": format_decimal(p.price),
                    "size": format_decimal(p.size),
                    "band": p.band,
                    "reason": p.reason,
                }
                for p in self.place
            ],
            "keep": list(self.keep),
        }
        if self.note:
            doc["note"] = self.note
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        if self.awaiting_cancels:
            doc["awaitingCancels"] = True
        return doc


@dataclass(frozen=True)
class Plan:
    markets: tuple[MarketPlan, ...]

    @property
    def has_changes(self) -> bool:
        return any(m.has_changes for m in self.markets)

    @property
    def counts(self) -> tuple[int, int, int]:
        """(to place, to cancel, unchanged)."""
        return (
            sum(len(m.place) for m in self.markets),
            sum(len(m.cancel) for m in self.markets),
            sum(len(m.keep) for m in self.markets),
        )

    def to_json(self) -> dict[str, Any]:
        return {"markets": [m.to_json() for m in self.markets]}
