"""State snapshots: the documented shape, round trips, and hostile input as one-line errors."""

from __future__ import annotations

import copy
import json
from decimal import Decimal as D
from pathlib import Path

import jsonschema
import pytest
from test_bands_support import NOW, order, state

from controller.observe.statefile import StateFileError, load_state, state_from_json, state_from_text, state_to_json
from controller.schemas import load_schema

REPO = Path(__file__).resolve().parent.parent
CID = "0x" + "ab" * 32
DOC = {
    "time": "2026-11-23T12:00:00Z",
    "markets": {
        CID: {
            "tickSize": "0.01",
            "minOrderSize": "5",
            "negRisk": False,
            "books": {
                "123": {
                    # REST order: best level last
                    "bids": [{"price": "0.48", "size": "100"}, {"price": "0.49", "size": "120"}],
                    "asks": [{"price": "0.52", "size": "10"}, {"price": "0.51", "size": "80"}],
                }
            },
        }
    },
    "balances": {"collateral": "100", "tokens": {"123": "0"}},
    "orders": [
        {
            "id": "0xabc",
            "market": CID,
            "tokenId": "123",
            "side": "BUY",
            "price": "0.48",
            "size": "5",
            "sizeMatched": "0",
        }
    ],
}


def doc(**changes):
    d = copy.deepcopy(DOC)
    for path, value in changes.items():
        *parents, leaf = path.split("/")
        node = d
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return d


_DELETE = object()
M = f"markets/{CID}"


def test_reads_the_documented_shape_and_normalises_books():
    st = state_from_json(DOC)
    assert st.time == NOW
    market = st.markets[CID]
    assert (market.tick_size, market.min_order_size, market.neg_risk) == (D("0.01"), D("5"), False)
    b = market.books["123"]
    assert [lv.price for lv in b.bids] == [D("0.49"), D("0.48")]  # best first
    assert [lv.price for lv in b.asks] == [D("0.51"), D("0.52")]
    assert st.balances.collateral == 100 and st.balances.token("123") == 0
    assert st.orders == (order("0xabc", "BUY", "0.48", "5", token="123", market=CID),)


def test_numbers_may_be_json_numbers():
    text = json.dumps(DOC).replace('"0.49"', "0.49").replace('"120"', "120")
    st = state_from_text(text)
    assert st.markets[CID].books["123"].bids[0].price == D("0.49")  # exact, not a float
    assert str(st.markets[CID].books["123"].bids[0].price) == "0.49"
    assert state_from_json(doc(**{"balances/collateral": 100.5})).balances.collateral == D("100.5")


def test_optional_fields_and_level_merging():
    d = doc(**{"time": _DELETE, "balances": _DELETE, "orders": _DELETE})
    d["markets"][CID]["lastTradePrice"] = "0.5"
    d["markets"][CID]["books"]["123"]["lastTradePrice"] = ""  # never traded
    d["markets"][CID]["books"]["123"]["bids"].append({"price": "0.49", "size": "1"})
    d["markets"][CID]["books"]["123"]["asks"].append({"price": "0.60", "size": "0"})
    st = state_from_json(d)
    assert st.time is None and st.orders == () and st.balances.collateral == 0
    b = st.markets[CID].books["123"]
    assert b.bids[0].size == 121 and D("0.60") not in [lv.price for lv in b.asks]
    assert b.last_trade_price is None and st.markets[CID].last_trade_price == D("0.5")


def test_round_trip():
    st = state(orders=[order("a", "BUY", "0.48", "10", matched="2.5"), order("b", "SELL", "0.55", "7", token="2222")])
    doc_ = state_to_json(st)
    assert state_from_json(doc_) == st
    assert state_from_json(json.loads(json.dumps(doc_))) == st
    assert state_to_json(state_from_json(DOC)) == state_to_json(state_from_json(state_to_json(state_from_json(DOC))))
    jsonschema.validate(doc_, load_schema("state.schema.json"))


def test_orders_for_markets_not_in_the_snapshot_are_accepted():
    d = doc(**{"orders/0/market": "0x" + "cd" * 32})
    assert state_from_json(d).orders[0].market == "0x" + "cd" * 32


