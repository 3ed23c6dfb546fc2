"""REST books of many tokens at once (``POST /books``), moved out of ``client`` to keep it short.

Exists so that a resync's book read validates every book on its own: a malformed one,
or one we did not ask for, costs only that token. A book whose tick disagrees with the
rules we sign with sends the venue back to the rules. Decides nothing about orders.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from controller.venue import clob_adapter as clob
from controller.venue.errors import VenueError
from controller.venue.wire import BookSnapshot, WireError, parse_book_summary

if TYPE_CHECKING:
    from controller.venue.client import Venue

log = logging.getLogger("bandctl.venue")


def get_books(venue: Venue, token_ids: Sequence[str]) -> dict[str, BookSnapshot]:
    books: dict[str, BookSnapshot] = {}
    problems: list[str] = []
    wanted = set(token_ids)
    for start in range(0, len(token_ids), 500):
        chunk = [clob.BookParams(token_id=t) for t in token_ids[start : start + 500]]
        raw = venue._call("books", venue.client.get_order_books, chunk)
        if not isinstance(raw, list):
            raise VenueError("malformed /books answer: expected a list")
        for item in raw:
            try:
                snapshot = parse_book_summary(item)
            except WireError as exc:
                problems.append(str(exc))
                continue
            if snapshot.token_id in wanted:
                books[snapshot.token_id] = snapshot
    if problems:
        log.error("books: %d malformed book(s) skipped, e.g. %s", len(problems), problems[0][:200])
    # A book names its market's tick: one that disagrees with the rules we sign with
    # sends us back to the rules (every resync reads books).
    moved = [
        token
        for token, snapshot in books.items()
        if snapshot.tick_size is not None
        and (rules := venue.rules.of_token(token)) is not None
        and rules.tick_size != snapshot.tick_size
    ]
    if moved:
        venue.refresh_tick_size(moved)
    return books
