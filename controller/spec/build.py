"""A validated manifest mapping → the typed ``MarketMakerSpec``, defaults filled in.

Exists so that the defaults live in one place next to the field names. May only be called
on a normalised document that passed the schema and the rules (``document`` does that):
it trusts every value and checks nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from controller.spec.types import (
    Band,
    Limits,
    MarketMakerSpec,
    MarketRef,
    OrderSettings,
    ReferencePrice,
    Schedule,
    Source,
)
from controller.spec.values import parse_timestamp


def build_spec(doc: dict[str, Any], source: Source) -> MarketMakerSpec:
    metadata, spec = doc["metadata"], doc["spec"]
    market = spec["market"]
    ref = spec.get("referencePrice", {})
    limits = spec.get("limits", {})
    orders = spec.get("orders", {})
    schedule = spec.get("schedule", {})
    ttl = orders.get("ttlSeconds")
    not_before, not_after = schedule.get("notBefore"), schedule.get("notAfter")
    return MarketMakerSpec(
        name=metadata["name"],
        labels=tuple(sorted(metadata.get("labels", {}).items())),
        market=MarketRef(
            condition_id=market["conditionId"],
            yes_token=market["tokens"]["yes"],
            no_token=market["tokens"]["no"],
            quote=market.get("quote", "yes"),
            tick_size=market.get("tickSize"),
            min_order_size=market.get("minOrderSize"),
        ),
        bands=tuple(
            Band(
                min_margin=b["minMargin"],
                avg_margin=b["avgMargin"],
                max_margin=b["maxMargin"],
                min_amount=b["minAmount"],
                avg_amount=b["avgAmount"],
                max_amount=b["maxAmount"],
            )
            for b in spec["bands"]
        ),
        reference_price=ReferencePrice(
            source=ref.get("source", "midpoint"), max_spread=ref.get("maxSpread", Decimal("0.1"))
        ),
        limits=Limits(max_position=limits.get("maxPosition"), max_collateral=limits.get("maxCollateral")),
        orders=OrderSettings(
            type=orders.get("type", "GTC"),
            ttl_seconds=None if ttl is None else int(ttl),
            post_only=orders.get("postOnly", True),
        ),
        schedule=Schedule(
            not_before=None if not_before is None else parse_timestamp(not_before),
            not_after=None if not_after is None else parse_timestamp(not_after),
        ),
        paused=spec.get("paused", False),
        ownership=spec.get("ownership", "exclusive"),
        source=source,
    )
