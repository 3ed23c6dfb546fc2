"""`bandctl import`: poly-market-maker bands.json → manifest YAML, and its errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from controller.cli.main import main
from controller.spec.legacy import LegacyImportError, default_name, import_bands_json
from controller.spec.manifest import parse_manifest_text, validate_paths
from controller.spec.types import Rewards, Risk

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy" / "bands.json"
CID = "0xf552cc5023d8319aea1181f76f3adcbdc189941acf780de956fe5d1483d7a598"
YES = "3908542853943523934563267656964073640771816313906088687248131241679293562125"
NO = "2922792765173274317840968115438063166138049552511689109087648014870300294313"
MARKET = {"condition_id": CID, "yes": YES, "no": NO}


def band(**overrides: Any) -> dict[str, Any]:
    values = {
        "minMargin": 0.01,
        "avgMargin": 0.01,
        "maxMargin": 0.02,
        "minAmount": 10.0,
        "avgAmount": 20.0,
        "maxAmount": 30.0,
    }
    return values | overrides


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_json(name: str, content: Any) -> str:
    Path(name).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return name


def import_error(path: str, **market: str) -> str:
    with pytest.raises(LegacyImportError) as caught:
        import_bands_json(path, **(MARKET | market))
    message = str(caught.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------- the happy path


def test_polymarket_config_bands_json_round_trips(workdir: Path) -> None:
    text = import_bands_json(FIXTURE, **MARKET, name="btc-150k")
    Path("out.yaml").write_text(text)
    result = validate_paths(["out.yaml"])
    assert result.errors == []
    (spec,) = result.specs
    assert spec.name == "btc-150k"
    assert (spec.market.condition_id, spec.market.yes_token, spec.market.no_token) == (CID, YES, NO)
    assert [(b.min_margin, b.avg_margin, b.max_margin) for b in spec.bands] == [
        (Decimal("0.01"), Decimal("0.01"), Decimal("0.02")),
        (Decimal("0.02"), Decimal("0.02"), Decimal("0.03")),
        (Decimal("0.03"), Decimal("0.03"), Decimal("0.04")),
    ]
    assert all((b.min_amount, b.avg_amount, b.max_amount) == (10, 20, 30) for b in spec.bands)
    assert spec.orders.type == "GTC" and spec.orders.post_only is True
    assert spec.limits.max_position is None
    # the newer fields come out as their defaults, written out so users see them
    assert (spec.ownership, spec.risk, spec.rewards) == ("exclusive", Risk(), Rewards())
    assert "  rewards:\n    mode: ignore\n" in text and "  ownership: exclusive\n" in text
    manifest = text[text.index("apiVersion:") :]
    assert "risk:" not in manifest  # no protections are invented on import


def test_output_is_stable_and_readable(workdir: Path) -> None:
    text = import_bands_json(str(FIXTURE), **MARKET)
    assert text == import_bands_json(FIXTURE, **MARKET)  # deterministic
    lines = text.splitlines()
    assert lines[0] == f"# Imported by `bandctl import` from poly-market-maker bands file {FIXTURE}."
    assert all(line.startswith("#") for line in lines[:4])
    assert lines[2:4] == [
        "# Review before running: no spec.limits (maxPosition, maxCollateral) or spec.risk are set;",
        "# referencePrice, rewards, orders and ownership are bandctl's defaults.",
    ]
    assert lines[4:9] == ["apiVersion: bandctl/v1", "kind: MarketMaker", "metadata:", "  name: bands", "spec:"]
    body = "\n".join(lines[4:])
    assert body.index("market:") < body.index("bands:") < body.index("referencePrice:") < body.index("orders:")
    assert "    - minMargin: 0.01\n      avgMargin: 0.01\n      maxMargin: 0.02\n      minAmount: 10\n" in text


def test_older_buy_and_sell_bands_format_when_equal(workdir: Path) -> None:
    write_json("old.json", {"buyBands": [band()], "sellBands": [band()]})
    (spec,) = parse_manifest_text(import_bands_json("old.json", **MARKET)).specs
    assert spec.name == "old" and len(spec.bands) == 1


def test_exact_decimals_from_json(workdir: Path) -> None:
    write_json(
        "b.json",
        '{"bands": [{"minMargin": 0.1, "avgMargin": 0.1, "maxMargin": 0.30000000000000004,'
        ' "minAmount": 1, "avgAmount": 2, "maxAmount": 3.000000000000000000001}]}',
    )
    (spec,) = parse_manifest_text(import_bands_json("b.json", **MARKET)).specs
    assert spec.bands[0].max_margin == Decimal("0.30000000000000004")
    assert spec.bands[0].max_amount == Decimal("3.000000000000000000001")


def test_band_key_order_does_not_matter(workdir: Path) -> None:
    reordered = dict(reversed(list(band().items())))
    write_json("b.json", {"bands": [reordered]})
    (spec,) = parse_manifest_text(import_bands_json("b.json", **MARKET)).specs
    assert spec.bands[0].max_amount == 30


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("bands.json", "bands"),
        ("config/Tight_Large.json", "tight-large"),
        ("--weird..name--.JSON", "weird-name"),
        ("___.json", "imported-bands"),
        ("x" * 100 + ".json", "x" * 63),
        ("a" * 62 + "_b.json", "a" * 62),
    ],
)
def test_default_name_is_a_dns_label(file: str, name: str) -> None:
    assert default_name(file) == name


# ----------------------------------------------------------------- errors


def test_missing_file(workdir: Path) -> None:
    assert import_error("nope.json") == "nope.json: no such file or directory"


def test_directory(workdir: Path) -> None:
    Path("d").mkdir()
    assert import_error("d") == "d: not a regular file"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"bands": [', "b.json: not valid JSON: Expecting value at line 1, column 12"),
        ("", "b.json: not valid JSON: Expecting value at line 1, column 1"),
        ('{"bands": [{"minMargin": NaN}]}', "b.json: not valid JSON: NaN is not a number"),
        ("[]", 'b.json: expected a JSON object with a "bands" list (got a list)'),
        ("{}", 'b.json: no "bands" list found (keys: none)'),
        ('{"band": []}', "b.json: no \"bands\" list found (keys: 'band')"),
        ('{"bands": []}', "b.json: bands is empty"),
        ('{"bands": {}}', "b.json: bands must be a list (got an object)"),
        ('{"bands": [1]}', "b.json: bands[0]: must be an object (got a number)"),
    ],
)
def test_bad_json(workdir: Path, content: str, message: str) -> None:
    write_json("b.json", content)
    assert import_error("b.json") == message


def test_not_utf8(workdir: Path) -> None:
    Path("b.json").write_bytes(b'{"bands": "\xff"}')
    assert import_error("b.json") == "b.json: not valid UTF-8 (byte 0xff at offset 11)"


def test_wrong_keys(workdir: Path) -> None:
    bad = band(minMagrin=0.01, maxAmount="30")
    del bad["minMargin"]
    write_json("b.json", {"bands": [bad, band(avgAmount=True)], "comment": "x"})
    assert import_error("b.json") == "b.json: unknown key 'comment' (expected bands)"
    write_json("b.json", {"bands": [bad, band(avgAmount=True)]})
    assert import_error("b.json") == (
        "b.json: bands[0]: unknown key 'minMagrin'; bands[0]: missing key 'minMargin'; "
        "bands[0].maxAmount: must be a number (got the string '30'); "
        "bands[1].avgAmount: must be a number (got a boolean)"
    )


def test_different_buy_and_sell_bands(workdir: Path) -> None:
    write_json("b.json", {"buyBands": [band()], "sellBands": [band(maxAmount=40)]})
    assert import_error("b.json").startswith("b.json: buyBands and sellBands differ; bandctl quotes one list")


def test_bands_that_fail_validation_use_the_files_terms(workdir: Path) -> None:
    write_json("b.json", {"bands": [band(), band(minMargin=0.015, avgMargin=0.02, maxMargin=0.02)]})
    assert import_error("b.json") == (
        "b.json: bands[1]: overlaps bands[0] (margins (0.015, 0.02] and (0.01, 0.02] intersect); "
        "bands[1].maxMargin: must be greater than avgMargin (0.02 <= 0.02)"
    )


def test_bad_market_ids_name_the_command_line_options(workdir: Path) -> None:
    message = import_error(str(FIXTURE), condition_id="0x12", yes="abc", no="abc")
    assert message == (
        "--condition-id: must be 0x followed by 64 hex digits (got '0x12'); "
        "--yes: must be a token id: a uint256 in decimal digits, without leading zeros (got 'abc'); "
        "--no: must be a token id: a uint256 in decimal digits, without leading zeros (got 'abc')"
    )
    assert import_error(str(FIXTURE), no=YES) == "--no: must differ from --yes (got the same token id)"


def test_bad_explicit_name(workdir: Path) -> None:
    message = import_error(str(FIXTURE), name="BTC 150k")
    assert message.startswith("--name: must be a DNS-1123 label")


def test_hostile_path_cannot_inject_yaml_through_the_header(workdir: Path) -> None:
    name = "evil\napiVersion: x\n.json"
    write_json(name, {"bands": [band()]})
    text = import_bands_json(name, **MARKET, name="ok")
    assert (
        text.splitlines()[0]
        == "# Imported by `bandctl import` from poly-market-maker bands file evil\\napiVersion: x\\n.json."
    )
    (spec,) = parse_manifest_text(text).specs
    assert spec.name == "ok"


# ----------------------------------------------------------------- through the CLI


def test_cli_import_prints_yaml_that_validates(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", str(FIXTURE), "--condition-id", CID, "--yes", YES, "--no", NO, "--name", "demo"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    Path("demo.yaml").write_text(out)
    assert main(["validate", "demo.yaml"]) == 0


def test_cli_import_error_is_one_line_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", "missing.json", "--condition-id", CID, "--yes", YES, "--no", NO])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == "missing.json: no such file or directory\n"
