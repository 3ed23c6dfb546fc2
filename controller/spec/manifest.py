"""Load and validate ``MarketMaker`` manifests: YAML files → typed, validated specs.

Pipeline for one file: read bytes (size cap, UTF-8, no NULs) → YAML documents
(safe loader, see ``_ManifestLoader``) → per document: JSON Schema
(``schemas/marketmaker.schema.json``) → semantic rules the schema cannot express
→ ``MarketMakerSpec``. Nothing here raises on bad input: every problem becomes a
``ManifestError`` whose ``str()`` is one line, ``<file>[<doc>] <field.path>: <message>``.

Rules worth knowing (also in the schema's description):

* ``minMargin <= avgMargin < maxMargin``. ``avgMargin == minMargin`` is allowed because
  Polymarket's own ``config/bands.json`` uses it and the bid band ``(p-max, p-min]`` includes
  ``p-min``; ``avgMargin == maxMargin`` is rejected because an order placed at ``p-avg`` would
  fall outside its own band, so the controller would never converge.
* ``minAmount <= avgAmount <= maxAmount`` and ``maxAmount > 0``.
* Bands are the intervals ``(minMargin, maxMargin]``; they may touch but not overlap.
* Empty YAML documents (e.g. a trailing ``---``) are skipped but keep their position, so
  ``[i]`` is always the i-th document of the stream, counted from 0. A file with no
  non-empty document is an error.
* A file with a YAML error yields no specs at all, even from documents before the error:
  a truncated file (caught mid-write by a reloader) must not look like a smaller fleet.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.schemas import load_schema
from controller.spec.types import (
    Band,
    Limits,
    MarketMakerSpec,
    MarketRef,
    OrderSettings,
    ReferencePrice,
    Schedule,
    Source,
)
from controller.spec.textfile import UnreadableFile, os_reason, read_text

API_VERSION = "bandctl/v1"
KIND = "MarketMaker"
SCHEMA_NAME = "marketmaker.schema.json"
TICK_SIZES = tuple(Decimal(t) for t in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"))

# Real manifests are a few KiB; this bounds memory and, with MAX_NODES, the time a hostile
# file can cost a hot reload (about 1-2 s of pure-Python parsing at worst).
MAX_FILE_BYTES = 2 * 1024 * 1024
# YAML graph limits, checked before any Python object is built: nodes per file while
# parsing (bounds parse time to ~1 s), nodes per document with aliases expanded ("billion
# laughs"), and nesting depth (recursion). A real manifest has about 100 nodes.
MAX_NODES = 50_000
MAX_DEPTH = 50
MAX_INT_DIGITS = 100
MAX_DOCUMENTS = 1000  # per file; also bounds how many error lines one file can produce

_BAND_FIELDS = ("minMargin", "avgMargin", "maxMargin", "minAmount", "avgAmount", "maxAmount")
_DECIMAL_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("spec", "market"): ("tickSize", "minOrderSize"),
    ("spec", "referencePrice"): ("maxSpread",),
    ("spec", "limits"): ("maxPosition", "maxCollateral"),
}
_DECIMAL_RE = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
_UINT256_LIMIT = 2**256

FieldPath = tuple[str | int, ...]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ManifestError:
    """One problem in one place. ``str(error)`` is the one-line message shown to users."""

    file: str
    index: int | None  # YAML document index (0-based); None for whole-file problems
    path: str  # dotted field path, e.g. "spec.bands[2].maxMargin"; "" for the document itself
    message: str

    def __str__(self) -> str:
        where = self.file if self.index is None else f"{self.file}[{self.index}]"
        if self.path:
            where = f"{where} {self.path}"
        return f"{where}: {self.message}"


class ManifestErrors(Exception):
    """Raised by ``load_manifests``; ``.errors`` holds every problem found."""

    def __init__(self, errors: Iterable[ManifestError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class FileLoad:
    """The outcome for one file, so a reloader can keep the last good specs per file."""

    path: str
    specs: list[MarketMakerSpec] = field(default_factory=list)
    errors: list[ManifestError] = field(default_factory=list)
    # metadata.name per document index, also for documents that failed validation:
    # duplicate detection must see them too.
    names: dict[int, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    specs: list[MarketMakerSpec]
    errors: list[ManifestError]
    files: list[FileLoad]

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- public API


def validate_paths(paths: Sequence[str | os.PathLike[str]]) -> LoadResult:
    """Load every manifest under ``paths`` (files or directories) and report all problems.

    A directory contributes its ``*.yaml``/``*.yml`` files directly inside, sorted by name
    (dotfiles skipped: editor lock files and Kubernetes' ``..data`` links live there). Specs
    come out in argument order, then file name, then document. A file reached twice (say,
    as ``dir/`` and ``dir/a.yaml``) is loaded once.
    """
    loads: list[FileLoad] = []
    seen: set[str] = set()
    for raw in paths:
        for file, error in _expand_path(os.fspath(raw)):
            if error is not None:
                loads.append(FileLoad(path=file, errors=[error]))
                continue
            real = os.path.realpath(file)
            if real in seen:
                continue
            seen.add(real)
            loads.append(_load_file(file))
    _flag_duplicate_names(loads)
    return LoadResult(
        specs=[spec for load in loads for spec in load.specs],
        errors=[error for load in loads for error in load.errors],
        files=loads,
    )


def load_manifests(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> list[MarketMakerSpec]:
    """Return the specs under ``path``; raise ``ManifestErrors`` if anything is invalid."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    result = validate_paths(paths)
    if result.errors:
        raise ManifestErrors(result.errors)
    return result.specs


def parse_manifest_text(text: str, file: str = "<string>") -> FileLoad:
    """Validate YAML text as if it were the content of ``file``."""
    problem = _text_problem(text)
    if problem is not None:
        return FileLoad(path=file, errors=[ManifestError(file, None, "", problem)])
    load = _parse_text(text, file)
    _flag_duplicate_names([load])
    return load


def validate_document(
    doc: Any, file: str = "<string>", index: int = 0
) -> tuple[MarketMakerSpec | None, list[ManifestError]]:
    """Validate one already-parsed document (a mapping). The spec is None if any error."""
    if not isinstance(doc, dict):
        return None, [ManifestError(file, index, "", f"document must be a mapping (got {_show(doc)})")]
    doc = _normalized(doc)
    problems = _schema_problems(doc)
    header = [p for p in problems if _is_header_problem(p)]
    if header:
        # Not a bandctl/v1 MarketMaker at all: its other fields mean nothing to us.
        problems = header
    else:
        problems += _semantic_problems(doc, [p for p, _ in problems])
    errors = _to_errors(problems, doc, file, index)
    if errors:
        return None, errors
    return _build_spec(doc, Source(file, index)), []


def spec_to_manifest(spec: MarketMakerSpec) -> dict[str, Any]:
    """The manifest mapping for ``spec`` (decimals as ``Decimal``, times as RFC 3339 strings).

    ``validate_document(spec_to_manifest(s))`` gives back a spec equal to ``s``; so does
    parsing ``dump_manifests([spec_to_manifest(s)])``.
    """
    metadata: dict[str, Any] = {"name": spec.name}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    body: dict[str, Any] = {
        "market": _market_to_manifest(spec.market),
        "bands": [_band_to_manifest(b) for b in spec.bands],
        "referencePrice": {
            "source": spec.reference_price.source,
            "maxSpread": spec.reference_price.max_spread,
        },
    }
    limits = _drop_none({"maxPosition": spec.limits.max_position, "maxCollateral": spec.limits.max_collateral})
    if limits:
        body["limits"] = limits
    body["orders"] = _drop_none(
        {"type": spec.orders.type, "ttlSeconds": spec.orders.ttl_seconds, "postOnly": spec.orders.post_only}
    )
    schedule = _drop_none(
        {
            "notBefore": _format_timestamp(spec.schedule.not_before),
            "notAfter": _format_timestamp(spec.schedule.not_after),
        }
    )
    if schedule:
        body["schedule"] = schedule
    body["paused"] = spec.paused
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}


