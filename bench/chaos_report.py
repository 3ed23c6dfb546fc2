"""The chaos run's figures and verdicts: issue 9's targets, PASS or FAIL, with the evidence.

Turns the run's records (tally, faults, processes' output) into one JSON-able document
and prints it for a person: every FAIL comes with when it happened (UTC), which fault was
in force and which band or order. It only reads what the run collected; it starts and
samples nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

from chaos_procs import count_logs, find_secrets, lines_per_minute
from chaos_setup import ADDRESS
from chaos_tally import Worst, requote_seconds, unquoted_longest

from controller.loop.controller import DEMO_PRIVATE_KEY
from controller.sim.auth import derive_api_key

HEARTBEAT_FAULTS = ("slow-heartbeat", "failing-heartbeat")


def utc(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 10)}Z"


def _worst(w: Worst) -> dict[str, Any]:
    return {
        "seconds": round(w.seconds, 2),
        "started": utc(w.started) if w.seconds else "",
        "what": w.detail,
        "fault": w.fault,
        "max_excess": str(w.amount),
    }


def _requotes(run: Any, end_of_run: float) -> list[dict[str, Any]]:
    rows = []
    for i, f in enumerate(run.faults):
        horizon = run.faults[i + 1].start if i + 1 < len(run.faults) else end_of_run
        seconds, restored, short = requote_seconds(run.tally.quoted, f.end, horizon)
        unquoted, what = unquoted_longest(run.tally.quoted, f.start, f.end)
        rows.append(
            {
                "kind": f.kind,
                "detail": f.detail,
                "market": f.market,
                "start": utc(f.start),
                "end": utc(f.end),
                "requote_seconds": round(seconds, 2),
                "restored": restored,
                "short_before": short,
                "longest_unquoted_during": round(unquoted, 2),
                "unquoted_what": what,
                "_start": f.start,
                "_end": f.end,
            }
        )
    return rows


def _health(health: list[tuple[float, bool]], firings: list[Any]) -> dict[str, Any]:
    """How often /healthz failed, its failing stretches, and whether it was green when the exchange's switch fired."""
    stretches, began = [], None
    for t, ok in health:
        if not ok and began is None:
            began = t
        elif ok and began is not None:
            stretches.append((utc(began), round(t - began, 1)))
            began = None
    if began is not None:
        stretches.append((utc(began), round(health[-1][0] - began, 1)))

    def green_at(moment: float) -> bool | None:
        before = [ok for t, ok in health if t <= moment]
        return before[-1] if before else None

    return {
        "failing_samples": sum(not ok for _, ok in health),
        "samples": len(health),
        "failing_stretches": stretches[:20],
        "green_when_switch_fired": [green_at(e.time) for e in firings],
    }


def _secrets() -> dict[str, str]:
    key = derive_api_key(ADDRESS, 0)
    bare = DEMO_PRIVATE_KEY.removeprefix("0x")
    return {"private key": bare, "API secret": key.secret, "API passphrase": key.passphrase}


