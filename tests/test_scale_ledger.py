"""The observed store's per-market index and locked-balance ledger equal a from-scratch sum,
and one-market snapshots plan exactly as snapshots of every market did.

A state machine drives the store through any sequence of placements, cancels, stream
fills, replacements and REST reads over a few markets; after every step the running
ledger, the per-market index and a one-market snapshot's ``locked_elsewhere`` are checked
against sums over all open orders. Then, on the planner's random scenarios, the plan from a
one-market snapshot equals the plan from a snapshot of everything (the old path).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from fakeclock import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_bands_properties import scenario
from test_bands_support import NOW

from controller.observe.state import Balances, Locks, ObservedState, OpenOrder
from controller.observe.store import ObservedStore
from controller.plan.planner import plan_market
from controller.venue.wire_ws import OrderAction, OrderEvent

MARKETS = {f"0x{m:064x}": (f"{m}1", f"{m}2") for m in range(1, 4)}
PRICES = [D("0.01"), D("0.25"), D("0.5"), D("0.73"), D("0.99")]
SIZES = [D("5"), D("10"), D("12.5"), D("40")]


def from_scratch(orders: list[OpenOrder]) -> tuple[D, dict[str, D]]:
    collateral = sum((o.locked_collateral for o in orders), D(0))
    tokens: dict[str, D] = {}
    for o in orders:
        if o.side == "SELL":
            tokens[o.token_id] = tokens.get(o.token_id, D(0)) + o.remaining
    return collateral, {t: v for t, v in tokens.items() if v}


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(1000.0)
        self.store = ObservedStore(clock=self.clock)
        for condition_id, tokens in MARKETS.items():
            self.store.track_market(condition_id, tokens, D("0.01"), D("5"), False)
        self.next_id = 0

    def _new(self, market: str, token: int, side: str, price: D, size: D, matched: D = D(0)) -> OpenOrder:
        self.next_id += 1
        return OpenOrder(
            id=f"o{self.next_id:04d}",
            market=market,
            token_id=MARKETS[market][token],
            side=side,  # type: ignore[arg-type]
            price=price,
            size=size,
            size_matched=min(matched, size),
        )

    def _pick(self, data: st.DataObject) -> OpenOrder | None:
        orders = self.store.open_orders()
        return data.draw(st.sampled_from(orders)) if orders else None

    orders_args = (
        st.sampled_from(sorted(MARKETS)),
        st.integers(0, 1),
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(PRICES),
        st.sampled_from(SIZES),
    )

    @rule(args=st.tuples(*orders_args), status=st.sampled_from(["live", "live", "delayed", "matched"]))
    def place(self, args: tuple, status: str) -> None:
        self.store.record_placed(self._new(*args), status)
        self.clock.t += 0.1

    @rule(args=st.tuples(*orders_args))
    def stream_placement(self, args: tuple) -> None:
        self._event(self._new(*args), OrderAction.PLACEMENT, "LIVE")

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order = self._pick(data)
        if order is not None:
            self.store.record_canceled([order.id])
            self.clock.t += 0.1

    @rule(data=st.data(), fraction=st.sampled_from([D("0.2"), D("0.5"), D(1)]))
    def fill(self, data: st.DataObject, fraction: D) -> None:
        order = self._pick(data)
        if order is not None:
            matched = min(order.size, order.size_matched + order.remaining * fraction)
            status = "MATCHED" if matched >= order.size else "LIVE"
            self._event(replace(order, size_matched=matched), OrderAction.UPDATE, status)

    @rule(data=st.data(), price=st.sampled_from(PRICES))
    def replace_order(self, data: st.DataObject, price: D) -> None:
        """A plan's replacement: cancel one, place its successor in the same market."""
        order = self._pick(data)
        if order is not None:
            self.store.record_canceled([order.id])
            token = MARKETS[order.market].index(order.token_id)
            self.store.record_placed(self._new(order.market, token, order.side, price, order.size), "live")
            self.clock.t += 0.1

    @rule(data=st.data(), scope=st.sampled_from([None, *sorted(MARKETS)]), stale=st.booleans())
    def rest_read(self, data: st.DataObject, scope: str | None, stale: bool) -> None:
        """REST's list (for one market or all): a random subset kept, sizes moved on, one new."""
        current = self.store.open_orders(scope)
        kept = [o for o in current if data.draw(st.booleans())]
        kept = [replace(o, size_matched=min(o.size, o.size_matched + D(1))) for o in kept]
        market = scope or data.draw(st.sampled_from(sorted(MARKETS)))
        kept.append(self._new(market, 0, "BUY", D("0.4"), D("20")))
        as_of = self.clock() - 0.05 if stale else None
        self.clock.t += 0.1
        self.store.replace_orders(scope, kept, as_of=as_of)

    @rule()
    def time_passes(self) -> None:
        self.clock.t += 200.0  # gone-memory expires

    def _event(self, order: OpenOrder, action: OrderAction, status: str) -> None:
        self.store.apply_user(
            OrderEvent(
                order_id=order.id,
                market=order.market,
                token_id=order.token_id,
                action=action,
                side=order.side,
                price=order.price,
                original_size=order.size,
                size_matched=order.size_matched,
                status=status,
                timestamp=None,
            )
        )
        self.clock.t += 0.1

    @invariant()
    def ledger_equals_a_sum_from_scratch(self) -> None:
        everything = self.store.open_orders()
        full = self.store.snapshot()
        assert full.orders == tuple(everything)
        assert full.locked_elsewhere == Locks()
        collateral, tokens = from_scratch(everything)
        account = self.store._account
        assert account.locked_collateral == collateral
        assert {t: v for t, v in account.locked_tokens.items() if v} == tokens
        for condition_id in MARKETS:
            mine = [o for o in everything if o.market == condition_id]
            assert self.store.open_orders(condition_id) == mine
            one = self.store.snapshot([condition_id])
            assert one.orders == tuple(mine)
            c_out, t_out = from_scratch([o for o in everything if o.market != condition_id])
            assert one.locked_elsewhere.collateral == c_out
            assert {t: v for t, v in one.locked_elsewhere.tokens.items() if v} == t_out
            assert one.free_collateral() == full.free_collateral()
            for token in MARKETS[condition_id]:
                assert one.free_tokens(token) == full.free_tokens(token)


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, derandomize=True, deadline=None)
test_ledger_state_machine = LedgerMachine.TestCase

