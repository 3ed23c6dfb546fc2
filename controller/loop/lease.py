"""One controller per account: refuse to start while another process holds the heartbeat.

Two controllers on one account would fight over one book, each cancelling what the
other places. The exchange's heartbeat chain already says whether someone is alive on
the account, so it serves as the lease (no extra service, and it works across machines
and pods where a file lock would not): read the id the chain expects, wait a little
longer than a heartbeat interval, read it again. A chain that moved has a live holder:
refuse. A chain that stood still belongs to a process that died (a pod restart inside
the exchange's deadline): take it over, so its orders are adopted, not cancelled by the
dead man's switch. No chain at all: start one.

A restart of the same controller need not wait: each beat's id is recorded in the state
directory, which the running controller holds locked. A new process that gets the lock
(so no live process uses that directory) and finds the chain expecting exactly the id
its predecessor recorded knows the chain is its own, left where it stopped, and takes it
over at once.

It reads the chain and decides; it cancels or places nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from controller.venue.client import Venue, VenueError

log = logging.getLogger("bandctl")


class AccountInUse(VenueError):
    """Another live process heartbeats for this account."""


class StateDirLock:
    """An exclusive lock on the state directory for this process's lifetime, and the record
    of the last heartbeat id the exchange accepted."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.directory = Path(state_dir)
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return  # this process holds it already (prepare, then start)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "controller.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AccountInUse(
                f"another controller is running with the state directory {self.directory}: refusing to start"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def last_heartbeat(self) -> str | None:
        try:
            value = json.loads((self.directory / "heartbeat.json").read_text()).get("id")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and value else None

    def record_heartbeat(self, heartbeat_id: str) -> None:
        path = self.directory / "heartbeat.json"
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps({"id": heartbeat_id}))
            os.replace(temporary, path)
        except OSError as exc:
            log.debug("heartbeat id not recorded: %s", exc)


def claim_heartbeat_chain(
    venue: Venue, wait: float, sleep: Callable[[float], None] = time.sleep, *, ours: str | None = None
) -> None:
    """``ours``: the id our predecessor (with the state directory locked by us now) recorded."""
    first = venue.heartbeat_chain()
    if first is None:
        return
    if ours is not None and first == ours:
        log.info("the heartbeat chain is where this controller's previous process left it: taking it over")
        venue.continue_heartbeat_chain(first)
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


def claim_account(venue: Venue, lock: StateDirLock | None, wait: float) -> None:
    """Lock the state directory, then claim the account's heartbeat chain (see above)."""
    ours = None
    if lock is not None:
        lock.acquire()
        ours = lock.last_heartbeat()
    if wait > 0:
        claim_heartbeat_chain(venue, wait, ours=ours)


def recording(send: Callable[[], str], lock: StateDirLock | None) -> Callable[[], str]:
    """``send`` (one heartbeat), recording each accepted id in the locked state directory."""

    def beat() -> str:
        heartbeat_id = send()
        if lock is not None:
            lock.record_heartbeat(heartbeat_id)
        return heartbeat_id

    return beat
