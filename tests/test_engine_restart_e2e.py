"""The weekly matching-engine restart is ridden out: 425s cost no backoff, post-only mode is obeyed.

The emulator runs on a manual clock, so its restart windows end exactly when the test
advances the clock past them.
"""

from __future__ import annotations

from live_helpers import BTC, MANIFEST, converged, make_controller, wait_for, write_manifest


def test_an_engine_restart_is_ridden_out_and_quoting_resumes(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        sim.restart_engine(unavailable_seconds=90, post_only_seconds=120)
        sim.set_fair_value(BTC, "0.53")
        sim.step_flow(1)

        def synced_reason() -> str:
            status = {m["name"]: m for m in controller.status_document()["manifests"]}["btc"]
            return next(c["reason"] for c in status["conditions"] if c["type"] == "Synced")

        wait_for(lambda: synced_reason() == "ExchangeUnavailable", "the 425s to be seen")
        assert controller.reconciler.queue.failures("btc") == 0, "an engine restart is not a failure storm"
        assert controller.health()[0]
        sim.advance(91)  # the engine is back, taking post-only orders only
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes around the new price")
        # The outcome is recorded just after the exchange has the orders: poll, do not race it.
        wait_for(lambda: synced_reason() == "ReconcileSucceeded", "Synced to recover")
    finally:
        controller.stop()


def test_orders_are_sent_post_only_while_the_exchange_takes_only_those(sim, manifests) -> None:
    write_manifest(manifests, MANIFEST.replace("postOnly: true", "postOnly: false"))
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        sim.restart_engine(unavailable_seconds=0.5, post_only_seconds=120)
        sim.advance(1)  # straight into the post-only window
        sim.set_fair_value(BTC, "0.53")
        sim.step_flow(1)
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "requotes accepted in post-only mode")
        assert controller.reconciler._in_post_only_window()
        assert controller.reconciler.queue.failures("btc") == 0
    finally:
        controller.stop()


def test_a_market_that_closes_mid_run_stops_quoting_without_a_retry_loop(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        sim.close_market(BTC)
        # Either a placement is refused (then the market's rules are re-read at once) or, if
        # the book emptied first and nothing was placed, the periodic resync re-reads them.
        controller.resync()

        def conditions() -> dict[str, dict[str, str]]:
            status = {m["name"]: m for m in controller.status_document()["manifests"]}["btc"]
            return {c["type"]: c for c in status["conditions"]}

        wait_for(lambda: conditions()["Valid"]["reason"] == "MarketNotAccepting", "Valid to say why")
        assert conditions()["Quoting"]["reason"] == "MarketNotAccepting"
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
        posts = sim.admin_state()["requests"].get("POST /orders", 0)
        controller.reconciler.enqueue_all()
        controller.resync()
        wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle again")
        assert sim.admin_state()["requests"].get("POST /orders", 0) == posts, "no order is sent to a closed market"
    finally:
        controller.stop()
