"""The floor of a requote, measured in the same run: one raw signed POST /order and DELETE /order.

Same emulator (the same child process, or this process with ``--sim-in-process``), same
moment as the latency run (the controller idle but running), from the controller's process,
through the venue's own lean HTTP path: sign one order with the exact signer, post it,
cancel it. Nothing of the controller's loop is involved, so this is the least a
tick-to-quote can cost here. It also checks that the exchange's order id is the signer's
digest. A separate funded account, so the controller never sees these orders.

``sign_hot_ms`` is the same signature made back to back, with no idle gap before it. The
gap between the floor's samples (as between the latency run's moves) lets the machine's
CPUs go idle; on a VM whose idle vCPUs halt, the work after a wake runs on cold caches and
costs several times as much, the floor's requests as much as the controller's path. The
ratio of ``sign_ms`` to ``sign_hot_ms`` shows that factor for one piece of pure CPU work.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from controller.ops.redact import Secret
from controller.venue.client import OrderRequest, Venue, VenueConfig
from controller.venue.signer import wire_json

from .markets import TICK, MarketIds
from .stats import summary_ms

FLOOR_KEY = "0x" + "59" * 32


def measure_floor(sim: Any, market: MarketIds, samples: int = 150, gap: float = 0.03) -> dict[str, Any]:
    url = sim.url
    venue = Venue(VenueConfig(private_key=Secret(FLOOR_KEY), clob_host=url, ws_host=url.replace("http://", "ws://")))
    venue.connect()
    try:
        sim.fund(venue.funder_address, collateral="1000")
        venue.get_market(market.condition_id)
        http = getattr(venue, "http", None)
        if http is None:  # a controller from before the lean path: no floor measured with it
            return {}
        owner = venue.api_creds.api_key
        sign_post: list[float] = []
        post_delete: list[float] = []
        sign: list[float] = []
        matches = 0
        for i in range(samples + 10):  # the first 10 warm up
            request = OrderRequest(market.yes, "BUY", Decimal("0.05"), Decimal("5"), tick_size=TICK, neg_risk=False)
            t0 = time.perf_counter()
            order = venue._sign(request)
            t1 = time.perf_counter()
            answer = http.call("POST", "/order", wire_json(order.to_wire(owner, "GTC", True)))
            t2 = time.perf_counter()
            http.call("DELETE", "/order", wire_json({"orderID": order.order_id}))
            t3 = time.perf_counter()
            if i >= 10:
                sign.append(t1 - t0)
                sign_post.append(t2 - t0)
                post_delete.append(t3 - t0)
                matches += isinstance(answer, dict) and str(answer.get("orderID", "")).lower() == order.order_id
            time.sleep(gap)  # the standard tier: 40 orders/s per signer
        sign_hot = _sign_back_to_back(venue, market, samples)
    finally:
        venue.disconnect()
    return {
        "sign_ms": summary_ms(sign),
        "sign_hot_ms": summary_ms(sign_hot),
        "sign_post_ms": summary_ms(sign_post),
        "sign_post_delete_ms": summary_ms(post_delete),
        "order_id_is_signed_digest": f"{matches}/{samples}",
    }


def _sign_back_to_back(venue: Venue, market: MarketIds, samples: int) -> list[float]:
    """The floor's signature, ``samples`` times in a row after as many to warm up (nothing sent)."""
    request = OrderRequest(market.yes, "BUY", Decimal("0.05"), Decimal("5"), tick_size=TICK, neg_risk=False)
    times: list[float] = []
    for i in range(2 * samples):
        t0 = time.perf_counter()
        venue._sign(request)
        if i >= samples:
            times.append(time.perf_counter() - t0)
    return times
