"""Manifest files and directories → per-file results: which files, in what order, and names.

Directories contribute their ``*.yaml``/``*.yml`` files directly inside, sorted by name
(dotfiles skipped: editor lock files and Kubernetes' ``..data`` links live there). Empty YAML
documents (e.g. a trailing ``---``) are skipped but keep their position, so ``[i]`` is always
the i-th document of the stream, counted from 0; a file with no non-empty document is an
error. A file with a YAML error yields no specs at all, even from documents before the
error: a truncated file (caught mid-write by a reloader) must not look like a smaller fleet.
``metadata.name`` must be unique across everything loaded together.

Exists to keep file-system concerns out of validation. May not judge a document's content
(``document`` does) and may not parse YAML itself (``yaml_loader`` does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from controller.spec.document import validate_document
from controller.spec.results import FileLoad, LoadResult, ManifestError, ManifestErrors
from controller.spec.textfile import UnreadableFile, os_reason, read_text
from controller.spec.types import MarketMakerSpec, Source
from controller.spec.wording import show
from controller.spec.yaml_loader import load_documents

# Real manifests are a few KiB; this bounds memory and, with the YAML loader's node limit,
# the time a hostile file can cost a hot reload (about 1-2 s of pure-Python parsing at worst).
MAX_FILE_BYTES = 2 * 1024 * 1024


def validate_paths(paths: Sequence[str | os.PathLike[str]]) -> LoadResult:
    """Load every manifest under ``paths`` (files or directories) and report all problems.

    Specs come out in argument order, then file name, then document. A file reached twice
    (say, as ``dir/`` and ``dir/a.yaml``) is loaded once.
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


def is_manifest_name(name: str) -> bool:
    """Whether a directory entry's name is a manifest's (``*.yaml``, ``*.yml``, not hidden).
    The one rule, shared with the reloader's change detection; directories never count."""
    return not name.startswith(".") and name.endswith((".yaml", ".yml"))


def manifest_files(directory: str) -> list[str]:
    """The manifest files directly inside ``directory``, sorted by name; OSError if unlistable."""
    return [
        os.path.join(directory, n)
        for n in sorted(os.listdir(directory))
        if is_manifest_name(n) and not os.path.isdir(os.path.join(directory, n))
    ]


def _expand_path(path: str) -> Iterator[tuple[str, ManifestError | None]]:
    """Yield (file, None) for each manifest file under ``path``, or (path, error)."""
    if not os.path.isdir(path):
        yield path, None  # _load_file reports missing and unreadable files
        return
    try:
        files = manifest_files(path)
    except OSError as exc:
        yield path, ManifestError(path, None, "", f"cannot list directory: {os_reason(exc)}")
        return
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
    documents, yaml_error = load_documents(text.removeprefix("\ufeff"), file)
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
                        f"duplicate name {show(name)} (first defined in {first[name]})",
                    )
                )
                dropped.add(index)
            else:
                first[name] = where
        if dropped:
            load.specs = [s for s in load.specs if s.source is None or s.source.index not in dropped]
            load.errors.sort(key=lambda e: -1 if e.index is None else e.index)
