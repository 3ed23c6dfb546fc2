"""The plan's types: what the planner returns and what ``diff``/``apply``/the reconciler consume.

Plain frozen data plus its JSON form (``schemas/plan.schema.json``); no decisions are
taken here. Every item carries a typed ``reason`` (``controller.plan.reasons``) and a
human ``detail``. Semantics of every field: ``docs/bands.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from controller.observe.state import OpenOrder, Side
from controller.plan.reasons import AdjustReason, CancelReason, KeepReason, PlaceReason, PullReason, WarningReason
from controller.plan.rewards import Estimate
from controller.plan.ticks import format_decimal

QuoteSide = Literal["bid", "ask"]
_MICRO = Decimal("0.000001")
SIDES: tuple[QuoteSide, ...] = ("bid", "ask")


@dataclass(frozen=True)
class Placement:
    token_id: str
    side: Side
    price: Decimal
    size: Decimal
    band: int
    reason: PlaceReason = PlaceReason.BELOW_MIN_AMOUNT
    detail: str = ""
    quote_side: QuoteSide = "bid"  # which side of the quoted book this liquidity adds to
    scores: bool | None = None  # earns liquidity rewards once resting (None: no programme known)


@dataclass(frozen=True)
class Cancellation:
    order_id: str
    reason: CancelReason
    detail: str = ""
    order: OpenOrder | None = None  # the order as observed, for display


@dataclass(frozen=True)
class Kept:
    """One of the controller's orders left in place, with the band that holds it."""

    order: OpenOrder
    quote_side: QuoteSide
    band: int
    reason: KeepReason = KeepReason.IN_BAND
    detail: str = ""


@dataclass(frozen=True)
class ForeignOrder:
    """An open order that is not the controller's (``ownership: shared``): left alone.

    It locks balance like any order, but no band counts it and it stays in the book the
    reference price is read from.
    """

    order: OpenOrder
    reason: KeepReason = KeepReason.FOREIGN
    detail: str = ""


@dataclass(frozen=True)
class PlanWarning:
    """A band left short, or a setting ignored, and why. Never a change by itself."""

    reason: WarningReason
    detail: str
    quote_side: QuoteSide | None = None
    band: int | None = None


@dataclass(frozen=True)
class ReferenceSkew:
    """How inventory skew moved the reference price and sized the side that adds to the position."""

    price: Decimal  # the reference the bands are placed around (MarketPlan.reference_price)
    unskewed: Decimal  # the book's reference price
    ticks: int  # the shift, in ticks (negative: down, when long)
    adding_side: QuoteSide  # the side whose fills would grow the position
    size_factor: Decimal  # that side's minAmount and avgAmount are scaled by this (0 at the limit)
    detail: str = ""
    reason: AdjustReason = AdjustReason.INVENTORY_SKEW


