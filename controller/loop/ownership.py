"""The ids of the orders this controller placed, kept in its state directory across restarts.

Only ``ownership: shared`` manifests need it: there the controller may touch only what
it can prove it placed, and after a crash the proof must outlive the process. (In an
``exclusive`` market every open order of the account is the controller's anyway.)

The file is small JSON, written atomically (temporary file, fsync, rename) right after
the exchange accepts an order, so a ``kill -9`` a moment later still leaves a record.
Ids are forgotten once the exchange no longer lists them as open (after a read of only
some markets, only ids of those markets' orders), so the file and the set stay as small
as the book. A missing or corrupt file is a warning, never a crash:
a shared market then touches nothing it cannot prove it placed.

This module decides nothing about which orders to cancel: the planner does, reading
these ids as one of its inputs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from controller.loop.statefiles import StateFileProblem, read_document, write_document

log = logging.getLogger("bandctl.ownership")

FILE_NAME = "placed-orders.json"
_FORMAT = 1


class PlacedOrders:
    """A thread-safe set of order ids with the time each was recorded, persisted when asked."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: dict[str, float] = {}  # id -> when recorded (clock)
        self.load_problem: str | None = None

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str] | None) -> PlacedOrders:
        return cls(None if state_dir is None else Path(state_dir) / FILE_NAME)

    # -- reading ---------------------------------------------------------------------

    def load(self) -> None:
        """Read the file (once, at start). Problems are kept in ``load_problem`` and logged."""
        if self.path is None:
            return
        try:
            document = read_document(self.path, _FORMAT)
            if document is None:
                self.load_problem = f"{self.path}: not found (a first start, or the state directory is not persisted)"
                log.debug("%s", self.load_problem)
                return
            ids = document.get("orders")
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise StateFileProblem(f'{self.path}: unreadable (expected {{"format": 1, "orders": ["0x…", …]}})')
        except StateFileProblem as exc:
            self.load_problem = str(exc)
            log.warning("%s; shared-ownership markets will touch only orders placed from now on", exc)
            return
        now = self._clock()
        with self._lock:
            self._ids.update(dict.fromkeys(ids, now))
        log.info("%s: %d order id(s) this controller placed", self.path, len(ids))

    def ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._ids)

    def __contains__(self, order_id: object) -> bool:
        with self._lock:
            return order_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    # -- changing --------------------------------------------------------------------

    def add(self, order_ids: Iterable[str], *, persist: bool) -> None:
        now = self._clock()
        with self._lock:
            fresh = [i for i in order_ids if i not in self._ids]
            for order_id in fresh:
                self._ids[order_id] = now
        if fresh and persist:
            self.save()

    def forget(self, order_ids: Iterable[str], *, persist: bool) -> None:
        with self._lock:
            gone = [i for i in order_ids if self._ids.pop(i, None) is not None]
        if gone and persist:
            self.save()

    def prune(self, open_ids: Iterable[str], as_of: float, *, persist: bool, among: Iterable[str] | None = None) -> int:
        """Forget ids recorded before ``as_of`` (a clock reading taken before the REST read
        of ``open_ids``) that the exchange no longer lists as open; returns how many.

        ``among``: a read of some markets only. Then only these ids (orders known to be in
        the markets read) may be forgotten: an id missing from a partial read may simply
        belong to a market the read did not cover."""
        still_open = set(open_ids)
        candidates = None if among is None else set(among)
        with self._lock:
            gone = [
                i
                for i, recorded in self._ids.items()
                if recorded < as_of and i not in still_open and (candidates is None or i in candidates)
            ]
            for order_id in gone:
                del self._ids[order_id]
        if gone and persist:
            self.save()
        return len(gone)

    def save(self) -> None:
        """Write the file atomically. A failure is logged; the set in memory stays right."""
        if self.path is None:
            return
        with self._lock:
            try:
                write_document(self.path, {"format": _FORMAT, "orders": sorted(self._ids)})
            except OSError as exc:
                log.error("could not write %s: %s", self.path, exc)
