"""Manifest hot reload: symlink swaps, invalid edits keep the last good spec, deletions."""

from __future__ import annotations

import os
from pathlib import Path

from live_helpers import MANIFEST

from controller.spec.reload import ManifestWatcher, ReloadResult


def changed(watcher: ManifestWatcher) -> ReloadResult:
    """The result of a poll that must have seen a change."""
    result = watcher.poll()
    assert result is not None
    return result


def configmap_dir(root: Path, version: str, text: str) -> Path:
    """A Kubernetes ConfigMap volume: btc.yaml -> ..data/btc.yaml, ..data -> ..<version>."""
    (root / f"..{version}").mkdir(parents=True)
    (root / f"..{version}" / "btc.yaml").write_text(text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(f"..{version}")
    os.replace(tmp, root / "..data")  # the atomic swap kubelet and git-sync do
    if not (root / "btc.yaml").is_symlink():
        (root / "btc.yaml").symlink_to("..data/btc.yaml")
    return root


def test_unchanged_files_are_not_reloaded(tmp_path: Path) -> None:
    (tmp_path / "btc.yaml").write_text(MANIFEST)
    watcher = ManifestWatcher([str(tmp_path)])
    assert [s.name for s in changed(watcher).specs] == ["btc"]
    assert watcher.poll() is None


def test_a_symlink_swap_is_noticed_even_when_names_stay(tmp_path: Path) -> None:
    root = configmap_dir(tmp_path / "cm", "v1", MANIFEST)
    watcher = ManifestWatcher([str(root)])
    first = watcher.poll()
    assert first is not None and first.specs[0].bands[0].avg_amount == 20
    configmap_dir(
        root,
        "v2",
        MANIFEST.replace(
            "avgAmount: 20, maxAmount: 30}\n    - {minMargin: 0.02",
            "avgAmount: 25, maxAmount: 30}\n    - {minMargin: 0.02",
        ),
    )
    second = watcher.poll()
    assert second is not None and second.specs[0].bands[0].avg_amount == 25


def test_an_invalid_edit_keeps_the_last_good_spec(tmp_path: Path) -> None:
    path = tmp_path / "btc.yaml"
    path.write_text(MANIFEST)
    watcher = ManifestWatcher([str(tmp_path)])
    good = changed(watcher).specs
    path.write_text(MANIFEST.replace("minMargin: 0.005", "minMagrin: 0.005"))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse-grained filesystem
    result = watcher.poll()
    assert result is not None and result.specs == good
    assert result.rejected_files == [str(path)]
    assert any("minMagrin" in str(e) for e in result.errors)


def test_a_deleted_file_takes_its_manifests_away(tmp_path: Path) -> None:
    path = tmp_path / "btc.yaml"
    path.write_text(MANIFEST)
    watcher = ManifestWatcher([str(tmp_path)])
    assert changed(watcher).specs
    path.unlink()
    result = watcher.poll()
    assert result is not None and result.specs == []


def test_a_new_invalid_file_does_not_disturb_the_others(tmp_path: Path) -> None:
    (tmp_path / "btc.yaml").write_text(MANIFEST)
    watcher = ManifestWatcher([str(tmp_path)])
    good = changed(watcher).specs
    (tmp_path / "broken.yaml").write_text("apiVersion: [unclosed")
    result = watcher.poll()
    assert result is not None and result.specs == good and result.errors


def test_change_detection_watches_exactly_the_files_that_are_loaded(tmp_path: Path) -> None:
    from controller.spec.manifest import validate_paths
    from controller.spec.reload import fingerprint

    (tmp_path / "b.yaml").write_text(MANIFEST)
    (tmp_path / "a.yml").write_text(MANIFEST.replace("name: btc", "name: eth"))
    (tmp_path / ".swap.yaml").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "dir.yaml").mkdir()
    watched = [entry[0] for entry in fingerprint([str(tmp_path)])]
    assert watched == [load.path for load in validate_paths([str(tmp_path)]).files]
    assert [os.path.basename(f) for f in watched] == ["a.yml", "b.yaml"]
