"""Manifest validation rules: one test per rule, pinning the exact one-line message."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
import yaml

from controller.schemas import load_schema
from controller.spec.manifest import (
    ManifestError,
    format_path,
    parse_manifest_text,
    spec_to_manifest,
    validate_document,
)
from controller.spec.types import Band, Source

CID = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
YES = "3908542853943523934563267656964073640771816313906088687248131241679293562125"
NO = "2922792765173274317840968115438063166138049552511689109087648014870300294313"

BASE_TEXT = f"""\
apiVersion: bandctl/v1
kind: MarketMaker
metadata:
  name: demo
spec:
  market:
    conditionId: "{CID}"
    tokens:
      yes: "{YES}"
      no: "{NO}"
  bands:
    - {{minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 10, avgAmount: 20, maxAmount: 30}}
    - {{minMargin: 0.03, avgMargin: 0.04, maxMargin: 0.05, minAmount: 10, avgAmount: 20, maxAmount: 30}}
"""


def base_doc() -> dict[str, Any]:
    """The base manifest as Python values (numbers as numbers), to mutate per test."""
    return copy.deepcopy(_BASE)


_BASE = {
    "apiVersion": "bandctl/v1",
    "kind": "MarketMaker",
    "metadata": {"name": "demo"},
    "spec": {
        "market": {"conditionId": CID, "tokens": {"yes": YES, "no": NO}},
        "bands": [
            {
                "minMargin": 0.01,
                "avgMargin": 0.02,
                "maxMargin": 0.03,
                "minAmount": 10,
                "avgAmount": 20,
                "maxAmount": 30,
            },
            {
                "minMargin": 0.03,
                "avgMargin": 0.04,
                "maxMargin": 0.05,
                "minAmount": 10,
                "avgAmount": 20,
                "maxAmount": 30,
            },
        ],
    },
}


def errors_of(doc: dict[str, Any]) -> list[str]:
    """Error lines for ``doc`` written as YAML and parsed back, as a user's file would be."""
    text = yaml.safe_dump(doc, sort_keys=False)
    load = parse_manifest_text(text, "m.yaml")
    return [str(e) for e in load.errors]


def errors_of_text(text: str) -> list[str]:
    return [str(e) for e in parse_manifest_text(text, "m.yaml").errors]


def band(**overrides: Any) -> dict[str, Any]:
    values = {
        "minMargin": 0.01,
        "avgMargin": 0.02,
        "maxMargin": 0.03,
        "minAmount": 10,
        "avgAmount": 20,
        "maxAmount": 30,
    }
    return values | overrides


def with_bands(*bands: dict[str, Any]) -> dict[str, Any]:
    doc = base_doc()
    doc["spec"]["bands"] = list(bands)
    return doc


# ----------------------------------------------------------------- the happy path


def test_base_manifest_gives_the_documented_spec() -> None:
    load = parse_manifest_text(BASE_TEXT, "m.yaml")
    assert load.errors == []
    (spec,) = load.specs
    assert spec.name == "demo"
    assert spec.source == Source("m.yaml", 0)
    assert spec.market.condition_id == CID
    assert (spec.market.yes_token, spec.market.no_token, spec.market.quote) == (YES, NO, "yes")
    assert spec.market.quoted_token == YES
    assert spec.market.tick_size is None and spec.market.min_order_size is None
    assert spec.bands[0] == Band(
        Decimal("0.01"), Decimal("0.02"), Decimal("0.03"), Decimal(10), Decimal(20), Decimal(30)
    )
    assert spec.reference_price.source == "midpoint"
    assert spec.reference_price.max_spread == Decimal("0.1")
    assert spec.limits.max_position is None and spec.limits.max_collateral is None
    assert (spec.orders.type, spec.orders.ttl_seconds, spec.orders.post_only) == ("GTC", None, True)
    assert spec.schedule.not_before is None and spec.schedule.not_after is None
    assert spec.paused is False
    assert spec.ownership == "exclusive"
    assert spec.labels == ()


