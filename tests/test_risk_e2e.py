"""Risk rules against the emulator: the kill switch, its persistence, sharp moves, end of market."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from live_helpers import (
    BTC,
    BTC_YES,
    DEMO_ADDRESS,
    MANIFEST,
    converged,
    make_controller,
    our_orders,
    quote_sides,
    wait_for,
    write_manifest,
)

from controller.cli.main import main
from controller.cli.run import control_actions
from controller.ops.health import HealthServer


def quoting_reason(controller: Any) -> str:
    status = {m["name"]: m for m in controller.status_document()["manifests"]}["btc"]
    return next(c["reason"] for c in status["conditions"] if c["type"] == "Quoting")


def serve(controller: Any) -> HealthServer:
    return HealthServer("127.0.0.1", 0, status=controller.status_document, actions=control_actions(controller))


def test_halt_all_cancels_at_once_survives_a_restart_and_resume_quotes_again(sim, manifests, capsys) -> None:
    first = make_controller(sim, manifests)
    first.start()
    server = serve(first)
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        assert main(["halt", "--all", "--url", server.url]) == 0
        assert our_orders(sim) == [], "halt returns once the exchange has no order of ours"
        assert "halted" in capsys.readouterr().out
        # The reconcile's outcome is recorded just after the exchange confirmed the cancels.
        wait_for(lambda: quoting_reason(first) == "Halted", "Quoting=False Halted")
    finally:
        server.stop()
        first.stop()

    second = make_controller(sim, manifests)  # the same state directory
    second.start()
    server = serve(second)
    try:
        wait_for(lambda: second.ready()[0], "the restarted controller to be ready")
        wait_for(lambda: second.reconciler.queue.idle(), "it to settle")
        assert our_orders(sim) == [], "a halt persists across restarts"
        assert quoting_reason(second) == "Halted"
        assert main(["resume", "--all", "--url", server.url]) == 0
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes after resume")
    finally:
        server.stop()
        second.stop()


def test_halt_of_an_unknown_manifest_is_a_clear_error(sim, manifests, capsys) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    server = serve(controller)
    try:
        assert main(["halt", "nope", "--url", server.url]) == 2
        assert "404" in capsys.readouterr().err
    finally:
        server.stop()
        controller.stop()


def test_a_sharp_move_pulls_the_quotes_then_restores_them(sim, manifests) -> None:
    rule = "  risk: {pullOnMove: {move: 0.01, within: 30s, pauseFor: 1s}}\n"
    write_manifest(manifests, MANIFEST + rule)
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        sim.set_fair_value(BTC, "0.56")
        sim.step_flow(1)
        wait_for(lambda: quoting_reason(controller) == "SharpMove", "the sharp move to pull the quotes")
        wait_for(lambda: our_orders(sim) == [], "every order pulled")
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes back after the pause")
    finally:
        controller.stop()


def test_quoting_stops_before_the_end_of_the_market(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.start()
    try:
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
    finally:
        controller.stop()
    # The market ends in an hour; the manifest stops quoting two hours before the end.
    end = datetime.now(UTC) + timedelta(hours=1)
    write_manifest(manifests, MANIFEST + "  risk: {stopBefore: 2h}\n")
    controller = make_controller(sim, manifests)
    controller.venue.get_end_time = lambda condition_id: end  # type: ignore[method-assign]
    controller.start()
    try:
        wait_for(lambda: quoting_reason(controller) == "EndOfMarket", "EndOfMarket")
        assert our_orders(sim) == []
    finally:
        controller.stop()


def test_only_the_reducing_side_is_quoted_near_the_end(sim, manifests) -> None:
    end = datetime.now(UTC) + timedelta(hours=3)
    write_manifest(manifests, MANIFEST + "  risk: {stopBefore: 1h, reduceOnlyBefore: 6h}\n")
    controller = make_controller(sim, manifests)
    controller.venue.get_end_time = lambda condition_id: end  # type: ignore[method-assign]
    controller.start()
    try:
        # Flat: both sides would add to the position, so nothing is quoted.
        wait_for(lambda: quoting_reason(controller) == "ReduceOnly", "reduce-only")
        assert our_orders(sim) == []
        # Long: only the asks (which sell the position down) are quoted.
        sim.fund(DEMO_ADDRESS, tokens={BTC_YES: 600}, mode="add")
        controller.resync()
        wait_for(lambda: {side for side, _, _ in quote_sides(sim)} == {"ask"}, "only asks")
    finally:
        controller.stop()
