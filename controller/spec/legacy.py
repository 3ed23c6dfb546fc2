"""Import Polymarket poly-market-maker's ``bands.json`` as a bandctl manifest.

The file looks like ``{"bands": [{"minMargin": 0.01, "avgMargin": 0.01, "maxMargin": 0.02,
"minAmount": 10.0, "avgAmount": 20.0, "maxAmount": 30.0}, ...]}``; older versions used
``{"buyBands": [...], "sellBands": [...]}``. poly-market-maker applies one list of bands to
both sides of the book, as bandctl does, so an older file imports only when its two lists
are equal. poly-market-maker reads a band's values by position; we read them by key.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from typing import Any

from controller.spec.manifest import (
    API_VERSION,
    KIND,
    ManifestError,
    dump_manifests,
    spec_to_manifest,
    validate_document,
)
from controller.spec.textfile import UnreadableFile, json_kind, read_text

BAND_KEYS = ("minMargin", "avgMargin", "maxMargin", "minAmount", "avgAmount", "maxAmount")
MAX_BYTES = 1024 * 1024  # a bands.json is a few hundred bytes

# Where a manifest field came from, to word validation errors in the user's terms.
_ORIGINS = {
    "spec.market.conditionId": "--condition-id",
    "spec.market.tokens.yes": "--yes",
    "spec.market.tokens.no": "--no",
    "metadata.name": "--name",
}


class LegacyImportError(Exception):
    """The input cannot become a valid manifest; ``str()`` is one line for the user."""


def import_bands_json(
    path: str | os.PathLike[str],
    *,
    condition_id: str,
    yes: str,
    no: str,
    name: str | None = None,
) -> str:
    """Return manifest YAML for the bands in ``path`` quoting the given market.

    The result passes ``controller.spec.manifest.validate_paths``; anything that would not
    raises ``LegacyImportError``.
    """
    file = os.fspath(path)
    bands = _bands_from_config(_read_json(file), file)
    manifest = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name if name is not None else default_name(file)},
        "spec": {
            "market": {"conditionId": condition_id, "tokens": {"yes": yes, "no": no}},
            "bands": bands,
        },
    }
    spec, errors = validate_document(manifest, file=file)
    if spec is None:
        raise LegacyImportError(_in_user_terms(errors, file))
    return _header(file) + dump_manifests([spec_to_manifest(spec)])


def default_name(file: str) -> str:
    """A DNS-1123 label from the file name: ``config/Tight_Large.json`` → ``tight-large``."""
    stem = os.path.basename(file)
    stem = stem[: -len(".json")] if stem.lower().endswith(".json") else stem
    label = re.sub(r"[^a-z0-9]+", "-", stem.lower())[:63].strip("-")
    return label or "imported-bands"


def _read_json(file: str) -> Any:
    try:
        text = read_text(file, MAX_BYTES, expected="a bands.json must be UTF-8 JSON")
    except UnreadableFile as exc:
        raise LegacyImportError(f"{file}: {exc}") from None
    try:
        # Decimal keeps 0.01 exact; NaN/Infinity are not JSON and must not become prices.
        return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise LegacyImportError(f"{file}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise LegacyImportError(f"{file}: not valid JSON: {exc}") from None
    except RecursionError:
        raise LegacyImportError(f"{file}: not valid JSON: nested too deep") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _bands_from_config(config: Any, file: str) -> list[dict[str, Decimal]]:
    if not isinstance(config, dict):
        raise LegacyImportError(f'{file}: expected a JSON object with a "bands" list (got {_kind(config)})')
    if "bands" in config:
        allowed: tuple[str, ...] = ("bands",)
        bands = config["bands"]
        where = "bands"
    elif "buyBands" in config or "sellBands" in config:
        allowed, where = ("buyBands", "sellBands"), "buyBands"
        bands = config.get("buyBands")
        if config.get("buyBands") != config.get("sellBands"):
            raise LegacyImportError(
                f"{file}: buyBands and sellBands differ; bandctl quotes one list of bands on both "
                "sides, as current poly-market-maker does: make them equal or write the manifest by hand"
            )
    else:
        raise LegacyImportError(f'{file}: no "bands" list found (keys: {_keys(config)})')
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise LegacyImportError(f"{file}: unknown key {_quote(unknown[0])} (expected {', '.join(allowed)})")
    if not isinstance(bands, list):
        raise LegacyImportError(f"{file}: {where} must be a list (got {_kind(bands)})")
    if not bands:
        raise LegacyImportError(f"{file}: {where} is empty")
    problems = [p for i, band in enumerate(bands) for p in _band_problems(band, f"{where}[{i}]")]
    if problems:
        raise LegacyImportError(f"{file}: " + "; ".join(problems))
    return [{key: band[key] for key in BAND_KEYS} for band in bands]


def _band_problems(band: Any, where: str) -> list[str]:
    if not isinstance(band, dict):
        return [f"{where}: must be an object (got {_kind(band)})"]
    problems = [f"{where}: unknown key {_quote(k)}" for k in band if k not in BAND_KEYS]
    for key in BAND_KEYS:
        if key not in band:
            problems.append(f"{where}: missing key {_quote(key)}")
        elif not isinstance(band[key], Decimal):
            problems.append(f"{where}.{key}: must be a number (got {_kind(band[key])})")
    return problems


def _in_user_terms(errors: list[ManifestError], file: str) -> str:
    """One line: problems with command-line options first, then those with the file's bands."""
    options, in_file, other = [], [], []
    for error in errors:
        if error.path in _ORIGINS:
            options.append(f"{_ORIGINS[error.path]}: {error.message.replace('tokens.yes', '--yes')}")
        elif error.path.startswith("spec.bands"):
            in_file.append(f"{error.path.removeprefix('spec.')}: {error.message}")
        else:  # not expected: everything else in the manifest is generated here
            other.append(f"{error.path or 'manifest'}: {error.message}")
    if in_file:
        options.append(f"{file}: " + "; ".join(in_file))
    return "; ".join(options + other)


def _header(file: str) -> str:
    source = "".join(c if c.isprintable() else repr(c)[1:-1] for c in file)
    return (
        f"# Imported by `bandctl import` from poly-market-maker bands file {source}.\n"
        "# The same bands quote both sides of the book, as in poly-market-maker.\n"
        "# Review before running: no spec.limits (maxPosition, maxCollateral) or spec.risk are set;\n"
        "# referencePrice, rewards, orders and ownership are bandctl's defaults.\n"
    )


def _kind(value: Any) -> str:
    # Strings are shown: a quoted number ("30") is the usual mistake in a bands.json.
    return f"the string {_quote(value)}" if isinstance(value, str) else json_kind(value)


def _keys(config: dict[str, Any]) -> str:
    return ", ".join(_quote(k) for k in list(config)[:5]) or "none"


def _quote(value: str) -> str:
    text = value if len(value) <= 40 else value[:40] + "…"
    return repr(text)
