"""Ownership as a planner input: exclusive markets adopt every order, shared ones only their own."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D

import jsonschema
from test_bands_support import CID, NO, NOW, band, order, spec, state

from controller.cli.render import plan_json, plan_text
from controller.plan.bands import CancelReason, KeepReason, Plan, PullReason, WarningReason, apply_plan, plan_market
from controller.schemas import load_schema

SHARED = spec(ownership="shared")
MINE = order("mine", "BUY", "0.30", "10")  # outside every band
THEIRS = order("theirs", "BUY", "0.31", "10")  # outside every band too, placed by another tool


def ids(items):
    return sorted(i.order_id if hasattr(i, "order_id") else i.order.id for i in items)


def test_exclusive_adopts_every_order_of_the_market():
    st = state(orders=[MINE, THEIRS], placed=["mine"])
    mp = plan_market(spec(), st, NOW)
    assert ids(mp.cancel) == ["mine", "theirs"] and mp.foreign == ()
    assert {c.reason for c in mp.cancel} == {CancelReason.OUTSIDE_BANDS}


def test_shared_never_cancels_what_it_did_not_place():
    st = state(orders=[MINE, THEIRS, order("odd", "BUY", "0.40", "1", token="9")], placed=["mine"])
    mp = plan_market(SHARED, st, NOW)
    assert ids(mp.cancel) == ["mine"]
    assert ids(mp.foreign) == ["odd", "theirs"] and "theirs" not in mp.keep
    assert {(f.reason, f.detail) for f in mp.foreign} == {(KeepReason.FOREIGN, "foreign (ownership: shared)")}


def test_cancel_unmanaged_treats_foreign_orders_as_the_controllers():
    st = state(orders=[MINE, THEIRS], placed=["mine"])
    mp = plan_market(SHARED, st, NOW, cancel_unmanaged=True)
    assert ids(mp.cancel) == ["mine", "theirs"] and mp.foreign == ()


def test_foreign_orders_count_toward_no_band():
    # A foreign bid of 25 inside bid band 0: exclusive adopts it (band full), shared refills.
    theirs = order("theirs", "BUY", "0.49", "25")
    st = state(orders=[theirs])
    assert not any(p.quote_side == "bid" for p in plan_market(spec(), st, NOW).place)
    mp = plan_market(SHARED, st, NOW)
    bids = [p for p in mp.place if p.quote_side == "bid"]
    assert [(p.side, p.price, p.size) for p in bids] == [("BUY", D("0.48"), D("20"))]
    assert mp.kept == () and ids(mp.foreign) == ["theirs"]


def test_foreign_orders_stay_in_the_reference_book():
    theirs = order("theirs", "BUY", "0.50", "10")  # the best bid; others bid 0.49
    st = state(bids=[("0.49", "100")], asks=[("0.52", "100")], orders=[theirs])
    assert plan_market(spec(), st, NOW).reference_price == D("0.505")  # ours: taken out
    assert plan_market(SHARED, st, NOW).reference_price == D("0.51")  # other liquidity


def test_foreign_orders_still_lock_balance():
    # All 10 of collateral is locked by a foreign BUY (0.25 x 40) outside every band.
    locked = state(collateral="10", orders=[order("theirs", "BUY", "0.25", "40")])
    mp = plan_market(SHARED, locked, NOW)
    assert mp.place == () and mp.cancel == () and ids(mp.foreign) == ["theirs"]
    assert {w.reason for w in mp.alerts} == {WarningReason.INSUFFICIENT_BALANCE}
    assert plan_market(SHARED, state(collateral="10"), NOW).place  # without it there is room


def test_foreign_sells_lock_inventory():
    theirs = order("theirs", "SELL", "0.90", "20", token=NO)  # bid 0.10: outside, but not ours
    mp = plan_market(SHARED, state(tokens={NO: "20"}, orders=[theirs]), NOW)
    assert not any(p.side == "SELL" for p in mp.place)  # all 20 NO are locked


def test_pulled_markets_cancel_only_the_controllers_orders():
    inside = order("mine-in", "BUY", "0.49", "10")
    st = state(orders=[inside, THEIRS], placed=["mine-in"])
    for s, st_ in (
        (replace(SHARED, paused=True), st),
        (SHARED, replace(st, markets={CID: replace(st.markets[CID], stale="market stream disconnected")})),
        (SHARED, replace(st, markets={})),
        (spec(ownership="shared", max_spread="0.001"), st),
    ):
        mp = plan_market(s, st_, NOW)
        assert mp.pull_reason in set(PullReason) and ids(mp.cancel) == ["mine-in"]
        assert ids(mp.foreign) == ["theirs"] and mp.place == ()


def test_never_cross_a_foreign_quote_of_the_same_account():
    # Without post-only a new ask could meet the account's own foreign bid: a self-trade.
    theirs = order("theirs", "BUY", "0.50", "5")
    st = state(bids=[("0.40", "10")], asks=[("0.60", "10")], orders=[theirs], include_own=False)
    mp = plan_market(spec([band("0", "0", "0.05")], ownership="shared", post_only=False, max_spread="0.3"), st, NOW)
    asks = [1 - p.price if p.side == "BUY" else p.price for p in mp.place if p.quote_side == "ask"]
    assert asks and all(q > D("0.50") for q in asks)


def test_shared_converges_once_its_placements_are_recorded():
    st = state(orders=[MINE, THEIRS], placed=["mine"])
    first = Plan((plan_market(SHARED, st, NOW),))
    after = apply_plan(st, first)
    assert set(after.placed_ids) == {p.id for p in after.orders} - {"theirs"}
    assert not plan_market(SHARED, after, NOW).has_changes


def test_text_and_json_show_foreign_orders():
    st = state(orders=[MINE, THEIRS], placed=["mine"])
    p = Plan((plan_market(SHARED, st, NOW),))
    text = plan_text(p)
    assert "  ~ theirs  BUY  YES 0.31 × 10  foreign (ownership: shared)" in text.splitlines()
    assert text.splitlines()[-1].startswith("Plan: 2 to place, 1 to cancel, 1 unchanged.")
    assert "\x1b[2m  ~ theirs  BUY  YES 0.31 × 10  foreign (ownership: shared)\x1b[0m" in plan_text(p, color=True)
    doc = json.loads(plan_json(p))
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    assert {"id": "theirs", "reason": "Foreign", "message": "foreign (ownership: shared)"} in doc["markets"][0]["keep"]
