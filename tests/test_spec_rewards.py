"""``spec.rewards``: mode fit | ignore, default ignore; schema, typed ``Rewards``, round trip."""

from __future__ import annotations

import pytest

from controller.schemas import load_schema
from controller.spec.manifest import dump_manifests, parse_manifest_text, spec_to_manifest
from controller.spec.types import Rewards

CID = "0x" + "ab" * 32
BASE = (
    "apiVersion: bandctl/v1\nkind: MarketMaker\nmetadata: {name: demo}\nspec:\n"
    f"  market: {{conditionId: '{CID}', tokens: {{yes: '1', no: '2'}}}}\n"
    "  bands:\n"
    "    - {minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 10, avgAmount: 20, maxAmount: 30}\n"
)


def errors(text: str) -> list[str]:
    return [str(e) for e in parse_manifest_text(text, "m.yaml").errors]


@pytest.mark.parametrize(
    ("section", "mode"),
    [
        ("", "ignore"),
        ("  rewards: {}\n", "ignore"),
        ("  rewards: {mode: ignore}\n", "ignore"),
        ("  rewards: {mode: fit}\n", "fit"),
    ],
)
def test_mode_is_read_with_ignore_as_default(section: str, mode: str) -> None:
    (spec,) = parse_manifest_text(BASE + section).specs
    assert spec.rewards == Rewards(mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("  rewards: {mode: Fit}\n", "spec.rewards.mode: must be one of 'fit', 'ignore' (got 'Fit')"),
        ("  rewards: {mode: true}\n", "spec.rewards.mode: must be one of 'fit', 'ignore' (got true)"),
        ("  rewards: fit\n", "spec.rewards: must be a mapping (got 'fit')"),
        ("  rewards: {mod: fit}\n", "spec.rewards: unknown field 'mod' (did you mean 'mode'?)"),
        ("  reward: {mode: fit}\n", "spec: unknown field 'reward' (did you mean 'rewards'?)"),
    ],
)
def test_bad_rewards(section: str, expected: str) -> None:
    assert errors(BASE + section) == [f"m.yaml[0] {expected}"]


@pytest.mark.parametrize("mode", ["fit", "ignore"])
def test_rewards_round_trip(mode: str) -> None:
    (spec,) = parse_manifest_text(BASE + f"  rewards: {{mode: {mode}}}\n").specs
    manifest = spec_to_manifest(spec)
    assert manifest["spec"]["rewards"] == {"mode": mode}
    (again,) = parse_manifest_text(dump_manifests([manifest])).specs
    assert again == spec


def test_schema_documents_both_modes() -> None:
    defs = load_schema("marketmaker.schema.json")["$defs"]
    mode = defs["rewards"]["properties"]["mode"]
    assert mode["enum"] == ["fit", "ignore"] and mode["default"] == "ignore"
    assert "fit:" in mode["description"] and "ignore" in mode["description"]
    assert "rewards_max_spread" in defs["rewards"]["description"]
