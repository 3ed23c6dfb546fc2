"""Holds: the controller's own "do not quote this market" decisions, and which survive restarts.

Three things put a hold on a manifest's market (or on every manifest, key ``"*"``): an
operator's kill switch (``bandctl halt``), a breached loss limit, and a sharp move
(``risk.pullOnMove``). The first two last until an operator clears them
(``bandctl resume``) and are kept in the state directory, so a restart does not undo
them; a sharp move's hold expires by itself and lives in memory only.

A hold is a planner input (``ObservedState.holds``): the planner pulls the market and
says why, so ``diff`` shows it too. This module stores holds; it decides nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from controller.loop.statefiles import StateFileProblem, read_document, write_document
from controller.observe.state import Hold

log = logging.getLogger("bandctl.holds")

FILE_NAME = "holds.json"
ALL = "*"
_FORMAT = 1
# Holds that only an operator clears, and so must outlive the process.
PERSISTENT = frozenset({"Halted", "LossLimit"})


class Holds:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._holds: dict[str, Hold] = {}
        self.load_problem: str | None = None

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str] | None) -> Holds:
        return cls(None if state_dir is None else Path(state_dir) / FILE_NAME)

    def load(self) -> None:
        if self.path is None:
            return
        try:
            document = read_document(self.path, _FORMAT)
            if document is None:
                return
            raw = document.get("holds")
            if not isinstance(raw, dict):
                raise StateFileProblem(f'{self.path}: unreadable (expected {{"format": 1, "holds": {{…}}}})')
            holds = {str(name): _hold(item) for name, item in raw.items()}
        except (StateFileProblem, ValueError) as exc:
            # A halt we cannot read must not be dropped silently: hold everything until resumed.
            self.load_problem = str(exc)
            log.error("%s; holding every market until `bandctl resume --all`", exc)
            holds = {ALL: Hold("Halted", f"holds file unreadable: {exc}")}
        with self._lock:
            self._holds.update(holds)
        for name, hold in holds.items():
            log.warning(
                "%s held since a previous run: %s (%s)",
                "every market" if name == ALL else name,
                hold.reason,
                hold.message,
            )

    def snapshot(self, now: datetime | None = None) -> dict[str, Hold]:
        """The holds in force (expired ones are dropped)."""
        now = now or datetime.now(UTC)
        with self._lock:
            for name in [n for n, h in self._holds.items() if h.until is not None and h.until <= now]:
                del self._holds[name]
            return dict(self._holds)

    def get(self, name: str) -> Hold | None:
        return self.snapshot().get(name)

    def put(self, name: str, hold: Hold) -> bool:
        """Hold ``name`` (``ALL`` for every manifest); False when an equal hold was there."""
        with self._lock:
            if self._holds.get(name) == hold:
                return False
            self._holds[name] = hold
        if hold.reason in PERSISTENT:
            self._save()
        return True

    def clear(self, name: str | None) -> list[str]:
        """Lift the holds on ``name`` (None: every hold); returns what was lifted."""
        with self._lock:
            lifted = list(self._holds) if name is None else [n for n in (name,) if n in self._holds]
            for key in lifted:
                del self._holds[key]
        if lifted:
            self._save()
        return lifted

    def _save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            document = {
                "format": _FORMAT,
                "holds": {n: _document(h) for n, h in self._holds.items() if h.reason in PERSISTENT},
            }
            try:
                write_document(self.path, document)
            except OSError as exc:
                log.error("could not write %s: %s (the hold is in force until this process stops)", self.path, exc)


def _document(hold: Hold) -> dict[str, str | None]:
    return {"reason": hold.reason, "message": hold.message, "until": hold.until.isoformat() if hold.until else None}


def _hold(item: object) -> Hold:
    if not isinstance(item, dict) or item.get("reason") not in PERSISTENT or not isinstance(item.get("message"), str):
        raise ValueError(f"not a hold: {str(item)[:80]}")
    until = item.get("until")
    return Hold(item["reason"], item["message"], datetime.fromisoformat(until) if isinstance(until, str) else None)