def build_report(args: Any, run: Any, timeline: dict[str, float], shutdown: dict[str, Any]) -> dict[str, Any]:
    tally = run.tally
    outputs = [c.output for c in run.controllers.all]
    logs = count_logs(outputs)
    requotes = _requotes(run, timeline["sigterm"])
    by_kind: dict[str, list[float]] = {}
    for row in requotes:
        by_kind.setdefault(row["kind"], []).append(row["requote_seconds"] if row["restored"] else float("inf"))
    heartbeat_rows = [r for r in requotes if r["kind"] in HEARTBEAT_FAULTS]
    heartbeat_unquoted = max((r["longest_unquoted_during"] for r in heartbeat_rows), default=0.0)
    heartbeat_firings = [
        e for e in tally.switch_firings if any(r["_start"] <= e.time <= r["_end"] + 5 for r in heartbeat_rows)
    ]
    secrets = find_secrets([*outputs, run.out / "emulator.log"], _secrets())
    orphans = sum(len(o["left_out_of_band"]) + len(o["bands_over_max"]) for o in run.orphans)
    rss_by: dict[int, list[float]] = {}
    for _, number, mb in run.rss:
        rss_by.setdefault(number, []).append(mb)
    quiet_rate = lines_per_minute(logs, timeline["quiet"] + 10, timeline["chaos"])
    quiet_seconds = timeline["chaos"] - timeline["quiet"] - 10
    chaos_rate = lines_per_minute(logs, timeline["chaos"], timeline["sigterm"])
    worst_requote = max((r["requote_seconds"] if r["restored"] else float("inf") for r in requotes), default=0.0)
    late = [r for r in requotes if not r["restored"] or r["requote_seconds"] > 2.0]
    breaches = len(tally.position_breaches) + len(tally.collateral_breaches)
    targets = [
        (
            "zero crashes",
            f"{len(run.crashes)} unexpected exit(s), {logs.tracebacks} traceback(s)",
            not run.crashes and not logs.tracebacks,
        ),
        (
            "zero limit breaches",
            f"{len(tally.position_breaches)} position, {len(tally.collateral_breaches)} collateral sample(s)",
            breaches == 0,
        ),
        (
            "overfill beyond one order <= 2 s",
            f"{tally.overfill_beyond_one.seconds:.2f} s",
            tally.overfill_beyond_one.seconds <= 2.0,
        ),
        ("no out-of-band order older than 3 s", f"{tally.out_of_band.seconds:.2f} s", tally.out_of_band.seconds <= 3.0),
        (
            "quotes restored within 2 s after each fault",
            f"worst {worst_requote:.2f} s, {len(late)} of {len(requotes)} late",
            not late if requotes else None,
        ),
        (
            "zero orders after SIGTERM",
            f"{shutdown['left']} ({shutdown['left_after_1s']} a second later)",
            shutdown["left"] == 0,
        ),
        ("process exit within 3 s of SIGTERM", f"{shutdown['exit_seconds']:.2f} s", shutdown["exit_seconds"] <= 3.0),
        (
            "zero orphans after kill -9 + restart",
            f"{orphans} in {len(run.orphans)} restart(s)",
            (orphans == 0) if run.orphans else None,
        ),
        ("zero secrets in any output", f"{len(secrets)} occurrence(s)", not secrets),
        (
            "no failed heartbeat costs a quote",
            f"{len(heartbeat_firings)} dead-man firing(s), longest unquoted {heartbeat_unquoted:.2f} s",
            (not heartbeat_firings and heartbeat_unquoted <= 2.0) if heartbeat_rows else None,
        ),
        # Quiet: no fault and nobody trading against us; with takers on, every fill is news
        # (an order topped up or moved), so that phase is reported but not judged.
        (
            "quiet log volume < 60 lines/min at INFO",
            f"{quiet_rate:.1f} lines/min over {quiet_seconds:.0f} s"
            + (f" with takers at {args.takers:g}/s a market (quiet: --takers 0)" if args.takers else ", no takers"),
            (quiet_rate < 60) if quiet_seconds >= 30 and not args.takers else None,
        ),
    ]
    return {
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
        "seed": args.seed,
        "seconds": args.seconds,
        "markets": args.markets,
        "takers_per_second": args.takers,
        "began": utc(timeline["begin"]),
        "code": [f"controller {c.number}: {c.code}" for c in run.controllers.all],
        "load": [(utc(t), load) for t, load in run.loads] + [(utc(time.time()), round(os.getloadavg()[0], 2))],
        "samples": tally.samples,
        "excused_samples": tally.excused_samples,
        "crashes": run.crashes,
        "position_breaches": [vars(e) for e in tally.position_breaches[:10]],
        "collateral_breaches": [vars(e) for e in tally.collateral_breaches[:10]],
        "overfill_any": _worst(tally.overfill),
        "overfill_beyond_one_order": _worst(tally.overfill_beyond_one),
        "out_of_band_longest": _worst(tally.out_of_band),
        "requotes": [{k: v for k, v in r.items() if not k.startswith("_")} for r in requotes],
        "requote_by_kind": {
            k: {"worst": max(v), "median": statistics.median(v), "n": len(v)} for k, v in by_kind.items()
        },
        "dead_man_firings": [{**vars(e), "time": utc(e.time)} for e in tally.switch_firings],
        "sigterm": shutdown,
        "orphans": run.orphans,
        "secrets_found": secrets,
        "rss_mb": {str(n): {"first": v[0], "max": max(v), "last": v[-1]} for n, v in rss_by.items()},
        "rss_series": [(utc(t), n, round(mb, 1)) for t, n, mb in run.rss[::30]],
        "logs": {
            "quiet_lines_per_minute": round(quiet_rate, 1),
            "chaos_lines_per_minute": round(chaos_rate, 1),
            "max_lines_in_a_minute": max(logs.per_minute.values(), default=0),
            "levels": logs.levels,
            "top_patterns": logs.loggers,
            "tracebacks": logs.tracebacks,
            "unparsed_lines": logs.unparsed,
        },
        "healthz": _health(tally.health, tally.switch_firings),
        "exchange_errors": run.last.get("errors", {}),
        "status_quoting_overstated": {
            "snapshots": tally.status_overstated,
            "of": tally.status_samples,
            "examples": [{**vars(e), "time": utc(e.time)} for e in tally.status_evidence[:5]],
        },
        "targets": [{"target": t, "measured": m, "pass": ok} for t, m, ok in targets],
    }


