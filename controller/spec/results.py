"""What loading manifests gives back: specs, and problems as one-line ``ManifestError`` values.

Exists so that every stage (files, YAML, schema, rules) reports in one shape, and so that a
reloader can keep the last good specs per file. May not do any loading or validating itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from controller.spec.types import MarketMakerSpec

# A field inside a document, e.g. ("spec", "bands", 2, "maxMargin"). Keys are usually
# strings, but a hostile document may use any YAML scalar as a key.
FieldPath = tuple[object, ...]
# One problem before it is placed in a file: (field path, message).
Problem = tuple[FieldPath, str]


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
