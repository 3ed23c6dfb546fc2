"""`bandctl validate`: exit codes and output, through controller.cli.main."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli.main import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_shipped_manifests_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "manifests/"]) == 0
    out, err = capsys.readouterr()
    assert out == "2 manifest(s) valid\n"
    assert err == ""


def test_demo_file_directly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "manifests/demo.yaml"]) == 0
    assert capsys.readouterr().out == "2 manifest(s) valid\n"


def test_invalid_fixtures_list_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "tests/fixtures/manifests"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    d = "tests/fixtures/manifests"
    assert err.splitlines() == [
        f"{d}/not-a-marketmaker.yaml[0] apiVersion: must be 'bandctl/v1' (got 'v1')",
        f"{d}/not-a-marketmaker.yaml[0] kind: must be 'MarketMaker' (got 'ConfigMap')",
        f"{d}/syntax-error.yaml[0]: YAML error at line 5, column 2: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block mapping at line 1, column 1)",
        f"{d}/typos.yaml[0] spec.bands[0]: unknown field 'minMagrin' (did you mean 'minMargin'?)",
        f"{d}/typos.yaml[0] spec.bands[0]: missing required field 'minMargin'",
        f"{d}/typos.yaml[1] spec.bands[1]: overlaps bands[0] (margins (0.02, 0.05] and (0.01, 0.03] intersect)",
        f"{d}/typos.yaml[1] spec.bands[2].maxMargin: must be greater than avgMargin (0.04 <= 0.06)",
        f"{d}/typos.yaml[1] spec.orders.ttlSeconds: is required when type is GTD",
        "8 error(s) in 1 path(s)",
    ]


def test_valid_and_invalid_paths_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "manifests", "tests/fixtures/manifests/not-a-marketmaker.yaml", "missing.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-2:] == ["missing.yaml: no such file or directory", "3 error(s) in 3 path(s)"]


def test_hostile_files_never_print_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_bytes(b"\xff\xfe garbage")
    (tmp_path / "b.yaml").write_bytes(b"")
    (tmp_path / "c.yaml").write_text("- just\n- a list\n")
    (tmp_path / "d.yaml").write_text("{{{{")
    (tmp_path / "e.yaml").write_text("apiVersion: bandctl/v1\nkind: MarketMaker\nspec: 7\nmetadata: {name: 3}\n")
    assert main(["validate", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    errors = err.splitlines()
    assert [line.split(tmp_path.name + "/", 1)[1] for line in errors[:-1]] == [
        "a.yaml: not valid UTF-8 (byte 0xff at offset 0)",
        "b.yaml: empty file (no YAML documents)",
        "c.yaml[0]: document must be a mapping (got a list)",
        "d.yaml[0]: YAML error at line 1, column 5: expected the node content, but found '<stream end>' "
        "(while parsing a flow node at line 1, column 5)",
        "e.yaml[0] spec: must be a mapping (got 7)",
        "e.yaml[0] metadata.name: must be a string (got a number; put the value in quotes)",
    ]
    assert errors[-1] == "6 error(s) in 1 path(s)"
