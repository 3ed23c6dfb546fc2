"""Stable codes for every decision the planner takes (the contract; the wording is not).

Each plan item carries one of these codes as ``reason`` and a human ``detail`` text
(``controller.plan.messages``). Code downstream (metrics, status conditions, logs,
tests) branches on the code, never on the text: a message may be reworded at any time,
a code only with a changelog entry. Codes are CamelCase, as Kubernetes condition
reasons are, and serialise as themselves (``StrEnum``). What each one means:
``docs/bands.md`` ("Reason codes"). Nothing here decides anything.
"""

from __future__ import annotations

import re
from enum import StrEnum


class CancelReason(StrEnum):
    """Why an order of the controller's is cancelled."""

    OUTSIDE_BANDS = "OutsideBands"  # its price is in no band of its side
    OVER_MAX_AMOUNT = "OverMaxAmount"  # its band holds more than maxAmount
    TOKEN_NOT_IN_MARKET = "TokenNotInMarket"  # neither the YES nor the NO token of the spec
    PAUSED = "Paused"  # the market is pulled, for one of these reasons ...
    OUTSIDE_SCHEDULE = "OutsideSchedule"
    MARKET_NOT_IN_STATE = "MarketNotInState"
    STALE_MARKET_DATA = "StaleMarketData"
    NO_REFERENCE_PRICE = "NoReferencePrice"
    HALTED = "Halted"
    LOSS_LIMIT = "LossLimit"
    SHARP_MOVE = "SharpMove"
    END_OF_MARKET = "EndOfMarket"
    BELOW_REWARDS_MIN_SIZE = "BelowRewardsMinSize"  # rewards fit: too small to score
    REWARDS_ONE_SIDED = "RewardsOneSided"  # the market is pulled: rewards fit, one side only


class PullReason(StrEnum):
    """Why a market quotes nothing (``MarketPlan.pull_reason``)."""

    PAUSED = "Paused"
    OUTSIDE_SCHEDULE = "OutsideSchedule"
    MARKET_NOT_IN_STATE = "MarketNotInState"
    STALE_MARKET_DATA = "StaleMarketData"
    NO_REFERENCE_PRICE = "NoReferencePrice"
    ALREADY_MANAGED = "AlreadyManaged"  # a second spec for the same market: ignored, nothing cancelled
    HALTED = "Halted"  # an operator's kill switch (bandctl halt), until bandctl resume
    LOSS_LIMIT = "LossLimit"  # risk.maxLoss (or the account's) breached, until bandctl resume
    SHARP_MOVE = "SharpMove"  # risk.pullOnMove: the reference moved too far too fast; for pauseFor
    END_OF_MARKET = "EndOfMarket"  # risk.stopBefore: too close to the market's end
    REWARDS_ONE_SIDED = "RewardsOneSided"  # rewards fit outside [0.10, 0.90]: both sides or none


class PlaceReason(StrEnum):
    """Why an order is placed."""

    BELOW_MIN_AMOUNT = "BelowMinAmount"  # its band held less than minAmount; refilled towards avgAmount


class KeepReason(StrEnum):
    """Why an open order is left in place."""

    IN_BAND = "InBand"  # the controller's, accounted for by a band within its maxAmount
    FOREIGN = "Foreign"  # not the controller's (ownership: shared): never touched, never counted


class AdjustReason(StrEnum):
    """Why the reference price the bands are placed around differs from the book's."""

    INVENTORY_SKEW = "InventorySkew"  # risk.skew: moved against the position, adding side shrunk


class WarningReason(StrEnum):
    """Why a band is left short (or a setting ignored); never a change by itself."""

    NO_PRICE_IN_BAND = "NoPriceInBand"  # no tick-grid price inside the band that does not cross
    MAX_POSITION = "MaxPosition"  # limits.maxPosition leaves no room on this side
    BELOW_MIN_ORDER_SIZE = "BelowMinOrderSize"  # the shortfall is under the minimum order size
    INSUFFICIENT_BALANCE = "InsufficientBalance"  # not enough free collateral / inventory
    MAX_COLLATERAL = "MaxCollateral"  # limits.maxCollateral leaves no room for a BUY
    SIZE_CAPPED = "SizeCapped"  # placed, but less than the target (balance or limits)
    TICK_SIZE_NOT_ON_GRID = "TickSizeNotOnGrid"  # spec tickSize ignored: not on the market's grid
    REDUCE_ONLY = "ReduceOnly"  # risk.reduceOnlyBefore: near the end only the side that reduces the position
    REWARDS_BAND_UNFIT = "RewardsBandUnfit"  # rewards fit: the band cannot score, nothing placed in it
    REWARDS_NOT_SCORING = "RewardsNotScoring"  # rewards fit: the placement would not score where the midpoint ends up


Reason = CancelReason | PullReason | PlaceReason | KeepReason | AdjustReason | WarningReason

# A pulled market cancels the controller's orders with the same code.
PULL_CANCEL_REASONS: dict[PullReason, CancelReason] = {
    PullReason.PAUSED: CancelReason.PAUSED,
    PullReason.OUTSIDE_SCHEDULE: CancelReason.OUTSIDE_SCHEDULE,
    PullReason.MARKET_NOT_IN_STATE: CancelReason.MARKET_NOT_IN_STATE,
    PullReason.STALE_MARKET_DATA: CancelReason.STALE_MARKET_DATA,
    PullReason.NO_REFERENCE_PRICE: CancelReason.NO_REFERENCE_PRICE,
    PullReason.REWARDS_ONE_SIDED: CancelReason.REWARDS_ONE_SIDED,
    PullReason.HALTED: CancelReason.HALTED,
    PullReason.LOSS_LIMIT: CancelReason.LOSS_LIMIT,
    PullReason.SHARP_MOVE: CancelReason.SHARP_MOVE,
    PullReason.END_OF_MARKET: CancelReason.END_OF_MARKET,
}

# Metric label values that predate the codes, kept so dashboards and alerts keep working.
_LEGACY_METRIC_LABELS: dict[str, str] = {
    "OutsideBands": "outside_band",
    "OverMaxAmount": "over_max",
    "TokenNotInMarket": "foreign_token",
    "MarketNotInState": "market_unavailable",
    "BelowMinOrderSize": "min_size",
}
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def metric_label(reason: Reason) -> str:
    """The Prometheus label value for a code: ``snake_case`` (``"NoReferencePrice"`` ->
    ``"no_reference_price"``), except the few labels that existed before the codes."""
    code = str(reason)
    return _LEGACY_METRIC_LABELS.get(code) or _WORD_BOUNDARY.sub("_", code).lower()


def metric_labels(kind: type[Reason]) -> tuple[str, ...]:
    """Every label value of one kind of reason, e.g. to pre-register the series at zero."""
    return tuple(dict.fromkeys(metric_label(member) for member in kind))
