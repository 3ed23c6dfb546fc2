"""The nesting bound: no text it lets through nests deeper (the openers-count shortcut
included), and on JSON documents it answers their real depth (strings' brackets do not
count, escapes do not end strings)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from controller.venue.boundedjson import _scan_within, nesting_within

_BRACKETY_TEXT = st.text(alphabet='[]{}"\\a', max_size=60)
_JSON = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _open_depth(text: str) -> int:
    """The deepest run of unclosed openers outside strings that a recursive decoder reaches."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch == "\\":
            break  # a backslash outside a string: the decoder refuses the text here
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


@given(_BRACKETY_TEXT, st.integers(min_value=0, max_value=12))
@example('[""""\\[', 1)  # a backslash outside a string: the scan and the decoder part ways there
def test_no_text_within_the_bound_nests_deeper_than_it(text: str, max_depth: int) -> None:
    for data in (text, text.encode()):
        if nesting_within(data, max_depth):
            assert _open_depth(text) <= max_depth
    if text.count("[") + text.count("{") > max_depth:  # the shortcut does not apply: the scan answers
        assert nesting_within(text, max_depth) == _scan_within(text.encode(), max_depth)


@given(_JSON, st.integers(min_value=0, max_value=8))
@example([[], {"\x1f": None}], 2)  # an escape ends the last string
def test_a_document_is_within_the_bound_exactly_when_its_depth_is(value: Any, max_depth: int) -> None:
    assert nesting_within(json.dumps(value), max_depth) == (_depth(value) <= max_depth)


def test_an_escape_at_the_end_of_a_string_does_not_hide_its_closing_quote() -> None:
    # The scan once kept the backslash of "\u001f" and lost the quote after it.
    assert nesting_within(json.dumps([[], {"\x1f": None}]), 2)
    assert nesting_within(json.dumps([{"k": "\\"}, ["é\n"]] * 20, ensure_ascii=True), 2)


def test_deep_documents_are_refused_and_brackets_in_strings_do_not_count() -> None:
    assert not nesting_within("[" * 33 + "]" * 33, 32)
    assert nesting_within(json.dumps({"a": "[[[[[[[[[[" * 10}), 1)
