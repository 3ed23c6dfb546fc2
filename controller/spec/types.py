"""Typed, validated desired state: what one ``MarketMaker`` manifest asks for.

These are the planner's inputs. They are produced only by ``controller.spec.manifest``
(which validates first), so every invariant documented here can be relied upon. The
meaning of each field, as users read it, is in the descriptions of
``schemas/marketmaker.schema.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

Outcome = Literal["yes", "no"]
ReferenceSource = Literal["midpoint", "microprice", "last_trade"]
OrderType = Literal["GTC", "GTD"]
# Who owns the open orders in a managed market. "exclusive" (the default): every open order
# of the account there is the controller's, adopted when a band accounts for it and
# cancelled when none does. "shared": only orders this controller can prove it placed.
Ownership = Literal["exclusive", "shared"]
# "fit": adjust placements (inside each band and the limits) to score liquidity rewards;
# "ignore" (the default): quote the bands as written.
RewardsMode = Literal["fit", "ignore"]


@dataclass(frozen=True)
class Band:
    """One quote band, in poly-market-maker's ``bands.json`` terms.

    Margins are price distances from the reference price (0 <= min <= avg < max < 1;
    avg == min is allowed as in poly-market-maker's own config, see controller.spec.rules);
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
class Skew:
    """Shift the reference price against the position: ``max_ticks`` ticks at ``limits.max_position``.

    The shift is proportional to net position / max_position (down when long, up when
    short), capped at ``max_ticks``. Only present when ``limits.max_position`` is set.
    """

    max_ticks: int  # >= 1


@dataclass(frozen=True)
class MaxLoss:
    """Pull all quotes while the loss over the trailing ``window`` exceeds ``amount`` (collateral)."""

    amount: Decimal  # > 0
    window: timedelta  # whole seconds, 0 < window <= 365 days


@dataclass(frozen=True)
class PullOnMove:
    """When the reference moves by ``move`` or more within ``within``, pull quotes for ``pause_for``."""

    move: Decimal  # 0 < move < 1, a price distance
    within: timedelta  # whole seconds, 0 < within <= 365 days
    pause_for: timedelta  # whole seconds, 0 < pause_for <= 365 days


@dataclass(frozen=True)
class Risk:
    """``spec.risk``: protections applied to what the bands produce; each is off when None.

    Times are measured back from the market's close: the earlier of ``schedule.not_after``
    and the end time the exchange reports for the market (game start for sports markets).
    Invariant: ``reduce_only_before >= stop_before`` when both are set.
    """

    skew: Skew | None = None
    max_loss: MaxLoss | None = None
    pull_on_move: PullOnMove | None = None
    # Cancel everything and place nothing from this long before the close.
    stop_before: timedelta | None = None
    # Place only orders that reduce the position from this long before the close.
    reduce_only_before: timedelta | None = None


@dataclass(frozen=True)
class Rewards:
    """``spec.rewards``: whether placements are fitted to the market's liquidity-rewards program."""

    mode: RewardsMode = "ignore"


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
    risk: Risk = field(default_factory=Risk)
    rewards: Rewards = field(default_factory=Rewards)
    orders: OrderSettings = field(default_factory=OrderSettings)
    schedule: Schedule = field(default_factory=Schedule)
    paused: bool = False
    ownership: Ownership = "exclusive"
    labels: tuple[tuple[str, str], ...] = ()
    source: Source | None = field(default=None, compare=False)
