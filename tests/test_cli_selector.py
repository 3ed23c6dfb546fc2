"""``-l`` on the command line selects manifests by ``metadata.labels``, as ``kubectl -l`` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_helpers import MANIFEST

from controller.cli.main import main


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    for name, labels in (("a", "{env: prod, shard: '1'}"), ("b", "{env: prod, shard: '2'}"), ("c", "{env: demo}")):
        text = MANIFEST.replace("  name: btc\n", f"  name: {name}\n  labels: {labels}\n")
        (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("selector", "count"),
    [("env=prod", 2), ("env=prod,shard=2", 1), ("env!=prod", 1), ("shard", 2), ("!shard", 1), ("shard in (1,3)", 1)],
)
def test_validate_counts_only_the_selected_manifests(fleet: Path, selector: str, count: int, capsys) -> None:
    assert main(["validate", str(fleet), "-l", selector]) == 0
    assert capsys.readouterr().out.strip() == f"{count} manifest(s) valid"


def test_a_bad_selector_is_one_line_and_exit_2(fleet: Path, capsys) -> None:
    assert main(["validate", str(fleet), "-l", "env in (prod"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: invalid selector")
