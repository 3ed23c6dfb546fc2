"""One scale run: N markets in one controller with synthetic flow on, the emulator a subprocess.

``bench/scale.py`` starts one fresh process per run (so RSS and CPU are this run's only)
and calls :func:`run_one` there. It measures and decides nothing about the controller:

* event -> reconcile complete: from the stream handler's entry for the market-channel or
  user-channel message that queued a manifest (the earliest, when several did before it
  ran) to the end of the reconcile that took it off the queue;
* controller CPU per stream event: this process's CPU over the window (minus the poller
  thread's) divided by the stream messages handled, and per reconcile;
* RSS per market: VmRSS after convergence minus VmRSS before the controller was built;
* the emulator's CPU, flow steps and how long a probe polling ``/admin/state`` waits.

Flow: every market's fair value drifts and the house re-quotes around it, takers trade
now and then. The step interval is ``N / steps_per_second`` and volatility and taker rate
are scaled with it, so that one market's step looks the same and the total event rate is
the same at every N: only the number of markets changes.
"""

from __future__ import annotations

import inspect
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from chaos_procs import rss_mb
from controller_bench.markets import ADDRESS, HOUSE, MarketIds, synthetic_markets, write_manifests
from controller_bench.session import start_sim_process
from controller_bench.simproc import process_cpu
from controller_bench.stats import load, pct

from controller.loop import resync as resync_module
from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions
from controller.ops.redact import Secret
from controller.venue.client import Venue, VenueConfig

# Rate limits on (a high tier, as a market maker with 1,000 markets would hold): the
# start-up's 6 orders a market go through the same budget on both sides.
ORDER_RATE, ORDER_BURST = 500.0, 500.0
CANCEL_RATE, CANCEL_BURST = 1000.0, 1000.0


STEP_SIGMA = 0.04  # logit units a market's fair value moves per step (about a tick at 0.5)
TAKES_PER_STEP = 0.1  # mean taker orders per market step


def sim_config(markets: list[MarketIds], step_seconds: float) -> dict[str, Any]:
    return {
        "rateLimits": {
            "enabled": True,
            "orders": {"rate": ORDER_RATE, "burst": ORDER_BURST},
            "cancels": {"rate": CANCEL_RATE, "burst": CANCEL_BURST},
        },
        "flow": {
            "enabled": True,
            "stepSeconds": step_seconds,
            "volatility": STEP_SIGMA / step_seconds**0.5,  # the emulator scales it by sqrt(dt)
            "jumpProbability": 0.0,
            "house": {"enabled": True, **HOUSE},
            "takers": {
                "enabled": True,
                "rate": TAKES_PER_STEP / step_seconds,
                "minSize": 5,
                "maxSize": 15,
                "informedFraction": 0.0,
            },
        },
        "markets": [
            {
                "name": m.name,
                "conditionId": m.condition_id,
                "tokens": {"yes": m.yes, "no": m.no},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": 0.5,
            }
            for m in markets
        ],
        "accounts": [{"address": ADDRESS, "signatureType": 0, "collateral": 100_000_000}],
    }


def rss_kb() -> int:
    """This process's VmRSS in KB (the chaos run's reader, for the same rule everywhere)."""
    mb = rss_mb(os.getpid())
    return 0 if mb is None else round(mb * 1024)


def resync_costs(ctl: Controller, repeats: int = 3) -> dict[str, float | None]:
    """CPU ms of one resync as the schedule runs it now and of one that reads every open
    order (medians of ``repeats``, after the window: the process's CPU over the call, so
    the streams' concurrent work is in it; ``full`` is None on controllers without the choice)."""
    run = ctl.resyncer.run
    kinds: dict[str, dict[str, bool]] = {"scheduled": {}}
    if "full_orders" in inspect.signature(run).parameters:
        kinds["full"] = {"full_orders": True}
    out: dict[str, float | None] = {"scheduled": None, "full": None}
    for kind, kwargs in kinds.items():
        spent = []
        for _ in range(repeats):
            cpu0 = time.process_time()
            run(**kwargs)
            spent.append(1000 * (time.process_time() - cpu0))
        out[kind] = round(statistics.median(spent), 1)
    return out


def amortized(
    per_event: float, resync_cpu: dict[str, float | None], interval: float, events_per_second: float
) -> float | None:
    """CPU per event with the periodic full read of every open order spread over its period
    (the window is too short to hold one at every N): one resync in ``FULL_ORDER_READ_EVERY``
    costs ``full`` instead of ``scheduled``."""
    every = getattr(resync_module, "FULL_ORDER_READ_EVERY", None)
    full, scheduled = resync_cpu.get("full"), resync_cpu.get("scheduled")
    if every is None or full is None or scheduled is None or not events_per_second:
        return None
    extra_per_second = max(0.0, full - scheduled) / (every * interval)
    return round(per_event + extra_per_second / events_per_second, 3)


