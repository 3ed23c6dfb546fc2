"""The trade history: a ring buffer of the most recent trades with per-id and per-account indexes.

Memory stays bounded on long runs: once ``capacity`` trades are held, each new trade
evicts the oldest from the buffer and from both indexes (GET /data/trades and
/admin/state then no longer see it). ``total`` still counts every trade ever made.
Storage only: it never creates, settles or changes a trade.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice

from .model import Trade

DEFAULT_CAPACITY = 100_000


class TradeLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("trade history capacity must be at least 1")
        self.capacity = capacity
        self._ring: deque[Trade] = deque()
        self.by_id: dict[str, Trade] = {}
        self.by_account: dict[str, deque[Trade]] = {}
        self.total = 0

    def add(self, trade: Trade, accounts: set[str]) -> None:
        if len(self._ring) >= self.capacity:
            self._evict(self._ring.popleft())
        self._ring.append(trade)
        self.total += 1
        self.by_id[trade.id] = trade
        for acct in accounts:
            self.by_account.setdefault(acct, deque()).append(trade)

    def _evict(self, old: Trade) -> None:
        self.by_id.pop(old.id, None)
        for acct in {old.taker.owner, *(f.order.owner for f in old.makers)}:
            q = self.by_account.get(acct)
            if q and q[0] is old:  # trades enter in order, so the oldest sits at the left
                q.popleft()
                if not q:
                    del self.by_account[acct]

    def for_account(self, account: str) -> deque[Trade]:
        return self.by_account.get(account, deque())

    def recent(self, limit: int) -> list[Trade]:
        """The newest ``limit`` trades, oldest first."""
        if limit <= 0:
            return []
        newest_first = list(islice(reversed(self._ring), limit))
        newest_first.reverse()
        return newest_first

    def __len__(self) -> int:
        return len(self._ring)

    def __iter__(self) -> Iterator[Trade]:
        return iter(self._ring)

    def __reversed__(self) -> Iterator[Trade]:
        return reversed(self._ring)
