"""Scale: 10 to 1,000 markets in one controller with synthetic flow on (issue 13).

Each run is a fresh process (``--one N``: RSS and CPU are that run's only) holding the
controller, with the emulator as its own subprocess. The total flow rate is the same at
every N (``--steps-per-second`` market steps in all), so what grows is only the number
of markets: a cost per event that grows with N shows as a ratio to the smallest N,
measured in the same invocation.

    .venv/bin/python bench/scale.py --sizes 10,100,300,1000 --seconds 60 --repeats 3 \\
        --json-out /tmp/scale.json --plot docs/img/scaling.png

Prints a Markdown table of medians over the repeats. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for path in (ROOT, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

COLUMNS = [
    ("markets", "markets", None),
    ("open orders", "open_orders", None),
    ("start-up s", "startup_s", None),
    ("p50 ms", "event_to_reconcile_ms.p50", None),
    ("p99 ms", "event_to_reconcile_ms.p99", None),
    ("max ms", "event_to_reconcile_ms.max", None),
    ("CPU ms / event", "cpu_ms_per_event", "x"),
    ("CPU ms / event, full reads spread", "cpu_ms_per_event_amortized", "x"),
    ("CPU ms / reconcile", "cpu_ms_per_reconcile", "x"),
    ("resync CPU ms", "resync_cpu_ms.scheduled", None),
    ("full resync CPU ms", "resync_cpu_ms.full", None),
    ("controller CPU %", "controller_cpu_pct", None),
    ("RSS MB", "rss_mb", None),
    ("RSS KB / market", "rss_kb_per_market", None),
    ("RSS KB / added market", "rss_kb_marginal", None),
    ("emulator CPU %", "emulator_cpu_pct", None),
    ("/admin/state p99 ms", "admin_poll_ms.p99", None),
    ("balance reads / min", "balance_per_min", None),
]


def field(run: dict[str, Any], key: str) -> Any:
    value: Any = run
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def run_child(n: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--one",
        str(n),
        "--seconds",
        str(args.seconds),
        "--steps-per-second",
        str(args.steps_per_second),
        "--poll-interval",
        str(args.poll_interval),
        "--resync-interval",
        str(args.resync_interval),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"scale: N={n} failed:\n{done.stderr[-3000:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    run["balance_per_min"] = round(60 * run["balance_requests"] / run["seconds"], 1)
    print(f"  N={n}: {json.dumps(run)}", file=sys.stderr, flush=True)
    return run


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _, key, _ in COLUMNS:
        values = [v for r in runs if isinstance(v := field(r, key), int | float)]
        out[key] = statistics.median(values) if values else None
    return out


def table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    lines = ["| " + " | ".join(title for title, _, _ in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in rows:
        cells = []
        for _, key, ratio in COLUMNS:
            value = row[key]
            text = "-" if value is None else f"{value:g}"
            if ratio and value is not None and base[key]:
                text += f" ({value / base[key]:.2f}x)"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["markets"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    axes[0].plot(n, [r["event_to_reconcile_ms.p99"] for r in rows], "o-", label="p99")
    axes[0].plot(n, [r["event_to_reconcile_ms.p50"] for r in rows], "s--", label="p50")
    axes[0].axhline(100, color="grey", linestyle=":", label="target p99 100 ms")
    axes[0].set_ylabel("event → reconcile complete, ms")
    axes[0].legend()
    axes[1].plot(n, [r["cpu_ms_per_event"] for r in rows], "o-", label="per stream event")
    axes[1].plot(n, [r["cpu_ms_per_reconcile"] for r in rows], "s--", label="per reconcile")
    axes[1].set_ylabel("controller CPU, ms")
    axes[1].set_ylim(bottom=0)
    axes[1].legend()
    axes[2].plot(n, [r["rss_mb"] for r in rows], "o-")
    for row in rows[1:]:
        axes[2].annotate(f"+{row['rss_kb_marginal']:.0f} KB/market", (row["markets"], row["rss_mb"]), fontsize=8)
    axes[2].set_ylabel("controller process RSS, MB")
    axes[2].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("markets in one controller")
        ax.grid(alpha=0.3)
    fig.suptitle("bandctl scale: same total flow, 10 to 1,000 markets (medians of repeats)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300,1000")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps-per-second", type=float, default=20.0, help="market flow steps per second, in all")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="the /admin/state probe's interval")
    parser.add_argument("--json-out")
    parser.add_argument("--plot")
    parser.add_argument("--resync-interval", type=float, default=15.0, help="the controller's (production: 15 s)")
    parser.add_argument("--from-json", help="print and plot an earlier run's --json-out instead of running")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    if args.one is not None:
        from scale_run import run_one

        result = run_one(args.one, args.seconds, args.steps_per_second, args.poll_interval, args.resync_interval)
        print(json.dumps(result))
        return 0
    if args.from_json:
        runs = {int(n): r for n, r in json.loads(Path(args.from_json).read_text())["runs"].items()}
        sizes = sorted(runs)
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        runs = {n: [] for n in sizes}
        for _ in range(args.repeats):
            for n in sizes:  # interleaved, so that a change of the machine's load hits every N alike
                runs[n].append(run_child(n, args))
    rows = [{"markets": n, **medians(runs[n])} for n in sizes]
    for row in rows:  # what one more market costs, against the smallest N of this run
        base = rows[0]
        grown = row["markets"] - base["markets"]
        row["rss_kb_marginal"] = round(1024 * (row["rss_mb"] - base["rss_mb"]) / grown, 1) if grown else None
    repeats = len(runs[sizes[0]])
    loads = [x for rs in runs.values() for r in rs for x in (r["load_before"][0], r["load_after"][0])]
    print(f"1-minute load at the runs' starts and ends {min(loads):.2f}-{max(loads):.2f}; medians of {repeats} runs\n")
    print(table(rows))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"runs": runs, "medians": rows}, indent=1))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
