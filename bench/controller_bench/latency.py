"""The tick-to-quote latency run: one market, the emulator in a child process, standard rate-limit tier.

See the command's docstring (bench_controller.py) and BENCHMARKS.md for what is measured.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from controller.loop.gcpauses import settle_after_start

from .floor import measure_floor
from .markets import house_mid, latency_path
from .probe import Move, analyse
from .session import SETTLE_TIMEOUT, converged, exchange_view, make_controller, one_market, wait_idle, wait_until
from .stats import breakdown, load, mean, summary_ms

# --------------------------------------------------------------------------- latency


def bench_latency(
    moves: int, seed: int, gap: float, *, in_process: bool = False, ws_schema: bool = False
) -> dict[str, Any]:
    """``ws_schema``: add the channels' JSON-Schema check of every WS message (a tests-and-benchmarks
    extra, ~0.1 ms a message; the default until 2026-12-02). Off, the controller runs production's
    path, which ``bandctl run`` takes."""
    load_before = load()
    start = 0.505
    with one_market(start, seed, rate_limits=True, in_process=in_process) as world:
        market, spec, manifests, sim, probe = world.market, world.spec, world.manifests, world.sim, world.probe
        ctl = make_controller(sim.url, manifests, probe, rate_limits=True, ws_schema=ws_schema)
        initial = probe.expect(market.name, house_mid(start))
        clock = sim.clock_check()
        try:
            ctl.start()
            settle_after_start()  # as bandctl run does after start
            if not initial.wait(30):
                raise SystemExit("latency: the controller never converged on the initial quotes")
            wait_idle(ctl)
            results: list[Move] = []
            skipped: Counter[str] = Counter()
            timeouts = not_converged = 0
            path = latency_path(int(moves * 1.3), seed)  # moves needing no replacement are not counted
            line = probe.lines[market.condition_id]
            errors_before = sum(sim.admin_state(0)["errors"].values())
            cpu0, sim_cpu0, wall0 = time.process_time(), sim.cpu(), time.perf_counter()
            attempted = 0
            for index, fair in enumerate(path):
                if len(results) >= moves:
                    break
                attempted += 1
                began = time.perf_counter()
                marks = line.marks()
                settled = probe.expect(market.name, house_mid(float(fair)))
                t_call = world.start_move(fair)  # nobody waits on the emulator while it re-quotes
                in_time = settled.wait(SETTLE_TIMEOUT)
                world.finish_move()
                if not in_time:
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
            sim_cpu = sim.cpu() - sim_cpu0
            errors = sum(sim.admin_state(0)["errors"].values()) - errors_before
            wait_idle(ctl)
            floor = measure_floor(sim, market)  # same run, same emulator, controller idle
        finally:
            ctl.stop()
    return {
        "emulator": sim.where,
        "ws_schema_check": ws_schema,
        "clock_check": clock,
        "moves": attempted,
        "measured": len(results),
        "timeouts": timeouts,
        "not_measured": dict(skipped),
        "exchange_not_converged_at_checks": not_converged,
        "rate_limit_waits": probe.rate_waits,
        "problems": dict(probe.problems),
        "exchange_errors": errors,
        "tick_to_quote_ms": summary_ms([r.total for r in results]),
        "floor": floor,
        "first_ack_ms": summary_ms([r.first_place for r in results]),
        "breakdown_ms": breakdown(results),
        "per_move": {
            "places": mean([r.places for r in results]),
            "cancels": mean([r.cancels for r in results]),
            "reconciles": mean([r.reconciles for r in results]),
            "reconciles_with_changes": mean([r.changed_reconciles for r in results]),
            "share_needing_2plus_changed_reconciles": mean([float(r.changed_reconciles > 1) for r in results]),
        },
        "process_cpu_s": round(cpu, 2),
        "emulator_cpu_s": round(sim_cpu, 2),
        "wall_s": round(wall, 2),
        "load_before": load_before,
        "load_after": load(),
    }
