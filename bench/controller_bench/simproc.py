"""The emulator of the latency and churn runs, in a child process (default) or in this one.

Why a child process: in production the exchange is another machine. An emulator on a
thread of the benchmark process shares the controller's interpreter lock, so its work
(signature recovery, matching, the WebSocket messages) and the controller's take turns,
which inflates both the controller's figures and the floor, and delays the house's
re-quote messages behind our own requests. The child runs the same emulator
(``controller.sim.start_sim``) with the probe's hook on its book-change dispatch; a
``multiprocessing`` pipe carries the few calls the runs make. ``InProcessSim`` keeps the
old set-up (``--sim-in-process``) for comparison; both have the same methods.

``split_cpus`` (``--pin``) puts the child on a CPU of its own and this process on the others,
so that the two also never take turns on one CPU, as with an exchange on another machine.

``start_move`` / ``moved`` (the latency run) drive a move without a caller waiting on the
emulator's loop meanwhile: the child answers the pipe first, then starts the move. A caller
that waits for ``move``'s answer wakes on it while the loop writes the re-quote's burst and
takes the interpreter lock from it, so the burst's later frames leave late.
No exchange has such a driver, so the latency run must not have it either; the churn run
keeps ``move`` (its naive loop reacts when the call returns, as a polling script would).

Timestamps taken in the child are ``time.perf_counter()``: CLOCK_MONOTONIC on Linux, one
clock for every process of the machine; ``clock_check`` verifies that at start-up.
This module may not decide anything about the controller, nor reach it but over sockets.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0

_child_cpus: set[int] | None = None  # split_cpus: the CPU every child emulator is pinned to


def split_cpus() -> str:
    """Pin this process to all its CPUs but the last and every child emulator to the last one."""
    global _child_cpus
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    _child_cpus = {cpus[-1]}
    os.sched_setaffinity(0, set(cpus[:-1]))
    return f"emulator on CPU {cpus[-1]}, controller on CPU {','.join(map(str, cpus[:-1]))}"


def process_cpu(pid: int) -> float:
    """utime + stime of another process, seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Hooked:
    """The emulator with the probe's hook: book changes of the armed market are timestamped."""

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        from controller.sim import start_sim

        self.sim = start_sim(config, seed=seed)
        self.armed: str | None = None
        self.emits: list[float] = []
        self._moving: Future[list[float]] | None = None
        server = self.sim._server
        book_change = server._book_change

        def timed_book_change(e: Any) -> None:
            book_change(e)
            if self.armed is not None and self.armed == e.market.condition_id:
                self.emits.append(time.perf_counter())

        server._book_change = timed_book_change

    def _armed_move(self, server: Any, cond: str, fair: str) -> list[float]:
        """On the emulator's loop: set the fair value with the hook armed; the enqueue times."""
        self.armed, self.emits = cond, []
        try:
            server.set_fair_value(cond, fair)
        finally:
            self.armed = None
        return self.emits

    def move(self, cond: str, fair: str) -> list[float]:
        """Set the fair value on the emulator's loop with the hook armed; the re-quote's enqueue times."""
        return self.sim.call(self._armed_move, cond, fair)

    def start_move(self, cond: str, fair: str) -> None:
        """``move`` without waiting: the loop runs it when it can; :meth:`moved` collects it."""
        try:
            self.moved()  # one move at a time: never two armed at once
            self._moving = self.sim.submit(self._armed_move, cond, fair)
        except Exception as exc:  # raised by the next moved(): the caller is not waiting now
            self._moving = Future()
            self._moving.set_exception(exc)

    def moved(self) -> list[float]:
        """The started move's enqueue times, once it has run (nothing started: none)."""
        moving, self._moving = self._moving, None
        return moving.result(timeout=START_TIMEOUT) if moving is not None else []


