"""A local Polymarket CLOB V2 exchange emulator (``bandctl sim``).

In-process use (tests, ``bandctl run --sim``)::

    from controller.sim import start_sim
    with start_sim(flow=False, clock="manual") as sim:
        client = ClobClient(sim.url, chain_id=137, key=...)
        ...
        sim.advance(11)            # manual clock: expire GTDs, fire the dead man's switch
        state = sim.admin_state()  # what actually reached the exchange

The server runs on its own thread and event loop; every handle method marshals its
work onto that loop, so the engine is only ever touched from one thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .clock import Clock, ManualClock, RealClock
from .config import SimConfig, SimConfigError, load_config
from .server import SimServer

__all__ = ["ManualClock", "RealClock", "SimConfig", "SimConfigError", "SimHandle", "load_config", "start_sim"]

T = TypeVar("T")


class SimHandle:
    """A running emulator: its URLs plus thread-safe accessors for tests and tools."""

    def __init__(self, server: SimServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self._server = server
        self._loop = loop
        self._thread = thread
        self.port: int = server.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._stopped = False

    @property
    def clock(self) -> Clock:
        return self._server.clock

    @property
    def config(self) -> SimConfig:
        return self._server.config

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(server, ...)`` on the server's loop thread and return its result."""
        return self.submit(fn, *args, **kwargs).result(timeout=30)

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Schedule ``fn(server, ...)`` on the server's loop thread; its result arrives in the future."""
        if self._stopped:
            raise RuntimeError("emulator stopped")

        async def run() -> T:
            return fn(self._server, *args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop)

    def admin_state(
        self,
        trades_limit: int = 1000,
        *,
        market: str | None = None,
        owner: str | None = None,
        since: float | None = None,
    ) -> dict[str, Any]:
        """What reached the exchange; optionally only one market's / one address's part, or trades since."""
        return self.call(lambda s: s.admin_state(trades_limit, market=market, owner=owner, since=since))

    def rewards(self) -> dict[str, Any]:
        """The rewards ledger: samples, the newest sample per market, the open day's earnings, paid days."""
        return self.call(lambda s: s.rewards.snapshot())

    def set_fair_value(self, condition_id: str, value: float | str) -> None:
        self.call(lambda s: s.set_fair_value(condition_id, value))

    def fair_value(self, condition_id: str) -> float:
        return self.call(lambda s: s.flow.fair_value(condition_id))

    def fund(
        self,
        address: str,
        collateral: float | str | None = None,
        tokens: dict[str, float | str] | None = None,
        mode: str = "set",
    ) -> dict[str, Any]:
        """Set (mode="set") or add to balances, in human units (1 = one pUSD / one share)."""
        return self.call(lambda s: s.fund(address, collateral, tokens, mode))

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """e.g. ``set_faults(error5xxFraction=0.5, marketFeedStalled=True)`` (names as in the YAML;
        the switches are listed in docs/emulator.md)."""
        return self.call(lambda s: s.set_faults(changes))

    def restart_engine(self, unavailable_seconds: float = 90, post_only_seconds: float = 120) -> None:
        """A matching-engine restart starting now: 425 on order endpoints, then post-only mode."""
        self.set_faults(engineRestart={"unavailableSeconds": unavailable_seconds, "postOnlySeconds": post_only_seconds})

    def change_tick_size(self, condition_id: str, tick_size: str, *, real: bool = True) -> None:
        """Change a market's tick (``real=False``: only push a ``tick_size_change`` message)."""
        action = "tickSizeChange" if real else "falseTickSizeChange"
        self.set_faults(**{action: {"conditionId": condition_id, "tickSize": tick_size}})

    def close_market(self, condition_id: str) -> None:
        self.call(lambda s: s.set_market_status(condition_id, "closed"))

    def resolve_market(self, condition_id: str, winner: str) -> None:
        self.call(lambda s: s.set_market_status(condition_id, "resolved", winner))

    def step_flow(self, n: int = 1) -> int:
        """Run n synthetic-flow steps now (independent of the clock). Returns the total step count."""
        return self.call(lambda s: s.step_flow(n))

    def advance(self, seconds: float) -> float:
        """Manual clock only: move time forward and apply what falls due (expiry, heartbeats, flow)."""
        return self.call(lambda s: s.advance(seconds))

    def recorded_messages(self) -> list[dict[str, Any]]:
        """Every WS message built so far (market and user), when started with ``record_messages``."""
        return self.call(lambda s: list(s.recorded))

    def stop(self) -> None:
        if self._stopped:
            return
        asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(timeout=30)
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sim(
    config: SimConfig | dict[str, Any] | str | Path | None = None,
    *,
    port: int = 0,
    seed: int | None = None,
    clock: Clock | str | None = None,
    flow: bool = True,
    record_messages: int = 0,
) -> SimHandle:
    """Start the emulator on 127.0.0.1 in a background thread; returns once it is listening.

    ``config``: a SimConfig, a parsed dict, a YAML path, or None for the built-in demo.
    ``clock``: None (real time), ``"manual"`` (a ManualClock at the current second) or any
    object with ``now()``. ``flow=False`` keeps the exchange quiet (no house, no takers).
    ``record_messages``: keep the last N WS messages built, for ``recorded_messages()``.
    """
    cfg = load_config(config)
    clk: Clock = ManualClock() if clock == "manual" else (RealClock() if clock is None else clock)  # type: ignore[assignment]
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            server = SimServer(cfg, clock=clk, seed=seed, flow=flow, record_messages=record_messages)
            loop.run_until_complete(server.start("127.0.0.1", port))
            ready["server"] = server
        except BaseException as exc:
            ready["error"] = exc
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="bandctl-sim", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if "error" in ready:
        raise ready["error"]
    if "server" not in ready:
        raise RuntimeError("emulator did not start within 30 s")
    return SimHandle(ready["server"], loop, thread)
