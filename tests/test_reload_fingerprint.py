"""The reload poll's fast fingerprint: exactly what realpath + stat per file would see.

The fingerprint lists a directory once and follows links a hop at a time instead of
calling ``realpath`` and ``stat`` for every file; these tests hold it to the plain
definition on every layout a GitOps tool produces (and some hostile ones), and check that
each kind of edit still changes it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.spec.files import manifest_files
from controller.spec.reload import fingerprint


def reference(paths: list[str]) -> tuple[tuple[str, str, int, int], ...]:
    """The definition: the files ``validate_paths`` loads, each by realpath, size and mtime."""
    files: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        try:
            files.extend(manifest_files(path))
        except OSError:
            files.append(path)
    entries = []
    for file in files:
        try:
            real = os.path.realpath(file)
            stat = os.stat(real)
        except OSError:
            entries.append((file, "", -1, -1))
            continue
        entries.append((file, real, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def configmap(root: Path, version: str, files: dict[str, str]) -> None:
    """A Kubernetes ConfigMap volume: name -> ..data/name, ..data -> ..<version> (atomic flip)."""
    folder = root / f"..{version}"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(f"..{version}")
    os.replace(tmp, root / "..data")
    for name in files:
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"..data/{name}")


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """One directory with every kind of entry the rule and the resolution must get right."""
    d = tmp_path / "m"
    d.mkdir()
    (d / "plain.yaml").write_text("a")
    (d / "short.yml").write_text("bb")
    (d / ".hidden.yaml").write_text("x")
    (d / "notes.txt").write_text("x")
    (d / "dir.yaml").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "target.yaml").write_text("ccc")
    (d / "abs.yaml").symlink_to(tmp_path / "elsewhere" / "target.yaml")
    (d / "rel.yaml").symlink_to("../elsewhere/target.yaml")
    (d / "chain.yaml").symlink_to("rel.yaml")
    (d / "dangling.yaml").symlink_to("nowhere.yaml")
    (d / "loop1.yaml").symlink_to("loop2.yaml")
    (d / "loop2.yaml").symlink_to("loop1.yaml")
    (d / "linkdir.yaml").symlink_to(tmp_path / "elsewhere")
    (d / "updir.yaml").symlink_to("..")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.yaml").write_text("dddd")
    (tmp_path / "hop").symlink_to("sub")
    (d / "via-dir-link.yaml").symlink_to("../hop/../sub/deep.yaml")
    return d


def test_it_matches_realpath_and_stat_on_every_kind_of_entry(messy: Path, tmp_path: Path) -> None:
    paths = [str(messy), str(messy) + "/", str(messy / "plain.yaml"), str(tmp_path / "missing.yaml")]
    assert fingerprint(paths) == reference(paths)
    names = [os.path.basename(entry[0]) for entry in fingerprint([str(messy)])]
    assert ".hidden.yaml" not in names and "dir.yaml" not in names and "linkdir.yaml" not in names
    assert "dangling.yaml" in names  # watched, so its target appearing is a change


def test_it_matches_with_relative_paths(messy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(messy.parent)
    for paths in (["m"], ["m/plain.yaml", "m/chain.yaml"], ["./m/../m"]):
        assert fingerprint(paths) == reference(paths)


def test_it_matches_on_a_configmap_volume_before_and_after_a_flip(tmp_path: Path) -> None:
    root = tmp_path / "cm"
    configmap(root, "v1", {f"m{i}.yaml": "x" * i for i in range(5)})
    before = fingerprint([str(root)])
    assert before == reference([str(root)])
    configmap(root, "v2", {f"m{i}.yaml": "x" * i for i in range(5)})  # same names, sizes
    after = fingerprint([str(root)])
    assert after == reference([str(root)])
    assert after != before  # the resolved paths moved to ..v2
    assert all("..v2" in entry[1] for entry in after)


def test_an_in_place_edit_is_seen_though_the_directory_mtime_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "btc.yaml"
    path.write_text("one")
    dir_times = os.stat(tmp_path).st_atime_ns, os.stat(tmp_path).st_mtime_ns
    os.utime(path, ns=(1, 1))
    before = fingerprint([str(tmp_path)])
    path.write_text("two")  # same size
    os.utime(path, ns=(2, 2))
    os.utime(tmp_path, ns=dir_times)
    after = fingerprint([str(tmp_path)])
    assert after != before and after == reference([str(tmp_path)])


def test_an_edit_behind_a_link_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "cm"
    configmap(root, "v1", {"a.yaml": "one"})
    before = fingerprint([str(root)])
    target = root / "..v1" / "a.yaml"
    target.write_text("two!")
    assert fingerprint([str(root)]) != before


def test_new_and_deleted_files_change_it(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a")
    first = fingerprint([str(tmp_path)])
    (tmp_path / "b.yaml").write_text("b")
    second = fingerprint([str(tmp_path)])
    assert len(second) == 2 and second != first
    (tmp_path / "a.yaml").unlink()
    third = fingerprint([str(tmp_path)])
    assert [os.path.basename(e[0]) for e in third] == ["b.yaml"] and third == reference([str(tmp_path)])


def test_a_dangling_link_coming_to_life_changes_it(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to("later.txt")
    before = fingerprint([str(tmp_path)])
    assert before[0][1:] == ("", -1, -1)
    (tmp_path / "later.txt").write_text("now")
    after = fingerprint([str(tmp_path)])
    assert after != before and after == reference([str(tmp_path)])


def test_an_unlistable_directory_is_fingerprinted_as_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yaml").write_text("a")

    def refuse(path: str) -> object:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", refuse)
    entries = fingerprint([str(tmp_path)])
    assert [entry[0] for entry in entries] == [str(tmp_path)]
