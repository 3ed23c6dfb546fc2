"""Rewards in the running controller: the programme reaches the planner, status and metrics show our part."""

from __future__ import annotations

from live_helpers import MANIFEST, converged, make_controller, wait_for, write_manifest


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