FULL_TEXT = f"""\
apiVersion: bandctl/v1
kind: MarketMaker
metadata:
  name: demo
  labels: {{team: mm, 'app.kubernetes.io/name': bandctl}}
spec:
  market:
    conditionId: "{CID}"
    tokens: {{yes: "{YES}", no: "{NO}"}}
    quote: no
    tickSize: 0.001
    minOrderSize: "5"
  bands:
    - {{minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 10, avgAmount: 20, maxAmount: 30}}
  referencePrice: {{source: microprice, maxSpread: '0.05'}}
  limits: {{maxPosition: 500, maxCollateral: '1000.50'}}
  orders: {{type: GTD, ttlSeconds: 120, postOnly: false}}
  schedule: {{notBefore: 2026-01-01T00:00:00Z, notAfter: '2026-02-01T12:00:00+02:00'}}
  paused: true
"""


def test_all_optional_fields_are_read() -> None:
    load = parse_manifest_text(FULL_TEXT, "m.yaml")
    assert load.errors == []
    (spec,) = load.specs
    assert spec.labels == (("app.kubernetes.io/name", "bandctl"), ("team", "mm"))
    assert (spec.market.quote, spec.market.tick_size, spec.market.min_order_size) == ("no", Decimal("0.001"), 5)
    assert spec.market.quoted_token == NO and spec.market.complement_token == YES
    assert spec.reference_price.source == "microprice"
    assert spec.reference_price.max_spread == Decimal("0.05")
    assert spec.limits.max_position == 500 and spec.limits.max_collateral == Decimal("1000.50")
    assert (spec.orders.type, spec.orders.ttl_seconds, spec.orders.post_only) == ("GTD", 120, False)
    assert spec.schedule.not_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert spec.schedule.not_after == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert spec.paused is True


def test_yes_and_no_are_strings_not_yaml_1_1_booleans() -> None:
    text = BASE_TEXT.replace("  bands:\n", "    quote: no\n  bands:\n", 1)
    (spec,) = parse_manifest_text(text).specs
    assert spec.market.quote == "no"
    assert spec.market.no_token == NO


def test_numbers_and_decimal_strings_are_exact_decimals() -> None:
    doc = with_bands(
        band(minMargin="0.1", avgMargin=0.2, maxMargin="0.30", minAmount=1, avgAmount="2.5", maxAmount=1e3)
    )
    spec, errors = validate_document(doc)
    assert errors == []
    assert spec is not None
    b = spec.bands[0]
    assert [b.min_margin, b.avg_margin, b.max_margin] == [Decimal("0.1"), Decimal("0.2"), Decimal("0.30")]
    assert [b.min_amount, b.avg_amount, b.max_amount] == [Decimal(1), Decimal("2.5"), Decimal(1000)]
    assert all(isinstance(v, Decimal) for v in (b.min_margin, b.avg_margin, b.max_amount))
    # the float 0.1 becomes Decimal("0.1"), not 0.1000000000000000055511151231257827...
    assert str(b.min_margin) == "0.1"


def test_avg_margin_may_equal_min_margin_as_in_poly_market_maker() -> None:
    assert errors_of(with_bands(band(minMargin=0.01, avgMargin=0.01, maxMargin=0.02))) == []


def test_amounts_may_be_equal_and_min_amount_zero() -> None:
    assert errors_of(with_bands(band(minAmount=0, avgAmount=30, maxAmount=30))) == []


def test_bands_may_touch() -> None:
    doc = with_bands(
        band(minMargin=0.01, avgMargin=0.01, maxMargin=0.02), band(minMargin=0.02, avgMargin=0.02, maxMargin=0.03)
    )
    assert errors_of(doc) == []


def test_bands_need_not_be_sorted() -> None:
    doc = with_bands(band(minMargin=0.05, avgMargin=0.06, maxMargin=0.07), band())
    assert errors_of(doc) == []


