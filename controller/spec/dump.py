"""Typed spec → manifest mapping → YAML text, exactly: the inverse of loading.

Exists for ``bandctl import`` and for round-trip tests: ``validate_document(spec_to_manifest(s))``
gives back a spec equal to ``s``, and so does parsing ``dump_manifests([spec_to_manifest(s)])``.
May not validate (its input is already a valid spec) or read files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import yaml

from controller.spec.types import Band, MarketMakerSpec, MarketRef, Risk

API_VERSION = "bandctl/v1"
KIND = "MarketMaker"


def spec_to_manifest(spec: MarketMakerSpec) -> dict[str, Any]:
    """The manifest mapping for ``spec`` (decimals as ``Decimal``, times as RFC 3339 strings)."""
    metadata: dict[str, Any] = {"name": spec.name}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    body: dict[str, Any] = {
        "market": _market_to_manifest(spec.market),
        "bands": [_band_to_manifest(b) for b in spec.bands],
        "referencePrice": {
            "source": spec.reference_price.source,
            "maxSpread": spec.reference_price.max_spread,
        },
    }
    limits = _drop_none({"maxPosition": spec.limits.max_position, "maxCollateral": spec.limits.max_collateral})
    if limits:
        body["limits"] = limits
    risk = _risk_to_manifest(spec.risk)
    if risk:
        body["risk"] = risk
    body["rewards"] = {"mode": spec.rewards.mode}
    body["orders"] = _drop_none(
        {"type": spec.orders.type, "ttlSeconds": spec.orders.ttl_seconds, "postOnly": spec.orders.post_only}
    )
    schedule = _drop_none(
        {
            "notBefore": _format_timestamp(spec.schedule.not_before),
            "notAfter": _format_timestamp(spec.schedule.not_after),
        }
    )
    if schedule:
        body["schedule"] = schedule
    body["paused"] = spec.paused
    body["ownership"] = spec.ownership
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}


def dump_manifests(manifests: Iterable[Mapping[str, Any]]) -> str:
    """YAML text for manifest mappings, one document each, in a stable, readable form.

    Decimals are written as plain YAML numbers when that reads back exactly, else quoted.
    """
    return yaml.dump_all(
        [_plain(m) for m in manifests],
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,  # PyYAML mis-quotes raw NEL (\x85) and the like; escapes are exact
        explicit_start=False,
        width=120,
    )


def _market_to_manifest(market: MarketRef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conditionId": market.condition_id,
        "tokens": {"yes": market.yes_token, "no": market.no_token},
        "quote": market.quote,
    }
    return out | _drop_none({"tickSize": market.tick_size, "minOrderSize": market.min_order_size})


def _band_to_manifest(band: Band) -> dict[str, Decimal]:
    return {
        "minMargin": band.min_margin,
        "avgMargin": band.avg_margin,
        "maxMargin": band.max_margin,
        "minAmount": band.min_amount,
        "avgAmount": band.avg_amount,
        "maxAmount": band.max_amount,
    }


def _risk_to_manifest(risk: Risk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if risk.skew is not None:
        out["skew"] = {"maxTicks": risk.skew.max_ticks}
    if risk.max_loss is not None:
        out["maxLoss"] = {"amount": risk.max_loss.amount, "window": format_duration(risk.max_loss.window)}
    if risk.pull_on_move is not None:
        pull = risk.pull_on_move
        out["pullOnMove"] = {
            "move": pull.move,
            "within": format_duration(pull.within),
            "pauseFor": format_duration(pull.pause_for),
        }
    if risk.stop_before is not None:
        out["stopBefore"] = format_duration(risk.stop_before)
    if risk.reduce_only_before is not None:
        out["reduceOnlyBefore"] = format_duration(risk.reduce_only_before)
    return out


def format_duration(length: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``"1h30m"``, the largest units first (whole seconds only)."""
    seconds = length // timedelta(seconds=1)
    if seconds <= 0 or timedelta(seconds=seconds) != length:
        raise ValueError(f"not a positive whole number of seconds: {length}")
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def _format_timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class _ManifestDumper(yaml.SafeDumper):
    """SafeDumper that writes Decimal as a YAML number when that reads back exactly."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        super().increase_indent(flow, False)


def decimal_text(value: Decimal) -> str:
    """Plain positional text for ``value``, trailing zeros dropped: ``1E+3`` → ``1000``."""
    # format(..., "f") is exact; Decimal.normalize() would round to the context's 28 digits.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = decimal_text(value)
    if "." not in text:
        return dumper.represent_scalar("tag:yaml.org,2002:int", text)
    if Decimal(repr(float(text))) == value:
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)
    return dumper.represent_str(text)


_ManifestDumper.add_representer(Decimal, _represent_decimal)


def _plain(value: Any) -> Any:
    """Copy with mappings as plain dicts (the dumper knows no other Mapping)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