def dump_manifests(manifests: Iterable[Mapping[str, Any]]) -> str:
    """YAML text for manifest mappings, one document each, in a stable, readable form.

    Decimals are written as plain YAML numbers when that reads back exactly, else quoted.
    """
    return yaml.dump_all(
        [_plain(m) for m in manifests],
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,  # PyYAML mis-quotes raw NEL (\x85) and the like; escapes are exact
        explicit_start=False,
        width=120,
    )


# --------------------------------------------------------------------------- files


def _expand_path(path: str) -> Iterator[tuple[str, ManifestError | None]]:
    """Yield (file, None) for each manifest file under ``path``, or (path, error)."""
    if not os.path.isdir(path):
        yield path, None  # _load_file reports missing and unreadable files
        return
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        yield path, ManifestError(path, None, "", f"cannot list directory: {os_reason(exc)}")
        return
    files = [
        os.path.join(path, n)
        for n in names
        if not n.startswith(".") and n.endswith((".yaml", ".yml")) and not os.path.isdir(os.path.join(path, n))
    ]
    if not files:
        yield path, ManifestError(path, None, "", "no manifests found (*.yaml, *.yml)")
    for file in files:
        yield file, None


def _load_file(file: str) -> FileLoad:
    try:
        text = read_text(file, MAX_FILE_BYTES, expected="manifests must be UTF-8 YAML")
    except UnreadableFile as exc:
        return FileLoad(path=file, errors=[ManifestError(file, None, "", str(exc))])
    return _parse_text(text, file)


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_FILE_BYTES:
        return f"file too large (over {MAX_FILE_BYTES // (1024 * 1024)} MiB)"
    if "\x00" in text:
        return "binary file (contains NUL bytes); manifests must be UTF-8 YAML"
    return None


