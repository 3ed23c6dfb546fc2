"""The reconcile work queue: de-duplication, coalescing, delayed adds, backoff, liveness."""

from __future__ import annotations

import random
import threading
from collections import Counter

from fakeclock import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from controller.loop.workqueue import WorkQueue


def test_burst_while_processing_gives_one_in_flight_plus_one_queued() -> None:
    queue = WorkQueue()
    queue.add("m")
    assert queue.try_get() == "m"
    for _ in range(100):
        queue.add("m")
    assert len(queue) == 0, "a key being processed is not queued twice"
    queue.done("m")
    assert len(queue) == 1
    assert queue.try_get() == "m"
    queue.done("m")
    assert queue.try_get() is None


def test_adding_a_queued_key_is_a_no_op() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert [queue.try_get(), queue.try_get(), queue.try_get()] == ["a", "b", None]


def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    queue.add_after("m", 5.0)
    assert queue.try_get() is None
    clock.t = 4.9
    assert queue.try_get() is None
    clock.t = 5.0
    assert queue.try_get() == "m"


def test_delayed_key_due_while_processing_is_requeued_after_done() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    queue.add("m")
    assert queue.try_get() == "m"
    queue.add_after("m", 1.0)
    clock.t = 2.0
    assert queue.try_get() is None
    queue.done("m")
    assert queue.try_get() == "m"


