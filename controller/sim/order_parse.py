"""The edge for signed orders: JSON body -> typed ``OrderFields``, and signed amounts -> price/size.

Every field is checked for type and range once here (hostile input: a bad field is a
400 "Invalid order payload", never a crash further in). No signature checks (``auth``)
and no business rules (``rules``/``engine``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .auth import UINT256_MAX, OrderFields, is_address
from .config import PRICE_SCALE
from .events import OrderRejected
from .httpkit import INVALID_PAYLOAD, ApiError, decimal_string
from .model import BUY, ORDER_TYPES, SELL, Market


@dataclass(frozen=True)
class ParsedOrder:
    fields: OrderFields
    raw: dict[str, Any]  # the body's "order" object (checksummed maker, expiration string)
    order_type: str
    post_only: bool
    expiration: int


def uint(value: Any, *, allow_int: bool = False) -> int:
    """Decimal-string uint256 (or a JSON integer where production accepts one, e.g. salt)."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 78:
        n = int(value)
    else:
        raise ApiError(400, INVALID_PAYLOAD)
    if not 0 <= n <= UINT256_MAX:
        raise ApiError(400, INVALID_PAYLOAD)
    return n


def bytes32(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise ApiError(400, INVALID_PAYLOAD)
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ApiError(400, INVALID_PAYLOAD) from None


def _signature(sig: Any) -> bytes:
    try:
        if not isinstance(sig, str) or not sig.startswith("0x") or len(sig) > 4096:
            raise ValueError
        return bytes.fromhex(sig[2:])
    except ValueError:
        raise ApiError(400, INVALID_PAYLOAD) from None


def order_fields(o: dict[str, Any], *, signature: bool = True) -> OrderFields:
    maker, signer, side, sig_type = o.get("maker"), o.get("signer"), o.get("side"), o.get("signatureType")
    if not (is_address(maker) and is_address(signer)) or side not in (BUY, SELL):
        raise ApiError(400, INVALID_PAYLOAD)
    if isinstance(sig_type, bool) or sig_type not in (0, 1, 2, 3):
        raise ApiError(400, INVALID_PAYLOAD)
    assert isinstance(maker, str) and isinstance(signer, str)
    return OrderFields(
        salt=uint(o.get("salt"), allow_int=True),
        maker=maker.lower(),
        signer=signer.lower(),
        token_id=uint(o.get("tokenId")),
        maker_amount=uint(o.get("makerAmount")),
        taker_amount=uint(o.get("takerAmount")),
        side=0 if side == BUY else 1,
        signature_type=sig_type,
        timestamp=uint(o.get("timestamp")),
        metadata=bytes32(o.get("metadata")),
        builder=bytes32(o.get("builder")),
        signature=_signature(o.get("signature")) if signature else b"",
    )


def parse_order(item: Any, api_key: str) -> ParsedOrder:
    """Validate the JSON of one order placed with API key ``api_key``."""
    if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
        raise ApiError(400, INVALID_PAYLOAD)
    o = item["order"]
    if "timestamp" not in o and ("nonce" in o or "feeRateBps" in o or "taker" in o):
        raise ApiError(400, "order_version_mismatch")  # a V1-signed order
    order_type = item.get("orderType", "GTC")
    post_only = item.get("postOnly", False)
    if order_type not in ORDER_TYPES or not isinstance(post_only, bool):
        raise ApiError(400, INVALID_PAYLOAD)
    if item.get("owner") != api_key:
        raise ApiError(400, "the order owner has to be the owner of the API KEY")
    fields = order_fields(o)
    expiration = uint(o.get("expiration", "0"))
    if fields.maker_amount == 0 or fields.taker_amount == 0:
        raise ApiError(400, INVALID_PAYLOAD)
    return ParsedOrder(fields, o, order_type, post_only, expiration)


def order_price(f: OrderFields, order_type: str, m: Market, order_id: str) -> tuple[int, int]:
    """(token price units, size micro) implied by the signed amounts."""
    cash, shares = (f.maker_amount, f.taker_amount) if f.side == 0 else (f.taker_amount, f.maker_amount)
    if order_type in ("GTC", "GTD"):
        price, rest = divmod(cash * PRICE_SCALE, shares)
        if rest:
            raise OrderRejected(
                f"order {order_id} is invalid. Price ({decimal_string(cash, shares)}) breaks minimum "
                f"tick size rule: {m.tick_str}"
            )
        return price, shares
    exact = Fraction(cash * PRICE_SCALE, shares)
    # Market orders: the implied price is the worst acceptable one and need not sit on the
    # tick (the client rounds amounts, not prices). Snap within 1e-6, else round toward the
    # conservative side (down for buys, up for sells).
    ticks = exact / m.tick
    nearest = round(ticks)
    if abs(ticks - nearest) * m.tick < Fraction(1, 100):
        n = nearest
    else:
        n = math.floor(ticks) if f.side == 0 else math.ceil(ticks)
    return int(n) * m.tick, shares