def _child(conn: Connection, config: dict[str, Any], seed: int, cpus: set[int] | None = None) -> None:
    """The child's main thread: serve the pipe until "stop" or the parent goes away."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    logging.basicConfig(level=logging.ERROR)
    hooked = _Hooked(config, seed)
    sim = hooked.sim
    ops: dict[str, Callable[..., Any]] = {
        "clock": time.perf_counter,
        "move": hooked.move,
        "moved": hooked.moved,
        "admin_state": sim.admin_state,
        "fund": sim.fund,
    }
    conn.send(("ready", sim.url))
    try:
        while True:
            try:
                op, args, kwargs = conn.recv()
            except EOFError:
                break
            if op == "stop":
                break
            if op == "start_move":  # answered first, so that nobody waits on the loop meanwhile
                conn.send(("ok", None))
                hooked.start_move(*args, **kwargs)
                continue
            try:
                conn.send(("ok", ops[op](*args, **kwargs)))
            except Exception as exc:  # reported to the parent, which raises it
                conn.send(("error", f"{op}: {exc!r}"))
    finally:
        sim.stop()
        conn.close()


class ChildSim:
    """The emulator in a child process (its own interpreter lock), driven over a pipe."""

    where = "child process"

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
        self._conn, child_end = ctx.Pipe()
        args = (child_end, config, seed, _child_cpus)
        self._proc = ctx.Process(target=_child, args=args, name="bench-sim", daemon=True)
        self._proc.start()
        child_end.close()
        self._lock = threading.Lock()
        try:
            if not self._conn.poll(START_TIMEOUT):
                raise EOFError
            kind, url = self._conn.recv()
        except EOFError:
            self.stop()
            raise SystemExit("the emulator's child process did not start (see its output above)") from None
        if kind != "ready":
            self.stop()
            raise SystemExit(f"the emulator's child process did not start: {url}")
        self.url: str = url
        self.pid: int = self._proc.pid or 0

    def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._conn.send((op, args, kwargs))
            kind, value = self._conn.recv()
        if kind != "ok":
            raise RuntimeError(f"emulator: {value}")
        return value

    def move(self, cond: str, fair: str) -> list[float]:
        return self._call("move", cond, fair)

    def start_move(self, cond: str, fair: str) -> None:
        self._call("start_move", cond, fair)

    def moved(self) -> list[float]:
        return self._call("moved")

    def admin_state(self, trades_limit: int = 1000) -> dict[str, Any]:
        return self._call("admin_state", trades_limit)

    def fund(self, address: str, collateral: str) -> dict[str, Any]:
        return self._call("fund", address, collateral)

    def cpu(self) -> float:
        return process_cpu(self.pid)

    def clock_check(self, rounds: int = 200) -> dict[str, Any]:
        """The child's perf_counter read between two of ours, every round (one clock for both)."""
        bad = 0
        for _ in range(rounds):
            before = time.perf_counter()
            theirs = self._call("clock")
            after = time.perf_counter()
            bad += not before <= theirs <= after
        if bad:
            raise SystemExit(f"the child's perf_counter is not ours: {bad}/{rounds} readings out of order")
        return {"rounds": rounds, "out_of_order": bad, "clock": str(time.get_clock_info("perf_counter"))}

    def stop(self) -> None:
        if self._proc.is_alive():
            try:
                with self._lock:
                    self._conn.send(("stop", (), {}))
            except OSError:
                pass
            self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(30)
        self._conn.close()


class InProcessSim:
    """The emulator on a thread of this process (the set-up before the child process)."""

    where = "in process"

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        self._hooked = _Hooked(config, seed)
        self.url: str = self._hooked.sim.url
        self.pid = 0

    def move(self, cond: str, fair: str) -> list[float]:
        return self._hooked.move(cond, fair)

    def start_move(self, cond: str, fair: str) -> None:
        self._hooked.start_move(cond, fair)

    def moved(self) -> list[float]:
        return self._hooked.moved()

    def admin_state(self, trades_limit: int = 1000) -> dict[str, Any]:
        return self._hooked.sim.admin_state(trades_limit)

    def fund(self, address: str, collateral: str) -> dict[str, Any]:
        return self._hooked.sim.fund(address, collateral)

    def cpu(self) -> float:
        return 0.0  # counted in this process's CPU time

    def clock_check(self, rounds: int = 0) -> dict[str, Any]:
        return {"rounds": 0, "out_of_order": 0, "clock": "one process"}

    def stop(self) -> None:
        self._hooked.sim.stop()


def start_emulator(config: dict[str, Any], seed: int, *, in_process: bool) -> ChildSim | InProcessSim:
    return InProcessSim(config, seed) if in_process else ChildSim(config, seed)