# ----------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"avgMargin": 0.005},
            "m.yaml[0] spec.bands[0].avgMargin: must be greater than or equal to minMargin (0.005 < 0.01)",
        ),
        (
            {"avgMargin": 0.03},
            "m.yaml[0] spec.bands[0].maxMargin: must be greater than avgMargin (0.03 <= 0.03)",
        ),
        (
            {"maxMargin": 0.015},
            "m.yaml[0] spec.bands[0].maxMargin: must be greater than avgMargin (0.015 <= 0.02)",
        ),
        (
            {"avgAmount": 5},
            "m.yaml[0] spec.bands[0].avgAmount: must be greater than or equal to minAmount (5 < 10)",
        ),
        (
            {"maxAmount": 15},
            "m.yaml[0] spec.bands[0].maxAmount: must be greater than or equal to avgAmount (15 < 20)",
        ),
        (
            {"minAmount": 0, "avgAmount": 0, "maxAmount": 0},
            "m.yaml[0] spec.bands[0].maxAmount: must be greater than 0 (got 0)",
        ),
        ({"minAmount": -1}, "m.yaml[0] spec.bands[0].minAmount: must be at least 0 (got -1)"),
        ({"minMargin": -0.01}, "m.yaml[0] spec.bands[0].minMargin: must be at least 0 (got -0.01)"),
        ({"maxMargin": 1}, "m.yaml[0] spec.bands[0].maxMargin: must be less than 1 (got 1)"),
        ({"maxMargin": "1.5"}, "m.yaml[0] spec.bands[0].maxMargin: must be less than 1 (got 1.5)"),
    ],
)
def test_band_rule(overrides: dict[str, Any], expected: str) -> None:
    assert errors_of(with_bands(band(**overrides))) == [expected]


def test_band_with_everything_out_of_order_reports_each_rule() -> None:
    doc = with_bands(band(minMargin=0.05, avgMargin=0.04, maxMargin=0.03, minAmount=30, avgAmount=20, maxAmount=10))
    assert errors_of(doc) == [
        "m.yaml[0] spec.bands[0].avgMargin: must be greater than or equal to minMargin (0.04 < 0.05)",
        "m.yaml[0] spec.bands[0].maxMargin: must be greater than avgMargin (0.03 <= 0.04)",
        "m.yaml[0] spec.bands[0].avgAmount: must be greater than or equal to minAmount (20 < 30)",
        "m.yaml[0] spec.bands[0].maxAmount: must be greater than or equal to avgAmount (10 < 20)",
    ]


def test_overlapping_bands_are_reported_at_the_later_band() -> None:
    doc = with_bands(band(), band(minMargin=0.02, avgMargin=0.03, maxMargin=0.04))
    assert errors_of(doc) == [
        "m.yaml[0] spec.bands[1]: overlaps bands[0] (margins (0.02, 0.04] and (0.01, 0.03] intersect)"
    ]


def test_identical_bands_overlap() -> None:
    assert errors_of(with_bands(band(), band())) == [
        "m.yaml[0] spec.bands[1]: overlaps bands[0] (margins (0.01, 0.03] and (0.01, 0.03] intersect)"
    ]


def test_band_inside_a_wide_band_overlaps_even_when_not_adjacent_after_sorting() -> None:
    wide = band(minMargin=0.01, avgMargin=0.02, maxMargin=0.2)
    inner1 = band(minMargin=0.02, avgMargin=0.02, maxMargin=0.03)
    inner2 = band(minMargin=0.05, avgMargin=0.05, maxMargin=0.06)
    assert errors_of(with_bands(inner1, inner2, wide)) == [
        "m.yaml[0] spec.bands[2]: overlaps bands[0] (margins (0.01, 0.2] and (0.02, 0.03] intersect)",
        "m.yaml[0] spec.bands[2]: overlaps bands[1] (margins (0.01, 0.2] and (0.05, 0.06] intersect)",
    ]


def test_empty_bands() -> None:
    assert errors_of(with_bands()) == ["m.yaml[0] spec.bands: must not be empty"]


def test_misspelled_band_key_is_named_with_a_suggestion() -> None:
    b = band()
    b["minMagrin"] = b.pop("minMargin")
    assert errors_of(with_bands(b)) == [
        "m.yaml[0] spec.bands[0]: unknown field 'minMagrin' (did you mean 'minMargin'?)",
        "m.yaml[0] spec.bands[0]: missing required field 'minMargin'",
    ]