def _parse_text(text: str, file: str) -> FileLoad:
    load = FileLoad(path=file)
    documents, yaml_error = _load_documents(text.removeprefix("\ufeff"), file)
    present = [(i, doc) for i, doc in documents if doc is not None]
    if not present and yaml_error is None:
        load.errors.append(ManifestError(file, None, "", "empty file (no YAML documents)"))
    for index, doc in present:
        name = _declared_name(doc)
        if name is not None:
            load.names[index] = name
        spec, errors = validate_document(doc, file, index)
        load.errors.extend(errors)
        if spec is not None:
            load.specs.append(spec)
    if yaml_error is not None:
        load.errors.append(yaml_error)
        load.specs.clear()
    return load


def _declared_name(doc: Any) -> str | None:
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def _flag_duplicate_names(loads: list[FileLoad]) -> None:
    first: dict[str, Source] = {}
    for load in loads:
        dropped: set[int] = set()
        for index in sorted(load.names):
            name = load.names[index]
            where = Source(load.path, index)
            if name in first:
                load.errors.append(
                    ManifestError(
                        load.path,
                        index,
                        "metadata.name",
                        f"duplicate name {_show(name)} (first defined in {first[name]})",
                    )
                )
                dropped.add(index)
            else:
                first[name] = where
        if dropped:
            load.specs = [s for s in load.specs if s.source is None or s.source.index not in dropped]
            load.errors.sort(key=lambda e: -1 if e.index is None else e.index)


# --------------------------------------------------------------------------- YAML


