"""JSON Schema check of one document, each violation worded as one line for a human.

Exists because jsonschema's own messages dump whole Python values and name schema internals
(``'x' does not match '^[a-z0-9]...'``). Here every keyword our schema uses gets a sentence
in manifest terms. May not check anything the schema does not say (see ``rules``) and may
not build specs.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema

from controller.schemas import load_schema
from controller.spec.results import FieldPath, Problem
from controller.spec.wording import one_line, show

SCHEMA_NAME = "marketmaker.schema.json"
# Far more than anyone reads (``document`` lists 20), few enough to cost milliseconds.
MAX_SCHEMA_PROBLEMS = 1000


def _is_number(_checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float | Decimal):
        return math.isfinite(value)
    return False


def _is_integer(checker: Any, value: Any) -> bool:
    return _is_number(checker, value) and (isinstance(value, int) or value == int(value))


_BASE = jsonschema.Draft202012Validator


def _additional_properties_in_order(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's ``additionalProperties``, but visiting extra keys in document order.

    The stock keyword walks them as a set, in hash order; once collection stops early (see
    ``schema_problems``) that would make which errors are listed change from run to run.
    """
    if validator.is_type(instance, "object") and validator.is_type(additional, "object"):
        known = schema.get("properties", {})
        for key, value in instance.items():
            if key not in known:
                yield from validator.descend(value, additional, path=key)
        return
    yield from _BASE.VALIDATORS["additionalProperties"](validator, additional, instance, schema)


@cache
def _validator() -> Any:
    checker = _BASE.TYPE_CHECKER.redefine_many({"number": _is_number, "integer": _is_integer})
    cls = jsonschema.validators.extend(
        _BASE, validators={"additionalProperties": _additional_properties_in_order}, type_checker=checker
    )
    return cls(load_schema(SCHEMA_NAME))


_TIMESTAMP_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
TIMESTAMP_MESSAGE = "must be an RFC 3339 timestamp with a timezone, e.g. 2026-01-01T00:00:00Z"
DURATION_PATTERN = "^([0-9]{1,9}d)?([0-9]{1,9}h)?([0-9]{1,9}m)?([0-9]{1,9}s)?$"
DURATION_MESSAGE = "must be a duration such as 30s, 10m, 24h or 1h30m (units d, h, m, s, largest first)"

# Every "pattern" in the schema, in words (a test holds the two in step).
PATTERN_MESSAGES = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    ),
    "^0x[0-9a-fA-F]{64}$": "must be 0x followed by 64 hex digits",
    "^(0|[1-9][0-9]{0,77})$": "must be a token id: a uint256 in decimal digits, without leading zeros",
    "^[+-]?[0-9]+(\\.[0-9]+)?$": "must be a decimal number such as 0.01",
    _TIMESTAMP_PATTERN: TIMESTAMP_MESSAGE,
    DURATION_PATTERN: DURATION_MESSAGE,
}


def schema_problems(doc: dict[str, Any]) -> tuple[list[Problem], bool]:
    """Schema violations in ``doc`` (decimals already as ``Decimal``), each once, and whether
    that is all of them.

    Collection stops after ``MAX_SCHEMA_PROBLEMS``: jsonschema's cost grows with the number
    of errors times their depth, so a document wrong everywhere (tens of thousands of broken
    bands fit under the YAML node limit) would otherwise cost seconds to reject.
    """
    problems: dict[Problem, None] = {}  # an ordered set
    required_done: set[tuple[object, ...]] = set()
    for error in _validator().iter_errors(doc):
        if error.validator == "required":
            # jsonschema yields one error per missing key, each carrying the whole list:
            # word them all from the first, or a mapping missing k keys costs k * k. Keyed by
            # place, not object: a YAML alias puts one mapping in several places.
            place = tuple(error.absolute_path)
            if place in required_done:
                continue
            required_done.add(place)
        for problem in _translate(error):
            problems.setdefault(problem)
            if len(problems) >= MAX_SCHEMA_PROBLEMS:
                return list(problems), False
    return list(problems), True


def is_header_problem(problem: Problem) -> bool:
    """A problem with apiVersion or kind: the document is not a bandctl/v1 MarketMaker."""
    path, message = problem
    if path[:1] in (("apiVersion",), ("kind",)):
        return True
    return path == () and message in ("missing required field 'apiVersion'", "missing required field 'kind'")


def _translate(error: jsonschema.ValidationError) -> Iterator[Problem]:
    path: FieldPath = tuple(error.absolute_path)
    # jsonschema types these as "maybe unset"; on an error from iter_errors they are set.
    keyword: Any = error.validator
    expected: Any = error.validator_value
    value: Any = error.instance
    schema: Any = error.schema
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        for key in value:
            if key not in known:
                yield path, f"unknown field {show(key)}{_suggestion(key, known)}"
    elif keyword == "required":
        for key in expected:
            if key not in value:
                yield path, f"missing required field {show(key)}"
    elif keyword == "type" and schema.get("pattern") == DURATION_PATTERN:
        hint = "; add a unit" if _is_number(None, value) else ""
        yield path, f"{DURATION_MESSAGE} (got {show(value)}{hint})"
    elif keyword == "type":
        yield path, _type_message(expected, value)
    elif keyword == "const":
        yield path, f"must be {show(expected)} (got {show(value)})"
    elif keyword == "enum":
        yield path, f"must be one of {', '.join(show(v) for v in expected)} (got {show(value)})"
    elif keyword == "pattern":
        rule = PATTERN_MESSAGES.get(expected, "has an invalid format")
        yield path, f"{rule} (got {show(value)})"
    elif keyword in _RANGE_WORDS:
        yield path, f"must be {_RANGE_WORDS[keyword]} {expected} (got {show(value)})"
    elif keyword in ("minItems", "minLength"):
        yield path, "must not be empty"
    elif keyword == "maxLength":
        yield path, f"must be at most {expected} characters long (got {len(value)})"
    else:  # not used by our schema today; still one clean line
        yield path, one_line(error.message)


_RANGE_WORDS = {
    "minimum": "at least",
    "exclusiveMinimum": "greater than",
    "maximum": "at most",
    "exclusiveMaximum": "less than",
}

_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _type_message(expected: str | list[str], value: Any) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    if "number" in kinds:
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            return f"must be a finite number (got {show(value)})"
        return f"must be a number (got {show(value)})"
    if kinds == ["string"]:
        if isinstance(value, datetime) and value.tzinfo is None:
            return f"{TIMESTAMP_MESSAGE} (got {value.isoformat()} without a timezone)"
        if isinstance(value, date):
            return f"{TIMESTAMP_MESSAGE} (got the date {value.isoformat()})"
        if _is_number(None, value) or isinstance(value, float):
            return "must be a string (got a number; put the value in quotes)"
    words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    return f"must be {words} (got {show(value)})"


def _suggestion(key: Any, known: list[str]) -> str:
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {show(close[0])}?)" if close else ""
