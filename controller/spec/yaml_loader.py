"""YAML text → plain Python documents, safely: the only place that runs a YAML parser.

Exists because manifests arrive from git and volume mounts, written by anyone: the stock
loaders build arbitrary objects, turn ``no`` into False, let a duplicate key win silently
and can be made to expand, nest or recurse without bound. May not look at what the
documents mean (that is the schema's and the rules' job) and may not read files.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.spec.results import ManifestError
from controller.spec.wording import one_line, show

# Real manifests are a few KiB and about 100 nodes. Checked before any Python object is
# built: nodes per file while parsing (bounds parse time to ~1 s), nodes per document with
# aliases expanded ("billion laughs"), and nesting depth (recursion).
MAX_NODES = 50_000
MAX_DEPTH = 50
MAX_INT_DIGITS = 100
MAX_DOCUMENTS = 1000  # per file; also bounds how many error lines one file can produce


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

    # Nesting is bounded in the scanner, before the parser or composer sees the token: the
    # composer recurses once per level, and PyYAML's scanner looks up to 1024 characters
    # ahead for a possible simple key, costing time per open flow level. Left to the graph
    # check alone, a 200 KB run of "[" took minutes once a library (py_ecc, imported by
    # py-clob-client-v2) had raised the recursion limit to 100,000.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        mark = self.get_mark()
        super().fetch_flow_collection_start(TokenClass)
        self._check_open_collections(mark)

    def add_indent(self, column: int) -> bool:
        opened = bool(super().add_indent(column))
        if opened:
            self._check_open_collections(self.get_mark())
        return opened

    def _check_open_collections(self, mark: Any) -> None:
        # Each entry of ``indents`` is an open block collection, each flow level an open flow
        # collection; the newest one is a node at depth (open - 1), the root being depth 0.
        if len(self.indents) + self.flow_level - 1 > MAX_DEPTH:
            raise yaml.scanner.ScannerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
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

    def construct_yaml_int(self, node: ScalarNode) -> int:
        # A uint256 has 78 digits; far longer literals are hostile (int() of them is quadratic).
        if len(str(node.value)) > MAX_INT_DIGITS:
            raise ConstructorError(None, None, f"number longer than {MAX_INT_DIGITS} digits", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
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
                        f"found duplicate key {show(key)}",
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


def load_documents(text: str, file: str) -> tuple[list[tuple[int, Any]], ManifestError | None]:
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
        return one_line(text)
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"YAML error at character {exc.position + 1}: unacceptable character #x{char:04x}: {exc.reason}"
    return one_line(f"YAML error: {exc}")


def _at(mark: Any) -> str:
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
