"""Client-side rate budget mirroring the exchange's per-signer token buckets.

The exchange admits a batch whole or not at all against an order bucket and a cancel
bucket; these buckets do the same locally and follow the ``Poly-RateLimit-*`` headers
the exchange sends back. Pure bookkeeping with an injectable clock: no I/O.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from controller.venue.errors import RateLimited


class _BudgetConfig(Protocol):
    @property
    def order_rate(self) -> float: ...
    @property
    def order_burst(self) -> float: ...
    @property
    def cancel_rate(self) -> float: ...
    @property
    def cancel_burst(self) -> float: ...


class TokenBucket:
    """A token bucket that admits a batch whole or not at all."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._stamp = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self, n: float) -> float:
        """Take ``n`` tokens and return 0, or take nothing and return the seconds to wait."""
        if n > self.burst:
            raise ValueError(f"a batch of {n} can never fit a burst of {self.burst}")
        with self._lock:
            now = self._clock()
            self._refill(now)
            if now < self._blocked_until:
                return self._blocked_until - now
            if self._tokens >= n:
                self._tokens -= n
                return 0.0
            return (n - self._tokens) / self.rate

    def available(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def observe_server(self, remaining: float | None, retry_after: float | None = None) -> None:
        """Follow the exchange's view: never believe we have more than it says."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if remaining is not None:
                self._tokens = max(0.0, min(self._tokens, remaining))
            if retry_after is not None and retry_after > 0:
                self._blocked_until = max(self._blocked_until, now + retry_after)
                self._tokens = 0.0


class RateBudget:
    """The order and cancel buckets of one signer."""

    def __init__(self, config: _BudgetConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.orders = TokenBucket(config.order_rate, config.order_burst, clock)
        self.cancels = TokenBucket(config.cancel_rate, config.cancel_burst, clock)
        self._sleep = time.sleep

    def acquire(self, bucket: TokenBucket, n: int, max_wait: float) -> None:
        deadline = time.monotonic() + max_wait
        while True:
            wait = bucket.try_take(n)
            if wait == 0:
                return
            if time.monotonic() + wait > deadline:
                raise RateLimited(f"rate budget exhausted for a batch of {n}", wait)
            self._sleep(wait)

    def observe_headers(self, method: str, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Follow the ``Poly-RateLimit-*`` and ``Retry-After`` headers of an order or cancel answer."""
        if method == "POST" and path in ("/order", "/orders"):
            bucket = self.orders
        elif method == "DELETE" and path in ("/order", "/orders", "/cancel-all", "/cancel-market-orders"):
            bucket = self.cancels
        else:
            return
        remaining = _float_or_none(headers.get("Poly-RateLimit-Remaining"))
        retry_after = _float_or_none(headers.get("Retry-After")) if status == 429 else None
        if status == 429 and retry_after is None:
            reset = _float_or_none(headers.get("Poly-RateLimit-Reset"))
            retry_after = max(0.5, reset - time.time()) if reset else 1.0
        bucket.observe_server(remaining, retry_after)

    def largest_batch(self, bucket: TokenBucket, cap: int) -> int:
        """The biggest batch (at most ``cap``) that can ever fit ``bucket``'s burst."""
        return max(1, min(cap, int(bucket.burst)))


def _float_or_none(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if result == result and abs(result) != float("inf") else None  # no NaN, no inf
