"""Every helper thread and timer the controller starts, tracked so that stop can join them.

A controller that leaves threads behind keeps talking to the exchange after it said it
stopped, or dies on "cannot schedule new futures after shutdown". Everything short-lived
(a resync after a reconnect, a delayed frozen-stream check) is started here instead.
It runs callables and nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bandctl.threads")


class Threads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[threading.Thread] = set()
        self._closed = False

    def spawn(self, name: str, target: Callable[..., Any], *args: Any, delay: float = 0.0) -> bool:
        """Run ``target(*args)`` in a tracked thread, after ``delay`` seconds; False once closed."""
        thread: threading.Thread
        if delay > 0:
            thread = threading.Timer(delay, self._guarded, args=(name, target, *args))
        else:
            thread = threading.Thread(target=self._guarded, args=(name, target, *args))
        thread.name, thread.daemon = name, True
        with self._lock:
            if self._closed:
                return False
            self._live = {t for t in self._live if t.is_alive()}
            self._live.add(thread)
            # Started under the lock, so close() never sees (and tries to join) an unstarted one.
            thread.start()
        return True

    def close(self, timeout: float) -> list[str]:
        """Refuse new threads, cancel pending timers, join the rest; names still running."""
        with self._lock:
            self._closed = True
            threads = list(self._live)
        for thread in threads:
            if isinstance(thread, threading.Timer):
                thread.cancel()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in threads if t.is_alive()]

    def _guarded(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        try:
            target(*args)
        except Exception:
            log.exception("%s failed", name)
