"""``spec.risk``: schema, one-line validation, the typed ``Risk`` and the way back to YAML."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from controller.schemas import load_schema
from controller.spec.dump import format_duration
from controller.spec.manifest import dump_manifests, parse_manifest_text, spec_to_manifest, validate_document
from controller.spec.types import MaxLoss, PullOnMove, Risk, Skew

CID = "0x" + "ab" * 32
BASE = (
    "apiVersion: bandctl/v1\nkind: MarketMaker\nmetadata: {name: demo}\nspec:\n"
    f"  market: {{conditionId: '{CID}', tokens: {{yes: '1', no: '2'}}}}\n"
    "  bands:\n"
    "    - {minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 10, avgAmount: 20, maxAmount: 30}\n"
    "  limits: {maxPosition: 500}\n"
)


def with_risk(risk: str, base: str = BASE) -> str:
    return base + f"  risk: {risk}\n"


def errors(text: str) -> list[str]:
    return [str(e) for e in parse_manifest_text(text, "m.yaml").errors]


def risk_of(text: str) -> Risk:
    load = parse_manifest_text(text, "m.yaml")
    assert [str(e) for e in load.errors] == []
    (spec,) = load.specs
    return spec.risk


FULL = (
    "{skew: {maxTicks: 3}, maxLoss: {amount: 50, window: 24h}, "
    "pullOnMove: {move: 0.05, within: 10s, pauseFor: 30s}, stopBefore: 2h, reduceOnlyBefore: 6h}"
)


def test_every_risk_field_is_read_into_typed_values() -> None:
    assert risk_of(with_risk(FULL)) == Risk(
        skew=Skew(max_ticks=3),
        max_loss=MaxLoss(amount=Decimal(50), window=timedelta(hours=24)),
        pull_on_move=PullOnMove(move=Decimal("0.05"), within=timedelta(seconds=10), pause_for=timedelta(seconds=30)),
        stop_before=timedelta(hours=2),
        reduce_only_before=timedelta(hours=6),
    )


@pytest.mark.parametrize("text", [BASE, with_risk("{}")])
def test_no_risk_means_every_protection_off(text: str) -> None:
    assert risk_of(text) == Risk()
    assert Risk() == Risk(None, None, None, None, None)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("1s", timedelta(seconds=1)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("2d3h4m5s", timedelta(days=2, hours=3, minutes=4, seconds=5)),
        ("365d", timedelta(days=365)),
        ("'10m'", timedelta(minutes=10)),
    ],
)
def test_durations(duration: str, expected: timedelta) -> None:
    assert risk_of(with_risk(f"{{stopBefore: {duration}}}")).stop_before == expected


DURATION = "must be a duration such as 30s, 10m, 24h or 1h30m (units d, h, m, s, largest first)"


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        ("5", f"{DURATION} (got 5; add a unit)"),
        ("'5'", f"{DURATION} (got '5')"),
        ("1.5h", f"{DURATION} (got '1.5h')"),
        ("1m1h", f"{DURATION} (got '1m1h')"),
        ("2H", f"{DURATION} (got '2H')"),
        ("-1h", f"{DURATION} (got '-1h')"),
        ("1w", f"{DURATION} (got '1w')"),
        ("' 1h'", f"{DURATION} (got ' 1h')"),
        ("1234567890s", f"{DURATION} (got '1234567890s')"),
        ("''", "must not be empty"),
        ("true", f"{DURATION} (got true)"),
        ("[1h]", f"{DURATION} (got a list)"),
        ("0s", "must be greater than 0 (got '0s')"),
        ("0d0h", "must be greater than 0 (got '0d0h')"),
        ("366d", "must be at most 365d (got '366d')"),
        ("365d1s", "must be at most 365d (got '365d1s')"),
        (
            "999999999d999999999h999999999m999999999s",
            "must be at most 365d (got '999999999d999999999h999999999m999999999s')",
        ),
    ],
)
def test_bad_durations(duration: str, message: str) -> None:
    assert errors(with_risk(f"{{stopBefore: {duration}}}")) == [f"m.yaml[0] spec.risk.stopBefore: {message}"]


def test_every_duration_field_is_checked() -> None:
    text = with_risk("{maxLoss: {amount: 1, window: 0s}, pullOnMove: {move: 0.1, within: 400d, pauseFor: 1x}}")
    assert errors(text) == [
        "m.yaml[0] spec.risk.maxLoss.window: must be greater than 0 (got '0s')",
        "m.yaml[0] spec.risk.pullOnMove.within: must be at most 365d (got '400d')",
        f"m.yaml[0] spec.risk.pullOnMove.pauseFor: {DURATION} (got '1x')",
    ]


def test_skew_requires_max_position() -> None:
    text = with_risk("{skew: {maxTicks: 2}}", base=BASE.replace("  limits: {maxPosition: 500}\n", ""))
    assert errors(text) == ["m.yaml[0] spec.risk.skew: requires limits.maxPosition (the skew is full at maxPosition)"]
    text = with_risk("{skew: {maxTicks: 2}}", base=BASE.replace("maxPosition: 500", "maxCollateral: 500"))
    assert errors(text) == ["m.yaml[0] spec.risk.skew: requires limits.maxPosition (the skew is full at maxPosition)"]


def test_a_bad_max_position_is_reported_once_not_as_missing() -> None:
    text = with_risk("{skew: {maxTicks: 2}}", base=BASE.replace("maxPosition: 500", "maxPosition: 0"))
    assert errors(text) == ["m.yaml[0] spec.limits.maxPosition: must be greater than 0 (got 0)"]


@pytest.mark.parametrize(
    ("skew", "message"),
    [
        ("{maxTicks: 0}", "spec.risk.skew.maxTicks: must be at least 1 (got 0)"),
        ("{maxTicks: 10001}", "spec.risk.skew.maxTicks: must be at most 10000 (got 10001)"),
        ("{maxTicks: 1.5}", "spec.risk.skew.maxTicks: must be an integer (got 1.5)"),
        ("{maxTicks: '3'}", "spec.risk.skew.maxTicks: must be an integer (got '3')"),
        ("{}", "spec.risk.skew: missing required field 'maxTicks'"),
        ("{maxTick: 3}", "spec.risk.skew: unknown field 'maxTick' (did you mean 'maxTicks'?)"),
        ("3", "spec.risk.skew: must be a mapping (got 3)"),
    ],
)
def test_bad_skew(skew: str, message: str) -> None:
    lines = errors(with_risk(f"{{skew: {skew}}}"))
    assert lines[0] == f"m.yaml[0] {message}"


def test_integral_float_max_ticks_is_an_int() -> None:
    skew = risk_of(with_risk("{skew: {maxTicks: 4.0}}")).skew
    assert skew == Skew(4) and isinstance(skew.max_ticks, int)


@pytest.mark.parametrize(
    ("max_loss", "message"),
    [
        ("{amount: 0, window: 1h}", "spec.risk.maxLoss.amount: must be greater than 0 (got 0)"),
        ("{amount: abc, window: 1h}", "spec.risk.maxLoss.amount: must be a decimal number such as 0.01 (got 'abc')"),
        ("{amount: 50}", "spec.risk.maxLoss: missing required field 'window'"),
        ("{window: 1h}", "spec.risk.maxLoss: missing required field 'amount'"),
    ],
)
def test_bad_max_loss(max_loss: str, message: str) -> None:
    assert errors(with_risk(f"{{maxLoss: {max_loss}}}")) == [f"m.yaml[0] {message}"]


def test_max_loss_amount_is_an_exact_decimal() -> None:
    max_loss = risk_of(with_risk("{maxLoss: {amount: '12.345678901234567890', window: 1d}}")).max_loss
    assert max_loss == MaxLoss(Decimal("12.345678901234567890"), timedelta(days=1))


@pytest.mark.parametrize(
    ("pull", "message"),
    [
        ("{move: 1, within: 10s, pauseFor: 30s}", "spec.risk.pullOnMove.move: must be less than 1 (got 1)"),
        ("{move: 0, within: 10s, pauseFor: 30s}", "spec.risk.pullOnMove.move: must be greater than 0 (got 0)"),
        ("{move: 0.05, within: 10s}", "spec.risk.pullOnMove: missing required field 'pauseFor'"),
        ("{move: 0.05, within: 10s, pauseFor: 30s, every: 1s}", "spec.risk.pullOnMove: unknown field 'every'"),
    ],
)
def test_bad_pull_on_move(pull: str, message: str) -> None:
    assert errors(with_risk(f"{{pullOnMove: {pull}}}")) == [f"m.yaml[0] {message}"]


def test_reduce_only_must_start_no_later_than_stop() -> None:
    assert errors(with_risk("{stopBefore: 6h, reduceOnlyBefore: 2h}")) == [
        "m.yaml[0] spec.risk.reduceOnlyBefore: must be at least stopBefore (2h < 6h)"
    ]
    assert errors(with_risk("{stopBefore: 1d, reduceOnlyBefore: 23h59m59s}")) == [
        "m.yaml[0] spec.risk.reduceOnlyBefore: must be at least stopBefore (23h59m59s < 1d)"
    ]


@pytest.mark.parametrize(
    "risk", ["{stopBefore: 2h, reduceOnlyBefore: 120m}", "{reduceOnlyBefore: 6h}", "{stopBefore: 2h}"]
)
def test_reduce_only_equal_to_stop_or_alone_is_fine(risk: str) -> None:
    assert errors(with_risk(risk)) == []


def test_an_invalid_stop_does_not_also_fail_the_order_rule() -> None:
    assert errors(with_risk("{stopBefore: 0s, reduceOnlyBefore: 1h}")) == [
        "m.yaml[0] spec.risk.stopBefore: must be greater than 0 (got '0s')"
    ]


def test_unknown_risk_field_gets_a_suggestion() -> None:
    assert errors(with_risk("{stopbefore: 2h}")) == [
        "m.yaml[0] spec.risk: unknown field 'stopbefore' (did you mean 'stopBefore'?)"
    ]


def test_risk_is_written_back_exactly() -> None:
    load = parse_manifest_text(with_risk(FULL.replace("24h", "1440m")), "m.yaml")
    (spec,) = load.specs
    manifest = spec_to_manifest(spec)
    assert manifest["spec"]["risk"] == {
        "skew": {"maxTicks": 3},
        "maxLoss": {"amount": Decimal(50), "window": "1d"},
        "pullOnMove": {"move": Decimal("0.05"), "within": "10s", "pauseFor": "30s"},
        "stopBefore": "2h",
        "reduceOnlyBefore": "6h",
    }
    assert validate_document(manifest)[0] == spec
    (again,) = parse_manifest_text(dump_manifests([manifest])).specs
    assert again == spec


def test_no_risk_writes_no_risk_section() -> None:
    (spec,) = parse_manifest_text(BASE).specs
    assert "risk" not in spec_to_manifest(spec)["spec"]


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (timedelta(seconds=1), "1s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=24), "1d"),
        (timedelta(days=2, seconds=5), "2d5s"),
        (timedelta(days=365), "365d"),
    ],
)
def test_format_duration(length: timedelta, text: str) -> None:
    assert format_duration(length) == text


@pytest.mark.parametrize("length", [timedelta(0), timedelta(seconds=-1), timedelta(milliseconds=1500)])
def test_format_duration_refuses_what_no_manifest_can_say(length: timedelta) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        format_duration(length)


def test_schema_documents_every_risk_field() -> None:
    defs = load_schema("marketmaker.schema.json")["$defs"]
    assert "risk" in defs["spec"]["properties"]
    for name in ("risk", "skew", "maxLoss", "pullOnMove", "duration"):
        assert len(defs[name]["description"]) > 40, name
    for name in ("stopBefore", "reduceOnlyBefore"):
        assert defs["risk"]["properties"][name]["description"]
    assert "limits.maxPosition" in defs["skew"]["description"]
    assert "stopBefore" in defs["risk"]["properties"]["reduceOnlyBefore"]["description"]
