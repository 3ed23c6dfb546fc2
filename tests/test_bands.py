"""Planner semantics: reference price, band membership, cancellation, placement, limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from test_bands_support import CID, NO, NOW, YES, band, book, order, spec, state

from controller.observe.state import Balances, MarketState, ObservedState
from controller.plan.bands import (
    CancelReason,
    KeepReason,
    MarketPlan,
    Placement,
    PlaceReason,
    PullReason,
    WarningReason,
    apply_plan,
    in_band,
    plan,
    plan_market,
    reference_price,
)
from controller.plan.ticks import format_decimal


def ref(s, st):
    market = st.markets[CID]
    return reference_price(s, market, st.orders_of(CID))


def places(mp: MarketPlan) -> list[tuple[str, str, str, str, int]]:
    out = []
    for p in mp.place:
        outcome = "YES" if p.token_id == YES else "NO"
        out.append((p.side, outcome, str(p.price), format_decimal(p.size), p.band))
    return out


def cancelled(mp: MarketPlan) -> list[str]:
    return [c.order_id for c in mp.cancel]


THREE_BANDS = (
    band("0.01", "0.02", "0.03", "10", "20", "30"),
    band("0.03", "0.04", "0.05", "10", "20", "30"),
    band("0.05", "0.06", "0.07", "10", "20", "30"),
)


# -- reference price ----------------------------------------------------------------------


class TestReferencePrice:
    def test_midpoint_of_best_levels(self):
        assert ref(spec(), state()) == (D("0.50"), "midpoint")
        assert ref(spec(), state(bids=[("0.49", "1"), ("0.48", "9")], asks=[("0.52", "1")]))[0] == D("0.505")

    def test_own_orders_are_removed_from_the_book(self):
        # Our BUY YES 0.50 is the best bid of the snapshot; without it the best bid is 0.49.
        st = state(bids=[("0.49", "100")], asks=[("0.52", "100")], orders=[order("a", "BUY", "0.50", "20")])
        assert st.markets[CID].books[YES].best_bid == D("0.50")
        assert ref(spec(), st)[0] == D("0.505")

    def test_binary_equivalent_own_orders_are_removed_too(self):
        # SELL NO @0.50 rests as a YES bid at 0.50, BUY NO @0.49 as a YES ask at 0.51.
        own = [order("s", "SELL", "0.50", "10", token=NO), order("b", "BUY", "0.49", "10", token=NO)]
        st = state(bids=[("0.48", "100")], asks=[("0.52", "100")], orders=own)
        assert (st.markets[CID].books[YES].best_bid, st.markets[CID].books[YES].best_ask) == (D("0.50"), D("0.51"))
        assert ref(spec(), st)[0] == D("0.50")

    def test_only_the_remaining_size_is_removed_and_levels_clamp_at_zero(self):
        # 30 of our 50 are filled: 20 rest, the level shows 20 + 5 from others.
        partly = order("a", "BUY", "0.50", "50", matched="30")
        st = state(bids=[("0.50", "5"), ("0.48", "10")], asks=[("0.52", "10")], orders=[partly])
        assert ref(spec(), st)[0] == D("0.51")  # others' 5 at 0.50 remain
        # A snapshot showing less than our order (stale) never goes negative.
        st = state(bids=[("0.50", "5"), ("0.48", "10")], asks=[("0.52", "10")], orders=[partly], include_own=False)
        assert ref(spec(), st)[0] == D("0.50")

    def test_empty_side_or_only_our_orders_means_no_price(self):
        assert ref(spec(), state(asks=[])) == (None, "no asks besides our own orders")
        st = state(bids=[], orders=[order("a", "BUY", "0.49", "10")])
        assert ref(spec(), st) == (None, "no bids besides our own orders")
        assert ref(spec(), state(bids=[], asks=[]))[1] == "no bids and asks besides our own orders"

    def test_spread_guard(self):
        assert ref(spec(max_spread="0.1"), state(bids=[("0.40", "1")], asks=[("0.55", "1")])) == (
            None,
            "spread 0.15 > maxSpread 0.1",
        )
        assert ref(spec(max_spread="0.15"), state(bids=[("0.40", "1")], asks=[("0.55", "1")]))[0] == D("0.475")

    def test_crossed_book_has_no_price(self):
        st = state(bids=[("0.52", "1")], asks=[("0.50", "1")])
        assert ref(spec(), st) == (None, "book is crossed (bid 0.52 >= ask 0.5)")

    def test_microprice_weights_by_size(self):
        st = state(bids=[("0.49", "300")], asks=[("0.51", "100")])
        assert ref(spec(source="microprice"), st) == (D("0.505"), "microprice")
        st = state(bids=[("0.49", "1")], asks=[("0.52", "2")])
        assert ref(spec(source="microprice"), st)[0] == D("0.500000")  # 1.50/3, rounded to 1e-6

    def test_last_trade_sources_and_guards(self):
        s = spec(source="last_trade")
        assert ref(s, state(last="0.47")) == (D("0.47"), "last trade")
        assert ref(s, state(market_last="0.46"))[0] == D("0.46")  # market-level = YES price
        assert ref(spec(source="last_trade", quote="no"), state(market_last="0.46"))[0] == D("0.54")
        assert ref(s, state()) == (None, "no last trade price")
        assert ref(s, state(asks=[], last="0.47"))[0] is None  # still needs both sides
        assert ref(s, state(bids=[("0.30", "1")], last="0.47"))[0] is None  # and the spread guard

    def test_complement_book_is_mirrored_when_the_quoted_one_is_missing(self):
        no_book = book(bids=[("0.49", "10")], asks=[("0.53", "10")], last="0.52")
        st = state(books={NO: no_book})
        assert ref(spec(), st)[0] == D("0.49")  # YES bid 0.47, ask 0.51
        assert ref(spec(source="last_trade"), st)[0] == D("0.48")
        assert ref(spec(), state(books={}))[0] is None

    def test_quoting_the_no_token(self):
        s = spec(quote="no")
        st = state(books={NO: book(bids=[("0.30", "10")], asks=[("0.32", "10")])})
        assert ref(s, st)[0] == D("0.31")
        st = state(bids=[("0.68", "10")], asks=[("0.70", "10")])  # only the YES book
        assert ref(s, st)[0] == D("0.31")
        assert ref(spec(source="last_trade", quote="no"), state(market_last="0.69"))[0] == D("0.31")


# -- pulling a market ---------------------------------------------------------------------


class TestPull:
    ORDERS = (order("b", "BUY", "0.48", "10"), order("a", "SELL", "0.52", "10", token=NO))

    @pytest.mark.parametrize(
        ("kwargs", "code", "note"),
        [
            ({"paused": True}, PullReason.PAUSED, "paused"),
            (
                {"not_before": NOW + timedelta(seconds=1)},
                PullReason.OUTSIDE_SCHEDULE,
                "outside schedule: starts at 2026-11-23T12:00:01Z",
            ),
            ({"not_after": NOW}, PullReason.OUTSIDE_SCHEDULE, "outside schedule: ended at 2026-11-23T12:00:00Z"),
            (
                {"max_spread": "0.01"},
                PullReason.NO_REFERENCE_PRICE,
                "no reference price: spread 0.02 > maxSpread 0.01",
            ),
        ],
    )
    def test_cancel_everything_place_nothing(self, kwargs, code, note):
        st = state(orders=self.ORDERS)
        mp = plan_market(spec(**kwargs), st, NOW)
        assert mp.note == note and mp.pull_reason is code
        assert mp.place == () and mp.keep == ()
        assert sorted(cancelled(mp)) == ["a", "b"]
        assert {(c.reason, c.detail) for c in mp.cancel} == {(CancelReason(code.value), note)}

    def test_schedule_boundaries(self):
        active = spec(not_before=NOW, not_after=NOW + timedelta(hours=1))
        assert plan_market(active, state(), NOW).note == ""
        assert plan_market(active, state(), NOW).pull_reason is None
        assert plan_market(active, state(), NOW + timedelta(hours=1)).note.startswith("outside schedule")

    def test_naive_schedule_times_are_utc(self):
        naive = spec(not_after=datetime(2026, 11, 23, 11, 0))
        assert plan_market(naive, state(), NOW).note == "outside schedule: ended at 2026-11-23T11:00:00Z"

    def test_market_not_in_state(self):
        st = ObservedState(time=NOW, orders=self.ORDERS)
        mp = plan_market(spec(), st, NOW)
        assert mp.note == "market not in state" and sorted(cancelled(mp)) == ["a", "b"]
        assert mp.pull_reason is PullReason.MARKET_NOT_IN_STATE
        assert {c.reason for c in mp.cancel} == {CancelReason.MARKET_NOT_IN_STATE}

    def test_stale_market_data_pulls_every_quote(self):
        st = state(orders=self.ORDERS)
        down = "market stream disconnected"
        stale = replace(st, markets={cid: replace(m, stale=down) for cid, m in st.markets.items()})
        mp = plan_market(spec(), stale, NOW)
        assert mp.note == "market data stale: market stream disconnected"
        assert mp.pull_reason is PullReason.STALE_MARKET_DATA
        assert {c.reason for c in mp.cancel} == {CancelReason.STALE_MARKET_DATA}
        assert mp.place == () and sorted(cancelled(mp)) == ["a", "b"]
        assert plan_market(spec(), st, NOW).note == "", "the same book, fresh, is quoted"

    def test_other_markets_orders_are_never_touched(self):
        other = order("x", "BUY", "0.10", "10", market="0x" + "cd" * 32)
        mp = plan_market(spec(paused=True), state(orders=[other]), NOW)
        assert mp.cancel == () and mp.keep == ()

    def test_duplicate_specs_for_one_market(self):
        p = plan([spec(name="one"), spec(name="two")], state(), NOW)
        assert p.markets[1].note == "market already managed by one; this spec is ignored"
        assert p.markets[1].pull_reason is PullReason.ALREADY_MANAGED
        assert not p.markets[1].has_changes and p.markets[0].has_changes


# -- membership and cancellation ----------------------------------------------------------


class TestMembership:
    def test_poly_market_maker_boundaries(self):
        b, p = band("0.01", "0.02", "0.03"), D("0.50")
        assert in_band(b, p, "bid", D("0.49")) and in_band(b, p, "bid", D("0.48"))
        assert not in_band(b, p, "bid", D("0.47"))  # p - maxMargin is excluded
        assert not in_band(b, p, "bid", D("0.495"))  # above p - minMargin
        assert in_band(b, p, "ask", D("0.51")) and in_band(b, p, "ask", D("0.52"))
        assert not in_band(b, p, "ask", D("0.53"))  # p + maxMargin is excluded

    def test_binary_equivalence_classifies_every_order(self):
        own = [
            order("buy-yes", "BUY", "0.49", "10"),  # bid 0.49: in
            order("sell-no", "SELL", "0.52", "10", token=NO),  # bid 0.48: in
            order("sell-yes", "SELL", "0.52", "10"),  # ask 0.52: in
            order("buy-no", "BUY", "0.49", "10", token=NO),  # ask 0.51: in
            order("buy-no-far", "BUY", "0.40", "10", token=NO),  # ask 0.60: out
            order("sell-no-far", "SELL", "0.60", "10", token=NO),  # bid 0.40: out
        ]
        st = state(bids=[("0.47", "100")], asks=[("0.53", "100")], orders=own)
        mp = plan_market(spec(), st, NOW)
        assert mp.reference_price == D("0.50")
        assert sorted(cancelled(mp)) == ["buy-no-far", "sell-no-far"]
        assert {(c.reason, c.detail) for c in mp.cancel} == {(CancelReason.OUTSIDE_BANDS, "outside every band")}
        assert {(k.order.id, k.reason, k.detail) for k in mp.kept} == {
            ("buy-no", KeepReason.IN_BAND, "ask band 0"),
            ("buy-yes", KeepReason.IN_BAND, "bid band 0"),
            ("sell-no", KeepReason.IN_BAND, "bid band 0"),
            ("sell-yes", KeepReason.IN_BAND, "ask band 0"),
        }
        assert mp.keep == ("buy-no", "buy-yes", "sell-no", "sell-yes")
        assert mp.place == ()

    def test_orders_of_foreign_tokens_are_cancelled(self):
        st = state(orders=[order("z", "BUY", "0.49", "20", token="9999")], include_own=False)
        mp = plan_market(spec(), st, NOW)
        assert [(c.order_id, c.reason, c.detail) for c in mp.cancel] == [
            ("z", CancelReason.TOKEN_NOT_IN_MARKET, "token not in this market")
        ]


class TestExcess:
    """poly-market-maker's cancel-down order: first band closest first, last band furthest
    first, middle bands smallest first (design.md; see the module docstring)."""

    def run(self, orders, bands=THREE_BANDS):
        st = state(bids=[("0.40", "100")], asks=[("0.60", "100")], orders=orders)
        return plan_market(spec(bands, max_spread="0.3"), st, NOW)

    def test_first_band_cancels_closest_to_p_first(self):
        mp = self.run([order("near", "BUY", "0.49", "20"), order("far", "BUY", "0.48", "20")])
        assert cancelled(mp) == ["near"]
        assert mp.cancel[0].reason is CancelReason.OVER_MAX_AMOUNT
        assert mp.cancel[0].detail == "band 0 bids hold 40 > maxAmount 30"

    def test_last_band_cancels_furthest_first(self):
        mp = self.run([order("near", "BUY", "0.45", "20"), order("far", "BUY", "0.44", "20")])
        assert cancelled(mp) == ["far"]

    def test_middle_band_cancels_smallest_first(self):
        orders = [order("small", "BUY", "0.47", "10"), order("big", "BUY", "0.46", "25")]
        assert cancelled(self.run(orders)) == ["small"]

    def test_single_band_is_the_first_band(self):
        orders = [order("far", "BUY", "0.48", "20"), order("near", "BUY", "0.49", "20")]
        assert cancelled(self.run(orders, bands=(THREE_BANDS[0],))) == ["near"]

    def test_cancels_until_at_or_below_max(self):
        orders = [order(f"o{i}", "BUY", "0.49", "12") for i in range(4)]  # 48 > 30
        mp = self.run(orders)
        assert cancelled(mp) == ["o0", "o1"]  # equal distance: by id; 24 left
        assert mp.keep == ("o2", "o3")
        assert not any(p.quote_side == "bid" and p.band == 0 for p in mp.place)  # 24 >= minAmount 10

    def test_exactly_max_is_kept(self):
        assert self.run([order("a", "BUY", "0.49", "30")]).cancel == ()

    def test_ask_side_mirrors(self):
        mp = self.run([order("near", "SELL", "0.51", "20"), order("far", "SELL", "0.52", "20")])
        assert cancelled(mp) == ["near"]

    def test_distance_uses_the_bid_equivalent_price(self):
        # Last band, p = 0.30: SELL NO @0.73 quotes a bid at 0.27 (0.03 from p) and BUY YES
        # @0.26 is 0.04 away, so the BUY is the furthest. (The original sorted by the raw
        # 0.73 here and would have cancelled the SELL.)
        bands = (band("0.01", "0.02", "0.03"), band("0.03", "0.04", "0.05"))
        orders = [order("buy", "BUY", "0.26", "20"), order("sell", "SELL", "0.73", "20", token=NO)]
        st = state(bids=[("0.29", "10")], asks=[("0.31", "10")], orders=orders)
        mp = plan_market(spec(bands), st, NOW)
        assert mp.reference_price == D("0.30")
        assert cancelled(mp) == ["buy"]

    def test_refills_in_the_same_plan_after_cancelling_an_oversized_order(self):
        # One order of 40 > maxAmount 30: cancelled, and the band is refilled to avgAmount
        # at once (poly-market-maker would wait a loop; one plan must converge).
        mp = self.run([order("huge", "BUY", "0.49", "40")])
        assert cancelled(mp) == ["huge"]
        assert ("BUY", "YES", "0.48", "20", 0) in places(mp)


# -- placement -----------------------------------------------------------------------------


class TestPlacement:
    def test_empty_bands_get_avg_amount_at_avg_margin_rounded_away(self):
        st = state(bids=[("0.49", "100")], asks=[("0.52", "100")])  # p = 0.505
        mp = plan_market(spec(), st, NOW)
        assert places(mp) == [("BUY", "YES", "0.48", "20", 0), ("BUY", "NO", "0.47", "20", 0)]  # ask at 0.53
        assert mp.place[0].quote_side == "bid" and mp.place[1].quote_side == "ask"
        assert mp.place[0].reason is PlaceReason.BELOW_MIN_AMOUNT
        assert mp.place[0].detail == "bid band 0: 0 < minAmount 10, target avgAmount 20"

    def test_band_at_or_above_min_amount_is_left_alone_and_below_is_topped_up(self):
        st = state(orders=[order("a", "BUY", "0.49", "10"), order("b", "SELL", "0.51", "9.5")])
        mp = plan_market(spec(), st, NOW)
        assert places(mp) == [("BUY", "NO", "0.48", "10.5", 0)]  # ask band: 9.5 < 10 -> +10.5
        assert mp.keep == ("a", "b")

    def test_sells_held_inventory_before_buying(self):
        st = state(tokens={NO: "30", YES: "50"})
        assert places(plan_market(spec(), st, NOW)) == [
            ("SELL", "NO", "0.52", "20", 0),  # bid 0.48 via SELL NO
            ("SELL", "YES", "0.52", "20", 0),
        ]

    def test_partial_inventory_sells_what_it_has_and_buys_the_rest(self):
        st = state(tokens={NO: "12"})
        assert places(plan_market(spec(), st, NOW))[:2] == [
            ("SELL", "NO", "0.52", "12", 0),
            ("BUY", "YES", "0.48", "8", 0),
        ]

    def test_sell_is_shortened_so_the_buy_remainder_is_a_valid_order(self):
        st = state(tokens={NO: "17"})  # 17 + 3: a BUY of 3 < min size 5
        assert places(plan_market(spec(), st, NOW))[:2] == [
            ("SELL", "NO", "0.52", "15", 0),
            ("BUY", "YES", "0.48", "5", 0),
        ]

    def test_inventory_below_min_size_is_not_sold(self):
        st = state(tokens={NO: "4.99"})
        assert places(plan_market(spec(), st, NOW))[0] == ("BUY", "YES", "0.48", "20", 0)

    def test_inventory_locked_by_open_sells_is_not_free(self):
        # 25 NO held, 20 locked by a resting SELL NO (bid 0.43: outside, being cancelled).
        st = state(tokens={NO: "25"}, orders=[order("s", "SELL", "0.57", "20", token=NO)])
        mp = plan_market(spec(), st, NOW)
        assert cancelled(mp) == ["s"]
        assert places(mp)[0] == ("SELL", "NO", "0.52", "5", 0)  # only 5 free ...
        assert places(mp)[1] == ("BUY", "YES", "0.48", "15", 0)
        assert mp.awaiting_cancels  # ... until the cancel frees the other 20

    def test_free_collateral_caps_buys(self):
        mp = plan_market(spec(), state(collateral="5"), NOW)
        assert places(mp) == [("BUY", "YES", "0.48", "10.41", 0)]  # 5 / 0.48, rounded down
        assert "ask band 0: not enough free balance for 20" in mp.warnings[-1]
        assert mp.warnings[0] == "bid band 0: placing 10.41 of 20, capped by balance or limits"
        assert [(w.reason, w.quote_side, w.band) for w in mp.alerts] == [
            (WarningReason.SIZE_CAPPED, "bid", 0),
            (WarningReason.INSUFFICIENT_BALANCE, "ask", 0),
        ]

    def test_max_collateral_is_told_apart_from_balance(self):
        mp = plan_market(spec(max_collateral="5"), state(collateral="1000"), NOW)
        assert places(mp) == [("BUY", "YES", "0.48", "10.41", 0)]
        assert [w.reason for w in mp.alerts] == [WarningReason.SIZE_CAPPED, WarningReason.MAX_COLLATERAL]
        assert mp.alerts[1].detail == "ask band 0: maxCollateral 5 leaves no room for 20"

    def test_collateral_locked_in_any_market_is_not_free(self):
        other = order("x", "BUY", "0.50", "1980", market="0x" + "cd" * 32)  # locks 990
        mp = plan_market(spec(), state(collateral="1000", orders=[other]), NOW)
        assert places(mp) == [("BUY", "YES", "0.48", "20", 0)]  # 9.60 of the 10 free
        assert mp.cancel == () and mp.keep == ()

    def test_cancelled_orders_do_not_free_balance_in_the_same_plan(self):
        stale = order("stale", "BUY", "0.30", "100")  # locks all 30 of collateral
        st = state(collateral="30", orders=[stale], bids=[("0.49", "10")], asks=[("0.51", "10")])
        mp = plan_market(spec(), st, NOW)
        assert cancelled(mp) == ["stale"]
        assert mp.place == ()
        assert mp.awaiting_cancels
        then = plan_market(spec(), apply_plan(st, plan([spec()], st, NOW)), NOW)
        assert places(then) == [("BUY", "YES", "0.48", "20", 0), ("BUY", "NO", "0.48", "20", 0)]

    def test_specs_share_balances_in_the_given_order(self):
        other_cid = "0x" + "cd" * 32
        st = state(collateral="12")
        second = state(cid=other_cid)
        st = ObservedState(
            time=NOW,
            markets={**st.markets, **second.markets},
            balances=Balances(collateral=D("12")),
        )
        p = plan([spec(name="first"), spec(name="second", cid=other_cid)], st, NOW)
        assert places(p.markets[0]) == [("BUY", "YES", "0.48", "20", 0), ("BUY", "NO", "0.48", "5", 0)]
        assert places(p.markets[1]) == []  # 12 - 9.60 - 2.40 = 0 left
        p = plan([spec(name="second", cid=other_cid), spec(name="first")], st, NOW)
        assert places(p.markets[0]) == [("BUY", "YES", "0.48", "20", 0), ("BUY", "NO", "0.48", "5", 0)]
        assert places(p.markets[1]) == []

    def test_min_order_size(self):
        # 8 resting in a band with minAmount 10 / avgAmount 12: need 4 < min size 5 -> place 5.
        st = state(orders=[order("a", "BUY", "0.49", "8")])
        mp = plan_market(spec([band(min_a="10", avg_a="12", max_a="14")]), st, NOW)
        assert places(mp)[0] == ("BUY", "YES", "0.48", "5", 0)
        # ... unless 8 + 5 would exceed maxAmount 12.
        mp = plan_market(spec([band(min_a="10", avg_a="12", max_a="12")]), st, NOW)
        assert [p.quote_side for p in mp.place] == ["ask"]
        assert mp.warnings[0].startswith("bid band 0: short by 4 but the minimum order size 5")
        assert mp.alerts[0].reason is WarningReason.BELOW_MIN_ORDER_SIZE
        # A spec override can only raise the exchange minimum.
        assert places(plan_market(spec(min_size="25"), state(), NOW))[0][3] == "25"  # bumped, fits max 30
        assert places(plan_market(spec(min_size="31"), state(), NOW)) == []
        assert places(plan_market(spec(min_size="1"), state(min_size="5"), NOW))[0][3] == "20"

    def test_sizes_round_down_to_cents(self):
        mp = plan_market(spec([band(avg_a="20.555", max_a="30")]), state(), NOW)
        assert {p.size for p in mp.place} == {D("20.55")}

    @pytest.mark.parametrize(
        ("tick", "bid", "ask", "want_bid", "want_ask"),
        [
            ("0.1", "0.4", "0.6", "0.4", "0.6"),
            ("0.005", "0.495", "0.51", "0.480", "0.525"),
            ("0.0025", "0.4975", "0.5025", "0.4800", "0.5200"),
            ("0.001", "0.499", "0.502", "0.480", "0.521"),
            ("0.0001", "0.4999", "0.5002", "0.4800", "0.5201"),
        ],
    )
    def test_prices_on_every_tick_grid(self, tick, bid, ask, want_bid, want_ask):
        b = band("0.01", "0.02", "0.03") if tick != "0.1" else band("0.05", "0.1", "0.2")
        st = state(bids=[(bid, "10")], asks=[(ask, "10")], tick=tick)
        mp = plan_market(spec([b], max_spread="0.3"), st, NOW)
        prices = {p.quote_side: p.price if p.side == "BUY" and p.quote_side == "bid" else 1 - p.price for p in mp.place}
        assert prices == {"bid": D(want_bid), "ask": D(want_ask)}

    def test_rounded_price_is_moved_back_inside_the_band(self):
        # p = 0.505, avgMargin 0.02 -> 0.485 -> 0.48, but maxMargin 0.025 excludes 0.48.
        st = state(bids=[("0.49", "10")], asks=[("0.52", "10")])
        mp = plan_market(spec([band("0.01", "0.02", "0.025")]), st, NOW)
        assert places(mp)[0] == ("BUY", "YES", "0.49", "20", 0)

    def test_band_without_a_grid_price_is_skipped(self):
        # (0.505 - 0.015, 0.505 - 0.011] = (0.49, 0.494]: no 0.01 tick in there.
        st = state(bids=[("0.49", "10")], asks=[("0.52", "10")])
        mp = plan_market(spec([band("0.011", "0.012", "0.015")]), st, NOW)
        assert mp.place == ()  # the ask band [0.516, 0.52) has none either
        assert mp.warnings == (
            "bid band 0: no tick-grid price inside the band that does not cross the book",
            "ask band 0: no tick-grid price inside the band that does not cross the book",
        )
        assert {w.reason for w in mp.alerts} == {WarningReason.NO_PRICE_IN_BAND}

    def test_prices_stay_within_tick_and_one_minus_tick(self):
        bands = (band("0.01", "0.02", "0.03"), band("0.03", "0.04", "0.05"))
        st = state(bids=[("0.01", "10")], asks=[("0.03", "10")])  # p = 0.02
        mp = plan_market(spec(bands), st, NOW)
        assert ("BUY", "YES", "0.01", "20", 0) in places(mp)
        assert not any(p.quote_side == "bid" and p.band == 1 for p in mp.place)
        assert all(D("0.01") <= p.price <= D("0.99") for p in mp.place)

    def test_post_only_never_crosses_the_book(self):
        # last trade 0.50 but the book is 0.40 / 0.45: a bid at 0.48 would take the ask.
        st = state(bids=[("0.40", "10")], asks=[("0.45", "10")], last="0.50")
        wide = band("0.01", "0.02", "0.08")
        mp = plan_market(spec([wide], source="last_trade"), st, NOW)
        assert ("BUY", "YES", "0.44", "20", 0) in places(mp)  # nearest non-crossing tick in the band
        narrow = band("0.01", "0.02", "0.05")  # (0.45, 0.49]: nothing below the ask
        mp = plan_market(spec([narrow], source="last_trade"), st, NOW)
        assert [p.quote_side for p in mp.place] == ["ask"]
        mp = plan_market(spec([narrow], source="last_trade", post_only=False), st, NOW)
        assert ("BUY", "YES", "0.48", "20", 0) in places(mp)

    def test_crossing_check_uses_the_mirrored_complement_book_too(self):
        yes_book = book(bids=[("0.40", "10")], asks=[("0.45", "10")], last="0.50")
        no_book = book(bids=[("0.57", "10")], asks=[("0.60", "10")])  # a YES ask at 0.43
        st = state(books={YES: yes_book, NO: no_book})
        mp = plan_market(spec([band("0.01", "0.02", "0.09")], source="last_trade"), st, NOW)
        assert ("BUY", "YES", "0.42", "20", 0) in places(mp)

    def test_quoting_no_places_in_no_terms(self):
        st = state(bids=[("0.69", "10")], asks=[("0.71", "10")])  # NO p = 0.30
        mp = plan_market(spec(quote="no"), st, NOW)
        assert mp.reference_price == D("0.30")
        assert places(mp) == [("BUY", "NO", "0.28", "20", 0), ("BUY", "YES", "0.68", "20", 0)]

    def test_tick_override(self):
        st = state(bids=[("0.495", "10")], asks=[("0.515", "10")], tick="0.005")
        assert places(plan_market(spec(tick="0.01"), st, NOW))[0][2] == "0.48"
        mp = plan_market(spec(tick="0.001"), st, NOW)  # finer than the market: ignored
        assert mp.tick_size == D("0.005")
        assert "using the market's" in mp.warnings[0]
        assert (mp.alerts[0].reason, mp.alerts[0].band) == (WarningReason.TICK_SIZE_NOT_ON_GRID, None)


class TestLimits:
    def test_max_position_caps_the_bid_side(self):
        st = state(tokens={YES: "10"})  # position +10; YES is sold on the ask side first
        mp = plan_market(spec(max_position="25"), st, NOW)
        assert places(mp) == [
            ("BUY", "YES", "0.48", "15", 0),
            ("SELL", "YES", "0.52", "10", 0),
            ("BUY", "NO", "0.48", "10", 0),
        ]

    def test_max_position_counts_resting_bid_side_orders(self):
        st = state(tokens={NO: "5"}, orders=[order("a", "BUY", "0.49", "5")])  # position -5
        bands = (band("0.01", "0.02", "0.03"), band("0.03", "0.04", "0.05"))
        mp = plan_market(spec(bands, max_position="12"), st, NOW)
        bid = [p for p in mp.place if p.quote_side == "bid"]
        # band 0 (5 resting < 10): room 12 - (-5 + 5) = 12 -> 12 of the 15 needed, NO sold first
        assert [(p.side, p.size, p.band) for p in bid] == [("SELL", D("5"), 0), ("BUY", D("7"), 0)]
        assert "bid band 1: maxPosition 12 reached" in mp.warnings
        assert (WarningReason.MAX_POSITION, "bid", 1) in {(w.reason, w.quote_side, w.band) for w in mp.alerts}

    def test_max_position_caps_the_ask_side(self):
        st = state(tokens={NO: "10"})  # position -10; NO is sold on the bid side
        mp = plan_market(spec(max_position="25"), st, NOW)
        ask = [p for p in mp.place if p.quote_side == "ask"]
        assert [(p.side, p.size) for p in ask] == [("BUY", D("15"))]

    def test_position_beyond_the_limit_stops_that_side_only(self):
        mp = plan_market(spec(max_position="5"), state(tokens={YES: "50"}), NOW)
        assert [p.quote_side for p in mp.place] == ["ask"]

    def test_max_collateral_caps_this_markets_buys(self):
        st = state(orders=[order("a", "BUY", "0.49", "10")])  # locks 4.90 of maxCollateral 10
        mp = plan_market(spec(max_collateral="10"), st, NOW)
        assert places(mp) == [("BUY", "NO", "0.48", "10.62", 0)]  # 5.10 / 0.48

    def test_limits_never_cancel(self):
        st = state(tokens={YES: "100"}, orders=[order("a", "BUY", "0.49", "20")])
        mp = plan_market(spec(max_position="10", max_collateral="1"), st, NOW)
        assert mp.cancel == () and mp.keep == ("a",)


# -- ordering, determinism, apply ------------------------------------------------------------


def test_stable_ordering_and_determinism():
    orders = [
        order("z-out", "BUY", "0.30", "10"),
        order("y-out", "SELL", "0.80", "10"),
        order("x-foreign", "BUY", "0.49", "1", token="42"),
        order("b-excess", "BUY", "0.49", "25"),
        order("a-excess", "BUY", "0.49", "25"),
        order("k2", "SELL", "0.52", "15"),
    ]
    st = state(orders=orders)
    first = plan([spec()], st, NOW)
    assert first == plan([spec()], st, NOW)
    reasons = [(c.order_id, c.reason) for c in first.markets[0].cancel]
    assert reasons == [
        ("x-foreign", CancelReason.TOKEN_NOT_IN_MARKET),
        ("z-out", CancelReason.OUTSIDE_BANDS),
        ("y-out", CancelReason.OUTSIDE_BANDS),
        ("a-excess", CancelReason.OVER_MAX_AMOUNT),
    ]
    assert first.markets[0].keep == ("b-excess", "k2")
    sides = [(p.quote_side, p.band, p.side) for p in first.markets[0].place]
    assert sides == sorted(sides, key=lambda s: (s[0] != "bid", s[1], s[2] != "SELL"))


def test_apply_plan_models_the_exchange():
    st = state(tokens={NO: "8"}, orders=[order("old", "BUY", "0.30", "10")])
    p = plan([spec()], st, NOW)
    after = apply_plan(st, p, ids=iter(["n1", "n2", "n3"]))
    assert [o.id for o in after.orders] == ["n1", "n2", "n3"]
    assert after.balances == st.balances
    yes_book = after.markets[CID].books[YES]
    assert yes_book.bids[0].price == D("0.49") and D("0.30") not in {lv.price for lv in yes_book.bids}
    placed = {(o.side, o.token_id, o.price, o.size) for o in after.orders}
    assert placed == {(pl.side, pl.token_id, pl.price, pl.size) for pl in p.markets[0].place}
    assert not plan([spec()], after, NOW).has_changes
    # default ids are deterministic, 0x + 64 hex, and unique
    a, b = apply_plan(st, p), apply_plan(st, p)
    assert a == b and len({o.id for o in a.orders}) == 3 and all(len(o.id) == 66 for o in a.orders)
    with pytest.raises(ValueError, match="already in use"):
        apply_plan(st, p, ids=iter(["n1", "n1", "n3"]))


def test_apply_plan_updates_a_mirrored_complement_book():
    yes_book = book(bids=[("0.49", "10")], asks=[("0.51", "10")])
    st = state(books={YES: yes_book, NO: yes_book.mirrored()})
    p = plan([spec()], st, NOW)
    after = apply_plan(st, p)
    assert after.markets[CID].books[NO] == after.markets[CID].books[YES].mirrored()


def test_placement_dataclass_is_the_documented_shape():
    p = Placement("1", "BUY", D("0.47"), D("15"), 0, detail="why")
    assert (p.token_id, p.side, p.price, p.size, p.band, p.reason, p.detail, p.quote_side) == (
        "1",
        "BUY",
        D("0.47"),
        D("15"),
        0,
        PlaceReason.BELOW_MIN_AMOUNT,
        "why",
        "bid",
    )
    assert MarketState(tick_size=D("0.01"), min_order_size=D("5")).books == {}


def test_awaiting_cancels_covers_balance_freed_by_another_market():
    # Market A is paused: its BUY (locking all 10 of collateral) is cancelled. Market B
    # cannot use that collateral yet, and says so.
    other = "0x" + "cd" * 32
    a = state(cid=other, orders=[order("lock", "BUY", "0.50", "20", market=other)])
    b = state(collateral="10")
    st = ObservedState(
        time=NOW, markets={**a.markets, **b.markets}, balances=Balances(collateral=D("10")), orders=a.orders
    )
    p = plan([spec(name="a", cid=other, paused=True), spec(name="b")], st, NOW)
    assert cancelled(p.markets[0]) == ["lock"]
    assert p.markets[1].place == () and p.markets[1].awaiting_cancels
    # Planned alone, market B knows nothing of A's cancels: nothing to wait for.
    assert not plan_market(spec(name="b"), st, NOW).awaiting_cancels
    # Once the cancel is confirmed, B quotes.
    assert plan([spec(name="a", cid=other, paused=True), spec(name="b")], apply_plan(st, p), NOW).markets[1].place


def test_new_quotes_never_cross_our_own():
    # avgMargin == minMargin == 0 (allowed): the bid goes at p = 0.50, so the ask, which
    # would also want 0.50, moves one tick up instead of trading with our own bid.
    mp = plan_market(spec([band("0", "0", "0.02")], post_only=False), state(), NOW)
    assert places(mp) == [("BUY", "YES", "0.50", "20", 0), ("BUY", "NO", "0.49", "20", 0)]
