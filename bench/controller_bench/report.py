"""Human-readable tables of the results (Markdown rows, as pasted into BENCHMARKS.md). Printing only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .repeats import each_and_median

# --------------------------------------------------------------------------- output


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _lat(s: dict[str, float]) -> list[Any]:
    return [s.get("n", 0), s.get("p50", "-"), s.get("p90", "-"), s.get("p99", "-"), s.get("max", "-")]


def print_latency(r: dict[str, Any]) -> None:
    print(
        f"\n## Tick-to-quote latency ({r['measured']}/{r['moves']} moves measured, {r['timeouts']} timeouts, "
        f"not measured {r['not_measured']}, rate-limit waits {r['rate_limit_waits']}, "
        f"exchange errors {r['exchange_errors']}, not converged at checks {r['exchange_not_converged_at_checks']})"
    )
    clock = r.get("clock_check", {})
    print(
        f"load before {r['load_before']} after {r['load_after']}; CPU {r['process_cpu_s']} s (controller process) "
        f"+ {r.get('emulator_cpu_s', '-')} s (emulator, {r.get('emulator', '-')}) over {r['wall_s']} s; "
        f"clock check: {clock.get('out_of_order', '-')} of {clock.get('rounds', '-')} child readings out of order; "
        f"WS schema check: {'on' if r.get('ws_schema_check', True) else 'off (production path)'}"
    )
    print(_row(["ms", "n", "p50", "p90", "p99", "max"]))
    print(_row(["---"] * 6))
    print(_row(["**tick-to-quote (last ack)**", *_lat(r["tick_to_quote_ms"])]))
    print(_row(["first ack", *_lat(r["first_ack_ms"])]))
    for key, value in r["breakdown_ms"].items():
        print(_row([key, *_lat(value)]))
    floor = r.get("floor", {})
    for key in ("sign_post_delete_ms", "sign_post_ms", "sign_ms"):
        if key in floor:
            print(_row([f"floor: {key[:-3].replace('_', ' + ')}", *_lat(floor[key])]))
    if "sign_hot_ms" in floor:
        print(_row(["floor: sign, back to back (no idle gap)", *_lat(floor["sign_hot_ms"])]))
    if floor:
        print("floor: order id is the signed digest:", floor.get("order_id_is_signed_digest"))
    print("per move:", r["per_move"])
    print("problems:", r["problems"])


def print_churn(r: dict[str, Any]) -> None:
    print(f"\n## Churn (events every {r['interval_s'] * 1000:.0f} ms; bandctl / naive = {r['bandctl_over_naive']})")
    print(
        _row(
            [
                "loop",
                "events",
                "ref. changes",
                "places",
                "cancels",
                "actions / 1000 events",
                "orders/s",
                "inside (sampled)",
                "inside (time-weighted)",
                "CPU s",
                "emulator CPU s",
                "load",
            ]
        )
    )
    print(_row(["---"] * 12))
    for run in r["runs"]:
        print(
            _row(
                [
                    run["mode"],
                    run["events"],
                    run["reference_changes"],
                    run["places"],
                    run["cancels"],
                    run["actions_per_1000_events"],
                    run["orders_per_second"],
                    f"{run['inside_bands_sampled']:.2%}",
                    f"{run['inside_bands_time_weighted']:.2%}",
                    run["process_cpu_s"],
                    run.get("emulator_cpu_s", "-"),
                    run["load_after"][0],
                ]
            )
        )
    for run in r["runs"]:
        print(f"{run['mode']}: fills {run['fills']}, problems {run['problems']}")
        print(
            f"  per jump {run.get('per_jump')}\n  per reference move {run.get('per_reference_move')}\n"
            f"  rejections {run.get('rejections')}, pulled quotes {run.get('pulled_quotes')}"
        )


def print_scaling(r: dict[str, Any]) -> None:
    print("\n## Scaling (emulator in a subprocess)")
    print(
        _row(
            [
                "markets",
                "orders",
                "startup s",
                "idle CPU %",
                "resync ms (CPU ms)",
                "moves",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "CPU ms/move",
                "CPU % (moves)",
                "emulator CPU s",
                "timeouts",
                "load",
            ]
        )
    )
    print(_row(["---"] * 15))
    for run in r["runs"]:
        t = run["tick_to_quote_ms"]
        print(
            _row(
                [
                    run["markets"],
                    run["open_orders"],
                    run["startup_s"],
                    run["idle_cpu_pct"],
                    f"{run['resync_until_idle_ms']} ({run['resync_cpu_ms']})",
                    run["measured"],
                    t.get("p50"),
                    t.get("p90"),
                    t.get("p99"),
                    t.get("max"),
                    run["controller_cpu_ms_per_move"],
                    run["controller_cpu_pct"],
                    run["emulator_cpu_s"],
                    run["timeouts"],
                    run["load_after"][0],
                ]
            )
        )
    print("\nbreakdown p50 (ms):")
    for run in r["runs"]:
        print(
            f"  N={run['markets']}: "
            + ", ".join(f"{k}={v.get('p50')}" for k, v in run["breakdown_ms"].items() if k != "emulator_burst")
        )


def print_latency_repeats(r: dict[str, Any]) -> None:
    """The medians over ``--repeats`` runs, each run's figure in brackets (the runs' tables came first)."""
    runs, med = r["runs"], r["median"]
    print(f"\n## Tick-to-quote latency: median over {r['repeats']} runs (each run's figure in brackets)")
    print(_row(["ms", "p50", "p90", "p99", "max"]))
    print(_row(["---"] * 5))
    rows = [
        ("**tick-to-quote (last ack)**", ("tick_to_quote_ms",)),
        ("first ack", ("first_ack_ms",)),
        ("floor: sign + post + delete", ("floor", "sign_post_delete_ms")),
        ("floor: sign + post", ("floor", "sign_post_ms")),
        ("floor: sign", ("floor", "sign_ms")),
        ("floor: sign, back to back (no idle gap)", ("floor", "sign_hot_ms")),
        *((key, ("breakdown_ms", key)) for key in med.get("breakdown_ms", {})),
    ]
    for label, path in rows:
        print(_row([label, *(each_and_median(runs, med, (*path, q)) for q in ("p50", "p90", "p99", "max"))]))
    print("per move (median):", med["per_move"])
    print(
        "CPU s (controller process / emulator):",
        each_and_median(runs, med, ("process_cpu_s",)),
        "/",
        each_and_median(runs, med, ("emulator_cpu_s",)),
        "over",
        each_and_median(runs, med, ("wall_s",)),
    )
    print("load before -> after:", ", ".join(f"{x['load_before'][0]} -> {x['load_after'][0]}" for x in runs))


def print_churn_repeats(r: dict[str, Any]) -> None:
    runs, med = r["runs"], r["median"]
    print(f"\n## Churn: median over {r['repeats']} runs (each run's figure in brackets)")
    print("bandctl / naive:", each_and_median(runs, med, ("bandctl_over_naive",)))
    for i, run in enumerate(med["runs"]):
        mode = run["mode"]
        keys = ("actions_per_1000_events", "inside_bands_sampled", "rejections", "pulled_quotes")
        parts = [f"{k} {each_and_median(runs, med, ('runs', i, k))}" for k in keys]
        for kind in ("per_jump", "per_reference_move"):
            one = each_and_median(runs, med, ("runs", i, kind, "share_with_one_changed_reconcile"))
            parts.append(f"{kind}: one reconcile with changes {one}")
        print(f"{mode}: " + "; ".join(parts))
