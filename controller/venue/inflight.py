"""Venue requests in flight: start several from one thread, then collect each answer.

Exists so that one reconcile's cancels and places can be on the wire at the same time
without a thread per call: on the lean HTTP path (``fasthttp``) starting a request is a
``send`` on the caller's thread and collecting it reads the answer; without it (a client
that is not the official one, e.g. in tests) the call runs on the venue's pool. Either
way the answer is classified by ``rest.call``, the one set of outcome rules every venue
call follows (a failure after sending is an unknown outcome). Knows no endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.venue import rest

if TYPE_CHECKING:
    from controller.venue.client import Venue


class _Inline(Executor):
    """Runs the function at once on the caller's thread (the answer is already being read)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # classified by rest.call, like a pool call's failure
            future.set_exception(exc)
        return future


INLINE = _Inline()


@dataclass
class InFlight:
    endpoint: str
    wait: Callable[[], Any]


def start(venue: Venue, endpoint: str, method: str, path: str, body: str, fallback: Callable[[], Any]) -> InFlight:
    """Send ``body`` to ``path`` now (lean path) or submit ``fallback`` to the pool."""
    http = venue.http
    if http is not None:
        return InFlight(endpoint, http.begin(method, path, body).result)
    future = venue.pool.submit(fallback)
    deadline = venue.config.request_timeout + 1.0
    return InFlight(endpoint, lambda: future.result(timeout=deadline))


def finish(venue: Venue, flight: InFlight) -> Any:
    """The answer of a started request, or the ``VenueError`` it amounts to."""
    config = venue.config
    return rest.call(
        INLINE,
        flight.endpoint,
        flight.wait,
        (),
        config.request_timeout + 1.0,
        venue.on_request,
        config.error_body_chars,
    )
