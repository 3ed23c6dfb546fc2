"""The collector's schedule after start: survivors frozen, thresholds widened (and only that)."""

from __future__ import annotations

import gc

from controller.loop.gcpauses import THRESHOLDS, settle_after_start


def test_settling_freezes_the_survivors_and_widens_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        settle_after_start()
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0, "start-up's objects are no longer scanned"
        assert gc.isenabled(), "cycles are still collected"
    finally:
        gc.unfreeze()  # this process builds many controllers: give the frozen ones back
        gc.set_threshold(*before)
