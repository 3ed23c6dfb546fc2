"""The controller's tracked helper threads: every one joined on stop, none left behind."""

from __future__ import annotations

import threading

from controller.loop.threads import Threads


def test_tracked_threads_spawned_while_closing_are_joined_or_refused() -> None:
    """close() racing spawn() never tries to join a thread that has not started."""
    for _ in range(200):
        threads = Threads()
        release = threading.Event()
        spawner = threading.Thread(target=_spawn_many, args=(threads, release))
        spawner.start()
        release.set()
        assert threads.close(timeout=5) == []
        spawner.join(5)


def _spawn_many(threads: Threads, release: threading.Event) -> None:
    for _ in range(20):
        threads.spawn("t", release.wait, 1.0)
