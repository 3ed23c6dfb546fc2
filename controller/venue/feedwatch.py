"""Stall detection for the market feed: silence on the stream, movement on REST.

A stalled feed still answers ``PING`` with ``PONG`` and looks exactly like a quiet
market. The only proof is the exchange's own book: when the market channel has
delivered nothing for ``probe_after`` seconds, :class:`FeedWatch` reads the books over
REST and compares them with the stream-maintained ones (``BookSource``, i.e. the
observed store). A difference the stream has not delivered ``confirm_after`` seconds
later is a miss. A quiet market shows no difference and costs one ``POST /books`` per
``probe_after`` seconds.

A miss is not yet a stall: one message lost on a market with no traffic after it looks
the same. The first miss (or one while the channel still delivers other markets' events)
is repaired: REST's book is adopted and ``on_repaired(tokens)`` replans on it, quotes
stay. Only a miss on a channel that has delivered nothing since the previous repair is a
stall: ``on_stalled(tokens)`` is called (pull quotes, reconnect: the caller's choice).

A stream that loses single messages is not silent, but each price change carries the
exchange's best bid and ask: a book that has disagreed with it for ``gap_after`` seconds
(``BookSource.gaps``; the messages of one burst may each carry the burst's final top)
missed a message. The watch reads it over REST at once and adopts it (``on_repaired``);
when REST does not answer within ``confirm_after`` seconds, the tokens count as
stalled. Decides nothing about orders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from controller.observe.state import Book

if TYPE_CHECKING:
    from controller.venue.client import Venue

log = logging.getLogger("bandctl.streams")


class BookSource(Protocol):
    """What the watch needs of the stream-maintained books (``ObservedStore`` has it)."""

    def stream_updates(self, token_id: str) -> int: ...

    def resync_book(self, token_id: str, book: Book, stream_updates_seen: int | None) -> str: ...

    def adopt_book(self, token_id: str, book: Book) -> None: ...

    def gaps(self, lasting: float) -> list[str]: ...


class FeedWatch:
    def __init__(
        self,
        *,
        silent_for: Callable[[], float],
        tokens: Callable[[], Sequence[str]],
        read_books: Callable[[Sequence[str]], Mapping[str, Book]],
        books: BookSource,
        on_stalled: Callable[[list[str]], None],
        probe_after: float = 1.0,
        confirm_after: float = 0.5,
        gap_after: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._silent_for, self._tokens, self._read = silent_for, tokens, read_books
        self._books, self._on_stalled = books, on_stalled
        self.probe_after, self.confirm_after, self.gap_after = probe_after, confirm_after, gap_after
        self._clock = clock
        self._last_probe = float("-inf")
        self._suspects: dict[str, int] = {}
        self._suspected_at = 0.0
        self._probe_repaired_at = float("-inf")  # the last miss the probe repaired instead of calling a stall
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._gaps: dict[str, float] = {}  # token -> when its gap was reported
        self.on_repaired: Callable[[list[str]], None] | None = None
        self.probes = 0
        self.stalls = 0
        self.repairs = 0

    def repair(self, token_ids: Sequence[str]) -> None:
        """These books missed a stream message: read them over REST (the watch's thread)."""
        if not token_ids:
            return
        now = self._clock()
        with self._lock:
            for token in token_ids:
                self._gaps.setdefault(token, now)
        self._wake.set()

    def repair_now(self) -> list[str]:
        """Read and adopt the books reported by :meth:`repair`; returns the repaired tokens."""
        with self._lock:
            gaps = dict(self._gaps)
        if not gaps:
            return []
        remote = self._read_books(list(gaps))
        repaired = [t for t in gaps if t in remote]
        for token in repaired:
            self._books.adopt_book(token, remote[token])
        now = self._clock()
        with self._lock:
            for token in repaired:
                self._gaps.pop(token, None)
            given_up = [t for t, since in self._gaps.items() if now - since >= self.confirm_after]
            for token in given_up:
                del self._gaps[token]
        if repaired:
            self.repairs += 1
            log.debug("re-read %d book(s) that missed a stream message", len(repaired))
            self._notify(self.on_repaired, repaired)
        if given_up:
            self.stalls += 1
            self._notify(self._on_stalled, given_up)
        return repaired

    def _notify(self, handler: Callable[[list[str]], None] | None, tokens: list[str]) -> None:
        if handler is None:
            return
        try:
            handler(tokens)
        except Exception:
            log.exception("market feed handler failed")

    def check(self) -> list[str]:
        """One step (the thread calls it every ``interval``); returns tokens found stalled."""
        now = self._clock()
        if self._suspects:
            if now - self._suspected_at < self.confirm_after:
                return []
            return self._confirm()
        if self._silent_for() < self.probe_after or now - self._last_probe < self.probe_after:
            return []
        tokens = list(self._tokens())
        if not tokens:
            return []
        self._last_probe = now
        seen = {t: self._books.stream_updates(t) for t in tokens}
        remote = self._read_books(tokens)
        self.probes += 1
        suspects = {}
        for token, book in remote.items():
            if token in seen and self._books.resync_book(token, book, seen[token]) == "missed":
                suspects[token] = seen[token]
        if suspects:
            self._suspects, self._suspected_at = suspects, self._clock()
        return []

    def _confirm(self) -> list[str]:
        suspects, self._suspects = self._suspects, {}
        silent = [t for t, seen in suspects.items() if self._books.stream_updates(t) == seen]
        if not silent:
            return []  # the stream delivered since: it was only racing REST
        remote = self._read_books(silent)
        missed = [t for t in silent if t in remote and self._books.resync_book(t, remote[t], suspects[t]) == "missed"]
        if not missed:
            return []
        now, quiet = self._clock(), self._silent_for()
        alive = quiet < now - self._suspected_at  # other events arrived since the probe
        if alive or quiet < now - self._probe_repaired_at:
            self._probe_repaired_at = now
            for token in missed:
                self._books.adopt_book(token, remote[token])
            self.repairs += 1
            log.info("market feed: %d book(s) missed a stream message; REST's adopted", len(missed))
            self._notify(self.on_repaired, missed)
            return []
        self.stalls += 1
        self._notify(self._on_stalled, missed)
        return missed

    def _read_books(self, tokens: Sequence[str]) -> Mapping[str, Book]:
        try:
            return self._read(tokens)
        except Exception as exc:  # a failed probe proves nothing either way
            log.info("market feed probe failed: %s", str(exc)[:200])
            return {}

    def start(self, interval: float = 0.25) -> None:
        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)  # a reported gap wakes it at once
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self.repair(self._books.gaps(self.gap_after))
                    self.repair_now()
                    self.check()
                except Exception:
                    log.exception("market feed watch failed")

        self._thread = threading.Thread(target=run, name="feed-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)


def watch_venue_feed(
    venue: Venue, streams: Any, books: BookSource, on_stalled: Callable[[list[str]], None]
) -> FeedWatch:
    """A started watch of ``streams.market``, probing with ``venue.get_books`` (see ``Venue.watch_feed``)."""

    def read(tokens: Sequence[str]) -> dict[str, Book]:
        return {token: snapshot.book for token, snapshot in venue.get_books(list(tokens)).items()}

    watch = FeedWatch(
        silent_for=streams.market.silent_for,
        tokens=streams.subscribed_tokens,
        read_books=read,
        books=books,
        on_stalled=on_stalled,
        probe_after=venue.config.feed_probe_after,
        confirm_after=venue.config.feed_confirm_after,
    )
    watch.start()
    return watch
