"""One token's order book as the market stream maintains it, and its verdict against REST.

The observed store keeps one per tracked token. It takes typed stream events (already
parsed and validated at the edge by ``controller.venue.wire_ws``) and REST books, counts
the stream's updates so that a resync can tell a frozen stream from a quiet market, and
freezes into the planner's immutable :class:`~controller.observe.state.Book`. Plain data:
no locking (the store holds the lock), no parsing, no decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from controller.observe.state import Book, Level
from controller.venue.wire_ws import LevelChange

Verdict = Literal["same", "raced", "missed"]


@dataclass
class StreamBook:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    # How many stream messages changed this book: lets a REST resync tell a frozen
    # stream (exchange changed, stream said nothing) from a quiet market.
    stream_updates: int = 0
    synced: bool = False
    # Since when the exchange's top of book (sent with each price change) has disagreed
    # with ours (None: it agrees). A few messages of one burst may each carry the top after
    # the whole burst, so only a disagreement that lasts is a lost message: ``gapped``.
    disagrees_since: float | None = None
    # A message was lost: plans wait until a REST book or a stream snapshot replaces it.
    gapped: bool = False
    # The frozen book, built once per change: trigger checks and snapshots read it on
    # every stream message, and sorting the levels each time was most of their cost.
    _frozen: Book | None = field(default=None, init=False, repr=False, compare=False)

    def freeze(self) -> Book:
        if self._frozen is None:
            self._frozen = Book(
                bids=tuple(Level(p, s) for p, s in sorted(self.bids.items(), reverse=True) if s > 0),
                asks=tuple(Level(p, s) for p, s in sorted(self.asks.items()) if s > 0),
            )
        return self._frozen

    def replace_with(self, book: Book) -> None:
        """Take a REST book as ours (not a stream update)."""
        self.bids = {lv.price: lv.size for lv in book.bids}
        self.asks = {lv.price: lv.size for lv in book.asks}
        self._frozen = None
        self.synced = True
        self.gapped, self.disagrees_since = False, None

    def apply_snapshot(self, book: Book) -> None:
        """A ``book`` event: the stream's full snapshot."""
        self.bids = {lv.price: lv.size for lv in book.bids}
        self.asks = {lv.price: lv.size for lv in book.asks}
        self._frozen = None
        self.stream_updates += 1
        self.gapped, self.disagrees_since = False, None

    def apply_change(self, change: LevelChange) -> None:
        """One level of a ``price_change``: its new total size (0 removes it)."""
        levels = self.bids if change.side == "BUY" else self.asks
        if change.size == 0:
            levels.pop(change.price, None)
        else:
            levels[change.price] = change.size
        self._frozen = None
        self.stream_updates += 1

    def best(self) -> tuple[Decimal | None, Decimal | None]:
        """The best bid and ask, as :meth:`freeze` would give them, without building the book.

        Every message of a burst checks the top; only the last one's trigger and the plan
        need the whole book, so the levels are sorted once per burst rather than per message."""
        if self._frozen is not None:
            return self._frozen.best_bid, self._frozen.best_ask
        bid = max((p for p, s in self.bids.items() if s > 0), default=None)
        ask = min((p for p, s in self.asks.items() if s > 0), default=None)
        return bid, ask

    def check_top(self, top: tuple[Decimal | None, Decimal | None], now: float) -> None:
        """Compare our best bid and ask with the exchange's after a price change."""
        if self.best() == top:
            self.disagrees_since = None
        elif self.disagrees_since is None:
            self.disagrees_since = now

    def verdict(self, book: Book, stream_updates_seen: int | None) -> Verdict:
        """Compare the exchange's book with ours.

        ``"same"``; ``"raced"`` (it differs, but the stream delivered updates since
        ``stream_updates_seen`` was read: it is alive); or ``"missed"`` (it differs and the
        stream said nothing since). A miss is only a suspicion: a change made while the
        REST answer was in flight shows there before its WebSocket message arrives; the
        caller confirms it later. With ``stream_updates_seen`` None (the first sync), before
        any sync, or with a known gap, the exchange's book is adopted outright.
        """
        if self.freeze() == book:
            self.synced, self.gapped, self.disagrees_since = True, False, None
            return "same"
        if stream_updates_seen is None or not self.synced or self.gapped:
            self.replace_with(book)
            return "same"
        if self.stream_updates != stream_updates_seen:
            return "raced"
        return "missed"
