"""JSON shapes of the REST responses and WebSocket messages, as production sends them.

Prices and sizes are decimal strings; books list the best level LAST (bids ascending,
asks descending); timestamps are ms strings on WS events and seconds elsewhere
(protocol notes §2, §4).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .config import COLLATERAL, PRICE_SCALE
from .events import OrderEvent
from .fees import fee_rate_bps
from .model import BID, Market, Order, Trade, fmt_price, fmt_size


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def ms(ts: float) -> str:
    return str(int(ts * 1000))


def _levels(levels: list[tuple[int, int]]) -> list[dict[str, str]]:
    return [{"price": fmt_price(p), "size": fmt_size(s)} for p, s in levels]


BookState = tuple[str, str, list[tuple[int, int]], list[tuple[int, int]], int, str, bool, "int | None", tuple[Any, Any]]


def book_state(m: Market, token_id: str) -> BookState:
    """What a message says about one token's book, copied now: (market, token, bids, asks,
    min size, tick, neg risk, last trade, top). A message built later from it says what
    the book was at this moment, whatever the engine has done since."""
    bids, asks = m.levels_for(token_id)
    return (
        m.condition_id,
        token_id,
        bids,
        asks,
        m.cfg.min_size,
        m.tick_str,
        m.cfg.neg_risk,
        m.last_trade(token_id),
        m.top(token_id),
    )


def book_summary(m: Market, token_id: str, ts: float) -> dict[str, Any]:
    """REST OrderBookSummary with the hash the client's generate_orderbook_summary_hash computes."""
    return summary_of(book_state(m, token_id), ts)


def summary_of(state: BookState, ts: float) -> dict[str, Any]:
    cond, token_id, bids, asks, min_size, tick_str, neg_risk, last, _ = state
    summary = {
        "market": cond,
        "asset_id": token_id,
        "timestamp": ms(ts),
        "hash": "",
        "bids": _levels(bids),
        "asks": _levels(asks),
        "min_order_size": fmt_size(min_size),
        "tick_size": tick_str,
        "neg_risk": neg_risk,
        "last_trade_price": "" if last is None else fmt_price(last),
    }
    summary["hash"] = hashlib.sha1(dumps(summary).encode()).hexdigest()
    return summary


def ws_book(m: Market, token_id: str, ts: float) -> dict[str, Any]:
    s = book_summary(m, token_id, ts)
    return {
        "event_type": "book",
        "asset_id": token_id,
        "market": m.condition_id,
        "bids": s["bids"],
        "asks": s["asks"],
        "timestamp": s["timestamp"],
        "hash": s["hash"],
        "tick_size": s["tick_size"],
        "last_trade_price": s["last_trade_price"],
    }


def _top_strings(top: tuple[int | None, int | None]) -> tuple[str, str]:
    bb, ba = top
    return ("0" if bb is None else fmt_price(bb)), ("1" if ba is None else fmt_price(ba))


def price_change_of(
    cond: str, yes: str, states: list[BookState], changes: dict[tuple[int, int], int], ts: float
) -> dict[str, Any]:
    """One ``price_change`` for the market from the books' states taken when the change
    happened (``book_state``); a YES level at p appears on the NO side at 1-p (mirror view)."""
    entries: list[dict[str, str]] = []
    for state in states:
        token_id = state[1]
        is_yes = token_id == yes
        book_hash = summary_of(state, ts)["hash"]
        best_bid, best_ask = _top_strings(state[8])
        for (side, p), size in changes.items():
            if is_yes:
                price, book_side = p, ("BUY" if side == BID else "SELL")
            else:
                price, book_side = PRICE_SCALE - p, ("SELL" if side == BID else "BUY")
            entries.append(
                {
                    "asset_id": token_id,
                    "price": fmt_price(price),
                    "size": fmt_size(size),
                    "side": book_side,
                    "hash": book_hash,
                    "best_bid": best_bid,
                    "best_ask": best_ask,
                }
            )
    return {"event_type": "price_change", "market": cond, "timestamp": ms(ts), "price_changes": entries}


def best_bid_ask(m: Market, token_id: str, ts: float) -> dict[str, Any]:
    bb, ba = m.top(token_id)
    spread = "" if bb is None or ba is None else fmt_price(ba - bb)
    return {
        "event_type": "best_bid_ask",
        "market": m.condition_id,
        "asset_id": token_id,
        "best_bid": "" if bb is None else fmt_price(bb),
        "best_ask": "" if ba is None else fmt_price(ba),
        "spread": spread,
        "timestamp": ms(ts),
    }