class _ManifestLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no arbitrary objects) with three changes for manifests.

    * Booleans are only true/false (YAML 1.2): the format uses ``yes``/``no`` as keys
      (``tokens``) and values (``quote``), which YAML 1.1 would turn into booleans.
    * Duplicate keys are an error instead of the last one silently winning.
    * The composed graph is measured before construction (aliases expanded, nesting depth),
      so a "billion laughs" document is rejected without building anything.

    The C loader is not used: libyaml's composer recurses without limit and segfaults on a
    deeply nested document, which would take the whole controller down.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._composed = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # Stop a huge flat document while composing it: parsing costs ~25 µs a node.
        self._composed += 1
        if self._composed > MAX_NODES:
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, f"file has more than {MAX_NODES} YAML nodes", mark)
        return super().compose_node(parent, index)

    def construct_document(self, node: Node) -> Any:
        _check_graph(node)
        return super().construct_document(node)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            # e.g. a timestamp with month 13 or an integer over Python's digit limit
            raise ConstructorError(None, None, f"invalid value: {exc}", node.start_mark) from None

    def construct_yaml_int(self, node: Node) -> int:
        # A uint256 has 78 digits; far longer literals are hostile (int() of them is quadratic).
        if len(str(node.value)) > MAX_INT_DIGITS:
            raise ConstructorError(None, None, f"number longer than {MAX_INT_DIGITS} digits", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {_show(key)}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_ManifestLoader.add_constructor("tag:yaml.org,2002:int", _ManifestLoader.construct_yaml_int)
_BOOL_TAG = "tag:yaml.org,2002:bool"
_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ManifestLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _check_graph(root: Node) -> None:
    """Raise ConstructorError if ``root`` expands to too many nodes, nests too deep or loops."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    active: set[int] = set()

    def measure(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in active:
            raise ConstructorError(None, None, "recursive alias (a node contains itself)", node.start_mark)
        if key not in memo:
            if depth > MAX_DEPTH:
                raise ConstructorError(None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
            active.add(key)
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = list(node.value)
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            size, height = 1, 0
            for child in children:
                child_size, child_height = measure(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
            active.discard(key)
            memo[key] = (size, height)
        size, height = memo[key]
        if depth + height > MAX_DEPTH:
            raise ConstructorError(None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        if size > MAX_NODES:
            raise ConstructorError(
                None, None, f"document expands to more than {MAX_NODES} nodes (anchors/aliases?)", node.start_mark
            )
        return size, height

    measure(root, 0)


def _load_documents(text: str, file: str) -> tuple[list[tuple[int, Any]], ManifestError | None]:
    """All documents up to the first YAML error, and that error (with its document index)."""
    documents: list[tuple[int, Any]] = []
    loader: _ManifestLoader | None = None
    try:
        loader = _ManifestLoader(text)  # the reader checks for forbidden characters here
        while loader.check_data():
            if len(documents) == MAX_DOCUMENTS:
                message = f"file has more than {MAX_DOCUMENTS} YAML documents"
                return documents, ManifestError(file, len(documents), "", message)
            documents.append((len(documents), loader.get_data()))
    except yaml.YAMLError as exc:
        return documents, ManifestError(file, len(documents), "", _yaml_message(exc))
    except RecursionError:
        return documents, ManifestError(file, len(documents), "", "YAML error: nested too deep")
    finally:
        if loader is not None:
            loader.dispose()
    return documents, None


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem, mark = exc.problem, exc.problem_mark
        context, context_mark = exc.context, exc.context_mark
        if problem is None:
            problem, mark, context = context, context_mark, None
        text = f"YAML error{_at(mark)}: {problem}"
        if context:
            text += f" ({context}{_at(context_mark)})"
        return _one_line(text)
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"YAML error at character {exc.position + 1}: unacceptable character #x{char:04x}: {exc.reason}"
    return _one_line(f"YAML error: {exc}")


def _at(mark: Any) -> str:
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


class _ManifestDumper(yaml.SafeDumper):
    """SafeDumper that writes Decimal as a YAML number when that reads back exactly."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = _decimal_text(value)
    if "." not in text:
        return dumper.represent_scalar("tag:yaml.org,2002:int", text)
    if Decimal(repr(float(text))) == value:
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)
    return dumper.represent_str(text)


_ManifestDumper.add_representer(Decimal, _represent_decimal)


def _plain(value: Any) -> Any:
    """Copy with mappings as plain dicts (the dumper knows no other Mapping)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- normalisation


def _normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy with decimal fields as Decimal and YAML timestamps as RFC 3339 strings.

    Only values already in the right shape are converted; anything else is left for the
    schema to reject with a precise message.
    """
    doc = copy.deepcopy(doc)
    for parent_path, keys in _DECIMAL_FIELDS.items():
        parent = _mapping_at(doc, parent_path)
        for key in keys:
            if parent is not None and key in parent:
                parent[key] = _to_decimal(parent[key])
    spec = _mapping_at(doc, ("spec",))
    bands = spec.get("bands") if spec is not None else None
    if isinstance(bands, list):
        for band in bands:
            if isinstance(band, dict):
                for key in _BAND_FIELDS:
                    if key in band:
                        band[key] = _to_decimal(band[key])
    schedule = _mapping_at(doc, ("spec", "schedule"))
    for key in ("notBefore", "notAfter"):
        if schedule is not None and isinstance(schedule.get(key), datetime) and schedule[key].tzinfo:
            schedule[key] = schedule[key].isoformat()
    return doc


def _mapping_at(doc: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        # repr is the shortest text that reads back as this float: 0.1 -> Decimal("0.1")
        return Decimal(repr(value))
    if isinstance(value, str) and _DECIMAL_RE.match(value):
        return Decimal(value)
    return value


# --------------------------------------------------------------------------- schema


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


@cache
def _validator() -> jsonschema.protocols.Validator:
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({"number": _is_number, "integer": _is_integer})
    cls = jsonschema.validators.extend(base, type_checker=checker)
    return cls(load_schema(SCHEMA_NAME))


Problem = tuple[FieldPath, str]

_TIMESTAMP_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_TIMESTAMP_MESSAGE = "must be an RFC 3339 timestamp with a timezone, e.g. 2026-01-01T00:00:00Z"

_PATTERN_MESSAGES = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    ),
    "^0x[0-9a-fA-F]{64}$": "must be 0x followed by 64 hex digits",
    "^(0|[1-9][0-9]{0,77})$": "must be a token id: a uint256 in decimal digits, without leading zeros",
    "^[+-]?[0-9]+(\\.[0-9]+)?$": "must be a decimal number such as 0.01",
    _TIMESTAMP_PATTERN: _TIMESTAMP_MESSAGE,
}


