"""The pure exchange engine, config loading, auth vectors and rate limiter — no sockets."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import BTC, BTC_NO, BTC_YES, quiet_config

from controller.sim.auth import (
    ORDER_TYPEHASH,
    clob_auth_domain_separator,
    derive_api_key,
    domain_separator,
    hmac_signature,
)
from controller.sim.clock import ManualClock
from controller.sim.config import (
    EXCHANGE_V2,
    MICRO,
    NEG_RISK_EXCHANGE_V2,
    PRICE_SCALE,
    TICK_STRINGS,
    Bucket,
    RateLimitConfig,
    SimConfigError,
    demo_yaml_text,
    load_config,
    parse_config,
)
from controller.sim.engine import Engine
from controller.sim.events import (
    ERR_BALANCE,
    BookChangeEvent,
    OrderEvent,
    OrderRejected,
    OrderRequest,
    TradeEvent,
)
from controller.sim.ratelimit import RateLimiter

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
_ids = iter(range(10**9))


def engine() -> tuple[Engine, ManualClock]:
    clock = ManualClock(1_700_000_000)
    e = Engine(parse_config(quiet_config()), clock.now, seed=1)
    for who in (A, B):
        e.fund(who, 1000 * MICRO, {BTC_YES: 1000 * MICRO, BTC_NO: 1000 * MICRO})
    return e, clock


def req(owner: str, token: str, side: str, price: float, size: float, **kw) -> OrderRequest:
    return OrderRequest(
        id=f"0x{next(_ids):064x}",
        token_id=token,
        side=side,
        price=round(price * PRICE_SCALE),
        size=round(size * MICRO),
        owner=owner,
        maker=owner,
        api_key="k-" + owner[-2:],
        **kw,
    )


def test_order_to_book_side_mapping():
    e, _ = engine()
    e.place(req(A, BTC_YES, "BUY", 0.40, 10))  # bid 0.40
    e.place(req(A, BTC_NO, "SELL", 0.55, 10))  # bid 0.45
    e.place(req(A, BTC_YES, "SELL", 0.60, 10))  # ask 0.60
    e.place(req(A, BTC_NO, "BUY", 0.42, 10))  # ask 0.58
    m = e.markets[BTC]
    assert m.bids.prices == [4000, 4500] and m.asks.prices == [5800, 6000]
    yes_bids, yes_asks = m.levels_for(BTC_YES)
    no_bids, no_asks = m.levels_for(BTC_NO)
    assert [p for p, _ in yes_bids] == [4000, 4500] and [p for p, _ in yes_asks] == [6000, 5800]  # best last
    assert [p for p, _ in no_bids] == [4000, 4200] and [p for p, _ in no_asks] == [6000, 5500]


@pytest.mark.parametrize(
    ("maker", "taker", "kind"),
    [
        ((BTC_YES, "SELL", 0.55), (BTC_YES, "BUY", 0.60), "complementary"),
        ((BTC_NO, "BUY", 0.45), (BTC_YES, "BUY", 0.60), "mint"),
        ((BTC_YES, "SELL", 0.55), (BTC_NO, "SELL", 0.40), "merge"),
        ((BTC_NO, "BUY", 0.45), (BTC_NO, "SELL", 0.40), "complementary-no"),
    ],
)
def test_match_types_settle_at_maker_price(maker, taker, kind):
    e, _ = engine()
    before = {w: (e.balance(w).collateral, dict(e.balance(w).tokens)) for w in (A, B)}
    e.place(req(A, *maker, 10))
    res = e.place(req(B, *taker, 10))
    assert len(res.trades) == 1 and res.trades[0].size == 10 * MICRO
    yes_price = 0.55  # the maker's price in YES terms in every case
    for who, (token, side, _) in ((A, maker), (B, taker)):
        pay = (yes_price if token == BTC_YES else 1 - yes_price) * 10 * MICRO
        coll0, toks0 = before[who]
        bal = e.balance(who)
        sign = -1 if side == "BUY" else 1
        assert bal.collateral == coll0 + sign * round(pay), kind
        assert bal.tokens[token] == toks0[token] - sign * 10 * MICRO, kind
        assert bal.locked_collateral == 0 and not any(bal.locked_tokens.values())


def test_price_time_priority_and_partial_fills():
    e, _ = engine()
    first = e.place(req(A, BTC_YES, "SELL", 0.55, 10)).order
    second = e.place(req(A, BTC_YES, "SELL", 0.55, 10)).order
    better = e.place(req(A, BTC_YES, "SELL", 0.54, 5)).order
    res = e.place(req(B, BTC_YES, "BUY", 0.55, 12))
    assert [(t.makers[0].order.id, t.size) for t in res.trades] == [(better.id, 5 * MICRO), (first.id, 7 * MICRO)]
    assert first.matched == 7 * MICRO and first.status == "LIVE" and second.matched == 0
    assert better.status == "MATCHED" and res.order.status == "MATCHED"
    assert e.markets[BTC].asks.sizes == {5500: 13 * MICRO}


def test_events_of_a_cross():
    e, _ = engine()
    e.place(req(A, BTC_YES, "SELL", 0.55, 10))
    e.drain_events()
    e.place(req(B, BTC_YES, "BUY", 0.55, 10))
    kinds = [type(ev).__name__ for ev in e.drain_events()]
    assert kinds[0] == "OrderEvent" and "TradeEvent" in kinds and kinds[-1] == "BookSnapshotEvent"
    assert kinds.index("TradeEvent") < kinds.index("BookChangeEvent")


def test_locks_and_rejections():
    e, clock = engine()
    e.fund(A, 10 * MICRO)
    e.place(req(A, BTC_YES, "BUY", 0.5, 10))
    with pytest.raises(OrderRejected, match="not enough balance"):
        e.place(req(A, BTC_YES, "BUY", 0.5, 12))
    assert e.balance(A).locked_collateral == 5 * MICRO
    with pytest.raises(OrderRejected, match=r"breaks minimum tick size rule: 0\.01"):
        e.place(req(A, BTC_YES, "BUY", 0.505, 5))
    with pytest.raises(OrderRejected, match="breaks minimum tick size rule"):
        e.place(req(A, BTC_YES, "BUY", 1.0, 5))
    with pytest.raises(OrderRejected, match=r"Size \(4\) lower than the minimum: 5"):
        e.place(req(A, BTC_YES, "BUY", 0.1, 4))
    with pytest.raises(OrderRejected, match="Maximum lot size is 2"):
        e.place(req(A, BTC_YES, "BUY", 0.1, 5.001))
    with pytest.raises(OrderRejected, match="only GTC and GTD"):
        e.place(req(A, BTC_YES, "BUY", 0.1, 5, order_type="FOK", post_only=True))
    with pytest.raises(OrderRejected, match="invalid expiration"):
        e.place(req(A, BTC_YES, "BUY", 0.1, 5, order_type="GTD", expiration=int(clock.now()) + 60))


def test_gtd_expires_and_heartbeat_cancels():
    e, clock = engine()
    gtd = e.place(req(A, BTC_YES, "BUY", 0.1, 5, order_type="GTD", expiration=int(clock.now()) + 100)).order
    keep = e.place(req(B, BTC_YES, "BUY", 0.1, 5)).order
    clock.advance(39)
    e.advance()
    assert gtd.status == "LIVE"
    clock.advance(1)
    e.advance()
    assert gtd.status == "CANCELED" and keep.status == "LIVE"
    ok, hb = e.heartbeat(B, "")
    assert ok
    assert e.heartbeat(B, "wrong") == (False, hb)
    assert e.heartbeat(B, hb)[0]
    clock.advance(10)
    e.advance()
    assert keep.status == "CANCELED"
    cancels = [ev for ev in e.drain_events() if isinstance(ev, OrderEvent) and ev.kind == "CANCELLATION"]
    assert {ev.order.id for ev in cancels} == {gtd.id, keep.id}


def test_close_market_cancels_and_rejects():
    e, _ = engine()
    o = e.place(req(A, BTC_YES, "BUY", 0.1, 5)).order
    e.close_market(BTC)
    assert o.status == "CANCELED" and e.balance(A).locked_collateral == 0
    with pytest.raises(OrderRejected, match="closed"):
        e.place(req(A, BTC_YES, "BUY", 0.1, 5))


ORDER = st.tuples(
    st.sampled_from([A, B]),
    st.sampled_from([BTC_YES, BTC_NO]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 99),
    st.integers(5, 60),
    st.sampled_from(["GTC", "GTC", "FAK", "FOK"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(ORDER, st.just("cancel")), max_size=40))
def test_conservation_and_no_crossed_book(ops):
    """Collateral+YES and collateral+NO are conserved (mint/merge create/burn pairs); funds never go negative."""
    e, _ = engine()

    def totals():
        coll = sum(e.balance(w).collateral for w in (A, B))
        return coll + sum(e.balance(w).tokens.get(BTC_YES, 0) for w in (A, B)), coll + sum(
            e.balance(w).tokens.get(BTC_NO, 0) for w in (A, B)
        )

    start = totals()
    for op in ops:
        if op == "cancel":
            e.cancel_where(A)
            continue
        who, token, side, cents, size, otype = op
        with contextlib.suppress(OrderRejected):
            e.place(req(who, token, side, cents / 100, size, order_type=otype))
        m = e.markets[BTC]
        assert m.best_bid() is None or m.best_ask() is None or m.best_bid() < m.best_ask()
        for w in (A, B):
            bal = e.balance(w)
            assert 0 <= bal.locked_collateral <= bal.collateral
            for tok in (BTC_YES, BTC_NO):
                assert 0 <= bal.locked_tokens.get(tok, 0) <= bal.tokens.get(tok, 0)
    assert totals() == start
    for o in e.all_open_orders():
        assert o.status == "LIVE" and o.remaining > 0
    events = e.drain_events()
    assert all(isinstance(ev.changes, dict) for ev in events if isinstance(ev, BookChangeEvent))
    assert all(ev.trade.size > 0 for ev in events if isinstance(ev, TradeEvent))


def test_balance_error_text():
    e, _ = engine()
    with pytest.raises(OrderRejected) as info:
        e.place(req(A, BTC_YES, "SELL", 0.5, 5000))
    assert info.value.message == ERR_BALANCE


# ------------------------------------------------------------------ config


def test_demo_config_uses_the_documented_markets():
    cfg = load_config(None)
    doc = (Path(__file__).parent.parent / "docs" / "demo-markets.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in doc.splitlines() if line.startswith("| demo-")]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (m.name, m.condition_id, m.yes, m.no, TICK_STRINGS[m.tick]) for m in cfg.markets
    ]
    assert [m.exchange for m in cfg.markets] == ["v2", "v2", "v3"]
    assert cfg.markets[0].yes == BTC_YES and cfg.markets[0].no == BTC_NO
    assert cfg.markets[1].fair_value == 0.23
    assert cfg.accounts[0].address == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert cfg.chain_id == 137 and cfg.flow_enabled
    assert "conditionId" in demo_yaml_text()


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"chainId": 1}, "chainId"),
        ({"markets": []}, "markets"),
        ({"bogus": 1}, "bogus"),
        ({"accounts": [{"address": "0x12"}]}, "accounts[0].address"),
        ({"accounts": [{"address": "0x" + "11" * 20, "signatureType": 2}]}, "funder"),
        ({"accounts": [{"address": "0x" + "11" * 20, "tokens": {"999": 1}}]}, "unknown token"),
        ({"faults": {"wsDropFraction": 2}}, "faults.wsDropFraction"),
        ({"faults": {"tickSizeChange": {"conditionId": "0x" + "ab" * 32, "tickSize": "0.1"}}}, "one-off action"),
        ({"faults": {"malformedFrames": {"kind": "deep-nesting"}}}, "count"),
        ({"settings": {"engineRestartSchedule": {"weekday": "tue", "timeUtc": "12:00"}}}, "weekday"),
        ({"settings": {"engineRestartSchedule": {"weekday": "tuesday", "timeUtc": "25:00"}}}, "timeUtc"),
        ({"settings": {"tradeHistoryLimit": 0}}, "tradeHistoryLimit"),
    ],
)
def test_config_errors_are_one_line(patch, needle):
    with pytest.raises(SimConfigError) as info:
        parse_config(quiet_config(**patch), origin="sim.yaml")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("sim.yaml: ") and needle in msg


def test_config_from_yaml_file(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text(
        "markets:\n  - conditionId: '0x" + "cd" * 32 + "'\n    tokens: {yes: 11, no: 12}\n"
        "    tickSize: 0.001\n    minOrderSize: 1\n    fairValue: 0.4\n"
        "accounts:\n  - address: '0x" + "11" * 20 + "'\n    collateral: 5.5\n    tokens: {11: 3}\n"
    )
    cfg = load_config(path)
    assert cfg.markets[0].yes == "11" and cfg.markets[0].tick == 10
    assert cfg.accounts[0].collateral == 5_500_000 and cfg.accounts[0].tokens == {"11": 3 * MICRO}
    bad = tmp_path / "bad.yaml"
    bad.write_text("markets: [\n")
    with pytest.raises(SimConfigError, match="invalid YAML"):
        load_config(bad)


# ------------------------------------------------------------------ auth vectors


def test_auth_vectors_from_the_protocol_notes():
    assert clob_auth_domain_separator(137).hex() == "cfc66be2a3b30464cb3b588324101f660c9a205fa76e8e5f83ee16a528e1c4cb"
    assert domain_separator(137, EXCHANGE_V2).hex() == (
        "3264e159346253e26a64e00b69032db0e7d32f94628de3e6eecb50304d7af3d2"
    )
    assert domain_separator(137, NEG_RISK_EXCHANGE_V2).hex() == (
        "9b858f53327b0bd13af8ec14cfb35234fb9eb7b0504d1a4e61f433840d30e81a"
    )
    assert ORDER_TYPEHASH.hex() == "bb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"
    secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    assert hmac_signature(secret, "1000000", "test-sign", "/orders", '{"hash": "0x123"}') == (
        "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
    )
    k1, k2 = derive_api_key("0xABC", 0), derive_api_key("0xabc", 0)
    assert k1 == k2 and derive_api_key("0xabc", 1).key != k1.key


def test_token_bucket():
    now = [100.0]
    rl = RateLimiter(
        RateLimitConfig(True, Bucket(10, 20), Bucket(1, 2)), clock=lambda: now[0], wall=lambda: 1_700_000_000
    )
    assert rl.take("orders", "a", 15).allowed
    d = rl.take("orders", "a", 6)
    assert not d.allowed and d.remaining == 5 and d.retry_after == pytest.approx(0.1)
    assert rl.take("orders", "b", 20).allowed  # per signer
    now[0] += 0.1
    assert rl.take("orders", "a", 6).allowed
    rl.charge("cancels", "a", 5)  # cancel-all may drive the bucket negative
    assert not rl.take("cancels", "a", 1).allowed
    now[0] += 4
    assert rl.take("cancels", "a", 1).allowed


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(ORDER, max_size=30))
def test_failed_trades_put_every_balance_back(ops):
    """When every match fails settlement, balances end where they started, whatever was traded."""
    e, _ = engine()
    e.on_trade = e.fail_trade
    start = {w: (e.balance(w).collateral, dict(e.balance(w).tokens)) for w in (A, B)}
    failed = 0
    for who, token, side, cents, size, otype in ops:
        with contextlib.suppress(OrderRejected):
            failed += len(e.place(req(who, token, side, cents / 100, size, order_type=otype)).trades)
    for w in (A, B):
        e.cancel_where(w)
    assert all(t.status == "FAILED" for t in e.trades) and len(e.trades) == failed
    for w in (A, B):
        bal = e.balance(w)
        assert (bal.collateral, {t: v for t, v in bal.tokens.items() if v or t in start[w][1]}) == start[w]
        assert bal.locked_collateral == 0 and not any(bal.locked_tokens.values())
