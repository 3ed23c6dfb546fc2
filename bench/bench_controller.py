"""Benchmarks of the live controller against the emulator on loopback.

    python bench/bench_controller.py [latency|churn|scaling|all] [--quick] [--json]

* ``latency``: tick-to-quote. The emulator (in-process, real clock, quiet flow: no takers,
  volatility 0, no jumps; house liquidity on) moves one market's fair value; the house
  re-quotes and the reference price moves by 1-2 ticks, which usually pushes some of our
  orders out of their bands (moves that need no replacement are not counted). Measured
  from the emulator enqueueing the first ``price_change`` of that re-quote on the
  controller's WebSocket connection to the controller receiving the ``POST /orders``
  response of the last replacement order (the order is then resting: the
  emulator matches and rests an order before it answers). Hooks wrap the controller's WS
  handler and schema validator, ``Reconciler.reconcile``, ``Venue.cancel_orders``,
  ``Venue.place_orders`` and ``Venue._sign`` (benchmark-side monkeypatching, no controller
  change) to break the time down.
* ``churn``: order actions (places + cancels sent) per 1,000 price events on a seeded
  fair-value path (steps of 0.5 or 1 tick, 2% jumps of 3-8 ticks), for bandctl and for a
  naive loop that on every price event cancels all its orders and places one at every
  band's avgMargin (also: the same loop re-quoting only when the reference price changed).
  Events arrive every ``--interval`` seconds; just before each event we check the
  exchange's own state: every band holds >= minAmount inside its margins around the
  current reference price.
* ``scaling``: 1..200 markets in one controller. The emulator runs as a subprocess
  (``bandctl sim``) so its CPU is not counted; fair values are moved through its admin
  endpoint, one market at a time, and we measure tick-to-quote and the controller
  process's CPU time.

``--what-if`` applies experimental patches on top of the shipped controller (from this
script only) to size the optimisations proposed in BENCHMARKS.md.

Rate limits: the latency run keeps the standard tier (40 orders/s, burst 60) on both the
emulator and the controller's client-side budget; churn and scaling disable them
(``rateLimits: {enabled: false}`` and an unbounded client budget), see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from controller.plan.bands import plan_market, reference_price  # noqa: E402
from controller.loop.controller import DEMO_PRIVATE_KEY, Controller, LiveOptions  # noqa: E402
from controller.loop.triggers import schema_validators as _schema_validators  # noqa: E402
from controller.spec.manifest import load_manifests  # noqa: E402
from controller.ops.redact import Secret  # noqa: E402
from controller.spec.types import MarketMakerSpec  # noqa: E402
from controller.observe.state import Balances, Book, Level, MarketState, ObservedState, OpenOrder  # noqa: E402
from controller.venue.client import OrderRequest, Venue, VenueConfig  # noqa: E402

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the demo key's address
TICK = Decimal("0.01")
MIN_SIZE = Decimal(5)
PRICE_SCALE = 10_000  # the emulator's price units per 1.0
TICK_UNITS = 100
HOUSE = {"levels": 3, "halfSpread": 0.02, "levelStep": 0.01, "size": 50}
# (minMargin, avgMargin, maxMargin); amounts are the same for every band.
BANDS = ((Decimal("0.01"), Decimal("0.02"), Decimal("0.03")),
         (Decimal("0.03"), Decimal("0.04"), Decimal("0.05")),
         (Decimal("0.05"), Decimal("0.06"), Decimal("0.07")))
MIN_AMOUNT, AVG_AMOUNT, MAX_AMOUNT = 10, 20, 30
UNLIMITED = 1e9  # client-side rate budget when rate limits are off
SETTLE_TIMEOUT = 5.0
SAMPLE_LEAD = 0.003  # churn: sample the exchange this long before the next event

log = logging.getLogger("bench")


# --------------------------------------------------------------------------- markets


@dataclass(frozen=True)
class MarketIds:
    name: str
    condition_id: str
    yes: str
    no: str


def synthetic_markets(n: int) -> list[MarketIds]:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    return [
        MarketIds(
            name=f"bench-{i:03d}",
            condition_id="0x" + digest(f"bench-condition-{i}"),
            yes=str(int(digest(f"bench-yes-{i}"), 16) >> 8),
            no=str(int(digest(f"bench-no-{i}"), 16) >> 8),
        )
        for i in range(n)
    ]


def manifest_text(m: MarketIds) -> str:
    bands = "\n".join(
        f"    - {{minMargin: {lo}, avgMargin: {avg}, maxMargin: {hi}, "
        f"minAmount: {MIN_AMOUNT}, avgAmount: {AVG_AMOUNT}, maxAmount: {MAX_AMOUNT}}}"
        for lo, avg, hi in BANDS
    )
    return (
        "apiVersion: bandctl/v1\nkind: MarketMaker\n"
        f"metadata:\n  name: {m.name}\n"
        "spec:\n  market:\n"
        f'    conditionId: "{m.condition_id}"\n'
        f'    tokens: {{yes: "{m.yes}", no: "{m.no}"}}\n'
        f"  bands:\n{bands}\n"
        "  referencePrice: {source: midpoint, maxSpread: 0.1}\n"
        "  orders: {type: GTC, postOnly: true}\n"
    )


def write_manifests(directory: Path, markets: Sequence[MarketIds]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for m in markets:
        (directory / f"{m.name}.yaml").write_text(manifest_text(m))


def sim_config(markets: Sequence[MarketIds], fair: float, *, rate_limits: bool) -> dict[str, Any]:
    """N markets with house liquidity, a still fair value, no takers, no jumps."""
    return {
        "rateLimits": {"enabled": rate_limits},
        "flow": {"enabled": True, "stepSeconds": 1.0, "volatility": 0.0, "jumpProbability": 0.0,
                 "house": {"enabled": True, **HOUSE}, "takers": {"enabled": False, "rate": 0.0}},
        "markets": [
            {"name": m.name, "conditionId": m.condition_id, "tokens": {"yes": m.yes, "no": m.no},
             "tickSize": "0.01", "minOrderSize": 5, "fairValue": fair}
            for m in markets
        ],
        "accounts": [{"address": ADDRESS, "signatureType": 0, "collateral": 1_000_000}],
    }


def house_mid(fair: float) -> Decimal:
    """The reference price the house's best levels give (the emulator's float arithmetic, exactly)."""
    x = fair * PRICE_SCALE
    offset = (HOUSE["halfSpread"] + 0 * HOUSE["levelStep"]) * PRICE_SCALE
    bid = math.floor((x - offset) / TICK_UNITS) * TICK_UNITS
    ask = math.ceil((x + offset) / TICK_UNITS) * TICK_UNITS
    return (Decimal(bid) + Decimal(ask)) / 2 / PRICE_SCALE


def tick_walk(n: int, seed: int, start_units: int, unit: Decimal, steps: Sequence[int], lo: int, hi: int,
              jump_probability: float = 0.0, jumps: tuple[int, int] = (0, 0)) -> list[str]:
    """A seeded walk on a grid of ``unit``; returns fair values as exact decimal strings."""
    rng = random.Random(seed)
    units, out = start_units, []
    for _ in range(n):
        step = rng.choice(steps) * rng.choice((-1, 1))
        if jump_probability and rng.random() < jump_probability:
            step = rng.randrange(jumps[0], jumps[1] + 1, 2) * rng.choice((-1, 1))
        if not lo <= units + step <= hi:
            step = -step  # bounce off the bounds (never a "move" to the same value)
        units += step
        out.append(str(Decimal(units) * unit))
    return out


def latency_path(n: int, seed: int) -> list[str]:
    """Fair values on half ticks (x.xx5, so the house mid equals them), steps of 1 or 2 ticks."""
    return tick_walk(n, seed, 101, Decimal("0.005"), (2, 4), 61, 139)


def churn_path(n: int, seed: int) -> list[str]:
    """Quarter-tick offsets; steps of 0.5 or 1 tick, 2% jumps of 3-8 ticks."""
    return tick_walk(n, seed, 201, Decimal("0.0025"), (2, 4), 81, 319, jump_probability=0.02, jumps=(12, 32))


# --------------------------------------------------------------------------- probe


@dataclass
class Call:
    start: float
    end: float
    n: int
    sign: float = 0.0


@dataclass
class Rec:
    start: float
    end: float
    changes: bool
    price: Decimal | None


@dataclass
class Timeline:
    emits: list[float] = field(default_factory=list)  # emulator enqueued a price change (in-process only)
    recvs: list[float] = field(default_factory=list)  # controller parsed a market-channel message
    handled: list[float] = field(default_factory=list)  # ... and validated it (handler entry)
    reconciles: list[Rec] = field(default_factory=list)
    cancels: list[Call] = field(default_factory=list)
    places: list[Call] = field(default_factory=list)

    def marks(self) -> tuple[int, ...]:
        return (len(self.emits), len(self.recvs), len(self.handled), len(self.reconciles), len(self.cancels),
                len(self.places))


class Probe:
    """Benchmark-side hooks: timestamps of the path from a price change to the placement ack."""

    def __init__(self) -> None:
        self.lines: dict[str, Timeline] = defaultdict(Timeline)  # condition id -> timeline
        self.cond_of: dict[str, str] = {}  # manifest name -> condition id
        self.cond_of_token: dict[str, str] = {}
        self.actions: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()  # rejected placements, reconcile errors, pulled quotes
        self.armed: str | None = None
        self.rate_waits = 0
        self._targets: dict[str, Decimal] = {}
        self._settled: dict[str, threading.Event] = {}
        self._settled_at: dict[str, float] = {}
        self._local = threading.local()

    def track(self, markets: Sequence[MarketIds]) -> None:
        for m in markets:
            self.cond_of[m.name] = m.condition_id
            self.cond_of_token[m.yes] = self.cond_of_token[m.no] = m.condition_id

    # -- settle detection ---------------------------------------------------------------

    def expect(self, name: str, price: Decimal) -> threading.Event:
        """Arm: the event is set by the first error-free empty plan at ``price`` for ``name``."""
        event = threading.Event()
        self._settled[name] = event
        self._targets[name] = price
        return event

    def settled_at(self, name: str) -> float:
        return self._settled_at.get(name, math.nan)

    # -- hooks --------------------------------------------------------------------------

    def validators(self, schema: bool = True) -> tuple[Any, Any]:
        market, user = _schema_validators() if schema else (None, None)

        def timed_market(event: dict[str, Any]) -> str | None:
            cond = event.get("market")
            if isinstance(cond, str):
                self.lines[cond].recvs.append(time.perf_counter())
            return market(event) if market is not None else None

        return timed_market, user

    def attach_controller(self, ctl: Controller) -> None:
        handler = ctl._on_market_event

        def on_market_event(channel: str, event: dict[str, Any]) -> None:
            cond = event.get("market")
            if isinstance(cond, str):
                self.lines[cond].handled.append(time.perf_counter())
            handler(channel, event)

        ctl._on_market_event = on_market_event  # type: ignore[method-assign]
        reconcile = ctl.reconciler.reconcile

        def timed_reconcile(name: str) -> Any:
            cond = self.cond_of.get(name, name)
            self._local.cond = cond
            start = time.perf_counter()
            outcome = reconcile(name)
            end = time.perf_counter()
            plan = outcome.plan
            changes = plan is not None and plan.has_changes
            for _what, why in outcome.rejected:
                self.problems[f"rejected: {why[:60]}"] += 1
            if outcome.error:
                self.problems[f"error: {outcome.error[:60]}"] += 1
            if plan is not None and plan.note and plan.cancel:
                self.problems[f"pulled: {plan.note[:60]}"] += 1
            self.lines[cond].reconciles.append(Rec(start, end, changes, plan.reference_price if plan else None))
            target = self._targets.get(name)
            if (plan is not None and outcome.ok and not changes and not plan.awaiting_cancels
                    and target is not None and plan.reference_price == target):
                event = self._settled.get(name)
                if event is not None and not event.is_set():
                    self._settled_at[name] = end
                    event.set()
            return outcome

        ctl.reconciler.reconcile = timed_reconcile  # type: ignore[method-assign]
        self.attach_venue(ctl.venue)

    def attach_venue(self, venue: Venue) -> None:
        place, cancel, sign = venue.place_orders, venue.cancel_orders, venue._sign
        sleep = venue.budget._sleep

        def timed_sign(request: OrderRequest) -> Any:
            start = time.perf_counter()
            try:
                return sign(request)
            finally:
                self._local.sign = getattr(self._local, "sign", 0.0) + time.perf_counter() - start

        def timed_place(orders: Sequence[OrderRequest]) -> Any:
            self._local.sign = 0.0
            start = time.perf_counter()
            result = place(orders)
            end = time.perf_counter()
            cond = self.cond_of_token.get(orders[0].token_id, "?") if orders else "?"
            self.lines[cond].places.append(Call(start, end, len(orders), self._local.sign))
            self.actions["place"] += len(orders)
            return result

        def timed_cancel(order_ids: Sequence[str]) -> Any:
            start = time.perf_counter()
            result = cancel(order_ids)
            end = time.perf_counter()
            self.lines[getattr(self._local, "cond", "?")].cancels.append(Call(start, end, len(order_ids)))
            self.actions["cancel"] += len(order_ids)
            return result

        def counted_sleep(seconds: float) -> None:
            self.rate_waits += 1
            sleep(seconds)

        venue._sign = timed_sign  # type: ignore[method-assign]
        venue.place_orders = timed_place  # type: ignore[method-assign]
        venue.cancel_orders = timed_cancel  # type: ignore[method-assign]
        venue.budget._sleep = counted_sleep

    def attach_server(self, sim: Any) -> None:
        """In-process emulator: timestamp every book change it sends while a move is armed."""
        server = sim._server
        book_change = server._book_change

        def timed_book_change(e: Any) -> None:
            book_change(e)
            if self.armed == e.market.condition_id:
                self.lines[self.armed].emits.append(time.perf_counter())

        server._book_change = timed_book_change

    def set_cond(self, cond: str) -> None:
        """For callers outside a reconcile (the naive loop): attribute cancels to ``cond``."""
        self._local.cond = cond


@dataclass
class Move:
    """One price move, in seconds from its t0 (the first emulator message, or the admin call)."""

    total: float  # t0 -> the last replacement order's POST /orders response received
    first_place: float  # t0 -> the first placement's response
    ws: float  # t0 -> first message of the move read and parsed by the controller's WS thread
    validate: float  # that message's JSON-schema validation
    to_first_reconcile: float  # handler entry -> start of the first reconcile after t0 (trigger + queue)
    earlier_reconciles: float  # first reconcile start -> start of the reconcile that placed last
    plan: float  # that reconcile's start -> its first venue call (snapshot + plan)
    cancel: float  # its cancel call(s)
    place: float  # its last place call (sign + POST /orders)
    sign: float  # signing inside that place call
    reconciles: int
    changed_reconciles: int
    places: int
    cancels: int
    burst: float  # first -> last emulator message of the re-quote (in-process only)


def analyse(line: Timeline, marks: tuple[int, ...], t0: float, t_end: float, emitted: bool) -> Move | str:
    """Attribute the records of one move (taken after ``marks``) to the steps of the path."""
    emits = line.emits[marks[0]:]
    if emitted:
        if not emits:
            return "no emulator message"
        t0 = emits[0]
    recvs = [t for t in line.recvs[marks[1]:] if t >= t0]
    handled = [t for t in line.handled[marks[2]:] if t >= t0]
    recs = [r for r in line.reconciles[marks[3]:] if r.end >= t0 and r.start <= t_end]
    cancels = [c for c in line.cancels[marks[4]:] if t0 <= c.start <= t_end]
    places = [c for c in line.places[marks[5]:] if t0 <= c.start <= t_end]
    if not places and not cancels and recs and not any(r.changes for r in recs):
        return "no replacement needed"  # the orders, where they drifted to, are still inside their bands
    if not places or not recvs or not handled or not recs:
        return "incomplete records"
    last = max(places, key=lambda c: c.end)
    owner = next((r for r in recs if r.start <= last.start and r.end >= last.end), None)
    first = next((r for r in recs if r.start >= handled[0]), None)
    if owner is None or first is None:
        return "no reconcile owns the last placement"
    own_cancels = [c for c in cancels if owner.start <= c.start <= owner.end]
    first_call = min([last.start, *(c.start for c in own_cancels)])
    return Move(
        total=last.end - t0,
        first_place=min(c.end for c in places) - t0,
        ws=recvs[0] - t0,
        validate=handled[0] - recvs[0],
        to_first_reconcile=first.start - handled[0],
        earlier_reconciles=max(0.0, owner.start - first.start),
        plan=first_call - owner.start,
        cancel=sum(c.end - c.start for c in own_cancels),
        place=last.end - last.start,
        sign=last.sign,
        reconciles=len(recs),
        changed_reconciles=sum(1 for r in recs if r.changes),
        places=sum(c.n for c in places),
        cancels=sum(c.n for c in cancels),
        burst=(emits[-1] - emits[0]) if emits else 0.0,
    )


# --------------------------------------------------------------------------- sessions


WHAT_IFS = ("no-schema", "no-utf8", "debounce", "switch1ms", "fill-race")
WHAT_IF: set[str] = set()  # experiments on top of the shipped controller (benchmark-side patches only)
DEBOUNCE = 0.002


class DebouncedQueue:
    """What-if "debounce": reconciles triggered by the market stream start DEBOUNCE later, so a burst of
    book messages (one re-quote of the house) is applied before planning. Everything else is unchanged."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def add(self, key: str) -> None:
        if threading.current_thread().name == "ws-market":
            self._inner.add_after(key, DEBOUNCE)
        else:
            self._inner.add(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)


