"""A validated manifest mapping → the typed ``MarketMakerSpec``, defaults filled in.

Exists so that the defaults live in one place next to the field names. May only be called
on a normalised document that passed the schema and the rules (``document`` does that):
it trusts every value and checks nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from controller.spec.types import (
    Band,
    Limits,
    MarketMakerSpec,
    MarketRef,
    MaxLoss,
    OrderSettings,
    PullOnMove,
    ReferencePrice,
    Rewards,
    Risk,
    Schedule,
    Skew,
    Source,
)
from controller.spec.values import duration_seconds, parse_timestamp


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
        risk=_build_risk(spec.get("risk", {})),
        rewards=Rewards(mode=spec.get("rewards", {}).get("mode", "ignore")),
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


def _build_risk(risk: dict[str, Any]) -> Risk:
    skew, max_loss, pull = risk.get("skew"), risk.get("maxLoss"), risk.get("pullOnMove")
    return Risk(
        skew=None if skew is None else Skew(max_ticks=int(skew["maxTicks"])),
        max_loss=None if max_loss is None else MaxLoss(amount=max_loss["amount"], window=_duration(max_loss["window"])),
        pull_on_move=None
        if pull is None
        else PullOnMove(move=pull["move"], within=_duration(pull["within"]), pause_for=_duration(pull["pauseFor"])),
        stop_before=_optional_duration(risk.get("stopBefore")),
        reduce_only_before=_optional_duration(risk.get("reduceOnlyBefore")),
    )


def _duration(text: str) -> timedelta:
    seconds = duration_seconds(text)
    if seconds is None:  # not reached: the schema matched it
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=seconds)


def _optional_duration(text: str | None) -> timedelta | None:
    return None if text is None else _duration(text)