def _schema_problems(doc: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for error in _validator().iter_errors(doc):
        for problem in _translate(error):
            if problem not in problems:  # "required" yields one error per missing key
                problems.append(problem)
    return problems


def _translate(error: jsonschema.ValidationError) -> Iterator[Problem]:
    path: FieldPath = tuple(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        for key in value:
            if key not in known:
                yield path, f"unknown field {_show(key)}{_suggestion(key, known)}"
    elif keyword == "required":
        for key in expected:
            if key not in value:
                yield path, f"missing required field {_show(key)}"
    elif keyword == "type":
        yield path, _type_message(expected, value)
    elif keyword == "const":
        yield path, f"must be {_show(expected)} (got {_show(value)})"
    elif keyword == "enum":
        yield path, f"must be one of {', '.join(_show(v) for v in expected)} (got {_show(value)})"
    elif keyword == "pattern":
        rule = _PATTERN_MESSAGES.get(expected, "has an invalid format")
        yield path, f"{rule} (got {_show(value)})"
    elif keyword in _RANGE_WORDS:
        yield path, f"must be {_RANGE_WORDS[keyword]} {expected} (got {_show(value)})"
    elif keyword in ("minItems", "minLength"):
        yield path, "must not be empty"
    elif keyword == "maxLength":
        yield path, f"must be at most {expected} characters long (got {len(value)})"
    else:  # not used by our schema today; still one clean line
        yield path, _one_line(error.message)


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
            return f"must be a finite number (got {_show(value)})"
        return f"must be a number (got {_show(value)})"
    if kinds == ["string"]:
        if isinstance(value, datetime) and value.tzinfo is None:
            return f"{_TIMESTAMP_MESSAGE} (got {value.isoformat()} without a timezone)"
        if isinstance(value, date):
            return f"{_TIMESTAMP_MESSAGE} (got the date {value.isoformat()})"
        if _is_number(None, value) or isinstance(value, float):
            return "must be a string (got a number; put the value in quotes)"
    words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    return f"must be {words} (got {_show(value)})"


def _suggestion(key: Any, known: list[str]) -> str:
    if not isinstance(key, str):
        return ""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {_show(close[0])}?)" if close else ""


def _is_header_problem(problem: Problem) -> bool:
    path, message = problem
    if path[:1] in (("apiVersion",), ("kind",)):
        return True
    return path == () and message in ("missing required field 'apiVersion'", "missing required field 'kind'")


# --------------------------------------------------------------------------- semantic rules


def _semantic_problems(doc: dict[str, Any], dirty: list[FieldPath]) -> list[Problem]:
    """Rules the schema cannot express, checked on each value that passed the schema."""
    spec = _mapping_at(doc, ("spec",))
    if spec is None:
        return []
    market = _Valid(_mapping_at(doc, ("spec", "market")), ("spec", "market"), dirty)
    tokens = _Valid(market.mapping.get("tokens"), ("spec", "market", "tokens"), dirty)
    orders = _Valid(_mapping_at(doc, ("spec", "orders")), ("spec", "orders"), dirty)
    schedule = _Valid(_mapping_at(doc, ("spec", "schedule")), ("spec", "schedule"), dirty)
    bands = spec.get("bands")
    band_views = (
        [_Valid(band, ("spec", "bands", i), dirty) for i, band in enumerate(bands)] if isinstance(bands, list) else []
    )
    return (
        _band_problems(band_views)
        + _token_problems(tokens)
        + _tick_problems(market)
        + _order_problems(orders)
        + _schedule_problems(schedule)
    )


class _Valid:
    """The values of one mapping that passed the schema: ``get`` is None for the others."""

    def __init__(self, mapping: Any, path: FieldPath, dirty: list[FieldPath]) -> None:
        self.mapping: dict[str, Any] = mapping if isinstance(mapping, dict) else {}
        self.path = path
        self._dirty = dirty

    def get(self, key: str) -> Any:
        if key not in self.mapping:
            return None
        prefix = (*self.path, key)
        if any(p[: len(prefix)] == prefix for p in self._dirty):
            return None
        return self.mapping[key]

    def at(self, key: str) -> FieldPath:
        return (*self.path, key)


def _band_problems(bands: list[_Valid]) -> list[Problem]:
    problems: list[Problem] = []
    for band in bands:
        problems += _need_order(band, "avgMargin", "minMargin", strict=False)
        problems += _need_order(band, "maxMargin", "avgMargin", strict=True)
        problems += _need_order(band, "avgAmount", "minAmount", strict=False)
        problems += _need_order(band, "maxAmount", "avgAmount", strict=False)
    return problems + _overlap_problems(bands)


def _need_order(band: _Valid, later: str, earlier: str, *, strict: bool) -> list[Problem]:
    low, high = band.get(earlier), band.get(later)
    if low is None or high is None or high > low or (high == low and not strict):
        return []
    relation, sign = ("greater than", "<=") if strict else ("greater than or equal to", "<")
    return [(band.at(later), f"must be {relation} {earlier} ({high} {sign} {low})")]


def _overlap_problems(bands: list[_Valid]) -> list[Problem]:
    """Report each band whose (minMargin, maxMargin] meets a band starting at or before it."""
    intervals = [
        (band.get("minMargin"), band.get("maxMargin"), band.path[-1])
        for band in bands
        if band.get("minMargin") is not None
        and band.get("maxMargin") is not None
        and band.get("minMargin") < band.get("maxMargin")
    ]
    problems: list[Problem] = []
    reach: tuple[Decimal, Decimal, Any] | None = None  # the interval reaching furthest so far
    for low, high, i in sorted(intervals):
        if reach is not None and low < reach[1]:
            first, second = sorted(((reach[0], reach[1], reach[2]), (low, high, i)), key=lambda x: x[2])
            problems.append(
                (
                    ("spec", "bands", second[2]),
                    f"overlaps bands[{first[2]}] (margins ({second[0]}, {second[1]}] "
                    f"and ({first[0]}, {first[1]}] intersect)",
                )
            )
        if reach is None or high > reach[1]:
            reach = (low, high, i)
    return problems


def _token_problems(tokens: _Valid) -> list[Problem]:
    problems: list[Problem] = []
    for side in ("yes", "no"):
        token = tokens.get(side)
        if token is not None and int(token) >= _UINT256_LIMIT:
            problems.append((tokens.at(side), "must be at most 2^256-1 (a uint256)"))
    yes, no = tokens.get("yes"), tokens.get("no")
    if yes is not None and yes == no:
        problems.append((tokens.at("no"), "must differ from tokens.yes (got the same token id)"))
    return problems


def _tick_problems(market: _Valid) -> list[Problem]:
    tick = market.get("tickSize")
    if tick is None or tick in TICK_SIZES:
        return []
    allowed = ", ".join(str(t) for t in TICK_SIZES)
    return [(market.at("tickSize"), f"must be one of {allowed} (got {tick})")]


def _order_problems(orders: _Valid) -> list[Problem]:
    order_type = orders.get("type") if "type" in orders.mapping else "GTC"
    if order_type is None:
        return []
    if order_type == "GTD" and "ttlSeconds" not in orders.mapping:
        return [(orders.at("ttlSeconds"), "is required when type is GTD")]
    if order_type != "GTD" and orders.get("ttlSeconds") is not None:
        return [(orders.at("ttlSeconds"), f"is only allowed when type is GTD (type is {order_type})")]
    return []


def _schedule_problems(schedule: _Valid) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, datetime] = {}
    for key in ("notBefore", "notAfter"):
        text = schedule.get(key)
        if text is None:
            continue
        moment = _parse_timestamp(text)
        if moment is None:
            problems.append((schedule.at(key), f"is not a valid date and time (got {_show(text)})"))
        else:
            parsed[key] = moment
    if len(parsed) == 2 and parsed["notAfter"] <= parsed["notBefore"]:
        problems.append(
            (
                schedule.at("notAfter"),
                f"must be later than notBefore ({schedule.get('notAfter')} <= {schedule.get('notBefore')})",
            )
        )
    return problems


