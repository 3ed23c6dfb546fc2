"""The record of orders this controller placed: survives restarts, forgets what is gone, never crashes."""

from __future__ import annotations

import json
from pathlib import Path

from fakeclock import FakeClock

from controller.loop.ownership import PlacedOrders


def test_ids_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "placed-orders.json"
    first = PlacedOrders(path)
    first.add(["0xa", "0xb"], persist=True)
    second = PlacedOrders(path)
    second.load()
    assert second.ids() == {"0xa", "0xb"} and second.load_problem is None
    assert json.loads(path.read_text()) == {"format": 1, "orders": ["0xa", "0xb"]}


def test_prune_forgets_only_ids_recorded_before_the_read_and_absent_from_it(tmp_path: Path) -> None:
    clock = FakeClock(10.0)
    placed = PlacedOrders(tmp_path / "p.json", clock=clock)
    placed.add(["0xold-open", "0xold-gone"], persist=False)
    as_of = clock.t = 20.0  # the REST read starts here ...
    clock.t = 21.0
    placed.add(["0xin-flight"], persist=False)  # ... and this one was placed while it ran
    assert placed.prune(["0xold-open"], as_of, persist=True) == 1
    assert placed.ids() == {"0xold-open", "0xin-flight"}
    assert set(json.loads((tmp_path / "p.json").read_text())["orders"]) == {"0xold-open", "0xin-flight"}


def test_a_missing_file_is_a_first_start(tmp_path: Path) -> None:
    placed = PlacedOrders(tmp_path / "absent.json")
    placed.load()
    assert placed.ids() == frozenset() and "not found" in (placed.load_problem or "")


def test_a_corrupt_or_foreign_file_is_a_warning_not_a_crash(tmp_path: Path, caplog) -> None:
    for text in ("{not json", '{"format": 2, "orders": []}', '{"format": 1, "orders": [1, 2]}', "[" * 100_000):
        path = tmp_path / "placed-orders.json"
        path.write_text(text)
        placed = PlacedOrders(path)
        placed.load()
        assert placed.ids() == frozenset()
        assert placed.load_problem and "unreadable" in placed.load_problem
    assert "shared-ownership markets will touch only orders placed from now on" in caplog.text


def test_an_unwritable_state_directory_is_logged_and_the_ids_are_kept_in_memory(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    placed = PlacedOrders(blocker / "placed-orders.json")
    placed.add(["0xa"], persist=True)
    assert "0xa" in placed and "could not write" in caplog.text
