"""Reason codes: the contract downstream code branches on, independent of the wording."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_bands_support import NO, NOW, band, order, spec, state

from controller.plan import messages
from controller.plan.bands import plan, plan_market
from controller.plan.reasons import (
    PULL_CANCEL_REASONS,
    AdjustReason,
    CancelReason,
    KeepReason,
    PlaceReason,
    PullReason,
    WarningReason,
    metric_label,
    metric_labels,
)
from controller.schemas import load_schema

KINDS = (CancelReason, PullReason, PlaceReason, KeepReason, AdjustReason, WarningReason)


def codes(mp):
    return (
        [(c.order_id, c.reason) for c in mp.cancel],
        [(p.band, p.quote_side, p.reason) for p in mp.place],
        [(k.order.id, k.reason) for k in mp.kept],
        [(w.quote_side, w.band, w.reason) for w in mp.alerts],
        mp.pull_reason,
        None if mp.skew is None else (mp.skew.reason, mp.skew.ticks),
    )


SCENARIOS = [
    # outside / over max / token not in market / kept / placed / short of balance
    (
        spec([band(), band("0.03", "0.04", "0.05")], tick="0.001"),
        state(
            collateral="40",
            orders=[
                order("out", "BUY", "0.30", "10"),
                order("big1", "BUY", "0.49", "20"),
                order("big2", "BUY", "0.48", "20"),
                order("odd", "BUY", "0.48", "5", token="9"),
                order("ask", "SELL", "0.52", "15", token="1111"),
            ],
        ),
    ),
    (spec(paused=True), state(orders=[order("a", "BUY", "0.49", "10")])),
    (spec(not_after=NOW - timedelta(seconds=1)), state(orders=[order("a", "BUY", "0.49", "10")])),
    (spec(max_spread="0.01"), state(orders=[order("a", "SELL", "0.52", "10", token=NO)])),
    (spec(max_position="3"), state()),
    (spec(max_position="40", skew_ticks=4), state(tokens={"1111": "20"})),
]


@pytest.mark.parametrize("case", range(len(SCENARIOS)))
def test_rewording_every_message_changes_no_code(case, monkeypatch):
    s, st = SCENARIOS[case]
    before = plan_market(s, st, NOW)
    for name in dir(messages):
        value = getattr(messages, name)
        if callable(value) and not name.startswith("_") and value.__module__ == messages.__name__:
            monkeypatch.setattr(messages, name, lambda *args, _n=name, **kwargs: f"reworded {_n}")
    after = plan_market(s, st, NOW)
    assert codes(after) == codes(before)
    texts = [c.detail for c in after.cancel] + [p.detail for p in after.place] + list(after.warnings)
    texts += [k.detail for k in after.kept] + ([after.note] if after.note else [])
    texts += [after.skew.detail] if after.skew is not None else []
    assert texts and all(t.startswith("reworded ") for t in texts), texts
    assert texts != [c.detail for c in before.cancel] + [p.detail for p in before.place] + list(before.warnings)


def test_the_first_scenario_covers_the_everyday_codes():
    s, st = SCENARIOS[0]
    cancels, places, kept, warns, pull, skew = codes(plan_market(s, st, NOW))
    assert {r for _, r in cancels} == {
        CancelReason.OUTSIDE_BANDS,
        CancelReason.OVER_MAX_AMOUNT,
        CancelReason.TOKEN_NOT_IN_MARKET,
    }
    assert {r for *_, r in places} == {PlaceReason.BELOW_MIN_AMOUNT}
    assert {r for _, r in kept} == {KeepReason.IN_BAND}
    assert {r for *_, r in warns} == {WarningReason.TICK_SIZE_NOT_ON_GRID, WarningReason.SIZE_CAPPED}
    assert pull is None and skew is None


def test_codes_are_stable_camel_case_strings():
    for kind in KINDS:
        for member in kind:
            assert member.value[0].isupper() and member.value.isalnum(), member
            assert str(member) == member.value and f"{member}" == member.value
    # A pulled market's cancels carry the pull's own code.
    assert set(PULL_CANCEL_REASONS) == set(PullReason) - {PullReason.ALREADY_MANAGED}
    assert all(PULL_CANCEL_REASONS[p].value == p.value for p in PULL_CANCEL_REASONS)


def test_metric_labels_are_bounded_snake_case_and_keep_the_old_names():
    assert metric_label(CancelReason.OUTSIDE_BANDS) == "outside_band"
    assert metric_label(CancelReason.OVER_MAX_AMOUNT) == "over_max"
    assert metric_label(CancelReason.TOKEN_NOT_IN_MARKET) == "foreign_token"
    assert metric_label(CancelReason.STALE_MARKET_DATA) == "stale_market_data"
    assert metric_label(CancelReason.NO_REFERENCE_PRICE) == "no_reference_price"
    assert metric_label(WarningReason.INSUFFICIENT_BALANCE) == "insufficient_balance"
    assert metric_label(KeepReason.FOREIGN) == "foreign"
    for kind in KINDS:
        labels = metric_labels(kind)
        assert len(labels) == len(kind)  # one label per code, none shared within a kind
        assert all(label.replace("_", "").isalnum() and label == label.lower() for label in labels)


def test_schema_lists_exactly_the_codes():
    defs = load_schema("plan.schema.json")["$defs"]
    for kind, key in zip(
        KINDS, ("cancelReason", "pullReason", "placeReason", "keepReason", "adjustReason", "warningReason"), strict=True
    ):
        assert defs[key]["enum"] == [m.value for m in kind], key


def test_duplicate_spec_is_coded_and_cancels_nothing():
    p = plan([spec(name="one"), spec(name="two")], state(), NOW)
    assert p.markets[1].pull_reason is PullReason.ALREADY_MANAGED and not p.markets[1].has_changes