def _parse_timestamp(text: str) -> datetime | None:
    """Parse an RFC 3339 string already matched by the schema's pattern."""
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --------------------------------------------------------------------------- building


def _build_spec(doc: dict[str, Any], source: Source) -> MarketMakerSpec:
    metadata, spec = doc["metadata"], doc["spec"]
    market = spec["market"]
    ref = spec.get("referencePrice", {})
    limits = spec.get("limits", {})
    orders = spec.get("orders", {})
    schedule = spec.get("schedule", {})
    ttl = orders.get("ttlSeconds")
    not_before, not_after = schedule.get("notBefore"), schedule.get("notAfter")
    return MarketMakerSpec(
        name=metadata["name"],
        labels=tuple(sorted(metadata.get("labels", {}).items())),
        market=MarketRef(
            condition_id=market["conditionId"],
            yes_token=market["tokens"]["yes"],
            no_token=market["tokens"]["no"],
            quote=market.get("quote", "yes"),
            tick_size=market.get("tickSize"),
            min_order_size=market.get("minOrderSize"),
        ),
        bands=tuple(
            Band(
                min_margin=b["minMargin"],
                avg_margin=b["avgMargin"],
                max_margin=b["maxMargin"],
                min_amount=b["minAmount"],
                avg_amount=b["avgAmount"],
                max_amount=b["maxAmount"],
            )
            for b in spec["bands"]
        ),
        reference_price=ReferencePrice(
            source=ref.get("source", "midpoint"), max_spread=ref.get("maxSpread", Decimal("0.1"))
        ),
        limits=Limits(max_position=limits.get("maxPosition"), max_collateral=limits.get("maxCollateral")),
        orders=OrderSettings(
            type=orders.get("type", "GTC"),
            ttl_seconds=None if ttl is None else int(ttl),
            post_only=orders.get("postOnly", True),
        ),
        schedule=Schedule(
            not_before=None if not_before is None else _parse_timestamp(not_before),
            not_after=None if not_after is None else _parse_timestamp(not_after),
        ),
        paused=spec.get("paused", False),
        source=source,
    )


