"""Property tests: every plan respects the exchange's rules and our limits, and converges.

Fixed, derandomized examples so CI is stable; the whole module runs in a few seconds.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bands_support import NOW, band, order, spec

from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.plan.bands import Plan, PullReason, apply_plan, in_band, plan, quote_view
from controller.plan.ticks import TICK_SIZES, on_grid
from controller.spec.types import MarketMakerSpec

PROPS = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MARKETS = [("0x" + "a1" * 32, "101", "102"), ("0x" + "b2" * 32, "201", "202")]


@st.composite
def bands_strategy(draw, unit: D):
    """1-3 ordered, non-overlapping bands; margins on a grid that may be finer than the tick."""
    count = draw(st.integers(1, 3))
    edge = draw(st.integers(0, 3))
    result = []
    for _ in range(count):
        width = draw(st.integers(2, 8))
        avg = draw(st.integers(0, width - 1))  # avgMargin == minMargin is allowed
        min_a = draw(st.integers(0, 30))
        avg_a = min_a + draw(st.integers(0, 20))
        max_a = max(avg_a + draw(st.integers(0, 20)), 1)
        result.append(
            band(
                str(edge * unit),
                str((edge + avg) * unit),
                str((edge + width) * unit),
                str(min_a),
                str(avg_a),
                str(max_a),
            )
        )
        edge += width + draw(st.integers(0, 2))
    return tuple(result)


@st.composite
def scenario(draw):
    specs: list[MarketMakerSpec] = []
    markets: dict[str, MarketState] = {}
    orders: list[OpenOrder] = []
    tokens: dict[str, D] = {}
    placed: set[str] = set()
    n_markets = draw(st.integers(1, 2))
    for index, (cid, yes, no) in enumerate(MARKETS[:n_markets]):
        tick = draw(st.sampled_from(TICK_SIZES))
        top = int(1 / tick) - 1  # grid steps from tick to 1 - tick
        # Others' best bid / ask as grid steps, then some depth behind them.
        bid = draw(st.integers(1, max(1, top - 2)))
        ask = min(bid + draw(st.integers(1, max(1, min(top // 5, 40)))), top)
        if ask <= bid:
            bid, ask = top - 1, top
        bids = [Level(bid * tick, D(draw(st.integers(1, 200))))]
        asks = [Level(ask * tick, D(draw(st.integers(1, 200))))]
        for _ in range(draw(st.integers(0, 3))):
            step = draw(st.integers(1, 10))
            if bid - step >= 1:
                bids.append(Level((bid - step) * tick, D(draw(st.integers(1, 100)))))
            if ask + step <= top:
                asks.append(Level((ask + step) * tick, D(draw(st.integers(1, 100)))))
        # Band margins: sometimes on the tick grid, sometimes finer (then some bands hold
        # no grid price at all); never wider than 0.02 a unit so margins stay below 1.
        unit = min(draw(st.sampled_from([tick, tick, tick / 2, D("0.001"), D("0.01")])), D("0.02"))
        source = draw(st.sampled_from(["midpoint", "microprice", "last_trade"]))
        last = draw(st.integers(1, top)) * tick
        yes_book = Book.from_levels(bids, asks, last)

        # Our resting orders, also shown in the book where they rest.
        market_orders = []
        for k in range(draw(st.integers(0, 6))):
            token = draw(st.sampled_from([yes, yes, no, no, "999"]))
            side = draw(st.sampled_from(["BUY", "SELL"]))
            # Mostly near the touch (in or around the bands), sometimes anywhere.
            if draw(st.integers(0, 3)):
                steps = draw(st.integers(max(1, bid - 8), min(top, ask + 8)))
            else:
                steps = draw(st.integers(1, top))
            price = steps * tick
            if token == no:
                price = 1 - price  # so that "near" means near in YES terms too
            size = D(draw(st.integers(1, 40)))
            matched = D(draw(st.integers(0, int(size)))) if draw(st.booleans()) else D(0)
            o = order(f"{index}-o{k}", side, str(price), str(size), token=token, matched=str(matched), market=cid)
            if draw(st.booleans()):
                placed.add(o.id)  # the controller's own (only shared markets ask)
            view = quote_view(o, yes, no)
            if view is not None and o.remaining > 0:
                yes_book = yes_book.adjusted("bids" if view[0] == "bid" else "asks", view[1], o.remaining)
            market_orders.append(o)
        books = {yes: yes_book}
        if draw(st.booleans()):
            books[no] = yes_book.mirrored()
        min_size = D(draw(st.sampled_from(["0", "1", "5", "5", "10"])))
        markets[cid] = MarketState(tick_size=tick, min_order_size=min_size, books=books)
        orders.extend(market_orders)
        tokens[yes] = D(draw(st.integers(0, 60)))
        tokens[no] = D(draw(st.integers(0, 60)))
        max_position = draw(st.sampled_from([None, None, "10", "40"]))
        specs.append(
            spec(
                draw(bands_strategy(unit)),
                name=f"m{index}",
                cid=cid,
                yes=yes,
                no=no,
                quote=draw(st.sampled_from(["yes", "no"])),
                min_size=draw(st.sampled_from([None, None, "3", "7"])),
                source=source,
                max_spread=draw(st.sampled_from(["0.05", "0.1", "0.3"])),
                max_position=max_position,
                skew_ticks=draw(st.sampled_from([None, 1, 3])) if max_position is not None else None,
                max_collateral=draw(st.sampled_from([None, None, "5", "30"])),
                post_only=draw(st.booleans()) or draw(st.booleans()),
                ownership=draw(st.sampled_from(["exclusive", "shared"])),
            )
        )
    # An order in a market no spec manages: it only locks balance.
    if draw(st.booleans()):
        orders.append(order("foreign", "BUY", "0.5", str(draw(st.integers(1, 100))), token="7", market="0xother"))
    collateral = D(draw(st.sampled_from([0, 3, 10, 40, 150, 1000, 1000])))
    balances = Balances(collateral=collateral, tokens=tokens)
    state = ObservedState(
        time=NOW, markets=markets, balances=balances, orders=tuple(orders), placed_ids=frozenset(placed)
    )
    return specs, state, draw(st.booleans())  # cancel_unmanaged


def _free(state: ObservedState) -> tuple[D, dict[str, D]]:
    collateral = state.balances.collateral - sum((o.locked_collateral for o in state.orders), D(0))
    tokens = {t: state.free_tokens(t) for t in state.balances.tokens}
    return collateral, tokens


def _effective(s: MarketMakerSpec, m: MarketState) -> tuple[D, D]:
    tick = m.tick_size
    if s.market.tick_size is not None and s.market.tick_size > tick and on_grid(s.market.tick_size, tick):
        tick = s.market.tick_size
    return tick, max(m.min_order_size, s.market.min_order_size or D(0))


def _best(state: ObservedState, s: MarketMakerSpec) -> tuple[D | None, D | None]:
    """Best bid / ask of the real book in quoted terms (everyone's orders, ours included)."""
    m = state.markets[s.market.condition_id]
    views = []
    if s.market.quoted_token in m.books:
        views.append(m.books[s.market.quoted_token])
    if s.market.complement_token in m.books:
        views.append(m.books[s.market.complement_token].mirrored())
    bids = [b.best_bid for b in views if b.best_bid is not None]
    asks = [b.best_ask for b in views if b.best_ask is not None]
    return (max(bids) if bids else None), (min(asks) if asks else None)


def owned(s: MarketMakerSpec, state: ObservedState, cancel_unmanaged: bool) -> list[OpenOrder]:
    """The spec's market orders that are the controller's, by the documented rule."""
    market_orders = state.orders_of(s.market.condition_id)
    if s.ownership == "shared" and not cancel_unmanaged:
        return [o for o in market_orders if o.id in state.placed_ids]
    return list(market_orders)


def check_rules(specs: list[MarketMakerSpec], state: ObservedState, result: Plan, cancel_unmanaged: bool) -> None:
    free_collateral, free_tokens = _free(state)
    spent = D(0)
    sold: dict[str, D] = {}
    for s, mp in zip(specs, result.markets, strict=True):
        ids = {o.id for o in state.orders_of(s.market.condition_id)}
        cancelled = [c.order_id for c in mp.cancel]
        assert len(set(cancelled)) == len(cancelled)
        if mp.pull_reason is PullReason.ALREADY_MANAGED:
            continue
        mine = owned(s, state, cancel_unmanaged)
        foreign = {f.order.id for f in mp.foreign}
        assert foreign == ids - {o.id for o in mine}  # exactly the orders that are not ours ...
        assert not foreign & (set(cancelled) | set(mp.keep))  # ... are never cancelled nor counted
        assert set(cancelled) | set(mp.keep) | foreign == ids and not set(cancelled) & set(mp.keep)
        assert list(mp.keep) == sorted(mp.keep)
        if not mp.place:
            continue
        assert mp.reference_price is not None and not mp.note
        market = state.markets[s.market.condition_id]
        tick, min_size = _effective(s, market)
        best_bid, best_ask = _best(state, s)
        quoted, complement = s.market.quoted_token, s.market.complement_token
        position = state.balances.token(quoted) - state.balances.token(complement)
        market_orders = mine  # limits measure the controller's own orders
        exposure = {"bid": D(0), "ask": D(0)}
        for o in market_orders:
            view = quote_view(o, quoted, complement)
            if view:
                exposure[view[0]] += o.remaining
        market_buys = sum((o.locked_collateral for o in market_orders), D(0))
        new = {"bid": D(0), "ask": D(0)}
        new_buys = D(0)
        # No self-cross: a new bid stays below every ask of ours (kept or new), and v.v.
        kept_q = [(k.quote_side, k.order, quote_view(k.order, quoted, complement)[1]) for k in mp.kept]
        new_q = [
            (
                p.quote_side,
                p,
                quote_view(order("x", p.side, str(p.price), "1", token=p.token_id), quoted, complement)[1],
            )
            for p in mp.place
        ]
        all_bids = [q for side_, _, q in kept_q + new_q if side_ == "bid"]
        all_asks = [q for side_, _, q in kept_q + new_q if side_ == "ask"]
        assert all(q < min(all_asks) for side_, _, q in new_q if side_ == "bid" and all_asks)
        assert all(q > max(all_bids) for side_, _, q in new_q if side_ == "ask" and all_bids)
        for p in mp.place:
            assert p.token_id in (quoted, complement)
            assert on_grid(p.price, tick) and tick <= p.price <= 1 - tick
            assert p.size > 0 and p.size >= min_size and p.size == p.size.quantize(D("0.01"))
            side, q = quote_view(order("x", p.side, str(p.price), "1", token=p.token_id), quoted, complement)
            assert side == p.quote_side
            assert in_band(s.bands[p.band], mp.reference_price, side, q), (p, mp.reference_price)
            if s.orders.post_only:
                assert side != "bid" or best_ask is None or q < best_ask
                assert side != "ask" or best_bid is None or q > best_bid
            new[side] += p.size
            if p.side == "BUY":
                spent += p.price * p.size
                new_buys += p.price * p.size
            else:
                sold[p.token_id] = sold.get(p.token_id, D(0)) + p.size
        if s.limits.max_collateral is not None and new_buys:
            assert market_buys + new_buys <= s.limits.max_collateral
        if s.limits.max_position is not None:
            if new["bid"]:
                assert position + exposure["bid"] + new["bid"] <= s.limits.max_position
            if new["ask"]:
                assert position - exposure["ask"] - new["ask"] >= -s.limits.max_position
    assert spent <= max(free_collateral, D(0))
    for token, size in sold.items():
        assert size <= free_tokens.get(token, D(0))


@PROPS
@given(scenario())
def test_plans_respect_balances_limits_grid_and_book(case):
    specs, state, cancel_unmanaged = case
    result = plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)
    assert result == plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)  # deterministic
    check_rules(specs, state, result, cancel_unmanaged)


