"""controller.ops.status: conditions, the /status document, its schema, rendering and fetching."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml

from controller.ops.health import HealthServer
from controller.ops.status import (
    FALSE,
    TRUE,
    UNKNOWN,
    Condition,
    Conditions,
    StatusError,
    fetch_status,
    human_age,
    manifest_status,
    render,
    render_table,
    status_document,
    status_url,
    validate_status,
)

T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
CID_A = "0x" + "a1" * 32
CID_B = "0x" + "b2" * 32


# -- conditions ------------------------------------------------------------------------


def test_transition_time_moves_only_when_status_changes() -> None:
    conditions = Conditions()
    assert conditions.set("Synced", TRUE, "ReconcileSucceeded", "3 placed", T0) is True
    later = T0 + timedelta(seconds=30)
    # Same status, new reason and message: the time stays, the text updates.
    assert conditions.set("Synced", TRUE, "ReconcileSucceeded", "nothing to do", later) is False
    synced = conditions.get("Synced")
    assert synced is not None
    assert synced.last_transition_time == T0
    assert synced.message == "nothing to do"
    # A status change moves it.
    even_later = T0 + timedelta(seconds=90)
    assert conditions.set("Synced", FALSE, "ReconcileFailed", "HTTP 500", even_later) is True
    assert conditions.get("Synced") == Condition("Synced", FALSE, "ReconcileFailed", "HTTP 500", even_later)
    conditions.set("Synced", FALSE, "OrdersRejected", "1 rejected", even_later + timedelta(seconds=5))
    assert conditions.get("Synced").last_transition_time == even_later  # type: ignore[union-attr]


def test_initial_unknown_conditions_and_bool_statuses() -> None:
    conditions = Conditions(now=T0)
    assert [c.status for c in conditions] == [UNKNOWN, UNKNOWN, UNKNOWN]
    assert [c.type for c in conditions] == ["Valid", "Synced", "Quoting"]
    assert conditions.set("Valid", True, "ManifestValid", "", T0 + timedelta(seconds=1))
    assert conditions.is_true("Valid")
    assert conditions.set("Quoting", False, "Paused", "spec.paused is true", T0)
    assert conditions.get("Quoting").status == FALSE  # type: ignore[union-attr]
    assert not conditions.set("Synced", None, "NotYetReconciled", "", T0 + timedelta(seconds=9))
    assert conditions.get("Synced").last_transition_time == T0  # type: ignore[union-attr]


def test_condition_order_is_stable() -> None:
    conditions = Conditions()
    conditions.set("Quoting", TRUE, "QuotingAllBands", "", T0)
    conditions.set("Custom", TRUE, "Fine", "", T0)
    conditions.set("Valid", TRUE, "ManifestValid", "", T0)
    assert [c["type"] for c in conditions.to_json()] == ["Valid", "Quoting", "Custom"]


@pytest.mark.parametrize("reason", ["paused", "Not Quoting", "", "Paused!", "9Lives"])
def test_reason_must_be_camel_case(reason: str) -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        Conditions().set("Quoting", FALSE, reason, "", T0)


def test_status_must_be_known() -> None:
    with pytest.raises(ValueError, match="True"):
        Conditions().set("Valid", "yes", "ManifestValid", "", T0)


def test_condition_json_round_trip() -> None:
    condition = Condition("Valid", TRUE, "ManifestValid", "", datetime(2026, 11, 23, 13, 0, 0, 123456, tzinfo=UTC))
    data = condition.to_json()
    assert data == {
        "type": "Valid",
        "status": "True",
        "reason": "ManifestValid",
        "message": "",
        "lastTransitionTime": "2026-11-23T13:00:00Z",
    }
    assert Condition.from_json(data).last_transition_time == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_naive_times_are_refused() -> None:
    conditions = Conditions()
    conditions.set("Valid", TRUE, "ManifestValid", "", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        conditions.to_json()


# -- the document and its schema ------------------------------------------------------------


def healthy_conditions(now: datetime) -> Conditions:
    conditions = Conditions()
    conditions.set("Valid", TRUE, "ManifestValid", "market found and accepting orders", now)
    conditions.set("Synced", TRUE, "ReconcileSucceeded", "", now)
    conditions.set("Quoting", TRUE, "QuotingAllBands", "", now)
    return conditions


def sample_document() -> dict[str, Any]:
    now = T0 + timedelta(minutes=10)
    paused = healthy_conditions(T0)
    paused.set("Quoting", FALSE, "Paused", "spec.paused is true", T0 + timedelta(minutes=5))
    failing = Conditions()
    failing.set("Valid", TRUE, "ManifestValid", "", T0)
    failing.set("Synced", FALSE, "ReconcileFailed", "HTTP 503 from /orders", T0 + timedelta(minutes=9))
    failing.set("Quoting", FALSE, "StaleMarketData", "market stream disconnected", T0 + timedelta(minutes=9))
    manifests = [
        manifest_status(
            "demo-btc-150k",
            CID_A,
            healthy_conditions(T0),
            reference_price=Decimal("0.50"),
            open_orders={"bid": [1, 1, 0], "ask": [1, 1, 1]},
            position=Decimal("12.5"),
            collateral=Decimal("4800.00"),
            last_reconcile=now - timedelta(seconds=3),
        ),
        manifest_status(
            "demo-eth-paused",
            CID_B,
            paused,
            reference_price=None,
            open_orders={"bid": [0], "ask": [0]},
            position=Decimal("0"),
            collateral=Decimal("4800.00"),
            last_reconcile=now - timedelta(seconds=150),
        ),
        manifest_status(
            "a-new-one",
            CID_B,
            failing,
            last_error="HTTP 503 from /orders",
        ),
    ]
    return status_document(now, False, {"market": False, "user": True}, manifests)


def test_sample_document_validates() -> None:
    doc = sample_document()
    assert validate_status(doc) == []
    assert validate_status(json.loads(json.dumps(doc))) == []
    first = doc["manifests"][1]
    assert first["name"] == "demo-btc-150k"  # sorted by name
    assert first["referencePrice"] == "0.50"
    assert first["collateral"] == "4800.00"
    assert first["position"] == "12.5"
    assert first["lastReconcileTime"] == "2026-11-23T12:09:57Z"


def test_the_design_example_validates() -> None:
    doc = {
        "time": "2026-11-23T12:00:00Z",
        "ready": True,
        "streams": {"market": True, "user": True},
        "manifests": [
            {
                "name": "demo-btc-150k",
                "conditionId": CID_A,
                "conditions": healthy_conditions(T0).to_json(),
                "referencePrice": "0.50",
                "openOrders": {"bid": [1, 1, 0], "ask": [1, 1, 1]},
                "position": "12.5",
                "collateral": "4800.00",
                "lastReconcileTime": "2026-11-23T11:59:57Z",
                "lastError": None,
            }
        ],
    }
    assert validate_status(doc) == []


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("ready"), "(document)"),
        (lambda d: d["manifests"][0]["conditions"][0].update(status="Yes"), "manifests/0/conditions/0/status"),
        (lambda d: d["manifests"][0].update(conditionId="0x12"), "manifests/0/conditionId"),
        (lambda d: d["manifests"][0].update(position=12.5), "manifests/0/position"),
        (lambda d: d["manifests"][0]["openOrders"].update(bid=[-1]), "manifests/0/openOrders/bid/0"),
        (lambda d: d.update(time="yesterday"), "time"),
        (lambda d: d["streams"].update(market="up"), "streams/market"),
    ],
)
def test_schema_rejects_broken_documents(mutate: Any, where: str) -> None:
    doc = sample_document()
    mutate(doc)
    problems = validate_status(doc)
    assert problems
    assert any(p.startswith(where + ":") for p in problems), problems


# -- rendering ------------------------------------------------------------------------------------

GOLDEN_TABLE = """\
NAME              VALID   SYNCED   QUOTING   REF      BIDS     ASKS     POSITION   PNL      AGE      REASON
a-new-one         True    False    False     <none>   <none>   <none>   <none>     <none>   <none>   ReconcileFailed
demo-btc-150k     True    True     True      0.50     1,1,0    1,1,1    12.5       <none>   3s
demo-eth-paused   True    True     False     <none>   0        0        0          <none>   2m       Paused
"""


def test_table_golden() -> None:
    assert render_table(sample_document()) == GOLDEN_TABLE
    assert render(sample_document()) == GOLDEN_TABLE


def test_table_age_uses_an_explicit_now() -> None:
    text = render_table(sample_document(), now=T0 + timedelta(hours=3))
    assert "2h" in text.splitlines()[2]


def test_table_without_manifests() -> None:
    assert render_table(status_document(T0, True, {}, [])) == "No manifests.\n"


def test_table_tolerates_missing_fields() -> None:
    text = render_table({"manifests": [{"name": "odd"}]})
    assert text.splitlines()[1].split() == [
        "odd",
        "Unknown",
        "Unknown",
        "Unknown",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (3.9, "3s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (172800, "2d"), (-5, "0s")],
)
def test_human_age(seconds: float, text: str) -> None:
    assert human_age(seconds) == text


def test_json_and_yaml_output() -> None:
    doc = sample_document()
    assert json.loads(render(doc, "json")) == doc
    assert yaml.safe_load(render(doc, "yaml")) == doc
    with pytest.raises(ValueError, match="table, json or yaml"):
        render(doc, "xml")


# -- fetching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9108", "http://127.0.0.1:9108/status"),
        ("http://127.0.0.1:9108/", "http://127.0.0.1:9108/status"),
        ("127.0.0.1:9108", "http://127.0.0.1:9108/status"),
        ("http://127.0.0.1:9108/status", "http://127.0.0.1:9108/status"),
        ("https://bandctl.example/x/status", "https://bandctl.example/x/status"),
    ],
)
def test_status_url(url: str, expected: str) -> None:
    assert status_url(url) == expected


def test_status_url_refuses_other_schemes() -> None:
    with pytest.raises(StatusError, match="http"):
        status_url("file:///etc/passwd")


def test_fetch_status_from_the_health_server() -> None:
    doc = sample_document()
    with HealthServer("127.0.0.1", 0, status=lambda: doc, poll_interval=0.01) as srv:
        assert fetch_status(srv.url) == doc
        assert fetch_status(srv.url + "/status", timeout=2) == doc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fetch_status_connection_refused() -> None:
    port = free_port()
    with pytest.raises(StatusError, match="connection refused") as info:
        fetch_status(f"http://127.0.0.1:{port}")
    assert "\n" not in str(info.value)


def serve(status: Any = None) -> HealthServer:
    return HealthServer("127.0.0.1", 0, status=status, poll_interval=0.01)


def test_fetch_status_non_200() -> None:
    with serve() as srv, pytest.raises(StatusError, match="HTTP 404"):  # no status provider: 404
        fetch_status(srv.url)

    def broken() -> dict[str, Any]:
        raise RuntimeError("store locked")

    with serve(broken) as srv, pytest.raises(StatusError, match="HTTP 500"):
        fetch_status(srv.url)


def test_fetch_status_bad_json() -> None:
    with serve() as srv, pytest.raises(StatusError, match="not JSON"):
        fetch_status(srv.url + "/healthz")  # answers "healthy: ok", not JSON


def test_fetch_status_wrong_json() -> None:
    with serve(lambda: [1, 2, 3]) as srv, pytest.raises(StatusError, match="not a bandctl status document"):
        fetch_status(srv.url)


def test_fetch_status_timeout() -> None:
    # A listening socket that never answers: the kernel accepts, nobody replies.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(StatusError, match="timed out"):
            fetch_status(f"http://127.0.0.1:{port}", timeout=0.2)