HOSTILE = [
    (doc(**{f"{M}/books/123/bids/0/price": "abc"}), f"markets.{CID}.books.123.bids[0].price: must be a decimal"),
    (doc(**{f"{M}/books/123/bids/0/price": True}), "bids[0].price: must be a decimal string or number"),
    (doc(**{f"{M}/books/123/bids/0/price": "NaN"}), "bids[0].price: must be a decimal"),
    (doc(**{f"{M}/books/123/asks/1/price": "1"}), "asks[1].price: must be strictly between 0 and 1, got 1"),
    (doc(**{f"{M}/books/123/asks/1/price": "0"}), "asks[1].price: must be strictly between 0 and 1"),
    (doc(**{f"{M}/books/123/asks/1/size": "-1"}), "asks[1].size: must not be negative, got -1"),
    (doc(**{f"{M}/books/123/asks": {}}), "books.123.asks: must be a list"),
    (doc(**{f"{M}/books/123/asks/0": ["0.5", "1"]}), "asks[0]: must be an object, got a list"),
    (doc(**{f"{M}/tickSize": "0.02"}), "tickSize: must be one of 0.1, 0.01"),
    (doc(**{f"{M}/tickSize": _DELETE}), f"markets.{CID}.tickSize: is required"),
    (doc(**{f"{M}/negRisk": "no"}), "negRisk: must be true or false"),
    (doc(**{f"{M}/tickSze": "0.01"}), "tickSze: unknown field"),
    (doc(**{"markets": []}), "markets: must be an object, got a list"),
    (doc(**{"time": "yesterday"}), "time: must be an RFC 3339 timestamp"),
    (doc(**{"time": "2026-11-23T12:00:00"}), "time: must be an RFC 3339 timestamp with a UTC offset"),
    (doc(**{"balances/collateral": "-5"}), "balances.collateral: must not be negative"),
    (doc(**{"balances/tokens/123": None}), "balances.tokens.123: must be a decimal"),
    (doc(**{"orders/0/side": "buy"}), 'orders[0].side: must be "BUY" or "SELL", got "buy"'),
    (doc(**{"orders/0/size": "0"}), "orders[0].size: must be greater than 0"),
    (doc(**{"orders/0/sizeMatched": "6"}), "orders[0].sizeMatched: 6 exceeds the order size 5"),
    (doc(**{"orders/0/price": "1.5"}), "orders[0].price: must be strictly between 0 and 1"),
    (doc(**{"orders/0/id": ""}), "orders[0].id: must be a non-empty printable string"),
    (doc(**{"orders/0/id": "a\nb"}), "orders[0].id: must be a non-empty printable string"),
    (doc(**{"orders/0/tokenId": 123}), "orders[0].tokenId: must be a non-empty printable string"),
    (doc(**{"orders": {}}), "orders: must be a list"),
    ([], "(top level): must be an object, got a list"),
    ("state", "(top level): must be an object, got a string"),
    ({}, "markets: is required"),
]


@pytest.mark.parametrize(("obj", "message"), HOSTILE)
def test_hostile_documents_are_one_line_errors(obj, message):
    with pytest.raises(StateFileError) as info:
        state_from_json(obj, source="state.json")
    text = str(info.value)
    assert text.startswith("state.json: ") and message in text, text
    assert "\n" not in text


def test_duplicate_order_ids():
    d = copy.deepcopy(DOC)
    d["orders"].append(dict(d["orders"][0]))
    with pytest.raises(StateFileError, match=r"orders\[1\]\.id: duplicate order id '0xabc' \(also orders\[0\]\)"):
        state_from_json(d)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid JSON at line 1 column 1"),
        ("{", "invalid JSON at line 1"),
        ('{"markets": {}, "markets": {}}', "duplicate key 'markets'"),
        ('{"markets": {}, "time": NaN}', "NaN is not a number JSON allows"),
        ("[" * 100000 + "]" * 100000, "nested deeper than 32 levels"),
        ("[" * 33 + "]" * 33, "nested deeper than 32 levels"),
        ('{"markets": {}, "balances": {"collateral": ' + "9" * 5000 + "}}", "invalid"),
        ('{"markets": {}, "balances": {"collateral": 1e999999}}', "balances.collateral: must be"),
    ],
)
def test_bad_json_text(text, message):
    with pytest.raises(StateFileError) as info:
        state_from_text(text, source="s.json")
    assert str(info.value).startswith("s.json: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_load_state_files(tmp_path):
    good = tmp_path / "state.json"
    good.write_text(json.dumps(DOC))
    assert load_state(good).markets[CID].tick_size == D("0.01")
    with pytest.raises(StateFileError, match=r"missing\.json: no such file or directory"):
        load_state(tmp_path / "missing.json")
    with pytest.raises(StateFileError, match="not a regular file"):
        load_state(tmp_path)  # a directory
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StateFileError, match="binary file"):
        load_state(binary)


def test_demo_state_is_valid_for_loader_and_schema():
    path = REPO / "manifests" / "demo-state.json"
    st = load_state(path)
    assert len(st.markets) == 2 and len(st.orders) >= 6
    jsonschema.validate(json.loads(path.read_text()), load_schema("state.schema.json"))


def test_schema_agrees_with_the_loader_on_typical_mistakes():
    validator = jsonschema.Draft202012Validator(load_schema("state.schema.json"))
    assert not list(validator.iter_errors(DOC))
    for bad in (
        doc(**{f"{M}/tickSize": "0.02"}),
        doc(**{f"{M}/books/123/asks/1/price": "1"}),
        doc(**{f"{M}/books/123/asks/1/size": "-1"}),
        doc(**{"orders/0/side": "buy"}),
        doc(**{f"{M}/tickSze": "0.01"}),
    ):
        assert list(validator.iter_errors(bad)), bad


def test_placed_ids_round_trip_and_validate_against_the_schema():
    from dataclasses import replace

    original = replace(state(orders=[order("0xa", "BUY", "0.48", "10")]), placed_ids=frozenset({"0xa"}))
    doc = state_to_json(original)
    assert doc["placedIds"] == ["0xa"]
    jsonschema.validate(doc, load_schema("state.schema.json"))
    assert state_from_json(doc).placed_ids == {"0xa"}
    with pytest.raises(StateFileError, match="placedIds"):
        state_from_json({**doc, "placedIds": "0xa"})
