"""Throughput of the emulator: order-post and cancel round trips, batch posts, WS fan-out.

Runs `bandctl sim` in a subprocess (so client and server do not share a GIL), pre-signs
orders with the real py-clob-client-v2 and pre-computes their L2 headers, then times
only the HTTP exchange over a keep-alive connection (httpx, as the client uses).

    python bench/bench_sim.py [--orders 2000] [--subscribers 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import websocket
import yaml
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

ROOT = Path(__file__).resolve().parents[1]
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
COND = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
YES = "3908542853943523934563267656964073640771816313906088687248131241679293562125"
NO = "2922792765173274317840968115438063166138049552511689109087648014870300294313"


def bench_config() -> dict[str, Any]:
    return {
        "flow": {"enabled": False},
        "rateLimits": {"enabled": False},
        "markets": [
            {
                "conditionId": COND,
                "tokens": {"yes": YES, "no": NO},
                "tickSize": "0.01",
                "minOrderSize": 5,
                "fairValue": 0.5,
            }
        ],
        "accounts": [{"address": ADDRESS, "collateral": 10_000_000}],
    }


def start_server(config_path: str, seed: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """``bandctl sim`` in a subprocess (its own GIL); returns it and its base URL."""
    seed_args = [] if seed is None else ["--seed", str(seed)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "sim", "--config", config_path, *seed_args, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("bandctl sim listening on "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1]


Prepared = tuple[dict[str, str], bytes]  # L2 headers and the exact body they sign


def l2_request(client: ClobClient, method: str, path: str, payload: Any) -> Prepared:
    """Headers and body of one authenticated request, computed ahead of the timed loop."""
    body = json.dumps(payload, separators=(",", ":"))
    headers = create_level_2_headers(client.signer, client.creds, RequestArgs(method, path, serialized_body=body))
    return {**headers, "Content-Type": "application/json"}, body.encode()


def resting_buy(client: ClobClient, i: int) -> dict[str, Any]:
    """The i-th of a set of resting BUY orders (prices 0.01-0.40, never crossing), signed."""
    opts = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False)
    order = client.create_order(OrderArgsV2(token_id=YES, price=0.01 + (i % 40) / 100, size=5, side="BUY"), opts)
    return order_to_json_v2(order, client.creds.api_key, "GTC")


def presign(client: ClobClient, n: int, offset: int = 0) -> list[Prepared]:
    return [l2_request(client, "POST", "/order", resting_buy(client, i + offset)) for i in range(n)]


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] * 1000  # noqa: E731
    return {
        "p50_ms": round(pick(0.50), 3),
        "p90_ms": round(pick(0.90), 3),
        "p99_ms": round(pick(0.99), 3),
        "mean_ms": round(statistics.fmean(s) * 1000, 3),
    }


def timed(
    http: httpx.Client, method: str, url: str, prepared: list[Prepared], check: Any
) -> tuple[list[float], float, list[Any]]:
    """Send the prepared requests one after another; (round trips, total seconds, JSON answers).

    ``check(response)`` must hold for each answer, else the benchmark stops."""
    times, answers = [], []
    t_all = time.perf_counter()
    for headers, body in prepared:
        t0 = time.perf_counter()
        r = http.request(method, url, headers=headers, content=body)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200 or not check(r.json()):
            raise SystemExit(f"{method} {url} failed: {r.status_code} {r.text}")
        answers.append(r.json())
    return times, time.perf_counter() - t_all, answers


def bench_posts(http: httpx.Client, url: str, signed: list[Prepared]) -> tuple[dict, list[str]]:
    times, elapsed, answers = timed(http, "POST", url + "/order", signed, lambda a: a.get("success"))
    stats = {"n": len(times), **percentiles(times), "per_second": round(len(times) / elapsed, 1)}
    return stats, [a["orderID"] for a in answers]


def bench_cancels(http: httpx.Client, url: str, client: ClobClient, ids: list[str]) -> dict:
    prepared = [l2_request(client, "DELETE", "/order", {"orderID": oid}) for oid in ids]
    times, elapsed, _ = timed(http, "DELETE", url + "/order", prepared, lambda a: len(a["canceled"]) == 1)
    return {"n": len(times), **percentiles(times), "per_second": round(len(times) / elapsed, 1)}


def bench_batches(http: httpx.Client, url: str, client: ClobClient, batches: int) -> dict:
    prepared = [
        l2_request(client, "POST", "/orders", [resting_buy(client, b * 15 + i) for i in range(15)])
        for b in range(batches)
    ]
    times, elapsed, _ = timed(http, "POST", url + "/orders", prepared, lambda a: all(x["success"] for x in a))
    return {"batches": batches, **percentiles(times), "orders_per_second": round(15 * batches / elapsed, 1)}


def bench_fanout(http: httpx.Client, url: str, signed: list[Prepared], subscribers: int) -> dict:
    """K market-channel subscribers; each post produces one price_change to each of them."""
    ws_url = url.replace("http://", "ws://") + "/ws/market"
    counts = [0] * subscribers
    done = threading.Event()
    expected = len(signed)
    conns = []
    for _ in range(subscribers):
        ws = websocket.create_connection(ws_url, timeout=30)
        ws.send(json.dumps({"assets_ids": [YES, NO], "type": "market"}))
        ws.recv()  # the book dump
        conns.append(ws)

    def reader(k: int, ws: websocket.WebSocket) -> None:
        while counts[k] < expected:
            msg = ws.recv()
            if '"price_change"' in msg:
                counts[k] += 1
        if all(c >= expected for c in counts):
            done.set()

    threads = [threading.Thread(target=reader, args=(k, ws), daemon=True) for k, ws in enumerate(conns)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    for headers, body in signed:
        http.post(url + "/order", headers=headers, content=body)
    posted = time.perf_counter() - t0
    done.wait(timeout=120)
    elapsed = time.perf_counter() - t0
    for ws in conns:
        ws.close()
    delivered = sum(counts)
    return {
        "subscribers": subscribers,
        "events": expected,
        "delivered": delivered,
        "messages_per_second": round(delivered / elapsed, 1),
        "post_phase_s": round(posted, 3),
        "all_delivered_s": round(elapsed, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--fanout-events", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(bench_config(), f)
    proc, url = start_server(f.name)
    try:
        client = ClobClient(url, chain_id=137, key=KEY)
        client.set_api_creds(client.create_or_derive_api_key())
        http = httpx.Client(timeout=30)
        warm = presign(client, 200, offset=7)
        bench_posts(http, url, warm)  # warm-up: connection, caches, allocator
        signed = presign(client, args.orders)
        posts, ids = bench_posts(http, url, signed)
        cancels = bench_cancels(http, url, client, ids)
        batches = bench_batches(http, url, client, args.batches)
        client.cancel_all()
        fanout = bench_fanout(http, url, presign(client, args.fanout_events, offset=3), args.subscribers)
        result = {
            "order_post": posts,
            "cancel": cancels,
            "batch_post_15": batches,
            "ws_fanout": fanout,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.unlink(f.name)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    p, c, b, w = posts, cancels, batches, fanout
    print(
        f"order post   n={p['n']}  p50={p['p50_ms']} ms  p90={p['p90_ms']} ms  p99={p['p99_ms']} ms  "
        f"{p['per_second']}/s (sequential, one connection)"
    )
    print(
        f"cancel       n={c['n']}  p50={c['p50_ms']} ms  p90={c['p90_ms']} ms  p99={c['p99_ms']} ms  "
        f"{c['per_second']}/s"
    )
    print(
        f"batch of 15  n={b['batches']}  p50={b['p50_ms']} ms  p99={b['p99_ms']} ms  {b['orders_per_second']} orders/s"
    )
    print(
        f"WS fan-out   {w['subscribers']} subscribers x {w['events']} price_change = {w['delivered']} delivered "
        f"in {w['all_delivered_s']} s -> {w['messages_per_second']} msg/s"
    )


if __name__ == "__main__":
    main()
