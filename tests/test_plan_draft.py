"""The live reconciler sends a plan's draft and completes it after sending (planner.Draft).

A draft must send exactly what the completed plan sends, and completing it must give the
answer of the two placement passes (as planned, and as if every cancel were confirmed),
which is what ``awaiting_cancels`` has always meant. Same scenarios as the planner's
property tests.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, find, given, settings
from test_bands_properties import NOW, PROPS, scenario

from controller.plan import planner
from controller.plan.bands import draft_market, plan_market
from controller.plan.placements import Ledger, new_orders


def _two_passes(spec, state, cancel_unmanaged) -> bool:
    """``awaiting_cancels`` computed the way the planner did before drafts: both passes, eagerly."""
    market, ctx = planner._decide(spec, state, NOW, cancel_unmanaged)
    if ctx is None:
        return False
    released = frozenset(c.order_id for c in market.cancel)
    optimistic, _ = new_orders(ctx, Ledger(), released)
    as_planned, _ = new_orders(ctx, Ledger(), frozenset())
    return optimistic != as_planned


@PROPS
@given(scenario())
def test_a_draft_sends_what_its_completed_plan_sends(case) -> None:
    specs, state, cancel_unmanaged = case
    for spec in specs:
        draft = draft_market(spec, state, NOW, cancel_unmanaged=cancel_unmanaged)
        done = draft.complete()
        assert not draft.plan.awaiting_cancels
        assert replace(done, awaiting_cancels=False) == draft.plan
        assert done == plan_market(spec, state, NOW, cancel_unmanaged=cancel_unmanaged)
        expected = _two_passes(spec, state, cancel_unmanaged) and done.pull_reason is None
        assert done.awaiting_cancels is expected


def test_the_scenarios_include_plans_that_await_their_cancels() -> None:
    """Without such plans the property above would prove little."""

    def awaits(case) -> bool:
        specs, state, cancel_unmanaged = case
        return any(
            draft_market(s, state, NOW, cancel_unmanaged=cancel_unmanaged).complete().awaiting_cancels for s in specs
        )

    quick = settings(derandomize=True, database=None, max_examples=1000, suppress_health_check=list(HealthCheck))
    find(scenario(), awaits, settings=quick)
