"""Order build + sign time per order: bandctl's signer against py-clob-client-v2 1.2.1, same run.

    python bench/bench_signer.py [--orders 500] [--repeats 7] [--json]

Every variant signs the same seeded list of limit orders (random tick sizes, prices on the
grid, two-decimal sizes, BUY and SELL, CTF and neg-risk), with no network:

* ``stock builder``: ``OrderBuilder.build_order`` (amounts, EIP-712 typed data, eth-account signature).
* ``stock create_order``: ``ClobClient.create_order`` with its tick-size, neg-risk and version
  caches primed (what the venue calls), its ``_get`` replaced by a function that fails the run.
* ``stock create_order + order hash``: plus ``ExchangeOrderBuilderV2.build_order_hash``, which
  the venue also computes per order to know the order id before the answer arrives.
* ``bandctl build_order``: ``OrderSigner.build_order`` (amounts, order id and signature).
* ``bandctl build_order + body``: plus the exact ``POST /order`` JSON text.
* ``bandctl, deposit wallet``: the same with signature type 3 (one more keccak and signature wrap).

Each repeat times the whole list once per variant, the variants taking turns; reported per
order: the median over repeats of the process CPU time (``time.process_time``; min and max
too) and of the wall time (``time.perf_counter``), and the ratios of the stock medians to ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2, PartialCreateOrderOptions
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2

from controller.venue.signer import Exchange, OrderSigner, SignatureType

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TICKS = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
CHAIN = 137


def make_orders(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    orders = []
    for _ in range(count):
        tick = rng.choice(TICKS)
        t = Decimal(tick)
        orders.append(
            {
                "token": str(rng.getrandbits(255)),
                "tick": tick,
                "price": t * rng.randint(1, int(1 / t) - 1),
                "size": Decimal(rng.randint(500, 100_000)) / 100,
                "side": rng.choice(("BUY", "SELL")),
                "neg_risk": rng.random() < 0.3,
            }
        )
    return orders


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the benchmark must not reach the network")


def stock_client(orders: list[dict[str, Any]]) -> ClobClient:
    client = ClobClient("http://127.0.0.1:9", chain_id=CHAIN, key=KEY)
    client._get = _no_network
    client._post = _no_network
    client._ClobClient__cached_version = 2
    for order in orders:
        client._ClobClient__tick_sizes[order["token"]] = order["tick"]
        client._ClobClient__neg_risk[order["token"]] = order["neg_risk"]
    return client


def variants(orders: list[dict[str, Any]]) -> dict[str, Callable[[], None]]:
    client = stock_client(orders)
    contracts = get_contract_config(CHAIN)
    hashers = {
        neg: ExchangeOrderBuilderV2(
            contracts.neg_risk_exchange_v2 if neg else contracts.exchange_v2, CHAIN, client.signer
        )
        for neg in (False, True)
    }
    stock_args = [
        (
            OrderArgsV2(token_id=o["token"], price=float(o["price"]), size=float(o["size"]), side=o["side"]),
            CreateOrderOptions(tick_size=o["tick"], neg_risk=o["neg_risk"]),
            PartialCreateOrderOptions(tick_size=o["tick"], neg_risk=o["neg_risk"]),
            o["neg_risk"],
        )
        for o in orders
    ]
    eoa = OrderSigner(KEY, CHAIN)
    wallet = OrderSigner(KEY, CHAIN, SignatureType.POLY_1271, WALLET)
    ours_args = [
        (o["token"], o["side"], o["price"], o["size"], Decimal(o["tick"]), Exchange.for_market(o["neg_risk"]))
        for o in orders
    ]

    def stock_builder() -> None:
        for args, options, _, _ in stock_args:
            client.builder.build_order(args, options)

    def stock_create_order() -> None:
        for args, _, partial, _ in stock_args:
            client.create_order(args, partial)

    def stock_create_order_and_hash() -> None:
        for args, _, partial, neg in stock_args:
            signed = client.create_order(args, partial)
            hasher = hashers[neg]
            hasher.build_order_hash(hasher.build_order_typed_data(signed))

    def ours(signer: OrderSigner, with_body: bool) -> Callable[[], None]:
        def run() -> None:
            for token, side, price, size, tick, exchange in ours_args:
                order = signer.build_order(token, side, price, size, tick, exchange=exchange)
                if with_body:
                    order.body("00000000-0000-0000-0000-000000000000", "GTC", post_only=True)

        return run

    return {
        "stock builder (OrderBuilder.build_order)": stock_builder,
        "stock create_order": stock_create_order,
        "stock create_order + order hash (the venue today)": stock_create_order_and_hash,
        "bandctl build_order": ours(eoa, False),
        "bandctl build_order + POST body": ours(eoa, True),
        "bandctl build_order, deposit wallet (type 3)": ours(wallet, False),
    }


def measure(runs: dict[str, Callable[[], None]], count: int, repeats: int) -> dict[str, dict[str, float]]:
    """Per-order times in µs. Variants take turns within each repeat, so a burst of load from
    other processes hits all of them alike; CPU time (this process) is less sensitive to such
    load than wall time and is the headline figure."""
    for run in runs.values():
        run()  # warm-up: caches, imports, first-call paths
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            run()
            cpu[name].append((time.process_time() - cpu_start) / count * 1e6)
            wall[name].append((time.perf_counter() - wall_start) / count * 1e6)
    return {
        name: {
            "cpu_median_us": statistics.median(cpu[name]),
            "cpu_min_us": min(cpu[name]),
            "cpu_max_us": max(cpu[name]),
            "wall_median_us": statistics.median(wall[name]),
        }
        for name in runs
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500, help="orders per repeat (default 500)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per variant (default 7)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    orders = make_orders(args.orders, args.seed)
    results = measure(variants(orders), args.orders, args.repeats)

    def ratio(stock: str, ours: str, key: str = "cpu_median_us") -> float:
        return results[stock][key] / results[ours][key]

    ratios = {
        "stock builder / bandctl": ratio("stock builder (OrderBuilder.build_order)", "bandctl build_order"),
        "stock create_order / bandctl": ratio("stock create_order", "bandctl build_order"),
        "venue today / bandctl + body": ratio(
            "stock create_order + order hash (the venue today)", "bandctl build_order + POST body"
        ),
        "stock builder / bandctl (wall)": ratio(
            "stock builder (OrderBuilder.build_order)", "bandctl build_order", "wall_median_us"
        ),
    }
    report = {
        "orders": args.orders,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "load_average": os.getloadavg()[0],
        "results": results,
        "ratios": ratios,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{args.orders} orders x {args.repeats} repeats, Python {report['python']}, load {report['load_average']:.2f}"
    )
    print(f"{'variant':<52} {'CPU µs/order':>13} {'min':>8} {'max':>8} {'wall µs/order':>14}")
    for name, r in results.items():
        print(
            f"{name:<52} {r['cpu_median_us']:>13.1f} {r['cpu_min_us']:>8.1f} {r['cpu_max_us']:>8.1f}"
            f" {r['wall_median_us']:>14.1f}"
        )
    for name, value in ratios.items():
        print(f"{name}: {value:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
