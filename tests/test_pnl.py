"""PnL from fills: average cost, binary equivalence, FAILED reversal, fees, windows, markouts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_journal_support import COND, NO, YES

from controller.journal.pnl import MarketPnl, Totals, compute_pnl, pnl_series
from controller.journal.records import Fill, MarketRecord, MidSample, Role, Source, TradeRecord, TradeStatus

D = Decimal
MARKET = MarketRecord("btc", COND, YES, NO)
_count = iter(range(1_000_000))


def fill(
    side: str,
    price: str,
    size: str,
    *,
    token: str = YES,
    at: float = 100.0,
    fee: str = "0",
    status: TradeStatus = TradeStatus.CONFIRMED,
) -> Fill:
    n = next(_count)
    record = TradeRecord(
        trade_id=f"t-{n}",
        order_id=f"o-{n}",
        role=Role.MAKER,
        condition_id=COND,
        token_id=token,
        outcome="Yes" if token == YES else "No",
        side=side,  # type: ignore[arg-type]
        price=D(price),
        size=D(size),
        fee=D(fee),
        status=status,
        match_time=at,
        event_time=None,
        seen_at=at,
        source=Source.REST,
    )
    return Fill(record=record, first_seen_at=at, updated_at=at, fill_time=at)


def mid(value: str, at: float, token: str = YES) -> MidSample:
    return MidSample(COND, token, D(value), at)


def one(fills: list[Fill], mids: Sequence[MidSample] = (), **kwargs: Any) -> tuple[MarketPnl, Totals]:
    report = compute_pnl(fills, list(mids), now=kwargs.pop("now", 1000.0), markets=[MARKET], **kwargs)
    (market,) = report.markets
    return market, report.total


def test_average_cost_realizes_on_the_reducing_side() -> None:
    m, total = one(
        [fill("BUY", "0.40", "10", at=1), fill("BUY", "0.50", "10", at=2), fill("SELL", "0.60", "5", at=3)],
        [mid("0.55", 3)],
    )
    assert m.position == 15 and m.average_cost == D("0.45")
    assert m.realized == D("0.75")  # 5 · (0.60 − 0.45)
    assert m.unrealized == D("1.50")  # 15 · (0.55 − 0.45)
    assert m.volume == D("12.00") and m.fills == 3
    assert total.realized == m.realized and m.name == "btc" and m.token_id == YES


def test_a_no_fill_is_its_yes_equivalent_and_a_pair_merges_to_one() -> None:
    # 10 YES at 0.40 and 10 NO at 0.50 merge into 10 collateral: 1.00 made, nothing held.
    m, _ = one([fill("BUY", "0.40", "10", at=1), fill("BUY", "0.50", "10", token=NO, at=2)])
    assert m.position == 0 and m.realized == D("1.00") and m.unrealized == 0
    # Holding NO is a negative position in YES terms, marked with the YES mid.
    m, _ = one([fill("BUY", "0.30", "10", token=NO, at=1)], [mid("0.60", 1)])
    assert m.position == -10 and m.average_cost == D("0.70")
    assert m.unrealized == D("1.00")  # NO worth 0.40 now, paid 0.30


def test_flipping_through_zero_opens_the_rest_at_the_fill_price() -> None:
    m, _ = one([fill("BUY", "0.40", "10", at=1), fill("SELL", "0.50", "15", at=2)])
    assert m.position == -5 and m.average_cost == D("0.50") and m.realized == D("1.00")


def test_a_failed_trade_counts_for_nothing() -> None:
    kept = [fill("BUY", "0.40", "10", at=1), fill("SELL", "0.60", "10", at=3)]
    failed = fill("BUY", "0.10", "50", at=2, status=TradeStatus.FAILED)
    with_failed, _ = one([*kept, failed])
    without, _ = one(kept)
    assert with_failed == without and with_failed.fills == 2


def test_fees_are_counted_and_taken_from_realized() -> None:
    m, total = one([fill("BUY", "0.40", "10", at=1, fee="0.012"), fill("SELL", "0.40", "10", at=2, fee="0.012")])
    assert m.fees == D("0.024") and m.realized == D("-0.024") and total.fees == D("0.024")


def test_since_counts_only_the_window_but_keeps_the_cost_basis() -> None:
    fills = [fill("BUY", "0.40", "10", at=10), fill("SELL", "0.50", "4", at=100)]
    m, _ = one(fills, [mid("0.45", 50), mid("0.48", 100)], since=50.0)
    assert m.fills == 1 and m.volume == D("2.00")
    assert m.realized == D("0.40")  # 4 · (0.50 − 0.40): the cost comes from before the window
    assert m.opening_unrealized == D("0.50")  # 10 · (0.45 − 0.40) at the window's start
    assert m.unrealized == D("0.48")  # 6 · (0.48 − 0.40)
    assert m.window_pnl == D("0.38")


def test_markouts_are_signed_so_positive_is_good_for_us() -> None:
    fills = [fill("BUY", "0.50", "10", at=100), fill("SELL", "0.52", "10", at=200)]
    mids = [
        mid("0.50", 99.5),
        mid("0.51", 100.5),
        mid("0.55", 109),
        mid("0.52", 199.5),
        mid("0.52", 201),
        mid("0.50", 209),
    ]
    m, _ = one(fills, mids, now=1000.0)
    by = {x.horizon: x for x in m.markouts}
    assert by[1.0].per_share == D("0.005")  # buy: +0.01; sell: mid unchanged after 1 s → (0.01 + 0) / 2
    assert by[10.0].per_share == D("0.035")  # buy: +0.05; sell: mid fell 0.02 → +0.02
    assert by[60.0].per_share is None and by[60.0].fills == 0  # mids older than 30 s are unknown


def test_markouts_wait_for_their_horizon_and_quoted_mid_comes_from_either_token() -> None:
    fills = [fill("BUY", "0.50", "10", at=100)]
    m, _ = one(fills, [mid("0.50", 99.5, token=NO), mid("0.45", 100.5, token=NO)], now=100.9)
    assert all(x.per_share is None for x in m.markouts)  # 1 s has not passed yet
    m, _ = one(fills, [mid("0.50", 99.5, token=NO), mid("0.45", 100.5, token=NO)], now=101.5)
    assert m.markouts[0].per_share == D("0.05")  # NO mid fell, so the YES mid rose 0.05


def test_series_follows_position_and_pnl() -> None:
    fills = [fill("BUY", "0.40", "10", at=1), fill("SELL", "0.50", "10", at=3)]
    series = pnl_series(fills, [mid("0.45", 2)], markets=[MARKET])[COND]
    assert [(p.at, p.position, p.pnl) for p in series] == [(1, 10, 0), (2, 10, D("0.50")), (3, 0, D("1.00"))]


_fills = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from([YES, NO]),
        st.integers(1, 99).map(lambda c: D(c) / 100),
        st.integers(1, 500).map(lambda s: D(s) / 10),
        st.integers(0, 3).map(lambda f: D(f) / 1000),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_fills, st.integers(1, 99).map(lambda c: D(c) / 100))
def test_realized_plus_unrealized_is_the_change_in_value_at_the_mid(
    trades: list[tuple[str, str, Decimal, Decimal, Decimal]], mark: Decimal
) -> None:
    """Whatever was traded: PnL = Δcollateral + ΔYES·mid + ΔNO·(1 − mid), the balances' own view."""
    cash, yes, no = D(0), D(0), D(0)
    fills = []
    for i, (side, token, price, size, fee) in enumerate(trades):
        fills.append(fill(side, str(price), str(size), token=token, at=float(i + 1), fee=str(fee)))
        sign = 1 if side == "BUY" else -1
        cash -= sign * price * size + fee
        if token == YES:
            yes += sign * size
        else:
            no += sign * size
    m, total = one(fills, [mid(str(mark), float(len(trades) + 1))], now=float(len(trades) + 2))
    value = cash + yes * mark + no * (1 - mark)
    assert abs(m.realized + m.unrealized - value) < D("1e-20")
    assert total.realized + total.unrealized == m.realized + m.unrealized
    assert m.position == yes - no
    assert m.volume == sum((p * s for _, _, p, s, _ in trades), D(0))
