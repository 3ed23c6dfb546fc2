"""The one parsing layer for REST answers: typed values, one decimal, time and tick parser."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from controller.venue import wire
from controller.venue.wire import WireError


def test_one_decimal_parser_is_exact_and_rejects_tricks() -> None:
    assert wire.decimal("0.49", "p") == D("0.49")
    assert wire.decimal(0.01, "p") == D("0.01"), "a JSON number means what its text said"
    bads: tuple[object, ...] = (True, None, "NaN", "1e999999", " 1", "", "0x10", [], {})
    for bad in bads:
        with pytest.raises(WireError, match="malformed p"):
            wire.decimal(bad, "p")


def test_exchange_times_accept_seconds_and_milliseconds() -> None:
    assert wire.exchange_time("1757908892351") == pytest.approx(1757908892.351)
    assert wire.exchange_time("1672290687") == 1672290687.0
    assert wire.exchange_time(1672290687) == 1672290687.0
    assert wire.exchange_time("") is None and wire.exchange_time(None) is None
    for bad in ("-1", "1.5", "12345678901234567", True, 1.5, "١٢٣"):
        with pytest.raises(WireError):
            wire.exchange_time(bad)


def test_one_tick_size_definition() -> None:
    assert wire.tick_size("0.010") == D("0.01") and wire.tick_text(wire.tick_size(0.01)) == "0.01"
    assert wire.tick_text(D("0.0025")) == "0.0025"
    for bad in ("0.02", "0", "-0.01", "abc"):
        with pytest.raises(WireError):
            wire.tick_size(bad)


def test_market_info_is_validated() -> None:
    raw = {"t": [{"t": "7", "o": "Yes"}, {"t": "8", "o": "No"}], "mts": 0.001, "mos": 5, "ao": True}
    info = wire.parse_market_info("0xc", raw)
    assert info.tokens == {"yes": "7", "no": "8"} and info.tick_size == D("0.001") and not info.neg_risk
    bads: list[object] = [
        {**raw, "mts": "0.02"},
        {**raw, "ao": "yes"},
        {**raw, "t": "x"},
        [],
        {**raw, "t": [{"t": "x"}]},
    ]
    for bad in bads:
        with pytest.raises(WireError):
            wire.parse_market_info("0xc", bad)


def test_open_orders_keep_the_good_items_and_name_the_bad_ones() -> None:
    good = {"id": "0x1", "market": "0xm", "asset_id": "7", "side": "BUY", "original_size": "10", "price": "0.5"}
    answer = wire.parse_open_orders([good, {**good, "id": None}, {k: v for k, v in good.items() if k != "id"}, 5])
    assert [o.id for o in answer.orders] == ["0x1"]
    assert len(answer.problems) == 3 and "no id" in answer.problems[1]
    with pytest.raises(WireError):
        wire.parse_open_orders({"data": []})


@pytest.mark.parametrize("success", ["-1", "NaN", 1, "true", None])
def test_only_a_json_true_is_an_acceptance(success: object) -> None:
    answer = wire.parse_post_answer({"success": success, "orderID": "0x1", "status": "live", "errorMsg": ""})
    assert answer is not None and not answer.accepted


def test_post_answer_with_an_error_is_not_accepted() -> None:
    answer = wire.parse_post_answer({"success": True, "orderID": "0x1", "errorMsg": "post-only mode"})
    assert answer is not None and not answer.accepted and answer.error == "post-only mode"
    assert wire.parse_post_answer("x") is None


def test_cancel_answer_ids_are_validated() -> None:
    result = wire.parse_cancel({"canceled": ["0xa"], "not_canceled": {"0xb": "Order not found or already canceled"}})
    assert result.canceled == ("0xa",) and result.gone == ("0xa", "0xb")
    bads: list[object] = [{"canceled": [None]}, {"canceled": "0xa"}, {"not_canceled": []}, None]
    for bad in bads:
        with pytest.raises(WireError):
            wire.parse_cancel(bad)


def test_balance_is_base_units() -> None:
    assert wire.parse_balance({"balance": "1500000"}, "collateral") == D("1.5")
    bads: list[object] = [{"balance": "-1"}, {"balance": None}, []]
    for bad in bads:
        with pytest.raises(WireError):
            wire.parse_balance(bad, "collateral")


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars | st.sampled_from(["0.5", "", "1e9", "LTE="]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["id", "market", "asset_id", "side", "price", "original_size", "size_matched", "t", "mts", "mos", "nr", "ao"]
FIELDS += ["bids", "asks", "tick_size", "balance", "success", "orderID", "errorMsg", "canceled", "not_canceled"]
objects = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
bodies = st.one_of(json_values, objects, st.lists(objects, max_size=3))
PARSERS = [
    wire.parse_book_summary,
    wire.parse_books,
    wire.parse_open_order,
    wire.parse_open_orders,
    wire.parse_cancel,
    wire.parse_heartbeat,
    wire.parse_post_answer,
    lambda raw: wire.parse_market_info("0xc", raw),
    lambda raw: wire.parse_balance(raw, "collateral"),
]


@seed(2026)
@settings(max_examples=120, deadline=None)
@given(bodies)
def test_fuzzed_rest_bodies_raise_nothing_but_wire_errors(raw: object) -> None:
    for parse in PARSERS:
        try:
            parse(raw)
        except WireError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300, "one short line"


def test_iso_times_are_aware_utc() -> None:
    from datetime import UTC, datetime

    assert wire.iso_time("2026-12-31T12:00:00Z", "t") == datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert wire.iso_time("2026-12-31T14:00:00+02:00", "t") == datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert wire.iso_time("2026-12-31", "t") == datetime(2026, 12, 31, tzinfo=UTC)
    assert wire.iso_time("", "t") is None and wire.parse_end_time({}) is None
    bads: list[object] = ["tomorrow", 5, "2026-13-01T00:00:00Z", "x" * 50]
    for bad in bads:
        with pytest.raises(WireError):
            wire.iso_time(bad, "t")


def test_a_bad_item_makes_its_markets_list_incomplete() -> None:
    good = {"id": "0x1", "market": "0xm", "asset_id": "7", "side": "BUY", "original_size": "10", "price": "0.5"}
    other = {**good, "id": "0x2", "market": "0xn"}
    answer = wire.parse_open_orders([good, other, {k: v for k, v in other.items() if k != "id"}])
    assert answer.incomplete == frozenset({"0xn"})
    assert answer.complete_for("0xm") and not answer.complete_for("0xn")
    nameless = wire.parse_open_orders([good, 5])
    assert nameless.incomplete is None, "a bad item naming no market leaves no list whole"
    assert not nameless.complete_for("0xm")
    assert wire.parse_open_orders([good]).complete_for("0xm")
