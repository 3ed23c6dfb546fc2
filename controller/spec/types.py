"""Typed, validated desired state: what one ``MarketMaker`` manifest asks for.

These are the planner's inputs. They are produced only by ``controller.spec.manifest``
(which validates first), so every invariant documented here can be relied upon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Outcome = Literal["yes", "no"]
ReferenceSource = Literal["midpoint", "microprice", "last_trade"]
OrderType = Literal["GTC", "GTD"]
# Who owns the open orders in a managed market. "exclusive" (the default): every open order
# of the account there is the controller's, adopted when a band accounts for it and
# cancelled when none does. "shared": only orders this controller can prove it placed.
Ownership = Literal["exclusive", "shared"]


@dataclass(frozen=True)
class Band:
    """One quote band, in poly-market-maker's ``bands.json`` terms.

    Margins are price distances from the reference price (0 <= min <= avg < max < 1;
    avg == min is allowed as in poly-market-maker's own config, see controller.spec.manifest);
    amounts are outcome shares (0 <= min <= avg <= max, max > 0).
    """

    min_margin: Decimal
    avg_margin: Decimal
    max_margin: Decimal
    min_amount: Decimal
    avg_amount: Decimal
    max_amount: Decimal


@dataclass(frozen=True)
class MarketRef:
    condition_id: str
    yes_token: str
    no_token: str
    quote: Outcome = "yes"
    tick_size: Decimal | None = None
    min_order_size: Decimal | None = None

    @property
    def quoted_token(self) -> str:
        return self.yes_token if self.quote == "yes" else self.no_token

    @property
    def complement_token(self) -> str:
        return self.no_token if self.quote == "yes" else self.yes_token


@dataclass(frozen=True)
class ReferencePrice:
    source: ReferenceSource = "midpoint"
    # Wider than this (or a side empty) means there is no reference price: pull all quotes.
    max_spread: Decimal = Decimal("0.1")


@dataclass(frozen=True)
class Limits:
    # Net shares of the quoted outcome (quoted minus complement), both long and short.
    max_position: Decimal | None = None
    # Collateral committed to open BUY orders of this market.
    max_collateral: Decimal | None = None


@dataclass(frozen=True)
class OrderSettings:
    type: OrderType = "GTC"
    ttl_seconds: int | None = None
    post_only: bool = True


@dataclass(frozen=True)
class Schedule:
    not_before: datetime | None = None
    not_after: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        if self.not_before is not None and now < self.not_before:
            return False
        return not (self.not_after is not None and now >= self.not_after)


@dataclass(frozen=True)
class Source:
    """Where a spec came from, for error messages: ``file[index]``."""

    file: str
    index: int

    def __str__(self) -> str:
        return f"{self.file}[{self.index}]"


@dataclass(frozen=True)
class MarketMakerSpec:
    name: str
    market: MarketRef
    bands: tuple[Band, ...]
    reference_price: ReferencePrice = field(default_factory=ReferencePrice)
    limits: Limits = field(default_factory=Limits)
    orders: OrderSettings = field(default_factory=OrderSettings)
    schedule: Schedule = field(default_factory=Schedule)
    paused: bool = False
    ownership: Ownership = "exclusive"
    labels: tuple[tuple[str, str], ...] = ()
    source: Source | None = field(default=None, compare=False)