def test_unknown_field_far_from_any_known_has_no_suggestion() -> None:
    doc = base_doc()
    doc["spec"]["strategy"] = "amm"
    assert errors_of(doc) == ["m.yaml[0] spec: unknown field 'strategy'"]


# ----------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "must be a decimal number such as 0.01 (got 'abc')"),
        ("1e-3", "must be a decimal number such as 0.01 (got '1e-3')"),
        ("0.01 ", "must be a decimal number such as 0.01 (got '0.01 ')"),
        (True, "must be a number (got true)"),
        (None, "must be a number (got null)"),
        ([1], "must be a number (got a list)"),
        (float("nan"), "must be a finite number (got .nan)"),
        (float("inf"), "must be a finite number (got .inf)"),
    ],
)
def test_bad_decimal(value: Any, expected: str) -> None:
    assert errors_of(with_bands(band(minAmount=value))) == [f"m.yaml[0] spec.bands[0].minAmount: {expected}"]


def test_decimal_objects_are_accepted_by_validate_document() -> None:
    spec, errors = validate_document(with_bands(band(minAmount=Decimal("10"))))
    assert errors == [] and spec is not None


def test_max_spread_bounds() -> None:
    doc = base_doc()
    doc["spec"]["referencePrice"] = {"maxSpread": 0}
    assert errors_of(doc) == ["m.yaml[0] spec.referencePrice.maxSpread: must be greater than 0 (got 0)"]


def test_limits_must_be_positive() -> None:
    doc = base_doc()
    doc["spec"]["limits"] = {"maxPosition": 0, "maxCollateral": "-5"}
    assert errors_of(doc) == [
        "m.yaml[0] spec.limits.maxPosition: must be greater than 0 (got 0)",
        "m.yaml[0] spec.limits.maxCollateral: must be greater than 0 (got -5)",
    ]


# ----------------------------------------------------------------- market


@pytest.mark.parametrize("tick", ["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001", "0.010"])
def test_allowed_tick_sizes(tick: str) -> None:
    doc = base_doc()
    doc["spec"]["market"]["tickSize"] = tick
    assert errors_of(doc) == []


def test_other_tick_size() -> None:
    doc = base_doc()
    doc["spec"]["market"]["tickSize"] = 0.02
    assert errors_of(doc) == [
        "m.yaml[0] spec.market.tickSize: must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001 (got 0.02)"
    ]


def test_min_order_size_must_be_positive() -> None:
    doc = base_doc()
    doc["spec"]["market"]["minOrderSize"] = 0
    assert errors_of(doc) == ["m.yaml[0] spec.market.minOrderSize: must be greater than 0 (got 0)"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0x12", "must be 0x followed by 64 hex digits (got '0x12')"),
        (CID[2:] + "00", "must be 0x followed by 64 hex digits (got '" + CID[2:] + "00')"),
        (CID + "0", "must be 0x followed by 64 hex digits (got '" + CID + "0')"),
        ("0x" + "ab" * 50, "must be 0x followed by 64 hex digits (got '0x" + "ab" * 39 + "…')"),
    ],
)
def test_bad_condition_id(value: str, expected: str) -> None:
    doc = base_doc()
    doc["spec"]["market"]["conditionId"] = value
    assert errors_of(doc) == [f"m.yaml[0] spec.market.conditionId: {expected}"]


def test_unquoted_hex_condition_id_is_read_by_yaml_as_a_number() -> None:
    text = BASE_TEXT.replace(f'"{CID}"', CID)
    assert errors_of_text(text) == [
        "m.yaml[0] spec.market.conditionId: must be a string (got a number; put the value in quotes)"
    ]


