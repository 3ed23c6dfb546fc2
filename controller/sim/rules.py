"""Per-order business rules that need only the order and its market: type, tick, size, expiry.

Pure: raises ``OrderRejected`` with production's message, touches no book or balance
(the engine checks funds and crossing afterwards). Also the edge rule for tick sizes. GTD expiration is normalised here:
only GTD orders expire, so every other type gets ``expiration = 0``.
"""

from __future__ import annotations

from .config import MICRO, PRICE_SCALE
from .events import ERR_EXPIRATION, ERR_POST_ONLY_TYPE, OrderRejected, OrderRequest
from .model import BUY, ORDER_TYPES, Market, fmt_price, fmt_size


def tick_error(order_id: str, price: int, m: Market) -> OrderRejected:
    return OrderRejected(
        f"order {order_id} is invalid. Price ({fmt_price(price)}) breaks minimum tick size rule: {m.tick_str}"
    )


def check_order_rules(req: OrderRequest, m: Market, now: float, gtd_threshold: float) -> None:
    if req.order_type not in ORDER_TYPES:
        raise OrderRejected("Invalid order payload")
    tick = m.tick
    if req.price % tick or not tick <= req.price <= PRICE_SCALE - tick:
        raise tick_error(req.id, req.price, m)
    market_order = req.order_type in ("FOK", "FAK")
    if req.post_only and market_order:
        raise OrderRejected(ERR_POST_ONLY_TYPE)
    if req.order_type == "GTD":
        if req.expiration <= now + gtd_threshold:
            raise OrderRejected(ERR_EXPIRATION)
    else:
        req.expiration = 0
    if not (market_order and req.side == BUY) and req.size < m.cfg.min_size:
        raise OrderRejected(
            f"order {req.id} is invalid. Size ({fmt_size(req.size)}) lower than the minimum: {fmt_size(m.cfg.min_size)}"
        )
    if not market_order and req.size % (MICRO // 100):
        decimals = len(fmt_size(req.size).split(".")[1])
        raise OrderRejected(
            f"order {req.id} is invalid. Size ({fmt_size(req.size)}) has {decimals} decimal places. "
            "Maximum lot size is 2"
        )


EDGE_HIGH, EDGE_LOW = 9600, 400  # price units: 0.96 and 0.04


def edge_tick(m: Market, fair: float | None = None) -> int | None:
    """The finer tick a market moves to near the edges (book, last trade or fair value beyond
    0.96 / below 0.04), as Polymarket does; None when it stays. One-way, like production."""
    if m.tick < 100:
        return None
    prices = [m.last_trade_yes, m.best_bid(), m.best_ask()]
    if fair is not None:
        prices = [round(fair * PRICE_SCALE)]
    if any(p is not None and (p > EDGE_HIGH or p < EDGE_LOW) for p in prices):
        return m.tick // 10
    return None
