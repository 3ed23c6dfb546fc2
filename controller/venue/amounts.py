"""Exact order amounts: a Decimal price and size in, the integers the exchange signs out.

Why it exists: py-clob-client-v2 1.2.1 computes amounts as ``floor(float(size) * 100)``,
so a size of 5.02 is signed as 5.01 shares and 8.2 as 8.19. Here every number is an
integer derived exactly from the ``Decimal`` it came from; the maker and taker amounts are
exactly ``price x size`` and ``size`` in the exchange's 6-decimal base units.

What it may not do: round. A price off the market's tick grid, a size finer than the
exchange's lot or anything that is not an exact decimal is refused with an
:class:`AmountError` naming the problem (a typed :class:`AmountProblem` plus one line of
text). It knows nothing about keys, signing or the network, and never touches ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, IntEnum

# Collateral (pUSD) and outcome tokens both have 6 decimals on chain.
TOKEN_DECIMALS = 6
UINT256_MAX = (1 << 256) - 1
# Anything beyond 10**40 cannot be a real price or size; refusing it early keeps a
# hostile exponent (``Decimal("1e999999999")``) from building an enormous integer.
_MAX_ADJUSTED_EXPONENT = 40


class Side(IntEnum):
    """The order side as the exchange encodes it (``uint8 side``)."""

    BUY = 0
    SELL = 1

    @classmethod
    def parse(cls, value: Side | str) -> Side:
        if isinstance(value, Side):
            return value
        if value == "BUY":
            return cls.BUY
        if value == "SELL":
            return cls.SELL
        raise AmountError(AmountProblem.BAD_SIDE, f"side must be BUY or SELL, not {value!r}")


class AmountProblem(Enum):
    """Why an order's price or size was refused."""

    NOT_DECIMAL = "not_decimal"
    BAD_SIDE = "bad_side"
    UNKNOWN_TICK = "unknown_tick"
    PRICE_OFF_GRID = "price_off_grid"
    PRICE_OUT_OF_RANGE = "price_out_of_range"
    SIZE_NOT_POSITIVE = "size_not_positive"
    SIZE_TOO_PRECISE = "size_too_precise"
    TOO_LARGE = "too_large"


