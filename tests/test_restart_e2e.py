"""Restarts are non-events: a new process adopts the orders on the book before it acts.

Each test runs a controller to convergence, "crashes" it (its threads stop, nothing is
cancelled, as after ``kill -9``), changes the world or not, and starts a second
controller on the same account and state directory. The emulator runs on a manual
clock, so its dead man's switch does not fire in between, exactly as during a
Kubernetes pod restart inside the heartbeat deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from live_helpers import (
    BTC,
    BTC_YES,
    MANIFEST,
    converged,
    exchange_state,
    make_controller,
    our_orders,
    wait_for,
    write_manifest,
)

from controller.loop.controller import DEMO_PRIVATE_KEY, Controller
from controller.plan.bands import plan_market
from controller.spec.manifest import load_manifests

SHARED_MANIFEST = MANIFEST.replace(
    "  orders: {type: GTC, postOnly: true}\n", "  orders: {type: GTC, postOnly: true}\n  ownership: shared\n"
)


def order_actions(sim: Any) -> int:
    """Order placements and cancels the exchange has received, all endpoints together."""
    requests = sim.admin_state()["requests"]
    actions = ("POST /order", "POST /orders", "DELETE /")  # not POST /orders-scoring (a read)
    return sum(n for endpoint, n in requests.items() if endpoint in actions[:2] or endpoint.startswith(actions[2]))


def crash(controller: Controller) -> None:
    """Stop every thread of ``controller`` without cancelling anything (as kill -9 would)."""
    controller.heartbeat.stop()
    if controller._scheduler is not None:
        controller._scheduler.shutdown(wait=True)
    controller.reconciler.stop(timeout=5)
    controller.threads.close(timeout=5)
    controller.venue.disconnect()
    if controller.state_lock is not None:
        controller.state_lock.release()  # the kernel drops a dead process's lock


@pytest.fixture
def started() -> Iterator[list[Controller]]:
    """Controllers a test starts; each is stopped at the end (cancelling what it owns)."""
    controllers: list[Controller] = []
    yield controllers
    for controller in reversed(controllers):
        if controller._scheduler is not None and controller._scheduler.running:
            controller.stop()


def start(sim: Any, manifests: Path, started: list[Controller], **options: Any) -> Controller:
    controller = make_controller(sim, manifests, **options)
    controller.start()
    started.append(controller)
    return controller


def first_run(sim: Any, manifests: Path, started: list[Controller]) -> set[str]:
    first = start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the first controller to quote")
    wait_for(lambda: first.reconciler.queue.idle(), "the first controller to settle")
    crash(first)
    return {o["id"] for o in our_orders(sim)}


def test_restart_on_an_unmoved_market_sends_no_order_action(sim, manifests, started) -> None:
    before = first_run(sim, manifests, started)
    actions = order_actions(sim)
    second = start(sim, manifests, started)
    wait_for(lambda: second.ready()[0], "the restarted controller to be ready")
    wait_for(lambda: second.reconciler.queue.idle(), "the restarted controller to settle")
    assert order_actions(sim) == actions, "a restart on an unmoved market places and cancels nothing"
    assert {o["id"] for o in our_orders(sim)} == before, "every order is adopted"
    status = {m["name"]: m for m in second.status_document()["manifests"]}["btc"]
    assert sum(status["openOrders"]["bid"]) + sum(status["openOrders"]["ask"]) == len(before)


def test_restart_after_a_move_cancels_exactly_what_no_band_accounts_for(sim, manifests, started) -> None:
    before = first_run(sim, manifests, started)
    sim.set_fair_value(BTC, "0.53")
    sim.step_flow(1)
    spec = load_manifests(manifests / "btc.yaml")[0]
    expected = {c.order_id for c in plan_market(spec, exchange_state(sim), datetime.now(UTC)).cancel}
    assert expected, "the move must leave some orders outside every band for this test to mean anything"
    resting = {o["id"] for o in our_orders(sim)}
    second = start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes around the new price")
    after = {o["id"] for o in our_orders(sim)}
    assert resting - after == expected, "only the orders no band accounts for are cancelled"
    assert (resting & before) - expected <= after, "every order still in a band is kept"
    assert second.reconciler.worker_restarts == 0


def test_diff_on_a_restarted_account_shows_the_cancels_the_controller_then_sends(sim, manifests, started) -> None:
    first_run(sim, manifests, started)
    sim.set_fair_value(BTC, "0.53")
    sim.step_flow(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOB_", "SENTRY_"))}
    env.update(CLOB_HOST=sim.url, WS_HOST=sim.ws_url, PRIV_KEY=DEMO_PRIVATE_KEY)
    diff = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller",
            "diff",
            "-f",
            str(manifests),
            "-o",
            "json",
            "--state-dir",
            str(manifests.parent / "state"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert diff.returncode == 1, diff.stderr
    planned = {c["id"] for m in json.loads(diff.stdout)["markets"] for c in m["cancel"]}
    assert planned
    resting = {o["id"] for o in our_orders(sim)}
    start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the restarted controller to converge")
    assert resting - {o["id"] for o in our_orders(sim)} == planned


def _place_foreign_order(sim: Any) -> str:
    from py_clob_client_v2 import ClobClient, OrderArgsV2, PartialCreateOrderOptions

    manual = ClobClient(sim.url, chain_id=137, key=DEMO_PRIVATE_KEY)
    manual.set_api_creds(manual.create_or_derive_api_key())
    order = manual.create_order(
        OrderArgsV2(token_id=BTC_YES, price=0.30, size=10, side="BUY"),
        PartialCreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    return str(manual.post_order(order)["orderID"])


def test_exclusive_ownership_cancels_an_order_no_band_accounts_for(sim, manifests, started) -> None:
    foreign = _place_foreign_order(sim)
    start(sim, manifests, started)
    wait_for(lambda: foreign not in {o["id"] for o in our_orders(sim)}, "the unaccounted order to go")
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")


def test_shared_ownership_leaves_a_foreign_order_alone_across_restarts(sim, manifests, started) -> None:
    write_manifest(manifests, SHARED_MANIFEST)
    foreign = _place_foreign_order(sim)
    first = start(sim, manifests, started)
    left_alone = frozenset({foreign})
    wait_for(lambda: converged(sim, manifests / "btc.yaml", left_alone), "quotes beside the foreign order")
    wait_for(lambda: first.reconciler.queue.idle(), "the first controller to settle")
    ours = {o["id"] for o in our_orders(sim)} - {foreign}
    assert (manifests.parent / "state" / "placed-orders.json").exists()
    crash(first)

    sim.set_fair_value(BTC, "0.53")
    sim.step_flow(1)
    second = start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml", left_alone), "quotes around the new price")
    after = {o["id"] for o in our_orders(sim)}
    assert foreign in after, "a shared market never cancels an order this controller did not place"
    spec = load_manifests(manifests / "btc.yaml")[0]
    assert spec.ownership == "shared"
    assert ours - after, "its own orders that left every band were cancelled after the restart"
    second.stop()
    assert {o["id"] for o in our_orders(sim)} == {foreign}, "shutdown cancels only what it placed"


def test_a_corrupt_placed_orders_file_is_a_warning_and_a_shared_market_touches_nothing_unproven(
    sim, manifests, started, caplog
) -> None:
    write_manifest(manifests, SHARED_MANIFEST)
    state = manifests.parent / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "placed-orders.json").write_text("{not json")
    foreign = _place_foreign_order(sim)
    controller = start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml", frozenset({foreign})), "quotes beside it")
    assert controller.placed.load_problem is not None and "unreadable" in controller.placed.load_problem
    assert foreign in {o["id"] for o in our_orders(sim)}


def test_a_second_controller_on_the_same_account_refuses_to_start(sim, manifests, started) -> None:
    from controller.loop.lease import AccountInUse

    first = start(sim, manifests, started)
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the first controller to quote")
    # Another machine (its own state directory): the exchange's heartbeat chain gives it away.
    # It watches the chain for three of the first one's 1 s beats: a late beat cannot pass for silence.
    second = make_controller(sim, manifests, state_dir=str(manifests.parent / "elsewhere"), lease_wait_seconds=3.0)
    with pytest.raises(AccountInUse, match="another process is heartbeating for this account"):
        second.prepare()
    second.venue.disconnect()
    # The same state directory: its lock gives it away at once.
    third = make_controller(sim, manifests)
    with pytest.raises(AccountInUse, match="state directory"):
        third.prepare()
    third.venue.disconnect()
    assert converged(sim, manifests / "btc.yaml"), "the first one goes on undisturbed"
    assert first.health()[0]
