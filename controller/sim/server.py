"""The emulator server: owns the exchange's state and wires the route groups onto one port.

REST, ``/ws/market``, ``/ws/user`` and ``/admin/*`` share one aiohttp app. All engine
access happens on the server's event loop thread: each handler does its synchronous
engine work in one go, then hands the engine's events to ``dispatch`` (``fanout``), which
queues WebSocket messages per connection. A ticker applies time (GTD expiry, the dead
man's switch, due flow steps, WS disconnect faults).

``bandctl sim`` lives in ``serve``; ``run_sim_command`` is re-exported here for callers
that import it from this module.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from .account_routes import AccountRoutes
from .admin import Admin
from .api_keys import ApiKeyRoutes, KeyRegistry
from .app import build_app
from .auth import OrderVerifier, derive_api_key
from .clock import Clock, RealClock
from .config import SimConfig
from .engine import Engine
from .events import Event
from .fanout import Fanout
from .faults import Faults
from .flow import Flow
from .market_data import MarketDataRoutes
from .model import Trade
from .order_routes import OrderRoutes
from .ratelimit import RateLimiter
from .request_auth import RequestAuth
from .restart import EngineRestarts, WeeklySchedule
from .reward_routes import RewardRoutes
from .rewards import RewardsBook, day_of
from .serve import run_sim_command
from .ws import WsHub

__all__ = ["SimServer", "run_sim_command"]

log = logging.getLogger("bandctl.sim")

TICK_INTERVAL = 0.05


class SimServer:
    def __init__(
        self,
        config: SimConfig,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        flow: bool = True,
        record_messages: int = 0,
    ) -> None:
        self.config = config
        self.clock = clock or RealClock()
        self.seed = 0 if seed is None else seed
        self.engine = Engine(config, self.clock.now, self.seed)
        self.verifier = OrderVerifier(config.chain_id)
        self.flow = Flow(self.engine, config, self.seed, enabled=flow)
        self.rewards = RewardsBook(self.engine, self.clock.now())
        self.rewards_started = day_of(self.clock.now())  # the programmes' start_date
        self.faults = Faults(config.faults, time.monotonic, self.seed)
        weekly = config.settings.engine_restart
        self.restarts = EngineRestarts(
            WeeklySchedule(weekly.weekday, weekly.second_of_day, weekly.unavailable_seconds, weekly.post_only_seconds)
            if weekly
            else None
        )
        if "engineRestart" in config.faults:
            r = config.faults["engineRestart"]
            self.restarts.schedule(
                self.clock.now(),
                float(r.get("unavailableSeconds", 90)),
                float(r.get("postOnlySeconds", 120)),
                float(r.get("startInSeconds", 0)),
            )
        self.ratelimiter = RateLimiter(config.rate_limits)
        self.keys = KeyRegistry()
        self.auth = RequestAuth(self)
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()  # "METHOD /path STATUS" of non-200s
        self.hub = WsHub(self)
        self.fanout = Fanout(self, record_messages)
        self.admin = Admin(self)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._tick_task: asyncio.Task[None] | None = None
        # Configured accounts can use their nonce-0 creds on the user channel even after a restart.
        for acct in config.accounts:
            self.keys.register(derive_api_key(acct.address, 0))
        self.engine.on_trade = self._maybe_fail_trade
        self.flow.start()
        self.dispatch()

    # ------------------------------------------------------------ plumbing

    def dispatch(self, events: list[Event] | None = None, *, after_answer: bool = False) -> None:
        """Send the given events (default: whatever the engine has pending) to WS subscribers;
        ``after_answer`` from a REST handler: see ``Fanout.dispatch``."""
        self.fanout.dispatch(self.engine.drain_events() if events is None else events, after_answer=after_answer)

    def _maybe_fail_trade(self, trade: Trade) -> None:
        if self.faults.fail_trade():
            self.engine.fail_trade(trade)
        self.rewards.on_trade(trade)  # a maker rebate, unless the trade FAILED

    @property
    def recorded(self) -> collections.deque[dict[str, Any]]:
        return self.fanout.recorded

    # bench/bench_controller.py wraps this to timestamp each book change it sends.
    @property
    def _book_change(self) -> Any:
        return self.fanout.book_change

    @_book_change.setter
    def _book_change(self, fn: Any) -> None:
        self.fanout.book_change = fn  # type: ignore[method-assign]

    def build_app(self) -> web.Application:
        groups = (
            MarketDataRoutes(self),
            ApiKeyRoutes(self),
            OrderRoutes(self),
            AccountRoutes(self),
            RewardRoutes(self),
            self.hub,
            self.admin,
        )
        return build_app(self, [row for g in groups for row in g.routes()])

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets, "the listening socket is missing"
        self.port = sockets[0].getsockname()[1]
        self._tick_task = asyncio.get_running_loop().create_task(self._ticker())
        return self.port

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
        await self.hub.close_all()
        if self.runner is not None:
            await self.runner.cleanup()
        self.admin.close()  # its render thread, once no request can reach it

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            try:
                self.tick()
                every = self.faults.disconnect_every
                if every:
                    self.hub.abort_older_than(every)
            except Exception:  # the exchange must keep running whatever a step does
                log.exception("tick failed")

    def tick(self) -> None:
        self.engine.advance()
        self.rewards.sample_due(self.clock.now())  # before flow: samples see the book that rested
        self.flow.step_due()
        self.engine.advance()
        self.dispatch()

    # ------------------------------------------------------------ admin façade (SimHandle, tests, bench)

    def admin_state(self, trades_limit: int = 1000, **filters: Any) -> dict[str, Any]:
        return self.admin.state(trades_limit, **filters)

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        return self.admin.set_faults(changes)

    def fund(
        self, address: str, collateral: Any = None, tokens: dict[str, Any] | None = None, mode: str = "set"
    ) -> dict[str, Any]:
        return self.admin.fund(address, collateral, tokens, mode)

    def set_fair_value(self, cond: str, value: Any) -> dict[str, Any]:
        return self.admin.set_fair_value(cond, value)

    def set_market_status(self, cond: str, status: str, winner: str | None = None) -> dict[str, Any]:
        return self.admin.set_market_status(cond, status, winner)

    def advance(self, seconds: float) -> float:
        return self.admin.advance(seconds)

    def step_flow(self, n: int) -> int:
        return self.admin.step_flow(n)