def last_trade_price(m: Market, t: Trade, token_id: str) -> dict[str, Any]:
    """For the traded token as the taker saw it; for the complement the mirror price and side."""
    if token_id == t.asset_id:
        price, side = t.price, t.side
    else:
        price, side = PRICE_SCALE - t.price, ("SELL" if t.side == "BUY" else "BUY")
    return {
        "event_type": "last_trade_price",
        "asset_id": token_id,
        "market": m.condition_id,
        "price": fmt_price(price),
        "size": fmt_size(t.size),
        "side": side,
        "fee_rate_bps": fee_rate_bps(m.cfg.fees),
        "timestamp": ms(t.match_time),
        "transaction_hash": t.tx_hash,
    }


def tick_size_change(m: Market, token_id: str, old: int, new: int, ts: float) -> dict[str, Any]:
    from .config import TICK_STRINGS

    return {
        "event_type": "tick_size_change",
        "asset_id": token_id,
        "market": m.condition_id,
        "old_tick_size": TICK_STRINGS[old],
        "new_tick_size": TICK_STRINGS[new],
        "timestamp": ms(ts),
    }


def market_resolved(m: Market, winner_token: str, ts: float) -> dict[str, Any]:
    outcome = m.cfg.outcomes[0 if winner_token == m.cfg.yes else 1]
    return {
        "event_type": "market_resolved",
        "id": m.condition_id,
        "market": m.condition_id,
        "assets_ids": [m.cfg.yes, m.cfg.no],
        "winning_asset_id": winner_token,
        "winning_outcome": outcome,
        "timestamp": ms(ts),
    }


# ---------------------------------------------------------------- orders and trades


def open_order(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "status": o.status,
        "owner": o.api_key,
        "maker_address": o.maker_checksum,
        "market": o.market.condition_id,
        "asset_id": o.token_id,
        "side": o.side,
        "original_size": fmt_size(o.size),
        "size_matched": fmt_size(o.matched),
        "price": fmt_price(o.price),
        "outcome": o.outcome,
        "expiration": str(o.expiration),
        "order_type": o.order_type,
        "associate_trades": list(o.trade_ids),
        "created_at": int(o.created_at),
    }


def user_order(evt: OrderEvent, trade_ids: list[str] | None = None) -> dict[str, Any]:
    """``trade_ids``: the order's trade ids when the event happened (default: the order's now)."""
    o = evt.order
    return {
        "event_type": "order",
        "type": evt.kind,
        "id": o.id,
        "owner": o.api_key,
        "order_owner": o.api_key,
        "market": o.market.condition_id,
        "asset_id": o.token_id,
        "side": o.side,
        "price": fmt_price(o.price),
        "original_size": fmt_size(o.size),
        "size_matched": fmt_size(evt.matched),
        "outcome": o.outcome,
        "associate_trades": list(o.trade_ids if trade_ids is None else trade_ids) or None,
        "created_at": str(int(o.created_at)),
        "expiration": str(o.expiration),
        "order_type": o.order_type,
        "status": evt.status,
        "maker_address": o.maker_checksum,
        "timestamp": ms(evt.ts),
    }


def _maker_orders(t: Trade) -> list[dict[str, Any]]:
    return [
        {
            "order_id": f.order.id,
            "owner": f.order.api_key,
            "maker_address": f.order.maker_checksum,
            "matched_amount": fmt_size(f.size),
            "price": fmt_price(f.price),
            "fee_rate_bps": "0",
            "asset_id": f.order.token_id,
            "outcome": f.order.outcome,
            "side": f.order.side,
        }
        for f in t.makers
    ]


def _trade_common(t: Trade, as_maker: bool) -> dict[str, Any]:
    owner_order = t.makers[0].order if as_maker else t.taker
    return {
        "id": t.id,
        "taker_order_id": t.taker.id,
        "market": t.market.condition_id,
        "asset_id": t.asset_id,
        "side": t.side,
        "size": fmt_size(t.size),
        "fee_rate_bps": fee_rate_bps(t.market.cfg.fees),  # the taker's rate; makers pay none
        "price": fmt_price(t.price),
        "match_time": str(int(t.match_time)),
        "last_update": str(int(t.match_time)),
        "outcome": t.taker.outcome,
        "bucket_index": 0,
        "owner": owner_order.api_key,
        "maker_address": owner_order.maker_checksum,
        "transaction_hash": t.tx_hash,
        "trader_side": "MAKER" if as_maker else "TAKER",
        "maker_orders": _maker_orders(t),
    }


def rest_trade(t: Trade, as_maker: bool) -> dict[str, Any]:
    d = _trade_common(t, as_maker)
    d["status"] = "TRADE_STATUS_" + t.status  # REST prefixes the status; WS does not
    d["err_msg"] = None
    return d