def _market_to_manifest(market: MarketRef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conditionId": market.condition_id,
        "tokens": {"yes": market.yes_token, "no": market.no_token},
        "quote": market.quote,
    }
    return out | _drop_none({"tickSize": market.tick_size, "minOrderSize": market.min_order_size})


def _band_to_manifest(band: Band) -> dict[str, Decimal]:
    return {
        "minMargin": band.min_margin,
        "avgMargin": band.avg_margin,
        "maxMargin": band.max_margin,
        "minAmount": band.min_amount,
        "avgAmount": band.avg_amount,
        "maxAmount": band.max_amount,
    }


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _format_timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --------------------------------------------------------------------------- messages


def _to_errors(problems: list[Problem], doc: dict[str, Any], file: str, index: int) -> list[ManifestError]:
    """Errors in the order their fields appear in the document."""
    ordered = sorted(problems, key=lambda p: _position(doc, p[0]))
    return [ManifestError(file, index, format_path(path), message) for path, message in ordered]


def _position(doc: Any, path: FieldPath) -> tuple[int, ...]:
    position: list[int] = []
    node = doc
    for key in path:
        if isinstance(node, dict):
            keys = list(node)
            position.append(keys.index(key) if key in node else len(keys))
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int):
            position.append(key)
            node = node[key] if key < len(node) else None
        else:
            position.append(0)
            node = None
    return tuple(position)


_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Iterable[str | int]) -> str:
    """``("spec", "bands", 2, "maxMargin")`` → ``"spec.bands[2].maxMargin"``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif isinstance(key, str) and _IDENT_RE.match(key):
            out += f".{key}" if out else key
        else:
            out += f"[{_show(key)}]"
    return out


def _show(value: Any) -> str:
    """A short, one-line rendering of a user value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan" if math.isnan(value) else repr(value))
    elif isinstance(value, int):
        text = str(value) if value.bit_length() < 300 else "a very large integer"
    elif isinstance(value, str):
        # 80 keeps a whole conditionId (66) or token id (78) visible.
        text = repr(value[:80] + "…" if len(value) > 80 else value)
    elif isinstance(value, dict):
        return "a mapping"
    elif isinstance(value, list):
        return "a list"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = type(value).__name__
    return _one_line(text)


def _decimal_text(value: Decimal) -> str:
    # format(..., "f") is exact; Decimal.normalize() would round to the context's 28 digits.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"