def order_reads(ctl: Controller) -> tuple[int, int]:
    """The resync's full and sliced open-orders reads so far (zeros on older controllers)."""
    resync = ctl.resyncer
    return getattr(resync, "full_order_reads", 0), getattr(resync, "sliced_order_reads", 0)


class Hooks:
    """Timestamps of stream events, the queue adds they cause and the reconciles that follow."""

    def __init__(self, ctl: Controller) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.pending: dict[str, float] = {}  # manifest -> earliest event that queued it
        self.latencies: list[float] = []
        self.events = 0
        self.reconciles = 0
        self.converged: set[str] = set()
        self.problems = 0
        self.measuring = False
        handlers, reconciler = ctl.handlers, ctl.reconciler
        on_market, on_user = handlers.on_market_event, handlers.on_user_event
        add, reconcile = reconciler.queue.add, reconciler.reconcile
        # Older controllers (the "before" runs) have no clear_dirty: a reconcile covers what
        # was queued before it started.
        clear_dirty = getattr(reconciler.queue, "clear_dirty", None)
        taken: dict[str, float] = {}  # manifest -> earliest event its running reconcile covers

        def timed(handler: Any) -> Any:
            def wrapper(channel: str, event: Any) -> None:
                self.local.event = time.perf_counter()
                try:
                    handler(channel, event)
                finally:
                    self.local.event = None
                    self.events += 1  # one stream thread per channel; a lost count is noise

            return wrapper

        def timed_add(name: str, *args: Any, **kwargs: Any) -> Any:
            when = getattr(self.local, "event", None)
            if when is not None:
                with self.lock:
                    self.pending.setdefault(name, when)
            return add(name, *args, **kwargs)

        def take(name: str) -> None:
            with self.lock:
                when = self.pending.pop(name, None)
                if when is not None:
                    taken[name] = min(when, taken.get(name, when))

        def timed_clear_dirty(name: str) -> Any:
            # The reconcile reads the whole state next: every event so far is covered by it.
            take(name)
            return clear_dirty(name) if clear_dirty is not None else None

        def timed_reconcile(name: str) -> Any:
            take(name)
            outcome = reconcile(name)
            end = time.perf_counter()
            plan = outcome.plan
            with self.lock:
                began = taken.pop(name, None)
                self.reconciles += 1
                if outcome.error or outcome.rejected:
                    self.problems += 1
                if outcome.ok and plan is not None and not plan.has_changes:
                    self.converged.add(name)
                if began is not None and self.measuring:
                    self.latencies.append(end - began)
            return outcome

        handlers.on_market_event = timed(on_market)  # type: ignore[method-assign]
        handlers.on_user_event = timed(on_user)  # type: ignore[method-assign]
        reconciler.queue.add = timed_add  # type: ignore[method-assign, assignment]
        if clear_dirty is not None:
            reconciler.queue.clear_dirty = timed_clear_dirty  # type: ignore[method-assign, assignment]
        reconciler.reconcile = timed_reconcile  # type: ignore[method-assign]


