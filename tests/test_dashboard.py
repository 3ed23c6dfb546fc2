"""deploy/grafana/bandctl.json: the dashboard queries only what the controller exports.

A live controller quotes against the emulator; its ``/metrics`` is scraped over a real
socket, and every metric name (and grouping label) that a panel's PromQL or a template
variable uses must be in that exposition. A renamed metric then fails here, not as an
empty panel in production. The layout checks keep the JSON importable: unique ids, the
datasource variable on every query, panels inside the 24-column grid and not overlapping.
"""

from __future__ import annotations

import importlib.util
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_helpers import converged, make_controller, wait_for
from prometheus_client.parser import text_string_to_metric_families

from controller.ops.health import HealthServer

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "bandctl.json"
METRIC_NAME = re.compile(r"\bbandctl_[a-zA-Z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
# Series names that a metric family of each type exposes (prometheus-client's text format).
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "gauge": ("",)}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row carries its panels inside


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query-type template variable."""
    found = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found.append((f"variable ${variable['name']}", query["query"] if isinstance(query, dict) else query))
    return found


def referenced_metrics(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr))


def referenced_labels(expr: str) -> set[str]:
    labels = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    labels |= set(MATCHER.findall(expr))
    return labels - {"le", "__name__"}


def exported(exposition: str) -> tuple[set[str], dict[str, set[str]]]:
    """Series names the exposition declares, and the label names seen on each series."""
    names: set[str] = set()
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
        for sample in family.samples:
            names.add(sample.name)
            labels.setdefault(sample.name, set()).update(sample.labels)
    return names, labels


def missing_metrics(board: dict[str, Any], names: set[str]) -> list[str]:
    return [
        f"{where}: {metric}"
        for where, expr in queries(board)
        for metric in sorted(referenced_metrics(expr))
        if metric not in names
    ]


# -- the JSON itself --------------------------------------------------------------------------------


def test_every_query_references_a_bandctl_metric() -> None:
    board = dashboard()
    assert queries(board)
    for where, expr in queries(board):
        assert referenced_metrics(expr), f"{where} queries no bandctl metric: {expr}"


def test_panel_ids_unique_and_queries_use_the_datasource_variable() -> None:
    board = dashboard()
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "bandctl"
    assert any(v["type"] == "datasource" and v["name"] == "datasource" for v in board["templating"]["list"])
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]
        assert panel.get("description"), f"panel {panel['title']!r} says nothing about what it shows"


def test_panels_fit_the_grid_without_overlapping() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard()):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_the_requested_subjects_have_panels() -> None:
    used = {metric for _, expr in queries(dashboard()) for metric in referenced_metrics(expr)}
    for metric in (
        "bandctl_quotes_in_band",
        "bandctl_reconciles_total",
        "bandctl_reconcile_duration_seconds_bucket",
        "bandctl_api_request_duration_seconds_bucket",
        "bandctl_api_request_errors_total",
        "bandctl_ws_message_lag_seconds_bucket",
        "bandctl_ws_reconnects_total",
        "bandctl_exchange_heartbeat_age_seconds",
        "bandctl_exchange_heartbeat_failures_total",
        "bandctl_worker_restarts_total",
    ):
        assert metric in used, f"no panel shows {metric}"


def test_a_metric_not_exported_is_reported() -> None:
    board: dict[str, Any] = {
        "panels": [{"title": "x", "targets": [{"refId": "A", "expr": "rate(bandctl_nope_total[5m])"}]}],
        "templating": {"list": []},
    }
    assert missing_metrics(board, {"bandctl_reconciles_total"}) == ["panel 'x' A: bandctl_nope_total"]
    assert referenced_labels('sum by (le, endpoint) (rate(x_bucket{manifest=~"$m"}[1m]))') == {"endpoint", "manifest"}


# -- against a live controller's /metrics --------------------------------------------------------------


@pytest.fixture
def scraped(sim: Any, manifests: Path) -> Iterator[str]:
    controller = make_controller(sim, manifests)
    server = HealthServer("127.0.0.1", 0, health=controller.health, ready=controller.ready, metrics=controller.metrics)
    try:
        controller.start()
        wait_for(lambda: converged(sim, manifests / "btc.yaml"), "quotes")
        wait_for(lambda: controller.ready()[0], "readiness")
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
            yield response.read().decode()
    finally:
        server.stop()
        controller.stop()


def test_every_metric_a_panel_uses_is_exported(scraped: str) -> None:
    names, _ = exported(scraped)
    assert not missing_metrics(dashboard(), names)


def test_grouping_labels_exist_on_the_series(scraped: str) -> None:
    _, labels = exported(scraped)
    for where, expr in queries(dashboard()):
        seen = [labels[m] for m in referenced_metrics(expr) if labels.get(m)]
        if not seen:
            continue  # no sample yet (no error, no reconnect): the name check above covers it
        known = set().union(*seen)
        assert referenced_labels(expr) <= known, f"{where}: labels {referenced_labels(expr) - known} not on {expr}"


def test_the_quoting_panels_have_data_once_quoting(scraped: str) -> None:
    _, labels = exported(scraped)
    for series in (
        "bandctl_quotes_in_band",
        "bandctl_orders_placed_total",
        "bandctl_reconciles_total",
        "bandctl_reconcile_duration_seconds_bucket",
        "bandctl_api_request_duration_seconds_bucket",
        "bandctl_exchange_heartbeat_age_seconds",
    ):
        assert series in labels, f"{series} has no sample after the controller quoted"


# -- deploy/grafana/render.py (the README's picture) ------------------------------------------------


def load_render() -> Any:
    spec = importlib.util.spec_from_file_location("render", DASHBOARD.parent / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_render_fills_in_every_dashboard_variable() -> None:
    render = load_render()
    filled = render.panel_queries(dashboard())
    assert len(filled) == sum(len(p.get("targets", [])) for p in panels(dashboard()))
    for panel_id, ref, expr in filled:
        assert "$" not in expr, f"panel {panel_id} {ref} keeps a variable Prometheus cannot read: {expr}"


def test_render_draws_every_panel_from_query_answers(tmp_path: Path) -> None:
    render = load_render()
    board = dashboard()
    answer = [{"metric": {"manifest": "demo", "side": "bid"}, "values": [[100.0 + t, "1"] for t in range(0, 60, 2)]}]
    results = {
        "start": 100.0,
        "end": 160.0,
        "panels": {str(p["id"]): {t["refId"]: answer for t in p.get("targets", [])} for p in panels(board)},
    }
    output = tmp_path / "dashboard.png"
    render.draw(results, output)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render.legend("{{manifest}} {{side}}", {"manifest": "demo", "side": "ask"}) == "demo ask"
    assert render.legend("{{missing}}", {}) == "value"
