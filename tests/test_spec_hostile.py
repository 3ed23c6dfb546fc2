"""Hostile manifests cost bounded work, whatever the interpreter's recursion limit.

Reproduced first: py-clob-client-v2 imports py_ecc, which raises the recursion limit to
100,000; then 200 KB of nested "[" took 106 CPU-seconds to reject, and 1,800 malformed
bands ~22 CPU-seconds to validate. These tests count the work done (scanner tokens,
schema problems worded) instead of timing it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.spec import schema_messages, yaml_loader
from controller.spec.document import MAX_ERRORS_PER_DOCUMENT
from controller.spec.manifest import MAX_DEPTH, parse_manifest_text
from controller.spec.schema_messages import MAX_SCHEMA_PROBLEMS

CID = "0x" + "ab" * 32
HEAD = (
    "apiVersion: bandctl/v1\nkind: MarketMaker\nmetadata: {name: x}\nspec:\n"
    f"  market: {{conditionId: '{CID}', tokens: {{yes: '1', no: '2'}}}}\n"
)
GOOD_BAND = "{minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 1, avgAmount: 2, maxAmount: 3}"


@pytest.fixture
def huge_recursion_limit() -> Iterator[None]:
    """The limit py-clob-client-v2's import leaves behind."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest.fixture
def scanned_tokens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the manifest loader's scanner fetched tokens, per parse."""
    counter = [0]
    original = yaml_loader._ManifestLoader.fetch_more_tokens

    def counting(self: Any) -> None:
        counter[0] += 1
        original(self)

    monkeypatch.setattr(yaml_loader._ManifestLoader, "fetch_more_tokens", counting)
    return counter


