"""Setting up and watching a run: venue, controller, emulator, waits, and checks on the exchange's own state.

Shared by the latency, churn and scaling runs so they measure the same controller set-up.
The exchange-side checks read the emulator's admin state, never the controller's view.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions
from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder
from controller.ops.redact import Secret
from controller.plan.bands import plan_market
from controller.spec.manifest import load_manifests
from controller.spec.types import MarketMakerSpec
from controller.venue.client import Venue, VenueConfig

from .markets import ADDRESS, MIN_SIZE, MarketIds, sim_config, synthetic_markets, write_manifests
from .probe import Probe
from .simproc import ChildSim, InProcessSim, start_emulator
from .whatif import WHAT_IF, DebouncedQueue, patch_fill_race

UNLIMITED = 1e9  # client-side rate budget when rate limits are off
SETTLE_TIMEOUT = 5.0  # seconds a move may take to settle before it counts as a timeout


def make_venue(url: str, *, rate_limits: bool) -> Venue:
    extra: dict[str, Any] = {}
    if not rate_limits:
        extra = {"order_rate": UNLIMITED, "order_burst": UNLIMITED, "cancel_rate": UNLIMITED, "cancel_burst": UNLIMITED}
    return Venue(
        VenueConfig(
            private_key=Secret(DEMO_PRIVATE_KEY), clob_host=url, ws_host=url.replace("http://", "ws://"), **extra
        )
    )


def make_controller(
    url: str, manifests: Path, probe: Probe, *, rate_limits: bool, ws_schema: bool = True
) -> Controller:
    """``ws_schema``: also check every WS message against the channels' JSON Schemas, an extra of
    tests and benchmarks that production does not run (``bandctl run`` passes no validators)."""
    venue = make_venue(url, rate_limits=rate_limits)
    ctl = Controller(
        venue,
        LiveOptions(manifest_paths=[str(manifests)]),
        ws_validators=probe.validators(schema=ws_schema and "no-schema" not in WHAT_IF),
    )
    probe.attach_controller(ctl)
    if "debounce" in WHAT_IF:
        ctl.reconciler.queue = DebouncedQueue(ctl.reconciler.queue)  # type: ignore[assignment]
    if "fill-race" in WHAT_IF:
        patch_fill_race(ctl.store)
    return ctl


def wait_idle(ctl: Controller, timeout: float = SETTLE_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not ctl.reconciler.queue.idle():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def wait_until(when: float) -> None:
    delay = when - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def start_sim_process(config_path: Path) -> tuple[subprocess.Popen[str], str]:
    from bench_sim import start_server  # the same launcher as the emulator benchmark

    return start_server(str(config_path), seed=1)


def exchange_view(admin: dict[str, Any], cond: str) -> ObservedState:
    """The exchange's own state of one market (books, our orders, our balances), as planner input."""
    market = admin["markets"][cond]
    books = {
        token: Book(
            bids=tuple(
                sorted(
                    (Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["bids"]),
                    key=lambda lv: lv.price,
                    reverse=True,
                )
            ),
            asks=tuple(
                sorted(
                    (Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["asks"]), key=lambda lv: lv.price
                )
            ),
        )
        for token, book in market["books"].items()
    }
    balance = admin["balances"].get(ADDRESS.lower(), {})
    orders = tuple(
        OpenOrder(
            o["id"],
            o["market"],
            o["tokenId"],
            o["side"],
            Decimal(o["price"]),
            Decimal(o["size"]),
            Decimal(o["sizeMatched"]),
        )
        for o in admin["orders"]
        if o["owner"].lower() == ADDRESS.lower() and o["market"] == cond
    )
    return ObservedState(
        time=datetime.now(UTC),
        markets={cond: MarketState(tick_size=Decimal(market["tickSize"]), min_order_size=MIN_SIZE, books=books)},
        balances=Balances(
            collateral=Decimal(balance.get("collateral", "0")),
            tokens={t: Decimal(v) for t, v in balance.get("tokens", {}).items()},
        ),
        orders=orders,
    )


def bands_filled(spec: MarketMakerSpec, state: ObservedState) -> bool:
    """Every band of both sides holds >= minAmount resting inside its margins around the reference price."""
    plan = plan_market(spec, state, state.time or datetime.now(UTC))
    if plan.reference_price is None:
        return False
    held: Counter[tuple[str, int]] = Counter()
    for kept in plan.kept:
        held[(kept.quote_side, kept.band)] += kept.order.remaining  # type: ignore[assignment]
    return all(held[(side, i)] >= band.min_amount for side in ("bid", "ask") for i, band in enumerate(spec.bands))


def converged(spec: MarketMakerSpec, state: ObservedState) -> bool:
    return not plan_market(spec, state, state.time or datetime.now(UTC)).has_changes


# --------------------------------------------------------------------------- one-market set-up


@dataclass
class OneMarket:
    """The latency and churn runs' world: one synthetic market, its manifest, the emulator
    (a child process by default, see ``simproc``) and the probe."""

    market: MarketIds
    spec: MarketMakerSpec
    manifests: Path
    sim: ChildSim | InProcessSim
    probe: Probe

    def move(self, fair: str) -> float:
        """Set the fair value with the emulator's hook armed; returns when it was sent.

        The times the emulator enqueued the re-quote's book changes join the probe's timeline
        before this returns."""
        cond = self.market.condition_id
        sent = time.perf_counter()
        self.probe.lines[cond].emits.extend(self.sim.move(cond, fair))
        return sent

    def start_move(self, fair: str) -> float:
        """``move`` that returns before the emulator runs it (see ``simproc``: a driver waiting on
        the emulator meanwhile slows the burst it writes); :meth:`finish_move` joins its times."""
        sent = time.perf_counter()
        self.sim.start_move(self.market.condition_id, fair)
        return sent

    def finish_move(self) -> None:
        """The started move's enqueue times join the probe's timeline (waits until it has run)."""
        self.probe.lines[self.market.condition_id].emits.extend(self.sim.moved())


@contextmanager
def one_market(start: float, seed: int, *, rate_limits: bool, in_process: bool = False) -> Iterator[OneMarket]:
    markets = synthetic_markets(1)
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "manifests"
        write_manifests(manifests, markets)
        spec = load_manifests(manifests)[0]
        sim = start_emulator(sim_config(markets, start, rate_limits=rate_limits), seed, in_process=in_process)
        probe = Probe()
        probe.track(markets)
        try:
            yield OneMarket(markets[0], spec, manifests, sim, probe)
        finally:
            sim.stop()
