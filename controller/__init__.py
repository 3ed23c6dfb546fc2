"""bandctl: a declarative market-making controller for Polymarket's CLOB.

The public Python API, for people who script against Polymarket directly::

    from controller import load_manifests, plan, load_state

    specs = load_manifests("manifests/")                 # raises ManifestErrors if invalid
    state = load_state("manifests/demo-state.json")      # an observed-state snapshot
    result = plan(specs, state, now=state.time)          # pure: nothing is sent
    for market in result.markets:
        print(market.name, market.reference_price, len(market.place), len(market.cancel))

For live trading see :class:`controller.venue.client.Venue` (py-clob-client-v2 underneath) and
:class:`controller.loop.controller.Controller`.
"""

from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.observe.statefile import StateFileError, load_state
from controller.plan.bands import Cancellation, MarketPlan, Placement, Plan, apply_plan, plan, plan_market
from controller.spec.manifest import ManifestError, ManifestErrors, load_manifests, validate_paths
from controller.spec.types import Band, Limits, MarketMakerSpec, MarketRef, OrderSettings, ReferencePrice, Schedule

__version__ = "0.1.0"

__all__ = [
    "Balances",
    "Band",
    "Book",
    "Cancellation",
    "Level",
    "Limits",
    "ManifestError",
    "ManifestErrors",
    "MarketMakerSpec",
    "MarketPlan",
    "MarketRef",
    "MarketState",
    "ObservedState",
    "OpenOrder",
    "OrderSettings",
    "Placement",
    "Plan",
    "ReferencePrice",
    "Schedule",
    "StateFileError",
    "apply_plan",
    "load_manifests",
    "load_state",
    "plan",
    "plan_market",
    "validate_paths",
]
