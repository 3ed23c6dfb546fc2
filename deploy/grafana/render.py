"""Draws docs/img/dashboard.png: the panels of bandctl.json over a real demo run.

No Grafana renderer works offline (Grafana is not packaged by Debian or PyPI, and its image
renderer downloads a browser), so this draws the same panels itself: it runs
``bandctl run --sim`` (the emulator and the controller quoting the demo manifests), lets a
real Prometheus (Debian's ``prometheus`` package) scrape its ``/metrics`` every second,
injects a spell of faults (REST errors and latency, WebSocket drops) half-way so the error
panels have something to show, then evaluates every panel's own PromQL through
Prometheus's query API and plots the answers with matplotlib in the dashboard's grid.

    python deploy/grafana/render.py                    # ~3 minutes; writes docs/img/dashboard.png
    python deploy/grafana/render.py --data run.json    # redraw from the data a run saved

It only talks to 127.0.0.1 and never changes the dashboard: the JSON is the source.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "bandctl.json"
OUTPUT = ROOT / "docs" / "img" / "dashboard.png"
# What Grafana would substitute: all manifests; a rate window of 4 scrapes plus slack.
VARIABLES = {"$__rate_interval": "10s", "$manifest": ".*"}
FAULTS_ON = {"error5xxFraction": 0.15, "latencyMs": 40, "latencyJitterMs": 60, "wsDisconnectEverySeconds": 25}
FAULTS_OFF = {"error5xxFraction": 0.0, "latencyMs": 0, "latencyJitterMs": 0, "wsDisconnectEverySeconds": 0}
EMULATOR_LINE = re.compile(r"emulator listening on (http://127\.0\.0\.1:\d+)")

BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ("#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until(predicate: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"error: {what} did not happen within {timeout:.0f} s")


def panel_queries(board: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(panel id, refId, PromQL with the dashboard variables filled in) of every panel target."""
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((panel["id"], target["refId"], expr))
    return out


# -- the demo run -------------------------------------------------------------------------------


