from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.plan.ticks import (
    TICK_SIZES,
    DecimalParseError,
    format_decimal,
    format_price,
    is_tick_size,
    on_grid,
    parse_decimal,
    price_bounds,
    price_in_range,
    round_away,
    round_down,
    round_size_down,
    round_up,
)

# (tick, price, down, up): prices picked to be off the grid but "look" fine in decimals.
GRID_CASES = [
    ("0.1", "0.25", "0.2", "0.3"),
    ("0.01", "0.505", "0.50", "0.51"),
    ("0.005", "0.503", "0.500", "0.505"),
    ("0.005", "0.0071", "0.005", "0.010"),
    ("0.0025", "0.0030", "0.0025", "0.0050"),
    ("0.0025", "0.5010", "0.5000", "0.5025"),
    ("0.001", "0.2345", "0.234", "0.235"),
    ("0.0001", "0.12345", "0.1234", "0.1235"),
]


@pytest.mark.parametrize(("tick", "price", "down", "up"), GRID_CASES)
def test_round_onto_grid_for_every_tick_size(tick, price, down, up):
    t, p = D(tick), D(price)
    assert round_down(p, t) == D(down)
    assert round_up(p, t) == D(up)
    assert on_grid(D(down), t) and on_grid(D(up), t)
    assert not on_grid(p, t)


def test_every_official_tick_size_is_covered():
    assert {D(c[0]) for c in GRID_CASES} == set(TICK_SIZES)
    assert all(is_tick_size(t) for t in TICK_SIZES)
    assert is_tick_size(D("0.010"))  # same value, other spelling
    assert not is_tick_size(D("0.02")) and not is_tick_size(D("0.00025"))


def test_grid_is_not_a_number_of_decimals():
    t = D("0.0025")
    assert on_grid(D("0.0050"), t) and on_grid(D("0.0075"), t) and on_grid(D("0.9975"), t)
    assert not on_grid(D("0.0030"), t) and not on_grid(D("0.0010"), t)
    assert on_grid(D("0.505"), D("0.005")) and not on_grid(D("0.501"), D("0.005"))


def test_on_grid_values_are_unchanged_and_keep_the_tick_exponent():
    assert round_down(D("0.48"), D("0.01")) == D("0.48")
    assert str(round_down(D("0.4"), D("0.01"))) == "0.40"
    assert str(round_up(D("0.0026"), D("0.0025"))) == "0.0050"
    assert str(round_down(D("0.25"), D("0.1"))) == "0.2"


def test_round_away_from_reference():
    t = D("0.01")
    p = D("0.505")
    assert round_away(D("0.485"), p, t) == D("0.48")  # bid rounds down
    assert round_away(D("0.525"), p, t) == D("0.53")  # ask rounds up
    assert round_away(D("0.48"), p, t) == D("0.48")
    assert round_away(D("0.0030"), D("0.5"), D("0.0025")) == D("0.0025")
    assert round_away(D("0.9960"), D("0.5"), D("0.0025")) == D("0.9975")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.sampled_from(TICK_SIZES),
    st.decimals(min_value=D("0.0001"), max_value=D("0.9999"), places=6),
)
def test_rounding_properties(tick, price):
    down, up = round_down(price, tick), round_up(price, tick)
    assert on_grid(down, tick) and on_grid(up, tick)
    assert down <= price <= up
    assert up - down in (0, tick)
    assert (down == up) == on_grid(price, tick)


def test_price_bounds():
    assert price_bounds(D("0.01")) == (D("0.01"), D("0.99"))
    assert price_in_range(D("0.0025"), D("0.0025")) and price_in_range(D("0.9975"), D("0.0025"))
    assert not price_in_range(D("0"), D("0.01")) and not price_in_range(D("0.995"), D("0.01"))


def test_sizes_round_down_to_cents():
    assert round_size_down(D("15.999")) == D("15.99")
    assert round_size_down(D("5")) == D("5")
    assert round_size_down(D("0.009")) == 0
    assert round_size_down(D("-3")) == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.49", "0.49"), (0.49, "0.49"), (5, "5"), ("120", "120"), ("1e2", "100"), (D("0.5"), "0.5"), ("-1", "-1")],
)
def test_parse_decimal_accepts_numbers_and_decimal_strings(raw, expected):
    assert parse_decimal(raw) == D(expected)


@pytest.mark.parametrize(
    "raw",
    [
        True,
        False,
        None,
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        float("nan"),
        float("inf"),
        "",
        " 0.5",
        "0.5 ",
        "0,5",
        "1_000",
        "0x10",
        "abc",
        "1e999999",
        "1e-40",
        10**30,
        [],
        {},
        "½",
        "٣",  # Arabic-Indic digit: Decimal() would accept it
        D("NaN"),
    ],
)
def test_parse_decimal_rejects_garbage(raw):
    with pytest.raises(DecimalParseError, match="must be"):
        parse_decimal(raw)


def test_format_decimal_never_uses_exponents():
    assert format_decimal(D("1.5E+1")) == "15"
    assert format_decimal(D("0.50")) == "0.5"
    assert format_decimal(D("100")) == "100"
    assert format_decimal(D("0E-8")) == "0"
    assert format_decimal(D("-0")) == "0"
    assert format_decimal(D("0.0000001")) == "0.0000001"
    assert format_price(D("0.5"), D("0.01")) == "0.50"
    assert format_price(D("0.505"), D("0.01")) == "0.505"
    assert format_price(D("0.005"), D("0.0025")) == "0.0050"
