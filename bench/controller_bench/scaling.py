"""The scaling run: 1..N markets in one controller, the emulator in a subprocess (its CPU not counted)."""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from controller.loop.gcpauses import settle_after_start

from .markets import ADDRESS, house_mid, sim_config, synthetic_markets, write_manifests
from .probe import Move, Probe, analyse
from .session import SETTLE_TIMEOUT, make_controller, start_sim_process, wait_idle, wait_until
from .simproc import process_cpu
from .stats import breakdown, load, mean, summary_ms

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
            settle_after_start()  # as bandctl run does after start
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
            requests = {
                k: v - requests_before.get(k, 0)
                for k, v in admin["requests"].items()
                if v - requests_before.get(k, 0) and not k.endswith(("/admin/state", "/admin/fair-value"))
            }
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
        "reconciles_per_move": mean([r.reconciles for r in results]),
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