@PROPS
@given(scenario())
def test_plans_converge(case):
    specs, state, cancel_unmanaged = case
    first = plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)
    after = apply_plan(state, first)
    second = plan(specs, after, NOW, cancel_unmanaged=cancel_unmanaged)
    check_rules(specs, after, second, cancel_unmanaged)
    # Cancels always settle in one step ...
    assert all(m.cancel == () for m in second.markets), second
    # ... and so does everything else unless a placement waited for a cancel's balance.
    if not any(m.awaiting_cancels for m in first.markets):
        assert not second.has_changes, (first, second)
    # Either way the plan after that is empty.
    assert not plan(specs, apply_plan(after, second), NOW, cancel_unmanaged=cancel_unmanaged).has_changes
    # Every band of the converged state is within its maxAmount.
    for mp in second.markets:
        assert not mp.awaiting_cancels
        spec_ = next(s for s in specs if s.name == mp.name)
        totals: dict[tuple[str, int], D] = {}
        for k in mp.kept:
            totals[(k.quote_side, k.band)] = totals.get((k.quote_side, k.band), D(0)) + k.order.remaining
        for (_side, index), total in totals.items():
            assert total <= spec_.bands[index].max_amount


@PROPS
@given(scenario())
def test_ownership_after_apply(case):
    """Shared: foreign orders survive every plan untouched. Exclusive (or cancel_unmanaged):
    once the plan is applied, every open order of a managed market sits in a band."""
    specs, state, cancel_unmanaged = case
    result = plan(specs, state, NOW, cancel_unmanaged=cancel_unmanaged)
    after = apply_plan(state, result)
    after_ids = {o.id for o in after.orders}
    managed = {s.market.condition_id for s in specs}
    for s, mp in zip(specs, result.markets, strict=True):
        if mp.pull_reason is PullReason.ALREADY_MANAGED:
            continue
        theirs = {o.id for o in state.orders_of(s.market.condition_id)} - {
            o.id for o in owned(s, state, cancel_unmanaged)
        }
        assert theirs <= after_ids  # never cancelled
        if theirs:
            assert s.ownership == "shared" and not cancel_unmanaged
            continue
        left = after.orders_of(s.market.condition_id)
        if mp.reference_price is None:
            assert left == ()  # a pulled market keeps nothing of the controller's
            continue
        quoted, complement = s.market.quoted_token, s.market.complement_token
        for o in left:
            view = quote_view(o, quoted, complement)
            assert view is not None, o
            assert any(in_band(b, mp.reference_price, view[0], view[1]) for b in s.bands), (o, mp.reference_price)
    # Orders of markets no spec manages are never touched either.
    assert {o.id for o in state.orders if o.market not in managed} <= after_ids
