"""The dead man's switch: heartbeat id chaining and deadlines per account.

An empty id starts (or restarts) a session; every later heartbeat must echo the id the
previous answer returned. ``expired`` lists the accounts whose deadline passed, so the
engine can cancel their orders. Time is passed in; no clock is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class HeartbeatSession:
    expected_id: str
    deadline: float


class Heartbeats:
    def __init__(self, timeout: float, new_id: Callable[[], str]) -> None:
        self.timeout = timeout
        self.new_id = new_id
        self.sessions: dict[str, HeartbeatSession] = {}

    def beat(self, owner: str, heartbeat_id: str, now: float) -> tuple[bool, str]:
        """(ok, id): the next id to echo, or on failure the id that was expected ("" if none)."""
        session = self.sessions.get(owner)
        if heartbeat_id and (session is None or heartbeat_id != session.expected_id):
            return False, session.expected_id if session else ""
        new_id = self.new_id()
        self.sessions[owner] = HeartbeatSession(new_id, now + self.timeout)
        return True, new_id

    def expired(self, now: float) -> list[str]:
        """Owners whose deadline has passed; their sessions end."""
        gone = [owner for owner, s in self.sessions.items() if s.deadline <= now]
        for owner in gone:
            del self.sessions[owner]
        return gone
