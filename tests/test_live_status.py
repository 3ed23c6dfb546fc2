"""Health, readiness, /status conditions and metrics of a live controller against the emulator."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

from live_helpers import converged, make_controller, wait_for, write_manifest

from controller.ops.health import HealthServer


def conditions(controller, name: str = "btc") -> dict[str, dict]:
    entry = next(m for m in controller.status_document()["manifests"] if m["name"] == name)
    return {c["type"]: c for c in entry["conditions"]}


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_not_ready_before_the_first_reconcile_and_ready_after(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    server = HealthServer(
        "127.0.0.1",
        0,
        health=controller.health,
        ready=controller.ready,
        status=controller.status_document,
        metrics=controller.metrics,
    )
    try:
        controller.prepare()  # connected and synced, but nothing reconciled and no streams yet
        assert get(server.url + "/readyz")[0] == 503
        assert get(server.url + "/healthz")[0] == 200
        assert conditions(controller)["Synced"]["status"] == "Unknown"
        controller.start()
        wait_for(lambda: get(server.url + "/readyz")[0] == 200, "readiness")
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        wait_for(lambda: conditions(controller)["Quoting"]["status"] == "True", "Quoting=True")
        status, body = get(server.url + "/status")
        document = json.loads(body)
        entry = document["manifests"][0]
        assert status == 200 and document["ready"] is True and Decimal(entry["referencePrice"]) == Decimal("0.5")
        assert {c["type"]: c["status"] for c in entry["conditions"]} == {
            "Valid": "True",
            "Synced": "True",
            "Quoting": "True",
        }
        assert all(n >= 1 for side in ("bid", "ask") for n in entry["openOrders"][side])
        metrics = get(server.url + "/metrics")[1].decode()
        placed = [line for line in metrics.splitlines() if line.startswith("bandctl_orders_placed_total")]
        assert placed and float(placed[0].split()[-1]) >= 4
    finally:
        controller.stop()
        server.stop()


def test_synced_false_while_the_exchange_is_unavailable_then_true(sim, manifests) -> None:
    controller = make_controller(sim, manifests)
    controller.prepare()
    sim.set_faults(tooEarly=True)  # 425: the matching engine is restarting
    outcome = controller.reconciler.reconcile("btc")
    assert outcome.unavailable and not outcome.rejected
    synced = conditions(controller)["Synced"]
    assert synced["status"] == "False" and synced["reason"] == "ExchangeUnavailable"
    assert "425" in synced["message"] or "restarting" in synced["message"]
    sim.set_faults(tooEarly=False)
    controller.reconciler.reconcile("btc")
    assert conditions(controller)["Synced"]["status"] == "True"
    controller.venue.disconnect()


def test_an_unknown_market_is_not_valid(sim, manifests) -> None:
    write_manifest(
        manifests,
        (manifests / "btc.yaml")
        .read_text()
        .replace("0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598", "0x" + "ee" * 32),
    )
    controller = make_controller(sim, manifests)
    controller.prepare()
    valid = conditions(controller)["Valid"]
    assert valid["status"] == "False" and valid["reason"] == "MarketNotFound"
    assert controller.ready()[0] is False
    controller.venue.disconnect()
