"""The churn run: order actions per 1,000 price events, bandctl against naive re-quoting loops.

Also how much of the time every band held its minimum, sampled on the exchange and
time-weighted from the placement acks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from controller.loop.controller import Controller
from controller.loop.gcpauses import settle_after_start
from controller.observe.state import MarketState, OpenOrder
from controller.plan.bands import reference_price
from controller.spec.types import MarketMakerSpec
from controller.venue.client import OrderRequest, Venue

from .markets import AVG_AMOUNT, MIN_SIZE, TICK, churn_path, house_mid
from .probe import Call, Probe
from .session import bands_filled, exchange_view, make_controller, make_venue, one_market, wait_idle, wait_until
from .stats import load

# --------------------------------------------------------------------------- churn


SAMPLE_LEAD = 0.003  # sample the exchange this long before the next event


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
                self.orders.append(
                    OpenOrder(result.order_id, spec.market.condition_id, r.token_id, r.side, r.price, r.size)
                )


def run_churn(mode: str, events: int, seed: int, interval: float, *, in_process: bool = False) -> dict[str, Any]:
    """mode: "bandctl", "naive" (every event) or "naive-on-change"."""
    path = churn_path(events, seed)
    load_before = load()
    start = 0.5025
    with one_market(start, seed, rate_limits=False, in_process=in_process) as world:
        market, spec, manifests, sim, probe = world.market, world.spec, world.manifests, world.sim, world.probe
        cond = market.condition_id
        ctl: Controller | None = None
        naive: NaiveLoop | None = None
        try:
            if mode == "bandctl":
                ctl = make_controller(sim.url, manifests, probe, rate_limits=False)
                ready = probe.expect(market.name, house_mid(start))
                ctl.start()
                settle_after_start()  # as bandctl run does after start
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
            jumps: list[bool] = []  # the event moved the fair value by more than 2 ticks
            fair_before = Decimal(str(start))
            previous = house_mid(start)
            cpu0, sim_cpu0 = time.process_time(), sim.cpu()
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
                jumps.append(abs(Decimal(fair) - fair_before) > 2 * TICK)
                fair_before = Decimal(fair)
                previous = target
            wait_until(t_start + len(path) * interval - SAMPLE_LEAD)
            inside += bands_filled(spec, exchange_view(sim.admin_state(0), cond))
            cpu, sim_cpu = time.process_time() - cpu0, sim.cpu() - sim_cpu0
            t_stop = time.perf_counter()
            if ctl is not None:
                wait_idle(ctl)
            actions = dict(probe.actions)
            fills = sim.admin_state(0)["tradeCount"] - trades_before
            out = out_of_band(line.places, windows, t_stop, naive=naive is not None)
            per_event = per_event_counts(line, [w[0] for w in windows], t_stop)
        finally:
            if ctl is not None:
                ctl.stop()
    changes = sum(1 for _, moved, _ in windows if moved)
    total = actions.get("place", 0) + actions.get("cancel", 0)
    return {
        "mode": mode,
        "emulator": sim.where,
        "events": events,
        "reference_changes": changes,
        "places": actions.get("place", 0),
        "cancels": actions.get("cancel", 0),
        "actions_per_1000_events": round(total * 1000 / events, 1),
        "orders_per_second": round(actions.get("place", 0) / (events * interval), 1),
        "inside_bands_sampled": round(inside / events, 4),
        "inside_bands_time_weighted": round(1 - out / (events * interval), 4),
        "fills": fills,
        "per_jump": per_kind(per_event, jumps, [w[1] for w in windows], want_jump=True),
        "per_reference_move": per_kind(per_event, jumps, [w[1] for w in windows], want_jump=False),
        "rejections": sum(n for k, n in probe.problems.items() if k.startswith("rejected")),
        "pulled_quotes": sum(n for k, n in probe.problems.items() if k.startswith("pulled")),
        "problems": dict(probe.problems),
        "process_cpu_s": round(cpu, 2),
        "emulator_cpu_s": round(sim_cpu, 2),
        "load_before": load_before,
        "load_after": load(),
    }


def out_of_band(
    places: Sequence[Call], windows: Sequence[tuple[float, bool, float]], t_stop: float, *, naive: bool
) -> float:
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


def per_event_counts(line: Any, starts: Sequence[float], t_stop: float) -> list[tuple[int, int, int]]:
    """(reconciles, reconciles with changes, order actions) started in each event's window."""
    ends = [*starts[1:], t_stop]
    counts = []
    for t0, end in zip(starts, ends, strict=True):
        recs = [r for r in line.reconciles if t0 <= r.start < end]
        calls = [c for c in (*line.cancels, *line.places) if t0 <= c.start < end]
        counts.append((len(recs), sum(1 for r in recs if r.changes), sum(c.n for c in calls)))
    return counts


def per_kind(
    counts: Sequence[tuple[int, int, int]], jumps: Sequence[bool], moved: Sequence[bool], *, want_jump: bool
) -> dict[str, Any]:
    """Means over the jumps (or over every event that moved the reference price)."""
    picked = [c for c, j, m in zip(counts, jumps, moved, strict=True) if (j if want_jump else m)]
    if not picked:
        return {"events": 0}
    n = len(picked)
    return {
        "events": n,
        "reconciles": round(sum(c[0] for c in picked) / n, 3),
        "reconciles_with_changes": round(sum(c[1] for c in picked) / n, 3),
        "share_with_one_changed_reconcile": round(sum(1 for c in picked if c[1] == 1) / n, 4),
        "share_with_2plus_changed_reconciles": round(sum(1 for c in picked if c[1] > 1) / n, 4),
        "order_actions": round(sum(c[2] for c in picked) / n, 3),
    }


CHURN_LOOPS = ("bandctl", "naive", "naive-on-change")


def bench_churn(
    events: int, seed: int, interval: float, loops: Sequence[str] = CHURN_LOOPS, *, in_process: bool = False
) -> dict[str, Any]:
    runs = [run_churn(mode, events, seed, interval, in_process=in_process) for mode in loops]
    by_mode = {run["mode"]: run for run in runs}
    ratio = math.nan
    if "bandctl" in by_mode and "naive" in by_mode and by_mode["naive"]["actions_per_1000_events"]:
        ratio = by_mode["bandctl"]["actions_per_1000_events"] / by_mode["naive"]["actions_per_1000_events"]
    return {"interval_s": interval, "runs": runs, "bandctl_over_naive": round(ratio, 4)}
