"""Exact decimal helpers for Polymarket prices and sizes.

Polymarket prices live on a *grid* of tick-size multiples, not on a number of decimals:
the 0.0025 grid is 0.0025, 0.0050, 0.0075, ... and 0.0030 is off it although it has
four decimals. Every tick size the official client accepts (0.1, 0.01, 0.005, 0.0025,
0.001, 0.0001) has an integer reciprocal, so "price / tick" is computed exactly as
"price * (1 / tick)" and never goes through floats.

Sizes (shares) have at most two decimals; the planner rounds them *down* to 0.01 so it
never asks for more than it can fund.

Everything here is pure and raises only :class:`DecimalParseError` (a ``ValueError``)
on bad input, with a message meant to follow a field path ("must be ...").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from typing import Literal

ZERO = Decimal(0)
ONE = Decimal(1)

TICK_SIZES: tuple[Decimal, ...] = tuple(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))
SIZE_QUANTUM = Decimal("0.01")

# Hostile-input guards: a "decimal" with a 10**6 exponent is valid Decimal syntax but
# would make later arithmetic slow or lossy. Nothing on Polymarket needs more than this.
_MAX_FRACTION_DIGITS = 18
_MAX_INTEGER_DIGITS = 18
_MAX_TEXT = 64

Direction = Literal["down", "up"]


class DecimalParseError(ValueError):
    """A value is not an acceptable decimal. ``str()`` is a fragment: "must be ..."."""


def parse_decimal(value: object) -> Decimal:
    """Parse a JSON number or decimal string into an exact, finite ``Decimal``.

    Accepts ``int``, ``float`` (via its shortest repr, i.e. what the JSON text said),
    ``Decimal`` and strings like ``"0.49"`` / ``"120"``. Rejects ``bool`` (a JSON
    ``true`` is not 1), NaN, infinities, empty or padded strings, exponent tricks that
    would blow up arithmetic, and any other type.
    """
    if isinstance(value, bool) or value is None:
        raise DecimalParseError("must be a decimal string or number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if abs(value) >= 10**_MAX_INTEGER_DIGITS:
            raise DecimalParseError("must be a decimal string or number of reasonable magnitude")
        result = Decimal(value)
    elif isinstance(value, float):
        result = _from_text(repr(value))
    elif isinstance(value, str):
        if not value or len(value) > _MAX_TEXT or value.strip() != value:
            raise DecimalParseError("must be a decimal string or number")
        result = _from_text(value)
    else:
        raise DecimalParseError("must be a decimal string or number")
    if not result.is_finite():
        raise DecimalParseError("must be a finite decimal (not NaN or infinity)")
    exponent = result.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if exponent < -_MAX_FRACTION_DIGITS or result.adjusted() >= _MAX_INTEGER_DIGITS:
        raise DecimalParseError("must be a decimal string or number of reasonable magnitude")
    return result


def _from_text(text: str) -> Decimal:
    # Decimal() also accepts "NaN", "Infinity", "1_000" and surrounding whitespace;
    # only plain JSON-style numerals are wanted here.
    if not all(c in "0123456789+-.eE" for c in text):
        raise DecimalParseError("must be a decimal string or number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise DecimalParseError("must be a decimal string or number") from None


def is_tick_size(tick: Decimal) -> bool:
    """True for the tick sizes the official client accepts (exact comparison)."""
    return any(tick == t for t in TICK_SIZES)


def _steps(price: Decimal, tick: Decimal) -> Decimal:
    """price / tick, exactly (enough precision for any parsed decimal)."""
    with localcontext() as ctx:
        ctx.prec = 80
        return _divide(price, tick)


def _divide(price: Decimal, tick: Decimal) -> Decimal:
    # In the caller's context: exact only inside one of the 80-digit contexts above and below.
    if tick <= 0:
        raise ValueError(f"tick size must be positive, got {tick}")
    return price / tick


def on_grid(price: Decimal, tick: Decimal) -> bool:
    """True if ``price`` is an exact multiple of ``tick`` (0.0050 is on the 0.0025 grid)."""
    steps = _steps(price, tick)
    return steps == steps.to_integral_value()


def round_to_tick(price: Decimal, tick: Decimal, direction: Direction) -> Decimal:
    """Round onto the tick grid, ``"down"`` (toward -inf) or ``"up"`` (toward +inf)."""
    rounding = ROUND_FLOOR if direction == "down" else ROUND_CEILING
    # One context for the division and the product (the planner calls this ~20 times a plan).
    with localcontext() as ctx:
        ctx.prec = 80
        steps = _divide(price, tick).to_integral_value(rounding=rounding)
        return _clean(steps * tick, tick)


def round_down(price: Decimal, tick: Decimal) -> Decimal:
    return round_to_tick(price, tick, "down")


def round_up(price: Decimal, tick: Decimal) -> Decimal:
    return round_to_tick(price, tick, "up")


def round_away(price: Decimal, reference: Decimal, tick: Decimal) -> Decimal:
    """Round onto the grid *away from* ``reference``: a bid below p goes down, an ask up.

    That is the conservative direction for a maker: the quote only ever gets wider than
    asked for, never tighter. A price equal to the reference is already "neither side";
    it rounds down (bid convention) if off the grid.
    """
    if price > reference:
        return round_up(price, tick)
    return round_down(price, tick)


def _clean(value: Decimal, tick: Decimal) -> Decimal:
    # Present grid prices with the tick's own exponent: 0.48, not 0.4800 or 48E-2.
    quantum = _grid_quantum(tick)
    return value.quantize(quantum) if quantum is not None else value


@lru_cache(maxsize=64)
def _grid_quantum(tick: Decimal) -> Decimal | None:
    """1E<exponent> of the normalised tick when it has decimals (ticks equal in value share one)."""
    exponent = tick.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(exponent) if exponent < 0 else None


def price_bounds(tick: Decimal) -> tuple[Decimal, Decimal]:
    """The prices the client accepts: ``tick <= price <= 1 - tick``."""
    return tick, ONE - tick


def price_in_range(price: Decimal, tick: Decimal) -> bool:
    low, high = price_bounds(tick)
    return low <= price <= high


def round_size_down(size: Decimal) -> Decimal:
    """Shares have at most two decimals; round down so we never over-commit."""
    if size <= 0:
        return ZERO.quantize(SIZE_QUANTUM)
    return size.quantize(SIZE_QUANTUM, rounding=ROUND_FLOOR)


def format_decimal(value: Decimal) -> str:
    """Normalised plain string: ``"15"`` not ``"1.5E+1"``, ``"0.5"`` not ``"0.50"``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def format_price(value: Decimal, tick: Decimal | None) -> str:
    """A price with the tick's decimals (``"0.50"`` on the 0.01 grid) for humans."""
    if tick is None or not on_grid(value, tick):
        return format_decimal(value)
    return format(_clean(value, tick), "f")
