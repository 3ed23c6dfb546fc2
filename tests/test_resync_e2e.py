"""The periodic resync requeues only what it found changed (cost flat in the number of markets)."""

from __future__ import annotations

from live_helpers import BTC, BTC_YES, DEMO_ADDRESS, converged, make_controller, wait_for


def test_a_resync_of_an_unchanged_market_requeues_nothing_and_a_changed_one_is_requeued(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    requeued: list[list[str]] = []
    original = controller.reconciler.enqueue_markets

    def spy(condition_ids):  # type: ignore[no-untyped-def]
        chosen = list(condition_ids)
        requeued.append(chosen)
        original(chosen)

    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        # One resync first: the stream's echoes of our own placements may still be in
        # flight, and then REST rightly differs from the local book.
        assert controller.resync()
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
        controller.reconciler.enqueue_markets = spy  # type: ignore[method-assign]
        assert controller.resync()
        # (Another resync may run meanwhile, after a stream reconnect: it too must requeue nothing.)
        assert requeued and all(chosen == [] for chosen in requeued), "nothing changed, nothing requeued"
        assert not controller.reconciler._short, "no market was left short of balance"

        # The account's inventory changes behind the streams' back (a transfer): REST sees it.
        sim.fund(DEMO_ADDRESS, tokens={BTC_YES: 123}, mode="add")
        before = len(requeued)
        assert controller.resync()
        assert [BTC] in requeued[before:], "exactly the changed market is requeued"
    finally:
        controller.stop()
