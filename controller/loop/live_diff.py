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
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Venue, VenueError


def live_diff_inputs(
    specs: Sequence[MarketMakerSpec], venue: Venue, state_dir: str | None = None
) -> tuple[ObservedState, datetime]:
    """Read the live venue for ``bandctl diff``: the controller's own start-up reads, nothing sent."""
    controller = Controller(venue, LiveOptions(manifest_paths=[], state_dir=state_dir))
    try:
        venue.connect()
        controller.placed.load()
        controller.use_specs(specs)
        problems = [f"{s.name}: {s.message}" for s in controller.status.values() if not s.registered]
        if problems:
            raise VenueError("; ".join(sorted(problems)))
        if not controller.resync(initial=True):
            raise VenueError("could not read the account's books, orders and balances")
        state = controller.observed()
        if any(s.ownership == "shared" for s in specs):
            state = replace(state, placed_ids=controller.placed.ids())
        assert state.time is not None
        return state, state.time
    finally:
        venue.disconnect()
