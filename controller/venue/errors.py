"""The venue's error types: what a caller can tell apart without reading any message.

Exists so that every venue module (config, adapter, parsing, client) raises the same
classes. Holds no logic and may not import the exchange client.
"""

from __future__ import annotations


class VenueError(Exception):
    """A venue call failed definitively (the message is safe to log)."""


class ConfigError(VenueError):
    """Credentials or endpoints are missing or malformed."""


class NotFound(VenueError):
    """The exchange answered 404: what was asked for does not exist (any more)."""


class RateLimited(VenueError):
    """The client-side budget (or the exchange) refused the call; retry after ``retry_after``."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Ambiguous(VenueError):
    """The outcome is unknown (timeout, 5xx, transport error): re-read before acting again."""


class ExchangeUnavailable(VenueError):
    """The exchange is not taking this kind of request for a while (HTTP 425 while its
    matching engine restarts): nothing happened; retry after ``retry_after`` seconds.
    Not a failure of ours, so callers should not count it towards backoff."""

    def __init__(self, message: str, retry_after: float, *, post_only: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # True in the window after a restart when only post-only orders are accepted.
        self.post_only = post_only
