"""Manifest hot reload, GitOps style.

The watcher is polled (by the scheduler). It fingerprints every manifest file by
its resolved path, size and modification time, so the atomic symlink swaps done by
git-sync and Kubernetes ConfigMap volumes (``..data`` -> a new timestamped folder)
are noticed even when the file names never change.

A file that fails validation does not stop anything: its last good specs keep
running and the errors are reported. A file that disappears takes its manifests
with it (the controller then cancels their orders).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.spec.files import manifest_files
from controller.spec.manifest import ManifestError, validate_paths
from controller.spec.types import MarketMakerSpec

log = logging.getLogger("bandctl.reload")

Fingerprint = tuple[tuple[str, str, int, int], ...]


@dataclass
class ReloadResult:
    specs: list[MarketMakerSpec]
    errors: list[ManifestError] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)  # files whose last good specs were kept


def _manifest_files(paths: Sequence[str]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        try:
            files.extend(manifest_files(path))
        except OSError:
            files.append(path)  # fingerprinted as is; validate_paths reports why it cannot be listed
    return files


def fingerprint(paths: Sequence[str]) -> Fingerprint:
    entries = []
    for file in _manifest_files(paths):
        try:
            real = os.path.realpath(file)
            stat = os.stat(real)
        except OSError:
            entries.append((file, "", -1, -1))
            continue
        entries.append((file, real, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class ManifestWatcher:
    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self._fingerprint: Fingerprint | None = None
        self._last_good: dict[str, list[MarketMakerSpec]] = {}

    def poll(self, force: bool = False) -> ReloadResult | None:
        """Re-read the manifests if anything changed (or ``force``); None when unchanged."""
        current = fingerprint(self.paths)
        if not force and current == self._fingerprint:
            return None
        self._fingerprint = current
        loaded = validate_paths(self.paths)
        present = {load.path for load in loaded.files}
        result = ReloadResult(specs=[], errors=list(loaded.errors))
        for load in loaded.files:
            if load.errors:
                if load.path in self._last_good:
                    result.rejected_files.append(load.path)
                continue
            self._last_good[load.path] = list(load.specs)
        for path in list(self._last_good):
            if path not in present or not os.path.exists(path):
                del self._last_good[path]  # deleted: its manifests go, and so do their orders
        seen: set[str] = set()
        for path in sorted(self._last_good):
            for spec in self._last_good[path]:
                if spec.name not in seen:
                    seen.add(spec.name)
                    result.specs.append(spec)
        return result
