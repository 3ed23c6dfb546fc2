"""The reconcile work queue: de-duplication, coalescing and delayed adds."""

from __future__ import annotations

import threading

from fakeclock import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from controller.loop.workqueue import WorkQueue


def test_burst_while_processing_gives_one_in_flight_plus_one_queued() -> None:
    queue = WorkQueue()
    queue.add("m")
    key = queue.get(timeout=0)
    assert key == "m"
    for _ in range(100):
        queue.add("m")
    assert len(queue) == 0, "a key being processed is not queued twice"
    queue.done("m")
    assert len(queue) == 1
    assert queue.get(timeout=0) == "m"
    queue.done("m")
    assert queue.get(timeout=0) is None


def test_adding_a_queued_key_is_a_no_op() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert [queue.get(timeout=0), queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b", None]


def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    queue.add_after("m", 5.0)
    assert queue.get(timeout=0) is None
    clock.t = 4.9
    assert queue.get(timeout=0) is None
    clock.t = 5.0
    assert queue.get(timeout=0) == "m"


def test_delayed_key_due_while_processing_is_requeued_after_done() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    queue.add("m")
    assert queue.get(timeout=0) == "m"
    queue.add_after("m", 1.0)
    clock.t = 2.0
    assert queue.get(timeout=0) is None
    queue.done("m")
    assert queue.get(timeout=0) == "m"


def test_shutdown_wakes_a_blocked_worker() -> None:
    queue = WorkQueue()
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    queue.shutdown()
    worker.join(5)
    assert got == [None]


@given(st.lists(st.sampled_from(["add", "get", "done"]), max_size=60))
def test_a_key_is_never_handed_out_twice_at_once(ops: list[str]) -> None:
    queue = WorkQueue()
    in_flight = False
    for op in ops:
        if op == "add":
            queue.add("k")
        elif op == "get" and not in_flight:
            if queue.get(timeout=0) == "k":
                in_flight = True
        elif op == "done" and in_flight:
            queue.done("k")
            in_flight = False
        assert len(queue) <= 1
        if in_flight:
            assert queue.get(timeout=0) is None
