"""Liquidity rewards in the planner: the scoring arithmetic, ``spec.rewards.mode: fit``, the estimate."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bands_support import CID, NOW, YES, band, order, spec, state

from controller.cli.render import plan_text
from controller.observe.state import Book, Level, ObservedState
from controller.plan.bands import CancelReason, PullReason, WarningReason, apply_plan, plan, plan_market, quote_view
from controller.plan.reference import quoted_book, without_orders
from controller.plan.rewards import Quote, RewardParams, adjusted_midpoint, market_score, order_score, score
from controller.spec.types import Rewards

PARAMS = RewardParams(max_spread=D(3), min_size=D(20), daily_rate=D(100), competing_score=D(60))


def with_rewards(st_: ObservedState, params: RewardParams | None = PARAMS) -> ObservedState:
    markets = {cid: replace(m, rewards=params) for cid, m in st_.markets.items()}
    return replace(st_, markets=markets)


def close(a, b) -> bool:
    return abs(D(a) - D(b)) < D("1e-20")


def fit(s):
    return replace(s, rewards=Rewards(mode="fit"))


# ---------------------------------------------------------------- arithmetic


def test_order_score_is_quadratic_in_distance_and_linear_in_size():
    mid = D("0.50")
    assert close(order_score(Quote("bid", D("0.49"), D(30)), mid, PARAMS), D(4) / 9 * 30)
    assert close(order_score(Quote("bid", D("0.49"), D(60)), mid, PARAMS), D(4) / 9 * 60)
    assert close(order_score(Quote("ask", D("0.515"), D(30)), mid, PARAMS), D(1) / 4 * 30)
    assert order_score(Quote("bid", D("0.47"), D(30)), mid, PARAMS) == 0  # exactly v away
    assert order_score(Quote("bid", D("0.49"), D(19)), mid, PARAMS) == 0  # under the min size


def test_market_score_rewards_two_sides_and_requires_them_near_the_edges():
    assert market_score(D(30), D(0), D("0.5")) == 10  # single-sided: a third
    assert market_score(D(30), D(20), D("0.5")) == 20
    assert market_score(D(30), D(0), D("0.95")) == 0  # outside [0.10, 0.90]: two-sided only
    assert market_score(D(30), D(20), D("0.05")) == 20
    assert market_score(D(30), D(0), D("0.10")) == 10  # the bounds are inside
    got = score([Quote("bid", D("0.49"), D(30)), Quote("ask", D("0.52"), D(30))], D("0.50"), PARAMS)
    assert close(got.q_one, D(4) / 9 * 30) and close(got.q_two, D(1) / 9 * 30) and got.scoring == 2


def test_adjusted_midpoint_skips_levels_under_the_min_size():
    book = Book.from_levels([Level(D("0.49"), D(5)), Level(D("0.47"), D(50))], [Level(D("0.51"), D(50))])
    assert adjusted_midpoint(book, D(20)) == D("0.49")
    assert adjusted_midpoint(book, D(0)) == D("0.50")
    assert adjusted_midpoint(Book.from_levels([], [Level(D("0.51"), D(50))]), D(20)) is None


# ---------------------------------------------------------------- mode: fit


def wide_spec(**kw):
    # Bands reaching 6 cents from p, orders of 10: outside the 3-cent spread and under 20 shares.
    return spec([band("0.01", "0.02", "0.03", "5", "10", "100"), band("0.03", "0.04", "0.06", "5", "10", "100")], **kw)


def test_default_mode_changes_nothing_and_marks_what_scores():
    s = with_rewards(state(bids=(("0.45", "100"),), asks=(("0.55", "100"),)))
    mp = plan_market(wide_spec(), s, NOW)
    plain = plan_market(wide_spec(), replace(s, markets={CID: replace(s.markets[CID], rewards=None)}), NOW)
    assert [replace(p, scores=None) for p in mp.place] == list(plain.place)
    assert [p.scores for p in mp.place] == [False, False, False, False]  # 10 < minSize 20
    assert mp.rewards is not None and not mp.rewards.fitted and mp.rewards.score.q_min == 0


def test_fit_clamps_bands_raises_sizes_and_every_placement_scores():
    s = with_rewards(state(bids=(("0.45", "100"),), asks=(("0.55", "100"),)))
    mp = plan_market(fit(wide_spec()), s, NOW)
    assert mp.place and all(p.scores for p in mp.place)
    assert all(p.size >= 20 for p in mp.place)
    assert all(abs(quote_view_price(p) - D("0.5")) < D("0.03") for p in mp.place)
    unfit = [w for w in mp.alerts if w.reason is WarningReason.REWARDS_BAND_UNFIT]
    assert [w.band for w in unfit] == [1]  # minMargin 0.03 is not strictly within 3 cents
    assert {p.band for p in mp.place} == {0}
    est = mp.rewards
    assert est is not None and est.fitted and est.score.q_min > 0
    assert est.share == est.score.q_min / (est.score.q_min + 60)
    assert est.reward_per_day == est.share * 100
    text = plan_text(plan([fit(wide_spec())], s, NOW))
    assert "[scores]" in text and "rewards (fit): expected score Q_min" in text and "per day" in text


def quote_view_price(p):
    return p.price if p.token_id == YES else 1 - p.price


def test_fit_cancels_kept_orders_too_small_to_score():
    small = order("0xsmall", "BUY", "0.49", "30", matched="25")
    s = with_rewards(state(orders=[small]))
    mp = plan_market(fit(spec([band("0.005", "0.01", "0.02", "20", "30", "60")])), s, NOW)
    assert [(c.order_id, c.reason) for c in mp.cancel] == [("0xsmall", CancelReason.BELOW_REWARDS_MIN_SIZE)]
    mp = plan_market(spec([band("0.005", "0.01", "0.02", "20", "30", "60")]), s, NOW)
    assert "0xsmall" in mp.keep  # the default keeps it


def test_fit_band_with_max_amount_under_the_min_size_cannot_score():
    s = with_rewards(state())
    mp = plan_market(fit(spec([band("0.005", "0.01", "0.02", "5", "10", "15")])), s, NOW)
    assert mp.place == ()
    (w,) = [w for w in mp.alerts if w.reason is WarningReason.REWARDS_BAND_UNFIT]
    assert "maxAmount 15 < rewards min size 20" in w.detail


def test_outside_the_two_sided_range_fit_quotes_both_sides_or_none():
    # Midpoint 0.95; no tokens and too little collateral for the ask side (BUY NO at 0.04).
    one_side_only = state(bids=(("0.94", "100"),), asks=(("0.96", "100"),), collateral="18.85", tick="0.001")
    s = with_rewards(one_side_only, replace(PARAMS, max_spread=D(3)))
    bands = [band("0.005", "0.01", "0.02", "20", "20", "40")]
    mp = plan_market(spec(bands), s, NOW)
    assert {p.quote_side for p in mp.place} == {"bid"}  # the default quotes the side it can
    mp = plan_market(fit(spec(bands)), s, NOW)
    assert mp.pull_reason is PullReason.REWARDS_ONE_SIDED and mp.place == ()
    rich = with_rewards(replace(one_side_only, balances=replace(one_side_only.balances, collateral=D(1000))))
    mp = plan_market(fit(spec(bands)), rich, NOW)
    assert {p.quote_side for p in mp.place} == {"bid", "ask"}


def test_fit_does_not_send_a_lone_quote_that_would_move_the_midpoint_away_from_itself():
    # Qualifying book 0.40 / 0.50 (midpoint 0.45); collateral for the bid only. Alone, a bid at
    # 0.44 becomes the best bid and the midpoint moves to 0.47: the bid is then 3 cents away.
    s = with_rewards(state(bids=(("0.40", "100"),), asks=(("0.50", "100"),), collateral="10"))
    bands = [band("0.005", "0.01", "0.02", "20", "20", "40")]
    default = plan_market(spec(bands), s, NOW)
    assert [(p.quote_side, p.price, p.scores) for p in default.place] == [("bid", D("0.44"), False)]
    fitted = plan_market(fit(spec(bands)), s, NOW)
    assert fitted.place == ()
    (w,) = [w for w in fitted.alerts if w.reason is WarningReason.REWARDS_NOT_SCORING]
    assert "midpoint 0.47 after the plan" in w.detail
    rich = with_rewards(state(bids=(("0.40", "100"),), asks=(("0.50", "100"),), collateral="100"))
    both = plan_market(fit(spec(bands)), rich, NOW)
    assert [p.scores for p in both.place] == [True, True]  # quoted together they keep it at 0.45


def test_fit_without_a_programme_is_the_default():
    s = state(bids=(("0.45", "100"),), asks=(("0.55", "100"),))
    assert plan_market(fit(wide_spec()), s, NOW) == plan_market(wide_spec(), s, NOW)


# ---------------------------------------------------------------- property

PROPS = settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def fit_scenario(draw):
    tick = draw(st.sampled_from([D("0.01"), D("0.001")]))
    mid_steps = draw(st.integers(int(D("0.05") / tick), int(D("0.95") / tick)))
    half = draw(st.integers(1, int(D("0.04") / tick)))
    bid, ask = (mid_steps - half) * tick, (mid_steps + half) * tick
    bids = [(str(bid), str(draw(st.integers(1, 200)))), (str(bid - tick), str(draw(st.integers(1, 200))))]
    asks = [(str(ask), str(draw(st.integers(1, 200)))), (str(ask + tick), str(draw(st.integers(1, 200))))]
    params = RewardParams(
        max_spread=draw(st.sampled_from([D(1), D(2), D(3), D("3.5"), D("4.5")])),
        min_size=draw(st.sampled_from([D(0), D(5), D(20), D(50)])),
        daily_rate=D(100),
    )
    bands, edge = [], 0
    for _ in range(draw(st.integers(1, 3))):
        width = draw(st.integers(2, 6))
        avg = draw(st.integers(0, width - 1))
        min_a = draw(st.integers(0, 40))
        avg_a = min_a + draw(st.integers(0, 40))
        max_a = avg_a + draw(st.integers(0, 60)) + 1
        unit = tick if tick == D("0.01") else D("0.002")
        bands.append(band(str(edge * unit), str((edge + avg) * unit), str((edge + width) * unit), min_a, avg_a, max_a))
        edge += width + draw(st.integers(0, 2))
    s = state(bids=bids, asks=asks, tick=str(tick), collateral=str(draw(st.integers(0, 5000))), tokens=None)
    quote = draw(st.sampled_from(["yes", "no"]))
    return fit(spec(bands, quote=quote)), with_rewards(s, params), params


@PROPS
@given(fit_scenario())
def test_fit_places_only_orders_that_score_at_the_midpoint_it_fitted_to(case):
    sp, s, params = case
    mp = plan_market(sp, s, NOW)
    m = s.markets[CID]
    quoted, complement = sp.market.quoted_token, sp.market.complement_token
    book = without_orders(quoted_book(m, quoted, complement), s.orders, quoted, complement)
    mid = adjusted_midpoint(book, params.min_size) or mp.reference_price
    for p in mp.place:
        assert p.size >= params.min_size and p.scores is True
        q = p.price if p.token_id == quoted else 1 - p.price
        assert abs(q - mid) < params.max_distance, (p, mid)
    if mp.pull_reason is None and mp.reference_price is not None and not D("0.1") <= mid <= D("0.9"):
        sides = {p.quote_side for p in mp.place} | {k.quote_side for k in mp.kept}
        assert sides in (set(), {"bid", "ask"})
    for k in mp.kept:
        assert k.order.remaining >= params.min_size
        assert quote_view(k.order, quoted, complement) is not None


@PROPS
@given(fit_scenario())
def test_fit_plans_converge(case):
    sp, s, _ = case
    first = plan([sp], s, NOW)
    after = apply_plan(s, first)
    second = plan([sp], after, NOW)
    assert all(m.cancel == () for m in second.markets), second
    if not any(m.awaiting_cancels for m in first.markets):
        assert not second.has_changes, (first, second)
    assert not plan([sp], apply_plan(after, second), NOW).has_changes
