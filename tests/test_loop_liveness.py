"""A loop that cannot die silently: hung or dead workers are seen, and a hung one stops the heartbeat.

Against the emulator on a manual clock: when the reconcile loop is stalled for longer
than the liveness bound, ``/healthz`` fails and the controller withholds its exchange
heartbeat, so the exchange's dead man's switch cancels the orders it can no longer tend.
"""

from __future__ import annotations

import threading

from live_helpers import converged, make_controller, our_orders, wait_for

from controller.loop.heartbeat import HeartbeatPolicy


def test_a_hung_worker_fails_healthz_stops_heartbeats_and_the_exchange_cancels(sim, manifests) -> None:
    policy = HeartbeatPolicy(interval=0.1, retry_delays=(0.05,), liveness_seconds=1.0)
    controller = make_controller(sim, manifests, heartbeat=policy, workers=1)
    release = threading.Event()
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        assert controller.health()[0]
        original = controller.reconciler._reconcile

        def hang(name, outcome):  # type: ignore[no-untyped-def]
            release.wait(60)
            return original(name, outcome)

        controller.reconciler._reconcile = hang  # type: ignore[method-assign]
        controller.reconciler.queue.add("btc")
        wait_for(lambda: not controller.health()[0], "/healthz to fail", timeout=10)
        assert "stalled" in controller.health()[1]
        wait_for(lambda: controller.heartbeat.withholding, "the heartbeat to be withheld", timeout=10)
        beats = sim.admin_state()["requests"].get("POST /v1/heartbeats", 0)
        calls = controller.metrics.heartbeat_age()
        wait_for(lambda: controller.metrics.heartbeat_age() > calls + 0.5, "several skipped beats", timeout=10)
        assert sim.admin_state()["requests"].get("POST /v1/heartbeats", 0) == beats, "no heartbeat while stalled"
        assert our_orders(sim), "the exchange still holds them inside its deadline"
        sim.advance(16)  # past the exchange's 10 s deadline and its buffer
        wait_for(lambda: our_orders(sim) == [], "the exchange to cancel our orders")
    finally:
        release.set()
        controller.stop()


def test_a_worker_that_dies_is_restarted_and_counted(sim, manifests) -> None:
    controller = make_controller(sim, manifests, workers=1)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        pool = controller.reconciler._pool
        assert pool is not None
        original = controller.reconciler._handle
        died = threading.Event()

        def die_once(key: str) -> None:
            if not died.is_set():
                died.set()
                raise SystemExit("simulated worker death")  # escapes every except Exception
            original(key)

        pool.handler = die_once
        controller.reconciler.queue.add("btc")
        wait_for(lambda: controller.reconciler.worker_restarts == 1, "the worker to be restarted")
        assert pool.alive() == 1
        assert "bandctl_worker_restarts_total 1.0" in controller.metrics.render().decode()
        sim.set_fair_value("0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598", "0.52")
        sim.step_flow(1)
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the restarted worker to requote")
        assert controller.health()[0]
    finally:
        controller.stop()
