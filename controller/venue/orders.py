"""What a caller asks of the venue and what it answers: order requests and results.

Plain frozen values shared by the venue and its callers (the reconciler). Carries no
I/O and no exchange-client types; the exchange's own wire shapes live in ``wire``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from controller.venue.errors import VenueError


class PlaceProblem(enum.Enum):
    """Why an order was not placed (or its outcome is unknown): a code, not wording."""

    REJECTED = "rejected"  # the exchange said no (see the error text)
    OFF_GRID = "off_grid"  # price not on the market's (refreshed) tick grid
    BELOW_MIN_SIZE = "below_min_size"
    VERSION_MISMATCH = "version_mismatch"
    RATE_LIMITED = "rate_limited"
    INVALID_REQUEST = "invalid_request"  # could not be signed as asked
    ID_MISMATCH = "id_mismatch"  # accepted under an id that is not the signed order's hash
    NO_ANSWER = "no_answer"  # the batch answer had no item for it
    UNKNOWN_OUTCOME = "unknown_outcome"  # timeout, 5xx, transport error
    EXCHANGE_UNAVAILABLE = "exchange_unavailable"  # 425: the matching engine is restarting
    POST_ONLY_MODE = "post_only_mode"  # after a restart, only post-only orders are accepted
    MARKET_CLOSED = "market_closed"  # the market no longer accepts orders (resolved, closed)


class SignRefused(VenueError):
    """An order could not be signed as asked; ``problem`` says why."""

    def __init__(self, problem: PlaceProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Price:
    bid: Decimal | None
    ask: Decimal | None

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid


@dataclass(frozen=True)
class OrderRequest:
    token_id: str
    side: Literal["BUY", "SELL"]
    price: Decimal
    size: Decimal
    order_type: Literal["GTC", "GTD"] = "GTC"
    post_only: bool = True
    expiration: int = 0  # unix seconds, GTD only
    tick_size: Decimal | None = None  # known from the market; saves a REST call
    neg_risk: bool | None = None


@dataclass(frozen=True)
class PlaceResult:
    request: OrderRequest
    order_id: str | None  # the exchange's id, or the locally computed hash when ambiguous
    status: str = ""  # live, matched, delayed, unmatched ("" when not placed)
    error: str = ""
    ambiguous: bool = False
    problem: PlaceProblem | None = None
    exchange_id: str = ""  # the id the exchange answered, when it differs from ``order_id``

    @property
    def placed(self) -> bool:
        return bool(self.order_id) and not self.error and not self.ambiguous


@dataclass(frozen=True)
class CancelResult:
    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = field(default_factory=dict)  # id -> the exchange's reason
    ambiguous: tuple[str, ...] = ()

    @property
    def gone(self) -> tuple[str, ...]:
        """Ids no longer open: cancelled now, or already filled/cancelled before."""
        return self.canceled + tuple(i for i, why in self.not_canceled.items() if _already_gone(why))

    @property
    def failed(self) -> dict[str, str]:
        """Ids the exchange refused to cancel although they may still be open."""
        return {i: why for i, why in self.not_canceled.items() if not _already_gone(why)}


def _already_gone(reason: str) -> bool:
    # The exchange answers "Order not found or already canceled" for both cases.
    text = reason.lower()
    return "not found" in text or "already canceled" in text or "already cancelled" in text
