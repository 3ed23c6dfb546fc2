"""The planner's public names in one place (a facade; the code lives in sibling modules).

``controller``, the reconciler, the CLI and the tests import from here, so the split
into ``model``/``reference``/``classify``/``placements``/``planner``/``simulate`` stays
an implementation detail. Nothing is defined here. Semantics: ``docs/bands.md``.
"""

from controller.plan.classify import band_positions, in_band
from controller.plan.model import Cancellation, Kept, MarketPlan, Placement, Plan, QuoteSide
from controller.plan.planner import plan, plan_market
from controller.plan.reference import quote_view, quoted_book, reference_price, without_orders
from controller.plan.simulate import apply_plan

__all__ = [
    "Cancellation",
    "Kept",
    "MarketPlan",
    "Placement",
    "Plan",
    "QuoteSide",
    "apply_plan",
    "band_positions",
    "in_band",
    "plan",
    "plan_market",
    "quote_view",
    "quoted_book",
    "reference_price",
    "without_orders",
]