def test_unquoted_token_id() -> None:
    text = BASE_TEXT.replace(f'"{YES}"', YES)
    assert errors_of_text(text) == [
        "m.yaml[0] spec.market.tokens.yes: must be a string (got a number; put the value in quotes)"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "must be a token id: a uint256 in decimal digits, without leading zeros (got 'abc')"),
        ("0123", "must be a token id: a uint256 in decimal digits, without leading zeros (got '0123')"),
        ("", "must be a token id: a uint256 in decimal digits, without leading zeros (got '')"),
        (str(2**256), "must be at most 2^256-1 (a uint256)"),
    ],
)
def test_bad_token_id(value: str, expected: str) -> None:
    doc = base_doc()
    doc["spec"]["market"]["tokens"]["no"] = value
    assert errors_of(doc) == [f"m.yaml[0] spec.market.tokens.no: {expected}"]


def test_largest_uint256_token_is_fine() -> None:
    doc = base_doc()
    doc["spec"]["market"]["tokens"]["no"] = str(2**256 - 1)
    assert errors_of(doc) == []


def test_yes_and_no_tokens_must_differ() -> None:
    doc = base_doc()
    doc["spec"]["market"]["tokens"]["no"] = YES
    assert errors_of(doc) == ["m.yaml[0] spec.market.tokens.no: must differ from tokens.yes (got the same token id)"]


def test_missing_token_and_unknown_quote() -> None:
    doc = base_doc()
    del doc["spec"]["market"]["tokens"]["no"]
    doc["spec"]["market"]["quote"] = "maybe"
    assert errors_of(doc) == [
        "m.yaml[0] spec.market.tokens: missing required field 'no'",
        "m.yaml[0] spec.market.quote: must be one of 'yes', 'no' (got 'maybe')",
    ]


# ----------------------------------------------------------------- metadata


@pytest.mark.parametrize("name", ["a", "demo-btc-150k", "0x", "a" * 63, "9-9"])
def test_valid_names(name: str) -> None:
    doc = base_doc()
    doc["metadata"]["name"] = name
    assert errors_of(doc) == []


DNS = "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Demo", [f"{DNS} (got 'Demo')"]),
        ("demo_btc", [f"{DNS} (got 'demo_btc')"]),
        ("-demo", [f"{DNS} (got '-demo')"]),
        ("demo-", [f"{DNS} (got 'demo-')"]),
        ("demo.btc", [f"{DNS} (got 'demo.btc')"]),
        ("", ["must not be empty", f"{DNS} (got '')"]),
        ("a" * 64, ["must be at most 63 characters long (got 64)"]),
    ],
)
def test_bad_names(name: str, expected: list[str]) -> None:
    doc = base_doc()
    doc["metadata"]["name"] = name
    assert errors_of(doc) == [f"m.yaml[0] metadata.name: {e}" for e in expected]


def test_label_values_must_be_strings() -> None:
    text = BASE_TEXT.replace("  name: demo\n", "  name: demo\n  labels: {version: 2, ok: x, 'a b': true}\n")
    assert errors_of_text(text) == [
        "m.yaml[0] metadata.labels.version: must be a string (got a number; put the value in quotes)",
        "m.yaml[0] metadata.labels['a b']: must be a string (got true)",
    ]


def test_missing_metadata_and_unknown_metadata_field() -> None:
    doc = base_doc()
    doc["metadata"] = {"name": "demo", "namespace": "prod"}
    assert errors_of(doc) == ["m.yaml[0] metadata: unknown field 'namespace'"]
    del doc["metadata"]
    assert errors_of(doc) == ["m.yaml[0]: missing required field 'metadata'"]


# ----------------------------------------------------------------- header


def test_wrong_api_version_reports_only_the_header() -> None:
    doc = base_doc()
    doc["apiVersion"] = "bandctl/v2"
    doc["spec"]["bands"] = "nonsense"  # not reported: this is not a document we understand
    assert errors_of(doc) == ["m.yaml[0] apiVersion: must be 'bandctl/v1' (got 'bandctl/v2')"]


def test_foreign_kubernetes_object() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n"
    assert errors_of_text(text) == [
        "m.yaml[0] apiVersion: must be 'bandctl/v1' (got 'v1')",
        "m.yaml[0] kind: must be 'MarketMaker' (got 'ConfigMap')",
    ]