def patch_fill_race(store: Any) -> None:
    """What-if "fill-race": the observed store remembers an order it forgot without a fill (a cancel
    answered "not found or already canceled" - it may have just been filled), so that a later
    user-channel MATCHED update for it still moves the balances. The proposed fix, as a patch."""
    forget = store._forget_order
    tombstones: dict[str, tuple[OpenOrder, Decimal]] = {}

    def forget_order(order_id: str, final_matched: Decimal | None) -> None:
        known = store._orders.get(order_id)
        if final_matched is None and known is not None:
            tombstones[order_id] = (known, store._matched_applied.get(order_id, known.size_matched))
        elif final_matched is not None and known is None and order_id in tombstones:
            order, applied = tombstones.pop(order_id)
            store._orders[order_id] = order
            store._matched_applied[order_id] = applied
        forget(order_id, final_matched)

    store._forget_order = forget_order


def apply_process_what_ifs() -> None:
    if "no-utf8" in WHAT_IF:
        # websocket-client validates text frames byte by byte in Python; the strict C decode that
        # follows (bytes.decode("utf-8")) rejects invalid UTF-8 all the same.
        import websocket._abnf as abnf

        abnf.validate_utf8 = lambda data: True
    if "switch1ms" in WHAT_IF:
        sys.setswitchinterval(0.001)



