"""Per-signer token buckets for the trading endpoints (Polymarket's layer-2 limits).

Two buckets per signer address: orders (POST /order costs 1, POST /orders costs the
number of orders) and cancels. A request is admitted whole or rejected whole. The
clock is separate from the engine's so a manual engine clock does not freeze the buckets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import Bucket, RateLimitConfig


@dataclass(slots=True)
class Decision:
    allowed: bool
    remaining: int
    reset: int  # unix seconds at which the bucket is full again
    retry_after: float  # seconds until the request would be admitted (0 if allowed)


class TokenBucket:
    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, bucket: Bucket, now: float) -> None:
        self.rate = bucket.rate
        self.burst = bucket.burst
        self.tokens = float(bucket.burst)
        self.updated = now

    def take(self, cost: float, now: float, *, allow_negative: bool = False) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost <= self.tokens + 1e-9 or allow_negative:  # float refill drift
            self.tokens -= cost
            return True
        return False


class RateLimiter:
    def __init__(
        self,
        config: RateLimitConfig,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.enabled = config.enabled
        self.clock = clock
        self.wall = wall
        self.buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, kind: str, signer: str, cost: float, *, allow_negative: bool = False) -> Decision:
        """``kind`` is "orders" or "cancels"; ``signer`` the lower-case signer address."""
        spec: Bucket = getattr(self.config, kind)
        now = self.clock()
        bucket = self.buckets.get((kind, signer))
        if bucket is None:
            bucket = self.buckets[(kind, signer)] = TokenBucket(spec, now)
        allowed = not self.enabled or bucket.take(cost, now, allow_negative=allow_negative)
        missing = max(0.0, cost - bucket.tokens) if not allowed else 0.0
        reset = math.ceil(self.wall() + max(0.0, bucket.burst - bucket.tokens) / bucket.rate)
        return Decision(allowed, max(0, math.floor(bucket.tokens)), reset, missing / bucket.rate)

    def charge(self, kind: str, signer: str, cost: float) -> None:
        """Extra cost after the fact (cancel-all: 1 + #cancelled); may drive the bucket negative."""
        if self.enabled and cost > 0:
            self.take(kind, signer, cost, allow_negative=True)
