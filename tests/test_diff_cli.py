"""``bandctl diff --state``: exit codes 0 (no changes) / 1 (changes) / 2 (errors)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from controller.cli.main import main
from controller.observe.statefile import load_state, state_to_json
from controller.plan.bands import apply_plan, plan
from controller.schemas import load_schema
from controller.spec.manifest import validate_paths

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "manifests" / "demo.yaml")
DEMO_STATE = str(REPO / "manifests" / "demo-state.json")


def diff(*args: str) -> list[str]:
    return ["diff", "-f", DEMO, *args]


def test_demo_shows_a_mix_and_exits_1(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(diff("--state", DEMO_STATE)) == 1
    out = capsys.readouterr().out
    assert "demo-btc-150k" in out and "demo-rain-nyc" in out
    for marker in ("\n  - ", "\n  + ", "\n  = "):
        assert marker in out
    assert out.splitlines()[-1].startswith("Plan: 7 to place, 4 to cancel, 7 unchanged.")
    assert "\x1b[" not in out


def test_json_output_validates(capsys):
    assert main(diff("--state", DEMO_STATE, "-o", "json")) == 1
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, load_schema("plan.schema.json"))
    assert [m["name"] for m in doc["markets"]] == ["demo-btc-150k", "demo-rain-nyc"]


def test_json_carries_codes_and_the_texts_of_the_text_output(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(diff("--state", DEMO_STATE)) == 1
    text = capsys.readouterr().out
    assert main(diff("--state", DEMO_STATE, "-o", "json")) == 1
    btc = json.loads(capsys.readouterr().out)["markets"][0]
    assert [(c["reason"], c["message"]) for c in btc["cancel"]] == [
        ("OutsideBands", "outside every band"),
        ("OverMaxAmount", "band 0 asks hold 220 > maxAmount 200"),
    ]
    assert {p["reason"] for p in btc["place"]} == {"BelowMinAmount"}
    assert [(k["reason"], k["message"]) for k in btc["keep"]] == [
        ("InBand", "bid band 0"),
        ("InBand", "bid band 1"),
        ("InBand", "ask band 0"),
    ]
    # The text output shows the same messages, unchanged since before the codes.
    for item in [*btc["cancel"], *btc["place"], *btc["keep"]]:
        assert f"  {item['message']}\n" in text
    assert "  - 0xc4b887…b18a  BUY  YES 0.40 × 60  outside every band\n" in text


def test_converged_state_exits_0(tmp_path, capsys):
    specs = validate_paths([DEMO]).specs
    state = load_state(DEMO_STATE)
    now = state.time
    assert now is not None
    settled = state
    for _ in range(3):  # the demo has cancels that free inventory: at most two rounds
        settled = apply_plan(settled, plan(specs, settled, now))
    path = tmp_path / "settled.json"
    path.write_text(json.dumps(state_to_json(settled)))
    assert main(diff("--state", str(path))) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("No changes.")


def test_now_argument(capsys):
    assert main(diff("--state", DEMO_STATE, "--now", "2030-01-01T00:00:00+02:00")) == 1
    capsys.readouterr()


def test_bad_now_exits_2(capsys):
    assert main(diff("--state", DEMO_STATE, "--now", "yesterday")) == 2
    assert capsys.readouterr().err.startswith("--now: must be an RFC 3339 timestamp")


def test_bad_state_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "state.json"
    bad.write_text('{"markets": {"0xabc": {"tickSize": "0.02", "minOrderSize": 5, "books": {}}}}')
    assert main(diff("--state", str(bad))) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"{bad}: markets.0xabc.tickSize: must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001"
    assert main(diff("--state", str(tmp_path / "nope.json"))) == 2
    assert "nope.json: no such file or directory" in capsys.readouterr().err
    bad.write_text("{not json")
    assert main(diff("--state", str(bad))) == 2
    assert "invalid JSON at line 1" in capsys.readouterr().err


def test_bad_manifest_exits_2(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: bandctl/v1\nkind: MarketMaker\n")
    assert main(["diff", "-f", str(broken), "--state", DEMO_STATE]) == 2
    assert capsys.readouterr().err