def make_venue(url: str, *, rate_limits: bool) -> Venue:
    extra: dict[str, Any] = {}
    if not rate_limits:
        extra = {"order_rate": UNLIMITED, "order_burst": UNLIMITED, "cancel_rate": UNLIMITED,
                 "cancel_burst": UNLIMITED}
    return Venue(VenueConfig(private_key=Secret(DEMO_PRIVATE_KEY), clob_host=url,
                             ws_host=url.replace("http://", "ws://"), **extra))


def make_controller(url: str, manifests: Path, probe: Probe, *, rate_limits: bool) -> Controller:
    venue = make_venue(url, rate_limits=rate_limits)
    ctl = Controller(venue, LiveOptions(manifest_paths=[str(manifests)]),
                     ws_validators=probe.validators(schema="no-schema" not in WHAT_IF))
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


def process_cpu(pid: int) -> float:
    """utime + stime of another process, seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exchange_view(admin: dict[str, Any], cond: str) -> ObservedState:
    """The exchange's own state of one market (books, our orders, our balances), as planner input."""
    market = admin["markets"][cond]
    books = {
        token: Book(
            bids=tuple(sorted((Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["bids"]),
                              key=lambda lv: lv.price, reverse=True)),
            asks=tuple(sorted((Level(Decimal(lv["price"]), Decimal(lv["size"])) for lv in book["asks"]),
                              key=lambda lv: lv.price)),
        )
        for token, book in market["books"].items()
    }
    balance = admin["balances"].get(ADDRESS.lower(), {})
    orders = tuple(
        OpenOrder(o["id"], o["market"], o["tokenId"], o["side"], Decimal(o["price"]), Decimal(o["size"]),
                  Decimal(o["sizeMatched"]))
        for o in admin["orders"] if o["owner"].lower() == ADDRESS.lower() and o["market"] == cond
    )
    return ObservedState(
        time=datetime.now(UTC),
        markets={cond: MarketState(tick_size=Decimal(market["tickSize"]), min_order_size=MIN_SIZE, books=books)},
        balances=Balances(collateral=Decimal(balance.get("collateral", "0")),
                          tokens={t: Decimal(v) for t, v in balance.get("tokens", {}).items()}),
        orders=orders,
    )


