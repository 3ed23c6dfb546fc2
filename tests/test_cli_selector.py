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


class _Captured(Exception):
    pass


@pytest.mark.parametrize("mode", ["run", "apply"])
def test_run_and_apply_hand_the_selector_journal_and_loss_limit_to_the_controller(
    fleet: Path, tmp_path: Path, mode: str, monkeypatch
) -> None:
    from datetime import timedelta
    from decimal import Decimal

    import controller.cli.run as run

    seen = []

    def capture(venue, options):  # type: ignore[no-untyped-def]
        seen.append(options)
        raise _Captured

    monkeypatch.setattr(run, "Controller", capture)
    monkeypatch.setattr(run, "venue_config", lambda sim: None)
    monkeypatch.setattr(run, "Venue", lambda config: None)
    journal = str(tmp_path / "fills.sqlite")
    argv = [mode, "-f", str(fleet), "-l", "env=prod,shard=2", "--journal", journal, "--max-loss", "200/24h"]
    with pytest.raises(_Captured):
        main(argv)
    (options,) = seen
    assert options.selector is not None and options.selector.matches({"env": "prod", "shard": "2"})
    assert not options.selector.matches({"env": "prod", "shard": "1"})
    assert options.journal == journal
    assert options.max_account_loss.amount == Decimal(200)
    assert options.max_account_loss.window == timedelta(hours=24)


@pytest.mark.parametrize("flags", [["-l", "env in (prod"], ["--max-loss", "lots"]])
def test_run_refuses_a_bad_selector_or_loss_limit_with_exit_2(fleet: Path, flags: list[str], capsys) -> None:
    assert main(["apply", "-f", str(fleet), *flags]) == 2
    assert capsys.readouterr().err.startswith("error: ")
