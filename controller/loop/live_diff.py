"""What ``bandctl diff`` plans against when no ``--state`` file is given: the live venue.

It reads through the controller's own start-up path (manifests registered, the
placed-order record loaded, one REST resync), so the diff shows exactly what ``run``
would send next. It sends nothing: no reconcile runs, no stream is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from controller.loop.controller import Controller, LiveOptions
from controller.observe.state import ObservedState
from controller.plan.rewards import RewardParams
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Venue, VenueError
from controller.venue.rewards import fetch_rewards


def live_diff_inputs(
    specs: Sequence[MarketMakerSpec], venue: Venue, state_dir: str | None = None
) -> tuple[ObservedState, datetime]:
    """Read the live venue for ``bandctl diff``: the controller's own start-up reads, nothing sent."""
    controller = Controller(venue, LiveOptions(manifest_paths=[], state_dir=state_dir))
    try:
        venue.connect()
        controller.placed.load()
        controller.holds.load()
        controller.use_specs(specs)
        problems = [f"{s.name}: {s.message}" for s in controller.status.values() if not s.registered]
        if problems:
            raise VenueError("; ".join(sorted(problems)))
        if not controller.resync(initial=True):
            raise VenueError("could not read the account's books, orders and balances")
        state = controller.observed()
        state = replace(state, placed_ids=controller.placed.ids(), holds=controller.holds.snapshot())
        state = _with_market_inputs(state, specs, venue, controller)
        assert state.time is not None
        return state, state.time
    finally:
        venue.disconnect()


def _with_market_inputs(
    state: ObservedState, specs: Sequence[MarketMakerSpec], venue: Venue, controller: Controller
) -> ObservedState:
    """The inputs ``run`` adds to each market before planning (the reconciler's own): its
    rewards programme, read here once, and its end time, read at registration."""
    markets = sorted({s.market.condition_id for s in specs})
    programmes: dict[str, RewardParams] = {}
    if controller.rewards is not None:
        try:
            programmes = fetch_rewards(controller.rewards.reader, markets)
        except VenueError:
            programmes = {}  # the diff still shows the orders; only the score estimate is missing
    for condition_id in markets:
        controller.reconciler.set_rewards(condition_id, programmes.get(condition_id.lower()))
    controller.registry.retry_end_times()  # as each resync of ``run`` does
    return controller.reconciler.with_market_inputs(state)
