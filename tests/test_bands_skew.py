"""Inventory skew (risk.skew): the reference leans against the position, the adding side shrinks."""

from __future__ import annotations

import json
from decimal import Decimal as D

import jsonschema
import pytest
from test_bands import places
from test_bands_support import NO, NOW, YES, band, order, spec, state

from controller.cli.render import plan_json, plan_text
from controller.plan.bands import AdjustReason, CancelReason, Plan, WarningReason, apply_plan, plan_market
from controller.schemas import load_schema


def skewed(ticks=4, max_position="40", **kwargs):
    return spec(max_position=max_position, skew_ticks=ticks, **kwargs)


def test_no_skew_without_the_setting_or_a_position():
    assert plan_market(spec(max_position="40"), state(tokens={YES: "20"}), NOW).skew is None
    flat = plan_market(skewed(), state(tokens={YES: "5", NO: "5"}), NOW)
    assert flat.skew is None and flat.reference_price == D("0.50")


def test_long_moves_the_reference_down_and_shrinks_the_bid_side():
    mp = plan_market(skewed(), state(tokens={YES: "20"}), NOW)  # half of maxPosition
    assert mp.skew is not None and mp.skew.reason is AdjustReason.INVENTORY_SKEW
    assert (mp.skew.ticks, mp.skew.unskewed, mp.reference_price) == (-2, D("0.50"), D("0.48"))
    assert (mp.skew.adding_side, mp.skew.size_factor) == ("bid", D("0.5"))
    # Bid band 0 targets 20 x 0.5 = 10 around 0.48; the ask sells the held YES at 0.50.
    assert places(mp) == [("BUY", "YES", "0.46", "10", 0), ("SELL", "YES", "0.50", "20", 0)]
    assert mp.place[0].detail == ("bid band 0: 0 < minAmount 5, target avgAmount 10 (sized down for inventory skew)")
    assert "sized down" not in mp.place[1].detail


def test_short_moves_the_reference_up_and_shrinks_the_ask_side():
    mp = plan_market(skewed(), state(tokens={NO: "30"}), NOW)  # position -30 of 40
    assert mp.skew is not None and (mp.skew.ticks, mp.skew.adding_side) == (3, "ask")
    assert mp.reference_price == D("0.53") and mp.skew.size_factor == D("0.25")
    asks = [p for p in mp.place if p.quote_side == "ask"]
    assert sum(p.size for p in asks) == D("5")  # 20 x 0.25 = 5, the minimum order size


def test_at_the_limit_only_the_reducing_side_is_quoted():
    wide = band("0.01", "0.03", "0.08")
    mp = plan_market(skewed(bands=[wide]), state(tokens={YES: "50"}), NOW)  # beyond maxPosition: clamped
    assert mp.skew is not None and (mp.skew.ticks, mp.skew.size_factor) == (-4, D("0"))
    # p 0.46: the ask wants 0.49 but post-only moves it above the best bid 0.49.
    assert places(mp) == [("SELL", "YES", "0.50", "20", 0)]
    assert [(w.reason, w.quote_side) for w in mp.alerts] == [(WarningReason.MAX_POSITION, "bid")]


@pytest.mark.parametrize(
    ("position", "ticks"),
    [("4", 0), ("5", -1), ("12", -1), ("15", -2), ("-15", 2), ("-5", 1), ("40", -4)],
)
def test_shift_is_proportional_and_rounds_halves_away_from_zero(position, ticks):
    tokens = {YES: position} if not position.startswith("-") else {NO: position[1:]}
    mp = plan_market(skewed(), state(tokens=tokens), NOW)  # 4 ticks at 40: one tick per 10
    assert mp.skew is not None and mp.skew.ticks == ticks
    assert mp.reference_price == D("0.50") + ticks * D("0.01")


def test_skewed_reference_stays_inside_the_price_range():
    st = state(bids=[("0.02", "10")], asks=[("0.04", "10")], tokens={YES: "40"})
    mp = plan_market(skewed(ticks=10), st, NOW)  # 0.03 - 10 ticks would be -0.07
    assert mp.reference_price == D("0.01")


def test_orders_are_kept_or_cancelled_against_the_skewed_reference():
    # Bid 0.49 is in bid band 0 around 0.50 but not around 0.48 ((0.45, 0.47]).
    st = state(tokens={YES: "20"}, orders=[order("b", "BUY", "0.49", "10"), order("c", "BUY", "0.46", "10")])
    mp = plan_market(skewed(), st, NOW)
    assert [(c.order_id, c.reason) for c in mp.cancel] == [("b", CancelReason.OUTSIDE_BANDS)]
    assert mp.keep == ("c",)
    assert not any(p.quote_side == "bid" for p in mp.place)  # 10 kept >= 5, the shrunk minimum


def test_skewed_plans_converge():
    st = state(tokens={YES: "20"}, orders=[order("b", "BUY", "0.49", "10")])
    s = skewed(bands=None)
    first = Plan((plan_market(s, st, NOW),))
    after = apply_plan(st, first)
    assert not plan_market(s, after, NOW).has_changes


def test_diff_shows_the_skewed_reference_and_why():
    p = Plan((plan_market(skewed(name="lean"), state(tokens={YES: "20"}), NOW),))
    first = plan_text(p).splitlines()[0]
    assert first == (
        "lean  0xababab…abab  reference 0.48 (midpoint 0.50, skewed -2 tick(s) for position 20 of "
        "maxPosition 40, bid side sized x0.5)"
    )
    doc = json.loads(plan_json(p))
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    assert doc["markets"][0]["referencePrice"] == "0.48"
    assert doc["markets"][0]["skew"] == {
        "reason": "InventorySkew",
        "message": "skewed -2 tick(s) for position 20 of maxPosition 40, bid side sized x0.5",
        "ticks": -2,
        "unskewedPrice": "0.5",
        "addingSide": "bid",
        "sizeFactor": "0.5",
    }


def test_skew_moves_the_bands_of_every_band():
    bands = (band(), band("0.03", "0.04", "0.05"))
    mp = plan_market(skewed(bands=bands), state(tokens={YES: "20"}), NOW)
    bids = sorted(p.price for p in mp.place if p.quote_side == "bid" and p.side == "BUY")
    assert bids == [D("0.44"), D("0.46")]