@dataclass(frozen=True)
class MarketPlan:
    name: str
    condition_id: str
    reference_price: Decimal | None
    cancel: tuple[Cancellation, ...]
    place: tuple[Placement, ...]
    keep: tuple[str, ...]  # ids of the controller's orders left in place (not the foreign ones)
    note: str = ""  # why nothing is quoted, as text ("paused", "no reference price: ...")
    pull_reason: PullReason | None = None  # ... and as a code; None when the market is quoted
    reference_source: str = ""
    tick_size: Decimal | None = None
    yes_token: str = ""
    no_token: str = ""
    kept: tuple[Kept, ...] = ()
    foreign: tuple[ForeignOrder, ...] = ()  # orders left alone because they are not ours
    alerts: tuple[PlanWarning, ...] = ()  # bands left short, and why (never changes by themselves)
    awaiting_cancels: bool = False  # more would be placed once this plan's cancels settle
    skew: ReferenceSkew | None = None  # risk.skew applied to the reference (None: not configured / flat)
    rewards: Estimate | None = None  # expected liquidity-rewards score (None: no programme known)

    @property
    def has_changes(self) -> bool:
        return bool(self.cancel or self.place)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The texts of :attr:`alerts`, for display (branch on ``alerts[i].reason``)."""
        return tuple(w.detail for w in self.alerts)

    def outcome(self, token_id: str) -> str:
        """``"YES"``/``"NO"`` for the market's tokens, else the token id itself."""
        if token_id and token_id == self.yes_token:
            return "YES"
        if token_id and token_id == self.no_token:
            return "NO"
        return token_id

    def to_json(self) -> dict[str, Any]:
        keep: list[tuple[str, dict[str, Any]]] = [
            (
                k.order.id,
                {
                    "id": k.order.id,
                    "reason": str(k.reason),
                    "message": k.detail,
                    "quoteSide": k.quote_side,
                    "band": k.band,
                },
            )
            for k in self.kept
        ]
        listed = {k.order.id for k in self.kept}
        keep += [(i, {"id": i, "reason": str(KeepReason.IN_BAND), "message": ""}) for i in self.keep if i not in listed]
        keep += [(f.order.id, {"id": f.order.id, "reason": str(f.reason), "message": f.detail}) for f in self.foreign]
        doc: dict[str, Any] = {
            "name": self.name,
            "conditionId": self.condition_id,
            "referencePrice": None if self.reference_price is None else format_decimal(self.reference_price),
            "cancel": [{"id": c.order_id, "reason": str(c.reason), "message": c.detail} for c in self.cancel],
            "place": [
                {
                    "tokenId": p.token_id,
                    "side": p.side,
                    "price": format_decimal(p.price),
                    "size": format_decimal(p.size),
                    "band": p.band,
                    "quoteSide": p.quote_side,
                    "reason": str(p.reason),
                    "message": p.detail,
                    **({} if p.scores is None else {"scores": p.scores}),
                }
                for p in self.place
            ],
            "keep": [entry for _, entry in sorted(keep, key=lambda item: item[0])],
        }
        if self.skew is not None:
            doc["skew"] = {
                "reason": str(self.skew.reason),
                "message": self.skew.detail,
                "ticks": self.skew.ticks,
                "unskewedPrice": format_decimal(self.skew.unskewed),
                "addingSide": self.skew.adding_side,
                "sizeFactor": format_decimal(self.skew.size_factor),
            }
        if self.rewards is not None:
            doc["rewards"] = _rewards_json(self.rewards)
        if self.pull_reason is not None:
            doc["pullReason"] = str(self.pull_reason)
        if self.note:
            doc["note"] = self.note
        if self.alerts:
            doc["warnings"] = [_warning_json(w) for w in self.alerts]
        if self.awaiting_cancels:
            doc["awaitingCancels"] = True
        return doc


def _rewards_json(r: Estimate) -> dict[str, Any]:
    def opt(value: Decimal | None) -> str | None:
        return None if value is None else format_decimal(value.quantize(_MICRO))

    return {
        "mode": "fit" if r.fitted else "ignore",
        "midpoint": opt(r.midpoint),
        "qOne": opt(r.score.q_one),
        "qTwo": opt(r.score.q_two),
        "qMin": opt(r.score.q_min),
        "scoringOrders": r.score.scoring,
        "share": opt(r.share),
        "rewardPerDay": opt(r.reward_per_day),
    }


def _warning_json(w: PlanWarning) -> dict[str, Any]:
    doc: dict[str, Any] = {"reason": str(w.reason), "message": w.detail}
    if w.quote_side is not None:
        doc["quoteSide"] = w.quote_side
    if w.band is not None:
        doc["band"] = w.band
    return doc


@dataclass(frozen=True)
class Plan:
    markets: tuple[MarketPlan, ...]

    @property
    def has_changes(self) -> bool:
        return any(m.has_changes for m in self.markets)

    @property
    def counts(self) -> tuple[int, int, int]:
        """(to place, to cancel, unchanged); foreign orders count as unchanged."""
        return (
            sum(len(m.place) for m in self.markets),
            sum(len(m.cancel) for m in self.markets),
            sum(len(m.keep) + len(m.foreign) for m in self.markets),
        )

    def to_json(self) -> dict[str, Any]:
        return {"markets": [m.to_json() for m in self.markets]}
