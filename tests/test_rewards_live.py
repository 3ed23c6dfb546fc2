"""Rewards in the running controller: the programme reaches the planner, status and metrics show our part."""

from __future__ import annotations

import pytest
from live_helpers import MANIFEST, converged, make_controller, wait_for, write_manifest

from controller.venue.errors import VenueError


def test_fit_mode_quotes_to_score_and_status_shows_the_programme(sim, manifests) -> None:
    write_manifest(manifests, MANIFEST + "  rewards: {mode: fit}\n")
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        assert controller.rewards is not None
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
        controller.rewards.refresh()
        entry = {m["name"]: m for m in controller.status_document()["manifests"]}["btc"]
        rewards = entry["rewards"]
        assert rewards["ordersOpen"] > 0
        assert rewards["ordersScoring"] == rewards["ordersOpen"], "with mode: fit every resting order scores"
        assert rewards["score"] != "0"
        assert "bandctl_rewards_orders_scoring" in controller.metrics.render().decode()
    finally:
        controller.stop()


def test_the_loops_reward_reads_go_through_the_venues_deadline_and_error_classes(sim, manifests) -> None:
    write_manifest(manifests, MANIFEST + "  rewards: {mode: fit}\n")
    controller = make_controller(sim, manifests)
    calls: list[tuple[str, object]] = []
    controller.venue.on_request = lambda endpoint, seconds, status: calls.append((endpoint, status))
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        assert controller.rewards is not None
        controller.rewards.refresh()
        assert {"orders-scoring", "rewards-user"} <= {endpoint for endpoint, _status in calls}
        sim.set_faults(error5xxFraction=1.0)  # every REST answer a 5xx
        with pytest.raises(VenueError):  # classified like every other call, never a raw client exception
            controller.venue.orders_scoring(["0x01"])
    finally:
        sim.set_faults(error5xxFraction=0.0)
        controller.stop()
