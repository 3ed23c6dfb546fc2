"""Fixtures shared by the tests that run the live controller against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_helpers import quiet_config, write_manifest


@pytest.fixture
def sim() -> Iterator[Any]:
    """A quiet emulator on a manual clock: one market, a still fair value, no random takers.

    (The emulator's own tests define their own ``sim`` fixtures.)
    """
    from controller.sim import start_sim

    handle = start_sim(quiet_config(), clock="manual", seed=7, flow=True)
    handle.step_flow(1)  # the house quotes a book around the fair value
    yield handle
    handle.stop()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    directory = tmp_path / "manifests"
    write_manifest(directory)
    return directory
