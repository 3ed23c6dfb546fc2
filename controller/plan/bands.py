"""The planner's public names in one place (a facade; the code lives in sibling modules).

``controller``, the reconciler, the CLI and the tests import from here, so the split
into ``model``, ``reasons``, ``messages``, ``reference``, ``classify``, ``placements``,
``planner`` and ``simulate`` stays an implementation detail. Nothing is defined here.
Semantics: ``docs/bands.md``.
"""

from controller.plan.classify import band_positions, in_band
from controller.plan.model import (
    Cancellation,
    ForeignOrder,
    Kept,
    MarketPlan,
    Placement,
    Plan,
    PlanWarning,
    QuoteSide,
    ReferenceSkew,
)
from controller.plan.planner import Draft, draft_market, plan, plan_market
from controller.plan.reasons import (
    AdjustReason,
    CancelReason,
    KeepReason,
    PlaceReason,
    PullReason,
    WarningReason,
    metric_label,
)
from controller.plan.reference import quote_view, quoted_book, reference_price, without_orders
from controller.plan.simulate import apply_plan

__all__ = [
    "AdjustReason",
    "CancelReason",
    "Cancellation",
    "Draft",
    "ForeignOrder",
    "KeepReason",
    "Kept",
    "MarketPlan",
    "PlaceReason",
    "Placement",
    "Plan",
    "PlanWarning",
    "PullReason",
    "QuoteSide",
    "ReferenceSkew",
    "WarningReason",
    "apply_plan",
    "band_positions",
    "draft_market",
    "in_band",
    "metric_label",
    "plan",
    "plan_market",
    "quote_view",
    "quoted_book",
    "reference_price",
    "without_orders",
]
