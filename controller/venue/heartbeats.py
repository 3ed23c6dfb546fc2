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


def beat(venue: Venue) -> str:
    """Post one heartbeat; on an id mismatch, re-chain with the id the exchange expects."""

    def post() -> Any:
        try:
            return venue.client.post_heartbeat(venue._heartbeat_id)
        except clob.PolyApiException as exc:
            expected = heartbeat_expected_id(exc.error_msg)
            if exc.status_code == 400 and expected is not None:
                return venue.client.post_heartbeat(expected)
            raise

    venue._heartbeat_id = parse_heartbeat(venue._call("heartbeat", post))
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
