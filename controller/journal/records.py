"""The journal's row types: one fill of ours, one order action, one mid sample.

A *fill* is our side of one trade: the exchange's trade id plus the id of *our* order
in it (a trade can hold several of our orders, and a self-trade holds one as taker and
one as maker), with our side, token, price, size and fee. That pair is the key that
makes a trade count once however often it is seen. Plain frozen values; no parsing
(``convert`` does that) and no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

Side = Literal["BUY", "SELL"]


class Role(enum.StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class TradeStatus(enum.StrEnum):
    """Settlement states as the exchange reports them (REST's ``TRADE_STATUS_`` prefix removed)."""

    MATCHED = "MATCHED"
    MATCHED_NOT_BROADCASTED = "MATCHED_NOT_BROADCASTED"
    MINED = "MINED"
    RETRYING = "RETRYING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (TradeStatus.CONFIRMED, TradeStatus.FAILED)


# How far along settlement a status is: a later sighting never moves a fill backwards
# (a REST page can be older than the WebSocket event that came before it).
_PROGRESS = {
    TradeStatus.MATCHED: 0,
    TradeStatus.MATCHED_NOT_BROADCASTED: 0,
    TradeStatus.MINED: 1,
    TradeStatus.RETRYING: 1,  # a reorg after MINED: same stage, the newer word wins
    TradeStatus.CONFIRMED: 2,
    TradeStatus.FAILED: 2,
}


def merge_status(old: TradeStatus, new: TradeStatus) -> TradeStatus:
    """The status a fill has after seeing ``new`` when it had ``old``: terminal states stick."""
    if old.terminal:
        return old
    return new if _PROGRESS[new] >= _PROGRESS[old] else old


class Source(enum.StrEnum):
    WEBSOCKET = "ws"
    REST = "rest"


class Action(enum.StrEnum):
    PLACE = "place"
    CANCEL = "cancel"
    REJECT = "reject"


@dataclass(frozen=True)
class TradeRecord:
    """Our side of one trade, as seen once (WebSocket event or REST row)."""

    trade_id: str
    order_id: str  # our order in the trade
    role: Role
    condition_id: str
    token_id: str  # the token our order traded
    outcome: str  # the token's outcome label ("Yes", "No", ...), "" when not given
    side: Side  # our side
    price: Decimal  # our token's price
    size: Decimal  # shares
    fee: Decimal  # collateral we paid (makers pay none)
    status: TradeStatus
    match_time: float | None  # exchange, epoch seconds
    event_time: float | None  # exchange time of this sighting (WS timestamp or last_update)
    seen_at: float  # local clock when this sighting was parsed
    source: Source
    transaction_hash: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.trade_id, self.order_id)

    @property
    def fill_time(self) -> float:
        """When the fill happened, as precisely as this sighting knows it."""
        if self.match_time is not None:
            # REST match times are whole seconds; a WebSocket timestamp of the same second is finer.
            if self.event_time is not None and 0 <= self.event_time - self.match_time < 1:
                return self.event_time
            return self.match_time
        return self.event_time if self.event_time is not None else self.seen_at

    @property
    def notional(self) -> Decimal:
        return self.price * self.size

    def with_status(self, status: TradeStatus) -> TradeRecord:
        return replace(self, status=status)


@dataclass(frozen=True)
class ActionRecord:
    """One order action of the controller: placed, cancelled or rejected, with its reason code."""

    name: str  # the manifest's metadata.name
    condition_id: str
    action: Action
    order_id: str
    token_id: str
    side: str
    price: Decimal | None
    size: Decimal | None
    reason_code: str
    message: str
    at: float


@dataclass(frozen=True)
class MidSample:
    condition_id: str
    token_id: str
    mid: Decimal
    at: float


@dataclass(frozen=True)
class MarketRecord:
    """Which outcome a market quotes, so positions net YES and NO the same way the bands do."""

    name: str
    condition_id: str
    quoted_token: str
    other_token: str


@dataclass(frozen=True)
class Fill:
    """A journaled fill as read back: the merged record plus when it was first and last written."""

    record: TradeRecord
    first_seen_at: float
    updated_at: float
    fill_time: float  # the best-known time of the fill (see ``TradeRecord.fill_time``)

    @property
    def failed(self) -> bool:
        return self.record.status is TradeStatus.FAILED


@dataclass(frozen=True)
class MidPrune:
    """Forget mids older than ``before`` except those a markout can need (near a fill)."""

    before: float