def record(seconds: float, workdir: Path) -> dict[str, Any]:
    """Runs the demo under Prometheus for ``seconds`` and returns every panel query's answer."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("error: needs Prometheus to evaluate the panels' PromQL: apt-get install prometheus")
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    http_port, prom_port = free_port(), free_port()
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: bandctl\n    static_configs: [{{targets: ['127.0.0.1:{http_port}']}}]\n"
    )
    controller_log = (workdir / "bandctl.log").open("w")
    prometheus_log = (workdir / "prometheus.log").open("w")
    controller = subprocess.Popen(
        [sys.executable, "-m", "controller", "run", "--sim", "--http", f"127.0.0.1:{http_port}"],
        cwd=ROOT,
        stdout=controller_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=prometheus_log,
    )
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    try:
        match = wait_until(lambda: EMULATOR_LINE.search((workdir / "bandctl.log").read_text()), "emulator start", 60)
        emulator = match.group(1)
        wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=2), "readiness", 90)
        wait_until(lambda: http_json(f"{api}/query?query=up")["data"]["result"], "first scrape", 60)
        start = time.time()
        print(f"recording {seconds:.0f} s of the demo (faults from 40% to 65% of it)", file=sys.stderr)
        time.sleep(seconds * 0.4)
        http_json(f"{emulator}/admin/faults", FAULTS_ON)
        time.sleep(seconds * 0.25)
        http_json(f"{emulator}/admin/faults", FAULTS_OFF)
        time.sleep(seconds * 0.35)
        end = time.time()
        results: dict[str, Any] = {"start": start, "end": end, "panels": {}}
        for panel_id, ref, expr in panel_queries(board):
            query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "2"})
            answer = http_json(f"{api}/query_range?{query}")
            if answer.get("status") != "success":
                raise SystemExit(f"error: Prometheus refused panel {panel_id} {ref}: {answer.get('error')}")
            results["panels"].setdefault(str(panel_id), {})[ref] = answer["data"]["result"]
        return results
    finally:
        for process in (controller, prom):
            process.send_signal(signal.SIGTERM)
        for process in (controller, prom):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        controller_log.close()
        prometheus_log.close()


# -- drawing ----------------------------------------------------------------------------------------


def legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip() or "value"


def unit_scale(unit: str | None, peak: float) -> tuple[float, str]:
    if unit == "s":
        return (1000.0, "ms") if peak < 1 else (1.0, "s")
    return 1.0, {"reqps": "/s"}.get(unit or "", "")


def draw(results: dict[str, Any], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    unit_h = 0.36  # inches per grid row
    fig = plt.figure(figsize=(20, bottom * unit_h + 0.6), facecolor=BACKGROUND)
    fig.text(
        0.01,
        1 - 0.25 / (bottom * unit_h + 0.6),
        "bandctl · demo run (bandctl run --sim)",
        color=TEXT,
        fontsize=14,
        fontweight="bold",
        va="center",
    )
    top_margin = 0.6 / (bottom * unit_h + 0.6)

    def box(grid: dict[str, int], labels: float = 0.0) -> tuple[float, float, float, float]:
        """Figure coordinates of a grid cell; ``labels`` is room kept on the left for tick labels."""
        scale = 1 - top_margin
        return (
            grid["x"] / 24 + 0.004 + labels,
            1 - top_margin - (grid["y"] + grid["h"]) / bottom * scale + 0.016,
            grid["w"] / 24 - 0.008 - labels,
            grid["h"] / bottom * scale - 0.028,
        )

    span = results["end"] - results["start"]
    for panel in board["panels"]:
        grid = panel["gridPos"]
        if panel["type"] == "row":
            x, y, _, h = box(grid)
            fig.text(x, y + h / 2, panel["title"], color=TEXT, fontsize=12, fontweight="bold", va="center")
            continue
        ax = fig.add_axes(box(grid, labels=0.0 if panel["type"] == "stat" else 0.028), facecolor=PANEL)
        ax.set_title(panel["title"], color=TEXT, fontsize=10, loc="left")
        for side in ax.spines.values():
            side.set_color(GRID)
        ax.tick_params(colors=TEXT, labelsize=7)
        answers = results["panels"].get(str(panel["id"]), {})
        series = [
            (
                legend(t.get("legendFormat", ""), r["metric"]),
                [(float(ts) - results["start"], float(v)) for ts, v in r["values"]],
            )
            for t in panel["targets"]
            for r in answers.get(t["refId"], [])
        ]
        series = [(name, [(t, v) for t, v in points if math.isfinite(v)]) for name, points in series]
        if panel["type"] == "stat":
            draw_stat(ax, panel, series)
            continue
        peak = max((abs(v) for _, pts in series for _, v in pts), default=0.0)
        factor, suffix = unit_scale(panel["fieldConfig"]["defaults"].get("unit"), peak)
        for i, (name, points) in enumerate(sorted(series)[:8]):
            if points:
                ax.plot(
                    [t for t, _ in points],
                    [v * factor for _, v in points],
                    color=PALETTE[i % len(PALETTE)],
                    linewidth=1.2,
                    label=name[:40],
                )
        ax.set_xlim(0, span)
        ax.grid(color=GRID, linewidth=0.5)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda t, _: f"{t / 60:.0f}m" if t else "0"))
        ax.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(60))
        if suffix:
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _, s=suffix: f"{v:g} {s}"))
        if series:
            ax.legend(loc="upper left", fontsize=6.5, frameon=False, labelcolor=TEXT, ncol=2)
        else:
            ax.text(0.5, 0.5, "No data", color=GRID, ha="center", va="center", transform=ax.transAxes)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=80, facecolor=BACKGROUND)
    print(f"wrote {output}", file=sys.stderr)


def draw_stat(ax: Any, panel: dict[str, Any], series: list[tuple[str, list[tuple[float, float]]]]) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    defaults = panel["fieldConfig"]["defaults"]
    mappings = {k: v for m in defaults.get("mappings", []) for k, v in m.get("options", {}).items()}
    steps = defaults.get("thresholds", {}).get("steps", [])
    text_mode = panel.get("options", {}).get("textMode", "value_and_name")
    cells = [(name, points[-1][1]) for name, points in sorted(series) if points]
    for i, (name, value) in enumerate(cells):
        mapped = mappings.get(f"{value:g}", {})
        color = mapped.get("color") or next(
            (s["color"] for s in reversed(steps) if s["value"] is None or value >= s["value"]), TEXT
        )
        shown = mapped.get("text", f"{value:g}")
        label = name if text_mode == "name" else f"{name}\n{shown}" if text_mode == "value_and_name" else shown
        x = (i + 0.5) / len(cells)
        fill = color if panel.get("options", {}).get("colorMode") == "background" else PANEL
        ax.text(
            x,
            0.45,
            label,
            color=BACKGROUND if fill != PANEL else TEXT,
            fontsize=11,
            fontweight="bold",
            ha="center",
            va="center",
            transform=ax.transAxes,
            bbox={"boxstyle": "round,pad=0.6", "facecolor": fill, "edgecolor": fill},
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="length of the demo run")
    parser.add_argument("--data", type=Path, help="redraw from a run saved with --save-data")
    parser.add_argument("--save-data", type=Path, help="also save the queried series as JSON")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.data:
        results = json.loads(args.data.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory(prefix="bandctl-render-") as tmp:
            results = record(args.seconds, Path(tmp))
        if args.save_data:
            args.save_data.write_text(json.dumps(results))
    draw(results, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