def user_trade(t: Trade, as_maker: bool, status: str, ts: float) -> dict[str, Any]:
    d = _trade_common(t, as_maker)
    d = {"event_type": "trade", "type": "TRADE", **d}
    d["status"] = status
    d["trade_owner"] = d["owner"]
    d["timestamp"] = ms(ts)
    if status == "MATCHED":
        d["transaction_hash"] = ""  # not mined yet
    return d


def order_response(
    order_id: str, status: str, making: str, taking: str, trade_ids: list[str], hashes: list[str]
) -> dict[str, Any]:
    return {
        "success": True,
        "errorMsg": "",
        "orderID": order_id,
        "status": status,
        "makingAmount": making,
        "takingAmount": taking,
        "transactionsHashes": hashes,
        "tradeIDs": trade_ids,
    }


def order_error(message: str, order_id: str = "") -> dict[str, Any]:
    return {
        "success": False,
        "errorMsg": message,
        "orderID": order_id,
        "status": "",
        "makingAmount": "",
        "takingAmount": "",
    }


def clob_market(m: Market) -> dict[str, Any]:
    """GET /clob-markets/<condition>: the compact market info the client caches."""
    tick = float(m.tick_str)
    out: dict[str, Any] = {
        "c": m.condition_id,
        "t": [{"t": m.cfg.yes, "o": m.cfg.outcomes[0]}, {"t": m.cfg.no, "o": m.cfg.outcomes[1]}],
        "mts": tick,
        "mos": float(fmt_size(m.cfg.min_size)),
        "fd": {"r": 0, "e": 0, "to": True},
        "mbf": 0,
        "tbf": 0,
        "r": None,
        "ao": m.status == "open",
        "rfqe": False,
        "itode": False,
    }
    fees = m.cfg.fees
    if fees is not None:
        out["fd"] = {"r": float(fees.rate), "e": fees.exponent, "to": True}
        out["tbf"] = int(fee_rate_bps(fees))
    programme = m.cfg.rewards
    if programme is not None:
        out["r"] = {
            "mi": float(programme.min_size),
            "ma": float(programme.max_spread),
            "e": True,
            "smoa": programme.min_age == 0,
            "moas": int(programme.min_age),
        }
    if m.cfg.neg_risk:
        out["nr"] = True
    return out


def _gamma_rewards(m: Market) -> dict[str, Any]:
    p = m.cfg.rewards
    if p is None:
        return {"min_size": 0, "max_spread": 0, "rates": None}
    rates = [{"asset_address": COLLATERAL, "rewards_daily_rate": float(p.daily_rate)}]
    return {"min_size": float(p.min_size), "max_spread": float(p.max_spread), "rates": rates}


def gamma_market(m: Market) -> dict[str, Any]:
    """GET /markets/<condition>: the long-form CLOB market object."""

    def token(tok: str, outcome: str) -> dict[str, Any]:
        top = m.top(tok)
        mid = (top[0] + top[1]) / 2 / PRICE_SCALE if None not in top else 0  # type: ignore[operator]
        return {
            "token_id": tok,
            "outcome": outcome,
            "price": mid,
            "winner": m.winner is not None and (m.winner == "yes") == (tok == m.cfg.yes),
        }

    out: dict[str, Any] = {
        "condition_id": m.condition_id,
        "question_id": "0x" + hashlib.sha256(m.condition_id.encode()).hexdigest(),
        "question": m.cfg.question,
        "market_slug": m.cfg.name,
        "tokens": [token(m.cfg.yes, m.cfg.outcomes[0]), token(m.cfg.no, m.cfg.outcomes[1])],
        "minimum_tick_size": float(m.tick_str),
        "minimum_order_size": float(fmt_size(m.cfg.min_size)),
        "neg_risk": m.cfg.neg_risk,
        "active": m.status == "open",
        "closed": m.status != "open",
        "archived": False,
        "accepting_orders": m.status == "open",
        "enable_order_book": True,
        "maker_base_fee": 0,
        "taker_base_fee": int(fee_rate_bps(m.cfg.fees)),
        "fees_enabled": m.cfg.fees is not None,
        "rewards": _gamma_rewards(m),
        "end_date_iso": m.cfg.end_date,
        # Protocol V2 markets (Exchange V3) trade position ids; Gamma marks them version "v2".
        "version": "v2" if m.cfg.exchange == "v3" else "v1",
    }
    if m.cfg.exchange == "v3":
        out["positionIds"] = [m.cfg.yes, m.cfg.no]
    return out