class AmountError(ValueError):
    """A price or size the exchange would not take as given; ``reason`` says which rule."""

    def __init__(self, reason: AmountProblem, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TickRule:
    """The exchange's precision for one tick size (py-clob-client-v2's ``ROUNDING_CONFIG``)."""

    tick: Decimal
    price_decimals: int
    size_decimals: int
    amount_decimals: int

    @property
    def text(self) -> str:
        return format(self.tick, "f")


# Keyed by the canonical text of the tick; values copied from the client's rounding table
# (tests/test_signer_amounts.py holds them equal to it).
TICK_RULES: dict[str, TickRule] = {
    rule.text: rule
    for rule in (
        TickRule(Decimal("0.1"), 1, 2, 3),
        TickRule(Decimal("0.01"), 2, 2, 4),
        TickRule(Decimal("0.005"), 3, 2, 5),
        TickRule(Decimal("0.0025"), 4, 2, 6),
        TickRule(Decimal("0.001"), 3, 2, 5),
        TickRule(Decimal("0.0001"), 4, 2, 6),
    )
}
# price x size has at most price_decimals + size_decimals decimals; because that never
# exceeds the amount precision or the token's 6 decimals, an on-grid price times a lot-sized
# size is always representable exactly: nothing below can need rounding.
assert all(r.price_decimals + r.size_decimals <= min(r.amount_decimals, TOKEN_DECIMALS) for r in TICK_RULES.values())


@dataclass(frozen=True, slots=True)
class Amounts:
    """Signed amounts in base units (10**-6): what the maker gives and what it wants."""

    maker: int
    taker: int


def tick_rule(tick_size: Decimal | str) -> TickRule:
    """The precision rule of a tick size (``Decimal("0.010")`` and ``"0.01"`` are the same tick)."""
    if isinstance(tick_size, str):
        try:
            tick_size = Decimal(tick_size)
        except ArithmeticError:
            raise AmountError(AmountProblem.UNKNOWN_TICK, f"tick size {tick_size!r} is not a number") from None
    if not isinstance(tick_size, Decimal) or not tick_size.is_finite():
        raise AmountError(AmountProblem.UNKNOWN_TICK, f"tick size must be a finite Decimal, not {tick_size!r}")
    rule = TICK_RULES.get(format(tick_size.normalize(), "f"))
    if rule is None:
        known = ", ".join(TICK_RULES)
        raise AmountError(AmountProblem.UNKNOWN_TICK, f"tick size {tick_size} is not one of the exchange's ({known})")
    return rule


def scaled_int(value: Decimal, decimals: int) -> int | None:
    """``value * 10**decimals`` as an exact int, or None when that is not an integer.

    Works on the digits of the Decimal, not under a decimal context, so no precision
    limit can round a long number on the way.
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise AmountError(AmountProblem.NOT_DECIMAL, f"{value} is not a finite number")
    if value and value.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise AmountError(AmountProblem.TOO_LARGE, f"{value} is too large for an order")
    coefficient = int("".join(map(str, digits))) if digits else 0
    shift = exponent + decimals
    if shift >= 0:
        result = coefficient * 10**shift
    elif coefficient == 0:
        result = 0
    elif -shift > len(digits):
        return None  # nonzero digits all sit below the last allowed decimal
    else:
        result, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            return None
    return -result if sign else result


def _exact(value: object, what: str) -> Decimal:
    # bool is an int; neither it nor float is an exact price or size.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise AmountError(AmountProblem.NOT_DECIMAL, f"{what} must be a Decimal (or int), not {type(value).__name__}")


def price_units(price: Decimal, rule: TickRule) -> int:
    """The price in units of ``10**-price_decimals``, after checking grid and range."""
    price = _exact(price, "price")
    units = scaled_int(price, rule.price_decimals)
    tick_units = scaled_int(rule.tick, rule.price_decimals)
    assert tick_units is not None
    if units is None or units % tick_units:
        raise AmountError(AmountProblem.PRICE_OFF_GRID, f"price {price} is not on the tick grid {rule.text}")
    one = 10**rule.price_decimals
    if not tick_units <= units <= one - tick_units:
        raise AmountError(
            AmountProblem.PRICE_OUT_OF_RANGE,
            f"price {price} is outside [{rule.text}, {1 - rule.tick}] for tick {rule.text}",
        )
    return units


def size_units(size: Decimal | int, rule: TickRule) -> int:
    """The size in units of ``10**-size_decimals``, after checking it is positive and lot-sized."""
    size = _exact(size, "size")
    units = scaled_int(size, rule.size_decimals)
    if units is None:
        raise AmountError(
            AmountProblem.SIZE_TOO_PRECISE,
            f"size {size} has more than {rule.size_decimals} decimals (the exchange's lot)",
        )
    if units <= 0:
        raise AmountError(AmountProblem.SIZE_NOT_POSITIVE, f"size must be positive, not {size}")
    return units


def limit_amounts(side: Side | str, price: Decimal, size: Decimal | int, tick_size: Decimal | str) -> Amounts:
    """Maker and taker amounts of a limit order of ``size`` shares at ``price``.

    BUY gives ``price x size`` collateral for ``size`` shares; SELL gives ``size`` shares for
    ``price x size`` collateral. Both exactly, in base units.
    """
    rule = tick_rule(tick_size)
    side = Side.parse(side)
    p = price_units(price, rule)
    s = size_units(size, rule)
    shares = s * 10 ** (TOKEN_DECIMALS - rule.size_decimals)
    notional = p * s * 10 ** (TOKEN_DECIMALS - rule.price_decimals - rule.size_decimals)
    if shares > UINT256_MAX or notional > UINT256_MAX:
        raise AmountError(AmountProblem.TOO_LARGE, f"size {size} does not fit in an order")
    if side is Side.BUY:
        return Amounts(maker=notional, taker=shares)
    return Amounts(maker=shares, taker=notional)
