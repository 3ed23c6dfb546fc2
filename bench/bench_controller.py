"""Benchmarks of the live controller against the emulator on loopback.

    python bench/bench_controller.py [latency|churn|scaling|all] [--repeats N] [--quick] [--json]

* ``latency``: tick-to-quote. The emulator (a child process, real clock, quiet flow: no takers,
  volatility 0, no jumps; house liquidity on) moves one market's fair value; the house
  re-quotes and the reference price moves by 1-2 ticks, which usually pushes some of our
  orders out of their bands (moves that need no replacement are not counted). Measured
  from the emulator enqueueing the first ``price_change`` of that re-quote on the
  controller's WebSocket connection to the controller receiving the ``POST /orders``
  response of the last replacement order (the order is then resting: the
  emulator matches and rests an order before it answers). Hooks wrap the controller's WS
  handler, ``Reconciler.reconcile``, ``Venue.cancel_orders``,
  ``Venue.place_orders``, ``Venue.cancel_and_place`` and ``Venue._sign`` (benchmark-side
  monkeypatching, no controller change) to break the time down; the emulator's book-change
  dispatch is hooked in its own process (``controller_bench/simproc.py``). The controller
  runs production's WS path: no JSON-Schema check of the messages unless ``--ws-schema``
  (a tests-and-benchmarks extra, ~0.1 ms a message, which the run had until 2026-12-02).
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

The latency and churn runs start the emulator in a child process (its own interpreter lock,
as a remote exchange would be), driven over a pipe; ``--sim-in-process`` runs it on a thread
of this process instead (the set-up before, for comparison); ``--pin`` gives the child a CPU of
its own and this process the others. ``--repeats N`` runs latency or
churn N times, each with a fresh emulator and controller, and reports each run and the
median of every figure over the runs.

``--what-if`` applies experimental patches on top of the shipped controller (from this
script only) to size the optimisations proposed in BENCHMARKS.md.

Rate limits: the latency run keeps the standard tier (40 orders/s, burst 60) on both the
emulator and the controller's client-side budget; churn and scaling disable them
(``rateLimits: {enabled: false}`` and an unbounded client budget), see BENCHMARKS.md.

This file is the command line only; the runs live in ``controller_bench/`` beside it, one
module per job (markets, probe, session, whatif, stats, report, latency, churn, scaling).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from controller_bench.churn import CHURN_LOOPS, bench_churn  # noqa: E402
from controller_bench.latency import bench_latency  # noqa: E402
from controller_bench.repeats import repeated  # noqa: E402
from controller_bench.report import (  # noqa: E402
    print_churn,
    print_churn_repeats,
    print_latency,
    print_latency_repeats,
    print_scaling,
)
from controller_bench.scaling import bench_scaling  # noqa: E402
from controller_bench.simproc import split_cpus  # noqa: E402
from controller_bench.stats import load  # noqa: E402
from controller_bench.whatif import WHAT_IF, WHAT_IFS, apply_process_what_ifs  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="?", choices=["latency", "churn", "scaling", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--json-out", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=1, metavar="N", help="latency, churn: N runs, each reported, and their medians"
    )
    parser.add_argument(
        "--sim-in-process",
        action="store_true",
        help="latency, churn: the emulator on a thread of this process (the old set-up) instead of a child process",
    )
    parser.add_argument(
        "--moves",
        type=int,
        help="latency: measured moves (default 1000, quick 60); moves needing no replacement are not counted",
    )
    parser.add_argument(
        "--gap",
        type=float,
        default=0.075,
        help="latency: min seconds between moves (keeps the 40 orders/s tier unexhausted)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="latency, churn: the emulator's child process on the last CPU, this process on the others (Linux)",
    )
    parser.add_argument(
        "--ws-schema",
        action="store_true",
        help="latency: also check every WS message against the channels' JSON Schemas (a tests-and-benchmarks "
        "extra production does not run; the latency run's default before 2026-12-02)",
    )
    parser.add_argument("--scaling-gap", type=float, default=0.05, help="scaling: min seconds between moves")
    parser.add_argument("--events", type=int, help="churn: price events per loop (default 1000, quick 80)")
    parser.add_argument("--interval", type=float, default=0.05, help="churn: seconds between price events")
    parser.add_argument(
        "--churn-loops",
        default=",".join(CHURN_LOOPS),
        metavar="LIST",
        help=f"churn: which loops to run (default {','.join(CHURN_LOOPS)})",
    )
    parser.add_argument("--markets", help="scaling: comma-separated market counts (default 1,10,50,100,200)")
    parser.add_argument("--scaling-moves", type=int, help="scaling: moves per market count (default 300)")
    parser.add_argument("--idle", type=float, help="scaling: idle seconds measured per market count (default 5)")
    parser.add_argument(
        "--what-if",
        default="",
        metavar="LIST",
        help=f"experiments, comma-separated, not the shipped behaviour: {', '.join(WHAT_IFS)}",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    WHAT_IF.update(x for x in args.what_if.split(",") if x)
    if WHAT_IF - set(WHAT_IFS):
        parser.error(f"unknown --what-if: {', '.join(sorted(WHAT_IF - set(WHAT_IFS)))}")
    apply_process_what_ifs()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    quick = args.quick
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_start": load(),
        "what_if": sorted(WHAT_IF),
    }
    if WHAT_IF and not args.json:
        print(f"WHAT-IF experiments (not the shipped controller): {', '.join(sorted(WHAT_IF))}")
    t_all = time.perf_counter()
    results["emulator"] = "in process" if args.sim_in_process else "child process"
    if args.pin:
        results["pinned"] = split_cpus()
        if not args.json:
            print(f"pinned: {results['pinned']}")
    if args.which in ("latency", "all"):
        runs = []
        for _ in range(args.repeats):
            runs.append(
                bench_latency(
                    args.moves or (60 if quick else 1000),
                    args.seed,
                    args.gap,
                    in_process=args.sim_in_process,
                    ws_schema=args.ws_schema,
                )
            )
            if not args.json:
                print_latency(runs[-1])
        results["latency"] = runs[0] if args.repeats == 1 else repeated(runs)
        if args.repeats > 1 and not args.json:
            print_latency_repeats(results["latency"])
    if args.which in ("churn", "all"):
        loops = [x for x in args.churn_loops.split(",") if x]
        if set(loops) - set(CHURN_LOOPS):
            parser.error(f"unknown --churn-loops: {', '.join(sorted(set(loops) - set(CHURN_LOOPS)))}")
        runs = []
        for _ in range(args.repeats):
            events = args.events or (80 if quick else 1000)
            runs.append(bench_churn(events, args.seed, args.interval, loops, in_process=args.sim_in_process))
            if not args.json:
                print_churn(runs[-1])
        results["churn"] = runs[0] if args.repeats == 1 else repeated(runs)
        if args.repeats > 1 and not args.json:
            print_churn_repeats(results["churn"])
    if args.which in ("scaling", "all"):
        sizes = (
            [int(x) for x in args.markets.split(",")] if args.markets else ([1, 20] if quick else [1, 10, 50, 100, 200])
        )
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
