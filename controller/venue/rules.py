"""The exchange's market rules (tick size, minimum size, neg-risk) as last read from REST.

Polymarket changes tick sizes on the fly and the official client caches them forever.
This book of rules is the authority the venue signs with: it is filled only from
``GET /clob-markets/{condition_id}`` answers (validated by ``wire``), never from a
stream's word, and says when a read changed anything. No I/O of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from controller.venue.wire import MarketInfo

log = logging.getLogger("bandctl.venue")


class MarketRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, MarketInfo] = {}
        self._token_market: dict[str, str] = {}
        # Called (on a venue thread) when a REST read shows a market's rules changed.
        self.on_change: Callable[[MarketInfo], None] | None = None

    def learn(self, info: MarketInfo) -> bool:
        """Record a REST read; True (and ``on_change``) if it differs from the last one."""
        with self._lock:
            known = self._rules.get(info.condition_id)
            self._rules[info.condition_id] = info
            for token in info.token_ids:
                self._token_market[token] = info.condition_id
        if known is None or _essence(known) == _essence(info):
            return False
        log.info(
            "market %s: rules changed: tick %s -> %s, minimum size %s -> %s, neg-risk %s -> %s",
            info.condition_id[:10],
            known.tick_size,
            info.tick_size,
            known.min_order_size,
            info.min_order_size,
            known.neg_risk,
            info.neg_risk,
        )
        if self.on_change is not None:
            try:
                self.on_change(info)
            except Exception:
                log.exception("rules handler failed")
        return True

    def of_token(self, token_id: str) -> MarketInfo | None:
        with self._lock:
            condition_id = self._token_market.get(token_id)
            return self._rules.get(condition_id) if condition_id is not None else None

    def of_market(self, condition_id: str) -> MarketInfo | None:
        with self._lock:
            return self._rules.get(condition_id)

    def markets_of(self, token_ids: Iterable[str]) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(self._token_market[t] for t in token_ids if t in self._token_market))


def _essence(info: MarketInfo) -> tuple[object, ...]:
    return (info.tick_size, info.min_order_size, info.neg_risk, info.accepting_orders)
