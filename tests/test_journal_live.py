"""The running controller journals its fills and order actions, reports PnL, and halts on a loss limit."""

from __future__ import annotations

import json
from datetime import timedelta

from live_helpers import (
    BTC,
    MANIFEST,
    converged,
    make_controller,
    our_orders,
    take_best_bid,
    wait_for,
    write_manifest,
)

from controller.cli.main import main


def test_fills_and_actions_are_journaled_and_pnl_reads_them(sim, manifests, capsys) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        taken = take_best_bid(sim)
        journaling = controller.journaling
        assert journaling is not None
        wait_for(lambda: journaling.journal.flush(2) and len(journaling.journal.fills()) >= 1, "the fill journaled")
        actions = journaling.journal.actions()
        assert any(a.action == "place" for a in actions), "order actions are journaled too"
    finally:
        controller.stop()
    assert main(["pnl", "--state-dir", str(manifests.parent / "state"), "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    market = {m["name"]: m for m in document["markets"]}["btc"]
    assert market["fills"] >= 1 and market["conditionId"] == BTC
    assert market["position"] != "0", f"a bid of {taken['size']} was filled"


def test_a_loss_limit_halts_the_market_and_survives_a_restart(sim, manifests) -> None:
    write_manifest(manifests, MANIFEST + "  risk: {maxLoss: {amount: 0.01, window: 24h}}\n")
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        take_best_bid(sim)  # we now hold shares bought at our bid ...
        journaling = controller.journaling
        assert journaling is not None
        wait_for(lambda: journaling.journal.flush(2) and len(journaling.journal.fills()) >= 1, "the fill journaled")
        sim.set_fair_value(BTC, "0.40")  # ... and the market falls away from them
        sim.step_flow(1)
        wait_for(lambda: (journaling.pnl_of("btc", timedelta(hours=24)) or 0) < 0, "a loss")
        controller._resync_job()  # the periodic check
        wait_for(lambda: controller.holds.get("btc") is not None, "the loss limit to hold the market")
        assert controller.holds.get("btc").reason == "LossLimit"  # type: ignore[union-attr]
        wait_for(lambda: our_orders(sim) == [], "every order cancelled")
    finally:
        controller.stop()
    again = make_controller(sim, manifests)
    again.start()
    try:
        wait_for(lambda: again.ready()[0], "ready")
        wait_for(lambda: again.reconciler.queue.idle(), "settled")
        assert our_orders(sim) == [], "the halt persists until bandctl resume"
    finally:
        again.stop()