PROPS = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def one_market(state: ObservedState, condition_id: str) -> ObservedState:
    """What a one-market snapshot holds: that market's orders, the rest as a ledger total."""
    mine = tuple(o for o in state.orders if o.market == condition_id)
    collateral, tokens = from_scratch([o for o in state.orders if o.market != condition_id])
    return replace(state, orders=mine, locked_elsewhere=Locks(collateral, tokens))


@PROPS
@given(scenario())
def test_one_market_snapshots_plan_as_the_full_state_did(case) -> None:  # type: ignore[no-untyped-def]
    specs, state, cancel_unmanaged = case
    # Also with every third order moved to a market no spec manages, so that what lies
    # "elsewhere" includes SELLs of the quoted tokens (the inventory side of the ledger).
    moved = tuple(replace(o, market="0xelse") if i % 3 == 0 else o for i, o in enumerate(state.orders))
    for observed in (state, replace(state, orders=moved)):
        for spec in specs:
            condition_id = spec.market.condition_id
            before = plan_market(spec, observed, NOW, cancel_unmanaged=cancel_unmanaged)
            after = plan_market(spec, one_market(observed, condition_id), NOW, cancel_unmanaged=cancel_unmanaged)
            assert after == before


@PROPS
@given(scenario())
def test_the_store_plans_the_same_from_one_market_as_from_all(case) -> None:  # type: ignore[no-untyped-def]
    """Through the live store: books adopted, orders and balances read as REST gives them."""
    specs, state, cancel_unmanaged = case
    store = ObservedStore(clock=FakeClock(10.0))
    for spec, (condition_id, market) in zip(specs, state.markets.items(), strict=True):
        tokens = (spec.market.yes_token, spec.market.no_token)
        store.track_market(condition_id, tokens, market.tick_size, market.min_order_size, market.neg_risk)
        for token, book in market.books.items():
            store.adopt_book(token, book)
        store.set_fresh(condition_id)
    store.replace_orders(None, state.orders)
    store.replace_balances(Balances(state.balances.collateral, dict(state.balances.tokens)))
    for spec in specs:
        condition_id = spec.market.condition_id
        full = replace(store.snapshot(now=NOW), placed_ids=state.placed_ids)
        one = replace(store.snapshot([condition_id], now=NOW), placed_ids=state.placed_ids)
        assert len(one.orders) <= len(full.orders)
        before = plan_market(spec, full, NOW, cancel_unmanaged=cancel_unmanaged)
        after = plan_market(spec, one, NOW, cancel_unmanaged=cancel_unmanaged)
        assert after == before
