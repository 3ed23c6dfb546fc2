"""StreamBook's cheap top of book agrees with the frozen book it stands in for."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.observe.streambook import StreamBook
from controller.venue.wire_ws import LevelChange

PRICES = st.integers(1, 99).map(lambda n: Decimal(n) / 100)
SIZES = st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(10), Decimal(250)])
CHANGES = st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), PRICES, SIZES), max_size=30)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(changes=CHANGES, frozen_at=st.sets(st.integers(0, 30)))
def test_the_top_is_the_frozen_books_top_after_any_changes(changes, frozen_at) -> None:
    book = StreamBook(bids={Decimal("0.40"): Decimal(0)}, asks={})  # a zero level is no level
    for i, (side, price, size) in enumerate(changes):
        book.apply_change(LevelChange(token_id="1", side=side, price=price, size=size, hash=""))
        if i in frozen_at:
            book.freeze()  # then the cached frozen book answers
        frozen = StreamBook(bids=dict(book.bids), asks=dict(book.asks)).freeze()
        assert book.best() == (frozen.best_bid, frozen.best_ask)


def test_check_top_follows_the_exchange_without_freezing() -> None:
    book = StreamBook(bids={Decimal("0.40"): Decimal(5)}, asks={Decimal("0.45"): Decimal(5)})
    book.check_top((Decimal("0.40"), Decimal("0.45")), now=1.0)
    assert book.disagrees_since is None and book._frozen is None
    book.check_top((Decimal("0.41"), Decimal("0.45")), now=2.0)
    assert book.disagrees_since == 2.0
