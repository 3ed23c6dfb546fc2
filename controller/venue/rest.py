"""One REST call of the official client, run with a deadline and classified without guessing.

Exists so that every venue request has the same outcome rules: a definitive answer
is returned or raised as :class:`VenueError`; a timeout, a 5xx or a transport error
is :class:`Ambiguous` (the order may or may not exist); a 429 is :class:`RateLimited`.
Error messages are one line, cut short and scrubbed of secrets. Knows no endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from controller.venue import clob_adapter as clob
from controller.venue.errors import Ambiguous, ExchangeUnavailable, NotFound, RateLimited, VenueError

RequestObserver = Callable[[str, float, int | str], None]  # (endpoint, seconds, HTTP status or a word)


def call(
    pool: Executor,
    endpoint: str,
    fn: Callable[..., Any],
    args: Sequence[Any],
    timeout: float,
    on_request: RequestObserver | None,
    error_chars: int = 300,
) -> Any:
    started = time.perf_counter()
    outcome: int | str = 200  # the HTTP status, or a word when none came back
    future = pool.submit(fn, *args)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        outcome = "timeout"
        raise Ambiguous(f"{endpoint}: no answer in time") from None
    except clob.PolyApiException as exc:
        status = exc.status_code
        outcome = status or "transport"
        text = clob.error_text(exc, error_chars)
        if status == 425:
            raise ExchangeUnavailable(f"{endpoint}: the matching engine is restarting: {text}", 1.0) from None
        if status == 503 and clob.error_code(exc) == "post_only_mode":
            raise ExchangeUnavailable(f"{endpoint}: post-only mode: {text}", 1.0, post_only=True) from None
        if status is None or status >= 500:
            raise Ambiguous(f"{endpoint}: {status or 'transport error'}: {text}") from None
        if status == 404:
            raise NotFound(f"{endpoint}: HTTP 404: {text}") from None
        if status == 429:
            raise RateLimited(f"{endpoint}: rate limited by the exchange: {text}", 1.0) from None
        raise VenueError(f"{endpoint}: HTTP {status}: {text}") from None
    except clob.PolyException as exc:
        outcome = "client"
        raise VenueError(f"{endpoint}: {clob.error_text(exc, error_chars)}") from None
    except VenueError:
        outcome = "error"
        raise
    except Exception as exc:  # a library bug must not look like success
        outcome = "exception"
        raise Ambiguous(f"{endpoint}: {type(exc).__name__}: {clob.error_text(exc, error_chars)}") from None
    finally:
        if on_request is not None:
            on_request(endpoint, time.perf_counter() - started, outcome)
