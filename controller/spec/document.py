"""One parsed YAML document → a ``MarketMakerSpec``, or every problem with it.

The pipeline for a document: normalise (decimal fields as ``Decimal``, YAML timestamps as
RFC 3339 strings) → JSON Schema (``schema_messages``) → semantic rules (``rules``) → errors
in document order → ``build``. Exists to hold that order in one place. May not read files or
parse YAML, and never raises on bad input: every problem becomes a ``ManifestError``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from controller.spec.build import build_spec
from controller.spec.results import FieldPath, ManifestError, Problem
from controller.spec.rules import semantic_problems
from controller.spec.schema_messages import is_header_problem, schema_problems
from controller.spec.types import MarketMakerSpec, Source
from controller.spec.values import mapping_at, to_decimal
from controller.spec.wording import format_path, show

# The number of errors listed for one document; the rest are counted in a last line.
MAX_ERRORS_PER_DOCUMENT = 20

_BAND_FIELDS = ("minMargin", "avgMargin", "maxMargin", "minAmount", "avgAmount", "maxAmount")
_DECIMAL_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("spec", "market"): ("tickSize", "minOrderSize"),
    ("spec", "referencePrice"): ("maxSpread",),
    ("spec", "limits"): ("maxPosition", "maxCollateral"),
    ("spec", "risk", "maxLoss"): ("amount",),
    ("spec", "risk", "pullOnMove"): ("move",),
}


def validate_document(
    doc: Any, file: str = "<string>", index: int = 0
) -> tuple[MarketMakerSpec | None, list[ManifestError]]:
    """Validate one already-parsed document (a mapping). The spec is None if any error."""
    if not isinstance(doc, dict):
        return None, [ManifestError(file, index, "", f"document must be a mapping (got {show(doc)})")]
    doc = _normalized(doc)
    problems, complete = schema_problems(doc)
    header = [p for p in problems if is_header_problem(p)]
    if header:
        # Not a bandctl/v1 MarketMaker at all: its other fields mean nothing to us.
        problems, complete = header, True
    elif complete:
        # Only then is every value the rules read known to have passed the schema.
        problems += semantic_problems(doc, [p for p, _ in problems])
    errors = _to_errors(problems, doc, file, index, complete=complete)
    if errors:
        return None, errors
    return build_spec(doc, Source(file, index)), []


def _normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy with decimal fields as Decimal and YAML timestamps as RFC 3339 strings.

    Only values already in the right shape are converted; anything else is left for the
    schema to reject with a precise message.
    """
    doc = copy.deepcopy(doc)
    for parent_path, keys in _DECIMAL_FIELDS.items():
        parent = mapping_at(doc, parent_path)
        for key in keys:
            if parent is not None and key in parent:
                parent[key] = to_decimal(parent[key])
    spec = mapping_at(doc, ("spec",))
    bands = spec.get("bands") if spec is not None else None
    if isinstance(bands, list):
        for band in bands:
            if isinstance(band, dict):
                for key in _BAND_FIELDS:
                    if key in band:
                        band[key] = to_decimal(band[key])
    schedule = mapping_at(doc, ("spec", "schedule"))
    for key in ("notBefore", "notAfter"):
        if schedule is not None and isinstance(schedule.get(key), datetime) and schedule[key].tzinfo:
            schedule[key] = schedule[key].isoformat()
    return doc


def _to_errors(
    problems: list[Problem], doc: dict[str, Any], file: str, index: int, *, complete: bool
) -> list[ManifestError]:
    """Errors in the order their fields appear in the document, at most ``MAX_ERRORS_PER_DOCUMENT``.

    A document that is wrong everywhere (a generated file gone bad, a hostile one) would
    otherwise print thousands of lines; the first ones say what is wrong, a last line how
    much more there is (``complete`` False: the schema check stopped counting).
    """
    positions = _Positions(doc)
    ordered = sorted(problems, key=lambda p: positions.of(p[0]))
    shown = ordered[:MAX_ERRORS_PER_DOCUMENT]
    errors = [ManifestError(file, index, format_path(path), message) for path, message in shown]
    hidden = len(ordered) - len(shown)
    if hidden or not complete:
        count = f"{hidden}" if complete else f"at least {hidden}"
        errors.append(ManifestError(file, index, "", f"… and {count} more error{'' if hidden == 1 else 's'}"))
    return errors


class _Positions:
    """Where a field path falls in document order, as a sortable tuple of indexes.

    Key indexes are computed once per mapping: a hostile mapping with thousands of unknown
    keys gives thousands of problems, and looking each key up by scanning would be quadratic.
    """

    def __init__(self, doc: Any) -> None:
        self._doc = doc
        self._key_index: dict[int, dict[Any, int]] = {}

    def of(self, path: FieldPath) -> tuple[int, ...]:
        position: list[int] = []
        node = self._doc
        for key in path:
            if isinstance(node, dict):
                keys = self._key_index.get(id(node))
                if keys is None:
                    keys = self._key_index[id(node)] = _index_keys(node)
                position.append(keys.get(key, len(node)))
                node = node.get(key)
            elif isinstance(node, list) and isinstance(key, int):
                position.append(key)
                node = node[key] if 0 <= key < len(node) else None
            else:
                position.append(0)
                node = None
        return tuple(position)


def _index_keys(mapping: dict[Any, Any]) -> dict[Any, int]:
    return {key: i for i, key in enumerate(mapping)}