def test_missing_kind() -> None:
    doc = base_doc()
    del doc["kind"]
    assert errors_of(doc) == ["m.yaml[0]: missing required field 'kind'"]


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("hello\n", "'hello'"), ("42\n", "42"), ("true\n", "true")]
)
def test_document_must_be_a_mapping(text: str, got: str) -> None:
    assert errors_of_text(text) == [f"m.yaml[0]: document must be a mapping (got {got})"]


# ----------------------------------------------------------------- orders


def test_gtd_requires_ttl() -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"type": "GTD"}
    assert errors_of(doc) == ["m.yaml[0] spec.orders.ttlSeconds: is required when type is GTD"]


def test_gtc_forbids_ttl() -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"ttlSeconds": 60}
    assert errors_of(doc) == ["m.yaml[0] spec.orders.ttlSeconds: is only allowed when type is GTD (type is GTC)"]


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        (0, "must be at least 1 (got 0)"),
        (1.5, "must be an integer (got 1.5)"),
        ("60", "must be an integer (got '60')"),
        (True, "must be an integer (got true)"),
    ],
)
def test_bad_ttl(ttl: Any, expected: str) -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"type": "GTD", "ttlSeconds": ttl}
    assert errors_of(doc) == [f"m.yaml[0] spec.orders.ttlSeconds: {expected}"]


def test_integral_float_ttl_is_an_integer() -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"type": "GTD", "ttlSeconds": 60.0}
    spec, errors = validate_document(doc)
    assert errors == [] and spec is not None
    assert spec.orders.ttl_seconds == 60 and isinstance(spec.orders.ttl_seconds, int)


def test_order_type_and_post_only() -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"type": "FOK", "postOnly": "yes"}
    assert errors_of(doc) == [
        "m.yaml[0] spec.orders.type: must be one of 'GTC', 'GTD' (got 'FOK')",
        "m.yaml[0] spec.orders.postOnly: must be true or false (got 'yes')",
    ]


def test_a_bad_post_only_does_not_hide_the_ttl_rule() -> None:
    doc = base_doc()
    doc["spec"]["orders"] = {"type": "GTD", "postOnly": "yes"}
    assert errors_of(doc) == [
        "m.yaml[0] spec.orders.postOnly: must be true or false (got 'yes')",
        "m.yaml[0] spec.orders.ttlSeconds: is required when type is GTD",
    ]


# ----------------------------------------------------------------- schedule


def test_schedule_accepts_yaml_timestamps_and_strings() -> None:
    doc = base_doc()
    doc["spec"]["schedule"] = {
        "notBefore": datetime(2026, 1, 1, tzinfo=UTC),
        "notAfter": "2026-01-01T06:00:00.5+05:30",
    }
    spec, errors = validate_document(doc)
    assert errors == [] and spec is not None
    assert spec.schedule.not_after == datetime(2026, 1, 1, 0, 30, 0, 500000, tzinfo=UTC)
    assert errors_of(doc) == []


def test_not_after_must_follow_not_before() -> None:
    doc = base_doc()
    doc["spec"]["schedule"] = {"notBefore": "2026-02-01T00:00:00Z", "notAfter": "2026-01-01T00:00:00Z"}
    assert errors_of(doc) == [
        "m.yaml[0] spec.schedule.notAfter: must be later than notBefore (2026-01-01T00:00:00Z <= 2026-02-01T00:00:00Z)"
    ]
    doc["spec"]["schedule"]["notAfter"] = "2026-02-01T00:00:00Z"
    assert len(errors_of(doc)) == 1


