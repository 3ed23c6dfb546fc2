"""Exact order amounts (controller.venue.amounts): price x size, no float, no silent rounding."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder

from controller.venue.amounts import (
    TICK_RULES,
    AmountError,
    AmountProblem,
    Amounts,
    Side,
    limit_amounts,
    scaled_int,
    tick_rule,
)

TICKS = tuple(TICK_RULES)


def test_tick_rules_are_the_stock_clients_rounding_table() -> None:
    assert set(TICK_RULES) == set(ROUNDING_CONFIG)
    for text, rule in TICK_RULES.items():
        stock = ROUNDING_CONFIG[text]
        assert (rule.price_decimals, rule.size_decimals, rule.amount_decimals) == (
            stock.price,
            stock.size,
            stock.amount,
        )
        assert rule.text == text


@pytest.mark.parametrize(
    ("side", "price", "size", "tick", "maker", "taker"),
    [
        # Worked examples of the exchange protocol reference (client 1.2.1, verified by running it).
        ("BUY", "0.52", "10", "0.01", 5_200_000, 10_000_000),
        ("SELL", "0.52", "10", "0.01", 10_000_000, 5_200_000),
        ("BUY", "0.123", "7.77", "0.001", 955_710, 7_770_000),
        ("BUY", "0.5555", "12.34", "0.0001", 6_854_870, 12_340_000),
        # The sizes float flooring gets wrong.
        ("BUY", "0.57", "5.02", "0.01", 2_861_400, 5_020_000),
        ("SELL", "0.3", "8.2", "0.1", 8_200_000, 2_460_000),
        ("BUY", "0.0025", "0.01", "0.0025", 25, 10_000),
        ("SELL", "0.9975", "1000000.01", "0.0025", 1_000_000_010_000, 997_500_009_975),
    ],
)
def test_worked_examples(side: str, price: str, size: str, tick: str, maker: int, taker: int) -> None:
    assert limit_amounts(side, D(price), D(size), D(tick)) == Amounts(maker, taker)


def test_every_two_decimal_size_is_signed_exactly_where_the_stock_client_floors() -> None:
    rng = random.Random(7)
    stock = OrderBuilder(None, 0, "0x0")
    off = 0
    sizes = [D(cents) / 100 for cents in range(500, 100_001)]  # 5.00 .. 1000.00
    for size in sizes:
        tick = rng.choice(TICKS)
        rule = TICK_RULES[tick]
        price = rule.tick * rng.randint(1, int(1 / rule.tick) - 1)
        side = rng.choice(("BUY", "SELL"))
        ours = limit_amounts(side, price, size, tick)
        shares, notional = (ours.taker, ours.maker) if side == "BUY" else (ours.maker, ours.taker)
        assert shares == size * 1_000_000
        assert notional == price * size * 1_000_000
        _, stock_maker, stock_taker = stock.get_order_amounts(side, float(size), float(price), ROUNDING_CONFIG[tick])
        off += (stock_maker, stock_taker) != (ours.maker, ours.taker)
    # About 4.6 % of these sizes come out one cent short through float (5.02 -> 5.01).
    assert 0.04 < off / len(sizes) < 0.05


@pytest.mark.parametrize(
    ("price", "size", "tick", "problem"),
    [
        ("0.505", "10", "0.01", AmountProblem.PRICE_OFF_GRID),
        ("0.0026", "10", "0.0025", AmountProblem.PRICE_OFF_GRID),
        ("0.512", "10", "0.005", AmountProblem.PRICE_OFF_GRID),
        ("0.12345", "10", "0.0001", AmountProblem.PRICE_OFF_GRID),
        ("0", "10", "0.01", AmountProblem.PRICE_OUT_OF_RANGE),
        ("1", "10", "0.01", AmountProblem.PRICE_OUT_OF_RANGE),
        ("-0.5", "10", "0.1", AmountProblem.PRICE_OUT_OF_RANGE),
        ("0.9975", "10", "0.005", AmountProblem.PRICE_OFF_GRID),
        ("0.5", "5.001", "0.01", AmountProblem.SIZE_TOO_PRECISE),
        ("0.5", "7.777", "0.001", AmountProblem.SIZE_TOO_PRECISE),
        ("0.5", "0", "0.01", AmountProblem.SIZE_NOT_POSITIVE),
        ("0.5", "-5", "0.01", AmountProblem.SIZE_NOT_POSITIVE),
        ("0.5", "1e-9999999", "0.01", AmountProblem.SIZE_TOO_PRECISE),
        ("0.5", "1e99", "0.01", AmountProblem.TOO_LARGE),
        ("0.5", "1e999999999", "0.01", AmountProblem.TOO_LARGE),
        ("NaN", "10", "0.01", AmountProblem.NOT_DECIMAL),
        ("0.5", "Infinity", "0.01", AmountProblem.NOT_DECIMAL),
        ("0.5", "10", "0.02", AmountProblem.UNKNOWN_TICK),
        ("0.5", "10", "1", AmountProblem.UNKNOWN_TICK),
        ("0.5", "10", "NaN", AmountProblem.UNKNOWN_TICK),
    ],
)
def test_refuses_instead_of_rounding(price: str, size: str, tick: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as caught:
        limit_amounts("BUY", D(price), D(size), D(tick))
    assert caught.value.reason is problem
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value) and str(caught.value)


@pytest.mark.parametrize("bad", [0.5, True, "0.5", None])
def test_refuses_anything_but_exact_numbers(bad: object) -> None:
    with pytest.raises(AmountError) as caught:
        limit_amounts("BUY", bad, D("10"), D("0.01"))  # type: ignore[arg-type]
    assert caught.value.reason is AmountProblem.NOT_DECIMAL
    with pytest.raises(AmountError):
        limit_amounts("BUY", D("0.5"), bad, D("0.01"))  # type: ignore[arg-type]


def test_equal_values_in_other_spellings_are_accepted() -> None:
    expected = Amounts(2_510_000, 5_020_000)
    assert limit_amounts("BUY", D("0.50"), D("5.020"), D("0.010")) == expected
    assert limit_amounts(Side.BUY, D("5E-1"), D("502E-2"), "0.01") == expected
    assert limit_amounts("SELL", D("0.5"), 10, "0.1") == Amounts(10_000_000, 5_000_000)
    assert tick_rule("0.0025") is tick_rule(D("0.00250"))


def test_bad_side() -> None:
    with pytest.raises(AmountError) as caught:
        limit_amounts("buy", D("0.5"), D("10"), D("0.01"))
    assert caught.value.reason is AmountProblem.BAD_SIDE


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    tick=st.sampled_from(TICKS),
    step=st.integers(min_value=1, max_value=9_999),
    cents=st.integers(min_value=1, max_value=10**12),
    side=st.sampled_from(list(Side)),
)
def test_the_signed_price_is_exactly_the_planned_price(tick: str, step: int, cents: int, side: Side) -> None:
    rule = TICK_RULES[tick]
    price = rule.tick * (1 + step % (int(1 / rule.tick) - 1))
    size = D(cents) / 100
    amounts = limit_amounts(side, price, size, tick)
    shares, notional = (amounts.taker, amounts.maker) if side is Side.BUY else (amounts.maker, amounts.taker)
    assert D(shares) / 1_000_000 == size
    assert D(notional) / D(shares) == price


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    coefficient=st.integers(min_value=-(10**30), max_value=10**30),
    exponent=st.integers(min_value=-12, max_value=12),
    decimals=st.integers(min_value=0, max_value=8),
)
def test_scaled_int_is_exact(coefficient: int, exponent: int, decimals: int) -> None:
    value = D(coefficient).scaleb(exponent)
    result = scaled_int(value, decimals)
    # Fractions of exact integers, compared without any decimal context.
    numerator = coefficient * 10 ** max(exponent + decimals, 0)
    denominator = 10 ** max(-(exponent + decimals), 0)
    if numerator % denominator:
        assert result is None
    else:
        assert result == numerator // denominator
