"""``bandctl status -w``: the table once, then only the rows that changed (age alone is no change)."""

from __future__ import annotations

import io
from typing import Any

from controller.cli.watch import watch


def conditions_of(quoting: str) -> list[dict[str, str]]:
    return [
        {
            "type": t,
            "status": s,
            "reason": "QuotingAllBands" if s == "True" else "StaleMarketData",
            "message": "",
            "lastTransitionTime": "2026-12-01T00:00:00Z",
        }
        for t, s in (("Valid", "True"), ("Synced", "True"), ("Quoting", quoting))
    ]


def document(quoting: str, age_time: str) -> dict[str, Any]:
    def entry(name: str, ref: str, conditions: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "name": name,
            "conditionId": "0x" + "1" * 64,
            "conditions": conditions,
            "referencePrice": ref,
            "openOrders": {"bid": [1], "ask": [1]},
            "position": "0",
            "lastReconcileTime": age_time,
        }

    manifests = [entry("btc", "0.50", conditions_of(quoting)), entry("rain", "0.23", conditions_of("True"))]
    return {"time": "2026-12-01T00:01:00Z", "ready": True, "streams": {}, "manifests": manifests}


def test_watch_prints_the_table_then_only_changed_rows() -> None:
    docs = iter(
        [
            document("True", "2026-12-01T00:00:59Z"),
            document("True", "2026-12-01T00:00:30Z"),  # only the age moved
            document("False", "2026-12-01T00:00:30Z"),  # btc stops quoting
        ]
    )
    out = io.StringIO()
    code = watch("http://x", out=out, fetch=lambda url, timeout: next(docs), sleep=lambda s: None, polls=3)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].split()[:4] == ["NAME", "VALID", "SYNCED", "QUOTING"]
    assert [line.split()[0] for line in lines[1:]] == ["btc", "rain", "btc"]
    assert lines[-1].split()[3] == "False" and lines[-1].split()[-1] == "StaleMarketData"


def test_watch_fails_at_once_when_the_controller_cannot_be_reached() -> None:
    from controller.ops.status import StatusError

    def refuse(url: str, timeout: float) -> dict[str, Any]:
        raise StatusError("cannot connect")

    assert watch("http://x", out=io.StringIO(), fetch=refuse, sleep=lambda s: None, polls=1) == 2