def print_report(report: dict[str, Any]) -> None:
    out = print
    out(
        f"chaos run: {report['markets']} markets, {report['seconds']:.0f} s of faults, "
        f"seed {report['seed']}, began {report['began']}"
    )
    out(f"  command: {report['command']}")
    out(f"  code: {'; '.join(report['code'])}")
    out(f"  load (1 min): {', '.join(f'{t} {v}' for t, v in report['load'])}")
    out(f"  samples: {report['samples']} ({report['excused_samples']} while the exchange refused every cancel)")
    for name in ("overfill_any", "overfill_beyond_one_order", "out_of_band_longest"):
        w = report[name]
        out(f"  {name}: {w['seconds']} s (max excess {w['max_excess']}) {w['started']} [{w['fault']}] {w['what']}")
    out("  time to requote after each fault (s):")
    for r in report["requotes"]:
        mark = "" if r["restored"] else " NOT RESTORED"
        short = f" short: {r['short_before']}" if r["short_before"] else ""
        out(
            f"    {r['start']}-{r['end']} {r['kind']:<24} {r['detail']:<36} {r['market']:<8} "
            f"{r['requote_seconds']:>6.2f}{mark} (unquoted during {r['longest_unquoted_during']:.2f}){short}"
        )
    for kind, v in sorted(report["requote_by_kind"].items()):
        out(f"    {kind:<24} worst {v['worst']:.2f} median {v['median']:.2f} (n={v['n']})")
    for e in report["dead_man_firings"]:
        out(f"  dead-man firing {e['time']} [{e['fault']}]: {e['what']}")
    s = report["sigterm"]
    out(f"  SIGTERM: {s['left']} orders left ({s['left_after_1s']} after 1 s), exit in {s['exit_seconds']:.2f} s")
    for o in report["orphans"]:
        out(
            f"  kill -9 + restart: {o['killed_orders']} orders at the kill; "
            f"out of band after: {o['left_out_of_band']}; over max: {o['bands_over_max']}"
        )
    out(f"  secrets found: {report['secrets_found'] or 'none'}")
    out(f"  RSS MB per process: {report['rss_mb']}")
    logs = report["logs"]
    out(
        f"  logs: quiet {logs['quiet_lines_per_minute']}/min, chaos {logs['chaos_lines_per_minute']}/min, "
        f"max {logs['max_lines_in_a_minute']} in a minute; {logs['levels']}"
    )
    for pattern, n in logs["top_patterns"]:
        out(f"    {n:>6}  {pattern}")
    h = report["healthz"]
    out(
        f"  /healthz failing: {h['failing_samples']} of {h['samples']} polls, stretches {h['failing_stretches']}; "
        f"green when the dead man's switch fired: {h['green_when_switch_fired']}"
    )
    out(f"  exchange error answers: {report['exchange_errors']}")
    st = report["status_quoting_overstated"]
    out(f"  /status Quoting=True while a band was short: {st['snapshots']} of {st['of']}")
    for c in report["crashes"]:
        out(f"  crash: controller {c['incarnation']} {c['how']} during {c['fault']}; last lines: {c['tail'][-3:]}")
    out("targets:")
    for t in report["targets"]:
        verdict = "N/A " if t["pass"] is None else "PASS" if t["pass"] else "FAIL"
        out(f"  {verdict}  {t['target']}: {t['measured']}")
