"""Builders shared by the planner tests (no tests here; conftest.py is shared, so not there)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.spec.types import (
    Band,
    Limits,
    MarketMakerSpec,
    MarketRef,
    OrderSettings,
    ReferencePrice,
    Risk,
    Schedule,
    Skew,
)

D = Decimal
CID = "0x" + "ab" * 32
YES = "1111"
NO = "2222"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def band(min_m="0.01", avg_m="0.02", max_m="0.03", min_a="10", avg_a="20", max_a="30") -> Band:
    return Band(D(min_m), D(avg_m), D(max_m), D(min_a), D(avg_a), D(max_a))


def spec(
    bands=None,
    *,
    name="test-market",
    cid=CID,
    yes=YES,
    no=NO,
    quote="yes",
    tick=None,
    min_size=None,
    source="midpoint",
    max_spread="0.1",
    max_position=None,
    max_collateral=None,
    post_only=True,
    paused=False,
    not_before=None,
    not_after=None,
    ownership="exclusive",
    skew_ticks=None,
) -> MarketMakerSpec:
    return MarketMakerSpec(
        name=name,
        market=MarketRef(
            condition_id=cid,
            yes_token=yes,
            no_token=no,
            quote=quote,
            tick_size=None if tick is None else D(tick),
            min_order_size=None if min_size is None else D(min_size),
        ),
        bands=tuple(bands) if bands is not None else (band(),),
        reference_price=ReferencePrice(source=source, max_spread=D(max_spread)),
        limits=Limits(
            max_position=None if max_position is None else D(max_position),
            max_collateral=None if max_collateral is None else D(max_collateral),
        ),
        orders=OrderSettings(post_only=post_only),
        schedule=Schedule(not_before=not_before, not_after=not_after),
        paused=paused,
        ownership=ownership,
        risk=Risk(skew=None if skew_ticks is None else Skew(max_ticks=skew_ticks)),
    )


def book(bids=(), asks=(), last=None) -> Book:
    return Book.from_levels(
        [Level(D(p), D(s)) for p, s in bids],
        [Level(D(p), D(s)) for p, s in asks],
        None if last is None else D(last),
    )


def order(oid, side, price, size, token=YES, matched="0", market=CID) -> OpenOrder:
    return OpenOrder(
        id=oid, market=market, token_id=token, side=side, price=D(price), size=D(size), size_matched=D(matched)
    )


def state(
    bids=(("0.49", "100"),),
    asks=(("0.51", "100"),),
    *,
    orders=(),
    collateral="1000",
    tokens=None,
    tick="0.01",
    min_size="5",
    books=None,
    last=None,
    market_last=None,
    include_own=True,
    cid=CID,
    placed=(),
) -> ObservedState:
    """A one-market snapshot. With ``include_own`` our orders are also added to the YES
    book where they rest (as a real exchange snapshot would show them)."""
    if books is None:
        yes_book = book(bids, asks, last)
        if include_own:
            for o in orders:
                if o.market != cid:
                    continue
                if o.token_id == YES:
                    yes_book = yes_book.adjusted("bids" if o.side == "BUY" else "asks", o.price, o.remaining)
                elif o.token_id == NO:
                    yes_book = yes_book.adjusted("asks" if o.side == "BUY" else "bids", 1 - o.price, o.remaining)
        books = {YES: yes_book}
    market = MarketState(
        tick_size=D(tick),
        min_order_size=D(min_size),
        books=books,
        last_trade_price=None if market_last is None else D(market_last),
    )
    return ObservedState(
        time=NOW,
        markets={cid: market},
        balances=Balances(collateral=D(collateral), tokens={k: D(v) for k, v in (tokens or {}).items()}),
        orders=tuple(orders),
        placed_ids=frozenset(placed),
    )
