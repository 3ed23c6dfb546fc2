"""The periodic resync requeues only what it found changed (cost flat in the number of markets)."""

from __future__ import annotations

from live_helpers import BTC_YES, DEMO_ADDRESS, converged, make_controller, wait_for


def test_a_resync_of_an_unchanged_market_requeues_nothing_and_a_changed_one_is_requeued(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
        adds = controller.reconciler.queue.adds
        assert controller.resync()
        assert controller.reconciler.queue.adds == adds, "nothing changed, nothing requeued"

        # The account's inventory changes behind the streams' back (a transfer): REST sees it.
        sim.fund(DEMO_ADDRESS, tokens={BTC_YES: 123}, mode="add")
        assert controller.resync()
        assert controller.reconciler.queue.adds == adds + 1, "exactly the changed market is requeued"
    finally:
        controller.stop()