class Poller:
    """A probe polling the emulator's ``/admin/state`` (our orders, no books, no trades)."""

    def __init__(self, url: str, interval: float) -> None:
        self.url, self.interval = url, interval
        self.waits: list[float] = []
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="admin-poller")

    def _run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.wait(self.interval):
                began = time.perf_counter()
                http.get(
                    self.url + "/admin/state", params={"owner": ADDRESS, "trades": 0, "books": 0, "markets": 0}
                ).raise_for_status()
                self.waits.append(time.perf_counter() - began)
        self.cpu = time.thread_time()

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_one(
    n: int, seconds: float, steps_per_second: float, poll_interval: float, resync_interval: float = 15.0
) -> dict[str, Any]:
    markets = synthetic_markets(n)
    step = n / steps_per_second
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sim.yaml"
        config.write_text(yaml.safe_dump(sim_config(markets, step)))
        manifests = Path(tmp) / "manifests"
        write_manifests(manifests, markets)
        proc, url = start_sim_process(config)
        try:
            return _measure(
                n, seconds, step, poll_interval, resync_interval, proc, url, manifests, Path(tmp), load_before
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _measure(
    n: int,
    seconds: float,
    step: float,
    poll_interval: float,
    resync_interval: float,
    proc: Any,
    url: str,
    manifests: Path,
    tmp: Path,
    load_before: list[float],
) -> dict[str, Any]:
    rss0 = rss_kb()
    venue = Venue(
        VenueConfig(
            private_key=Secret(DEMO_PRIVATE_KEY),
            clob_host=url,
            ws_host=url.replace("http://", "ws://"),
            order_rate=ORDER_RATE,
            order_burst=ORDER_BURST,
            cancel_rate=CANCEL_RATE,
            cancel_burst=CANCEL_BURST,
        )
    )
    options = LiveOptions(
        manifest_paths=[str(manifests)], state_dir=str(tmp / "state"), resync_interval=resync_interval
    )
    ctl = Controller(venue, options)
    try:
        hooks = Hooks(ctl)
        t0, cpu0 = time.perf_counter(), time.process_time()
        ctl.start()
        deadline = t0 + max(120.0, n * 0.3)
        while len(hooks.converged) < n:
            if time.perf_counter() > deadline:
                raise SystemExit(f"scale: N={n}: {len(hooks.converged)} of {n} markets converged in time")
            time.sleep(0.05)
        startup_s, startup_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        time.sleep(min(5.0, step))  # the start-up's echoes settle
        rss = rss_kb()
        admin = httpx.get(url + "/admin/state", params={"trades": 0, "books": 0}, timeout=30).json()
        steps0 = admin["flow"]["steps"]
        balance0 = sum(v for k, v in admin["requests"].items() if "balance" in k)
        with hooks.lock:
            hooks.measuring, hooks.events, hooks.reconciles, hooks.problems = True, 0, 0, 0
        reads0 = order_reads(ctl)
        cpu0, sim0, w0 = time.process_time(), process_cpu(proc.pid), time.perf_counter()
        with Poller(url, poll_interval) as poller:
            time.sleep(seconds)
        wall = time.perf_counter() - w0
        reads = [b - a for a, b in zip(reads0, order_reads(ctl), strict=True)]
        cpu = time.process_time() - cpu0 - poller.cpu
        sim_cpu = process_cpu(proc.pid) - sim0
        with hooks.lock:
            hooks.measuring = False
            latencies, events, reconciles, problems = (
                list(hooks.latencies),
                hooks.events,
                hooks.reconciles,
                hooks.problems,
            )
        admin = httpx.get(
            url + "/admin/state", params={"owner": ADDRESS, "trades": 0, "books": 0, "markets": 0}, timeout=30
        )
        state = admin.json()
        open_orders = len(state["orders"])
        steps = state["flow"]["steps"] - steps0
        requests = state["requests"]
        resync_cpu = resync_costs(ctl)
    finally:
        ctl.stop()
    ms = [x * 1000 for x in latencies]
    cpu_per_event = 1000 * cpu / max(events, 1)
    return {
        "markets": n,
        "open_orders": open_orders,
        "step_seconds": step,
        "startup_s": round(startup_s, 1),
        "startup_cpu_s": round(startup_cpu, 1),
        "seconds": round(wall, 1),
        "flow_steps": steps,
        "stream_events": events,
        "reconciles": reconciles,
        "reconciles_with_problems": problems,
        "measured": len(ms),
        "event_to_reconcile_ms": {
            "p50": round(pct(ms, 0.5), 1),
            "p90": round(pct(ms, 0.9), 1),
            "p99": round(pct(ms, 0.99), 1),
            "max": round(max(ms, default=float("nan")), 1),
        },
        "cpu_ms_per_event": round(cpu_per_event, 3),
        "cpu_ms_per_event_amortized": amortized(cpu_per_event, resync_cpu, resync_interval, events / wall),
        "cpu_ms_per_reconcile": round(1000 * cpu / max(reconciles, 1), 3),
        "controller_cpu_pct": round(100 * cpu / wall, 1),
        "emulator_cpu_pct": round(100 * sim_cpu / wall, 1),
        "rss_mb": round(rss / 1024, 1),
        "rss_kb_per_market": round((rss - rss0) / n, 1),
        "admin_poll_ms": {
            "p50": round(1000 * statistics.median(poller.waits), 1) if poller.waits else None,
            "p99": round(1000 * pct(poller.waits, 0.99), 1) if poller.waits else None,
            "polls": len(poller.waits),
        },
        "order_reads": {"full": reads[0], "sliced": reads[1]},  # resyncs' open-orders reads, by kind
        "resync_cpu_ms": resync_cpu,
        "balance_requests": sum(v for k, v in requests.items() if "balance" in k) - balance0,
        "load_before": load_before,
        "load_after": load(),
    }
