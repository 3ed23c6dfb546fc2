"""A REST book the market stream never delivered, still different when checked again: a
frozen channel (nothing delivered since) marks the market stale and reconnects; a channel
that delivered other markets' events meanwhile only lost a message, so REST's book is
adopted and the market planned again with its quotes left alone."""

from __future__ import annotations

import time
from decimal import Decimal as D

from test_resync_slices import BOOK, FEW, Rig

from controller.observe.state import Book, Level

OTHER = Book(bids=(Level(D("0.40"), D("10")),), asks=(Level(D("0.60"), D("10")),))


def rig_with_a_missed_book(silent_for: float) -> tuple[Rig, str, str, list[list[str]]]:
    rig = Rig(FEW)
    frozen: list[list[str]] = []
    rig.resync.on_frozen = frozen.append
    rig.resync.market_silent_for = lambda: silent_for
    market, (token, _no) = next(iter(rig.markets.items()))
    rig.store.adopt_book(token, OTHER)  # what the stream built; REST has BOOK
    return rig, market, token, frozen


def test_a_channel_silent_since_the_suspicion_is_frozen() -> None:
    rig, market, token, frozen = rig_with_a_missed_book(silent_for=60.0)
    rig.resync._confirm_frozen({token: rig.store.stream_updates(token)}, time.monotonic() - 2.0)
    assert frozen == [[market]]
    assert rig.store.snapshot([market]).markets[market].books[token] == BOOK
    assert rig.store.stale_reason(market) == "the market stream missed a book change"


def test_a_channel_that_delivered_meanwhile_lost_one_message_and_quotes_stay() -> None:
    rig, market, token, frozen = rig_with_a_missed_book(silent_for=0.1)
    rig.resync._confirm_frozen({token: rig.store.stream_updates(token)}, time.monotonic() - 2.0)
    assert frozen == [] and rig.reconciler.queued == [market]
    assert rig.store.snapshot([market]).markets[market].books[token] == BOOK
    assert rig.store.stale_reason(market) != "the market stream missed a book change"
