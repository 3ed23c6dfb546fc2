"""Chaos run: the real ``bandctl run`` against the emulator under a seeded schedule of faults.

Starts ``bandctl sim`` (real clock, synthetic flow, ``--markets`` markets) and ``bandctl
run`` as subprocesses, lets it settle, runs a quiet phase (for the log volume), then one
fault after another from ``chaos_schedule`` (WebSocket cuts and drops, 5xx and 429,
latency, a stalled feed, hostile frames, open orders without ids, corrupted place
answers, slow and failing heartbeats, an engine restart, real and false tick-size
changes, a 0.15 fair-value jump, ``kill -9`` and an immediate restart), and ends with
SIGTERM. A few times a second it reads what the *exchange* holds (``/admin/state``
filtered to our account) and judges it by the bands (``chaos_figures``, ``chaos_tally``);
it prints the figures and PASS/FAIL against issue 9's targets (``chaos_report``).

    .venv/bin/python bench/chaos.py --seconds 600 --seed 1 --out /tmp/chaos
    .venv/bin/python bench/chaos.py --seconds 0 --quiet-seconds 600 --takers 0   # a quiet run

The log-volume target is judged on a quiet phase only: no faults and no takers (with takers
on, every fill moves or tops up an order, and each of those is a line the log must print).

It measures and never fixes: the controller is run unmodified, through its command line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import contextlib

import httpx
from chaos_figures import excused, snapshot_views
from chaos_procs import Controllers, controller_env, rss_mb, start_emulator
from chaos_report import build_report, print_report
from chaos_schedule import COUNTED, INSTANT, KINDS, Fault, build_schedule
from chaos_setup import ADDRESS, write_world
from chaos_tally import Tally

from controller.loop.controller import DEMO_PRIVATE_KEY

ORPHAN_CHECK_AFTER = 10.0  # seconds after the restarted process says it is running


@dataclass
class FaultRecord:
    kind: str
    detail: str
    market: str
    start: float
    end: float = 0.0


@dataclass
class Run:
    args: argparse.Namespace
    out: Path
    admin: httpx.Client
    controllers: Controllers
    tally: Tally
    specs: list[Any]
    faults: list[FaultRecord] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (time, incarnation, MB)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[float, Any]] = field(default_factory=list)  # (due wall time, check)
    loads: list[tuple[float, float]] = field(default_factory=list)  # (time, 1-minute load average)
    label: str = "settling"
    last: dict[str, Any] = field(default_factory=dict)
    _next_status: float = 0.0
    _next_rss: float = 0.0
    _next_load: float = 0.0

    # ------------------------------------------------------------ emulator I/O

    def snapshot(self) -> dict[str, Any]:
        answer = self.admin.get("/admin/state", params={"owner": ADDRESS, "trades": 0})
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
        return document

    def set_faults(self, changes: dict[str, Any]) -> None:
        if changes:
            self.admin.post("/admin/faults", json=changes).raise_for_status()

    # ------------------------------------------------------------ sampling

    def sample(self) -> None:
        now = time.time()
        try:
            snap = self.snapshot()
        except httpx.HTTPError as exc:
            print(f"  sample failed: {exc}", file=sys.stderr)
            return
        self.last = snap
        deletes = sum(v for k, v in snap.get("requests", {}).items() if k.startswith("DELETE "))
        views, excuse = snapshot_views(self.specs, snap, ADDRESS), excused(snap)
        self.tally.feed(now, views, excuse, self.label, deletes)
        with (self.out / "samples.jsonl").open("a") as trace:  # the evidence behind every figure
            row = {
                "t": round(now, 2),
                "fault": self.label,
                "excused": excuse,
                "short": self.tally.quoted[-1][2],
                "markets": {
                    name: {
                        "ref": None if v.reference is None else str(v.reference),
                        "orders": len(v.orders),
                        "outOfBand": [o.text for o in v.out_of_band],
                        "held": {f"{side}{i}": str(held[0]) for (side, i), held in v.held.items()},
                        "position": str(v.position),
                    }
                    for name, v in views.items()
                },
            }
            trace.write(json.dumps(row) + "\n")
        live = self.controllers.live
        if now >= self._next_rss and live.running_at and not live.how_ended:
            self._next_rss = now + 2.0
            mb = rss_mb(live.process.pid)
            if mb is not None:
                self.rss.append((now, live.number, mb))
        if now >= self._next_load:
            self._next_load = now + 60.0
            self.loads.append((now, round(os.getloadavg()[0], 2)))
        if now >= self._next_status and live.status_url and not live.how_ended:
            self._next_status = now + 1.0
            with contextlib.suppress(httpx.HTTPError, ValueError):
                document = httpx.get(live.status_url + "/status", timeout=0.5).json()
                self.tally.feed_status(now, document, self.label)
            try:
                healthy = httpx.get(live.status_url + "/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                healthy = False
            self.tally.health.append((now, healthy))
        self._check_crash()
        for due, check in [p for p in self.pending if p[0] <= now]:
            self.pending.remove((due, check))
            check()

    def _check_crash(self) -> None:
        dead = self.controllers.crashed()
        if dead is None:
            if not self.controllers.live.running_at:
                self.controllers.live.poll_ready()
            return
        tail = dead.output.read_text(errors="replace").splitlines()[-15:]
        self.crashes.append(
            {"time": time.time(), "incarnation": dead.number, "how": dead.how_ended, "fault": self.label, "tail": tail}
        )
        print(
            f"  CRASH of controller {dead.number} ({dead.how_ended}) during {self.label}; restarting", file=sys.stderr
        )
        self.controllers.spawn()

    def sample_until(self, deadline: float, stop: Any = None) -> None:
        period = 1.0 / self.args.sample_hz
        while (now := time.time()) < deadline:
            started = time.monotonic()
            self.sample()
            if stop is not None and stop():
                return
            time.sleep(max(0.0, period - (time.monotonic() - started)) if now + period < deadline else 0.01)

    # ------------------------------------------------------------ faults

    def run_fault(self, fault: Fault) -> None:
        spec = self.specs[fault.market] if fault.market is not None else None
        record = FaultRecord(fault.kind, fault.detail, spec.name if spec else "", time.time())
        self.faults.append(record)
        self.label = f"{fault.kind} {fault.detail}".strip()
        print(f"  {time.strftime('%H:%M:%S')} {self.label} {record.market}", file=sys.stderr)
        if fault.kind == "kill-9-restart":
            self._kill_and_restart(fault, record)
        elif fault.kind in INSTANT:
            self._instant(fault, record)
        else:
            self.set_faults(fault.switches)
            counted = COUNTED.get(fault.kind)

            def used_up() -> bool:
                return counted is not None and counted not in self.last.get("faults", {})

            self.sample_until(record.start + fault.duration, stop=used_up)
            self.set_faults(fault.clear)
            if fault.kind == "engine-restart":
                self.sample_until(
                    time.time() + 5, stop=lambda: self.last.get("engineRestart", {}).get("phase") == "normal"
                )
        record.end = time.time()
        self.label = f"after {fault.kind}"

    def _instant(self, fault: Fault, record: FaultRecord) -> None:
        assert fault.market is not None
        spec = self.specs[fault.market]
        market = self.last.get("markets", {}).get(spec.condition_id, {})
        if fault.kind == "fair-value-jump":
            value = float(market.get("fairValue", 0.5)) + float(fault.detail)
            if not 0.1 <= value <= 0.9:
                value -= 2 * float(fault.detail)
            self.admin.post("/admin/fair-value", json={"conditionId": spec.condition_id, "value": round(value, 4)})
            record.detail = f"{fault.detail} to {value:.3f}"
            return
        tick = market.get("tickSize", "0.01")
        if fault.kind == "tick-size-change":
            new = "0.001" if tick == "0.01" else "0.01"
            self.set_faults({"tickSizeChange": {"conditionId": spec.condition_id, "tickSize": new}})
        else:
            new = "0.001" if tick == "0.01" else "0.0001"
            self.set_faults({"falseTickSizeChange": {"conditionId": spec.condition_id, "tickSize": new}})
        record.detail = f"{tick} -> {new}"

    def _kill_and_restart(self, fault: Fault, record: FaultRecord) -> None:
        assert fault.market is not None
        before = {o["id"] for o in self.last.get("orders", [])}
        self.controllers.kill9()
        spec = self.specs[fault.market]
        value = float(self.last.get("markets", {}).get(spec.condition_id, {}).get("fairValue", 0.5)) + float(
            fault.detail.split()[0]
        )
        self.admin.post("/admin/fair-value", json={"conditionId": spec.condition_id, "value": round(value, 4)})
        incarnation = self.controllers.spawn()
        self.sample_until(time.time() + 60, stop=incarnation.poll_ready)
        ready = incarnation.running_at or time.time()
        record.end = ready

        def orphan_check() -> None:
            # An orphan: an order the killed process left that has stayed outside every band for 3 s or more,
            # or a band over maxAmount since before the restart, ORPHAN_CHECK_AFTER s after the new process ran.
            now = time.time()
            stale = [detail for order_id, detail in self.tally.out_of_band_since(now - 3.0) if order_id in before]
            self.orphans.append(
                {
                    "time": now,
                    "killed_orders": len(before),
                    "left_out_of_band": stale,
                    "bands_over_max": self.tally.bands_over_since(ready),
                }
            )

        self.pending.append((ready + ORPHAN_CHECK_AFTER, orphan_check))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the chaos phase")
    parser.add_argument("--quiet-seconds", type=float, default=60.0, help="fault-free phase first (log volume)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markets", type=int, default=3)
    parser.add_argument("--sample-hz", type=float, default=4.0)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds (default: all)")
    parser.add_argument("--gap", default="8,14", help="quiet seconds after each fault: MIN,MAX (seeded draw)")
    parser.add_argument("--takers", type=float, default=0.2, help="random takers per second per market")
    parser.add_argument("--out", type=Path, help="keep logs and report.json here (default: a temporary directory)")
    args = parser.parse_args(argv)
    # A SIGTERM to the run must still stop the processes it started (the finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    kinds = tuple(k for k in args.kinds.split(",") if k)
    try:
        low, _, high = args.gap.partition(",")
        gap = (float(low), float(high or low))
        schedule = build_schedule(args.seed, args.seconds, args.markets, kinds, gap)
    except ValueError as exc:
        parser.error(f"--gap MIN,MAX or --kinds: {exc}")
    out = args.out or Path(tempfile.mkdtemp(prefix="bandctl-chaos-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bandctl-chaos-work-"))
    specs, config, manifests = write_world(work, args.markets, args.takers)
    emulator, url = start_emulator(config, args.seed, out / "emulator.log")
    controllers = Controllers(work, manifests, out, controller_env(url, url.replace("http", "ws", 1), DEMO_PRIVATE_KEY))
    run = Run(args, out, httpx.Client(base_url=url, timeout=10), controllers, Tally(specs), specs)
    timeline: dict[str, float] = {"begin": time.time()}
    try:
        controllers.spawn()
        run.sample_until(time.time() + 60, stop=lambda: bool(run.tally.quoted) and run.tally.quoted[-1][1])
        timeline["quiet"] = time.time()
        run.label = "quiet"
        run.sample_until(timeline["quiet"] + args.quiet_seconds)
        timeline["chaos"] = start = time.time()
        print(
            f"chaos: {len(schedule)} faults over {args.seconds:.0f} s (seed {args.seed}); output in {out}",
            file=sys.stderr,
        )
        for fault in schedule:
            run.label = "quiet gap"
            run.sample_until(start + fault.start)
            run.run_fault(fault)
        run.label = "final quiet"
        run.sample_until(start + args.seconds)
        while run.pending:
            run.sample_until(time.time() + 1)
        timeline["sigterm"] = time.time()
        exit_seconds = controllers.sigterm()
        left_now = [o for o in run.snapshot()["orders"] if o["owner"].lower() == ADDRESS.lower()]
        time.sleep(1.0)
        left_later = [o for o in run.snapshot()["orders"] if o["owner"].lower() == ADDRESS.lower()]
        timeline["end"] = time.time()
    finally:
        for incarnation in controllers.all:
            if incarnation.process.poll() is None:
                incarnation.process.kill()
        emulator.terminate()
        emulator.wait(10)
    report = build_report(
        args, run, timeline, {"exit_seconds": exit_seconds, "left": len(left_now), "left_after_1s": len(left_later)}
    )
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