class _TickingClock:
    """Each reading is later than the one before: time passes between any two calls."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_get_does_not_return_none_when_a_delayed_key_falls_due_mid_call() -> None:
    # The old get() read the clock twice: once to promote due keys (not due yet), once to
    # compute its wait (now due, so a wait of 0), and took that 0 for "timed out" -> None,
    # which the worker took for shutdown. With a clock that moves on every read, the key
    # becomes due exactly between those two reads.
    clock = _TickingClock(step=1.0)
    queue = WorkQueue(clock=clock)
    queue.add_after("m", 1.5)  # due at 2.5: the add reads 1.0, get's first read 2.0, the next 3.0
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    worker.join(5)
    queue.shutdown()
    worker.join(5)
    assert got == ["m"], "get() returns None only after shutdown"


def test_get_returns_none_after_shutdown_and_wakes_a_blocked_worker() -> None:
    queue = WorkQueue()
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    queue.shutdown()
    worker.join(5)
    assert got == [None]
    queue.add("late")
    assert queue.get() is None, "nothing is handed out after shutdown"


def test_backoff_doubles_up_to_the_cap_and_never_overflows() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock, backoff_initial=0.5, backoff_cap=30.0)
    delays = [queue.add_rate_limited("m") for _ in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    for _ in range(5000):  # 2 ** 1024 raised OverflowError in the old backoff
        delay = queue.add_rate_limited("m")
    assert delay == 30.0
    assert queue.failures("m") == 5008
    queue.forget("m")
    assert queue.add_rate_limited("m") == 0.5
    assert queue.add_rate_limited("m", at_least=12.0) == 12.0, "a server's Retry-After wins"


def test_stalled_for_measures_due_work_nobody_takes_and_hung_workers() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    assert queue.stalled_for() == 0.0
    queue.add_after("a", 5.0)
    clock.t = 8.0
    assert queue.stalled_for() == 3.0, "due at 5, untaken at 8"
    assert queue.try_get() == "a"
    assert queue.stalled_for() == 0.0
    clock.t = 20.0
    assert queue.stalled_for() == 12.0, "a key held by a worker for 12 s"
    queue.done("a")
    assert queue.stalled_for() == 0.0


def test_a_backlog_being_worked_through_is_not_a_stall() -> None:
    clock = FakeClock()
    queue = WorkQueue(clock=clock)
    for index in range(100):
        queue.add(f"m{index}")
    for _ in range(99):
        clock.t += 0.1
        key = queue.try_get()
        assert key is not None
        queue.done(key)
        assert queue.stalled_for() < 0.2


class QueueMachine(RuleBasedStateMachine):
    """A model of the contract: which keys are owed a delivery, and none handed out twice."""

    keys = st.sampled_from(["a", "b", "c"])

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.queue = WorkQueue(clock=self.clock)
        self.owed: set[str] = set()  # must be handed out (again) at some point
        self.delayed: list[tuple[float, str]] = []
        self.in_flight: set[str] = set()
        self.closed = False

    def _settle_due(self) -> None:
        for due, key in list(self.delayed):
            if due <= self.clock.t:
                self.delayed.remove((due, key))
                self.owed.add(key)

    @rule(key=keys)
    def add(self, key: str) -> None:
        self.queue.add(key)
        if not self.closed:
            self.owed.add(key)

    @rule(key=keys, delay=st.sampled_from([0.5, 1.0, 3.0]))
    def add_after(self, key: str, delay: float) -> None:
        self.queue.add_after(key, delay)
        if not self.closed:
            self.delayed.append((self.clock.t + delay, key))

    @rule(step=st.sampled_from([0.25, 1.0, 2.0]))
    def advance(self, step: float) -> None:
        self.clock.t += step
        self._settle_due()

    @rule()
    def take(self) -> None:
        key = self.queue.try_get()
        if self.closed:
            assert key is None
            return
        ready = self.owed - self.in_flight
        if key is None:
            assert not ready, f"{sorted(ready)} owed and not in a worker, yet nothing handed out"
            return
        assert key not in self.in_flight, f"{key} handed out while a worker holds it"
        assert key in ready
        self.in_flight.add(key)
        self.owed.discard(key)

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.in_flight)))
        self.queue.done(key)
        self.in_flight.discard(key)

    @rule()
    def shutdown(self) -> None:
        self.queue.shutdown()
        self.closed = True

    @invariant()
    def nothing_is_lost(self) -> None:
        if self.closed:
            return
        queued = len(self.queue)
        assert queued == len(self.owed - self.in_flight), "every owed key not in a worker is queued once"


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None, derandomize=True)


@given(st.integers(min_value=0, max_value=2**32 - 1))
@settings(max_examples=5, deadline=None, derandomize=True)
def test_many_threads_lose_nothing_and_never_share_a_key(seed: int) -> None:
    """Producers add and add_after on the real clock while workers get and done."""
    rng = random.Random(seed)
    queue = WorkQueue()
    keys = [f"k{index}" for index in range(6)]
    holders: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    guard = threading.Lock()
    errors: list[str] = []

    def work() -> None:
        while (key := queue.get()) is not None:
            with guard:
                holders[key] += 1
                if holders[key] > 1:
                    errors.append(f"{key} held by two workers")
                delivered[key] += 1
            with guard:
                holders[key] -= 1
            queue.done(key)

    def produce(seed: int) -> None:
        local = random.Random(seed)
        for _ in range(300):
            key = local.choice(keys)
            if local.random() < 0.5:
                queue.add(key)
            else:
                queue.add_after(key, local.choice([0.0, 0.0005, 0.001]))

    workers = [threading.Thread(target=work) for _ in range(3)]
    producers = [threading.Thread(target=produce, args=(rng.random(),)) for _ in range(3)]
    for thread in [*workers, *producers]:
        thread.start()
    for thread in producers:
        thread.join(10)
    with guard:
        before = dict(delivered)
    for key in keys:  # a final add per key: each must be delivered after this point
        queue.add(key)
    pause = threading.Event()
    for _ in range(1000):
        with guard:
            if queue.idle() and all(delivered[k] > before.get(k, 0) for k in keys):
                break
        pause.wait(0.01)
    queue.shutdown()
    for thread in workers:
        thread.join(10)
    assert not errors
    assert all(not t.is_alive() for t in workers), "every worker exits on shutdown"
    assert all(delivered[k] > before.get(k, 0) for k in keys), "a final add of every key was delivered"
