"""The exchange heartbeat on the wire: beating, re-chaining, and reading whose chain it is.

Polymarket chains heartbeats: each one echoes the id the previous answer returned, and
a wrong id is answered 400 naming the id expected, without changing anything. That
answer is also how a starting controller learns whether another process is beating
for the same account. When to beat, and what to conclude, is the loop's business.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from controller.venue import clob_adapter as clob
from controller.venue.wire import heartbeat_expected_id, parse_heartbeat

if TYPE_CHECKING:
    from controller.venue.client import Venue


# How long a beat waits for its answer: the exchange counts a beat when it arrives, so a
# late answer still carries the id the next beat must echo. Giving up sooner would lose the
# chain while every beat still counted. Below the exchange's 10 s deadline, so that a beat
# that never comes back leaves time to retry.
ANSWER_SECONDS = 9.0


def beat(venue: Venue) -> str:
    """Post one heartbeat; on an id mismatch, re-chain with the id the exchange expects.

    A 400 that names no id means the chain has ended (the dead man's switch fired, or the
    exchange restarted): a new one starts with the empty id, as the first beat does.
    """

    def post() -> Any:
        with clob.http_timeout(ANSWER_SECONDS):
            try:
                return venue.client.post_heartbeat(venue._heartbeat_id)
            except clob.PolyApiException as exc:
                if exc.status_code != 400:
                    raise
                return venue.client.post_heartbeat(heartbeat_expected_id(exc.error_msg) or "")

    venue._heartbeat_id = parse_heartbeat(venue._call("heartbeat", post, timeout=2 * ANSWER_SECONDS + 0.5))
    return venue._heartbeat_id


def chain(venue: Venue) -> str | None:
    """The id the chain expects next (None: no live chain), by posting one that cannot match."""

    def probe() -> Any:
        try:
            return venue.client.post_heartbeat(f"bandctl-probe-{time.monotonic_ns()}")
        except clob.PolyApiException as exc:
            if exc.status_code == 400:
                return {"expected": heartbeat_expected_id(exc.error_msg)}
            raise

    raw = venue._call("heartbeat", probe)
    if isinstance(raw, Mapping) and "expected" in raw:
        expected = raw["expected"]
        return expected if isinstance(expected, str) else None
    # The exchange took the probe as the start of a chain: it is ours now.
    venue._heartbeat_id = parse_heartbeat(raw)
    return None