TS = "must be an RFC 3339 timestamp with a timezone, e.g. 2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("2026-01-01T00:00:00", f"{TS} (got 2026-01-01T00:00:00 without a timezone)"),
        ("2026-01-01", f"{TS} (got the date 2026-01-01)"),
        ("'2026-01-01T00:00:00'", f"{TS} (got '2026-01-01T00:00:00')"),
        ("'tomorrow'", f"{TS} (got 'tomorrow')"),
        ("'2026-02-30T00:00:00Z'", "is not a valid date and time (got '2026-02-30T00:00:00Z')"),
        ("1767225600", "must be a string (got a number; put the value in quotes)"),
    ],
)
def test_bad_timestamps(yaml_value: str, expected: str) -> None:
    text = BASE_TEXT + f"  schedule:\n    notBefore: {yaml_value}\n"
    assert errors_of_text(text) == [f"m.yaml[0] spec.schedule.notBefore: {expected}"]


def test_unquoted_impossible_timestamp_is_a_yaml_error_with_position() -> None:
    text = BASE_TEXT + "  schedule:\n    notBefore: 2026-13-01T00:00:00Z\n"
    assert errors_of_text(text) == [
        "m.yaml[0]: YAML error at line 15, column 16: invalid value: month must be in 1..12"
    ]


def test_schedule_with_offsets_compares_instants() -> None:
    doc = base_doc()
    doc["spec"]["schedule"] = {"notBefore": "2026-01-01T01:00:00+01:00", "notAfter": "2026-01-01T00:00:01Z"}
    assert errors_of(doc) == []
    spec, _ = validate_document(doc)
    assert spec is not None
    tz = timezone(timedelta(hours=1))
    assert spec.schedule.not_before == datetime(2026, 1, 1, 1, tzinfo=tz)
    assert spec.schedule.is_active(datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC))


# ----------------------------------------------------------------- ownership


@pytest.mark.parametrize("ownership", ["exclusive", "shared"])
def test_ownership_is_read(ownership: str) -> None:
    (spec,) = parse_manifest_text(BASE_TEXT + f"  ownership: {ownership}\n").specs
    assert spec.ownership == ownership


@pytest.mark.parametrize(
    ("yaml_value", "got"), [("Shared", "'Shared'"), ("true", "true"), ("[shared]", "a list"), ("''", "''")]
)
def test_bad_ownership(yaml_value: str, got: str) -> None:
    assert errors_of_text(BASE_TEXT + f"  ownership: {yaml_value}\n") == [
        f"m.yaml[0] spec.ownership: must be one of 'exclusive', 'shared' (got {got})"
    ]


def test_ownership_is_written_back_and_round_trips() -> None:
    (spec,) = parse_manifest_text(BASE_TEXT + "  ownership: shared\n").specs
    manifest = spec_to_manifest(spec)
    assert manifest["spec"]["ownership"] == "shared"
    again, errors = validate_document(manifest)
    assert errors == [] and again == spec


def test_schema_documents_ownership() -> None:
    prop = load_schema("marketmaker.schema.json")["$defs"]["spec"]["properties"]["ownership"]
    assert prop["enum"] == ["exclusive", "shared"] and prop["default"] == "exclusive"
    assert "exclusive" in prop["description"] and "shared" in prop["description"]


# ----------------------------------------------------------------- other shapes


def test_paused_must_be_boolean() -> None:
    assert errors_of_text(BASE_TEXT + "  paused: yes\n") == ["m.yaml[0] spec.paused: must be true or false (got 'yes')"]


def test_sections_of_the_wrong_type() -> None:
    text = BASE_TEXT + "  limits:\n  orders: [GTC]\n  referencePrice: midpoint\n"
    assert errors_of_text(text) == [
        "m.yaml[0] spec.limits: must be a mapping (got null)",
        "m.yaml[0] spec.orders: must be a mapping (got a list)",
        "m.yaml[0] spec.referencePrice: must be a mapping (got 'midpoint')",
    ]


def test_bands_of_the_wrong_type() -> None:
    doc = base_doc()
    doc["spec"]["bands"] = [band(), "x", None]
    assert errors_of(doc) == [
        "m.yaml[0] spec.bands[1]: must be a mapping (got 'x')",
        "m.yaml[0] spec.bands[2]: must be a mapping (got null)",
    ]