@pytest.fixture
def worded_problems(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many schema problems were put into words."""
    counter = [0]
    original = schema_messages._translate

    def counting(error: Any) -> Iterator[Any]:
        for problem in original(error):
            counter[0] += 1
            yield problem

    monkeypatch.setattr(schema_messages, "_translate", counting)
    return counter


# ----------------------------------------------------------------- nesting


@pytest.mark.usefixtures("huge_recursion_limit")
@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("[" * 200_000 + "\n", 52),  # the reported 200 KB file
        ("{a: " * 50_000 + "\n", 205),
        ("- " * 100_000 + "x\n", 103),
        ("x: " + "[" * 100_000, 54),
    ],
)
def test_deep_nesting_stops_at_the_bound(text: str, column: int, scanned_tokens: list[int]) -> None:
    (error,) = parse_manifest_text(text, "deep.yaml").errors
    assert str(error) == f"deep.yaml[0]: YAML error at line 1, column {column}: nested deeper than 50 levels"
    # Stopped within the first levels, not after reading 200 KB of them.
    assert scanned_tokens[0] < 5 * MAX_DEPTH


@pytest.mark.usefixtures("huge_recursion_limit")
def test_deep_block_mappings_stop_at_the_bound(scanned_tokens: list[int]) -> None:
    text = "".join("  " * i + "k:\n" for i in range(1000))
    (error,) = parse_manifest_text(text, "deep.yaml").errors
    assert error.message == "YAML error at line 52, column 104: nested deeper than 50 levels"
    assert scanned_tokens[0] < 5 * MAX_DEPTH


def _nested(depth: int, kinds: list[str]) -> Any:
    value: Any = "leaf"
    for kind in kinds[:depth]:
        value = [value] if kind == "seq" else {"k": value}
    return value


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    depth=st.integers(min_value=MAX_DEPTH - 3, max_value=MAX_DEPTH + 3),
    kinds=st.lists(st.sampled_from(["seq", "map"]), min_size=MAX_DEPTH + 3, max_size=MAX_DEPTH + 3),
    flow=st.sampled_from([True, False, None]),
)
def test_the_bound_is_the_same_in_every_style(depth: int, kinds: list[str], flow: bool | None) -> None:
    """The scanner's early check never rejects what the graph check accepts, and vice versa.

    ``depth`` collections around a scalar put the scalar at node depth ``depth``.
    """
    text = yaml.safe_dump(_nested(depth, kinds), default_flow_style=flow, width=10_000)
    errors = parse_manifest_text(text, "m.yaml").errors
    messages = [e.message for e in errors]
    if depth <= MAX_DEPTH:
        assert messages == ["document must be a mapping (got a list)"] or messages[0].startswith("missing required")
    else:
        assert len(messages) == 1 and messages[0].endswith(f"nested deeper than {MAX_DEPTH} levels")


def test_aliases_cannot_hide_depth() -> None:
    inner = "[" * 30 + "x" + "]" * 30
    text = f"a: &deep {inner}\nb: " + "[" * 25 + "*deep" + "]" * 25 + "\n"
    (error,) = parse_manifest_text(text, "m.yaml").errors
    assert error.message.endswith("nested deeper than 50 levels")


# ----------------------------------------------------------------- many errors


def bands_text(count: int, band: str) -> str:
    return HEAD + "  bands:\n" + f"    - {band}\n" * count


def test_1800_malformed_bands_give_a_capped_list_for_bounded_work(worded_problems: list[int]) -> None:
    text = bands_text(1800, "{minMargin: a, avgMargin: b, maxMargin: c}")
    assert len(text) > 47_000
    started = time.process_time()
    lines = [str(e) for e in parse_manifest_text(text, "m.yaml").errors]
    elapsed = time.process_time() - started
    assert len(lines) == MAX_ERRORS_PER_DOCUMENT + 1
    assert lines[:4] == [
        "m.yaml[0] spec.bands[0]: missing required field 'minAmount'",
        "m.yaml[0] spec.bands[0]: missing required field 'avgAmount'",
        "m.yaml[0] spec.bands[0]: missing required field 'maxAmount'",
        "m.yaml[0] spec.bands[0].minMargin: must be a decimal number such as 0.01 (got 'a')",
    ]
    assert lines[-1] == f"m.yaml[0]: … and at least {MAX_SCHEMA_PROBLEMS - MAX_ERRORS_PER_DOCUMENT} more errors"
    assert worded_problems[0] <= MAX_SCHEMA_PROBLEMS
    assert elapsed < 15  # sanity guard only (it took 22 s); the bound is the count above


def zero_amount_bands(count: int) -> str:
    """``count`` disjoint bands, each with one schema problem (maxAmount 0)."""
    rows = [
        f"    - {{minMargin: {3 * i / 100:.2f}, avgMargin: {(3 * i + 1) / 100:.2f}, "
        f"maxMargin: {(3 * i + 2) / 100:.2f}, minAmount: 0, avgAmount: 0, maxAmount: 0}}\n"
        for i in range(count)
    ]
    return HEAD + "  bands:\n" + "".join(rows)


def test_a_few_more_errors_than_shown_are_counted_exactly() -> None:
    lines = [str(e) for e in parse_manifest_text(zero_amount_bands(MAX_ERRORS_PER_DOCUMENT + 7), "m.yaml").errors]
    assert lines[:MAX_ERRORS_PER_DOCUMENT] == [
        f"m.yaml[0] spec.bands[{i}].maxAmount: must be greater than 0 (got 0)" for i in range(MAX_ERRORS_PER_DOCUMENT)
    ]
    assert lines[MAX_ERRORS_PER_DOCUMENT:] == ["m.yaml[0]: … and 7 more errors"]


def test_one_more_error_than_shown() -> None:
    errors = parse_manifest_text(zero_amount_bands(MAX_ERRORS_PER_DOCUMENT + 1), "m.yaml").errors
    assert str(errors[-1]) == "m.yaml[0]: … and 1 more error"


def test_exactly_as_many_errors_as_shown_has_no_summary_line() -> None:
    errors = parse_manifest_text(zero_amount_bands(MAX_ERRORS_PER_DOCUMENT), "m.yaml").errors
    assert (
        len(errors) == MAX_ERRORS_PER_DOCUMENT
        and errors[-1].path == f"spec.bands[{MAX_ERRORS_PER_DOCUMENT - 1}].maxAmount"
    )


def test_semantic_rules_over_many_bands_are_capped_too() -> None:
    lines = [str(e) for e in parse_manifest_text(bands_text(1500, GOOD_BAND), "m.yaml").errors]
    assert lines[0] == "m.yaml[0] spec.bands[1]: overlaps bands[0] (margins (0.01, 0.03] and (0.01, 0.03] intersect)"
    assert lines[-1] == "m.yaml[0]: … and 1479 more errors"


def test_rules_are_skipped_when_the_schema_stopped_counting() -> None:
    """Values the schema never reached must not reach the rules (a str vs Decimal compare)."""
    bad = "{minMargin: a, avgMargin: b, maxMargin: c, minAmount: d, avgAmount: e, maxAmount: f}"
    text = bands_text(MAX_SCHEMA_PROBLEMS, bad) + f"    - {GOOD_BAND.replace('avgMargin: 0.02', 'avgMargin: x')}\n"
    errors = parse_manifest_text(text, "m.yaml").errors
    assert errors[-1].message.startswith("… and at least ")


def test_one_mapping_with_thousands_of_unknown_keys(worded_problems: list[int]) -> None:
    text = HEAD + f"  bands: [{GOOD_BAND}]\n" + "".join(f"  bandz{i}: 1\n" for i in range(20_000))
    lines = [str(e) for e in parse_manifest_text(text, "m.yaml").errors]
    assert lines[:2] == ["m.yaml[0] spec: unknown field 'bandz0'", "m.yaml[0] spec: unknown field 'bandz1'"]
    assert len(lines) == MAX_ERRORS_PER_DOCUMENT + 1
    assert worded_problems[0] <= MAX_SCHEMA_PROBLEMS


def test_labels_with_thousands_of_bad_values() -> None:
    labels = "".join(f"    l{i}: {i}\n" for i in range(10_000))
    text = (
        HEAD.replace("metadata: {name: x}", "metadata:\n  name: x\n  labels:\n" + labels) + f"  bands: [{GOOD_BAND}]\n"
    )
    lines = [str(e) for e in parse_manifest_text(text, "m.yaml").errors]
    assert lines[0] == "m.yaml[0] metadata.labels.l0: must be a string (got a number; put the value in quotes)"
    assert lines[-1].startswith("m.yaml[0]: … and at least ")


def test_listing_is_the_same_in_every_run_when_counting_stops() -> None:
    """Labels are walked in document order, not hash order (see schema_messages)."""
    from controller.schemas import load_schema

    assert "patternProperties" not in str(load_schema("marketmaker.schema.json"))
    labels = "".join(f"    l{i}: {i}\n" for i in range(MAX_SCHEMA_PROBLEMS + 5))
    text = (
        HEAD.replace("metadata: {name: x}", "metadata:\n  name: x\n  labels:\n" + labels) + f"  bands: [{GOOD_BAND}]\n"
    )
    paths = [e.path for e in parse_manifest_text(text, "m.yaml").errors]
    assert paths[:-1] == [f"metadata.labels.l{i}" for i in range(MAX_ERRORS_PER_DOCUMENT)]


def test_an_aliased_mapping_is_reported_at_every_place_it_appears() -> None:
    text = HEAD + "  bands: [&b {minMargin: 0.01}, *b]\n"
    lines = [str(e) for e in parse_manifest_text(text, "m.yaml").errors]
    assert [line.split(":")[0] for line in lines] == ["m.yaml[0] spec.bands[0]"] * 5 + ["m.yaml[0] spec.bands[1]"] * 5
