"""controller.ops.metrics: counters and gauges move and show up in the exposition."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fakeclock import FakeClock
from prometheus_client.parser import text_string_to_metric_families

from controller.ops.metrics import CANCEL_REFUSED, Metrics, endpoint_label
from controller.plan.reasons import CancelReason, metric_label
from controller.venue.orders import PlaceProblem


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition by (name, labels), parsed back from the text."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def test_reconcile_counts_and_durations() -> None:
    m = Metrics()
    m.observe_reconcile("demo", 0.02, "ok")
    m.observe_reconcile("demo", 0.5, "ok")
    m.observe_reconcile("demo", 1.0, "error")
    assert value(m, "bandctl_reconciles_total", manifest="demo", result="ok") == 2
    assert value(m, "bandctl_reconciles_total", manifest="demo", result="error") == 1
    assert value(m, "bandctl_reconcile_duration_seconds_count", manifest="demo") == 3
    assert value(m, "bandctl_reconcile_duration_seconds_sum", manifest="demo") == pytest.approx(1.52)
    assert value(m, "bandctl_reconcile_duration_seconds_bucket", manifest="demo", le="0.025") == 1


def test_reconcile_result_must_be_known() -> None:
    with pytest.raises(ValueError, match="ok"):
        Metrics().observe_reconcile("demo", 0.1, "fine")


def test_orders_by_market_and_reason_code() -> None:
    m = Metrics()
    m.order_placed("demo")
    m.order_placed("demo", 2)
    m.order_cancelled("demo", CancelReason.OUTSIDE_BANDS)
    m.order_cancelled("demo", CancelReason.OVER_MAX_AMOUNT)
    m.order_cancelled("demo", CancelReason.STALE_MARKET_DATA)
    m.order_rejected("demo", PlaceProblem.OFF_GRID.value)
    m.order_rejected("demo", CANCEL_REFUSED)
    assert value(m, "bandctl_orders_placed_total", market="demo") == 3
    assert value(m, "bandctl_orders_cancelled_total", market="demo", reason="outside_band") == 1
    assert value(m, "bandctl_orders_cancelled_total", market="demo", reason="over_max") == 1
    assert value(m, "bandctl_orders_cancelled_total", market="demo", reason="stale_market_data") == 1
    assert value(m, "bandctl_orders_rejected_total", market="demo", reason="off_grid") == 1
    assert value(m, "bandctl_orders_rejected_total", market="demo", reason="cancel_refused") == 1


def test_every_cancel_code_has_a_fixed_snake_case_label() -> None:
    labels = [metric_label(reason) for reason in CancelReason]
    assert len(set(labels)) == len(labels)
    assert all(label == label.lower() and " " not in label for label in labels)


def test_api_requests_and_errors() -> None:
    m = Metrics()
    m.api_request("/book?token_id=123", 0.05, 200)
    m.api_request("/data/order/0x" + "ab" * 32, 0.2, 404)
    m.api_request("/data/order/0x" + "cd" * 32, 5.0, "timeout")
    assert value(m, "bandctl_api_request_duration_seconds_count", endpoint="/book") == 1
    assert value(m, "bandctl_api_request_duration_seconds_count", endpoint="/data/order/:id") == 2
    assert value(m, "bandctl_api_request_errors_total", endpoint="/data/order/:id", status="404") == 1
    assert value(m, "bandctl_api_request_errors_total", endpoint="/data/order/:id", status="timeout") == 1
    assert value(m, "bandctl_api_request_errors_total", endpoint="/book", status="200") is None


def test_endpoint_label_collapses_ids() -> None:
    assert endpoint_label("/order") == "/order"
    assert endpoint_label("/markets/0x" + "1" * 64) == "/markets/:id"
    assert endpoint_label(
        "/tick-size/71321045679252212594626385532706912750332728571942532289631379312455583992563"
    ) == ("/tick-size/:id")
    assert len(endpoint_label("/" + "a/" * 100)) <= 64


def test_websocket_metrics() -> None:
    m = Metrics()
    m.ws_reconnect("market")
    m.ws_reconnect("market")
    m.ws_lag("user", 0.3)
    m.ws_lag("user", -2.0)  # clock skew: counted as 0, not dropped
    m.ws_lag("user", float("nan"))  # nonsense: ignored
    assert value(m, "bandctl_ws_reconnects_total", channel="market") == 2
    assert value(m, "bandctl_ws_message_lag_seconds_count", channel="user") == 2
    assert value(m, "bandctl_ws_message_lag_seconds_bucket", channel="user", le="0.01") == 1


def test_per_manifest_gauges_and_forget() -> None:
    m = Metrics()
    m.set_quotes_in_band("demo", "bid", 3)
    m.set_quotes_in_band("demo", "ask", 2)
    m.set_position("demo", Decimal("12.5"))
    m.set_collateral("demo", "4800.00")
    assert value(m, "bandctl_quotes_in_band", manifest="demo", side="bid") == 3
    assert value(m, "bandctl_quotes_in_band", manifest="demo", side="ask") == 2
    assert value(m, "bandctl_position_shares", manifest="demo") == 12.5
    assert value(m, "bandctl_collateral", manifest="demo") == 4800
    with pytest.raises(ValueError, match="side"):
        m.set_quotes_in_band("demo", "BUY", 1)
    m.set_band_orders("demo", {"bid": [1, 0], "ask": [2, 1]})
    m.set_pnl("demo", Decimal("1.5"), Decimal("-0.5"))
    m.set_rewards("demo", 4, Decimal("0.25"))
    m.hold("demo", "Halted")
    m.set_position("other", 1)
    m.forget_manifest("demo")
    m.forget_manifest("demo")  # twice is fine
    assert value(m, "bandctl_quotes_in_band", manifest="demo", side="bid") is None
    assert value(m, "bandctl_position_shares", manifest="demo") is None
    assert b'manifest="demo"' not in m.render(), "every per-manifest gauge of a deleted manifest goes"
    assert value(m, "bandctl_position_shares", manifest="other") == 1


def test_a_band_a_reload_removed_leaves_the_band_orders_metric() -> None:
    m = Metrics()
    m.set_band_orders("demo", {"bid": [1, 0, 2], "ask": [2, 1, 1]})
    m.set_band_orders("demo", {"bid": [1], "ask": [3]})
    assert value(m, "bandctl_band_orders", manifest="demo", side="ask", band="0") == 3
    assert value(m, "bandctl_band_orders", manifest="demo", side="bid", band="2") is None
    assert value(m, "bandctl_band_orders", manifest="demo", side="ask", band="1") is None


def test_heartbeat_age_is_computed_at_scrape_time() -> None:
    clock = FakeClock(1000.0)
    m = Metrics(clock=clock)
    clock.t = 1007.0
    assert value(m, "bandctl_exchange_heartbeat_age_seconds") == 7  # since start: none yet
    m.heartbeat_ok(1005.0)
    assert value(m, "bandctl_exchange_heartbeat_age_seconds") == 2
    clock.t = 1030.0
    assert value(m, "bandctl_exchange_heartbeat_age_seconds") == 25  # no call needed: read at scrape
    m.heartbeat_ok()
    assert value(m, "bandctl_exchange_heartbeat_age_seconds") == 0


def test_reload_results_start_at_zero() -> None:
    m = Metrics()
    assert value(m, "bandctl_manifest_reloads_total", result="applied") == 0
    assert value(m, "bandctl_manifest_reloads_total", result="rejected") == 0
    m.reload("applied")
    m.reload("rejected")
    m.reload("rejected")
    assert value(m, "bandctl_manifest_reloads_total", result="applied") == 1
    assert value(m, "bandctl_manifest_reloads_total", result="rejected") == 2
    with pytest.raises(ValueError):
        m.reload("maybe")


def test_instances_are_independent() -> None:
    # Each owns its registry: creating two must not raise "Duplicated timeseries".
    a, b = Metrics(), Metrics()
    a.order_placed("demo")
    assert value(a, "bandctl_orders_placed_total", market="demo") == 1
    assert value(b, "bandctl_orders_placed_total", market="demo") is None


def test_render_is_text_exposition() -> None:
    m = Metrics()
    text = m.render().decode()
    assert "# TYPE bandctl_reconcile_duration_seconds histogram" in text
    assert 'bandctl_build_info{version="' in text
    assert m.content_type.startswith("text/plain")


def test_band_orders_conditions_and_rate_budget_are_exported() -> None:
    from controller.venue.ratebudget import TokenBucket

    m = Metrics()
    m.set_band_orders("demo", {"bid": [1, 0], "ask": [2, 1]})
    m.set_condition("demo", "Quoting", "False", "StaleMarketData")
    m.set_condition("demo", "Quoting", "True", "QuotingAllBands")
    m.watch_rate_budget({"orders": TokenBucket(40, 60)})
    assert value(m, "bandctl_band_orders", manifest="demo", side="ask", band="0") == 2
    assert value(m, "bandctl_manifest_condition", manifest="demo", type="Quoting", reason="QuotingAllBands") == 1
    assert value(m, "bandctl_manifest_condition", manifest="demo", type="Quoting", reason="StaleMarketData") is None
    assert value(m, "bandctl_rate_budget_capacity", bucket="orders") == 60
    assert value(m, "bandctl_rate_budget_remaining", bucket="orders") == 60


def test_websocket_rejects_are_read_from_the_streams_at_each_scrape() -> None:
    counts = {"market": {"too_deep": 2}, "user": {}}
    m = Metrics()
    m.watch_ws_rejects(lambda: counts)
    assert value(m, "bandctl_ws_rejected_total", channel="market", reason="too_deep") == 2
    counts["market"]["too_deep"] = 5
    assert value(m, "bandctl_ws_rejected_total", channel="market", reason="too_deep") == 5
