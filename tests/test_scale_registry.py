"""Registering many manifests: each new market read once (side by side), a known one never again.

At 1,000 manifests the start-up read every market's rules and end time one after the
other, and every manifest edit re-read all the end times. The venue here is a stub that
counts its reads; the registry's statuses and the store's tracked markets are real.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal as D

from test_bands_support import spec

from controller.loop.actionlog import ActionLog
from controller.loop.registry import Registry
from controller.observe.store import ObservedStore
from controller.ops.metrics import Metrics
from controller.venue.client import MarketInfo, VenueError

MARKETS = {f"0x{m:064x}": (f"{m}1", f"{m}2") for m in range(1, 41)}
MISSING = f"0x{999:064x}"
END = datetime(2030, 1, 1, tzinfo=UTC)


class StubVenue:
    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def get_market(self, condition_id: str) -> MarketInfo:
        with self.lock:
            self.reads["rules"] += 1
            self.threads.add(threading.current_thread().name)
        if condition_id not in MARKETS:
            raise VenueError("market not found")
        yes, no = MARKETS[condition_id]
        return MarketInfo(condition_id, {"yes": yes, "no": no}, D("0.01"), D("5"), False, True)

    def get_end_time(self, condition_id: str) -> datetime | None:
        with self.lock:
            self.reads["end"] += 1
        if condition_id == f"0x{2:064x}":
            raise VenueError("no end date today")
        return END


class StubReconciler:
    def __init__(self) -> None:
        self.end_times: dict[str, datetime | None] = {}
        self.actions = ActionLog()  # not started: lines are logged at once

    def set_end_time(self, condition_id: str, end: datetime | None) -> None:
        self.end_times[condition_id] = end


def specs(extra: list[str] = ()):  # type: ignore[assignment, no-untyped-def]
    out = [spec(name=f"m{i}", cid=c, yes=t[0], no=t[1]) for i, (c, t) in enumerate(MARKETS.items())]
    return out + [spec(name=f"x{i}", cid=c, yes="9", no="8") for i, c in enumerate(extra)]


def test_new_markets_are_read_once_side_by_side_and_known_ones_never_again() -> None:
    venue, reconciler, store = StubVenue(), StubReconciler(), ObservedStore()
    registry = Registry(venue, store, reconciler, Metrics(), lambda: END)  # type: ignore[arg-type]
    registry.use_specs(specs([MISSING]))
    assert venue.reads == {"rules": len(MARKETS) + 1, "end": len(MARKETS)}
    assert len(venue.threads) > 1, "read side by side"
    assert sorted(store.tracked_markets()) == sorted(MARKETS)
    assert all(registry.status[f"m{i}"].registered for i in range(len(MARKETS)))
    assert not registry.status["x0"].registered and "not found" in registry.status["x0"].message
    assert reconciler.end_times[f"0x{1:064x}"] == END
    assert f"0x{2:064x}" not in reconciler.end_times, "an unreadable end time is left unknown"

    # A manifest edit: the same markets, nothing read again but the one still missing.
    venue.reads.clear()
    registry.use_specs(specs([MISSING]))
    assert venue.reads == {"rules": 1}
    assert all(registry.status[f"m{i}"].registered for i in range(len(MARKETS)))


def test_an_end_time_that_could_not_be_read_is_read_again_until_it_is() -> None:
    venue, reconciler, store = StubVenue(), StubReconciler(), ObservedStore()
    registry = Registry(venue, store, reconciler, Metrics(), lambda: END)  # type: ignore[arg-type]
    registry.use_specs(specs())
    failing = f"0x{2:064x}"
    assert failing not in reconciler.end_times
    venue.reads.clear()
    registry.retry_end_times()  # the exchange still fails it
    assert venue.reads == {"end": 1} and failing not in reconciler.end_times
    registry.retry_end_times()
    assert venue.reads == {"end": 2}, "only the unknown one is read, every time until it succeeds"
    original = venue.get_end_time
    venue.get_end_time = lambda condition_id: END  # type: ignore[method-assign]
    registry.retry_end_times()
    assert reconciler.end_times[failing] == END
    venue.get_end_time = original  # type: ignore[method-assign]
    venue.reads.clear()
    registry.retry_end_times()
    assert venue.reads == {}, "known now: never read again"


def test_the_registry_exports_valid_and_a_deleted_manifest_leaves_the_metrics() -> None:
    metrics = Metrics()
    registry = Registry(StubVenue(), ObservedStore(), StubReconciler(), metrics, lambda: END)  # type: ignore[arg-type]
    registry.use_specs(specs([MISSING]))
    text = metrics.render().decode()
    assert 'bandctl_manifest_condition{manifest="m0",reason="ManifestValid",type="Valid"} 1.0' in text
    assert 'bandctl_manifest_condition{manifest="x0",reason="MarketNotFound",type="Valid"} 0.0' in text
    registry.use_specs(specs())
    assert 'manifest="x0"' not in metrics.render().decode()
