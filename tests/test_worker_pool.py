"""A worker's restart is reported before it is counted, so whoever sees the count sees the report."""

from __future__ import annotations

import threading

from live_helpers import wait_for

from controller.loop.workers import WorkerPool
from controller.loop.workqueue import WorkQueue


def test_a_counted_restart_has_already_been_reported() -> None:
    queue = WorkQueue()
    counts_seen_by_the_hook: list[int] = []
    died = threading.Event()

    def die_once(key: str) -> None:
        if not died.is_set():
            died.set()
            raise SystemExit("simulated worker death")

    pool = WorkerPool(queue, die_once, size=1, on_restart=lambda _why: counts_seen_by_the_hook.append(pool.restarts))
    pool.start()
    try:
        queue.add("m")
        wait_for(lambda: pool.restarts == 1, "the worker to be restarted")
        assert counts_seen_by_the_hook == [0]
        assert pool.alive() == 1
    finally:
        assert pool.stop()
