"""Plan rendering: kubectl-like text, the JSON document (validated by its schema), --now."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal as D

import jsonschema
import pytest
from test_bands_support import NO, NOW, band, order, spec, state

from controller.cli.render import NowError, plan_json, plan_text, resolve_now, short_id, use_color
from controller.observe.state import ObservedState
from controller.plan.bands import (
    Cancellation,
    CancelReason,
    MarketPlan,
    Placement,
    Plan,
    PlanWarning,
    WarningReason,
    plan,
)
from controller.schemas import load_schema


def sample_plan() -> Plan:
    orders = [
        order("0x" + "11" * 32, "BUY", "0.30", "10"),  # outside
        order("0x" + "22" * 32, "BUY", "0.49", "15"),  # kept, bid band 0
        order("0x" + "33" * 32, "SELL", "0.51", "12", matched="2"),  # kept, ask band 0 (10 left)
    ]
    st = state(orders=orders, tokens={NO: "8"})
    return plan([spec(name="demo", tick="0.01"), spec(name="paused", cid="0x" + "ef" * 32, paused=True)], st, NOW)


def test_text_blocks_and_summary():
    text = plan_text(sample_plan())
    lines = text.splitlines()
    assert lines[0] == "demo  0xababab…abab  reference 0.50 (midpoint)"
    assert lines[1] == "  - 0x111111…1111  BUY  YES 0.30 × 10  outside every band"
    assert not any(line.startswith("  + ") for line in lines)  # both bands hold >= minAmount
    assert "  = 0x222222…2222  BUY  YES 0.49 × 15  bid band 0" in lines
    assert "  = 0x333333…3333  SELL YES 0.51 × 10 (of 12)  ask band 0" in lines
    assert "paused  0xefefef…efef  not quoting: paused" in lines
    assert lines[-1] == "Plan: 0 to place, 1 to cancel, 2 unchanged."
    assert text.endswith("\n") and "\x1b[" not in text


def test_text_shows_placements_and_warnings():
    st = state(collateral="5", tokens={NO: "8"})
    text = plan_text(plan([spec([band(), band("0.03", "0.04", "0.05")])], st, NOW))
    assert "  + SELL NO  0.52 × 8  bid band 0: 0 < minAmount 10, target avgAmount 20 (held inventory)" in text
    assert "  + BUY  YES 0.48 × 10.41  bid band 0: 0 < minAmount 10, target avgAmount 20" in text
    assert "  ! ask band 0: not enough free balance for 20" in text
    assert text.splitlines()[-1].startswith("Plan: 2 to place, 0 to cancel, 0 unchanged.")


def test_no_changes_summary():
    st = state(orders=[order("a", "BUY", "0.48", "20"), order("b", "SELL", "0.52", "20")])
    text = plan_text(plan([spec()], st, NOW))
    assert text.splitlines()[-1] == "No changes. 2 order(s) unchanged."
    assert plan_text(Plan(())) == "No changes. 0 order(s) unchanged.\n"


def test_color_only_when_asked():
    colored = plan_text(sample_plan(), color=True)
    assert "\x1b[31m  - 0x111111…1111" in colored and "\x1b[2m  = " in colored and "\x1b[0m" in colored
    st = state()
    assert "\x1b[32m  + BUY  YES 0.48 × 20" in plan_text(plan([spec()], st, NOW), color=True)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_use_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Tty()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")
    assert not use_color(_Tty())
    closed = io.StringIO()
    closed.close()
    monkeypatch.delenv("NO_COLOR")
    assert not use_color(closed)  # a closed stream's isatty() raises: no colour, no crash
    assert not use_color(object())


def test_json_document_matches_the_contract_and_schema():
    doc = json.loads(plan_json(sample_plan()))
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    demo, paused = doc["markets"]
    assert demo["name"] == "demo" and demo["referencePrice"] == "0.5"
    assert demo["cancel"] == [{"id": "0x" + "11" * 32, "reason": "OutsideBands", "message": "outside every band"}]
    assert demo["keep"] == [
        {"id": "0x" + "22" * 32, "reason": "InBand", "message": "bid band 0", "quoteSide": "bid", "band": 0},
        {"id": "0x" + "33" * 32, "reason": "InBand", "message": "ask band 0", "quoteSide": "ask", "band": 0},
    ]
    assert paused == {
        "name": "paused",
        "conditionId": "0x" + "ef" * 32,
        "referencePrice": None,
        "cancel": [],
        "place": [],
        "keep": [],
        "pullReason": "Paused",
        "note": "paused",
    }


def test_json_decimals_are_plain_strings():
    mp = MarketPlan(
        name="x",
        condition_id="0x1",
        reference_price=D("5E-1"),
        cancel=(Cancellation("0xabc", CancelReason.OUTSIDE_BANDS, "outside every band"),),
        place=(Placement("1", "BUY", D("0.470"), D("1.5E+1"), 0, detail="why"),),
        keep=("0xdef",),
        awaiting_cancels=True,
        alerts=(PlanWarning(WarningReason.SIZE_CAPPED, "w", "ask", 1),),
    )
    doc = json.loads(plan_json(Plan((mp,))))
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    m = doc["markets"][0]
    assert m["referencePrice"] == "0.5"
    assert m["place"] == [
        {
            "tokenId": "1",
            "side": "BUY",
            "price": "0.47",
            "size": "15",
            "band": 0,
            "quoteSide": "bid",
            "reason": "BelowMinAmount",
            "message": "why",
        }
    ]
    assert m["keep"] == [{"id": "0xdef", "reason": "InBand", "message": ""}]
    assert m["awaitingCancels"] is True
    assert m["warnings"] == [{"reason": "SizeCapped", "message": "w", "quoteSide": "ask", "band": 1}]


def test_schema_rejects_exponents_and_unknown_keys():
    validator = jsonschema.Draft202012Validator(load_schema("plan.schema.json"))
    good = json.loads(plan_json(sample_plan()))
    assert not list(validator.iter_errors(good))
    bad = json.loads(plan_json(sample_plan()))
    bad["markets"][0]["referencePrice"] = "5E-1"
    assert list(validator.iter_errors(bad))
    bad = json.loads(plan_json(sample_plan()))
    bad["markets"][0]["extra"] = 1
    assert list(validator.iter_errors(bad))


def test_resolve_now():
    st = ObservedState(time=NOW)
    assert resolve_now(None, st) == NOW
    assert resolve_now("2026-01-02T03:04:05+01:00", st) == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert resolve_now("2026-01-02T03:04:05Z", ObservedState()).tzinfo is not None
    before = datetime.now(UTC)
    assert resolve_now(None, ObservedState()) >= before  # wall clock, CLI only
    for bad in ("tomorrow", "2026-01-02", "2026-01-02T03:04:05", ""):
        with pytest.raises(NowError, match=r"^--now: must be an RFC 3339 timestamp"):
            resolve_now(bad, st)


def test_short_id():
    assert short_id("0xabc") == "0xabc"
    assert short_id("0x" + "f5" * 32) == "0xf5f5f5…f5f5"
    assert short_id("3908542853943523934563267656964073640771816313906088687248131241679293562125") == "390854…2125"
