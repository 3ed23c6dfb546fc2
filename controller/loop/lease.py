"""One controller per account: refuse to start while another process holds the heartbeat.

Two controllers on one account would fight over one book, each cancelling what the
other places. The exchange's heartbeat chain already says whether someone is alive on
the account, so it serves as the lease (no extra service, and it works across machines
and pods where a file lock would not): read the id the chain expects, wait a little
longer than a heartbeat interval, read it again. A chain that moved has a live holder:
refuse. A chain that stood still belongs to a process that died (a pod restart inside
the exchange's deadline): take it over, so its orders are adopted, not cancelled by the
dead man's switch. No chain at all: start one.

It reads the chain and decides; it cancels or places nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from controller.venue.client import Venue, VenueError

log = logging.getLogger("bandctl")


class AccountInUse(VenueError):
    """Another live process heartbeats for this account."""


def claim_heartbeat_chain(venue: Venue, wait: float, sleep: Callable[[float], None] = time.sleep) -> None:
    first = venue.heartbeat_chain()
    if first is None:
        return
    log.info("the account's heartbeat chain is live; checking for %.1fs whether another controller holds it", wait)
    sleep(wait)
    second = venue.heartbeat_chain()
    if second is None:
        return
    if second != first:
        raise AccountInUse(
            "another process is heartbeating for this account (its heartbeat chain advanced while we watched): "
            "refusing to start, so that two controllers never fight over one book; stop the other one first"
        )
    log.info("the previous holder of the heartbeat chain is silent: taking it over (its orders are adopted)")
    venue.continue_heartbeat_chain(second)
