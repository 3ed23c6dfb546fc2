"""End to end: the live controller against the emulator, over real sockets.

The emulator runs on a manual clock with a still fair value and no random takers,
so every change in these tests is one the test made.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from live_helpers import (
    BTC,
    BTC_YES,
    MANIFEST,
    converged,
    make_controller,
    our_orders,
    quote_sides,
    take_best_bid,
    wait_for,
    write_manifest,
)

from controller.loop.controller import DEMO_PRIVATE_KEY


@pytest.fixture
def controller(sim, manifests):
    ctl = make_controller(sim, manifests)
    ctl.start()
    yield ctl
    ctl.stop()


def test_converges_from_an_empty_account(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the exchange to hold the manifest's bands")
    orders = our_orders(sim)
    assert {side for side, _, _ in quote_sides(sim)} == {"bid", "ask"}
    assert len(orders) == len({o["id"] for o in orders})
    # Nothing more to do: a quiet market causes no further order traffic.
    requests = sim.admin_state()["requests"]
    wait_for(lambda: controller.reconciler.queue.idle(), "the queue to drain")
    assert sim.admin_state()["requests"].get("POST /orders") == requests.get("POST /orders")


def test_quotes_follow_the_fair_value_keeping_in_band_orders(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    before = {o["id"] for o in our_orders(sim)}
    sim.set_fair_value(BTC, "0.51")
    sim.step_flow(1)
    wait_for(
        lambda: converged(sim, manifests / "btc.yaml") and {o["id"] for o in our_orders(sim)} != before,
        "quotes to follow the move",
    )
    after = {o["id"] for o in our_orders(sim)}
    assert before & after, "orders still inside their band are kept"
    assert before - after, "orders pushed out of their band are cancelled"


def test_fills_are_replenished(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    best_bid = take_best_bid(sim)
    wait_for(lambda: best_bid["id"] not in {o["id"] for o in our_orders(sim)}, "our bid to be filled")
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "the band to be refilled")


def test_manifest_edits_apply_and_invalid_edits_are_rejected(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    edited = MANIFEST.replace(
        "avgAmount: 20, maxAmount: 30}\n  referencePrice",
        "avgAmount: 20, maxAmount: 30}\n    - {minMargin: 0.04, avgMargin: 0.05, "
        "maxMargin: 0.06, minAmount: 10, avgAmount: 15, maxAmount: 20}\n  referencePrice",
    )
    assert edited != MANIFEST
    write_manifest(manifests, edited)
    controller.reload()
    wait_for(
        lambda: (
            converged(sim, manifests / "btc.yaml")
            and any(price <= 0.46 for side, price, _ in quote_sides(sim) if side == "bid")
        ),
        "the third band to be quoted",
    )
    quoted = {o["id"] for o in our_orders(sim)}
    (manifests / "btc.yaml").write_text(edited.replace("minMargin: 0.04", "minMagrin: 0.04"))
    controller.reload()
    assert controller.reconciler.specs()["btc"].bands[2].min_margin == Decimal("0.04"), "the last good spec"
    controller.reconciler.enqueue_all()
    wait_for(lambda: controller.reconciler.queue.idle(), "a reconcile with the last good spec")
    assert {o["id"] for o in our_orders(sim)} == quoted, "quoting continues on the last good spec"


def test_a_deleted_manifest_cancels_its_orders(sim, manifests, controller) -> None:
    wait_for(lambda: our_orders(sim), "initial quotes")
    (manifests / "btc.yaml").unlink()
    controller.reload()
    wait_for(lambda: not our_orders(sim), "the deleted manifest's orders to be cancelled")


def test_restart_adopts_existing_orders_without_duplicates(sim, manifests) -> None:
    first = make_controller(sim, manifests)
    first.prepare()
    first.apply_once()  # like `bandctl apply`: places and exits, orders stay
    first.close()
    placed = {o["id"] for o in our_orders(sim)}
    assert placed and converged(sim, manifests / "btc.yaml")
    second = make_controller(sim, manifests)
    second.start()
    try:
        wait_for(
            lambda: second.reconciler.queue.idle() and all(s.reconciled_once for s in second.status.values()),
            "the restarted controller to reconcile",
        )
        assert {o["id"] for o in our_orders(sim)} == placed
        assert sim.admin_state()["requests"].get("POST /orders", 0) == 1
    finally:
        second.stop()
    assert not our_orders(sim), "adopted orders are the controller's own: cancelled on shutdown"


def test_a_dropped_websocket_is_survived_with_a_resync(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    reconnects = controller._streams.market.reconnects
    controller._streams.market.reconnect("test drops the link")
    sim.set_fair_value(BTC, "0.55")
    sim.step_flow(1)
    wait_for(
        lambda: controller._streams.market.reconnects > reconnects and controller._streams.connected,
        "the market channel to come back",
    )
    wait_for(
        lambda: (
            converged(sim, manifests / "btc.yaml")
            and all(price > 0.5 for side, price, _ in quote_sides(sim) if side == "bid")
        ),
        "quotes around the new price",
    )


def test_a_frozen_market_feed_is_detected_by_the_resync(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    reconnects = controller._streams.market.reconnects
    sim.set_faults(marketFeedStalled=True)
    sim.set_fair_value(BTC, "0.56")
    sim.step_flow(1)
    controller.resync()  # the periodic REST resync sees a book the stream never delivered
    wait_for(lambda: controller._streams.market.reconnects > reconnects, "a reconnect of the frozen stream")
    sim.set_faults(marketFeedStalled=False)
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes around the new price")


def test_a_shared_market_leaves_foreign_orders_alone_unless_cancel_unmanaged(sim, manifests) -> None:
    from py_clob_client_v2 import ClobClient, OrderArgsV2, PartialCreateOrderOptions

    write_manifest(manifests, MANIFEST + "  ownership: shared\n")
    manual = ClobClient(sim.url, chain_id=137, key=DEMO_PRIVATE_KEY)
    manual.set_api_creds(manual.create_or_derive_api_key())
    order = manual.create_order(
        OrderArgsV2(token_id=BTC_YES, price=0.30, size=10, side="BUY"),
        PartialCreateOrderOptions(tick_size="0.01", neg_risk=False),
    )
    manual_id = manual.post_order(order)["orderID"]

    first = make_controller(sim, manifests)
    first.start()
    try:
        wait_for(
            lambda: converged(sim, manifests / "btc.yaml", frozenset({manual_id})), "quotes beside the manual order"
        )
        assert manual_id in {o["id"] for o in our_orders(sim)}
    finally:
        first.stop()
    assert {o["id"] for o in our_orders(sim)} == {manual_id}, "shutdown cancels only the controller's orders"

    second = make_controller(sim, manifests, cancel_unmanaged=True)
    second.start()
    try:
        wait_for(lambda: manual_id not in {o["id"] for o in our_orders(sim)}, "the unmanaged order to go")
    finally:
        second.stop()


def test_a_manifest_deleted_while_its_reconcile_plans_is_still_retired(sim, manifests, controller) -> None:
    wait_for(lambda: converged(sim, manifests / "btc.yaml"), "initial quotes")
    wait_for(lambda: controller.reconciler.queue.idle(), "the loop to settle")
    reconciler = controller.reconciler
    drain = reconciler.before_plan
    deleted: list[bool] = []

    def delete_meanwhile() -> None:  # the manifest goes after this reconcile read it, before it plans
        if not deleted:
            deleted.append(True)
            reconciler.set_specs([])
        if drain is not None:
            drain()

    reconciler.before_plan = delete_meanwhile
    reconciler.enqueue_all()
    wait_for(lambda: deleted, "the reconcile to reach its plan")
    wait_for(lambda: not our_orders(sim), "the deleted manifest's orders to be cancelled")


def test_the_periodic_jobs_run_on_their_own(sim, manifests) -> None:
    controller = make_controller(sim, manifests, resync_interval=0.2, reload_interval=0.2)
    runs: list[str] = []
    resync, reload = controller.resync, controller.reload
    controller.resync = lambda *a, **k: (runs.append("resync"), resync(*a, **k))[1]  # type: ignore[method-assign]
    controller.reload = lambda *a, **k: (runs.append("reload"), reload(*a, **k))[1]  # type: ignore[method-assign]
    controller.start()
    try:
        started = len(runs)
        wait_for(lambda: runs[started:].count("resync") >= 2, "the resync job to run twice")
        wait_for(lambda: runs[started:].count("reload") >= 2, "the reload job to run twice")
    finally:
        controller.stop()