def bands_filled(spec: MarketMakerSpec, state: ObservedState) -> bool:
    """Every band of both sides holds >= minAmount resting inside its margins around the reference price."""
    plan = plan_market(spec, state, state.time)
    if plan.reference_price is None:
        return False
    held: Counter[tuple[str, int]] = Counter()
    for kept in plan.kept:
        held[(kept.quote_side, kept.band)] += kept.order.remaining  # type: ignore[assignment]
    return all(held[(side, i)] >= band.min_amount for side in ("bid", "ask") for i, band in enumerate(spec.bands))


def converged(spec: MarketMakerSpec, state: ObservedState) -> bool:
    return not plan_market(spec, state, state.time).has_changes


# --------------------------------------------------------------------------- stats


def pct(samples: Sequence[float], q: float) -> float:
    s = sorted(samples)
    if not s:
        return math.nan
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ms = [x * 1000 for x in samples]
    return {"n": len(ms), "p50": round(pct(ms, 0.50), 2), "p90": round(pct(ms, 0.90), 2),
            "p99": round(pct(ms, 0.99), 2), "max": round(max(ms), 2), "mean": round(statistics.fmean(ms), 2)}


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 3) if values else math.nan


def breakdown(results: Sequence[Move]) -> dict[str, dict[str, float]]:
    steps = {
        "ws_delivery": "ws", "ws_validation": "validate", "trigger_to_reconcile": "to_first_reconcile",
        "earlier_reconciles": "earlier_reconciles", "plan": "plan", "cancel_call": "cancel",
        "place_call": "place", "place_signing": "sign", "emulator_burst": "burst",
    }
    return {name: summary_ms([getattr(r, attr) for r in results]) for name, attr in steps.items()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------- one-market set-up


@dataclass
class OneMarket:
    """The latency and churn runs' world: one synthetic market, its manifest, the in-process
    emulator and the probe hooked into it."""

    market: MarketIds
    spec: MarketMakerSpec
    manifests: Path
    sim: Any
    probe: Probe

    def move(self, fair: str) -> float:
        """Set the fair value on the emulator's loop with the probe armed; returns when it was sent."""
        cond = self.market.condition_id

        def on_loop(server: Any) -> None:
            self.probe.armed = cond
            try:
                server.set_fair_value(cond, fair)
            finally:
                self.probe.armed = None

        sent = time.perf_counter()
        self.sim.call(on_loop)
        return sent


@contextmanager
def one_market(start: float, seed: int, *, rate_limits: bool) -> Iterator[OneMarket]:
    from controller.sim import start_sim

    markets = synthetic_markets(1)
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "manifests"
        write_manifests(manifests, markets)
        spec = load_manifests(manifests)[0]
        sim = start_sim(sim_config(markets, start, rate_limits=rate_limits), seed=seed)
        probe = Probe()
        probe.track(markets)
        probe.attach_server(sim)
        try:
            yield OneMarket(markets[0], spec, manifests, sim, probe)
        finally:
            sim.stop()


# --------------------------------------------------------------------------- latency


def bench_latency(moves: int, seed: int, gap: float) -> dict[str, Any]:
    load_before = load()
    start = 0.505
    with one_market(start, seed, rate_limits=True) as world:
        market, spec, manifests, sim, probe = world.market, world.spec, world.manifests, world.sim, world.probe
        ctl = make_controller(sim.url, manifests, probe, rate_limits=True)
        initial = probe.expect(market.name, house_mid(start))
        try:
            ctl.start()
            if not initial.wait(30):
                raise SystemExit("latency: the controller never converged on the initial quotes")
            wait_idle(ctl)
            results: list[Move] = []
            skipped: Counter[str] = Counter()
            timeouts = not_converged = 0
            path = latency_path(int(moves * 1.3), seed)  # moves needing no replacement are not counted
            line = probe.lines[market.condition_id]
            errors_before = sum(sim.admin_state(0)["errors"].values())
            cpu0, wall0 = time.process_time(), time.perf_counter()
            attempted = 0
            for index, fair in enumerate(path):
                if len(results) >= moves:
                    break
                attempted += 1
                began = time.perf_counter()
                marks = line.marks()
                settled = probe.expect(market.name, house_mid(float(fair)))
                t_call = world.move(fair)
                if not settled.wait(SETTLE_TIMEOUT):
                    timeouts += 1
                    wait_idle(ctl)
                    continue
                t_end = probe.settled_at(market.name)
                wait_idle(ctl)
                result = analyse(line, marks, t_call, t_end, emitted=True)
                if isinstance(result, Move):
                    results.append(result)
                else:
                    skipped[result] += 1
                if index % 50 == 49 and not converged(spec, exchange_view(sim.admin_state(0), market.condition_id)):
                    not_converged += 1  # cross-check against the exchange (outside any timed window)
                wait_until(began + gap)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            errors = sum(sim.admin_state(0)["errors"].values()) - errors_before
        finally:
            ctl.stop()
    return {
        "moves": attempted,
        "measured": len(results),
        "timeouts": timeouts,
        "not_measured": dict(skipped),
        "exchange_not_converged_at_checks": not_converged,
        "rate_limit_waits": probe.rate_waits,
        "problems": dict(probe.problems),
        "exchange_errors": errors,
        "tick_to_quote_ms": summary_ms([r.total for r in results]),
        "first_ack_ms": summary_ms([r.first_place for r in results]),
        "breakdown_ms": breakdown(results),
        "per_move": {
            "places": _mean([r.places for r in results]),
            "cancels": _mean([r.cancels for r in results]),
            "reconciles": _mean([r.reconciles for r in results]),
            "reconciles_with_changes": _mean([r.changed_reconciles for r in results]),
            "share_needing_2plus_changed_reconciles": _mean([float(r.changed_reconciles > 1) for r in results]),
        },
        "process_cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "load_before": load_before,
        "load_after": load(),
    }


# --------------------------------------------------------------------------- churn


class NaiveLoop:
    """On every price event: cancel all our orders, place one at every band's avgMargin."""

    def __init__(self, venue: Venue, spec: MarketMakerSpec, probe: Probe, *, only_on_change: bool) -> None:
        self.venue, self.spec, self.probe = venue, spec, probe
        self.only_on_change = only_on_change
        self.orders: list[OpenOrder] = []
        self.last_price: Decimal | None = None
        self.cancel_sent: float = math.nan

    def on_event(self) -> None:
        spec = self.spec
        yes, no = spec.market.yes_token, spec.market.no_token
        snapshot = self.venue.get_book(yes)
        state = MarketState(tick_size=TICK, min_order_size=MIN_SIZE, books={yes: snapshot.book})
        price, _why = reference_price(spec, state, self.orders)
        if self.only_on_change and price == self.last_price:
            return
        self.last_price = price
        self.probe.set_cond(spec.market.condition_id)
        self.cancel_sent = time.perf_counter()
        if self.orders:
            self.venue.cancel_orders([o.id for o in self.orders])
            self.orders = []
        if price is None:
            return
        size = Decimal(AVG_AMOUNT)
        requests = []
        for band in spec.bands:
            bid = (price - band.avg_margin).quantize(TICK, rounding=ROUND_FLOOR)
            requests.append(OrderRequest(yes, "BUY", bid, size, tick_size=TICK, neg_risk=False))
        for band in spec.bands:
            ask = (price + band.avg_margin).quantize(TICK, rounding=ROUND_CEILING)
            requests.append(OrderRequest(no, "BUY", 1 - ask, size, tick_size=TICK, neg_risk=False))
        for result in self.venue.place_orders(requests):
            if result.placed and result.order_id:
                r = result.request
                self.orders.append(OpenOrder(result.order_id, spec.market.condition_id, r.token_id, r.side,
                                             r.price, r.size))


def run_churn(mode: str, events: int, seed: int, interval: float) -> dict[str, Any]:
    """mode: "bandctl", "naive" (every event) or "naive-on-change"."""
    path = churn_path(events, seed)
    load_before = load()
    start = 0.5025
    with one_market(start, seed, rate_limits=False) as world:
        market, spec, manifests, sim, probe = world.market, world.spec, world.manifests, world.sim, world.probe
        cond = market.condition_id
        ctl: Controller | None = None
        naive: NaiveLoop | None = None
        try:
            if mode == "bandctl":
                ctl = make_controller(sim.url, manifests, probe, rate_limits=False)
                ready = probe.expect(market.name, house_mid(start))
                ctl.start()
                if not ready.wait(30):
                    raise SystemExit("churn: the controller never converged on the initial quotes")
                wait_idle(ctl)
            else:
                venue = make_venue(sim.url, rate_limits=False)
                venue.connect()
                probe.attach_venue(venue)
                naive = NaiveLoop(venue, spec, probe, only_on_change=mode == "naive-on-change")
                naive.on_event()
            time.sleep(0.2)
            probe.actions.clear()
            probe.problems.clear()
            trades_before = sim.admin_state(0)["tradeCount"]
            line = probe.lines[cond]
            inside = 0
            windows: list[tuple[float, bool, float]] = []  # (t0, reference price moved, naive cancel sent)
            previous = house_mid(start)
            cpu0 = time.process_time()
            t_start = time.perf_counter() + interval
            for k, fair in enumerate(path):
                target = house_mid(float(fair))
                if k:  # the previous event has had (almost) a whole interval to be handled
                    wait_until(t_start + k * interval - SAMPLE_LEAD)
                    inside += bands_filled(spec, exchange_view(sim.admin_state(0), cond))
                wait_until(t_start + k * interval)
                emitted = len(line.emits)
                t_call = world.move(fair)
                if naive is not None:
                    naive.cancel_sent = math.nan
                    naive.on_event()
                t0 = line.emits[emitted] if len(line.emits) > emitted else t_call
                windows.append((t0, target != previous, naive.cancel_sent if naive is not None else math.nan))
                previous = target
            wait_until(t_start + len(path) * interval - SAMPLE_LEAD)
            inside += bands_filled(spec, exchange_view(sim.admin_state(0), cond))
            cpu = time.process_time() - cpu0
            t_stop = time.perf_counter()
            if ctl is not None:
                wait_idle(ctl)
            actions = dict(probe.actions)
            fills = sim.admin_state(0)["tradeCount"] - trades_before
            out = out_of_band(line.places, windows, t_stop, naive=naive is not None)
        finally:
            if ctl is not None:
                ctl.stop()
    changes = sum(1 for _, moved, _ in windows if moved)
    total = actions.get("place", 0) + actions.get("cancel", 0)
    return {
        "mode": mode,
        "events": events,
        "reference_changes": changes,
        "places": actions.get("place", 0),
        "cancels": actions.get("cancel", 0),
        "actions_per_1000_events": round(total * 1000 / events, 1),
        "orders_per_second": round(actions.get("place", 0) / (events * interval), 1),
        "inside_bands_sampled": round(inside / events, 4),
        "inside_bands_time_weighted": round(1 - out / (events * interval), 4),
        "fills": fills,
        "problems": dict(probe.problems),
        "process_cpu_s": round(cpu, 2),
        "load_before": load_before,
        "load_after": load(),
    }


def out_of_band(places: Sequence[Call], windows: Sequence[tuple[float, bool, float]], t_stop: float, *,
                naive: bool) -> float:
    """Seconds during which some band was not satisfied, from the recorded placement acks.

    Event k's window runs from its first emulator message t0 to the next event's t0. If the
    event moved the reference price, our orders are out of band from t0 until the last
    placement of the window is acknowledged (the whole window if none is). The naive loop
    also leaves its bands empty between sending its cancel and its placements being
    acknowledged, even when the price did not move.
    """
    total = 0.0
    ends = [w[0] for w in windows[1:]] + [t_stop]
    for (t0, moved, cancel_sent), end in zip(windows, ends, strict=True):
        acks = [c.end for c in places if t0 <= c.start < end]
        if moved:
            total += (min(max(acks), end) if acks else end) - t0
        elif naive and acks and not math.isnan(cancel_sent):
            total += min(max(acks), end) - cancel_sent
    return total


CHURN_LOOPS = ("bandctl", "naive", "naive-on-change")


def bench_churn(events: int, seed: int, interval: float, loops: Sequence[str] = CHURN_LOOPS) -> dict[str, Any]:
    runs = [run_churn(mode, events, seed, interval) for mode in loops]
    by_mode = {run["mode"]: run for run in runs}
    ratio = math.nan
    if "bandctl" in by_mode and "naive" in by_mode and by_mode["naive"]["actions_per_1000_events"]:
        ratio = by_mode["bandctl"]["actions_per_1000_events"] / by_mode["naive"]["actions_per_1000_events"]
    return {"interval_s": interval, "runs": runs, "bandctl_over_naive": round(ratio, 4)}


# --------------------------------------------------------------------------- scaling


def run_scaling(n: int, moves: int, seed: int, gap: float, idle_seconds: float) -> dict[str, Any]:
    markets = synthetic_markets(n)
    start = 0.505
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sim.yaml"
        config.write_text(yaml.safe_dump(sim_config(markets, start, rate_limits=False)))
        manifests = Path(tmp) / "manifests"
        write_manifests(manifests, markets)
        proc, url = start_sim_process(config)
        probe = Probe()
        probe.track(markets)
        ctl = make_controller(url, manifests, probe, rate_limits=False)
        http = httpx.Client(timeout=30)
        try:
            ready = [probe.expect(m.name, house_mid(start)) for m in markets]
            sim_cpu0, cpu0, t_boot = process_cpu(proc.pid), time.process_time(), time.perf_counter()
            ctl.start()
            for event in ready:
                if not event.wait(max(60.0, n * 0.5)):
                    raise SystemExit(f"scaling: N={n}: the controller never converged on the initial quotes")
            wait_idle(ctl, 60)
            boot_wall, boot_cpu = time.perf_counter() - t_boot, time.process_time() - cpu0
            # Idle: heartbeats, resync (every 15 s), reload polls, WS pings; nothing moves.
            cpu0, sim_cpu0, t_idle = time.process_time(), process_cpu(proc.pid), time.perf_counter()
            time.sleep(idle_seconds)
            idle_wall = time.perf_counter() - t_idle
            idle_cpu, idle_sim_cpu = time.process_time() - cpu0, process_cpu(proc.pid) - sim_cpu0
            # One REST resync (books, open orders, balances) and the reconcile of every market it queues.
            cpu0, t_resync = time.process_time(), time.perf_counter()
            ctl.resync()
            resync_call = time.perf_counter() - t_resync
            wait_idle(ctl, 60)
            resync_wall, resync_cpu = time.perf_counter() - t_resync, time.process_time() - cpu0
            requests_before = http.get(url + "/admin/state", params={"trades": 0}).json()["requests"]
            rng = random.Random(seed)
            fair = dict.fromkeys((m.condition_id for m in markets), 101)  # half-tick units
            results: list[Move] = []
            skipped: Counter[str] = Counter()
            timeouts = 0
            cpu0, sim_cpu0, driver0 = time.process_time(), process_cpu(proc.pid), time.thread_time()
            t_moves = time.perf_counter()
            for _ in range(moves):
                m = rng.choice(markets)
                step = rng.choice((2, 4)) * rng.choice((-1, 1))
                units = fair[m.condition_id] + (step if 61 <= fair[m.condition_id] + step <= 139 else -step)
                fair[m.condition_id] = units
                value = str(Decimal(units) * Decimal("0.005"))
                began = time.perf_counter()
                line = probe.lines[m.condition_id]
                marks = line.marks()
                settled = probe.expect(m.name, house_mid(float(value)))
                t0 = time.perf_counter()
                answer = http.post(url + "/admin/fair-value", json={"conditionId": m.condition_id, "value": value})
                answer.raise_for_status()
                if not settled.wait(SETTLE_TIMEOUT):
                    timeouts += 1
                    wait_idle(ctl)
                    continue
                result = analyse(line, marks, t0, probe.settled_at(m.name), emitted=False)
                wait_idle(ctl)
                if isinstance(result, Move):
                    results.append(result)
                else:
                    skipped[result] += 1
                wait_until(began + gap)
            moves_wall = time.perf_counter() - t_moves
            driver = time.thread_time() - driver0
            moves_cpu = time.process_time() - cpu0 - driver
            moves_sim_cpu = process_cpu(proc.pid) - sim_cpu0
            admin = http.get(url + "/admin/state", params={"trades": 0}).json()
            open_orders = sum(1 for o in admin["orders"] if o["owner"].lower() == ADDRESS.lower())
            requests = {k: v - requests_before.get(k, 0) for k, v in admin["requests"].items()
                        if v - requests_before.get(k, 0) and not k.endswith(("/admin/state", "/admin/fair-value"))}
        finally:
            ctl.stop()
            http.close()
            proc.terminate()
            proc.wait(timeout=10)
    return {
        "markets": n,
        "open_orders": open_orders,
        "startup_s": round(boot_wall, 2),
        "startup_cpu_s": round(boot_cpu, 2),
        "idle_cpu_pct": round(100 * idle_cpu / idle_wall, 1),
        "idle_emulator_cpu_pct": round(100 * idle_sim_cpu / idle_wall, 1),
        "resync_call_ms": round(resync_call * 1000, 1),
        "resync_until_idle_ms": round(resync_wall * 1000, 1),
        "resync_cpu_ms": round(resync_cpu * 1000, 1),
        "moves": moves,
        "measured": len(results),
        "timeouts": timeouts,
        "not_measured": dict(skipped),
        "tick_to_quote_ms": summary_ms([r.total for r in results]),
        "breakdown_ms": breakdown(results),
        "reconciles_per_move": _mean([r.reconciles for r in results]),
        "problems": dict(probe.problems),
        "requests_during_moves": requests,
        "controller_cpu_s": round(moves_cpu, 2),
        "controller_cpu_ms_per_move": round(1000 * moves_cpu / moves, 2),
        "controller_cpu_pct": round(100 * moves_cpu / moves_wall, 1),
        "emulator_cpu_s": round(moves_sim_cpu, 2),
        "driver_cpu_s": round(driver, 2),
        "wall_s": round(moves_wall, 2),
        "load_before": load_before,
        "load_after": load(),
    }


def bench_scaling(sizes: Sequence[int], moves: int, seed: int, gap: float, idle_seconds: float) -> dict[str, Any]:
    return {"runs": [run_scaling(n, moves, seed, gap, idle_seconds) for n in sizes]}


# --------------------------------------------------------------------------- output


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _lat(s: dict[str, float]) -> list[Any]:
    return [s.get("n", 0), s.get("p50", "-"), s.get("p90", "-"), s.get("p99", "-"), s.get("max", "-")]


def print_latency(r: dict[str, Any]) -> None:
    print(f"\n## Tick-to-quote latency ({r['measured']}/{r['moves']} moves measured, {r['timeouts']} timeouts, "
          f"not measured {r['not_measured']}, rate-limit waits {r['rate_limit_waits']}, "
          f"exchange errors {r['exchange_errors']}, not converged at checks {r['exchange_not_converged_at_checks']})")
    print(f"load before {r['load_before']} after {r['load_after']}; process CPU {r['process_cpu_s']} s "
          f"over {r['wall_s']} s")
    print(_row(["ms", "n", "p50", "p90", "p99", "max"]))
    print(_row(["---"] * 6))
    print(_row(["**tick-to-quote (last ack)**", *_lat(r["tick_to_quote_ms"])]))
    print(_row(["first ack", *_lat(r["first_ack_ms"])]))
    for key, value in r["breakdown_ms"].items():
        print(_row([key, *_lat(value)]))
    print("per move:", r["per_move"])
    print("problems:", r["problems"])


def print_churn(r: dict[str, Any]) -> None:
    print(f"\n## Churn (events every {r['interval_s'] * 1000:.0f} ms; bandctl / naive = {r['bandctl_over_naive']})")
    print(_row(["loop", "events", "ref. changes", "places", "cancels", "actions / 1000 events", "orders/s",
                "inside (sampled)", "inside (time-weighted)", "CPU s", "load"]))
    print(_row(["---"] * 11))
    for run in r["runs"]:
        print(_row([run["mode"], run["events"], run["reference_changes"], run["places"], run["cancels"],
                    run["actions_per_1000_events"], run["orders_per_second"],
                    f"{run['inside_bands_sampled']:.2%}", f"{run['inside_bands_time_weighted']:.2%}",
                    run["process_cpu_s"], run["load_after"][0]]))
    for run in r["runs"]:
        print(f"{run['mode']}: fills {run['fills']}, problems {run['problems']}")


def print_scaling(r: dict[str, Any]) -> None:
    print("\n## Scaling (emulator in a subprocess)")
    print(_row(["markets", "orders", "startup s", "idle CPU %", "resync ms (CPU ms)", "moves", "p50 ms", "p90 ms",
                "p99 ms", "max ms", "CPU ms/move", "CPU % (moves)", "emulator CPU s", "timeouts", "load"]))
    print(_row(["---"] * 15))
    for run in r["runs"]:
        t = run["tick_to_quote_ms"]
        print(_row([run["markets"], run["open_orders"], run["startup_s"], run["idle_cpu_pct"],
                    f"{run['resync_until_idle_ms']} ({run['resync_cpu_ms']})", run["measured"],
                    t.get("p50"), t.get("p90"), t.get("p99"), t.get("max"), run["controller_cpu_ms_per_move"],
                    run["controller_cpu_pct"], run["emulator_cpu_s"], run["timeouts"], run["load_after"][0]]))
    print("\nbreakdown p50 (ms):")
    for run in r["runs"]:
        print(f"  N={run['markets']}: " + ", ".join(f"{k}={v.get('p50')}" for k, v in run["breakdown_ms"].items()
                                                   if k != "emulator_burst"))


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", choices=["latency", "churn", "scaling", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--json-out", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--moves", type=int,
                        help="latency: measured moves (default 1000, quick 60); moves needing no replacement "
                             "are not counted")
    parser.add_argument("--gap", type=float, default=0.075,
                        help="latency: min seconds between moves (keeps the 40 orders/s tier unexhausted)")
    parser.add_argument("--scaling-gap", type=float, default=0.05, help="scaling: min seconds between moves")
    parser.add_argument("--events", type=int, help="churn: price events per loop (default 1000, quick 80)")
    parser.add_argument("--interval", type=float, default=0.05, help="churn: seconds between price events")
    parser.add_argument("--churn-loops", default=",".join(CHURN_LOOPS), metavar="LIST",
                        help=f"churn: which loops to run (default {','.join(CHURN_LOOPS)})")
    parser.add_argument("--markets", help="scaling: comma-separated market counts (default 1,10,50,100,200)")
    parser.add_argument("--scaling-moves", type=int, help="scaling: moves per market count (default 300)")
    parser.add_argument("--idle", type=float, help="scaling: idle seconds measured per market count (default 5)")
    parser.add_argument("--what-if", default="", metavar="LIST",
                        help=f"experiments, comma-separated, not the shipped behaviour: {', '.join(WHAT_IFS)}")
    args = parser.parse_args(argv)
    WHAT_IF.update(x for x in args.what_if.split(",") if x)
    if WHAT_IF - set(WHAT_IFS):
        parser.error(f"unknown --what-if: {', '.join(sorted(WHAT_IF - set(WHAT_IFS)))}")
    apply_process_what_ifs()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    quick = args.quick
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "load_start": load(),
                               "what_if": sorted(WHAT_IF)}
    if WHAT_IF and not args.json:
        print(f"WHAT-IF experiments (not the shipped controller): {', '.join(sorted(WHAT_IF))}")
    t_all = time.perf_counter()
    if args.which in ("latency", "all"):
        results["latency"] = bench_latency(args.moves or (60 if quick else 1000), args.seed, args.gap)
        if not args.json:
            print_latency(results["latency"])
    if args.which in ("churn", "all"):
        loops = [x for x in args.churn_loops.split(",") if x]
        if set(loops) - set(CHURN_LOOPS):
            parser.error(f"unknown --churn-loops: {', '.join(sorted(set(loops) - set(CHURN_LOOPS)))}")
        results["churn"] = bench_churn(args.events or (80 if quick else 1000), args.seed, args.interval, loops)
        if not args.json:
            print_churn(results["churn"])
    if args.which in ("scaling", "all"):
        sizes = [int(x) for x in args.markets.split(",")] if args.markets else ([1, 20] if quick else
                                                                                  [1, 10, 50, 100, 200])
        moves = args.scaling_moves or (30 if quick else 300)
        idle = args.idle if args.idle is not None else (1.0 if quick else 5.0)
        results["scaling"] = bench_scaling(sizes, moves, args.seed, args.scaling_gap, idle)
        if not args.json:
            print_scaling(results["scaling"])
    results["total_s"] = round(time.perf_counter() - t_all, 1)
    results["load_end"] = load()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(f"\ntotal {results['total_s']} s; load average start {results['load_start']} end {results['load_end']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