def test_errors_come_in_document_order_and_all_are_reported() -> None:
    doc = base_doc()
    doc["metadata"]["name"] = "Bad"
    doc["spec"]["bands"][1]["maxAmount"] = 5
    doc["spec"]["market"]["tokens"]["no"] = YES
    doc["spec"]["orders"] = {"type": "GTD"}
    assert errors_of(doc) == [
        f"m.yaml[0] metadata.name: {DNS} (got 'Bad')",
        "m.yaml[0] spec.market.tokens.no: must differ from tokens.yes (got the same token id)",
        "m.yaml[0] spec.bands[1].maxAmount: must be greater than or equal to avgAmount (5 < 20)",
        "m.yaml[0] spec.orders.ttlSeconds: is required when type is GTD",
    ]


def test_user_values_in_messages_are_one_line_and_short() -> None:
    doc = base_doc()
    doc["spec"]["market"]["quote"] = "evil\nline " + "x" * 500
    doc["spec"]["bands"][0]["weird\nkey"] = 1
    lines = errors_of(doc)
    assert len(lines) == 2
    assert all("\n" not in line and len(line) < 200 for line in lines)
    assert "'evil\\nline xxx" in lines[0]
    assert lines[1] == "m.yaml[0] spec.bands[0]: unknown field 'weird\\nkey'"


def test_non_string_keys() -> None:
    text = BASE_TEXT + "  1: x\n  null: y\n"
    assert errors_of_text(text) == ["m.yaml[0] spec: unknown field 1", "m.yaml[0] spec: unknown field null"]


# ----------------------------------------------------------------- API details


def test_validate_document_rejects_non_mappings_and_does_not_mutate_input() -> None:
    assert validate_document([1], "f", 3) == (
        None,
        [ManifestError("f", 3, "", "document must be a mapping (got a list)")],
    )
    doc = base_doc()
    before = copy.deepcopy(doc)
    validate_document(doc)
    assert doc == before


def test_manifest_error_str() -> None:
    assert str(ManifestError("a.yaml", 1, "spec.bands[0]", "boom")) == "a.yaml[1] spec.bands[0]: boom"
    assert str(ManifestError("a.yaml", 0, "", "boom")) == "a.yaml[0]: boom"
    assert str(ManifestError("a.yaml", None, "", "boom")) == "a.yaml: boom"


def test_format_path() -> None:
    assert format_path(("spec", "bands", 2, "maxMargin")) == "spec.bands[2].maxMargin"
    assert format_path(("metadata", "labels", "app.kubernetes.io/name")) == "metadata.labels['app.kubernetes.io/name']"
    assert format_path(()) == ""


def test_spec_to_manifest_is_the_inverse_of_loading() -> None:
    (spec,) = parse_manifest_text(BASE_TEXT).specs
    manifest = spec_to_manifest(spec)
    assert manifest["spec"]["bands"][0] == {
        "minMargin": Decimal("0.01"),
        "avgMargin": Decimal("0.02"),
        "maxMargin": Decimal("0.03"),
        "minAmount": Decimal(10),
        "avgAmount": Decimal(20),
        "maxAmount": Decimal(30),
    }
    assert list(manifest) == ["apiVersion", "kind", "metadata", "spec"]
    again, errors = validate_document(manifest)
    assert errors == [] and again == spec


# ----------------------------------------------------------------- the schema file


def _subschemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            found += _subschemas(value)
    return found


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema("marketmaker.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_object_in_the_schema_rejects_unknown_fields() -> None:
    schema = load_schema("marketmaker.schema.json")
    objects = [s for s in _subschemas(schema) if s.get("type") == "object"]
    assert len(objects) >= 9
    for s in objects:
        assert "additionalProperties" in s, s
        # only metadata.labels is a free-form map (of strings)
        assert s["additionalProperties"] is False or s["additionalProperties"] == {"type": "string"}


def test_every_schema_pattern_has_a_human_message() -> None:
    from controller.spec.schema_messages import PATTERN_MESSAGES

    patterns = {s["pattern"] for s in _subschemas(load_schema("marketmaker.schema.json")) if "pattern" in s}
    assert patterns <= set(PATTERN_MESSAGES)
